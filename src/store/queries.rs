//! What the console shows: tickets, messages, events, the outbox, users and
//! the quarantine, in the JSON shapes of DESIGN §5. Read-only, except the few
//! housekeeping writes an operator asks for (roles, log pruning, discard).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::StoreError;
use crate::domain::model::{normalize_email, DeliveryStatus, Role, Status, TicketId};
use crate::domain::time::Timestamp;

/// A ticket as `tickets list` and `tickets show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub category: Option<String>,
    pub requester: String,
    pub watchers: Vec<String>,
    pub fields: BTreeMap<String, String>,
    /// The agent it is assigned to (email), or null.
    pub assignee: Option<String>,
    pub follow_up_of: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub messages: Messages,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    #[serde(skip)]
    pub created: Timestamp,
}

/// `list` counts the messages, `show` carries them.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Messages {
    Count(i64),
    List(Vec<Message>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: i64,
    pub direction: String,
    pub from: Option<String>,
    pub message_id: Option<String>,
    pub date: String,
    pub text: String,
    pub internal: bool,
    /// `email`, `web` or `console`.
    pub source: String,
    /// Whether the sender proved the From address (DESIGN §3 "Trust").
    pub verified: bool,
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Why the file was not stored (over the size limit); absent when stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub to: Vec<String>,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub ticket: Option<i64>,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub org: Option<String>,
    pub has_password: bool,
    /// Since when mail to this address bounces (no more notifications).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bouncing_since: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub id: i64,
    pub at: String,
    pub reason: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub size: i64,
}

fn ts(secs: i64) -> String {
    Timestamp(secs).to_string()
}

const TICKET_COLUMNS: &str =
    "t.id, t.subject, t.status, t.priority, t.category, u.email, t.fields, t.follow_up_of,
     t.created_at, t.updated_at, (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id),
     (SELECT a.email FROM users a WHERE a.id = t.assignee_id)";

fn ticket_row(r: &Row<'_>) -> rusqlite::Result<Ticket> {
    let fields: String = r.get(6)?;
    let created: i64 = r.get(8)?;
    Ok(Ticket {
        id: r.get(0)?,
        subject: r.get(1)?,
        status: r.get(2)?,
        priority: r.get(3)?,
        category: r.get(4)?,
        requester: r.get(5)?,
        watchers: Vec::new(),
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        assignee: r.get(11)?,
        follow_up_of: r.get(7)?,
        created_at: ts(created),
        updated_at: ts(r.get(9)?),
        messages: Messages::Count(r.get(10)?),
        events: None,
        created: Timestamp(created),
    })
}

fn watchers_of(conn: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.email FROM watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = ?1 ORDER BY u.email",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Tickets, newest first, optionally of one status.
pub fn tickets(conn: &Connection, status: Option<Status>) -> Result<Vec<Ticket>, StoreError> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN users u ON u.id = t.requester_id
         WHERE ?1 IS NULL OR t.status = ?1 ORDER BY t.id DESC"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([status.map(Status::as_str)], ticket_row)?;
    let mut out: Vec<Ticket> = rows.collect::<Result<_, _>>()?;
    for t in &mut out {
        t.watchers = watchers_of(conn, t.id)?;
    }
    Ok(out)
}

