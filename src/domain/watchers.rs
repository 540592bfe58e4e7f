//! Who watches a ticket (DESIGN §3): the people the requester wrote to,
//! minus us, the agents and the requester; capped, with the cut recorded.

use super::address::Addressing;
use super::message::{InboundMessage, Mailbox};

/// Watchers to add, and how many were left out by the cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatcherChange {
    pub added: Vec<Mailbox>,
    pub cut: usize,
}

/// Why `email` can never watch the ticket of `requester`, if it cannot: the
/// desk's own addresses (a watcher there would mail the mailbox itself), an
/// agent (they see every ticket anyway), the requester (already on it).
pub fn refusal(
    email: &str,
    addressing: &Addressing,
    agents: &[String],
    requester: &str,
) -> Option<&'static str> {
    if addressing.is_ours(email) {
        Some("it is the support desk's own address")
    } else if agents.iter().any(|a| a == email) {
        Some("it is an agent's address; agents see every ticket")
    } else if email == requester {
        Some("it is the ticket's requester")
    } else {
        None
    }
}

/// New watchers from the mail's To and Cc. `existing` are the ticket's
/// current watchers (sorted); the result never pushes the total past `max`.
pub fn from_recipients(
    msg: &InboundMessage<'_>,
    addressing: &Addressing,
    agents: &[String],
    requester: &str,
    existing: &[String],
    max: usize,
) -> WatcherChange {
    let mut change = WatcherChange::default();
    let room = max.saturating_sub(existing.len());
    for m in msg.to.iter().chain(&msg.cc) {
        let e = m.email.as_str();
        if refusal(e, addressing, agents, requester).is_some()
            || existing.binary_search_by(|w| w.as_str().cmp(e)).is_ok()
            || change.added.iter().any(|a| a.email == e)
        {
            continue;
        }
        if change.added.len() < room {
            change.added.push(m.clone());
        } else {
            change.cut += 1;
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(e: &str) -> Mailbox {
        Mailbox {
            email: e.into(),
            name: None,
        }
    }

    #[test]
    fn excludes_us_agents_requester_and_duplicates() {
        let us = Addressing::new(
            "support@example.test",
            &["help@example.test".into()],
            vec![1],
        );
        let msg = InboundMessage {
            to: vec![mb("support@example.test"), mb("bob@acme.test")],
            cc: vec![
                mb("help+x@example.test"),
                mb("agent@example.test"),
                mb("ann@acme.test"),
                mb("carol@acme.test"),
                mb("bob@acme.test"),
                mb("dan@acme.test"),
            ],
            ..Default::default()
        };
        let c = from_recipients(
            &msg,
            &us,
            &["agent@example.test".into()],
            "ann@acme.test",
            &["dan@acme.test".into()],
            48,
        );
        let got: Vec<&str> = c.added.iter().map(|m| m.email.as_str()).collect();
        assert_eq!(got, ["bob@acme.test", "carol@acme.test"]);
        assert_eq!(c.cut, 0);
    }

    #[test]
    fn caps_and_counts_the_cut() {
        let us = Addressing::new("support@example.test", &[], vec![1]);
        let msg = InboundMessage {
            cc: (0..10_000).map(|i| mb(&format!("p{i}@x.test"))).collect(),
            ..Default::default()
        };
        let c = from_recipients(&msg, &us, &[], "ann@acme.test", &["a@x.test".into()], 48);
        assert_eq!(c.added.len(), 47);
        assert_eq!(c.cut, 10_000 - 47);
    }
}
