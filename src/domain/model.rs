//! The words of the domain: ids, statuses, priorities, roles, outcomes. Every
//! piece of state that the contract names is an enum here, never a loose string.

use std::fmt;
use std::str::FromStr;

/// A ticket number, shown to people as `#123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketId(pub i64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Declares a closed set of snake_case words with `as_str`, `FromStr`,
/// `Display` and the list of allowed words (for error messages).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WORDS: &'static str = concat!($($word, " "),+);

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($word) { return Ok($name::$variant); })+
                Err(UnknownWord { what: stringify!($name), word: t.to_owned(), allowed: $name::WORDS.trim_end() })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A word that is not one of an enum's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}: use one of {allowed}")]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
    pub allowed: &'static str,
}

word_enum! {
    /// Where a ticket stands. `Closed` is final: mail to it starts a follow-up.
    Status { Open => "open", Pending => "pending", Solved => "solved", Closed => "closed" }
}

impl Status {
    /// How a customer reads the status.
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::Pending => "Awaiting your reply",
            Status::Solved => "Solved",
            Status::Closed => "Closed",
        }
    }
}

word_enum! {
    /// Ticket priority; `Urgent` pages the on-call address.
    Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" }
}

word_enum! {
    /// What a user may do (DESIGN §1).
    Role { NoAccess => "no_access", Member => "member", Admin => "admin", Agent => "agent" }
}

word_enum! {
    /// What `ingest` did with one message (the contract's `outcome`).
    Outcome {
        Created => "created", Updated => "updated", Duplicate => "duplicate",
        Ignored => "ignored", Refused => "refused", Quarantined => "quarantined",
    }
}

word_enum! {
    /// Where a message came from (the contract's `source`).
    Source { Email => "email", Web => "web", Console => "console" }
}

// By hand: `word_enum!` declares the enum, so `#[default]` has no variant to sit on.
#[allow(clippy::derivable_impls)]
impl Default for Source {
    /// Mail, unless the portal or the console made the message.
    fn default() -> Source {
        Source::Email
    }
}

word_enum! {
    /// Inbound (mail received) or outbound (mail ticketd composed).
    Direction { In => "in", Out => "out" }
}

word_enum! {
    /// The notification kinds of DESIGN §4; each has one template.
    NotificationKind {
        PasswordSetup => "password_setup", PasswordReset => "password_reset",
        TicketReceived => "ticket_received",
        TicketUpdated => "ticket_updated", AgentAlert => "agent_alert",
        UrgentPage => "urgent_page", Refused => "refused",
        TicketAssigned => "ticket_assigned",
    }
}

impl NotificationKind {
    /// Whether the mail carries a single-use password link: its token is
    /// minted when the mail is composed, never stored in clear (DESIGN §4).
    pub fn carries_password_link(self) -> bool {
        matches!(
            self,
            NotificationKind::PasswordSetup | NotificationKind::PasswordReset
        )
    }
}

word_enum! {
    /// Delivery state of an outbox row.
    DeliveryStatus { Pending => "pending", Sent => "sent", Failed => "failed" }
}

/// An email address, lower-cased: the identity of a user.
pub fn normalize_email(address: &str) -> String {
    address.trim().trim_matches(['<', '>']).to_ascii_lowercase()
}

/// The domain part of an address (`example.test` for `a@example.test`).
pub fn email_domain(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_name_the_choices() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        }
        assert_eq!("URGENT".parse::<Priority>(), Ok(Priority::Urgent));
        let err = "boss".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown Role \"boss\": use one of no_access member admin agent"
        );
    }

    #[test]
    fn emails_are_lower_cased_identities() {
        assert_eq!(
            normalize_email(" <Alice@Example.TEST> "),
            "alice@example.test"
        );
        assert_eq!(email_domain("a@b.test"), Some("b.test"));
        assert_eq!(email_domain("nobody"), None);
    }
}
