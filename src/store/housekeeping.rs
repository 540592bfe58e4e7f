//! The daemon's periodic chores, each change an event: solved tickets past
//! `support.reopen_days` become `closed` (a reply then opens a follow-up,
//! DESIGN §1), and with `store.retention_days` the raw mail and attachment
//! files of tickets closed longer ago are removed. Tickets, their visible
//! text, attachment names and the data log stay.

use rusqlite::{params, Connection};

use super::apply::event;
use super::StoreError;
use crate::domain::model::TicketId;
use crate::domain::time::{Timestamp, DAY};

/// Closes tickets solved more than `reopen_days` ago; returns how many.
pub fn close_solved(
    conn: &Connection,
    now: Timestamp,
    reopen_days: u32,
) -> Result<usize, StoreError> {
    let cutoff = now.0 - i64::from(reopen_days) * DAY;
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM tickets WHERE status = 'solved' AND solved_at < ?1")?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        conn.prepare_cached("UPDATE tickets SET status = 'closed', updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now.0])?;
        event(
            conn,
            now,
            Some(TicketId(*id)),
            "status_changed",
            &format!("solved → closed (solved more than {reopen_days} days ago)"),
        )?;
    }
    Ok(ids.len())
}

/// What a retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub tickets: usize,
    pub raw_mails: usize,
    /// Attachment files no longer referenced: the caller deletes them after
    /// the commit (a rollback must not leave rows pointing at nothing).
    pub files: Vec<String>,
}

/// Removes raw mail and attachment files of up to `limit` tickets closed
/// more than `retention_days` ago, one event per ticket.
pub fn prune(
    conn: &Connection,
    now: Timestamp,
    retention_days: u32,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let cutoff = now.0 - i64::from(retention_days) * DAY;
    let note = format!("removed by retention after {retention_days} days");
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT t.id FROM tickets t WHERE t.status = 'closed' AND t.updated_at < ?1 AND EXISTS (
                 SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND (m.raw_id IS NOT NULL
                     OR EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id AND a.refused IS NULL)))
             LIMIT ?2",
        )?
        .query_map(params![cutoff, limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Pruned::default();
    for id in ids {
        let raw_ids: Vec<i64> = conn
            .prepare_cached(
                "SELECT raw_id FROM messages WHERE ticket_id = ?1 AND raw_id IS NOT NULL",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        conn.prepare_cached("UPDATE messages SET raw_id = NULL WHERE ticket_id = ?1")?
            .execute([id])?;
        let mut raws = 0;
        for raw in &raw_ids {
            raws += super::apply::drop_raw_if_unused(conn, *raw)?;
        }
        let shas: Vec<String> = conn
            .prepare_cached(
                "SELECT DISTINCT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id
                 WHERE m.ticket_id = ?1 AND a.refused IS NULL",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let files = conn
            .prepare_cached(
                "UPDATE attachments SET refused = ?2 WHERE refused IS NULL
                 AND message_id IN (SELECT id FROM messages WHERE ticket_id = ?1)",
            )?
            .execute(params![id, note])?;
        for sha in shas {
            // The same file may belong to another ticket that keeps it.
            let still_used: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1 AND refused IS NULL)")?
                .query_row([&sha], |r| r.get(0))?;
            if !still_used {
                out.files.push(sha);
            }
        }
        event(
            conn,
            now,
            Some(TicketId(id)),
            "retention_pruned",
            &format!(
                "raw mail of {} message(s) and {files} attachment(s) removed: closed more than {retention_days} days ago (store.retention_days)",
                raw_ids.len()
            ),
        )?;
        out.tickets += 1;
        out.raw_mails += raws;
    }
    Ok(out)
}

/// How long one round merges the search index at most; the rest waits
/// for the next round (an hour later).
const MERGE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Merges the search index into one segment when it is in more than
/// [`search::MERGE_SEGMENTS`](super::search::MERGE_SEGMENTS), a bounded
/// step per transaction; returns the steps taken.
pub fn merge_search_index(store: &mut super::Store) -> Result<usize, StoreError> {
    use super::search::{index_segments, merge_index_step, MERGE_PAGES, MERGE_SEGMENTS};
    let segments = index_segments(store.conn())?;
    if segments <= MERGE_SEGMENTS {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let mut steps = 0;
    while started.elapsed() < MERGE_BUDGET {
        let tx = store.write()?;
        let worked = merge_index_step(&tx, MERGE_PAGES)?;
        tx.commit()?;
        if !worked {
            break;
        }
        steps += 1;
    }
    tracing::info!(
        segments_before = segments,
        segments_after = index_segments(store.conn())?,
        steps,
        seconds = started.elapsed().as_secs_f64(),
        "housekeeping: search index merged"
    );
    Ok(steps)
}

/// Tickets pruned per transaction: the write lock is held briefly.
const PRUNE_BATCH: usize = 100;

/// One round of chores: closing, then pruning in transactions of
/// [`PRUNE_BATCH`] tickets. Attachment files are deleted after their commit,
/// each only if still unused, checked under the write lock (an ingest that
/// needs the same file holds that lock while it writes it). Returns
/// (tickets closed, what retention removed).
pub fn run(
    store: &mut super::Store,
    files: &crate::attachments::AttachmentDir,
    now: Timestamp,
    reopen_days: u32,
    retention_days: Option<u32>,
) -> Result<(usize, Pruned), StoreError> {
    match files.remove_stale_tmp(std::time::Duration::from_secs(3600)) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            files = n,
            "removed half-written attachment files left by a killed process"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot clean half-written attachment files"),
    }
    let tx = store.write()?;
    let closed = close_solved(&tx, now, reopen_days)?;
    // Mail budgets refill within an hour: a day-old bucket is full, and a
    // missing bucket counts as full, so the row can go.
    tx.prepare_cached("DELETE FROM mail_budget WHERE at < ?1")?
        .execute([now.0 - DAY])?;
    tx.commit()?;
    merge_search_index(store)?;
    let mut total = Pruned::default();
    let Some(days) = retention_days else {
        return Ok((closed, total));
    };
    loop {
        let tx = store.write()?;
        let pruned = prune(&tx, now, days, PRUNE_BATCH)?;
        tx.commit()?;
        let tx = store.write()?;
        for sha in &pruned.files {
            let still_used: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1 AND refused IS NULL)",
                )?
                .query_row([sha], |r| r.get(0))?;
            if !still_used {
                if let Err(e) = files.remove(sha) {
                    tracing::warn!(sha256 = %sha, error = %e, "retention: cannot delete an attachment file");
                }
            }
        }
        drop(tx);
        total.tickets += pruned.tickets;
        total.raw_mails += pruned.raw_mails;
        total.files.extend(pruned.files);
        if pruned.tickets < PRUNE_BATCH {
            return Ok((closed, total));
        }
    }
}
