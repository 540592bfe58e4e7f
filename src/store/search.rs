//! Full-text search over subjects and message texts (schema v9's
//! `search_index`, kept by triggers): what a person typed becomes an FTS5
//! MATCH expression that can never be an FTS5 syntax error, and a condition
//! on tickets that the desk's queue and the portal's list both put in their
//! own `WHERE`.
//!
//! The rules, in [`SearchQuery::parse`]: every whitespace-separated term is
//! one quoted phrase (the tokenizer splits `E-1042` into `e 1042` and
//! `ann@acme.test` into `ann acme test`, in the index and in the query
//! alike, so both find exactly that sequence); terms are ANDed; a trailing
//! `*` makes the last word a prefix; `#123` or `123` typed alone also finds
//! ticket 123. A ticket matches when its subject, or one of its messages
//! read together with the subject, holds every term.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::StoreError;
use crate::domain::model::TicketId;

/// Characters of the input read at most: the work a search costs stays
/// bounded whatever is pasted into the box.
pub const MAX_CHARS: usize = 256;

/// Terms kept at most (the first ones); more narrow nothing a person means.
pub const MAX_TERMS: usize = 8;

/// What a person typed into a search box, made safe for FTS5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Quoted FTS5 phrases, ` *` after a prefix; ANDed.
    phrases: Vec<String>,
    /// `#123` or `123` typed alone.
    ticket: Option<TicketId>,
}

impl SearchQuery {
    /// Reads a search box. Never fails: what cannot be searched for
    /// (punctuation alone, a lone `*`) is dropped, and an input with nothing
    /// left matches nothing.
    pub fn parse(input: &str) -> SearchQuery {
        // Control characters (NUL included) separate terms like spaces do:
        // they are no part of any word, and FTS5 reads its expression as C text.
        let text: String = input
            .chars()
            .take(MAX_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let terms: Vec<&str> = text.split_whitespace().collect();
        let ticket = match terms.as_slice() {
            [one] => ticket_number(one),
            _ => None,
        };
        let mut phrases: Vec<String> = Vec::new();
        for term in terms {
            let word = term.trim_end_matches('*');
            let prefix = word.len() < term.len();
            // The tokenizer (unicode61) keeps letters and digits and splits on
            // everything else; a phrase with no token in it would make the
            // whole AND match nothing, so such a term is no term at all.
            if !word.chars().any(char::is_alphanumeric) {
                continue;
            }
            let mut phrase = format!("\"{}\"", word.replace('"', "\"\""));
            if prefix {
                phrase.push_str(" *");
            }
            if !phrases.contains(&phrase) {
                phrases.push(phrase);
            }
            if phrases.len() == MAX_TERMS {
                break;
            }
        }
        SearchQuery { phrases, ticket }
    }

    /// Whether nothing was left to search for: such a query matches no ticket.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() && self.ticket.is_none()
    }

    /// The ticket number typed alone (`#123`, `123`), if that is what it was.
    pub fn ticket(&self) -> Option<TicketId> {
        self.ticket
    }

    /// The FTS5 MATCH expression: over every column, or with `public_only`
    /// over the subject and public messages alone (never internal notes).
    /// `None` when there is no word to look for.
    pub fn match_expression(&self, public_only: bool) -> Option<String> {
        if self.phrases.is_empty() {
            return None;
        }
        let all = self.phrases.join(" AND ");
        Some(if public_only {
            format!("{{subject body}} : ({all})")
        } else {
            all
        })
    }

