//! The privilege rules of DESIGN §3 "Trust", one decision each: the same
//! mail verified and unverified.

use super::*;
use crate::domain::address::Addressing;
use crate::domain::message::Mailbox;
use crate::domain::state::{Candidate, Sender, Snapshot, TicketState};

const NOW: Timestamp = Timestamp(1_800_000_000);
const TRUSTED_PASS: &str = "mx.example.test; dmarc=pass header.from=example.test";

fn policy() -> Policy {
    Policy {
        addressing: Addressing::new("support@example.test", &[], b"k".to_vec()),
        tag: TicketTag::new("[#{id}]").expect("tag"),
        rules: Vec::new(),
        reopen_days: 7,
        max_watchers: 48,
        max_new_tickets_per_hour: 10,
        oncall: None,
        loop_id: "support@example.test".into(),
        support_name: "Example Support".into(),
        trusted_authserv_ids: vec!["mx.example.test".into()],
        max_unverified_watchers: 2,
    }
}

fn mb(e: &str) -> Mailbox {
    Mailbox {
        email: e.into(),
        name: None,
    }
}

fn sender(email: &str, role: Role) -> Sender {
    Sender {
        email: email.into(),
        role,
        org: email.rsplit_once('@').map(|(_, d)| d.to_owned()),
        known: true,
        has_password: true,
        setup_pending: false,
        setup_expired: false,
        tickets_last_hour: 0,
        refused_notice_at: None,
    }
}

fn snapshot(from: Sender, rule: Option<ThreadRule>) -> Snapshot {
    Snapshot {
        sender: from,
        candidate: rule.map(|rule| Candidate {
            rule,
            ticket: TicketState {
                id: TicketId(1),
                subject: "VPN".into(),
                status: Status::Open,
                priority: Priority::Normal,
                category: None,
                requester: "ann@acme.test".into(),
                org: Some("acme.test".into()),
                watchers: vec!["bob@acme.test".into()],
                solved_at: None,
                assignee: None,
            },
        }),
        agents: vec!["agent@example.test".into()],
        bouncing: Default::default(),
    }
}

fn mail(from: &str, text: &str) -> InboundMessage<'static> {
    InboundMessage {
        from: Some(mb(from)),
        from_count: 1,
        to: vec![mb("support@example.test")],
        subject: "Re: [#1] VPN".into(),
        text: text.into(),
        visible: text.into(),
        ..Default::default()
    }
}

fn change(d: &Decision) -> &TicketChange {
    match &d.change {
        Change::Ticket(c) => c,
        other => panic!("not a ticket change: {other:?}"),
    }
}

fn kinds(d: &Decision) -> Vec<(NotificationKind, &str)> {
    d.notifications
        .iter()
        .map(|p| (p.kind, p.to.as_str()))
        .collect()
}

use crate::domain::model::NotificationKind;

#[test]
fn agent_commands_and_relays_need_a_verified_mail() {
    let p = policy();
    let text = "#status solved\n#watch mallory@evil.example\nPay here.";
    let snap = snapshot(
        sender("agent@example.test", Role::Agent),
        Some(ThreadRule::SubjectTag),
    );

    let forged = mail("agent@example.test", text);
    let d = decide(&forged, &snap, &p, NOW);
    let c = change(&d);
    assert!(c.internal && !c.verified && !c.agent_answer);
    assert_eq!(c.status, Status::Open, "no #status");
    assert!(c.watch_add.is_empty(), "no #watch");
    assert_eq!(c.text, text, "the command lines stay as text");
    assert_eq!(
        c.warning.as_deref(),
        Some("unverified: claims to be agent@example.test; not relayed")
    );
    assert!(c.refused_unverified[0].contains("agent commands not carried out"));
    assert_eq!(
        kinds(&d),
        [(NotificationKind::AgentAlert, "agent@example.test")]
    );

    let mut real = mail("agent@example.test", text);
    real.auth_results = vec![TRUSTED_PASS.into()];
    let d = decide(&real, &snap, &p, NOW);
    let c = change(&d);
    assert!(!c.internal && c.verified && c.agent_answer);
    assert_eq!(c.status, Status::Solved);
    assert_eq!(c.watch_add, [mb("mallory@evil.example")]);
    assert_eq!(c.text, "Pay here.");
    assert!(c.refused_unverified.is_empty() && c.warning.is_none());
    assert!(kinds(&d).contains(&(NotificationKind::TicketUpdated, "ann@acme.test")));
}

