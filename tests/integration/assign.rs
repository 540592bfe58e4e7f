//! Assignment (DESIGN §9) through the real binary: `#assign` in a verified
//! agent mail, `tickets update --assign/--unassign`, the `assigned` event,
//! `assignee` in the JSON, and agent alerts going to the assignee alone.

use crate::desk::{events, mail, Desk, BASE_CONFIG, VERIFIED};

fn two_agents() -> Desk {
    let desk = Desk::with_config(&BASE_CONFIG.replace(
        r#"agents = ["agent@example.test"]"#,
        r#"agents = ["agent@example.test", "bea@example.test"]"#,
    ));
    let opened = mail(
        "From: Ann <ann@acme.test>\nTo: support@example.test\nSubject: VPN down\nMessage-ID: <vpn-1@acme.test>",
        "The VPN drops every hour.",
    );
    assert_eq!(desk.ingest(&opened)["ticket"], 1);
    desk
}

/// Outbox rows queued after the first `from`, as (kind, recipient).
fn since(desk: &Desk, from: usize) -> Vec<(String, String)> {
    desk.outbox().into_iter().skip(from).collect()
}

fn customer_reply(desk: &Desk, n: u32) {
    let reply = mail(
        &format!("From: Ann <ann@acme.test>\nTo: support@example.test\nSubject: Re: [#1] VPN down\nMessage-ID: <vpn-r{n}@acme.test>\nIn-Reply-To: <vpn-1@acme.test>"),
        "Still dropping.",
    );
    assert_eq!(desk.ingest(&reply)["outcome"], "updated");
}

#[test]
fn assign_me_by_verified_mail_routes_alerts_to_the_assignee() {
    let desk = two_agents();
    let t = desk.ticket(1);
    assert!(t["assignee"].is_null(), "{t}");
    let answer = mail(
        &format!("{VERIFIED}From: Alice Agent <agent@example.test>\nTo: support@example.test\nSubject: Re: [#1] VPN down\nMessage-ID: <a-1@example.test>"),
        "#assign me\nLooking into it.",
    );
    desk.ingest(&answer);
    let t = desk.ticket(1);
    assert_eq!(t["assignee"], "agent@example.test", "{t}");
    assert_eq!(events(&t, "assigned"), ["none → agent@example.test"]);
    // The command line never reaches the customer.
    assert_eq!(t["messages"][1]["text"], "Looking into it.");
    let listed = desk.json(&["tickets", "list", "--json"]);
    assert_eq!(listed[0]["assignee"], "agent@example.test");

    let before = desk.outbox().len();
    customer_reply(&desk, 1);
    let alerts: Vec<_> = since(&desk, before)
        .into_iter()
        .filter(|(k, _)| k == "agent_alert")
        .collect();
    assert_eq!(
        alerts,
        [("agent_alert".to_owned(), "agent@example.test".to_owned())]
    );
}

#[test]
fn assigning_a_colleague_tells_them_and_a_customer_cannot_be_assigned() {
    let desk = two_agents();
    let before = desk.outbox().len();
    let answer = mail(
        &format!("{VERIFIED}From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN down\nMessage-ID: <a-2@example.test>"),
        "#assign <Bea@Example.test>\n#note\nBea knows the VPN.",
    );
    desk.ingest(&answer);
    let t = desk.ticket(1);
    assert_eq!(t["assignee"], "bea@example.test");
    assert!(
        since(&desk, before).contains(&("ticket_assigned".into(), "bea@example.test".into())),
        "{:?}",
        since(&desk, before)
    );

    let wrong = mail(
        &format!("{VERIFIED}From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN down\nMessage-ID: <a-3@example.test>"),
        "#assign ann@acme.test\n#note\nHm.",
    );
    desk.ingest(&wrong);
    let t = desk.ticket(1);
    assert_eq!(t["assignee"], "bea@example.test", "unchanged");
    let rejected = events(&t, "command_rejected");
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("ann@acme.test is not an agent")),
        "{rejected:?}"
    );
}

#[test]
fn an_unverified_assign_is_not_carried_out() {
    let desk = two_agents();
    let forged = mail(
        "From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN down\nMessage-ID: <f-1@evil.test>\nIn-Reply-To: <vpn-1@acme.test>",
        "#assign me\nMine now.",
    );
    desk.ingest(&forged);
    let t = desk.ticket(1);
    assert!(t["assignee"].is_null(), "{t}");
    assert!(events(&t, "assigned").is_empty());
}

#[test]
fn the_console_assigns_and_unassigns() {
    let desk = two_agents();
    let before = desk.outbox().len();
    let out = desk.run(
        &["tickets", "update", "1", "--assign", "Bea@Example.test"],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("assignee none → bea@example.test"),
        "{}",
        out.stdout
    );
    let t = desk.ticket(1);
    assert_eq!(t["assignee"], "bea@example.test");
    assert_eq!(
        events(&t, "assigned"),
        ["none → bea@example.test (console)"]
    );
    assert_eq!(
        since(&desk, before),
        [("ticket_assigned".to_owned(), "bea@example.test".to_owned())]
    );
    let shown = desk.run(&["tickets", "show", "1"], b"");
    assert!(
        shown.stdout.contains("assignee  bea@example.test"),
        "{}",
        shown.stdout
    );

    let again = desk.run(
        &["tickets", "update", "1", "--assign", "bea@example.test"],
        b"",
    );
    assert!(again.stdout.contains("already so"), "{}", again.stdout);

    let out = desk.run(&["tickets", "update", "1", "--unassign"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(desk.ticket(1)["assignee"].is_null());
    let before = desk.outbox().len();
    customer_reply(&desk, 2);
    let mut alerted: Vec<String> = since(&desk, before)
        .into_iter()
        .filter(|(k, _)| k == "agent_alert")
        .map(|(_, to)| to)
        .collect();
    alerted.sort();
    assert_eq!(alerted, ["agent@example.test", "bea@example.test"]);
}

#[test]
fn the_console_refuses_a_non_agent_and_a_contradiction() {
    let desk = two_agents();
    let out = desk.run(
        &["tickets", "update", "1", "--assign", "ann@acme.test"],
        b"",
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("ann@acme.test is not an agent"),
        "{}",
        out.stderr
    );
    assert!(desk.ticket(1)["assignee"].is_null());
    let out = desk.run(
        &[
            "tickets",
            "update",
            "1",
            "--assign",
            "bea@example.test",
            "--unassign",
        ],
        b"",
    );
    assert_eq!(out.code, 64, "{}", out.stderr);
}
