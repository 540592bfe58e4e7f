//! Which ticket a mail belongs to — DESIGN §3's four rules in one place.
//!
//! The store cannot be asked "which ticket?" directly, so this is split in
//! two pure halves around one lookup: [`keys`] says what to look up, in rule
//! order; the store resolves the first key that names a ticket into a
//! [`Candidate`]; [`decide`] applies access and reopen rules to it.

use super::access::may_update;
use super::address::{Addressing, ReplyAddress};
use super::message::InboundMessage;
use super::model::{Status, TicketId};
use super::state::{Candidate, Sender, ThreadRule, TicketState};
use super::tag::TicketTag;
use super::time::{Timestamp, DAY};

/// Message-IDs of References/In-Reply-To looked up, newest first.
pub const MAX_THREAD_KEYS: usize = 20;

/// A Message-ID longer than this is left out of In-Reply-To/References:
/// real ones are under 100 characters; a 5,000-character one would make
/// every later mail of the ticket undeliverable ("500 Line too long").
pub const MAX_REFERENCED_ID: usize = 250;

/// Whether a Message-ID may stand in a header ticketd writes.
pub fn fits(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REFERENCED_ID && id.is_ascii()
}

/// What the store should look up, in the order the rules are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// Rule 1: Message-IDs the mail answers, most specific first.
    pub message_ids: Vec<String>,
    /// Rule 2: a reply address to us: the per-ticket form with a valid MAC,
    /// or a personal key the store checks against the ticket's people
    /// ([`personal_key_belongs`]).
    pub reply_address: Option<ReplyAddress>,
    /// Rule 3: the tag in the subject.
    pub subject_tag: Option<TicketId>,
    /// Not mail: the ticket whose page a portal reply was written on. It
    /// names the ticket outright; the access rule still decides.
    pub web_ticket: Option<TicketId>,
}

pub fn keys(msg: &InboundMessage<'_>, addressing: &Addressing, tag: &TicketTag) -> ThreadKeys {
    // A hostile References header may list hundreds of thousands of ids; the
    // newest few decide, so stop at MAX_THREAD_KEYS distinct ones (and the
    // check for a repeat is over at most that many: linear in the header).
    let mut message_ids: Vec<String> = Vec::with_capacity(MAX_THREAD_KEYS);
    for id in msg.referenced_ids() {
        if message_ids.len() == MAX_THREAD_KEYS {
            break;
        }
        if !message_ids.iter().any(|m| m == id) {
            message_ids.push(id.to_owned());
        }
    }
    ThreadKeys {
        message_ids,
        reply_address: msg
            .recipients()
            .find_map(|r| addressing.parse_any_reply_address(r)),
        subject_tag: tag.find(&msg.subject),
        web_ticket: None,
    }
}

/// Whether a reply address found `ticket` by rule 2: a per-ticket MAC is
/// checked already; a personal key must be the key of the sender or of one
/// of the ticket's people (a forwarded notification still threads), else it
/// is forged and matches nothing.
pub fn personal_key_belongs(
    reply: &ReplyAddress,
    addressing: &Addressing,
    sender: &str,
    ticket: &TicketState,
    agents: &[String],
) -> bool {
    match reply {
        ReplyAddress::Ticket(_) => true,
        ReplyAddress::Personal { ticket: id, key } => {
            let people = std::iter::once(sender)
                .chain(std::iter::once(ticket.requester.as_str()))
                .chain(ticket.watchers.iter().map(String::as_str))
                .chain(agents.iter().map(String::as_str));
            addressing.personal_key_owner(*id, key, people).is_some()
        }
    }
}

/// Where the mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadDecision {
    /// A new ticket; `follow_up_of` when it answers a closed one.
    New {
        follow_up_of: Option<TicketId>,
        why: String,
    },
    /// An existing ticket; as an internal note when the sender proved they saw
    /// a ticketd mail (rules 1, 2) but does not belong on the ticket.
    Existing {
        ticket: TicketId,
        rule: ThreadRule,
        internal_note: bool,
        why: String,
    },
    /// A portal reply to a ticket its author may not see: nothing is written.
    Forbidden { ticket: TicketId, why: String },
}

