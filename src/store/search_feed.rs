//! How a batch of mail feeds the search index: once, at the batch's end,
//! in rowid order, rather than row by row from the triggers (schema v12,
//! `search_deferred`, says why). [`defer`] just after the batch's
//! transaction begins, [`index_deferred`] just before it commits: the row
//! that tells the triggers to hold back never outlives the transaction, so
//! every other writer (the portal, the desk, the console) and every reader
//! sees an index that follows the tables exactly, as before.

use rusqlite::Connection;

use super::StoreError;

/// From here on in this transaction, the triggers leave new tickets and
/// messages to [`index_deferred`].
pub fn defer(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO search_deferred (id, tickets_after, messages_after)
         VALUES (1, (SELECT coalesce(max(id), 0) FROM tickets),
                    (SELECT coalesce(max(id), 0) FROM messages))",
    )?
    .execute([])?;
    Ok(())
}

/// What [`index_deferred`] runs. The `+` before `m.id` in the last part
/// keeps SQLite from reading that part by rowid (every older message):
/// the ticket range of `messages_ticket` is the small one.
const FEED: &str = "INSERT INTO search_index (rowid, subject, body, note)
         SELECT r, subject, body, note FROM (
             SELECT t.id << 32 AS r, t.subject AS subject, NULL AS body, NULL AS note
             FROM tickets t, search_deferred d WHERE t.id > d.tickets_after
             UNION ALL
             SELECT (m.ticket_id << 32) | (m.id & 4294967295), t.subject,
                    CASE WHEN m.internal THEN NULL ELSE m.text END,
                    CASE WHEN m.internal THEN m.text END
             FROM search_deferred d, messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE m.id > d.messages_after
             UNION ALL
             SELECT (m.ticket_id << 32) | (m.id & 4294967295), t.subject,
                    CASE WHEN m.internal THEN NULL ELSE m.text END,
                    CASE WHEN m.internal THEN m.text END
             FROM search_deferred d, messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE m.ticket_id > d.tickets_after AND +m.id <= d.messages_after
         ) ORDER BY r";

/// Indexes what [`defer`] held back, in rowid order (so FTS5 keeps it in one
/// pending segment), and ends the deferral: the new tickets' subjects, the
/// new messages, and older messages moved into a new ticket (each part a
/// range of an index, never a scan of all messages). Does nothing when none
/// began.
pub fn index_deferred(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(FEED)?.execute([])?;
    conn.prepare_cached("DELETE FROM search_deferred")?
        .execute([])?;
    Ok(())
}

/// Every (term, rowid, column, offset) the index holds, in order: what two
/// ways of feeding it are compared by.
#[cfg(test)]
pub(crate) fn index_instances(conn: &Connection) -> Vec<(String, i64, String, i64)> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, search_index, 'instance');",
    )
    .expect("vocab");
    let mut stmt = conn
        .prepare("SELECT term, doc, col, offset FROM temp.vocab ORDER BY 1, 2, 3, 4")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of the real schema, in memory, with ticket 1 and its
    /// messages 1 and 2 already indexed.
    fn db() -> Connection {
        let conn = super::super::memory_db();
        conn.execute_batch(
            "INSERT INTO tickets (subject, status, priority, requester_id, created_at, updated_at)
                 VALUES ('Printer jammed', 'open', 'normal', 1, 0, 0);
             INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
                 VALUES (1, 'in', 0, 'paper stuck in tray two', '', 0, 0),
                        (1, 'in', 0, 'internal: order a roller', '', 1, 0);",
        )
        .expect("first ticket");
        conn
    }

    /// What a batch might do: a new ticket with messages, a reply to the
    /// old ticket (a lower rowid than the new ticket's), the old ticket's
    /// subject changed, an old message moved into the new ticket, a new
    /// message edited and another deleted.
    const BATCH: &str = "
        INSERT INTO tickets (subject, status, priority, requester_id, created_at, updated_at)
            VALUES ('Scanner offline', 'open', 'normal', 1, 0, 0);
        INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
            VALUES (2, 'in', 0, 'the scanner shows error e-1042', '', 0, 0),
                   (1, 'in', 0, 'still jammed after the reboot', '', 0, 0),
                   (2, 'in', 0, 'a message soon deleted', '', 0, 0);
        UPDATE tickets SET subject = 'Printer jammed again' WHERE id = 1;
        UPDATE messages SET ticket_id = 2 WHERE id = 2;
        UPDATE messages SET text = 'the scanner shows error e-2048' WHERE id = 3;
        DELETE FROM messages WHERE id = 5;
        UPDATE tickets SET subject = 'Scanner offline since Monday' WHERE id = 2;";

    /// Rows of the index holding `word`.
    fn hits(conn: &Connection, word: &str) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM search_index WHERE search_index MATCH ?1",
            [word],
            |r| r.get(0),
        )
        .expect("match")
    }

    #[test]
    fn a_deferred_batch_leaves_the_index_the_triggers_would_have() {
        let by_triggers = db();
        by_triggers.execute_batch(BATCH).expect("batch");
        let deferred = db();
        let tx = deferred.unchecked_transaction().expect("tx");
        defer(&tx).expect("defer");
        tx.execute_batch(BATCH).expect("batch");
        // Held back until the end: nothing of the new ticket is found yet.
        assert_eq!(hits(&tx, "scanner"), 0);
        index_deferred(&tx).expect("index");
        tx.commit().expect("commit");

        let expected = index_instances(&by_triggers);
        assert!(
            expected
                .iter()
                .any(|(t, d, _, _)| t == "2048" && d >> 32 == 2),
            "{expected:?}"
        );
        assert!(!expected.iter().any(|(t, _, _, _)| t == "deleted"));
        assert!(!expected.iter().any(|(t, _, _, _)| t == "1042"));
        assert_eq!(index_instances(&deferred), expected);
        let left: i64 = deferred
            .query_row("SELECT count(*) FROM search_deferred", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0, "the deferral ends with the batch");
    }

    #[test]
    fn the_feed_reads_index_ranges_never_every_message() {
        let conn = db();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FEED}"))
            .expect("plan");
        let plan: Vec<String> = stmt
            .query_map([], |r| r.get(3))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect();
        let reads: Vec<&String> = plan.iter().filter(|l| l.contains(" m ")).collect();
        assert_eq!(reads.len(), 2, "{plan:?}");
        assert!(
            reads
                .iter()
                .all(|l| l.contains("rowid>?") || l.contains("(ticket_id>?)")),
            "{plan:?}"
        );
    }

    #[test]
    fn without_a_deferral_the_triggers_index_at_once() {
        let conn = db();
        index_deferred(&conn).expect("nothing deferred: a no-op");
        conn.execute_batch(BATCH).expect("batch");
        // The new ticket's subject row and its two messages (one moved in;
        // a third was deleted).
        assert_eq!(hits(&conn, "monday"), 3);
    }
}
