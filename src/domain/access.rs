//! The one access rule (DESIGN §1, §8): agents see and update anything, org
//! admins their org's tickets and those they are on, members the tickets
//! they requested or watch, `no_access` nothing. Mail, every portal page
//! and every download ask it; the portal's lists ask its SQL twin
//! (`store::portal`), which a test holds to this function.

use super::model::{email_domain, Role};
use super::state::{Sender, TicketState};

/// Someone looking at the portal: a signed-in user as the store knows them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub email: String,
    pub role: Role,
    pub org: Option<String>,
}

/// Whether `viewer` may see `ticket` (and so reply to it, solve it, change its Cc).
pub fn may_view(viewer: &Viewer, ticket: &TicketState) -> bool {
    allowed(&viewer.email, viewer.role, viewer.org.as_deref(), ticket)
}

/// Whether `sender` may add public messages to `ticket`: the same rule.
pub fn may_update(sender: &Sender, ticket: &TicketState) -> bool {
    allowed(&sender.email, sender.role, sender.org.as_deref(), ticket)
}

fn allowed(email: &str, role: Role, org: Option<&str>, ticket: &TicketState) -> bool {
    match role {
        Role::NoAccess => false,
        Role::Agent => true,
        Role::Admin => {
            ticket.is_participant(email) || (org.is_some() && org == ticket.org.as_deref())
        }
        Role::Member => ticket.is_participant(email),
    }
}

/// The organization of a new user: the email's domain, unless it is a
/// public mail provider (everyone at gmail.com is not one company).
pub fn org_for(email: &str, personal_domains: &[String]) -> Option<String> {
    let domain = email_domain(email)?.to_ascii_lowercase();
    (!personal_domains.contains(&domain)).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Priority, Status, TicketId};

    fn ticket() -> TicketState {
        TicketState {
            id: TicketId(1),
            subject: "s".into(),
            status: Status::Open,
            priority: Priority::Normal,
            category: None,
            requester: "ann@acme.test".into(),
            org: Some("acme.test".into()),
            watchers: vec!["bob@other.test".into()],
            solved_at: None,
            assignee: None,
        }
    }

    fn sender(email: &str, role: Role) -> Sender {
        Sender {
            email: email.into(),
            role,
            org: org_for(email, &["gmail.com".into()]),
            known: true,
            has_password: false,
            setup_pending: false,
            setup_expired: false,
            tickets_last_hour: 0,
            refused_notice_at: None,
        }
    }

    #[test]
    fn roles_decide_access() {
        let t = ticket();
        let cases = [
            ("ann@acme.test", Role::Member, true),
            ("bob@other.test", Role::Member, true),
            ("carl@acme.test", Role::Member, false),
            ("carl@acme.test", Role::Admin, true),
            ("dora@else.test", Role::Admin, false),
            ("eve@else.test", Role::Agent, true),
            ("ann@acme.test", Role::NoAccess, false),
        ];
        for (email, role, ok) in cases {
            let s = sender(email, role);
            assert_eq!(may_update(&s, &t), ok, "{email} {role}");
            let v = Viewer {
                email: s.email.clone(),
                role,
                org: s.org.clone(),
            };
            assert_eq!(may_view(&v, &t), ok, "{email} {role}: one rule");
        }
    }

    #[test]
    fn org_comes_from_the_domain_except_public_providers() {
        let personal = vec!["gmail.com".to_string()];
        assert_eq!(
            org_for("a@Acme.test", &personal).as_deref(),
            Some("acme.test")
        );
        assert_eq!(org_for("a@gmail.com", &personal), None);
        assert_eq!(org_for("nodomain", &personal), None);
    }
}
