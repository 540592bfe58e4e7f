//! Agent email commands (DESIGN §3): `#status`, `#priority`, `#category`,
//! `#note`, `#watch`, `#unwatch` on the first lines of an agent's reply.
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
            "category" | "note" | "watch" | "unwatch" => None,
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
