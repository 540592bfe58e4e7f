//! `tickets list | show | update`.

use clap::Subcommand;

use super::table::Table;
use super::{open_ingestor, open_store, print_json, CmdResult, Failure};
use crate::clock::now;
use crate::config::Config;
use crate::domain::commands::Assignment;
use crate::domain::model::{normalize_email, Priority, Status, TicketId};
use crate::domain::time::{Timestamp, DAY};
use crate::store::console::ConsoleUpdate;
use crate::store::queries::{self, Messages, Ticket};

#[derive(Debug, Subcommand)]
pub enum TicketsCmd {
    /// Tickets, newest first.
    List {
        #[arg(long)]
        json: bool,
        /// Only tickets with this status (open, pending, solved, closed).
        #[arg(long)]
        status: Option<Status>,
    },
    /// One ticket with its messages and events.
    Show {
        id: TicketArg,
        #[arg(long)]
        json: bool,
    },
    /// Change a ticket as an agent's email commands would.
    Update {
        id: TicketArg,
        #[arg(long)]
        status: Option<Status>,
        #[arg(long)]
        priority: Option<Priority>,
        #[arg(long)]
        category: Option<String>,
        /// Add a watcher (repeatable).
        #[arg(long, value_name = "EMAIL")]
        watch: Vec<String>,
        /// Remove a watcher (repeatable).
        #[arg(long, value_name = "EMAIL")]
        unwatch: Vec<String>,
        /// Assign the ticket to this agent.
        #[arg(long, value_name = "EMAIL", conflicts_with = "unassign")]
        assign: Option<String>,
        /// Leave the ticket unassigned (alerts go to every agent again).
        #[arg(long)]
        unassign: bool,
    },
}

/// A ticket number as people write it: `42` or `#42`.
#[derive(Debug, Clone, Copy)]
pub struct TicketArg(pub TicketId);

impl std::str::FromStr for TicketArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| TicketArg(TicketId(n)))
            .ok_or_else(|| format!("{s:?} is not a ticket number (e.g. 42 or #42)"))
    }
}

pub fn run(config: &Config, cmd: TicketsCmd) -> CmdResult {
    match cmd {
        TicketsCmd::List { json, status } => {
            let store = open_store(config)?;
            let tickets = queries::tickets(store.conn(), status)?;
            if json {
                return print_json(&tickets);
            }
            outln!("{}", list_table(&tickets, now()).trim_end());
            Ok(())
        }
        TicketsCmd::Show { id, json } => {
            let store = open_store(config)?;
            let t = queries::ticket(store.conn(), id.0)?;
            if json {
                return print_json(&t);
            }
            outln!("{}", show_text(&t).trim_end());
            Ok(())
        }
        TicketsCmd::Update {
            id,
            status,
            priority,
            category,
            watch,
            unwatch,
            assign,
            unassign,
        } => {
            let assign = match (assign, unassign) {
                (Some(email), _) => Some(Assignment::To(normalize_email(&email))),
                (None, true) => Some(Assignment::Nobody),
                (None, false) => None,
            };
            let update = ConsoleUpdate {
                status,
                priority,
                category,
                watch,
                unwatch,
                assign,
            };
            if update.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --status, --priority, --category, --watch, --unwatch, --assign or --unassign",
                ));
            }
            let (mut store, ingestor) = open_ingestor(config)?;
            let s = ingestor.update_ticket(&mut store, id.0, &update, now())?;
            if s.changes.is_empty() {
                outln!("ticket {}: already so, nothing changed", id.0);
            } else {
                outln!("ticket {}: {}", id.0, s.changes.join("; "));
                outln!("{} notification(s) queued", s.notifications);
            }
            Ok(())
        }
    }
}

fn list_table(tickets: &[Ticket], now: Timestamp) -> String {
    if tickets.is_empty() {
        return "no tickets\n".to_owned();
    }
    let mut t = Table::new(&[
        "#",
        "subject",
        "requester",
        "created",
        "category",
        "status",
        "priority",
        "days open",
    ]);
    for k in tickets {
        t.row(vec![
            k.id.to_string(),
            k.subject.clone(),
            k.requester.clone(),
            k.created_at.get(..10).unwrap_or(&k.created_at).to_owned(),
            k.category.clone().unwrap_or_else(|| "-".into()),
            k.status.clone(),
            k.priority.clone(),
            ((now.0 - k.created.0).max(0) / DAY).to_string(),
        ]);
    }
    t.render()
}

fn show_text(t: &Ticket) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "#{} {}", t.id, t.subject);
    let _ = writeln!(
        o,
        "  status {}, priority {}, category {}",
        t.status,
        t.priority,
        t.category.as_deref().unwrap_or("-")
    );
    let _ = writeln!(o, "  requester {}", t.requester);
    let _ = writeln!(o, "  assignee  {}", t.assignee.as_deref().unwrap_or("none"));
    if !t.watchers.is_empty() {
        let _ = writeln!(o, "  watchers  {}", t.watchers.join(", "));
    }
    if let Some(f) = t.follow_up_of {
        let _ = writeln!(o, "  follow-up of #{f}");
    }
    for (k, v) in &t.fields {
        let _ = writeln!(o, "  field {k} = {v}");
    }
    let _ = writeln!(o, "  created {}, updated {}", t.created_at, t.updated_at);
    if let Messages::List(messages) = &t.messages {
        for m in messages {
            let kind = if m.internal { " (internal note)" } else { "" };
            let _ = writeln!(
                o,
                "\n--- message {} {} from {} at {}{kind}",
                m.id,
                m.direction,
                m.from.as_deref().unwrap_or("?"),
                m.date
            );
            for line in m.text.lines() {
                let _ = writeln!(o, "  {line}");
            }
            for a in &m.attachments {
                let state = a
                    .refused
                    .as_deref()
                    .map(|r| format!(" — not stored: {r}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  [attachment] {} ({}, {} bytes){state}",
                    a.filename, a.content_type, a.size
                );
            }
        }
    }
    if let Some(events) = &t.events {
        let _ = writeln!(o, "\nevents:");
        let mut table = Table::new(&["id", "at", "kind", "detail"]);
        for e in events {
            table.row(vec![
                e.id.to_string(),
                e.at.clone(),
                e.kind.clone(),
                e.detail.clone(),
            ]);
        }
        o.push_str(&table.render());
    }
    o
}
