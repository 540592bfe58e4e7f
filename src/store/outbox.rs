//! The outbox as delivery sees it: which rows are due, who is bouncing, and
//! recording what each attempt came to (the row and its event together, in
//! one transaction).

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::apply::event;
use super::StoreError;
use crate::domain::model::{NotificationKind, TicketId};
use crate::domain::time::Timestamp;

/// Whether any pending row's time has come.
pub fn any_due(conn: &Connection, now: Timestamp) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1)",
        )?
        .query_row([now.0], |r| r.get(0))?)
}

/// The ticket a notification belongs to, as its thread headers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFacts {
    pub id: TicketId,
    /// The ticket's subject without tag: Outlook's `Thread-Topic`.
    pub subject: String,
    pub created_at: Timestamp,
}

/// An outbox row, as delivery reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub kind: NotificationKind,
    pub to: Vec<String>,
    pub subject: String,
    pub body_text: String,
    /// The HTML alternative, for a row queued before schema v13 (which
    /// queued it rendered); newer rows have `layout` instead.
    pub body_html: Option<String>,
    /// The facts the HTML alternative is drawn from (JSON of
    /// [`crate::delivery::html_body::Facts`]); `None` for older rows.
    pub layout: Option<String>,
    /// Without angle brackets, as stored.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub ticket: Option<ThreadFacts>,
    pub created_at: Timestamp,
    pub attempts: u32,
}

/// A claimed row, with the token row its password link will use (DESIGN
/// §4: the token is minted as the mail is composed). `None` for other kinds,
/// and for password links queued before schema 5.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: Outgoing,
    pub token_id: Option<i64>,
}

/// Takes up to `limit` due rows, oldest first, and moves their next attempt
/// `claim_secs` ahead so that no other courier sends them meanwhile (the
/// attempt's record, or [`release`], settles it). Call inside a write
/// transaction. A row this ticketd cannot read is failed, not retried.
pub fn claim(
    conn: &Connection,
    now: Timestamp,
    limit: usize,
    claim_secs: i64,
) -> Result<Vec<Outgoing>, StoreError> {
    Ok(claim_for_sending(conn, now, limit, claim_secs)?
        .into_iter()
        .map(|c| c.row)
        .collect())
}

/// [`claim`], each row with its token row: what the courier sends from.
pub fn claim_for_sending(
    conn: &Connection,
    now: Timestamp,
    limit: usize,
    claim_secs: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let rows = due(conn, now, limit)?;
    let mut out = Vec::with_capacity(rows.len());
    for (kind, row, token_id) in rows {
        match kind {
            Ok(kind) => {
                conn.prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1")?
                    .execute(params![row.id, now.0 + claim_secs])?;
                out.push(Claimed {
                    row: Outgoing { kind, ..row },
                    token_id,
                });
            }
            Err(kind) => {
                let error = format!(
                    "unknown kind {kind:?}: written by a newer ticketd? Run that version, then `ticketd outbox retry {}`",
                    row.id
                );
                record(conn, &row, &Recorded::Failed { error }, now)?;
            }
        }
    }
    Ok(out)
}

