//! The IMAP edge: connecting (TLS, STARTTLS or loopback plaintext), logging
//! in (LOGIN, PLAIN, XOAUTH2), and the handful of mailbox operations the
//! daemon needs, each with a timeout. No decisions are made here.

mod connect;
mod error;
mod mailbox;

pub use connect::connect;
pub use error::ImapError;
pub use mailbox::{Fetched, Mailbox, Selected, Wake};
