//! The agents' queue (DESIGN §9): every ticket, newest activity first,
//! with its filters, the FTS5 search (internal notes included), pages of
//! 200, and the counts `ticket_facets` keeps (schema v10).

use rusqlite::types::{ToSql, Value};
use rusqlite::Connection;

use super::super::portal::Person;
use super::super::search::{self, SearchQuery};
use super::super::StoreError;
use super::is_agent;
use crate::domain::access::Viewer;
use crate::domain::model::{Priority, Status, TicketId};
use crate::domain::time::{Timestamp, DAY};

/// Whose tickets the queue shows (`?assignee=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Nobody's yet (`none`).
    Unassigned,
    /// The agent with this address (`me` is the signed-in agent's).
    Agent(String),
}

/// Which tickets the queue shows, and which page of them; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub org: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    /// Words in a subject or any message (notes too), or `#123`.
    pub q: Option<String>,
    /// Which page of `limit` rows, from 1 (0 is taken as 1).
    pub page: u32,
}

impl QueueFilter {
    /// Whether anything narrows the queue (the page number does not).
    pub fn narrows(&self) -> bool {
        QueueFilter {
            page: 0,
            ..self.clone()
        } != QueueFilter::default()
    }
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
    /// The assignee's name, or their address when they have no name.
    pub assignee: Option<String>,
}

impl QueueRow {
    /// Whole days since the ticket was opened (as `tickets list` counts).
    pub fn days_open(&self, now: Timestamp) -> i64 {
        (now.0 - self.created_at.0).max(0) / DAY
    }
}

/// The rows of the page asked for (at most the limit), how many matched
/// in all, and how many rows come before this page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    pub rows: Vec<QueueRow>,
    pub total: i64,
    pub offset: i64,
    /// `total` is a floor: more than `total` tickets match (a word in
    /// most tickets is not counted to the last one; [`DENSE_COUNT`]).
    pub more: bool,
}

/// How far a search for a word in most tickets is counted: past it the
/// count reads "more than 1,000". Counting every such ticket means reading
/// the word's whole list in the index (500,000 rows for a word in every
/// message: 70 ms and more), for a number nobody pages through.
pub const DENSE_COUNT: i64 = 1_000;

/// Of the newest tickets in the queue's order, how many are sampled, and
/// how many of them must hold the words, for a search to be read by
/// probing each ticket in that order (dense) rather than by collecting
/// every hit first.
const DENSE_SAMPLE: i64 = 50;
const DENSE_SAMPLE_HITS: i64 = 40;

fn word<T: std::str::FromStr<Err = crate::domain::model::UnknownWord>>(
    s: &str,
    id: i64,
) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Invalid(format!("ticket {id}: {e}")))
}

/// The queue's conditions other than the search, and their parameters.
/// Only the filters in use are written into the SQL, so that SQLite can
/// pick the index each combination needs (`:x IS NULL OR …` would hide
/// every index from it).
fn filters(f: &QueueFilter) -> (Vec<String>, Vec<(&'static str, Value)>) {
    let text = |s: &str| Value::Text(s.to_owned());
    let mut sql: Vec<String> = Vec::new();
    let mut params: Vec<(&'static str, Value)> = Vec::new();
    if let Some(s) = f.status {
        sql.push("t.status = :status".into());
        params.push((":status", text(s.as_str())));
    }
    if let Some(p) = f.priority {
        sql.push("t.priority = :priority".into());
        params.push((":priority", text(p.as_str())));
    }
    if let Some(c) = &f.category {
        sql.push("t.category = :category".into());
        params.push((":category", text(c)));
    }
    if let Some(o) = &f.org {
        sql.push("t.org = :org".into());
        params.push((":org", text(o)));
    }
    match &f.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => sql.push("t.assignee_id IS NULL".into()),
        Some(AssigneeFilter::Agent(email)) => {
            sql.push("t.assignee_id = (SELECT a.id FROM users a WHERE a.email = :assignee)".into());
            params.push((
                ":assignee",
                Value::Text(crate::domain::model::normalize_email(email)),
            ));
        }
    }
    (sql, params)
}

/// `WHERE a AND b`, or nothing.
fn where_all(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", parts.join(" AND "))
    }
}

