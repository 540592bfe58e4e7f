//! What the desk reads (DESIGN §9): the agents' queue over every ticket,
//! with its filters and search, and a ticket with everything on it —
//! internal notes, every attachment, its events. Agents see everything, so
//! these queries take an agent's [`Viewer`] and answer anyone else as if
//! there were nothing (the web layer checks the role first; this is the
//! second lock).
//!
//! Search is the FTS5 index of schema v9 (see [`super::search`]), internal
//! notes included; the queue is [`queue`].

use rusqlite::{params, Connection, OptionalExtension};

use super::portal::{self, Download, PageAttachment, Person, TicketPage};
use super::StoreError;
use crate::domain::access::Viewer;
use crate::domain::model::{Role, Source, TicketId};
use crate::domain::time::Timestamp;

mod queue;

pub use queue::*;

fn is_agent(viewer: &Viewer) -> bool {
    viewer.role == Role::Agent
}

/// A message as the desk shows it: public or internal, any direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskMessage {
    pub id: i64,
    pub author: Option<Person>,
    pub date: Timestamp,
    pub text: String,
    pub source: Source,
    pub verified: bool,
    pub internal: bool,
    /// `in` (received) or `out` (sent by the desk).
    pub direction: String,
    pub attachments: Vec<PageAttachment>,
}

/// An event of the ticket's data log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskEvent {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub detail: String,
}

/// Everything on a ticket: the page a customer sees (whose `messages` are
/// the public ones), every message with notes, and its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskTicket {
    pub page: TicketPage,
    pub messages: Vec<DeskMessage>,
    pub events: Vec<DeskEvent>,
}

/// Ticket `id` with everything on it; `None` when it does not exist or
/// `viewer` is no agent.
pub fn ticket(
    conn: &Connection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Option<DeskTicket>, StoreError> {
    if !is_agent(viewer) {
        return Ok(None);
    }
    let Some(mut page) = portal::ticket_page(conn, viewer, id)? else {
        return Ok(None);
    };
    page.messages.clear();
    let mut messages = conn
        .prepare_cached(
            "SELECT m.id, u.email, u.name, m.date, m.text, m.source, m.verified, m.internal, m.direction
             FROM messages m LEFT JOIN users u ON u.id = m.author_id
             WHERE m.ticket_id = ?1 ORDER BY m.id",
        )?
        .query_map([id.0], |r| {
            let source: String = r.get(5)?;
            Ok(DeskMessage {
                id: r.get(0)?,
                author: portal::author(r)?,
                date: Timestamp(r.get(3)?),
                text: r.get(4)?,
                source: source.parse().unwrap_or_default(),
                verified: r.get(6)?,
                internal: r.get(7)?,
                direction: r.get(8)?,
                attachments: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut files = conn.prepare_cached(
        "SELECT id, filename, content_type, size, refused FROM attachments WHERE message_id = ?1 ORDER BY id",
    )?;
    for m in &mut messages {
        m.attachments = files
            .query_map([m.id], |r| {
                Ok(PageAttachment {
                    id: r.get(0)?,
                    filename: r.get(1)?,
                    content_type: r.get(2)?,
                    size: r.get(3)?,
                    refused: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
    }
    let events = conn
        .prepare_cached("SELECT id, at, kind, detail FROM events WHERE ticket_id = ?1 ORDER BY id")?
        .query_map([id.0], |r| {
            Ok(DeskEvent {
                id: r.get(0)?,
                at: Timestamp(r.get(1)?),
                kind: r.get(2)?,
                detail: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(DeskTicket {
        page,
        messages,
        events,
    }))
}

/// Attachment `attachment_id` when it belongs to a message of `ticket`
/// (internal notes included) and was kept; `None` for anyone but an agent.
pub fn attachment(
    conn: &Connection,
    viewer: &Viewer,
    ticket: TicketId,
    attachment_id: i64,
) -> Result<Option<Download>, StoreError> {
    if !is_agent(viewer) {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT a.filename, a.content_type, a.sha256, a.size
             FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE a.id = ?1 AND m.ticket_id = ?2 AND a.refused IS NULL",
        )?
        .query_row(params![attachment_id, ticket.0], |r| {
            Ok(Download {
                filename: r.get(0)?,
                content_type: r.get(1)?,
                sha256: r.get(2)?,
                size: r.get(3)?,
            })
        })
        .optional()?)
}

/// An agent sets the role of an existing account from the desk: member,
/// admin or no_access (agents come from `support.agents`, so neither made
/// nor unmade here). Someone set to no_access is signed out at once.
/// Returns the role before.
pub fn set_role(
    conn: &Connection,
    agent: &Viewer,
    email: &str,
    role: Role,
    now: Timestamp,
) -> Result<Role, StoreError> {
    if !is_agent(agent) {
        return Err(StoreError::NotFound("no such page".into()));
    }
    if role == Role::Agent {
        return Err(StoreError::Invalid(
            "agents are made by support.agents in the config, not on the desk".into(),
        ));
    }
    let email = crate::domain::model::normalize_email(email);
    let found: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, role FROM users WHERE email = ?1")?
        .query_row([&email], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, old)) = found else {
        return Err(StoreError::Invalid(format!(
            "there is no account for {email} (accounts are made by the first mail)"
        )));
    };
    let old: Role = old.parse().unwrap_or(Role::NoAccess);
    if old == Role::Agent {
        return Err(StoreError::Invalid(format!(
            "{email} is an agent: agents' roles come from support.agents"
        )));
    }
    if old == role {
        return Ok(old);
    }
    conn.prepare_cached("UPDATE users SET role = ?2 WHERE id = ?1")?
        .execute(params![id, role.as_str()])?;
    if role == Role::NoAccess {
        portal::delete_other_sessions(conn, id, None)?;
    }
    super::apply::event(
        conn,
        now,
        None,
        "role_changed",
        &format!("{email}: {old} → {role} by {} (portal)", agent.email),
    )?;
    Ok(old)
}

#[cfg(test)]
#[path = "desk_tests.rs"]
mod tests;
