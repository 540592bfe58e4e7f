//! Which notifications a change owes, and to whom (DESIGN §4). Rendering and
//! delivery are the edges' business; this only decides.

use std::collections::HashSet;

use super::model::{NotificationKind, Role};

/// One notification to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: NotificationKind,
    pub to: String,
}

/// The facts about a change that decide its notifications.
#[derive(Debug, Clone, Default)]
pub struct PlanInput<'a> {
    pub new_ticket: bool,
    pub author: &'a str,
    pub author_role: Option<Role>,
    /// The message is an internal note (agents' `#note`, or a stranger's mail).
    pub internal: bool,
    /// The author proved they saw a ticketd mail but is not on the ticket.
    pub from_stranger: bool,
    pub requester: &'a str,
    /// Watchers after the change.
    pub watchers: &'a [String],
    pub agents: &'a [String],
    /// The ticket's assignee after the change: agent alerts go to them
    /// alone (DESIGN §9), else to every agent.
    pub assignee: Option<&'a str>,
    /// Who was just given the ticket by someone else: told so.
    pub assigned_now: Option<&'a str>,
    /// Everyone in the incoming mail's To and Cc: they already have it.
    pub direct_recipients: &'a [&'a str],
    pub solved_now: bool,
    pub became_urgent: bool,
    pub oncall: Option<&'a str>,
    /// A new ticket's requester has no password and no live setup link, or
    /// the author of a reply had a link that expired unused: send one.
    pub password_setup: bool,
    /// `no_access` sender whose daily notice is due.
    pub refused_notice: bool,
    /// An unverified mail claiming an agent's address: every agent is
    /// alerted, the claimed one too (they should know who writes as them).
    pub unverified_claim: bool,
    pub bouncing: Option<&'a HashSet<String>>,
}

