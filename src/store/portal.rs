//! What the portal reads, and the few writes of its own (DESIGN §8): the
//! lists and pages a viewer may see, and an org admin's people (accounts,
//! sessions and password links are in [`super::accounts`], re-exported). Every ticket query passes the
//! one access rule: a single ticket through `domain::access::may_view`
//! itself, a list through its SQL twin ([`may_view_sql`]), which a test
//! holds to the pure function on a table of cases.

use std::collections::BTreeMap;

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Statement};

use super::apply::event;
use super::snapshot::ticket_state;
use super::StoreError;

use crate::domain::access::{may_view, Viewer};
use crate::domain::model::{normalize_email, Priority, Role, Source, Status, TicketId};
use crate::domain::normalize::one_line;
use crate::domain::time::{Timestamp, DAY};

use super::accounts::role_of;
pub use super::accounts::*;

// ----------------------------------------------------------------- tickets

/// The one access rule in SQL, for the role at hand: `t` is the ticket,
/// `:email` and `:org` the viewer's. A member's and an admin's own tickets
/// come from the requester and watcher indexes.
pub fn may_view_sql(role: Role) -> &'static str {
    match role {
        Role::Agent => "1",
        Role::NoAccess => "0",
        Role::Member => {
            "t.id IN (SELECT t2.id FROM tickets t2 WHERE t2.requester_id = (SELECT id FROM users WHERE email = :email)
                      UNION SELECT w.ticket_id FROM watchers w WHERE w.user_id = (SELECT id FROM users WHERE email = :email))"
        }
        Role::Admin => {
            "((:org IS NOT NULL AND t.org = :org)
              OR t.id IN (SELECT t2.id FROM tickets t2 WHERE t2.requester_id = (SELECT id FROM users WHERE email = :email)
                          UNION SELECT w.ticket_id FROM watchers w WHERE w.user_id = (SELECT id FROM users WHERE email = :email)))"
        }
    }
}

/// Which tickets a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// One status; `None` for all (`?status=all`).
    pub status: Option<Status>,
    /// Words in the subject or a public message, or `#123`.
    pub q: Option<String>,
    /// The data log: solved and closed tickets only.
    pub data_log: bool,
}

/// One line of "My activities".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    pub id: TicketId,
    pub subject: String,
    /// The start of the first public message, on one line.
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub category: Option<String>,
    pub status: Status,
    pub priority: Priority,
    pub requester: String,
    pub org: Option<String>,
    /// The assignee's name (or address); `None` when unassigned, or while
    /// the schema has no `tickets.assignee_id`.
    pub assignee: Option<String>,
}

impl TicketRow {
    /// Whole days since the ticket was opened (as `tickets list` counts).
    pub fn days_open(&self, now: Timestamp) -> i64 {
        (now.0 - self.created_at.0).max(0) / DAY
    }
}

/// Characters of the first message a list shows.
pub const DESCRIPTION_CHARS: usize = 160;

fn description(text: &str) -> String {
    let line = one_line(text);
    if line.chars().count() <= DESCRIPTION_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    cut
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

/// The assignee's column, once the schema has one (DESIGN §9 "Assignment").
fn has_assignee(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM pragma_table_info('tickets') WHERE name = 'assignee_id'")?
        .exists([])?)
}

/// Binds the named parameters the statement has (the access fragments use
/// different ones), then returns its rows.
fn bind<'s>(
    stmt: &'s mut Statement<'_>,
    values: &[(&str, &dyn ToSql)],
) -> Result<rusqlite::Rows<'s>, StoreError> {
    for (name, value) in values {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, value)?;
        }
    }
    Ok(stmt.raw_query())
}

