//! ticketd turns a support mailbox into a ticket system.
//!
//! The pipeline, one message at a time (DESIGN §2):
//!
//! ```text
//! raw bytes ─ normalize ─ classify ─┬─ (loop, bounce, auto-reply) ─ ignored
//!                                   └─ snapshot (one store read) ─ decide ─ apply (one transaction)
//! ```
//!
//! * [`domain`] is pure: it turns a mail and a snapshot of stored state into
//!   a [`domain::decide::Decision`]; no I/O, the clock passed in.
//! * [`store`] is the SQLite edge; [`ingest`] glues one message end to end:
//!   nothing is acknowledged anywhere before its transaction commits, and a
//!   message seen again is recognised as a duplicate.
//! * [`delivery`] sends the outbox over SMTP; [`imap`] and [`daemon`] watch the mailbox;
//!   [`oauth`] gets both their OAuth2 tokens.
#![forbid(unsafe_code)]

pub mod attachments;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod domain;
pub mod imap;
pub mod ingest;
pub mod oauth;
pub mod observe;
pub mod private_file;
pub mod render;
pub mod store;
pub mod tls;
pub mod web;