#[test]
fn an_org_admin_reaches_a_ticket_they_are_not_on_only_verified() {
    let p = policy();
    let snap = snapshot(
        sender("zoe@acme.test", Role::Admin),
        Some(ThreadRule::SubjectTag),
    );
    let forged = mail("zoe@acme.test", "Prioritise this.");
    let d = decide(&forged, &snap, &p, NOW);
    assert_eq!(
        d.outcome,
        Outcome::Created,
        "the tag proves nothing for a member"
    );
    assert!(change(&d).refused_unverified[0].contains("org admin rights on #1"));

    let mut real = forged.clone();
    real.auth_results = vec!["mx.example.test; dkim=pass header.d=acme.test".into()];
    let d = decide(&real, &snap, &p, NOW);
    assert_eq!(d.outcome, Outcome::Updated);
    assert!(!change(&d).internal);
}

#[test]
fn watchers_from_cc_need_a_verified_mail_on_a_reply() {
    let p = policy();
    let snap = snapshot(
        sender("ann@acme.test", Role::Member),
        Some(ThreadRule::SubjectTag),
    );
    let mut m = mail("ann@acme.test", "Adding Carl.");
    m.cc = vec![mb("carl@acme.test")];
    let d = decide(&m, &snap, &p, NOW);
    let c = change(&d);
    assert!(
        !c.internal,
        "an unverified customer reply is still her reply"
    );
    assert!(c.watch_add.is_empty());
    assert!(c.refused_unverified[0].contains("carl@acme.test"));

    // Sent to her personal reply address: verified.
    m.to = vec![mb(&p
        .addressing
        .personal_address(TicketId(1), "ann@acme.test"))];
    let d = decide(&m, &snap, &p, NOW);
    assert_eq!(change(&d).watch_add, [mb("carl@acme.test")]);
}

#[test]
fn a_new_ticket_from_an_unverified_sender_brings_few_watchers() {
    let p = policy();
    let snap = snapshot(
        Sender {
            known: false,
            has_password: false,
            ..sender("ann@acme.test", Role::Member)
        },
        None,
    );
    let mut m = mail("ann@acme.test", "Hello all.");
    m.subject = "Hello".into();
    m.cc = (0..5).map(|i| mb(&format!("p{i}@crowd.test"))).collect();
    let d = decide(&m, &snap, &p, NOW);
    let c = change(&d);
    assert_eq!(c.watch_add.len(), 2, "support.max_unverified_watchers");
    assert_eq!(c.watch_cut, 3);
    assert!(c.refused_unverified[0].contains("3 more To/Cc addresses"));
    m.auth_results = vec!["mx.example.test; dmarc=pass header.from=acme.test".into()];
    assert_eq!(change(&decide(&m, &snap, &p, NOW)).watch_add.len(), 5);
}

#[test]
fn an_impersonating_name_is_on_record() {
    let p = policy();
    let snap = snapshot(
        sender("mallory@evil.example", Role::Member),
        Some(ThreadRule::MessageId),
    );
    let mut m = mail("mallory@evil.example", "Hi");
    m.from = Some(Mailbox {
        email: "mallory@evil.example".into(),
        name: Some("Example Support".into()),
    });
    let d = decide(&m, &snap, &p, NOW);
    let c = change(&d);
    assert!(c.internal, "a stranger by Message-ID: an internal note");
    assert!(c.refused_unverified[0].contains("claims the support desk"));
}

#[test]
fn watch_never_adds_the_desk_or_an_agent() {
    let p = policy();
    let snap = snapshot(
        sender("agent@example.test", Role::Agent),
        Some(ThreadRule::MessageId),
    );
    let mut m = mail(
        "agent@example.test",
        "#watch <support@example.test>\n#watch support+1-abc@example.test\n#watch agent@example.test\n#watch carl@acme.test\nOk.",
    );
    m.auth_results = vec![TRUSTED_PASS.into()];
    let d = decide(&m, &snap, &p, NOW);
    assert_eq!(change(&d).watch_add, [mb("carl@acme.test")]);
}

#[test]
fn a_portal_message_is_verified_mailed_to_no_one_and_takes_the_form() {
    let mut p = policy();
    p.rules = vec![Rule {
        name: "codes".into(),
        field: crate::domain::rules::RuleField::Body,
        regex: regex::Regex::new(r"code (?P<code>E-\d+)").expect("regex"),
        priority: Some(Priority::Urgent),
        category: Some("incidents".into()),
    }];
    let snap = snapshot(sender("ann@acme.test", Role::Member), None);
    let mut m = mail("ann@acme.test", "Export fails with code E-7.");
    m.subject = "Export".into();
    m.source = crate::domain::model::Source::Web;
    m.cc = vec![mb("bob@acme.test")];
    let form = WebForm {
        priority: Some(Priority::Low),
        category: Some("Billing".into()),
        fields: [("device".to_string(), "X1".to_string())].into(),
    };
    let d = decide_web(&m, Some(&form), &snap, &p, NOW);
    let c = change(&d);
    assert!(c.verified && c.refused_unverified.is_empty());
    assert_eq!(
        c.priority,
        Some(Priority::Urgent),
        "the higher of form and rules"
    );
    assert_eq!(
        c.category.as_deref(),
        Some("Billing"),
        "the form's over the rule's"
    );
    assert_eq!(
        c.fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["code=E-7", "device=X1"]
    );
    assert_eq!(c.watch_add, [mb("bob@acme.test")]);
    assert_eq!(
        kinds(&d),
        [
            (NotificationKind::TicketReceived, "ann@acme.test"),
            (NotificationKind::TicketUpdated, "bob@acme.test"),
            (NotificationKind::AgentAlert, "agent@example.test"),
        ],
        "bob had no mail of it: he is told"
    );
    m.source = crate::domain::model::Source::Email;
    let d = decide(&m, &snap, &p, NOW);
    assert!(
        !kinds(&d).contains(&(NotificationKind::TicketUpdated, "bob@acme.test")),
        "on a mail's Cc, he has it"
    );
}

