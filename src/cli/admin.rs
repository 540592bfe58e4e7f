//! The operator's commands: `check-config`, `quarantine`, `outbox`, `log`, `users`.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use super::table::Table;
use super::{open_ingestor, open_store, print_json, CmdResult, Exit, Failure};
use crate::clock::now;
use crate::config::Config;
use crate::domain::model::{Role, TicketId};
use crate::domain::time::Timestamp;
use crate::store::queries;

#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// Quarantined messages and why.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One entry's reason, then the raw message exactly as received.
    Show { id: i64 },
    /// Ingest an entry again (after a fix); removes it unless it fails again.
    Replay { id: i64 },
    /// Drop an entry and its raw message for good.
    Discard { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Notifications, newest first, and their delivery state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send failed notifications again (after fixing the relay, the address
    /// or clearing a bounce): they go back to pending with their tries reset.
    Retry {
        /// Outbox row ids; none with --failed.
        ids: Vec<i64>,
        /// Every failed row.
        #[arg(long, conflicts_with = "ids")]
        failed: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Events, oldest first.
    List {
        #[arg(long)]
        ticket: Option<super::tickets::TicketArg>,
        #[arg(long)]
        json: bool,
    },
    /// Delete one event.
    Delete { event_id: i64 },
    /// Prune the history of closed tickets older than DATE (YYYY-MM-DD or RFC 3339).
    Clear {
        #[arg(long, value_name = "DATE")]
        before: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Accounts, by email.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a role (no_access, member, admin, agent); creates the account if unknown.
    SetRole { email: String, role: Role },
    /// Let mail go to an address again after it bounced.
    ClearBounce { email: String },
    /// Send a fresh single-use password-setup link to an account.
    ResetPassword { email: String },
}

/// Every problem, one line each, and 78; or a one-line summary and 0.
pub fn check_config(path: &Path) -> CmdResult {
    match Config::load(path) {
        Ok(c) => {
            let imap = c
                .imap
                .as_ref()
                .map(|i| format!("imap {}:{}", i.host, i.port));
            let smtp = c
                .smtp
                .as_ref()
                .map(|s| format!("smtp {}:{}", s.host, s.port));
            let parts: Vec<String> = [
                Some(format!("database {}", c.store.path.display())),
                Some(format!("support {}", c.support.address)),
                imap,
                smtp.or(Some("no smtp: notifications wait in the outbox".into())),
                Some(format!("{} rule(s)", c.rules.len())),
            ]
            .into_iter()
            .flatten()
            .collect();
            outln!("{}: ok ({})", path.display(), parts.join(", "));
            Ok(())
        }
        Err(e) => {
            let mut out = std::io::stdout().lock();
            for p in &e.problems {
                let _ = writeln!(out, "{}: {p}", path.display());
            }
            Err(Failure::new(
                Exit::Config,
                format!("{} problem(s) in {}", e.problems.len(), path.display()),
            ))
        }
    }
}

pub fn quarantine(config: &Config, cmd: QuarantineCmd) -> CmdResult {
    match cmd {
        QuarantineCmd::List { json } => {
            let store = open_store(config)?;
            let list = queries::quarantine_list(store.conn())?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                outln!("quarantine is empty");
                return Ok(());
            }
            let mut t = Table::new(&["id", "at", "from", "subject", "size", "reason"]);
            for q in list {
                t.row(vec![
                    q.id.to_string(),
                    q.at,
                    q.sender.unwrap_or_else(|| "-".into()),
                    q.subject.unwrap_or_else(|| "-".into()),
                    q.size.to_string(),
                    q.reason,
                ]);
            }
            outln!("{}", t.render().trim_end());
            Ok(())
        }
        QuarantineCmd::Show { id } => {
            let store = open_store(config)?;
            let (q, raw) = queries::quarantined(store.conn(), id)?;
            eprintln!("quarantine {} at {}: {}", q.id, q.at, q.reason);
            let mut out = std::io::stdout().lock();
            out.write_all(&raw)?;
            out.flush()?;
            Ok(())
        }
        QuarantineCmd::Replay { id } => {
            let (mut store, ingestor) = open_ingestor(config)?;
            let report = ingestor.replay(&mut store, id, now())?;
            print_json(&report)
        }
        QuarantineCmd::Discard { id } => {
            let mut store = open_store(config)?;
            let tx = store.write()?;
            queries::discard(&tx, id, now())?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            outln!("quarantine entry {id} discarded");
            Ok(())
        }
    }
}

pub fn outbox(config: &Config, cmd: OutboxCmd) -> CmdResult {
    let json = match cmd {
        OutboxCmd::List { json } => json,
        OutboxCmd::Retry { ids, failed } => {
            if ids.is_empty() && !failed {
                return Err(Failure::new(
                    Exit::Usage,
                    "name the rows to retry (`ticketd outbox retry 12 13`) or pass --failed",
                ));
            }
            let mut store = open_store(config)?;
            let tx = store.write()?;
            let n = crate::store::outbox::requeue(&tx, (!failed).then_some(&ids[..]), now())?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            outln!("{n} notification(s) queued again; `ticketd run` sends them");
            return Ok(());
        }
    };
    let store = open_store(config)?;
    let rows = queries::outbox(store.conn())?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("outbox is empty");
        return Ok(());
    }
    let mut t = Table::new(&["id", "ticket", "kind", "to", "status", "tries", "subject"]);
    for r in rows {
        let status = match &r.last_error {
            Some(e) => format!("{} ({e})", r.status),
            None => r.status.clone(),
        };
        t.row(vec![
            r.id.to_string(),
            r.ticket
                .map(|t| format!("#{t}"))
                .unwrap_or_else(|| "-".into()),
            r.kind,
            r.to.join(", "),
            status,
            r.attempts.to_string(),
            r.subject,
        ]);
    }
    outln!("{}", t.render().trim_end());
    Ok(())
}

pub fn log(config: &Config, cmd: LogCmd) -> CmdResult {
    match cmd {
        LogCmd::List { ticket, json } => {
            let store = open_store(config)?;
            let ticket: Option<TicketId> = ticket.map(|t| t.0);
            let events = queries::events(store.conn(), ticket)?;
            if json {
                return print_json(&events);
            }
            let mut t = Table::new(&["id", "at", "ticket", "kind", "detail"]);
            for e in events {
                let tk = e.ticket.or(ticket.map(|t| t.0));
                t.row(vec![
                    e.id.to_string(),
                    e.at,
                    tk.map(|t| format!("#{t}")).unwrap_or_else(|| "-".into()),
                    e.kind,
                    e.detail,
                ]);
            }
            outln!("{}", t.render().trim_end());
            Ok(())
        }
        LogCmd::Delete { event_id } => {
            let mut store = open_store(config)?;
            let tx = store.write()?;
            queries::delete_event(&tx, event_id)?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            outln!("event {event_id} deleted");
            Ok(())
        }
        LogCmd::Clear { before } => {
            let at = Timestamp::parse(&before).ok_or_else(|| {
                Failure::usage(format!(
                    "--before {before:?}: give a date as YYYY-MM-DD or RFC 3339"
                ))
            })?;
            let mut store = open_store(config)?;
            let tx = store.write()?;
            let n = queries::clear_events(&tx, at)?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            outln!("{n} event(s) before {at} deleted (closed tickets and ticketless events only)");
            Ok(())
        }
    }
}

pub fn users(config: &Config, cmd: UsersCmd) -> CmdResult {
    match cmd {
        UsersCmd::List { json } => {
            let store = open_store(config)?;
            let users = queries::users(store.conn())?;
            if json {
                return print_json(&users);
            }
            let mut t = Table::new(&["email", "name", "role", "org", "password", "bouncing"]);
            for u in users {
                t.row(vec![
                    u.email,
                    u.name.unwrap_or_default(),
                    u.role,
                    u.org.unwrap_or_else(|| "-".into()),
                    if u.has_password { "set" } else { "-" }.into(),
                    u.bouncing_since.unwrap_or_else(|| "-".into()),
                ]);
            }
            outln!("{}", t.render().trim_end());
            Ok(())
        }
        UsersCmd::SetRole { email, role } => {
            let mut store = open_store(config)?;
            let org = crate::domain::access::org_for(&email, &config.support.personal_domains);
            let tx = store.write()?;
            let old = queries::set_role(&tx, &email, role, org, now())?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            match old {
                Some(o) => outln!("{email}: {o} → {role}"),
                None => outln!("{email}: new account as {role}"),
            }
            Ok(())
        }
        UsersCmd::ResetPassword { email } => {
            let (mut store, ingestor) = open_ingestor(config)?;
            ingestor.reset_password(
                &mut store,
                &email,
                crate::store::console::Actor::Console,
                now(),
            )?;
            outln!(
                "{email}: password-setup link queued (valid {} h); see `ticketd outbox list`",
                config.support.password_token_hours
            );
            Ok(())
        }
        UsersCmd::ClearBounce { email } => {
            let mut store = open_store(config)?;
            let tx = store.write()?;
            let cleared = queries::clear_bouncing(&tx, &email, now(), " (console)")?;
            tx.commit().map_err(crate::store::StoreError::from)?;
            if cleared {
                outln!("{email}: no longer marked as bouncing; notifications resume");
            } else {
                outln!("{email}: was not marked as bouncing");
            }
            Ok(())
        }
    }
}

/// `ticketd backup PATH`: safe while the daemon runs.
pub fn backup(config: &Config, dest: &Path) -> CmdResult {
    let store = open_store(config)?;
    let bytes = store.backup(dest)?;
    outln!(
        "database copied to {} ({:.1} MiB, integrity checked)",
        dest.display(),
        bytes as f64 / 1_048_576.0
    );
    outln!(
        "attachments are files under {}: copy them too (e.g. rsync -a); a file never changes once written",
        config.attachments_dir().display()
    );
    Ok(())
}
