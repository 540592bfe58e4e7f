//! What the portal reads, and the few writes of its own (DESIGN §8): the
//! lists and pages a viewer may see, and an org admin's people (accounts,
//! sessions and password links are in [`super::accounts`], re-exported).
//! Every ticket query passes the one access rule: a single ticket through
//! `domain::access::may_view` itself, a list through its SQL twin
//! ([`may_view_sql`]; an admin's list as its two halves, the organization
//! and the member rule), which tests hold to the pure function on a table
//! of cases.

use std::collections::BTreeMap;

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Statement};

use super::apply::event;
use super::search::SearchQuery;
use super::snapshot::ticket_state;
use super::StoreError;

use crate::domain::access::{may_view, Viewer};
use crate::domain::model::{normalize_email, Priority, Role, Source, Status, TicketId};
use crate::domain::normalize::is_bidi_control;
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

/// Which statuses a list shows. The tabs of "My activities" map onto these;
/// the condition is part of the SQL, so `LIMIT` counts only rows the tab
/// shows (filtering after the limit hid open tickets behind solved ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every status (`?status=all`).
    #[default]
    All,
    /// One status.
    Only(Status),
    /// Open and awaiting reply: what is still in progress (the default tab).
    Active,
    /// Solved and closed: the data log.
    DataLog,
}

impl StatusFilter {
    /// The one or two status words the rows must have; `None` for all.
    fn words(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            StatusFilter::All => (None, None),
            StatusFilter::Only(s) => (Some(s.as_str()), None),
            StatusFilter::Active => (Some(Status::Open.as_str()), Some(Status::Pending.as_str())),
            StatusFilter::DataLog => (Some(Status::Solved.as_str()), Some(Status::Closed.as_str())),
        }
    }
}

/// Which tickets a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: StatusFilter,
    /// Words in the subject or a public message, or `#123`.
    pub q: Option<String>,
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
    /// The assignee's name, else their address; `None` when unassigned.
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

/// The start of a first message as a list shows it: on one line (as
/// [`one_line`](crate::domain::normalize::one_line) makes it) and at most
/// [`DESCRIPTION_CHARS`] characters, the last one `…` when cut. It stops
/// reading once it has one character too many, instead of cleaning the
/// whole text and then cutting it (a list does this 200 times a page).
fn description(text: &str) -> String {
    let mut d = Description {
        out: String::with_capacity(DESCRIPTION_CHARS + 4),
        chars: 0,
        cut: 0,
    };
    let mut space = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // A run of visible ASCII with single spaces between its words (most
        // of a description), copied at once as far as it stays before the
        // cut: the same characters the loop below would push one by one.
        let room = (DESCRIPTION_CHARS - 2).saturating_sub(d.chars + usize::from(space));
        if room > 0 && b.is_ascii_graphic() {
            // Read no further than the room left: past it, the loop below.
            let mut end = i;
            while let Some(&c) = bytes.get(end).filter(|_| end - i < room) {
                let word = c.is_ascii_graphic()
                    || (c == b' ' && bytes.get(end + 1).is_some_and(u8::is_ascii_graphic));
                if !word {
                    break;
                }
                end += 1;
            }
            let take = end - i;
            if let Some(run) = text.get(i..end).filter(|r| !r.is_empty()) {
                if space {
                    d.out.push(' ');
                }
                d.out.push_str(run);
                d.chars += usize::from(space) + take;
                space = false;
                i += take;
                continue;
            }
        }
        // ASCII, nearly every other byte, without decoding.
        let c = if b.is_ascii() {
            i += 1;
            char::from(b)
        } else {
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            i += c.len_utf8();
            if is_bidi_control(c) {
                continue;
            }
            c
        };
        if c.is_control() || c.is_whitespace() {
            space = d.chars > 0;
            continue;
        }
        if (space && d.push(' ')) || d.push(c) {
            return d.out;
        }
        space = false;
    }
    d.out
}

/// A description being written.
struct Description {
    out: String,
    /// Characters in `out`.
    chars: usize,
    /// Where `out` ends after `DESCRIPTION_CHARS - 1` characters: the cut.
    cut: usize,
}