/// One ticket with its messages and events.
pub fn ticket(conn: &Connection, id: TicketId) -> Result<Ticket, StoreError> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets t JOIN users u ON u.id = t.requester_id WHERE t.id = ?1");
    let mut t = conn
        .query_row(&sql, [id.0], ticket_row)
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "ticket {id} does not exist: see `ticketd tickets list`"
            ))
        })?;
    t.watchers = watchers_of(conn, t.id)?;

    let mut stmt = conn.prepare(
        "SELECT m.id, m.direction, u.email, m.message_id, m.date, m.text, m.internal, m.source, m.verified
         FROM messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.ticket_id = ?1 ORDER BY m.id",
    )?;
    let mut messages: Vec<Message> = stmt
        .query_map([id.0], |r| {
            Ok(Message {
                id: r.get(0)?,
                direction: r.get(1)?,
                from: r.get(2)?,
                message_id: r.get(3)?,
                date: ts(r.get(4)?),
                text: r.get(5)?,
                internal: r.get(6)?,
                source: r.get(7)?,
                verified: r.get(8)?,
                attachments: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut att = conn.prepare(
        "SELECT filename, content_type, size, sha256, refused FROM attachments WHERE message_id = ?1 ORDER BY id",
    )?;
    for m in &mut messages {
        m.attachments = att
            .query_map([m.id], |r| {
                Ok(AttachmentInfo {
                    filename: r.get(0)?,
                    content_type: r.get(1)?,
                    size: r.get(2)?,
                    sha256: r.get(3)?,
                    refused: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    t.messages = Messages::List(messages);
    t.events = Some(events(conn, Some(id))?);
    Ok(t)
}

/// The data log, oldest first; one ticket's or all.
pub fn events(conn: &Connection, ticket: Option<TicketId>) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, kind, detail, ticket_id FROM events WHERE ?1 IS NULL OR ticket_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([ticket.map(|t| t.0)], |r| {
        Ok(Event {
            id: r.get(0)?,
            at: ts(r.get(1)?),
            kind: r.get(2)?,
            detail: r.get(3)?,
            ticket: r.get(4)?,
        })
    })?;
    let mut out: Vec<Event> = rows.collect::<Result<_, _>>()?;
    if ticket.is_some() {
        for e in &mut out {
            e.ticket = None;
        }
    }
    Ok(out)
}

/// Deletes one event (a data-protection request, say).
pub fn delete_event(conn: &Connection, id: i64) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM events WHERE id = ?1", [id])? {
        0 => Err(StoreError::NotFound(format!(
            "event {id} does not exist: see `ticketd log list`"
        ))),
        _ => Ok(()),
    }
}

/// Retention: deletes the events of closed tickets last updated before
/// `before`, and the events that belong to no ticket from before it.
/// Returns how many were deleted.
pub fn clear_events(conn: &Connection, before: Timestamp) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM events WHERE at < ?1 AND (
             ticket_id IS NULL
             OR ticket_id IN (SELECT id FROM tickets WHERE status = 'closed' AND updated_at < ?1))",
        [before.0],
    )?)
}

/// The outbox, newest first.
pub fn outbox(conn: &Connection) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, recipients, subject, status, attempts, ticket_id, message_id, last_error
         FROM outbox ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        let to: String = r.get(2)?;
        Ok(OutboxRow {
            id: r.get(0)?,
            kind: r.get(1)?,
            to: super::outbox::recipients(&to),
            subject: r.get(3)?,
            status: r.get(4)?,
            attempts: r.get(5)?,
            ticket: r.get(6)?,
            message_id: r.get(7)?,
            last_error: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many outbox rows are in each delivery state.
pub fn outbox_counts(conn: &Connection) -> Result<BTreeMap<DeliveryStatus, i64>, StoreError> {
    let mut stmt = conn.prepare("SELECT status, count(*) FROM outbox GROUP BY status")?;
    let mut out = BTreeMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (s, n) = row?;
        if let Ok(s) = s.parse() {
            out.insert(s, n);
        }
    }
    Ok(out)
}

pub fn users(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT email, name, role, org, password_hash IS NOT NULL, bouncing_since FROM users ORDER BY email",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(User {
            email: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            org: r.get(3)?,
            has_password: r.get(4)?,
            bouncing_since: r.get::<_, Option<i64>>(5)?.map(ts),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets a role, creating the account when the address is unknown. Returns
/// the previous role (`None` for a new account).
pub fn set_role(
    conn: &Connection,
    email: &str,
    role: Role,
    org: Option<String>,
    now: Timestamp,
) -> Result<Option<Role>, StoreError> {
    let email = normalize_email(email);
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(StoreError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    let old: Option<String> = conn
        .query_row("SELECT role FROM users WHERE email = ?1", [&email], |r| {
            r.get(0)
        })
        .optional()?;
    conn.execute(
        "INSERT INTO users (email, role, org, created_at, base_email) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(email) DO UPDATE SET role = excluded.role",
        params![
            email,
            role.as_str(),
            org,
            now.0,
            crate::domain::address::base_address(&email)
        ],
    )?;
    let detail = match &old {
        Some(o) => format!("{email}: {o} → {role} (console)"),
        None => format!("{email}: new account as {role} (console)"),
    };
    super::apply::event(conn, now, None, "role_changed", &detail)?;
    Ok(old.and_then(|o| o.parse().ok()))
}

/// Clears the bouncing mark of an address so it gets mail again.
/// `users clear-bounce` and the desk's "Clear": mail to `email` resumes.
/// `via` ends the event's detail (" (console)", " by al@… (portal)").
pub fn clear_bouncing(
    conn: &Connection,
    email: &str,
    now: Timestamp,
    via: &str,
) -> Result<bool, StoreError> {
    let email = normalize_email(email);
    let n = conn.execute(
        "UPDATE users SET bouncing_since = NULL, bounce_detail = NULL WHERE email = ?1 AND bouncing_since IS NOT NULL",
        [&email],
    )?;
    if n > 0 {
        super::apply::event(
            conn,
            now,
            None,
            "bouncing_cleared",
            &format!("{email}{via}"),
        )?;
    }
    Ok(n > 0)
}

pub fn quarantine_list(conn: &Connection) -> Result<Vec<Quarantined>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT q.id, q.at, q.reason, q.message_id, q.sender, q.subject, length(r.bytes)
         FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id ORDER BY q.id",
    )?;
    let rows = stmt.query_map([], quarantined_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn quarantined_row(r: &Row<'_>) -> rusqlite::Result<Quarantined> {
    Ok(Quarantined {
        id: r.get(0)?,
        at: ts(r.get(1)?),
        reason: r.get(2)?,
        message_id: r.get(3)?,
        sender: r.get(4)?,
        subject: r.get(5)?,
        size: r.get(6)?,
    })
}

/// One quarantined message and its raw bytes, kept whole.
pub fn quarantined(conn: &Connection, id: i64) -> Result<(Quarantined, Vec<u8>), StoreError> {
    conn.query_row(
        "SELECT q.id, q.at, q.reason, q.message_id, q.sender, q.subject, length(r.bytes), r.bytes
         FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id WHERE q.id = ?1",
        [id],
        |r| Ok((quarantined_row(r)?, r.get(7)?)),
    )
    .optional()?
    .ok_or_else(|| {
        StoreError::NotFound(format!(
            "quarantine entry {id} does not exist: see `ticketd quarantine list`"
        ))
    })
}

/// Drops a quarantined message for good (its raw bytes too).
pub fn discard(conn: &Connection, id: i64, now: Timestamp) -> Result<(), StoreError> {
    let (q, _) = quarantined(conn, id)?;
    let raw_id: i64 = conn.query_row("SELECT raw_id FROM quarantine WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
    super::apply::drop_raw_if_unused(conn, raw_id)?;
    super::apply::event(
        conn,
        now,
        None,
        "quarantine_discarded",
        &format!("entry {id} ({}) discarded from the console", q.reason),
    )?;
    Ok(())
}

/// The figures the daemon's status line and gauges show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub tickets_today: i64,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    /// Age of the oldest pending notification.
    pub oldest_pending_secs: Option<i64>,
}

/// Reads the [`Backlog`] at `now` (today starts at midnight UTC).
pub fn backlog(conn: &Connection, now: Timestamp) -> Result<Backlog, StoreError> {
    let midnight = now.0 - now.0.rem_euclid(86_400);
    let tickets_today: i64 = conn
        .prepare_cached("SELECT count(*) FROM tickets WHERE created_at >= ?1")?
        .query_row([midnight], |r| r.get(0))?;
    let counts = outbox_counts(conn)?;
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT min(created_at) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?;
    Ok(Backlog {
        tickets_today,
        pending: counts.get(&DeliveryStatus::Pending).copied().unwrap_or(0),
        sent: counts.get(&DeliveryStatus::Sent).copied().unwrap_or(0),
        failed: counts.get(&DeliveryStatus::Failed).copied().unwrap_or(0),
        oldest_pending_secs: oldest.map(|t| (now.0 - t).max(0)),
    })
}
