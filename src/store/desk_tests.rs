//! The counts `ticket_facets` keeps (schema v10) against a count of the
//! tickets themselves, through inserts, changes and deletes.

use rusqlite::Connection;

fn db() -> Connection {
    super::super::memory_db()
}

/// `(facet, value, tickets)` rows.
type Facets = Vec<(String, String, i64)>;

/// The facets as the triggers kept them (counts above 0) and as the
/// tickets say.
fn both(conn: &Connection) -> (Facets, Facets) {
    let rows = |sql: &str| -> Facets {
        conn.prepare(sql)
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    (
        rows("SELECT facet, value, tickets FROM ticket_facets WHERE tickets > 0 ORDER BY 1, 2"),
        rows(
            "SELECT 'category', category, count(*) FROM tickets WHERE category IS NOT NULL GROUP BY 2
             UNION ALL SELECT 'org', org, count(*) FROM tickets WHERE org IS NOT NULL GROUP BY 2
             UNION ALL SELECT 'status', status, count(*) FROM tickets GROUP BY 2
             ORDER BY 1, 2",
        ),
    )
}

#[test]
fn the_facets_follow_every_change_to_the_tickets() {
    let conn = db();
    let add = |status: &str, category: Option<&str>, org: Option<&str>| {
        conn.execute(
            "INSERT INTO tickets (subject, status, priority, category, requester_id, org, created_at, updated_at)
             VALUES ('s', ?1, 'normal', ?2, 1, ?3, 0, 0)",
            rusqlite::params![status, category, org],
        )
        .expect("ticket");
        conn.last_insert_rowid()
    };
    let a = add("open", Some("Billing"), Some("acme.test"));
    let b = add("open", None, Some("acme.test"));
    let c = add("pending", Some("Export"), None);
    add("closed", Some("Billing"), Some("other.test"));
    let (kept, counted) = both(&conn);
    assert_eq!(kept, counted, "after inserts");
    for sql in [
        format!("UPDATE tickets SET status = 'solved' WHERE id = {a}"),
        format!("UPDATE tickets SET status = 'solved' WHERE id = {a}"),
        format!("UPDATE tickets SET category = 'Export', org = NULL WHERE id = {b}"),
        format!("UPDATE tickets SET category = NULL, status = 'closed', org = 'new.test' WHERE id = {c}"),
        format!("UPDATE tickets SET priority = 'high' WHERE id = {c}"),
        format!("DELETE FROM tickets WHERE id = {a}"),
    ] {
        conn.execute(&sql, []).expect("change");
        let (kept, counted) = both(&conn);
        assert_eq!(kept, counted, "after {sql}");
    }
}

#[test]
fn the_migration_counts_what_was_already_there() {
    let ten = super::super::MIGRATIONS
        .iter()
        .position(|m| m.contains("CREATE TABLE ticket_facets"))
        .expect("the facets migration");
    let conn = Connection::open_in_memory().expect("memory db");
    for sql in &super::super::MIGRATIONS[..ten] {
        conn.execute_batch(sql).expect("migration");
    }
    conn.execute_batch(
        "INSERT INTO users (email, role, created_at) VALUES ('ann@acme.test', 'member', 0);
         INSERT INTO tickets (subject, status, priority, category, requester_id, org, created_at, updated_at)
         VALUES ('a', 'open', 'normal', 'Billing', 1, 'acme.test', 0, 0),
                ('b', 'open', 'normal', NULL, 1, 'acme.test', 0, 0),
                ('c', 'closed', 'low', 'Billing', 1, NULL, 0, 0);",
    )
    .expect("tickets");
    conn.execute_batch(super::super::MIGRATIONS[ten])
        .expect("the facets migration");
    let (kept, counted) = both(&conn);
    assert_eq!(kept, counted);
    assert_eq!(kept.len(), 4, "{kept:?}");
}