pub fn plan(i: &PlanInput<'_>) -> Vec<Planned> {
    let mut out: Vec<Planned> = Vec::new();
    let mut push = |kind: NotificationKind, to: &str| {
        if to.is_empty()
            || i.bouncing.is_some_and(|b| b.contains(to))
            || out.iter().any(|p| p.kind == kind && p.to == to)
        {
            return;
        }
        out.push(Planned {
            kind,
            to: to.to_owned(),
        });
    };
    if i.refused_notice {
        push(NotificationKind::Refused, i.author);
        return out;
    }
    let author_is_agent = i.author_role == Some(Role::Agent);
    let already_has = |e: &str| e == i.author || i.direct_recipients.contains(&e);

    if i.password_setup && !i.new_ticket {
        // Their earlier link expired unused: writing again earns a new one.
        push(NotificationKind::PasswordSetup, i.author);
    }
    if i.new_ticket {
        if i.password_setup {
            push(NotificationKind::PasswordSetup, i.requester);
        }
        if i.requester != i.author || !author_is_agent {
            push(NotificationKind::TicketReceived, i.requester);
        }
        // Watchers the opening message did not reach (a `#watch`, or a Cc
        // on the portal's form, where nothing was mailed) hear of it like
        // any later public message.
        if !i.internal {
            for w in i.watchers {
                if !already_has(w) && w != i.requester {
                    push(NotificationKind::TicketUpdated, w);
                }
            }
        }
    } else if !i.internal || i.solved_now {
        // A public message (or a solve) goes to the requester and watchers,
        // minus whoever wrote it and whoever it was already sent to.
        for p in std::iter::once(i.requester).chain(i.watchers.iter().map(String::as_str)) {
            let skip = if i.internal {
                p == i.author
            } else {
                already_has(p)
            };
            if !skip {
                push(NotificationKind::TicketUpdated, p);
            }
        }
    }
    if !author_is_agent && (i.new_ticket || !i.internal || i.from_stranger) {
        // Someone writing as an agent is every agent's business, whoever
        // the ticket is assigned to.
        let alone = i
            .assignee
            .filter(|a| !i.unverified_claim && i.agents.iter().any(|x| x == a));
        let alerted: Vec<&str> = match alone {
            Some(a) => vec![a],
            None => i.agents.iter().map(String::as_str).collect(),
        };
        for a in alerted {
            if (i.unverified_claim && a == i.author) || !already_has(a) {
                push(NotificationKind::AgentAlert, a);
            }
        }
    }
    if let Some(a) = i.assigned_now {
        if a != i.author && i.agents.iter().any(|x| x == a) {
            push(NotificationKind::TicketAssigned, a);
        }
    }
    if i.became_urgent {
        if let Some(o) = i.oncall {
            push(NotificationKind::UrgentPage, o);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationKind::*;

    fn kinds(p: &[Planned]) -> Vec<(NotificationKind, &str)> {
        p.iter().map(|p| (p.kind, p.to.as_str())).collect()
    }

    const AGENTS: &[String] = &[];

    fn agents() -> Vec<String> {
        vec!["agent@example.test".into()]
    }

    #[test]
    fn new_ticket_from_a_new_customer() {
        let agents = agents();
        let watchers = vec!["bob@acme.test".to_string()];
        let p = plan(&PlanInput {
            new_ticket: true,
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            watchers: &watchers,
            agents: &agents,
            direct_recipients: &["support@example.test", "bob@acme.test"],
            password_setup: true,
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (PasswordSetup, "ann@acme.test"),
                (TicketReceived, "ann@acme.test"),
                (AgentAlert, "agent@example.test")
            ]
        );
    }

    #[test]
    fn watchers_a_new_ticket_never_reached_are_told() {
        let agents = agents();
        let watchers = vec!["bob@acme.test".to_string(), "cat@acme.test".to_string()];
        let p = plan(&PlanInput {
            new_ticket: true,
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            watchers: &watchers,
            agents: &agents,
            direct_recipients: &["support@example.test", "bob@acme.test"],
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (TicketReceived, "ann@acme.test"),
                (TicketUpdated, "cat@acme.test"),
                (AgentAlert, "agent@example.test")
            ]
        );
    }

    #[test]
    fn agent_reply_reaches_customers_not_already_addressed() {
        let agents = agents();
        let watchers = vec!["bob@acme.test".to_string(), "cat@acme.test".to_string()];
        let p = plan(&PlanInput {
            author: "agent@example.test",
            author_role: Some(Role::Agent),
            requester: "ann@acme.test",
            watchers: &watchers,
            agents: &agents,
            direct_recipients: &["support+1-abc@example.test", "cat@acme.test"],
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (TicketUpdated, "ann@acme.test"),
                (TicketUpdated, "bob@acme.test")
            ]
        );
    }

    #[test]
    fn customer_reply_alerts_agents_and_other_watchers() {
        let agents = agents();
        let watchers = vec!["bob@acme.test".to_string()];
        let p = plan(&PlanInput {
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            watchers: &watchers,
            agents: &agents,
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (TicketUpdated, "bob@acme.test"),
                (AgentAlert, "agent@example.test")
            ]
        );
    }

    #[test]
    fn stranger_note_alerts_agents_only() {
        let agents = agents();
        let p = plan(&PlanInput {
            author: "zed@x.test",
            author_role: Some(Role::Member),
            internal: true,
            from_stranger: true,
            requester: "ann@acme.test",
            watchers: &[],
            agents: &agents,
            ..Default::default()
        });
        assert_eq!(kinds(&p), [(AgentAlert, "agent@example.test")]);
    }

    #[test]
    fn agent_note_notifies_nobody_unless_it_solves() {
        let base = PlanInput {
            author: "agent@example.test",
            author_role: Some(Role::Agent),
            internal: true,
            requester: "ann@acme.test",
            agents: AGENTS,
            ..Default::default()
        };
        assert!(plan(&base).is_empty());
        let solved = PlanInput {
            solved_now: true,
            ..base
        };
        assert_eq!(kinds(&plan(&solved)), [(TicketUpdated, "ann@acme.test")]);
    }

    #[test]
    fn urgent_pages_oncall_and_bouncing_addresses_are_skipped() {
        let agents = agents();
        let bouncing: HashSet<String> = ["agent@example.test".to_string()].into();
        let p = plan(&PlanInput {
            new_ticket: true,
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            agents: &agents,
            became_urgent: true,
            oncall: Some("oncall@example.test"),
            bouncing: Some(&bouncing),
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (TicketReceived, "ann@acme.test"),
                (UrgentPage, "oncall@example.test")
            ]
        );
    }

    #[test]
    fn an_unverified_agent_claim_alerts_every_agent_and_no_customer() {
        let agents = vec![
            "agent@example.test".to_string(),
            "bea@example.test".to_string(),
        ];
        let watchers = vec!["bob@acme.test".to_string()];
        let p = plan(&PlanInput {
            author: "agent@example.test",
            author_role: Some(Role::Member),
            internal: true,
            from_stranger: true,
            unverified_claim: true,
            requester: "ann@acme.test",
            watchers: &watchers,
            agents: &agents,
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (AgentAlert, "agent@example.test"),
                (AgentAlert, "bea@example.test")
            ]
        );
    }

    fn two_agents() -> Vec<String> {
        vec![
            "agent@example.test".to_string(),
            "bea@example.test".to_string(),
        ]
    }

    #[test]
    fn an_assigned_ticket_alerts_its_assignee_alone() {
        let agents = two_agents();
        let p = plan(&PlanInput {
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            agents: &agents,
            assignee: Some("bea@example.test"),
            ..Default::default()
        });
        assert_eq!(kinds(&p), [(AgentAlert, "bea@example.test")]);
    }

    #[test]
    fn an_assignee_who_is_no_longer_an_agent_does_not_swallow_the_alert() {
        let agents = two_agents();
        let p = plan(&PlanInput {
            author: "ann@acme.test",
            author_role: Some(Role::Member),
            requester: "ann@acme.test",
            agents: &agents,
            assignee: Some("left@example.test"),
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (AgentAlert, "agent@example.test"),
                (AgentAlert, "bea@example.test")
            ]
        );
    }

    #[test]
    fn an_unverified_claim_alerts_every_agent_even_when_assigned() {
        let agents = two_agents();
        let p = plan(&PlanInput {
            author: "agent@example.test",
            author_role: Some(Role::Member),
            internal: true,
            from_stranger: true,
            unverified_claim: true,
            requester: "ann@acme.test",
            agents: &agents,
            assignee: Some("bea@example.test"),
            ..Default::default()
        });
        assert_eq!(
            kinds(&p),
            [
                (AgentAlert, "agent@example.test"),
                (AgentAlert, "bea@example.test")
            ]
        );
    }

    #[test]
    fn the_new_assignee_is_told_unless_they_took_it_themselves() {
        let agents = two_agents();
        let assigned_by = |author| {
            plan(&PlanInput {
                author,
                author_role: Some(Role::Agent),
                internal: true,
                requester: "ann@acme.test",
                agents: &agents,
                assignee: Some("bea@example.test"),
                assigned_now: Some("bea@example.test"),
                ..Default::default()
            })
        };
        assert_eq!(
            kinds(&assigned_by("agent@example.test")),
            [(TicketAssigned, "bea@example.test")]
        );
        assert!(assigned_by("bea@example.test").is_empty());
    }

    #[test]
    fn refused_sender_gets_only_the_notice() {
        let p = plan(&PlanInput {
            author: "x@y.test",
            refused_notice: true,
            ..Default::default()
        });
        assert_eq!(kinds(&p), [(Refused, "x@y.test")]);
    }
}
