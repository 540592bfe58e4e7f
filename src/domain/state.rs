//! The slice of stored state one decision needs, read by the store in one go
//! and handed to the pure core: the sender, the ticket the mail may belong to,
//! the agents, and which of the possible recipients are bouncing.

use std::collections::HashSet;

use super::model::{Priority, Role, Status, TicketId};
use super::time::Timestamp;

/// The author of the mail, as the store knows them (or would create them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub email: String,
    pub role: Role,
    pub org: Option<String>,
    /// False when the address has never been seen: the account is created with the ticket.
    pub known: bool,
    pub has_password: bool,
    /// An unexpired, unused password-setup token exists.
    pub setup_pending: bool,
    /// A setup link was sent once and expired unused (and no password since).
    pub setup_expired: bool,
    /// Tickets this address opened in the last hour (for throttling).
    pub tickets_last_hour: u32,
    /// When the last `refused` notice went to this address.
    pub refused_notice_at: Option<Timestamp>,
}

/// A ticket as threading, access and notification rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    pub id: TicketId,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub category: Option<String>,
    pub requester: String,
    pub org: Option<String>,
    /// Sorted emails.
    pub watchers: Vec<String>,
    pub solved_at: Option<Timestamp>,
    /// The agent the ticket is assigned to: their alerts are theirs alone.
    pub assignee: Option<String>,
}

impl TicketState {
    pub fn is_participant(&self, email: &str) -> bool {
        self.requester == email || self.watchers.iter().any(|w| w == email)
    }
}

/// How threading found a ticket (DESIGN §3, the first that matches wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadRule {
    /// 1. In-Reply-To/References names a Message-ID ticketd stored.
    MessageId,
    /// 2. Sent to the ticket's HMAC reply address.
    ReplyAddress,
    /// 3. The subject carries the ticket tag.
    SubjectTag,
    /// Not mail: the author replied on the ticket's page in the portal.
    Web,
}

impl ThreadRule {
    pub fn describe(self) -> &'static str {
        match self {
            ThreadRule::MessageId => "rule 1: In-Reply-To/References names a stored Message-ID",
            ThreadRule::ReplyAddress => "rule 2: sent to the ticket's reply address",
            ThreadRule::SubjectTag => "rule 3: the subject carries the ticket tag",
            ThreadRule::Web => "the author replied on the portal",
        }
    }
}

/// The ticket the first matching threading key led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub rule: ThreadRule,
    pub ticket: TicketState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub sender: Sender,
    pub candidate: Option<Candidate>,
    /// Emails of every agent.
    pub agents: Vec<String>,
    /// Bouncing addresses among everyone this mail could notify.
    pub bouncing: HashSet<String>,
}
