//! The whole decision for one mail: classification, sender, threading,
//! commands, status, rules, watchers and notifications, in that order. Data
//! in (the mail and a [`Snapshot`]), a [`Decision`] out; `explain` prints its
//! trace, `ingest` applies it.

use std::collections::BTreeMap;

use super::access::may_update;
use super::address::Addressing;
use super::classify::{self, Classification, ClassifyContext};
use super::commands::{self, Assignment, Command};
use super::message::{InboundMessage, Mailbox};
use super::model::{Outcome, Priority, Role, Source, Status, TicketId};
use super::notify::{self, PlanInput, Planned};
use super::report::DeliveryReport;
use super::rules::{self, Rule};
use super::state::{Sender, Snapshot, ThreadRule};
use super::status::{self, AuthorKind};
use super::tag::TicketTag;
use super::threading::{self, ThreadDecision};
use super::time::{Timestamp, DAY};
use super::verify::{self, Desk, Doubt, Verification};
use super::watchers;
use super::web::WebForm;

/// Everything the decision needs that comes from the config; built once.
#[derive(Debug, Clone)]
pub struct Policy {
    pub addressing: Addressing,
    pub tag: TicketTag,
    pub rules: Vec<Rule>,
    pub reopen_days: u32,
    pub max_watchers: usize,
    pub max_new_tickets_per_hour: u32,
    pub oncall: Option<String>,
    /// The value of ticketd's own loop header on the mail it sends.
    pub loop_id: String,
    /// `support.name`: a display name claiming it is an impersonation.
    pub support_name: String,
    /// `support.trusted_authserv_ids`: whose `Authentication-Results` count.
    pub trusted_authserv_ids: Vec<String>,
    /// Watchers an unverified sender may bring onto a new ticket by Cc
    /// (`support.max_unverified_watchers`): a stranger cannot turn the desk
    /// into a relay to a long list of addresses.
    pub max_unverified_watchers: usize,
}

impl Policy {
    /// Who the desk is, for the verification step.
    pub fn desk<'a>(&'a self, agents: &'a [String]) -> Desk<'a> {
        Desk {
            addressing: &self.addressing,
            support_name: &self.support_name,
            agents,
            trusted_authserv_ids: &self.trusted_authserv_ids,
        }
    }
}

/// Where the message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    New {
        subject: String,
        follow_up_of: Option<TicketId>,
    },
    Existing(TicketId),
}

