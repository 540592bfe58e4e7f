//! Agent email commands (DESIGN §3, §9): `#status`, `#priority`,
//! `#category`, `#note`, `#watch`, `#unwatch`, `#assign`, `#unassign` on the
//! first lines of an agent's reply.
//! Only agents' mail is parsed; for everyone else these lines are text.

use super::model::{Priority, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status(Status),
    Priority(Priority),
    Category(String),
    /// The whole reply is an internal note.
    Note,
    Watch(String),
    Unwatch(String),
    /// `#assign EMAIL` or `#assign me`; `#unassign` is `Assign(Assignee::Nobody)`.
    Assign(Assignee),
}

/// Whom a ticket is assigned to, as asked; whether that is an agent is
/// for the decision to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// The one who asks (`#assign me`, the desk's "me").
    Me,
    Agent(String),
    Nobody,
}

/// Whom a ticket goes to once "me" is known and the address checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    To(String),
    Nobody,
}

impl Assignment {
    pub fn email(&self) -> Option<&str> {
        match self {
            Assignment::To(e) => Some(e),
            Assignment::Nobody => None,
        }
    }
}

impl Assignee {
    /// Resolves "me" to `me`, and refuses anyone who is not in `agents`
    /// (sorted or not): a ticket is only ever assigned to an agent.
    pub fn resolve(&self, me: &str, agents: &[String]) -> Result<Assignment, String> {
        let email = match self {
            Assignee::Nobody => return Ok(Assignment::Nobody),
            Assignee::Me => me,
            Assignee::Agent(e) => e.as_str(),
        };
        if agents.iter().any(|a| a == email) {
            Ok(Assignment::To(email.to_owned()))
        } else {
            Err(format!(
                "{email} is not an agent, so the ticket was not assigned (agents: support.agents, or `ticketd users set-role EMAIL agent`)"
            ))
        }
    }
}

/// The commands found, the lines that looked like commands but were not
/// understood (reported as events), and the text that remains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    pub rejected: Vec<String>,
    pub text: String,
}

/// Reads command lines from the top of `visible`, stopping at the first line
/// that is neither blank nor a `#word` line. Command lines are removed from
/// the text; a `#word` line that is not a valid command is reported and also
/// removed, so a typo never reaches the customer.
pub fn parse(visible: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut rest_at = visible.len();
    let mut offset = 0;
    for line in visible.split_inclusive('\n') {
        let t = line.trim();
        if t.is_empty() {
            offset += line.len();
            continue;
        }
        let Some(body) = t.strip_prefix('#') else {
            rest_at = offset;
            break;
        };
        let mut words = body.split_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_lowercase();
        let arg: Vec<&str> = words.collect();
        let arg1 = arg.first().copied().unwrap_or("");
        let cmd = match verb.as_str() {
            "status" => arg1
                .parse::<Status>()
                .ok()
                .filter(|s| *s != Status::Closed)
                .map(Command::Status),
            "priority" => arg1.parse().ok().map(Command::Priority),
            "category" if !arg.is_empty() => Some(Command::Category(arg.join(" "))),
            "note" if arg.is_empty() => Some(Command::Note),
            "watch" if is_email(&bare(arg1)) && arg.len() == 1 => Some(Command::Watch(bare(arg1))),
            "unwatch" if is_email(&bare(arg1)) && arg.len() == 1 => {
                Some(Command::Unwatch(bare(arg1)))
            }
            "assign" if arg.len() == 1 && arg1.eq_ignore_ascii_case("me") => {
                Some(Command::Assign(Assignee::Me))
            }
            "assign" if is_email(&bare(arg1)) && arg.len() == 1 => {
                Some(Command::Assign(Assignee::Agent(bare(arg1))))
            }
            "unassign" if arg.is_empty() => Some(Command::Assign(Assignee::Nobody)),
            "category" | "note" | "watch" | "unwatch" | "assign" | "unassign" => None,
            // Not a command word at all (e.g. "#1 priority is..."): it is text.
            _ => {
                rest_at = offset;
                break;
            }
        };
        match cmd {
            Some(c) => parsed.commands.push(c),
            None => parsed.rejected.push(t.to_owned()),
        }
        offset += line.len();
    }
    parsed.text = visible
        .get(rest_at.min(visible.len())..)
        .unwrap_or("")
        .trim()
        .to_owned();
    parsed
}