/// The tickets `viewer` may see, filtered, newest first.
pub fn tickets_for(
    conn: &Connection,
    viewer: &Viewer,
    filter: &TicketFilter,
    limit: u32,
    offset: u32,
) -> Result<Vec<TicketRow>, StoreError> {
    if viewer.role == Role::NoAccess {
        return Ok(Vec::new());
    }
    let assignee = if has_assignee(conn)? {
        "(SELECT coalesce(a.name, a.email) FROM users a WHERE a.id = t.assignee_id)"
    } else {
        "NULL"
    };
    let q: Option<String> = filter
        .q
        .as_deref()
        .map(|q| q.trim().chars().take(200).collect::<String>())
        .filter(|q| !q.is_empty());
    let q_id: Option<i64> = q
        .as_deref()
        .and_then(|q| q.strip_prefix('#').unwrap_or(q).parse().ok());
    let like = q.as_deref().map(like_pattern);
    let sql = format!(
        "SELECT t.id, t.subject, t.created_at, t.updated_at, t.category, t.status, t.priority, u.email, t.org,
                (SELECT substr(m.text, 1, 400) FROM messages m WHERE m.ticket_id = t.id AND m.internal = 0 ORDER BY m.id LIMIT 1),
                {assignee}
         FROM tickets t JOIN users u ON u.id = t.requester_id
         WHERE {access}
           AND (:status IS NULL OR t.status = :status)
           AND (:data_log = 0 OR t.status IN ('solved', 'closed'))
           AND (:like IS NULL OR t.id = :q_id OR t.subject LIKE :like ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.internal = 0
                           AND m.text LIKE :like ESCAPE '\\'))
         ORDER BY t.created_at DESC, t.id DESC
         LIMIT :limit OFFSET :offset",
        access = may_view_sql(viewer.role),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let status = filter.status.map(Status::as_str);
    let mut rows = bind(
        &mut stmt,
        &[
            (":email", &viewer.email),
            (":org", &viewer.org),
            (":status", &status),
            (":data_log", &filter.data_log),
            (":like", &like),
            (":q_id", &q_id),
            (":limit", &i64::from(limit)),
            (":offset", &i64::from(offset)),
        ],
    )?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id = TicketId(r.get(0)?);
        let first: Option<String> = r.get(9)?;
        out.push(TicketRow {
            id,
            subject: r.get(1)?,
            description: description(first.as_deref().unwrap_or("")),
            created_at: Timestamp(r.get(2)?),
            updated_at: Timestamp(r.get(3)?),
            category: r.get(4)?,
            status: parse_word(&r.get::<_, String>(5)?, id)?,
            priority: parse_word(&r.get::<_, String>(6)?, id)?,
            requester: r.get(7)?,
            org: r.get(8)?,
            assignee: r.get(10)?,
        });
    }
    Ok(out)
}

fn parse_word<T: std::str::FromStr<Err = crate::domain::model::UnknownWord>>(
    s: &str,
    id: TicketId,
) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Invalid(format!("ticket {id}: {e}")))
}

/// A person as a page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: Option<String>,
}

/// A file of a public message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAttachment {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// Why the file was not kept (over the size limit): there is nothing to
    /// download.
    pub refused: Option<String>,
}

/// A public message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMessage {
    pub id: i64,
    pub author: Option<Person>,
    pub date: Timestamp,
    pub text: String,
    pub source: Source,
    pub verified: bool,
    pub attachments: Vec<PageAttachment>,
}

/// A ticket's page: its details and fields, watchers, and the public
/// conversation (internal notes never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPage {
    pub id: TicketId,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub category: Option<String>,
    pub requester: Person,
    pub org: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub watchers: Vec<Person>,
    pub assignee: Option<Person>,
    pub follow_up_of: Option<TicketId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub solved_at: Option<Timestamp>,
    pub messages: Vec<PageMessage>,
}