    /// A condition on the tickets table under `alias` (`t` in
    /// `FROM tickets t`), with its named parameters (`:search_match`,
    /// `:search_ticket`): put the SQL in a `WHERE` and bind the parameters.
    /// It is `0` (nothing) for an empty query.
    ///
    /// The ticket ids come straight from the index (`rowid >> 32`): no
    /// message row is read, so its cost follows the number of messages that
    /// hold the words. SQLite looks each one up in `tickets`: for a query
    /// [`is_broad`] finds broad, [`SearchQuery::ticket_ids`] lets the caller
    /// walk its own order instead.
    pub fn condition(&self, alias: &str, public_only: bool) -> Condition {
        match self.hits(public_only, false) {
            None => Condition {
                sql: "0".into(),
                params: Vec::new(),
            },
            Some(c) => Condition {
                sql: format!("{alias}.id IN ({})", c.sql),
                params: c.params,
            },
        }
    }

    /// The tickets found, each once, as a `SELECT` of one column `id` with
    /// its parameters; `None` for an empty query.
    pub fn ticket_ids(&self, public_only: bool) -> Option<Condition> {
        self.hits(public_only, true)
    }

    fn hits(&self, public_only: bool, distinct: bool) -> Option<Condition> {
        let distinct = if distinct { "DISTINCT " } else { "" };
        let hits = format!(
            "SELECT {distinct}rowid >> 32 AS id FROM search_index WHERE search_index MATCH :search_match"
        );
        match (self.match_expression(public_only), self.ticket) {
            (None, None) => None,
            (None, Some(id)) => Some(Condition {
                sql: "SELECT id FROM tickets WHERE id = :search_ticket".into(),
                params: vec![(":search_ticket", Value::Integer(id.0))],
            }),
            (Some(m), None) => Some(Condition {
                sql: hits,
                params: vec![(":search_match", Value::Text(m))],
            }),
            // UNION keeps each id once; the number counts only when such a
            // ticket exists (a caller may count these ids as tickets).
            (Some(m), Some(id)) => Some(Condition {
                sql: format!("{hits} UNION SELECT id FROM tickets WHERE id = :search_ticket"),
                params: vec![
                    (":search_match", Value::Text(m)),
                    (":search_ticket", Value::Integer(id.0)),
                ],
            }),
        }
    }
}

impl SearchQuery {
    /// The tickets found, as a sorted list of ids without repeats: for a
    /// caller that walks tickets in an order of its own and keeps the found
    /// ones ([`slice::binary_search`]). Reading the index's ids and sorting
    /// them here costs a fraction of SQLite's `IN (SELECT …)` over the same
    /// ids, which first builds a temporary b-tree of them (10,000 hits:
    /// about 1 ms against 2.4 ms; docs/desk-bench.md).
    pub fn ticket_id_list(
        &self,
        conn: &Connection,
        public_only: bool,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids: Vec<i64> = Vec::new();
        if let Some(m) = self.match_expression(public_only) {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid >> 32 FROM search_index WHERE search_index MATCH ?1",
            )?;
            let mut rows = stmt.query([m])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                // Rowids come in order: a ticket's rows are next to each other.
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
        if let Some(t) = self.ticket {
            // Counted only when such a ticket exists, as in `ticket_ids`.
            let exists = conn
                .prepare_cached("SELECT 1 FROM tickets WHERE id = ?1")?
                .exists([t.0])?;
            if exists {
                ids.push(t.0);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

/// Segments (b-trees) of the index past which housekeeping merges it.
/// Every write transaction adds one and FTS5's automerge keeps about three
/// per level, so a busy index of 100,000 tickets sits at ten or more; every
/// lookup seeks in each. A probe for one ticket costs 60 µs in eleven
/// segments and 15 µs in one (docs/desk-bench.md).
pub const MERGE_SEGMENTS: i64 = 8;

/// Leaf pages one merge step writes, in its own transaction: about 0.1 s
/// of the write lock, so that mail arriving meanwhile waits no longer.
pub const MERGE_PAGES: i64 = 500;

/// How many segments the index is in.
pub fn index_segments(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(DISTINCT segid) FROM search_index_idx")?
        .query_row([], |r| r.get(0))?)
}

/// One step of merging the index into one segment (FTS5's `merge` with a
/// negative page count: segments of every level, as `optimize` does, but
/// bounded). Returns whether there was anything to merge: FTS5 changes at
/// least two rows when it did work.
pub fn merge_index_step(conn: &Connection, pages: i64) -> Result<bool, StoreError> {
    let before = conn.total_changes();
    conn.prepare_cached("INSERT INTO search_index (search_index, rank) VALUES ('merge', ?1)")?
        .execute([-pages.abs()])?;
    Ok(conn.total_changes().saturating_sub(before) >= 2)
}

/// Index rows (subjects, messages) past which a query is broad: looking
/// each hit up costs more than walking the tickets in the page's order and
/// keeping those found (measured on 100,000 tickets: docs/desk-bench.md).
pub const BROAD_ROWS: i64 = 2_000;

/// Whether more than [`BROAD_ROWS`] index rows hold the words: one
/// bounded count, so deciding costs little whatever the answer.
pub fn is_broad(
    conn: &Connection,
    query: &SearchQuery,
    public_only: bool,
) -> Result<bool, StoreError> {
    let Some(expr) = query.match_expression(public_only) else {
        return Ok(false);
    };
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM search_index WHERE search_index MATCH ?1 LIMIT ?2)",
        )?
        .query_row(rusqlite::params![expr, BROAD_ROWS + 1], |r| r.get(0))?;
    Ok(n > BROAD_ROWS)
}

/// An SQL condition and the named parameters it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub sql: String,
    pub params: Vec<(&'static str, Value)>,
}

/// `#123` or `123`: a ticket number (a positive one that fits an i64).
fn ticket_number(term: &str) -> Option<TicketId> {
    let digits = term.strip_prefix('#').unwrap_or(term);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0).map(TicketId)
}

