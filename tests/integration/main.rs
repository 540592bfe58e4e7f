//! Integration tests: the real `ticketd` binary on a real SQLite database,
//! fed the mails in `fixtures/mail/` and hostile mail made on the fly.

mod assign;
mod cli;
mod desk;
mod desk_search;
mod desk_web;
mod golden;
mod harness;
mod hostile;
mod portal_core;
mod retention;
mod rules;
mod trust;
mod web;