/// Ticket `id` as `viewer` may see it; `None` alike when it does not exist
/// and when they may not see it.
pub fn ticket_page(
    conn: &Connection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Option<TicketPage>, StoreError> {
    let Some(state) = ticket_state(conn, id)? else {
        return Ok(None);
    };
    if !may_view(viewer, &state) {
        return Ok(None);
    }
    let assignee = if has_assignee(conn)? {
        "(SELECT a.email FROM users a WHERE a.id = t.assignee_id), (SELECT a.name FROM users a WHERE a.id = t.assignee_id)"
    } else {
        "NULL, NULL"
    };
    type Head = (
        String,
        Option<String>,
        String,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let (fields, requester_name, requester, follow_up_of, created, updated, solved, a_email, a_name): Head = conn
        .prepare_cached(&format!(
            "SELECT t.fields, u.name, u.email, t.follow_up_of, t.created_at, t.updated_at, t.solved_at, {assignee}
             FROM tickets t JOIN users u ON u.id = t.requester_id WHERE t.id = ?1"
        ))?
        .query_row([id.0], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })?;
    let watchers = conn
        .prepare_cached(
            "SELECT u.email, u.name FROM watchers w JOIN users u ON u.id = w.user_id
             WHERE w.ticket_id = ?1 ORDER BY u.email",
        )?
        .query_map([id.0], |r| {
            Ok(Person {
                email: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut messages = conn
        .prepare_cached(
            "SELECT m.id, u.email, u.name, m.date, m.text, m.source, m.verified
             FROM messages m LEFT JOIN users u ON u.id = m.author_id
             WHERE m.ticket_id = ?1 AND m.internal = 0 ORDER BY m.id",
        )?
        .query_map([id.0], |r| {
            let email: Option<String> = r.get(1)?;
            let source: String = r.get(5)?;
            Ok(PageMessage {
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
    Ok(Some(TicketPage {
        id,
        subject: state.subject,
        status: state.status,
        priority: state.priority,
        category: state.category,
        requester: Person {
            email: requester,
            name: requester_name,
        },
        org: state.org,
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        watchers,
        assignee: a_email.map(|email| Person {
            email,
            name: a_name,
        }),
        follow_up_of: follow_up_of.map(TicketId),
        created_at: Timestamp(created),
        updated_at: Timestamp(updated),
        solved_at: solved.map(Timestamp),
        messages,
    }))
}

/// A stored file to send: `AttachmentDir::path_of(sha256)` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub size: i64,
}

/// Attachment `attachment_id` of ticket `ticket`, when it belongs to a
/// public message of that ticket, was kept, and `viewer` may see the ticket.
pub fn attachment_for(
    conn: &Connection,
    viewer: &Viewer,
    ticket: TicketId,
    attachment_id: i64,
) -> Result<Option<Download>, StoreError> {
    let Some(state) = ticket_state(conn, ticket)? else {
        return Ok(None);
    };
    if !may_view(viewer, &state) {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT a.filename, a.content_type, a.sha256, a.size
             FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE a.id = ?1 AND m.ticket_id = ?2 AND m.internal = 0 AND a.refused IS NULL",
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

// --------------------------------------------------------- organizations

/// Someone of an organization, as its admins see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub has_password: bool,
    pub created_at: Timestamp,
}

/// The people of `org`, by address.
pub fn org_members(conn: &Connection, org: &str) -> Result<Vec<Member>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, email, name, role, password_hash IS NOT NULL, created_at
             FROM users WHERE org = ?1 ORDER BY email",
        )?
        .query_map([org], |r| {
            Ok(Member {
                id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
                role: role_of(&r.get::<_, String>(3)?),
                has_password: r.get(4)?,
                created_at: Timestamp(r.get(5)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

/// An org admin sets the role of someone of their own organization: member,
/// admin or no_access; never an agent's, and never their own to less than
/// admin. Someone set to no_access is signed out at once. Returns the role
/// before.
pub fn set_role_in_org(
    conn: &Connection,
    admin: &Viewer,
    email: &str,
    role: Role,
    now: Timestamp,
) -> Result<Role, StoreError> {
    let Some(org) = admin.org.as_deref().filter(|_| admin.role == Role::Admin) else {
        return Err(StoreError::Invalid(
            "only an organization's admin may set its people's roles".into(),
        ));
    };
    if role == Role::Agent {
        return Err(StoreError::Invalid(
            "agents are made by support.agents in the config, not in the portal".into(),
        ));
    }
    let email = normalize_email(email);
    let target: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, role FROM users WHERE email = ?1 AND org = ?2")?
        .query_row(params![email, org], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // Someone of another organization is answered like no one at all.
    let Some((id, old)) = target else {
        return Err(StoreError::NotFound(format!(
            "no one of {org} has the address {email}"
        )));
    };
    let old = role_of(&old);
    if old == Role::Agent {
        return Err(StoreError::Invalid(format!(
            "{email} is an agent: agents' roles come from support.agents"
        )));
    }
    if email == admin.email && role != Role::Admin {
        return Err(StoreError::Invalid(
            "you cannot lower your own role: ask another admin of your organization".into(),
        ));
    }
    if old == role {
        return Ok(old);
    }
    conn.prepare_cached("UPDATE users SET role = ?2 WHERE id = ?1")?
        .execute(params![id, role.as_str()])?;
    if role == Role::NoAccess {
        delete_other_sessions(conn, id, None)?;
    }
    event(
        conn,
        now,
        None,
        "role_changed",
        &format!("{email}: {old} → {role} by {} (portal)", admin.email),
    )?;
    Ok(old)
}

#[cfg(test)]
#[path = "portal_tests.rs"]
mod tests;