impl Description {
    /// Adds `c`; true when that made the text longer than a description:
    /// it is then cut to one character less, with `…`, and done.
    #[inline]
    fn push(&mut self, c: char) -> bool {
        if self.chars == DESCRIPTION_CHARS {
            self.out.truncate(self.cut);
            self.out.push('…');
            return true;
        }
        self.out.push(c);
        self.chars += 1;
        if self.chars == DESCRIPTION_CHARS - 1 {
            self.cut = self.out.len();
        }
        false
    }
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

/// A list's conditions besides the access rule, on `t`: the tab's statuses
/// and, when words were typed, `search` — [`SearchQuery::condition`] with
/// `public_only`, so that a word only in an internal note finds nothing
/// (the FTS5 index of schema v9, never a scan of message texts). A list
/// with a search and one without are two cached statements.
fn list_filters(search: &str) -> String {
    format!("(:s1 IS NULL OR t.status IN (:s1, :s2)) AND {search}")
}

/// The columns of a list row, on `t` (the ticket) and `u` (its requester):
/// the start of the first public message (`t.preview`, schema v11: 400
/// characters are plenty for a description) and the assignee's id, whose
/// name is looked up once per assignee rather than once per row (a desk has
/// a few agents).
const ROW_COLUMNS: &str =
    "t.id, t.subject, t.created_at, t.updated_at, t.category, t.status, t.priority, u.email, t.org,
    t.preview, t.assignee_id";

const NEWEST_FIRST: &str = "ORDER BY t.created_at DESC, t.id DESC";

/// The rows of `cond` in one pass, for a condition an index walk answers in
/// order (`tickets_created` for everything, `tickets_org_created` for an
/// organization): the walk stops at the limit, and the columns, the first
/// message above all, are read for the rows shown alone.
///
/// `limit` and `offset` are written into the SQL, not bound: SQLite reads a
/// bound `LIMIT` while planning, and so compiles the statement anew every
/// time it is bound. The portal asks for one page size: one cached
/// statement per shape.
fn walk_sql(cond: &str, filters: &str, limit: u64, offset: u64) -> String {
    format!(
        "SELECT {ROW_COLUMNS} FROM tickets t JOIN users u ON u.id = t.requester_id
         WHERE {cond} AND {filters} {NEWEST_FIRST} LIMIT {limit} OFFSET {offset}"
    )
}

/// The rows of the member rule (own and watched tickets, and `also`): the
/// page's ids first (`MATERIALIZED`: chosen in full, sorted and cut before
/// any row's columns are read), then their columns. The rule's tickets come
/// from the requester and watcher indexes in no useful order, so they are
/// sorted; reading every candidate's first message before sorting is what
/// cost an admin of 10,000 tickets 65 ms.
fn member_sql(also: &str, filters: &str, limit: u64, offset: u64) -> String {
    format!(
        "WITH page AS MATERIALIZED (
           SELECT t.id, t.created_at FROM tickets t
           WHERE {member} AND {also} AND {filters} {NEWEST_FIRST} LIMIT {limit} OFFSET {offset})
         SELECT {ROW_COLUMNS}
         FROM page p JOIN tickets t ON t.id = p.id JOIN users u ON u.id = t.requester_id
         ORDER BY p.created_at DESC, p.id DESC",
        member = may_view_sql(Role::Member),
    )
}

/// The statements a list for `viewer` runs, the access rule in each:
///
/// * an agent: every ticket, newest first ([`walk_sql`]);
/// * a member, or an admin without an organization: [`member_sql`];
/// * an admin: their organization's newest `limit + offset` through
///   `tickets_org_created`, and the member rule's tickets outside it,
///   merged in Rust. Not the `OR` of [`may_view_sql`]`(Admin)`, which makes
///   SQLite read and sort every ticket of the organization; not a SQL
///   `UNION` either, whose temporary b-trees and second pass cost as much
///   as the rows themselves. The two sets are disjoint (by `t.org`) and
///   together are exactly what `may_view_sql(Admin)` grants; the page's rows
///   are among the first `limit + offset` of each.
fn list_sqls(viewer: &Viewer, filters: &str, limit: u32, offset: u32) -> Vec<String> {
    let (limit, offset) = (u64::from(limit), u64::from(offset));
    match (viewer.role, viewer.org.is_some()) {
        (Role::NoAccess, _) => Vec::new(),
        (Role::Agent, _) => vec![walk_sql("1", filters, limit, offset)],
        (Role::Admin, true) => vec![
            walk_sql("t.org = :org", filters, limit + offset, 0),
            member_sql("t.org IS NOT :org", filters, limit + offset, 0),
        ],
        (Role::Member | Role::Admin, _) => vec![member_sql("1", filters, limit, offset)],
    }
}

/// The tickets `viewer` may see, filtered, newest first.
pub fn tickets_for(
    conn: &Connection,
    viewer: &Viewer,
    filter: &TicketFilter,
    limit: u32,
    offset: u32,
) -> Result<Vec<TicketRow>, StoreError> {
    let search = filter
        .q
        .as_deref()
        .filter(|q| !q.trim().is_empty())
        .map(|q| SearchQuery::parse(q).condition("t", true));
    let filters = list_filters(search.as_ref().map_or("1", |c| c.sql.as_str()));
    let (s1, s2) = filter.status.words();
    let mut values: Vec<(&str, &dyn ToSql)> = vec![
        (":email", &viewer.email),
        (":org", &viewer.org),
        (":s1", &s1),
        (":s2", &s2),
    ];
    if let Some(c) = &search {
        values.extend(c.params.iter().map(|(k, v)| (*k, v as &dyn ToSql)));
    }
    let mut lists = Vec::new();
    for sql in list_sqls(viewer, &filters, limit, offset) {
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = bind(&mut stmt, &values)?;
        lists.push(read_rows(rows, limit)?);
    }
    let mut rows = match <[_; 2]>::try_from(lists) {
        // The admin's two lists: merged newest first, then the page.
        Ok([org, own]) => merge_newest_first(org, own)
            .skip(offset as usize)
            .take(limit as usize)
            .collect(),
        Err(lists) => lists.into_iter().flatten().collect::<Vec<_>>(),
    };
    name_assignees(conn, &mut rows)?;
    Ok(rows.into_iter().map(|(row, _)| row).collect())
}

