//! What the portal adds to the pipeline (DESIGN §8), decided as purely as
//! mail is: the create form's choices that [`super::decide::decide_web`]
//! merges into a new ticket, and the checks on a ticket page's other
//! actions — solving it, adding or removing someone on Cc — under the one
//! access rule and the `#watch` rules.

use std::collections::BTreeMap;

use super::access::{may_view, Viewer};
use super::decide::Policy;
use super::model::{normalize_email, Priority, TicketId};
use super::state::TicketState;
use super::threading::is_closed;
use super::time::Timestamp;
use super::watchers;

/// The create form's choices beyond subject and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebForm {
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// `field.NAME` values, already checked against `[[portal.fields]]`.
    pub fields: BTreeMap<String, String>,
}

/// A ticket page's actions besides a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebUpdate {
    Solve,
    AddCc(String),
    RemoveCc(String),
}

/// Why a portal action is not carried out; the web layer shows the text
/// (except [`Refusal::NotVisible`], which it answers as "not found").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such ticket")]
    NotVisible,
    #[error("ticket {0} is closed: open a new one")]
    Closed(TicketId),
    #[error("{0:?} is not an email address")]
    NotAnAddress(String),
    #[error("{0} cannot be on Cc: {1}")]
    NotWatchable(String, &'static str),
    #[error("ticket {0} already has {1} people on Cc, the most it keeps")]
    Full(TicketId, usize),
}

/// An address typed into a form, lower-cased: one `@`, a dotted domain, no
/// spaces, controls or list punctuation, at most 254 bytes.
pub fn parse_address(input: &str) -> Result<String, Refusal> {
    let email = normalize_email(input);
    let ok = email.len() <= 254
        && email.matches('@').count() == 1
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"' | '\\')
        });
    if ok {
        Ok(email)
    } else {
        Err(Refusal::NotAnAddress(
            input.trim().chars().take(100).collect(),
        ))
    }
}