#[test]
fn a_portal_reply_to_a_ticket_one_may_not_see_changes_nothing() {
    let p = policy();
    let snap = snapshot(
        sender("zed@other.test", Role::Member),
        Some(ThreadRule::Web),
    );
    let mut m = mail("zed@other.test", "Let me in.");
    m.source = crate::domain::model::Source::Web;
    let d = decide_web(&m, None, &snap, &p, NOW);
    assert_eq!(
        (d.outcome, d.change.clone()),
        (Outcome::Refused, Change::Forbidden)
    );
    assert!(d.notifications.is_empty());

    let snap = snapshot(sender("ann@acme.test", Role::Member), Some(ThreadRule::Web));
    let mut m = mail("ann@acme.test", "Any news?");
    m.source = crate::domain::model::Source::Web;
    let d = decide_web(&m, None, &snap, &p, NOW);
    let c = change(&d);
    assert_eq!(
        (c.target.clone(), c.rule),
        (Target::Existing(TicketId(1)), Some(ThreadRule::Web))
    );
    assert!(c.verified && !c.internal);
    assert_eq!(
        kinds(&d),
        [
            (NotificationKind::TicketUpdated, "bob@acme.test"),
            (NotificationKind::AgentAlert, "agent@example.test"),
        ]
    );
}

#[test]
fn assign_needs_a_verified_agent_mail_and_an_agent() {
    let p = policy();
    let mut snap = snapshot(
        sender("agent@example.test", Role::Agent),
        Some(ThreadRule::SubjectTag),
    );
    snap.agents = vec!["agent@example.test".into(), "bea@example.test".into()];

    let forged = mail("agent@example.test", "#assign me\nMine.");
    assert_eq!(change(&decide(&forged, &snap, &p, NOW)).assign, None);

    let mut me = mail("agent@example.test", "#assign me\nMine.");
    me.auth_results = vec![TRUSTED_PASS.into()];
    let d = decide(&me, &snap, &p, NOW);
    assert_eq!(
        change(&d).assign,
        Some(Assignment::To("agent@example.test".into()))
    );
    assert!(d
        .trace
        .iter()
        .any(|t| t == "assignee: none → agent@example.test"));
    assert!(
        !kinds(&d)
            .iter()
            .any(|(k, _)| *k == NotificationKind::TicketAssigned),
        "taking a ticket oneself tells no one"
    );

    let mut bea = mail("agent@example.test", "#assign bea@example.test\nFor Bea.");
    bea.auth_results = vec![TRUSTED_PASS.into()];
    let d = decide(&bea, &snap, &p, NOW);
    assert_eq!(
        change(&d).assign,
        Some(Assignment::To("bea@example.test".into()))
    );
    assert!(kinds(&d).contains(&(NotificationKind::TicketAssigned, "bea@example.test")));

    let mut customer = mail("agent@example.test", "#assign ann@acme.test\nHm.");
    customer.auth_results = vec![TRUSTED_PASS.into()];
    let c = change(&decide(&customer, &snap, &p, NOW)).clone();
    assert_eq!(c.assign, None);
    assert!(c.rejected_commands[0].contains("ann@acme.test is not an agent"));
}

#[test]
fn a_customer_reply_alerts_the_assignee_alone() {
    let p = policy();
    let mut snap = snapshot(
        sender("ann@acme.test", Role::Member),
        Some(ThreadRule::SubjectTag),
    );
    snap.agents = vec!["agent@example.test".into(), "bea@example.test".into()];
    if let Some(c) = snap.candidate.as_mut() {
        c.ticket.assignee = Some("bea@example.test".into());
    }
    let d = decide(&mail("ann@acme.test", "Any news?"), &snap, &p, NOW);
    let alerts: Vec<_> = kinds(&d)
        .into_iter()
        .filter(|(k, _)| *k == NotificationKind::AgentAlert)
        .collect();
    assert_eq!(alerts, [(NotificationKind::AgentAlert, "bea@example.test")]);
}
