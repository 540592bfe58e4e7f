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

/// How many tickets in the queue's order a dense search looks at, per
/// row of the page, before it gives up on walking and reads every hit
/// (the words are common, but not among the newest tickets).
const DENSE_WALK: i64 = 8;

/// Tickets between two ids past which their index rows are read by two
/// lookups rather than one range: a lookup costs about 15 µs, a ticket's
/// rows of a common word about 0.5 µs to read past.
const DENSE_GAP: i64 = 32;

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

/// For an unfiltered search whose words are in more than [`DENSE_COUNT`]
/// tickets, the first pages (up to [`DENSE_COUNT`] rows): the tickets are
/// walked in the queue's order, a few hundred at a time, and the index is
/// read for their ids alone, one rowid range per run of close ids
/// ([`DENSE_GAP`]), instead of reading and sorting every hit (500,000 rows
/// for a word in every message). The count is "more than 1,000". `None`
/// when the words are not that common, past those pages, with other
/// filters, or when the walk finds too few among the newest tickets
/// ([`DENSE_WALK`]): the broad plan answers those.
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
    // Counted as far as DENSE_COUNT + 1 tickets (the word's list is read
    // only that far): fewer, and the broad plan counts them exactly.
    let counted: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM (
                 SELECT DISTINCT rowid >> 32 FROM search_index
                 WHERE search_index MATCH ?1 LIMIT {})",
            DENSE_COUNT + 1
        ))?
        .query_row([&expr], |r| r.get(0))?;
    if counted <= DENSE_COUNT {
        return Ok(None);
    }
    let number = query.ticket().map(|t| t.0);
    let mut walk =
        conn.prepare_cached("SELECT t.id FROM tickets t ORDER BY t.updated_at DESC, t.id DESC")?;
    let mut range = conn.prepare_cached(
        "SELECT DISTINCT rowid >> 32 FROM search_index
         WHERE search_index MATCH ?1 AND rowid BETWEEN ?2 << 32 AND (?3 << 32) | 4294967295",
    )?;
    let mut tickets = walk.query([])?;
    let (mut found, mut walked) = (Vec::new(), 0i64);
    while (found.len() as i64) < end {
        // The next tickets in the queue's order, enough for the rest of
        // the page if most of them match.
        let want = (2 * (end - found.len() as i64)).max(100);
        let mut chunk: Vec<i64> = Vec::new();
        while (chunk.len() as i64) < want {
            match tickets.next()? {
                Some(r) => chunk.push(r.get(0)?),
                None => break,
            }
        }
        if chunk.is_empty() {
            break;
        }
        walked += chunk.len() as i64;
        let hits = hits_among(&mut range, &expr, &chunk)?;
        found.extend(
            chunk
                .into_iter()
                .filter(|id| Some(*id) == number || hits.binary_search(id).is_ok()),
        );
        if walked > DENSE_WALK * end && (found.len() as i64) < end {
            return Ok(None);
        }
    }
    found.truncate(usize::try_from(end).unwrap_or(usize::MAX));
    Ok(Some(found_plan(&found, DENSE_COUNT, true)?))
}

/// Which of `tickets` hold the words of `expr`, sorted: their ids cut into
/// runs of close ids ([`DENSE_GAP`]), one read of the index's rowid range
/// per run (`range`: the expression, and a run's first and last id).
fn hits_among(
    range: &mut rusqlite::CachedStatement<'_>,
    expr: &str,
    tickets: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = tickets.to_vec();
    ids.sort_unstable();
    let mut hits: Vec<i64> = Vec::new();
    let mut i = 0;
    while let Some(&lo) = ids.get(i) {
        let mut hi = lo;
        while let Some(&next) = ids.get(i + 1) {
            if next - hi > DENSE_GAP {
                break;
            }
            hi = next;
            i += 1;
        }
        i += 1;
        let mut rows = range.query(rusqlite::params![expr, lo, hi])?;
        while let Some(r) = rows.next()? {
            hits.push(r.get(0)?);
        }
    }
    hits.sort_unstable();
    Ok(hits)
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
    broad_plan(conn, &query, &parts, params, end)
}

/// Many hits: their ticket ids are read once into a sorted list, then the
/// tickets are walked in the page's order (by the filters' index) and those
/// in the list kept, rather than each hit looked up and sorted. The page's
/// ids and the count are carried into the row statement as parameters.
///
/// Unfiltered, the walk stops at the page's end and the count is the
/// list's length; filtered, it goes on to the end of the filter's tickets
/// to count them (each step one index entry and a binary search: about
/// 65 ns). Measured on 100,000 tickets, a word in 10,000 of them: 5.1 ms
/// for the page in SQLite (`+t.id IN` a materialized list of the ids)
/// against about 1.2 ms this way (docs/desk-bench.md).
fn broad_plan(
    conn: &Connection,
    query: &SearchQuery,
    parts: &[String],
    params: Vec<(&'static str, Value)>,
    end: i64,
) -> Result<Plan, StoreError> {
    let found = query.ticket_id_list(conn, false)?;
    let filtered = !parts.is_empty();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.id FROM tickets t {} ORDER BY t.updated_at DESC, t.id DESC",
        where_all(parts)
    ))?;
    let bound: Vec<(&str, &dyn ToSql)> =
        params.iter().map(|(k, v)| (*k, v as &dyn ToSql)).collect();
    bind(&mut stmt, &bound)?;
    let mut rows = stmt.raw_query();
    // The ids of the tickets up to the page's end, in the queue's order.
    let mut upto: Vec<i64> = Vec::new();
    let mut total: i64 = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if found.binary_search(&id).is_err() {
            continue;
        }
        total += 1;
        if total <= end {
            upto.push(id);
        } else if !filtered {
            break;
        }
    }
    if !filtered {
        total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    }
    found_plan(&upto, total, false)
}

/// The plan for tickets already found, in the queue's order up to the
/// page's end (`queue` binds :offset and :limit, and json_each's rows keep
/// their order), and their count.
fn found_plan(upto: &[i64], total: i64, more: bool) -> Result<Plan, StoreError> {
    let ids =
        Value::Text(serde_json::to_string(upto).map_err(|e| StoreError::Invalid(e.to_string()))?);
    Ok(Plan {
        page: format!(
            "WITH page(id) AS (SELECT value FROM json_each(:found) LIMIT :limit OFFSET :offset) {}",
            ROW_SQL.replace("{total}", ":total")
        ),
        count: "SELECT :total".into(),
        params: vec![(":found", ids), (":total", Value::Integer(total))],
        more,
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