fn bind(
    stmt: &mut rusqlite::CachedStatement<'_>,
    values: &[(&str, &dyn ToSql)],
) -> Result<(), StoreError> {
    for (name, value) in values {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, value)?;
        }
    }
    Ok(())
}

/// The columns of a queue row, for the tickets of `page(id)`, with the
/// number that matched as the last column (`{total}`).
const ROW_SQL: &str = "SELECT t.id, t.subject, u.email, u.name, t.org, t.created_at, t.updated_at,
        t.category, t.status, t.priority, coalesce(nullif(trim(a.name), ''), a.email), {total}
     FROM page JOIN tickets t ON t.id = page.id
     JOIN users u ON u.id = t.requester_id
     LEFT JOIN users a ON a.id = t.assignee_id
     ORDER BY t.updated_at DESC, t.id DESC";

const ORDER: &str = "ORDER BY t.updated_at DESC, t.id DESC LIMIT :limit OFFSET :offset";

/// How the queue is read for a filter: the statement for the page (its
/// rows, each with the count), the one that counts alone (for a page past
/// the end), their parameters, and whether the count is a floor.
struct Plan {
    page: String,
    count: String,
    params: Vec<(&'static str, Value)>,
    more: bool,
}

/// Whether ticket `{id}` has an index row matching `:search_match`: the
/// word list is read from the ticket's own rowid range only, one seek.
const PROBE: &str = "EXISTS (SELECT 1 FROM search_index
     WHERE search_index MATCH :search_match
       AND rowid BETWEEN {id} << 32 AND ({id} << 32) | 4294967295)";

/// For an unfiltered search whose words are in most tickets, the first
/// pages (up to [`DENSE_COUNT`] rows) are read by walking every ticket in
/// the queue's order and probing the index for each ([`PROBE`]): about 200
/// probes for a page when nearly every ticket matches, instead of reading
/// and sorting every hit. `None` when the words are not that common, past
/// those pages, or with other filters (the broad plan answers those).
fn dense_plan(
    conn: &Connection,
    f: &QueueFilter,
    query: &SearchQuery,
    end: i64,
) -> Result<Option<Plan>, StoreError> {
    let plain = QueueFilter {
        q: None,
        page: 0,
        ..f.clone()
    } == QueueFilter::default();
    let Some(expr) = query.match_expression(false) else {
        return Ok(None);
    };
    if !plain || end > DENSE_COUNT {
        return Ok(None);
    }
    let number = query.ticket().map(|t| t.0);
    let probe = |id: &str| {
        let p = PROBE.replace("{id}", id);
        match number {
            Some(_) => format!("({id} = :search_ticket OR {p})"),
            None => p,
        }
    };
    let mut params: Vec<(&'static str, Value)> = vec![(":search_match", Value::Text(expr.clone()))];
    if let Some(n) = number {
        params.push((":search_ticket", Value::Integer(n)));
    }
    // Counted as far as DENSE_COUNT + 1 tickets: rowids, and so tickets,
    // come in order, so these are the lowest-numbered tickets that match.
    // When they are most of the tickets up to the last of them, the words
    // are in most tickets (the word's list is read only that far).
    let (counted, last): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT count(*), coalesce(max(id), 0) FROM (
                 SELECT DISTINCT rowid >> 32 AS id FROM search_index
                 WHERE search_index MATCH ?1 LIMIT {})",
            DENSE_COUNT + 1
        ))?
        .query_row([&expr], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if counted <= DENSE_COUNT || last > 2 * counted {
        return Ok(None);
    }
    // And the newest tickets, where the walk starts: do they mostly match?
    let sample_sql = format!(
        "SELECT count(*) FROM (SELECT t.id FROM tickets t ORDER BY t.updated_at DESC, t.id DESC
                               LIMIT {DENSE_SAMPLE}) s WHERE {}",
        probe("s.id")
    );
    let mut stmt = conn.prepare_cached(&sample_sql)?;
    let bound: Vec<(&str, &dyn ToSql)> =
        params.iter().map(|(k, v)| (*k, v as &dyn ToSql)).collect();
    bind(&mut stmt, &bound)?;
    let sampled: i64 = match stmt.raw_query().next()? {
        Some(r) => r.get(0)?,
        None => 0,
    };
    if sampled < DENSE_SAMPLE_HITS {
        return Ok(None);
    }
    let cond = format!("WHERE {}", probe("t.id"));
    Ok(Some(Plan {
        page: format!(
            "WITH page(id) AS (SELECT t.id FROM tickets t {cond} {ORDER}) {}",
            ROW_SQL.replace("{total}", &DENSE_COUNT.to_string())
        ),
        count: format!("SELECT {DENSE_COUNT}"),
        params,
        more: true,
    }))
}

