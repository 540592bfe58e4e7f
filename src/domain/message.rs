//! `InboundMessage`: one received mail, normalized — the only shape of a mail
//! the rest of the core ever sees.

use std::borrow::Cow;
use std::fmt;

use super::classify::Signals;
use super::model::Source;
use super::time::Timestamp;

/// A person's address with an optional display name; the email is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub email: String,
    pub name: Option<String>,
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} <{}>", self.email),
            None => f.write_str(&self.email),
        }
    }
}

/// A file carried by the mail, decoded.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    /// Sanitised: no path, no control characters, never empty.
    pub filename: String,
    pub content_type: String,
    pub data: Cow<'a, [u8]>,
    /// SHA-256 of `data` (hex), its file's name: taken where the mail is
    /// parsed, on every core, not by the one thread holding the write lock.
    pub sha256: String,
}

/// `Authentication-Results` headers kept per mail: the trusted MTA's are on
/// top, so a mail with thousands of them loses only what never counts.
pub const MAX_AUTH_RESULTS: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct InboundMessage<'a> {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    /// Addresses in all From headers together: more than one proves none.
    pub from_count: usize,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Envelope recipients the MTA recorded (`Delivered-To`, `X-Original-To`, …).
    pub envelope_to: Vec<String>,
    /// Decoded, one line, never empty.
    pub subject: String,
    pub date: Option<Timestamp>,
    /// The whole text of the mail (HTML converted to text when there is no plain part).
    pub text: String,
    /// The new words of this mail: quoted history and signature removed.
    pub visible: String,
    /// Why the visible text is what it is where a rule was held back (a cut
    /// that would have left nothing): lines for `explain`'s trace.
    pub visible_notes: Vec<String>,
    pub attachments: Vec<Attachment<'a>>,
    /// Attachments past `store.max_attachments`: not decoded, not stored.
    pub attachments_dropped: usize,
    /// Header facts for the loop/bounce/auto-reply rules.
    pub signals: Signals,
    /// Raw `Authentication-Results` values, topmost (newest) first, at most
    /// [`MAX_AUTH_RESULTS`].
    pub auth_results: Vec<String>,
    /// Every header as (name, decoded-or-raw value); only kept when a rule reads headers.
    pub headers: Vec<(String, String)>,
    /// Mail, or a message written on the portal (or at the console) by a
    /// signed-in person: the same pipeline, a different proof of the sender.
    pub source: Source,
}

impl InboundMessage<'_> {
    /// Every address the mail was sent to: To, Cc and the envelope.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to
            .iter()
            .chain(&self.cc)
            .map(|m| m.email.as_str())
            .chain(self.envelope_to.iter().map(String::as_str))
    }

    /// The first value of a header by name (case-insensitive), if kept.
    pub fn header_text(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Message-IDs this mail answers, most specific first: In-Reply-To, then
    /// References from the newest back.
    pub fn referenced_ids(&self) -> impl Iterator<Item = &str> {
        self.in_reply_to
            .iter()
            .chain(self.references.iter().rev())
            .map(String::as_str)
    }
}