/// Applies access and reopen rules to the ticket threading found.
/// (`no_access` senders are refused before threading is consulted.)
/// `sender` carries the role the mail may act with (unverified agents and
/// admins act as members); `unverified_agent` puts such a mail on the
/// ticket it found, whatever the rule, as an internal note (DESIGN §3).
pub fn decide(
    found: Option<&Candidate>,
    sender: &Sender,
    now: Timestamp,
    reopen_days: u32,
    unverified_agent: bool,
) -> ThreadDecision {
    let Some(c) = found else {
        return ThreadDecision::New {
            follow_up_of: None,
            why: "rule 4: no key matched a ticket".into(),
        };
    };
    let t = &c.ticket;
    let allowed = may_update(sender, t);
    if c.rule == ThreadRule::Web && !allowed {
        // Before the closed check: whoever may not see it learns nothing of it.
        return ThreadDecision::Forbidden {
            ticket: t.id,
            why: format!(
                "{}: {}, but {} may not see it",
                c.rule.describe(),
                t.id,
                sender.email
            ),
        };
    }
    if unverified_agent && !is_closed(t.status, t.solved_at, now, reopen_days) {
        return ThreadDecision::Existing {
            ticket: t.id,
            rule: c.rule,
            internal_note: true,
            why: format!(
                "{}: {}; the mail claims to be agent {} but is unverified, so it becomes an internal note",
                c.rule.describe(),
                t.id,
                sender.email
            ),
        };
    }
    if c.rule == ThreadRule::SubjectTag && !allowed {
        return ThreadDecision::New {
            follow_up_of: None,
            why: format!(
                "{}: {}, but {} may not update it, so the tag proves nothing",
                c.rule.describe(),
                t.id,
                sender.email
            ),
        };
    }
    if is_closed(t.status, t.solved_at, now, reopen_days) {
        return ThreadDecision::New {
            follow_up_of: Some(t.id),
            why: format!(
                "{}: {} is closed, so this starts a follow-up",
                c.rule.describe(),
                t.id
            ),
        };
    }
    let internal_note = !allowed;
    let why = if internal_note {
        format!(
            "{}: {}; {} is not on the ticket, so the mail becomes an internal note",
            c.rule.describe(),
            t.id,
            sender.email
        )
    } else {
        format!("{}: {}", c.rule.describe(), t.id)
    };
    ThreadDecision::Existing {
        ticket: t.id,
        rule: c.rule,
        internal_note,
        why,
    }
}