/// How many tickets `f` matches, from `ticket_facets` (schema v10) when
/// it filters by one status, one category, one organization or nothing
/// else (no search): reading a row instead of counting index entries.
fn facet_count(f: &QueueFilter) -> Option<String> {
    let one = |facet: &str, param: &str| {
        format!(
            "SELECT coalesce(sum(tickets), 0) FROM ticket_facets WHERE facet = '{facet}' AND value = {param}"
        )
    };
    if f.q.is_some() || f.priority.is_some() || f.assignee.is_some() {
        return None;
    }
    match (f.status, &f.category, &f.org) {
        (None, None, None) => Some(
            "SELECT coalesce(sum(tickets), 0) FROM ticket_facets WHERE facet = 'status'".into(),
        ),
        (Some(_), None, None) => Some(one("status", ":status")),
        (None, Some(_), None) => Some(one("category", ":category")),
        (None, None, Some(_)) => Some(one("org", ":org")),
        _ => None,
    }
}

/// The way `f` is best answered.
fn plan(conn: &Connection, f: &QueueFilter, end: i64) -> Result<Plan, StoreError> {
    let (mut parts, mut params) = filters(f);
    let query =
        f.q.as_deref()
            .filter(|q| !q.trim().is_empty())
            .map(SearchQuery::parse);
    let Some(query) = query else {
        // The filters' index gives the order: the page is read, not sorted,
        // names are joined for its rows alone, and the count is the same
        // index's (or, for one status, category or organization, or none,
        // the row `ticket_facets` keeps).
        let cond = where_all(&parts);
        let count =
            facet_count(f).unwrap_or_else(|| format!("SELECT count(*) FROM tickets t {cond}"));
        let page = format!(
            "WITH page(id) AS (SELECT t.id FROM tickets t {cond} {ORDER}) {}",
            ROW_SQL.replace("{total}", &format!("({count})"))
        );
        return Ok(Plan {
            page,
            count,
            params,
            more: false,
        });
    };
    let Some(ids) = query.ticket_ids(false) else {
        // Nothing to search for (punctuation alone): nothing found.
        parts.push("0".into());
        let cond = where_all(&parts);
        let count = format!("SELECT count(*) FROM tickets t {cond}");
        let page = format!(
            "WITH page(id) AS (SELECT t.id FROM tickets t {cond} {ORDER}) {}",
            ROW_SQL.replace("{total}", "0")
        );
        return Ok(Plan {
            page,
            count,
            params,
            more: false,
        });
    };
    if !search::is_broad(conn, &query, false)? {
        // Few hits: look each up, keep them (with the sort key) for the
        // count and the page alike.
        params.extend(ids.params);
        parts.push(query.condition("t", false).sql);
        let cond = where_all(&parts);
        let count = format!("SELECT count(*) FROM tickets t {cond}");
        let page = format!(
            "WITH hits(id, updated_at) AS MATERIALIZED (SELECT t.id, t.updated_at FROM tickets t {cond}),
                  page(id) AS (SELECT id FROM hits ORDER BY updated_at DESC, id DESC
                               LIMIT :limit OFFSET :offset)
             {}",
            ROW_SQL.replace("{total}", "(SELECT count(*) FROM hits)")
        );
        return Ok(Plan {
            page,
            count,
            params,
            more: false,
        });
    }
    if let Some(dense) = dense_plan(conn, f, &query, end)? {
        return Ok(dense);
    }
    // Many hits: read them once, then walk the tickets in the page's order
    // (by the filters' index) keeping those found, rather than look up and
    // sort every hit. Unfiltered, the count is the hits'.
    params.extend(ids.params);
    let filtered = !parts.is_empty();
    parts.push("+t.id IN (SELECT id FROM ids)".into());
    let cond = where_all(&parts);
    let with = format!("WITH ids(id) AS MATERIALIZED ({})", ids.sql);
    let total = if filtered {
        format!("SELECT count(*) FROM tickets t {cond}")
    } else {
        "SELECT count(*) FROM ids".into()
    };
    let count = format!("{with} {total}");
    let page = format!(
        "{with}, page(id) AS (SELECT t.id FROM tickets t {cond} {ORDER}) {}",
        ROW_SQL.replace("{total}", &format!("({total})"))
    );
    Ok(Plan {
        page,
        count,
        params,
        more: false,
    })
}

