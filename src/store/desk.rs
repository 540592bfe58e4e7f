//! What the desk reads (DESIGN §9): the agents' queue over every ticket,
//! with its filters and search, and a ticket with everything on it —
//! internal notes, every attachment, its events. Agents see everything, so
//! these queries take an agent's [`Viewer`] and answer anyone else as if
//! there were nothing (the web layer checks the role first; this is the
//! second lock).
//!
//! Search is a `LIKE` over subjects and message texts (internal notes
//! included) for now; the FTS5 index of issue 13 replaces it.

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension};

use super::portal::{self, Download, PageAttachment, Person, TicketPage};
use super::StoreError;
use crate::domain::access::Viewer;
use crate::domain::model::{Priority, Role, Source, Status, TicketId};
use crate::domain::time::{Timestamp, DAY};

/// Which tickets the queue shows; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub org: Option<String>,
    /// Words in a subject or any message (notes too), or `#123`.
    pub q: Option<String>,
}

/// One line of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub id: TicketId,
    pub subject: String,
    pub requester: Person,
    pub org: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub category: Option<String>,
    pub status: Status,
    pub priority: Priority,
    /// The assignee's name (or address), once the schema has assignees.
    pub assignee: Option<String>,
}

impl QueueRow {
    /// Whole days since the ticket was opened (as `tickets list` counts).
    pub fn days_open(&self, now: Timestamp) -> i64 {
        (now.0 - self.created_at.0).max(0) / DAY
    }
}

/// The rows shown (at most the limit) and how many matched in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    pub rows: Vec<QueueRow>,
    pub total: i64,
}

fn is_agent(viewer: &Viewer) -> bool {
    viewer.role == Role::Agent
}

/// The assignee's column, once the schema has one (DESIGN §9 "Assignment").
pub fn has_assignee(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM pragma_table_info('tickets') WHERE name = 'assignee_id'")?
        .exists([])?)
}

/// The `LIKE` pattern for `q`, wildcards escaped with `\`.
fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn word<T: std::str::FromStr<Err = crate::domain::model::UnknownWord>>(
    s: &str,
    id: i64,
) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Invalid(format!("ticket {id}: {e}")))
}

/// The queue: every ticket matching `f`, newest activity first, at most
/// `limit` of them, with the number that matched.
pub fn queue(
    conn: &Connection,
    viewer: &Viewer,
    f: &QueueFilter,
    limit: u32,
) -> Result<Queue, StoreError> {
    if !is_agent(viewer) {
        return Ok(Queue::default());
    }
    let assignee = if has_assignee(conn)? {
        "(SELECT coalesce(a.name, a.email) FROM users a WHERE a.id = t.assignee_id)"
    } else {
        "NULL"
    };
    let q: Option<String> =
        f.q.as_deref()
            .map(|q| q.trim().chars().take(200).collect::<String>())
            .filter(|q| !q.is_empty());
    let q_id: Option<i64> = q
        .as_deref()
        .and_then(|q| q.strip_prefix('#').unwrap_or(q).parse().ok());
    let like = q.as_deref().map(like_pattern);
    let sql = format!(
        "SELECT t.id, t.subject, u.email, u.name, t.org, t.created_at, t.updated_at, t.category,
                t.status, t.priority, {assignee}, count(*) OVER ()
         FROM tickets t JOIN users u ON u.id = t.requester_id
         WHERE (:status IS NULL OR t.status = :status)
           AND (:priority IS NULL OR t.priority = :priority)
           AND (:category IS NULL OR t.category = :category)
           AND (:org IS NULL OR t.org = :org)
           AND (:like IS NULL OR t.id = :q_id OR t.subject LIKE :like ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                           AND m.text LIKE :like ESCAPE '\\'))
         ORDER BY t.updated_at DESC, t.id DESC
         LIMIT :limit"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let status = f.status.map(Status::as_str);
    let priority = f.priority.map(Priority::as_str);
    let values: [(&str, &dyn ToSql); 7] = [
        (":status", &status),
        (":priority", &priority),
        (":category", &f.category),
        (":org", &f.org),
        (":like", &like),
        (":q_id", &q_id),
        (":limit", &i64::from(limit)),
    ];
    for (name, value) in values {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, value)?;
        }
    }
    let mut rows = stmt.raw_query();
    let mut out = Queue::default();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        out.total = r.get(11)?;
        out.rows.push(QueueRow {
            id: TicketId(id),
            subject: r.get(1)?,
            requester: Person {
                email: r.get(2)?,
                name: r.get(3)?,
            },
            org: r.get(4)?,
            created_at: Timestamp(r.get(5)?),
            updated_at: Timestamp(r.get(6)?),
            category: r.get(7)?,
            status: word(&r.get::<_, String>(8)?, id)?,
            priority: word(&r.get::<_, String>(9)?, id)?,
            assignee: r.get(10)?,
        });
    }
    Ok(out)
}

/// How many tickets have each status (all four, in order).
pub fn status_counts(conn: &Connection, viewer: &Viewer) -> Result<Vec<(Status, i64)>, StoreError> {
    let mut out: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    if !is_agent(viewer) {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM tickets GROUP BY status")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let s: String = r.get(0)?;
        let n: i64 = r.get(1)?;
        if let Some(slot) = out.iter_mut().find(|(st, _)| st.as_str() == s) {
            slot.1 = n;
        }
    }
    Ok(out)
}

/// The categories and organizations tickets have, for the filters' lists.
pub fn filter_choices(
    conn: &Connection,
    viewer: &Viewer,
) -> Result<(Vec<String>, Vec<String>), StoreError> {
    if !is_agent(viewer) {
        return Ok((Vec::new(), Vec::new()));
    }
    let list = |sql: &str| -> Result<Vec<String>, StoreError> {
        Ok(conn
            .prepare_cached(sql)?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?)
    };
    Ok((
        list("SELECT DISTINCT category FROM tickets WHERE category IS NOT NULL ORDER BY category LIMIT 200")?,
        list("SELECT DISTINCT org FROM tickets WHERE org IS NOT NULL ORDER BY org LIMIT 500")?,
    ))
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
            let email: Option<String> = r.get(1)?;
            let source: String = r.get(5)?;
            Ok(DeskMessage {
                id: r.get(0)?,
                author: match email {
                    Some(email) => Some(Person {
                        email,
                        name: r.get(2)?,
                    }),
                    None => None,
                },
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