/// Hands claimed rows back untouched (no try spent): due again at `now`.
pub fn release(conn: &Connection, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
    for id in ids {
        conn.prepare_cached(
            "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, now.0])?;
    }
    Ok(())
}

type DueRow = (Result<NotificationKind, String>, Outgoing, Option<i64>);

/// Pending rows whose time has come, oldest first, with their kind parsed.
fn due(conn: &Connection, now: Timestamp, limit: usize) -> Result<Vec<DueRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.kind, o.recipients, o.subject, o.body_text, o.message_id, o.in_reply_to,
                o.refs, o.ticket_id, t.subject, t.created_at, o.created_at, o.attempts, o.token_id,
                o.body_html, o.layout
         FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id
         WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
         ORDER BY o.next_attempt_at, o.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now.0, limit as i64], |r| {
        let kind: String = r.get(1)?;
        let refs: Option<String> = r.get(7)?;
        let ticket: Option<i64> = r.get(8)?;
        let t_subject: Option<String> = r.get(9)?;
        let t_created: Option<i64> = r.get(10)?;
        Ok((
            kind.parse::<NotificationKind>().map_err(|_| kind),
            Outgoing {
                id: r.get(0)?,
                kind: NotificationKind::TicketUpdated,
                to: recipients(&r.get::<_, String>(2)?),
                subject: r.get(3)?,
                body_text: r.get(4)?,
                body_html: r.get(14)?,
                layout: r.get(15)?,
                message_id: r.get(5)?,
                in_reply_to: r.get(6)?,
                references: refs
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                ticket: match (ticket, t_subject, t_created) {
                    (Some(id), Some(subject), Some(created)) => Some(ThreadFacts {
                        id: TicketId(id),
                        subject,
                        created_at: Timestamp(created),
                    }),
                    _ => None,
                },
                created_at: Timestamp(r.get(11)?),
                attempts: r.get::<_, i64>(12)?.max(0) as u32,
            },
            r.get(13)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored recipients (a JSON array of addresses).
pub fn recipients(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// When the next pending row falls due, if any is pending.
pub fn next_due(conn: &Connection) -> Result<Option<Timestamp>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .map(Timestamp))
}

/// The addresses marked as bouncing (no mail goes to them).
pub fn bouncing(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT email FROM users WHERE bouncing_since IS NOT NULL")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What became of one attempt, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Sent { reply: String },
    Retry { at: Timestamp, error: String },
    Failed { error: String },
}

/// Records an attempt on `row` (counting it) and its event, in one transaction.
pub fn record(
    conn: &Connection,
    row: &Outgoing,
    outcome: &Recorded,
    now: Timestamp,
) -> Result<(), StoreError> {
    let attempts = row.attempts + 1;
    let who = format!("{} to {}", row.kind, row.to.join(", "));
    let (kind, detail) = match outcome {
        Recorded::Sent { reply } => {
            conn.prepare_cached(
                "UPDATE outbox SET status = 'sent', attempts = ?2, sent_at = ?3, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![row.id, attempts, now.0])?;
            (
                "notification_sent",
                format!("{who} (try {attempts}): {reply}"),
            )
        }
        Recorded::Retry { at, error } => {
            conn.prepare_cached(
                "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
            )?
            .execute(params![row.id, attempts, at.0, error])?;
            (
                "notification_deferred",
                format!("{who} (try {attempts}): {error}; next try at {at}"),
            )
        }
        Recorded::Failed { error } => {
            conn.prepare_cached(
                "UPDATE outbox SET status = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![row.id, attempts, error])?;
            (
                "notification_failed",
                format!("{who} (try {attempts}): {error}"),
            )
        }
    };
    event(conn, now, row.ticket.as_ref().map(|t| t.id), kind, &detail)
}

/// Puts failed rows (all, or those of `ids`) back to pending with their
/// tries reset, each with an event. Returns how many.
pub fn requeue(
    conn: &Connection,
    ids: Option<&[i64]>,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, recipients, ticket_id FROM outbox WHERE status = 'failed' ORDER BY id",
    )?;
    let rows: Vec<(i64, String, String, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    if let Some(ids) = ids {
        if let Some(missing) = ids.iter().find(|id| !rows.iter().any(|r| r.0 == **id)) {
            return Err(StoreError::NotFound(format!(
                "outbox row {missing} is not a failed notification: see `ticketd outbox list`"
            )));
        }
    }
    let mut n = 0;
    for (id, kind, to, ticket) in rows {
        if ids.is_some_and(|ids| !ids.contains(&id)) {
            continue;
        }
        conn.prepare_cached(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now.0])?;
        let to = recipients(&to);
        event(
            conn,
            now,
            ticket.map(TicketId),
            "notification_requeued",
            &format!(
                "{kind} to {} (outbox row {id}), by an operator",
                to.join(", ")
            ),
        )?;
        n += 1;
    }
    Ok(n)
}