/// Checks a ticket-page action by `viewer` on `ticket`; returns it with its
/// address normalized. A closed ticket is final; a Cc is never the desk, an
/// agent or the requester (the `#watch` rules), and stays within
/// `support.max_watchers`.
pub fn check_update(
    viewer: &Viewer,
    ticket: &TicketState,
    update: &WebUpdate,
    policy: &Policy,
    agents: &[String],
    now: Timestamp,
) -> Result<WebUpdate, Refusal> {
    if !may_view(viewer, ticket) {
        return Err(Refusal::NotVisible);
    }
    if is_closed(ticket.status, ticket.solved_at, now, policy.reopen_days) {
        return Err(Refusal::Closed(ticket.id));
    }
    match update {
        WebUpdate::Solve => Ok(WebUpdate::Solve),
        WebUpdate::AddCc(input) => {
            let email = parse_address(input)?;
            if let Some(why) =
                watchers::refusal(&email, &policy.addressing, agents, &ticket.requester)
            {
                return Err(Refusal::NotWatchable(email, why));
            }
            let already = ticket.watchers.contains(&email);
            if !already && ticket.watchers.len() >= policy.max_watchers {
                return Err(Refusal::Full(ticket.id, ticket.watchers.len()));
            }
            Ok(WebUpdate::AddCc(email))
        }
        WebUpdate::RemoveCc(input) => {
            let email = parse_address(input)?;
            if email == ticket.requester {
                return Err(Refusal::NotWatchable(
                    email,
                    "the requester stays on their ticket",
                ));
            }
            Ok(WebUpdate::RemoveCc(email))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address::Addressing;
    use crate::domain::model::{Role, Status};
    use crate::domain::tag::TicketTag;
    use crate::domain::time::DAY;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn policy() -> Policy {
        Policy {
            addressing: Addressing::new(
                "support@example.test",
                &["help@example.test".into()],
                b"k".to_vec(),
            ),
            tag: TicketTag::new("[#{id}]").expect("tag"),
            rules: Vec::new(),
            reopen_days: 7,
            max_watchers: 2,
            max_new_tickets_per_hour: 10,
            oncall: None,
            loop_id: "support@example.test".into(),
            support_name: "Example Support".into(),
            trusted_authserv_ids: Vec::new(),
            max_unverified_watchers: 2,
        }
    }

    fn ticket(status: Status, solved_days_ago: Option<i64>) -> TicketState {
        TicketState {
            id: TicketId(3),
            subject: "s".into(),
            status,
            priority: Priority::Normal,
            category: None,
            requester: "ann@acme.test".into(),
            org: Some("acme.test".into()),
            watchers: vec!["bob@acme.test".into()],
            solved_at: solved_days_ago.map(|d| NOW.minus_secs(d * DAY)),
            assignee: None,
        }
    }

    fn viewer(email: &str, role: Role) -> Viewer {
        Viewer {
            email: email.into(),
            role,
            org: email.rsplit_once('@').map(|(_, d)| d.to_owned()),
        }
    }

    fn check(v: &Viewer, t: &TicketState, u: WebUpdate) -> Result<WebUpdate, Refusal> {
        check_update(v, t, &u, &policy(), &["agent@example.test".into()], NOW)
    }

    #[test]
    fn addresses_from_a_form() {
        for (input, ok) in [
            (" Bob@Acme.TEST ", Some("bob@acme.test")),
            ("<bob@acme.test>", Some("bob@acme.test")),
            ("bob", None),
            ("bob@localhost", None),
            ("a@b@acme.test", None),
            ("bob smith@acme.test", None),
            ("bob@acme.test, eve@x.test", None),
            ("@acme.test", None),
        ] {
            assert_eq!(parse_address(input).ok().as_deref(), ok, "{input:?}");
        }
    }

    #[test]
    fn cc_follows_the_watch_rules() {
        let ann = viewer("ann@acme.test", Role::Member);
        let t = ticket(Status::Open, None);
        assert_eq!(
            check(&ann, &t, WebUpdate::AddCc("Carl@Acme.test".into())),
            Ok(WebUpdate::AddCc("carl@acme.test".into()))
        );
        for (who, why) in [
            ("support@example.test", "desk"),
            ("help+3@example.test", "desk"),
            ("agent@example.test", "agent"),
            ("ann@acme.test", "requester"),
        ] {
            let got = check(&ann, &t, WebUpdate::AddCc(who.into()));
            assert!(
                matches!(&got, Err(Refusal::NotWatchable(e, w)) if e == who && w.contains(why)),
                "{who}: {got:?}"
            );
        }
        assert_eq!(
            check(&ann, &t, WebUpdate::RemoveCc("bob@acme.test".into())),
            Ok(WebUpdate::RemoveCc("bob@acme.test".into()))
        );
        assert!(matches!(
            check(&ann, &t, WebUpdate::RemoveCc("ann@acme.test".into())),
            Err(Refusal::NotWatchable(..))
        ));
        let mut full = t.clone();
        full.watchers.push("cat@acme.test".into());
        assert_eq!(
            check(&ann, &full, WebUpdate::AddCc("dan@acme.test".into())),
            Err(Refusal::Full(TicketId(3), 2))
        );
        assert!(
            check(&ann, &full, WebUpdate::AddCc("cat@acme.test".into())).is_ok(),
            "already there: no new place taken"
        );
    }

    #[test]
    fn only_who_may_see_acts_and_a_closed_ticket_is_final() {
        let t = ticket(Status::Open, None);
        for (v, ok) in [
            (viewer("ann@acme.test", Role::Member), true),
            (viewer("bob@acme.test", Role::Member), true),
            (viewer("carl@acme.test", Role::Member), false),
            (viewer("carl@acme.test", Role::Admin), true),
            (viewer("agent@example.test", Role::Agent), true),
            (viewer("ann@acme.test", Role::NoAccess), false),
        ] {
            let got = check(&v, &t, WebUpdate::Solve);
            assert_eq!(got.is_ok(), ok, "{v:?}: {got:?}");
            if !ok {
                assert_eq!(got, Err(Refusal::NotVisible));
            }
        }
        let ann = viewer("ann@acme.test", Role::Member);
        assert!(check(&ann, &ticket(Status::Solved, Some(2)), WebUpdate::Solve).is_ok());
        for t in [
            ticket(Status::Solved, Some(9)),
            ticket(Status::Closed, Some(1)),
        ] {
            assert_eq!(
                check(&ann, &t, WebUpdate::AddCc("carl@acme.test".into())),
                Err(Refusal::Closed(TicketId(3)))
            );
        }
    }
}