/// The tickets `input` finds, highest number (newest) first, at most
/// `limit`; with `public_only`, words that are only in internal notes find
/// nothing. This is the bare search: the caller applies who may see what
/// (or puts [`SearchQuery::condition`] in its own query instead).
pub fn matching_tickets(
    conn: &Connection,
    input: &str,
    public_only: bool,
    limit: u32,
) -> Result<Vec<TicketId>, StoreError> {
    let query = SearchQuery::parse(input);
    let cond = query.condition("t", public_only);
    let sql = format!(
        "SELECT t.id FROM tickets t WHERE {} ORDER BY t.id DESC LIMIT :limit",
        cond.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for (name, value) in &cond.params {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, value)?;
        }
    }
    if let Some(i) = stmt.parameter_index(":limit")? {
        stmt.raw_bind_parameter(i, i64::from(limit))?;
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(TicketId(r.get(0)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::memory_schema as schema;
    use super::*;

    fn phrases(input: &str) -> Vec<String> {
        SearchQuery::parse(input).phrases
    }

    #[test]
    fn terms_become_quoted_phrases_anded() {
        for (input, want) in [
            ("invoice", "\"invoice\""),
            ("  E-1042  ", "\"E-1042\""),
            ("ann@acme.test refund", "\"ann@acme.test\" AND \"refund\""),
            ("refu*", "\"refu\" *"),
            ("refu**", "\"refu\" *"),
            ("say \"hi\"", "\"say\" AND \"\"\"hi\"\"\""),
            (
                "a NEAR b OR c",
                "\"a\" AND \"NEAR\" AND \"b\" AND \"OR\" AND \"c\"",
            ),
            ("-x col:y ^z", "\"-x\" AND \"col:y\" AND \"^z\""),
            ("(café)", "\"(café)\""),
            ("same same", "\"same\""),
            ("a\0b", "\"a\" AND \"b\""),
        ] {
            assert_eq!(
                SearchQuery::parse(input).match_expression(false).as_deref(),
                Some(want),
                "{input:?}"
            );
        }
    }

    #[test]
    fn terms_without_a_word_are_dropped() {
        for input in ["", "   ", "*", "* -- ( ) \" : ^ +", "\"\"\"", "#"] {
            let q = SearchQuery::parse(input);
            assert!(q.is_empty(), "{input:?}: {q:?}");
            assert_eq!(q.match_expression(false), None, "{input:?}");
            assert_eq!(q.condition("t", false).sql, "0", "{input:?}");
        }
    }

    #[test]
    fn a_number_alone_is_also_a_ticket_number() {
        for (input, want) in [
            ("#123", Some(123)),
            ("123", Some(123)),
            (" #7 ", Some(7)),
            ("#0", None),
            ("#12a", None),
            ("#123 printer", None),
            ("99999999999999999999", None),
            ("-5", None),
        ] {
            assert_eq!(
                SearchQuery::parse(input).ticket().map(|t| t.0),
                want,
                "{input:?}"
            );
        }
        // The number is searched for in texts too.
        assert_eq!(phrases("#123"), vec!["\"#123\""]);
    }

    #[test]
    fn public_only_keeps_to_subjects_and_public_messages() {
        assert_eq!(
            SearchQuery::parse("a b*").match_expression(true).as_deref(),
            Some("{subject body} : (\"a\" AND \"b\" *)")
        );
    }

    #[test]
    fn input_is_bounded() {
        let long = "word ".repeat(2_000) + &"x".repeat(10_000);
        let q = SearchQuery::parse(&long);
        // 256 characters: 51 times "word " and the "w" of the next; never the x's.
        assert_eq!(q.phrases, vec!["\"word\"", "\"w\""]);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(phrases(&many).len(), MAX_TERMS);
        let one = SearchQuery::parse(&"y".repeat(10_000));
        assert_eq!(one.phrases[0].len(), MAX_CHARS + 2);
    }

    /// Every migration, schema v9's index included.
    fn db() -> Connection {
        schema(super::super::MIGRATIONS.len())
    }

    fn ticket(conn: &Connection, subject: &str, texts: &[(&str, bool)]) -> i64 {
        conn.execute(
            "INSERT INTO tickets (subject, status, priority, requester_id, created_at, updated_at)
             VALUES (?1, 'open', 'normal', 1, 0, 0)",
            [subject],
        )
        .expect("ticket");
        let id = conn.last_insert_rowid();
        for (text, internal) in texts {
            conn.execute(
                "INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
                 VALUES (?1, 'in', 0, ?2, ?2, ?3, 0)",
                rusqlite::params![id, text, internal],
            )
            .expect("message");
        }
        id
    }

    fn found(conn: &Connection, q: &str, public_only: bool) -> Vec<i64> {
        let mut ids: Vec<i64> = matching_tickets(conn, q, public_only, 100)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"))
            .into_iter()
            .map(|t| t.0)
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn words_codes_addresses_accents_and_prefixes_are_found() {
        let conn = db();
        let a = ticket(
            &conn,
            "Printer jam",
            &[("Tray two. Error code E-1042, write to ann@acme.test", false)],
        );
        let b = ticket(&conn, "Café order", &[("The crème brûlée", false)]);
        let c = ticket(&conn, "Other", &[("cafe and E 1042?", false)]);
        for (q, want) in [
            ("tray", vec![a]),
            ("E-1042", vec![a, c]),
            ("e-1042 printer", vec![a]),
            ("ann@acme.test", vec![a]),
            ("acme.test", vec![a]),
            ("bob@acme.test", vec![]),
            ("cafe", vec![b, c]),
            ("CAFÉ", vec![b, c]),
            ("creme brulee", vec![b]),
            ("brû*", vec![b]),
            ("print*", vec![a]),
            ("print", vec![]),
            ("jam printer", vec![a]),
            ("jam cafe", vec![]),
        ] {
            assert_eq!(found(&conn, q, false), want, "{q:?}");
        }
        assert_eq!(found(&conn, &format!("#{b}"), false), vec![b]);
        // `123`: the number in a text, or the ticket with that number.
        let d = ticket(&conn, "Order", &[(&format!("see ticket {a}"), false)]);
        assert_eq!(found(&conn, &a.to_string(), false), vec![a, d]);
    }

    #[test]
    fn ticket_ids_name_only_tickets_that_exist() {
        let conn = db();
        let t = ticket(&conn, "Order", &[("see order 424242", false)]);
        let ids = |q: &str| -> Vec<i64> {
            let c = SearchQuery::parse(q).ticket_ids(false).expect("a query");
            let mut stmt = conn.prepare(&c.sql).expect("prepare");
            for (name, value) in &c.params {
                let i = stmt.parameter_index(name).expect("name").expect("bound");
                stmt.raw_bind_parameter(i, value).expect("bind");
            }
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next().expect("row") {
                out.push(r.get(0).expect("id"));
            }
            out.sort();
            out
        };
        // No ticket 424242: the text's ticket only, once.
        assert_eq!(ids("424242"), vec![t]);
        assert_eq!(ids(&format!("#{t}")), vec![t]);
        assert_eq!(ids("order"), vec![t], "one id for two rows of the ticket");
    }

    #[test]
    fn the_id_list_is_the_sorted_set_of_ticket_ids() {
        let conn = db();
        let a = ticket(
            &conn,
            "Refund",
            &[("refund please", false), ("refund now", false)],
        );
        let _b = ticket(&conn, "Other", &[("nothing here", false)]);
        let c = ticket(&conn, "Late", &[("my refund", true)]);
        let list = |q: &str, public_only: bool| {
            SearchQuery::parse(q)
                .ticket_id_list(&conn, public_only)
                .expect("list")
        };
        assert_eq!(
            list("refund", false),
            vec![a, c],
            "each ticket once, in order"
        );
        assert_eq!(list("refund", true), vec![a], "a note is not public");
        assert_eq!(list(&format!("#{c}"), true), vec![c], "a number alone");
        assert_eq!(list("999999", false), Vec::<i64>::new(), "no such ticket");
        assert_eq!(list("!!", false), Vec::<i64>::new());
    }

    #[test]
    fn merging_leaves_one_segment_and_the_same_answers() {
        let conn = db();
        // Without automerge, every transaction leaves a segment of its own.
        conn.execute(
            "INSERT INTO search_index (search_index, rank) VALUES ('automerge', 0)",
            [],
        )
        .expect("automerge off");
        for i in 0..12 {
            ticket(
                &conn,
                &format!("Order {i}"),
                &[(&format!("refund {i} invoice"), false)],
            );
        }
        let before = index_segments(&conn).expect("segments");
        assert!(before > MERGE_SEGMENTS, "{before} segments");
        let answers = |conn: &Connection| {
            ["refund", "invoice 7", "order", "ord*"].map(|q| found(conn, q, false))
        };
        let want = answers(&conn);
        assert_eq!(want[0].len(), 12);
        let mut steps = 0;
        while merge_index_step(&conn, 1).expect("merge") {
            steps += 1;
            assert!(steps < 1_000, "the merge ends");
        }
        assert!(steps >= 1);
        assert_eq!(index_segments(&conn).expect("segments"), 1);
        assert_eq!(answers(&conn), want);
        assert!(
            !merge_index_step(&conn, MERGE_PAGES).expect("merge"),
            "nothing left"
        );
    }

    #[test]
    fn notes_are_found_by_agents_only() {
        let conn = db();
        let t = ticket(
            &conn,
            "Printer",
            &[
                ("It is broken", false),
                ("customer seems confused; zebracode", true),
            ],
        );
        assert_eq!(found(&conn, "zebracode", false), vec![t]);
        assert_eq!(found(&conn, "zebracode", true), Vec::<i64>::new());
        assert_eq!(found(&conn, "printer zebracode", true), Vec::<i64>::new());
        assert_eq!(found(&conn, "printer broken", true), vec![t]);
        assert_eq!(found(&conn, "zebra*", true), Vec::<i64>::new());
    }

    #[test]
    fn the_index_follows_changes_and_deletes() {
        let conn = db();
        let t = ticket(&conn, "Printer", &[("alpha", false)]);
        conn.execute("UPDATE tickets SET subject = 'Scanner' WHERE id = ?1", [t])
            .expect("rename");
        assert_eq!(found(&conn, "printer", false), Vec::<i64>::new());
        assert_eq!(found(&conn, "scanner alpha", false), vec![t]);
        conn.execute("UPDATE messages SET internal = 1 WHERE ticket_id = ?1", [t])
            .expect("to a note");
        assert_eq!(found(&conn, "alpha", true), Vec::<i64>::new());
        assert_eq!(found(&conn, "alpha", false), vec![t]);
        conn.execute(
            "UPDATE messages SET text = 'beta' WHERE ticket_id = ?1",
            [t],
        )
        .expect("edit");
        assert_eq!(found(&conn, "alpha", false), Vec::<i64>::new());
        assert_eq!(found(&conn, "beta", false), vec![t]);
        conn.execute("DELETE FROM tickets WHERE id = ?1", [t])
            .expect("delete");
        assert_eq!(found(&conn, "beta", false), Vec::<i64>::new());
        assert_eq!(found(&conn, "scanner", false), Vec::<i64>::new());
        let left: i64 = conn
            .query_row("SELECT count(*) FROM search_index", [], |r| r.get(0))
            .expect("rows");
        assert_eq!(left, 0, "a deleted ticket leaves no row in the index");
    }

    #[test]
    fn the_migration_indexes_what_was_already_there() {
        let nine = super::super::MIGRATIONS
            .iter()
            .position(|m| m.contains("CREATE VIRTUAL TABLE search_index"))
            .expect("the search migration");
        let conn = schema(nine);
        let printer = ticket(&conn, "Old printer", &[("toner", false)]);
        let scanner = ticket(&conn, "Old scanner", &[("lamp", true)]);
        conn.execute_batch(super::super::MIGRATIONS[nine])
            .expect("the search migration");
        assert_eq!(found(&conn, "printer toner", false), vec![printer]);
        assert_eq!(found(&conn, "lamp", false), vec![scanner]);
        assert_eq!(found(&conn, "lamp", true), Vec::<i64>::new());
        assert_eq!(found(&conn, "scanner", true), vec![scanner]);
        // And what comes after, through the triggers.
        let new = ticket(&conn, "New", &[("toner", false)]);
        assert_eq!(found(&conn, "toner", false), vec![printer, new]);
    }

    #[test]
    fn hostile_input_is_never_an_fts5_error() {
        let conn = db();
        let t = ticket(&conn, "Printer", &[("paper (jammed) \"again\"", false)]);
        let long = "(\"NEAR OR ".repeat(1_500);
        for q in [
            "\"",
            "\"\"",
            "\"unbalanced",
            "(",
            ")",
            "a OR b",
            "NEAR(a b)",
            "NOT",
            "AND",
            "-printer",
            "subject:printer",
            "{subject body}:x",
            "^printer",
            "*",
            "**",
            "* printer",
            "printer*",
            "\\",
            "'; DROP TABLE tickets; --",
            "\u{0}",
            "a\u{0}\"b",
            "\u{301}",
            "\u{93e}",
            "🙂",
            &long,
        ] {
            for public_only in [false, true] {
                if let Err(e) = matching_tickets(&conn, q, public_only, 10) {
                    panic!("{q:?} ({public_only}): {e}");
                }
            }
        }
        assert_eq!(found(&conn, "(jammed)", false), vec![t]);
        assert_eq!(found(&conn, "\"again\"", true), vec![t]);
        assert_eq!(found(&conn, "-printer", false), vec![t]);
    }
}