/// A list row and its assignee's id (named by [`name_assignees`]).
type Listed = (TicketRow, Option<i64>);

fn read_rows(mut rows: rusqlite::Rows<'_>, limit: u32) -> Result<Vec<Listed>, StoreError> {
    let mut out = Vec::with_capacity(limit.min(500) as usize);
    while let Some(r) = rows.next()? {
        let id = TicketId(r.get(0)?);
        out.push((
            TicketRow {
                id,
                subject: r.get(1)?,
                description: description(text_ref(r, 9)?.unwrap_or("")),
                created_at: Timestamp(r.get(2)?),
                updated_at: Timestamp(r.get(3)?),
                category: r.get(4)?,
                status: parse_word(text_ref(r, 5)?.unwrap_or(""), id)?,
                priority: parse_word(text_ref(r, 6)?.unwrap_or(""), id)?,
                requester: r.get(7)?,
                org: r.get(8)?,
                assignee: None,
            },
            r.get(10)?,
        ));
    }
    Ok(out)
}

/// Two lists, each newest first, as one (ties on the date by id, as SQL
/// orders them).
fn merge_newest_first(a: Vec<Listed>, b: Vec<Listed>) -> impl Iterator<Item = Listed> {
    let key = |(r, _): &Listed| (r.created_at, r.id.0);
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if key(y) > key(x) => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// Sets each row's assignee: their name, else their address.
fn name_assignees(conn: &Connection, rows: &mut [Listed]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT coalesce(nullif(trim(name), ''), email) FROM users WHERE id = ?1",
    )?;
    let mut known: Vec<(i64, Option<String>)> = Vec::new();
    for (row, assignee) in rows {
        let Some(id) = *assignee else { continue };
        let name = match known.iter().find(|(k, _)| *k == id) {
            Some((_, name)) => name.clone(),
            None => {
                let name: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
                known.push((id, name.clone()));
                name
            }
        };
        row.assignee = name;
    }
    Ok(())
}

/// Column `i` as borrowed text, without copying it into a `String` first.
fn text_ref<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r str>, StoreError> {
    Ok(r.get_ref(i)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?)
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

/// A message's author from columns 1 (address) and 2 (name) of a row
/// that `LEFT JOIN`s `users`: `None` when there is none (a system message).
pub(super) fn author(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Person>> {
    Ok(match r.get::<_, Option<String>>(1)? {
        Some(email) => Some(Person {
            email,
            name: r.get(2)?,
        }),
        None => None,
    })
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
        .prepare_cached(
            "SELECT t.fields, u.name, u.email, t.follow_up_of, t.created_at, t.updated_at, t.solved_at, a.email, a.name
             FROM tickets t JOIN users u ON u.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id
             WHERE t.id = ?1",
        )?
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
            let source = r.get_ref(5)?.as_str().unwrap_or_default();
            Ok(PageMessage {
                id: r.get(0)?,
                author: author(r)?,
                date: Timestamp(r.get(3)?),
                text: r.get(4)?,
                source: source.parse().unwrap_or_default(),
                verified: r.get(6)?,
                attachments: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // Every file of the conversation in one query, in message order (a
    // query per message cost 200 statement runs on a long thread), then
    // handed to its message in one walk: both lists are sorted by message id.
    let mut files = conn
        .prepare_cached(
            "SELECT a.message_id, a.id, a.filename, a.content_type, a.size, a.refused
             FROM messages m JOIN attachments a ON a.message_id = m.id
             WHERE m.ticket_id = ?1 AND m.internal = 0 ORDER BY a.message_id, a.id",
        )?
        .query_map([id.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                PageAttachment {
                    id: r.get(1)?,
                    filename: r.get(2)?,
                    content_type: r.get(3)?,
                    size: r.get(4)?,
                    refused: r.get(5)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .peekable();
    for m in &mut messages {
        while files.peek().is_some_and(|(mid, _)| *mid < m.id) {
            files.next();
        }
        while let Some((_, a)) = files.next_if(|(mid, _)| *mid == m.id) {
            m.attachments.push(a);
        }
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