fn is_email(s: &str) -> bool {
    let s = s.trim_matches(['<', '>']);
    s.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
}

/// `<Ann@Acme.test>` or `mailto:ann@acme.test` as the bare lower-case address.
fn bare(arg: &str) -> String {
    let a = arg
        .trim()
        .trim_start_matches('<')
        .trim_end_matches(['>', ',', ';', '.']);
    let a = a.strip_prefix("mailto:").unwrap_or(a);
    super::model::normalize_email(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_at_the_top_and_removes_them() {
        let p = parse("#status solved\n#priority urgent\n\n#category Billing issues\n#watch Bob@Acme.test\n#unwatch c@x.test\n\nDone, thanks!\n#note later lines are text");
        assert_eq!(
            p.commands,
            [
                Command::Status(Status::Solved),
                Command::Priority(Priority::Urgent),
                Command::Category("Billing issues".into()),
                Command::Watch("bob@acme.test".into()),
                Command::Unwatch("c@x.test".into()),
            ]
        );
        assert_eq!(p.text, "Done, thanks!\n#note later lines are text");
        assert!(p.rejected.is_empty());
    }

    #[test]
    fn note_and_rejected_lines() {
        let p = parse("#note\n#status closed\n#priority whenever\nInternal remark");
        assert_eq!(p.commands, [Command::Note]);
        assert_eq!(p.rejected, ["#status closed", "#priority whenever"]);
        assert_eq!(p.text, "Internal remark");
    }

    #[test]
    fn text_first_means_no_commands() {
        for body in ["Hello\n#status solved", "#1 priority is speed", "   "] {
            let p = parse(body);
            assert!(p.commands.is_empty(), "{body}");
            assert_eq!(p.text, body.trim());
        }
    }

    #[test]
    fn watch_addresses_lose_their_brackets() {
        for (line, want) in [
            ("#watch <Bob@Acme.test>", "bob@acme.test"),
            ("#watch mailto:bob@acme.test", "bob@acme.test"),
            ("#watch bob@acme.test,", "bob@acme.test"),
        ] {
            let p = parse(&format!("{line}\nHi"));
            assert_eq!(p.commands, [Command::Watch(want.into())], "{line}");
        }
        assert_eq!(parse("#watch <>\nHi").rejected, ["#watch <>"]);
    }
}

#[cfg(test)]
mod assign_tests {
    use super::*;

    #[test]
    fn assign_me_an_agent_or_nobody() {
        for (line, want) in [
            ("#assign me", Assignee::Me),
            ("#assign ME", Assignee::Me),
            (
                "#assign <Bea@Example.test>",
                Assignee::Agent("bea@example.test".into()),
            ),
            ("#unassign", Assignee::Nobody),
        ] {
            let p = parse(&format!("{line}\nOn it."));
            assert_eq!(p.commands, [Command::Assign(want)], "{line}");
            assert_eq!(p.text, "On it.");
        }
    }

    #[test]
    fn only_agents_are_assigned() {
        let agents = [
            "al@example.test".to_string(),
            "bea@example.test".to_string(),
        ];
        assert_eq!(
            Assignee::Me.resolve("al@example.test", &agents),
            Ok(Assignment::To("al@example.test".into()))
        );
        assert_eq!(
            Assignee::Agent("bea@example.test".into()).resolve("al@example.test", &agents),
            Ok(Assignment::To("bea@example.test".into()))
        );
        assert_eq!(
            Assignee::Nobody.resolve("al@example.test", &agents),
            Ok(Assignment::Nobody)
        );
        let e = Assignee::Agent("ann@acme.test".into())
            .resolve("al@example.test", &agents)
            .unwrap_err();
        assert!(e.contains("ann@acme.test is not an agent"), "{e}");
    }

    #[test]
    fn a_malformed_assign_is_rejected_and_removed() {
        let p = parse("#assign\n#assign bea and me\n#unassign bea@example.test\nHi");
        assert!(p.commands.is_empty());
        assert_eq!(
            p.rejected,
            [
                "#assign",
                "#assign bea and me",
                "#unassign bea@example.test"
            ]
        );
        assert_eq!(p.text, "Hi");
    }
}