/// The queue: the tickets matching `f`, newest activity first, the page
/// `f.page` of `limit` rows, with the number that matched in all.
pub fn queue(
    conn: &Connection,
    viewer: &Viewer,
    f: &QueueFilter,
    limit: u32,
) -> Result<Queue, StoreError> {
    if !is_agent(viewer) {
        return Ok(Queue::default());
    }
    let offset = i64::from(f.page.max(1) - 1) * i64::from(limit);
    let Plan {
        page: page_sql,
        count: count_sql,
        params: values,
        more,
    } = plan(conn, f, offset + i64::from(limit))?;
    let limit = i64::from(limit);
    let mut bound: Vec<(&str, &dyn ToSql)> =
        values.iter().map(|(k, v)| (*k, v as &dyn ToSql)).collect();
    bound.push((":limit", &limit));
    bound.push((":offset", &offset));
    let mut stmt = conn.prepare_cached(&page_sql)?;
    bind(&mut stmt, &bound)?;
    let mut rows = stmt.raw_query();
    let mut out = Queue {
        rows: Vec::new(),
        total: 0,
        offset,
        more,
    };
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
    drop(rows);
    if out.rows.is_empty() && offset > 0 {
        // Past the last page: no row carried the count.
        let mut count = conn.prepare_cached(&count_sql)?;
        bind(&mut count, &bound)?;
        let mut found = count.raw_query();
        if let Some(r) = found.next()? {
            out.total = r.get(0)?;
        }
    }
    Ok(out)
}

/// How many tickets have each status (all four, in order): the counts
/// `ticket_facets` keeps (schema v10), never a count over the tickets.
pub fn status_counts(conn: &Connection, viewer: &Viewer) -> Result<Vec<(Status, i64)>, StoreError> {
    let mut out: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    if !is_agent(viewer) {
        return Ok(out);
    }
    let mut stmt =
        conn.prepare_cached("SELECT value, tickets FROM ticket_facets WHERE facet = 'status'")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let value = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| s.as_str() == value) {
            slot.1 = r.get::<_, i64>(1)?.max(0);
        }
    }
    Ok(out)
}

/// The categories and organizations tickets have, for the filters' lists
/// (by value; the first 200 and 500): the values `ticket_facets` counts.
pub fn filter_choices(
    conn: &Connection,
    viewer: &Viewer,
) -> Result<(Vec<String>, Vec<String>), StoreError> {
    if !is_agent(viewer) {
        return Ok((Vec::new(), Vec::new()));
    }
    // The limits are written into the SQL: a bound LIMIT makes SQLite
    // prepare the statement anew at every run.
    let list = |facet: &str, limit: u32| -> Result<Vec<String>, StoreError> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT value FROM ticket_facets WHERE facet = ?1 AND tickets > 0
                 ORDER BY value LIMIT {limit}"
            ))?
            .query_map([facet], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?)
    };
    Ok((list("category", 200)?, list("org", 500)?))
}

/// The agents, by address, for the assignee filter's list.
pub fn agents(conn: &Connection, viewer: &Viewer) -> Result<Vec<Person>, StoreError> {
    if !is_agent(viewer) {
        return Ok(Vec::new());
    }
    Ok(conn
        .prepare_cached("SELECT email, name FROM users WHERE role = 'agent' ORDER BY email")?
        .query_map([], |r| {
            Ok(Person {
                email: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}