/// A change to one ticket, with the message that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    pub target: Target,
    pub rule: Option<ThreadRule>,
    /// The visible text, agent command lines removed.
    pub text: String,
    pub internal: bool,
    pub status: Status,
    pub status_changed: bool,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub watch_add: Vec<Mailbox>,
    pub watch_cut: usize,
    pub watch_remove: Vec<String>,
    pub rejected_commands: Vec<String>,
    pub rules_matched: Vec<String>,
    /// A long-solved ticket this mail found: mark it closed.
    pub close: Option<TicketId>,
    /// Whether the sender proved the From address (DESIGN §3 "Trust").
    pub verified: bool,
    /// What an unverified mail was refused, one line each (`unverified_sender` events).
    pub refused_unverified: Vec<String>,
    /// A line for the agents' alert about an unverified claim.
    pub warning: Option<String>,
    /// A verified agent's public answer: the mail budget may delay it, never drop it.
    pub agent_answer: bool,
    /// `#assign`/`#unassign`: the new assignee, when it changes.
    pub assign: Option<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Ignored (loop, bounce, auto-reply): log it, touch nothing else.
    Nothing,
    /// A permanent bounce of mail we sent: stop mailing these addresses.
    MarkBouncing {
        recipients: Vec<String>,
    },
    /// From a `no_access` sender.
    Refused,
    /// Kept whole, not acted on, until an operator replays it (throttled).
    Quarantine,
    /// A portal message about a ticket its author may not see: nothing is written.
    Forbidden,
    Ticket(Box<TicketChange>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Why, for `ignored`/`refused` (the contract's `reason`).
    pub reason: Option<String>,
    pub change: Change,
    pub notifications: Vec<Planned>,
    /// One line per step, for `explain` and the event log.
    pub trace: Vec<String>,
}

/// Step 1, before any lookup: what kind of mail is this?
pub fn classify(msg: &InboundMessage<'_>, policy: &Policy) -> Classification {
    classify::classify(
        &msg.signals,
        &ClassifyContext {
            own_addresses: policy.addressing.own_addresses(),
            loop_id: &policy.loop_id,
        },
    )
}

/// For mail that is not a normal message: ignore it, and for a permanent
/// bounce of one of our notifications, mark the recipients it names that
/// the notification was sent to (`sent_to`, found by the store from the
/// report's original Message-ID).
pub fn decide_unusual(c: &Classification, sent_to: Option<&[String]>) -> Decision {
    let reason = c.reason().unwrap_or("unknown").to_owned();
    let mut trace = vec![format!("classified: {reason} — no ticket, no notification")];
    let mut change = Change::Nothing;
    if let Classification::Bounce(report) = c {
        let marked = bounced_recipients(report, sent_to);
        trace.push(describe_bounce(report, sent_to, &marked));
        if !marked.is_empty() {
            change = Change::MarkBouncing { recipients: marked };
        }
    }
    Decision {
        outcome: Outcome::Ignored,
        reason: Some(reason),
        change,
        notifications: Vec::new(),
        trace,
    }
}

fn bounced_recipients(report: &DeliveryReport, sent_to: Option<&[String]>) -> Vec<String> {
    let Some(sent) = sent_to else {
        return Vec::new();
    };
    if !report.permanent {
        return Vec::new();
    }
    report
        .failed_recipients
        .iter()
        .filter(|r| sent.contains(r))
        .cloned()
        .collect()
}

fn describe_bounce(
    report: &DeliveryReport,
    sent_to: Option<&[String]>,
    marked: &[String],
) -> String {
    let status = report.status.as_deref().unwrap_or("no status");
    match (sent_to, marked.is_empty()) {
        (None, _) => format!(
            "bounce ({status}) for {:?}: not a reply to a notification ticketd sent",
            report.failed_recipients
        ),
        (Some(_), true) if !report.permanent => {
            format!("delivery delayed ({status}); recipients not marked")
        }
        (Some(_), true) => format!("bounce ({status}) names none of the notification's recipients"),
        (Some(_), false) => format!(
            "bounce ({status}): {} marked as bouncing",
            marked.join(", ")
        ),
    }
}

/// Step 2, for a normal mail and the state the store read for it.
pub fn decide(
    msg: &InboundMessage<'_>,
    snap: &Snapshot,
    policy: &Policy,
    now: Timestamp,
) -> Decision {
    decide_web(msg, None, snap, policy, now)
}

/// [`decide`] for a message written on the portal (`msg.source` web): the
/// same steps, with the create form's choices merged into a new ticket —
/// the agent's commands first, then the form over the rules for category
/// and fields, and the higher of form and rules for priority.
pub fn decide_web(
    msg: &InboundMessage<'_>,
    form: Option<&WebForm>,
    snap: &Snapshot,
    policy: &Policy,
    now: Timestamp,
) -> Decision {
    let sender = &snap.sender;
    let mut trace = vec![match msg.source {
        Source::Email => "classified: normal mail".to_owned(),
        s => format!("a {s} message by a signed-in person: nothing to classify"),
    }];
    trace.extend(msg.visible_notes.iter().cloned());
    trace.push(format!(
        "sender: {} ({}{}{})",
        sender.email,
        sender.role,
        sender
            .org
            .as_deref()
            .map(|o| format!(", org {o}"))
            .unwrap_or_default(),
        if sender.known {
            ""
        } else {
            ", new address: account created"
        }
    ));

    if sender.role == Role::NoAccess {
        let notice = sender
            .refused_notice_at
            .is_none_or(|at| now.0 - at.0 >= DAY);
        trace.push(format!(
            "refused: {} has no access; {}",
            sender.email,
            if notice {
                "one polite notice today"
            } else {
                "already noticed today"
            }
        ));
        let notifications = notify::plan(&PlanInput {
            author: &sender.email,
            refused_notice: notice,
            bouncing: Some(&snap.bouncing),
            ..Default::default()
        });
        return Decision {
            outcome: Outcome::Refused,
            reason: Some("no_access".into()),
            change: Change::Refused,
            notifications,
            trace,
        };
    }

    // Privileges need a verified mail (DESIGN §3 "Trust"): unverified, an
    // agent or an org admin acts as a member.
    let verification = verify::verify(msg, &policy.desk(&snap.agents));
    trace.push(verification.describe());
    let verified = verification.verified();
    let claimed = sender.role;
    let acting = if verified || !matches!(claimed, Role::Agent | Role::Admin) {
        sender.clone()
    } else {
        Sender {
            role: Role::Member,
            ..sender.clone()
        }
    };
    let unverified_agent = claimed == Role::Agent && !verified;
    let mut refused = Refusals::default();
    if let Err(doubt @ (Doubt::SeveralFrom(_) | Doubt::ImpersonatingName(_))) = &verification.0 {
        // Not a refusal of anything yet, but a forger's mark: on record.
        refused.push(Verification(Err(doubt.clone())).describe());
    }
    if let Some(c) = &snap.candidate {
        if claimed == Role::Admin
            && !verified
            && may_update(sender, &c.ticket)
            && !may_update(&acting, &c.ticket)
        {
            refused.push(format!(
                "org admin rights on {}: {} is not on the ticket, and only a verified mail may use them",
                c.ticket.id, sender.email
            ));
        }
    }

    let thread = threading::decide(
        snap.candidate.as_ref(),
        &acting,
        now,
        policy.reopen_days,
        unverified_agent,
    );
    let is_agent = acting.role == Role::Agent;
    let parsed = if is_agent {
        commands::parse(&msg.visible)
    } else {
        commands::Parsed {
            text: msg.visible.clone(),
            ..Default::default()
        }
    };
    if unverified_agent {
        let would = commands::parse(&msg.visible);
        if !would.commands.is_empty() {
            refused.push(format!(
                "agent commands not carried out (left in the text): {:?}",
                would.commands
            ));
        }
    }
    let warning =
        unverified_agent.then(|| format!("unverified: claims to be {}; not relayed", sender.email));
    let mut commanded_status = None;
    let mut commanded_priority = None;
    let mut commanded_category = None;
    let mut note = false;
    let mut watch_cmd = Vec::new();
    let mut unwatch_cmd = Vec::new();
    let mut assign_cmd: Option<Assignment> = None;
    let mut assign_refused = Vec::new();
    for c in &parsed.commands {
        match c {
            Command::Status(s) => commanded_status = Some(*s),
            Command::Priority(p) => commanded_priority = Some(*p),
            Command::Category(c) => commanded_category = Some(c.clone()),
            Command::Note => note = true,
            Command::Watch(e) => watch_cmd.push(e.clone()),
            Command::Unwatch(e) => unwatch_cmd.push(e.clone()),
            Command::Assign(a) => match a.resolve(&sender.email, &snap.agents) {
                Ok(to) => assign_cmd = Some(to),
                Err(why) => assign_refused.push(why),
            },
        }
    }
    if !parsed.commands.is_empty() {
        trace.push(format!("agent commands: {:?}", parsed.commands));
    }
    for r in &parsed.rejected {
        trace.push(format!(
            "agent command not understood, removed from the text: {r}"
        ));
    }
    for why in &assign_refused {
        trace.push(format!("#assign not carried out: {why}"));
    }
    let mut rejected_commands = parsed.rejected;
    rejected_commands.extend(assign_refused);

    // Who already has this message: a mail's To and Cc. A portal message
    // was mailed to no one, so everyone it concerns is told.
    let direct: Vec<&str> = if msg.source == Source::Email {
        msg.to
            .iter()
            .chain(&msg.cc)
            .map(|m| m.email.as_str())
            .collect()
    } else {
        Vec::new()
    };

    match thread {
        ThreadDecision::New { follow_up_of, why } => {
            trace.push(format!("threading: {why}"));
            if sender.tickets_last_hour >= policy.max_new_tickets_per_hour && !is_agent {
                trace.push(format!(
                    "throttled: {} opened {} tickets in the hour before this mail arrived (limit {}): quarantined, kept whole; `ticketd quarantine replay` lets it through",
                    sender.email, sender.tickets_last_hour, policy.max_new_tickets_per_hour
                ));
                return Decision {
                    outcome: Outcome::Quarantined,
                    reason: Some("throttled".into()),
                    change: Change::Quarantine,
                    notifications: Vec::new(),
                    trace,
                };
            }
            let mut ruled = rules::evaluate(&policy.rules, msg, &msg.text);
            let mut chosen = ruled.priority;
            if let Some(f) = form {
                describe_form(&mut trace, f);
                chosen = chosen.max(f.priority);
                ruled.category = f.category.clone().or(ruled.category);
                ruled
                    .fields
                    .extend(f.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let priority = commanded_priority.or(chosen);
            let category = commanded_category.or(ruled.category.clone());
            let cap = if verified {
                policy.max_watchers
            } else {
                policy.max_unverified_watchers.min(policy.max_watchers)
            };
            let mut w = watchers::from_recipients(
                msg,
                &policy.addressing,
                &snap.agents,
                &sender.email,
                &[],
                cap,
            );
            if !verified && w.cut > 0 {
                refused.push(format!(
                    "{} more To/Cc addresses not added as watchers: an unverified sender brings at most {cap} (support.max_unverified_watchers)",
                    w.cut
                ));
            }
            let watch_cmd = commandable(watch_cmd, &policy.addressing, &snap.agents, &mut trace);
            add_commanded_watchers(&mut w.added, &watch_cmd, &sender.email, policy.max_watchers);
            let watcher_emails: Vec<String> = sorted_emails(&w.added);
            let status = commanded_status.unwrap_or(Status::Open);
            describe_rules(&mut trace, &ruled.matched);
            describe_watchers(&mut trace, &watcher_emails, &w.added, w.cut);
            let password_setup =
                claimed != Role::Agent && !sender.has_password && !sender.setup_pending;
            let assign = assign_cmd.filter(|a| *a != Assignment::Nobody);
            let assignee = assign.as_ref().and_then(Assignment::email);
            if assignee.is_some() {
                describe_assignment(&mut trace, assignee, None);
            }
            let notifications = notify::plan(&PlanInput {
                new_ticket: true,
                assignee,
                assigned_now: assignee.filter(|a| *a != sender.email),
                author: &sender.email,
                author_role: Some(acting.role),
                requester: &sender.email,
                watchers: &watcher_emails,
                agents: &snap.agents,
                direct_recipients: &direct,
                became_urgent: priority == Some(Priority::Urgent),
                oncall: policy.oncall.as_deref(),
                password_setup,
                unverified_claim: unverified_agent,
                bouncing: Some(&snap.bouncing),
                ..Default::default()
            });
            describe_notifications(&mut trace, &notifications);
            let change = TicketChange {
                target: Target::New {
                    subject: policy.tag.clean_subject(&msg.subject),
                    follow_up_of,
                },
                rule: None,
                text: parsed.text,
                internal: note,
                status,
                status_changed: true,
                priority,
                category,
                fields: ruled.fields,
                watch_add: w.added,
                watch_cut: w.cut,
                watch_remove: Vec::new(),
                rejected_commands,
                rules_matched: ruled.matched,
                close: follow_up_of.filter(|_| {
                    snap.candidate
                        .as_ref()
                        .is_some_and(|c| c.ticket.status != Status::Closed)
                }),
                verified,
                refused_unverified: refused.finish(&mut trace),
                warning,
                agent_answer: false,
                assign,
            };
            Decision {
                outcome: Outcome::Created,
                reason: None,
                change: Change::Ticket(Box::new(change)),
                notifications,
                trace,
            }
        }
        ThreadDecision::Forbidden { why, .. } => {
            trace.push(format!("threading: {why}: nothing written"));
            Decision {
                outcome: Outcome::Refused,
                reason: Some("forbidden".into()),
                change: Change::Forbidden,
                notifications: Vec::new(),
                trace,
            }
        }
        ThreadDecision::Existing {
            ticket,
            rule,
            internal_note,
            why,
        } => {
            trace.push(format!("threading: {why}"));
            let Some(t) = snap.candidate.as_ref().map(|c| &c.ticket) else {
                // threading::decide only returns Existing for a candidate.
                return decide_unusual(&Classification::Normal, None);
            };
            let author = if is_agent {
                AuthorKind::Agent
            } else if internal_note {
                AuthorKind::Stranger
            } else {
                AuthorKind::Customer
            };
            let internal = internal_note || note;
            let new_status = status::after_message(t.status, author, internal, commanded_status);
            let ruled = if author == AuthorKind::Customer {
                rules::evaluate(&policy.rules, msg, &msg.visible)
            } else {
                Default::default()
            };
            let priority = commanded_priority
                .or(ruled.priority.filter(|p| *p > t.priority))
                .filter(|p| *p != t.priority);
            let category = commanded_category.or(ruled.category.filter(|_| t.category.is_none()));
            let mut w = if internal_note {
                watchers::WatcherChange::default()
            } else {
                watchers::from_recipients(
                    msg,
                    &policy.addressing,
                    &snap.agents,
                    &t.requester,
                    &t.watchers,
                    policy.max_watchers,
                )
            };
            if !verified && !w.added.is_empty() {
                refused.push(format!(
                    "watchers not added from To/Cc: {}",
                    sorted_emails(&w.added).join(", ")
                ));
                w = watchers::WatcherChange::default();
            }
            let room = policy.max_watchers.saturating_sub(t.watchers.len());
            let watch_cmd = commandable(watch_cmd, &policy.addressing, &snap.agents, &mut trace);
            add_commanded_watchers(&mut w.added, &watch_cmd, &t.requester, room);
            w.added
                .retain(|m| t.watchers.binary_search(&m.email).is_err());
            let mut all_watchers: Vec<String> = t
                .watchers
                .iter()
                .filter(|w| !unwatch_cmd.contains(w))
                .cloned()
                .collect();
            all_watchers.extend(w.added.iter().map(|m| m.email.clone()));
            all_watchers.sort();
            all_watchers.dedup();
            if new_status != t.status {
                trace.push(format!("status: {} → {}", t.status, new_status));
            }
            if let Some(p) = priority {
                trace.push(format!("priority: {} → {p}", t.priority));
            }
            describe_rules(&mut trace, &ruled.matched);
            describe_watchers(&mut trace, &all_watchers, &w.added, w.cut);
            if internal {
                trace.push("message: internal note (customers are not notified)".into());
            }
            let assign = assign_cmd.filter(|a| a.email() != t.assignee.as_deref());
            let assignee = match &assign {
                Some(a) => a.email(),
                None => t.assignee.as_deref(),
            };
            if assign.is_some() {
                describe_assignment(&mut trace, assignee, t.assignee.as_deref());
            }
            let notifications = notify::plan(&PlanInput {
                new_ticket: false,
                assignee,
                assigned_now: assign
                    .as_ref()
                    .and_then(Assignment::email)
                    .filter(|a| *a != sender.email),
                author: &sender.email,
                author_role: Some(acting.role),
                internal,
                from_stranger: internal_note,
                requester: &t.requester,
                watchers: &all_watchers,
                agents: &snap.agents,
                direct_recipients: &direct,
                solved_now: new_status == Status::Solved && t.status != Status::Solved,
                became_urgent: priority == Some(Priority::Urgent),
                oncall: policy.oncall.as_deref(),
                password_setup: claimed != Role::Agent
                    && !sender.has_password
                    && sender.setup_expired,
                unverified_claim: unverified_agent,
                bouncing: Some(&snap.bouncing),
                ..Default::default()
            });
            describe_notifications(&mut trace, &notifications);
            let fields = ruled.fields;
            let change = TicketChange {
                target: Target::Existing(ticket),
                rule: Some(rule),
                text: parsed.text,
                internal,
                status: new_status,
                status_changed: new_status != t.status,
                priority,
                category,
                fields,
                watch_add: w.added,
                watch_cut: w.cut,
                watch_remove: unwatch_cmd
                    .into_iter()
                    .filter(|e| t.watchers.contains(e))
                    .collect(),
                rejected_commands,
                rules_matched: ruled.matched,
                close: None,
                verified,
                refused_unverified: refused.finish(&mut trace),
                warning,
                agent_answer: author == AuthorKind::Agent && !internal,
                assign,
            };
            Decision {
                outcome: Outcome::Updated,
                reason: None,
                change: Change::Ticket(Box::new(change)),
                notifications,
                trace,
            }
        }
    }
}

fn describe_assignment(trace: &mut Vec<String>, to: Option<&str>, was: Option<&str>) {
    trace.push(format!(
        "assignee: {} → {}",
        was.unwrap_or("none"),
        to.unwrap_or("none")
    ));
}

/// What an unverified mail was refused; each becomes an `unverified_sender` event.
#[derive(Debug, Default)]
struct Refusals(Vec<String>);

impl Refusals {
    fn push(&mut self, what: String) {
        self.0.push(what);
    }

    /// The refusals, each also written into the trace.
    fn finish(self, trace: &mut Vec<String>) -> Vec<String> {
        for r in &self.0 {
            trace.push(format!("refused, unverified sender: {r}"));
        }
        self.0
    }
}

/// `#watch` addresses that can be watchers: never the desk's own addresses
/// (a watcher there would mail the mailbox itself) nor an agent (the
/// requester is left out later, quietly). The portal's Cc checks the same
/// rule ([`watchers::refusal`]).
fn commandable(
    emails: Vec<String>,
    addressing: &Addressing,
    agents: &[String],
    trace: &mut Vec<String>,
) -> Vec<String> {
    emails
        .into_iter()
        .filter(|e| {
            let ok = watchers::refusal(e, addressing, agents, "").is_none();
            if !ok {
                trace.push(format!(
                    "#watch {e}: the desk's own address or an agent, not added"
                ));
            }
            ok
        })
        .collect()
}

fn add_commanded_watchers(
    added: &mut Vec<Mailbox>,
    emails: &[String],
    requester: &str,
    room: usize,
) {
    for e in emails {
        if e != requester && !added.iter().any(|m| &m.email == e) && added.len() < room {
            added.push(Mailbox {
                email: e.clone(),
                name: None,
            });
        }
    }
}

fn sorted_emails(m: &[Mailbox]) -> Vec<String> {
    let mut v: Vec<String> = m.iter().map(|m| m.email.clone()).collect();
    v.sort();
    v
}

fn describe_rules(trace: &mut Vec<String>, matched: &[String]) {
    if !matched.is_empty() {
        trace.push(format!("rules matched: {}", matched.join(", ")));
    }
}

fn describe_watchers(trace: &mut Vec<String>, all: &[String], added: &[Mailbox], cut: usize) {
    let now = if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    };
    let added: Vec<&str> = added.iter().map(|m| m.email.as_str()).collect();
    let change = if added.is_empty() {
        " (none added)".to_owned()
    } else {
        format!(" (added: {})", added.join(", "))
    };
    trace.push(format!("watchers: {now}{change}"));
    if cut > 0 {
        trace.push(format!(
            "watchers cut: {cut} more addresses past the limit were not added"
        ));
    }
}

fn describe_form(trace: &mut Vec<String>, f: &WebForm) {
    let mut chose = Vec::new();
    if let Some(p) = f.priority {
        chose.push(format!("priority {p}"));
    }
    if let Some(c) = &f.category {
        chose.push(format!("category {c}"));
    }
    chose.extend(f.fields.iter().map(|(k, v)| format!("{k}={v}")));
    if !chose.is_empty() {
        trace.push(format!("portal form: {}", chose.join(", ")));
    }
}

fn describe_notifications(trace: &mut Vec<String>, n: &[Planned]) {
    if n.is_empty() {
        trace.push("notifications: none".into());
    }
    for p in n {
        trace.push(format!("notification: {} to {}", p.kind, p.to));
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
