//! Status transitions (DESIGN §3): new → open; a public agent reply →
//! pending; a customer's reply → open (a solved ticket reopens); an agent's
//! `#status` command wins over both.

use super::model::Status;

/// Who wrote a message, as far as status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorKind {
    Agent,
    /// The requester, a watcher or an admin of the ticket's org.
    Customer,
    /// Someone who proved they saw a ticketd mail but is not on the ticket.
    Stranger,
}

/// The status after a message; `commanded` is an agent's `#status`.
pub fn after_message(
    current: Status,
    author: AuthorKind,
    internal: bool,
    commanded: Option<Status>,
) -> Status {
    if let Some(s) = commanded {
        return s;
    }
    if internal {
        return current;
    }
    match author {
        AuthorKind::Agent => Status::Pending,
        AuthorKind::Customer => Status::Open,
        AuthorKind::Stranger => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthorKind::*;
    use Status::*;

    #[test]
    fn transitions() {
        let cases = [
            (Open, Agent, false, None, Pending),
            (Pending, Customer, false, None, Open),
            (Solved, Customer, false, None, Open),
            (Open, Agent, true, None, Open),
            (Pending, Agent, false, Some(Solved), Solved),
            (Open, Agent, true, Some(Solved), Solved),
            (Pending, Stranger, true, None, Pending),
        ];
        for (from, who, internal, cmd, want) in cases {
            assert_eq!(
                after_message(from, who, internal, cmd),
                want,
                "{from} {who:?} {internal} {cmd:?}"
            );
        }
    }
}