/// `closed`, or `solved` for longer than `reopen_days`: final.
pub fn is_closed(
    status: Status,
    solved_at: Option<Timestamp>,
    now: Timestamp,
    reopen_days: u32,
) -> bool {
    match status {
        Status::Closed => true,
        Status::Solved => solved_at.is_some_and(|at| now.0 - at.0 > i64::from(reopen_days) * DAY),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Mailbox;
    use crate::domain::model::{Priority, Role};
    use crate::domain::state::TicketState;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn ticket(status: Status, solved_days_ago: Option<i64>) -> TicketState {
        TicketState {
            id: TicketId(9),
            subject: "s".into(),
            status,
            priority: Priority::Normal,
            category: None,
            requester: "ann@acme.test".into(),
            org: Some("acme.test".into()),
            watchers: vec![],
            solved_at: solved_days_ago.map(|d| NOW.minus_secs(d * DAY)),
            assignee: None,
        }
    }

    fn sender(email: &str, role: Role) -> Sender {
        Sender {
            email: email.into(),
            role,
            org: Some("acme.test".into()),
            known: true,
            has_password: false,
            setup_pending: false,
            setup_expired: false,
            tickets_last_hour: 0,
            refused_notice_at: None,
        }
    }

    fn found(rule: ThreadRule, t: TicketState) -> Option<Candidate> {
        Some(Candidate { rule, ticket: t })
    }

    #[test]
    fn keys_follow_rule_order_and_verify_the_mac() {
        let a = Addressing::new("support@example.test", &[], b"s".to_vec());
        let tag = TicketTag::new("[#{id}]").expect("tag");
        let msg = InboundMessage {
            in_reply_to: vec!["n2@example.test".into()],
            references: vec!["n1@example.test".into(), "n2@example.test".into()],
            to: vec![Mailbox {
                email: a.reply_address(TicketId(4)),
                name: None,
            }],
            cc: vec![Mailbox {
                email: "support+5-000000000000@example.test".into(),
                name: None,
            }],
            subject: "Re: [#6] help".into(),
            ..Default::default()
        };
        let k = keys(&msg, &a, &tag);
        assert_eq!(k.message_ids, ["n2@example.test", "n1@example.test"]);
        assert_eq!(k.reply_address, Some(ReplyAddress::Ticket(TicketId(4))));
        assert_eq!(k.subject_tag, Some(TicketId(6)));
    }

    #[test]
    fn no_match_is_a_new_ticket() {
        let d = decide(None, &sender("ann@acme.test", Role::Member), NOW, 7, false);
        assert!(matches!(
            d,
            ThreadDecision::New {
                follow_up_of: None,
                ..
            }
        ));
    }

    #[test]
    fn participants_update_and_strangers_become_internal_notes() {
        let t = ticket(Status::Open, None);
        for rule in [ThreadRule::MessageId, ThreadRule::ReplyAddress] {
            let d = decide(
                found(rule, t.clone()).as_ref(),
                &sender("ann@acme.test", Role::Member),
                NOW,
                7,
                false,
            );
            assert!(
                matches!(
                    d,
                    ThreadDecision::Existing {
                        internal_note: false,
                        ..
                    }
                ),
                "{d:?}"
            );
            let d = decide(
                found(rule, t.clone()).as_ref(),
                &sender("zed@x.test", Role::Member),
                NOW,
                7,
                false,
            );
            assert!(
                matches!(
                    d,
                    ThreadDecision::Existing {
                        internal_note: true,
                        ..
                    }
                ),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_subject_tag_alone_proves_nothing() {
        let t = ticket(Status::Open, None);
        let d = decide(
            found(ThreadRule::SubjectTag, t.clone()).as_ref(),
            &sender("zed@x.test", Role::Member),
            NOW,
            7,
            false,
        );
        assert!(
            matches!(
                d,
                ThreadDecision::New {
                    follow_up_of: None,
                    ..
                }
            ),
            "{d:?}"
        );
        let d = decide(
            found(ThreadRule::SubjectTag, t).as_ref(),
            &sender("ann@acme.test", Role::Member),
            NOW,
            7,
            false,
        );
        assert!(
            matches!(
                d,
                ThreadDecision::Existing {
                    internal_note: false,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn closed_and_long_solved_tickets_get_follow_ups() {
        let ann = sender("ann@acme.test", Role::Member);
        for (t, follow) in [
            (ticket(Status::Closed, Some(1)), true),
            (ticket(Status::Solved, Some(8)), true),
            (ticket(Status::Solved, Some(6)), false),
            (ticket(Status::Pending, None), false),
        ] {
            let d = decide(
                found(ThreadRule::MessageId, t).as_ref(),
                &ann,
                NOW,
                7,
                false,
            );
            match d {
                ThreadDecision::New { follow_up_of, .. } => {
                    assert!(follow && follow_up_of == Some(TicketId(9)))
                }
                ThreadDecision::Existing { .. } => assert!(!follow),
                ThreadDecision::Forbidden { .. } => panic!("mail is never forbidden"),
            }
        }
    }

    #[test]
    fn a_portal_reply_lands_only_where_its_author_may_see() {
        let open = ticket(Status::Open, None);
        let ann = sender("ann@acme.test", Role::Member);
        let d = decide(
            found(ThreadRule::Web, open.clone()).as_ref(),
            &ann,
            NOW,
            7,
            false,
        );
        assert!(
            matches!(
                d,
                ThreadDecision::Existing {
                    internal_note: false,
                    rule: ThreadRule::Web,
                    ..
                }
            ),
            "{d:?}"
        );
        // A stranger gets no internal note, and is not told the ticket is closed.
        let zed = sender("zed@x.test", Role::Member);
        for t in [open, ticket(Status::Closed, Some(30))] {
            let d = decide(found(ThreadRule::Web, t).as_ref(), &zed, NOW, 7, false);
            assert!(matches!(d, ThreadDecision::Forbidden { .. }), "{d:?}");
        }
        let d = decide(
            found(ThreadRule::Web, ticket(Status::Closed, Some(30))).as_ref(),
            &ann,
            NOW,
            7,
            false,
        );
        assert!(
            matches!(
                d,
                ThreadDecision::New {
                    follow_up_of: Some(TicketId(9)),
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn an_unverified_agent_lands_as_an_internal_note_whatever_the_rule() {
        let t = ticket(Status::Open, None);
        // Acting as a member, as decide passes it.
        let agent = sender("agent@example.test", Role::Member);
        for rule in [
            ThreadRule::MessageId,
            ThreadRule::ReplyAddress,
            ThreadRule::SubjectTag,
        ] {
            let d = decide(found(rule, t.clone()).as_ref(), &agent, NOW, 7, true);
            assert!(
                matches!(
                    d,
                    ThreadDecision::Existing {
                        internal_note: true,
                        ..
                    }
                ),
                "{rule:?}: {d:?}"
            );
        }
    }

    #[test]
    fn a_personal_key_threads_only_for_someone_on_the_ticket() {
        let a = Addressing::new("support@example.test", &[], b"s".to_vec());
        let t = ticket(Status::Open, None);
        let agents = vec!["agent@example.test".to_string()];
        let key_of = |who: &str| {
            a.parse_any_reply_address(&a.personal_address(TicketId(9), who))
                .expect("parses")
        };
        // The requester's notification, forwarded to a colleague who replies.
        assert!(personal_key_belongs(
            &key_of("ann@acme.test"),
            &a,
            "colleague@acme.test",
            &t,
            &agents
        ));
        assert!(personal_key_belongs(
            &key_of("agent@example.test"),
            &a,
            "agent@example.test",
            &t,
            &agents
        ));
        // A key made up, or made for someone not on the ticket.
        assert!(!personal_key_belongs(
            &key_of("mallory@evil.example"),
            &a,
            "zed@x.test",
            &t,
            &agents
        ));
        let forged = ReplyAddress::Personal {
            ticket: TicketId(9),
            key: "0123456789abcdef".into(),
        };
        assert!(!personal_key_belongs(
            &forged,
            &a,
            "ann@acme.test",
            &t,
            &agents
        ));
    }

    #[test]
    fn a_huge_references_header_is_read_in_linear_time() {
        let a = Addressing::new("support@example.test", &[], b"s".to_vec());
        let tag = TicketTag::new("[#{id}]").expect("tag");
        let msg = InboundMessage {
            references: (0..300_000)
                .map(|i| format!("r{}@x.test", i % 150_000))
                .collect(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let k = keys(&msg, &a, &tag);
        assert!(
            started.elapsed().as_secs_f64() < 1.0,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(k.message_ids.len(), MAX_THREAD_KEYS);
        assert_eq!(k.message_ids[0], "r149999@x.test", "newest first");
    }
}
