//! One IMAP session's work on the watched folder: settle the moves owed
//! from before, then fetch → ingest → commit → move, batch after batch, and
//! wait for more. Mail over `store.max_message_bytes` is not fetched: it is
//! recorded (an event, an owed move to the failed folder) in its batch's
//! transaction and moved unread.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use super::db::{Db, Parts};
use super::{plan, DaemonError, Mode, IDLE_FOR, MAX_BATCH_BYTES, MOVE_EVERY};
use crate::backoff::Backoff;
use crate::clock::now;
use crate::config::{Config, ImapConfig};
use crate::domain::model::Outcome;
use crate::domain::time::Timestamp;
use crate::imap::{self, Mailbox, Wake};
use crate::ingest::{Arrival, Ingestor, Report};
use crate::observe::Observer;
use crate::store::{apply, imap_state, StoreError};

/// What a run did, for the log and for `run --once`'s summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub fetched: u64,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub moved: u64,
    /// Over `store.max_message_bytes`: moved to the failed folder unread.
    pub too_large: u64,
}

/// A message too large to fetch, and what to tell about it.
struct TooLarge {
    uid: u32,
    bytes: u64,
    detail: String,
}

pub(super) struct Worker<'a> {
    pub imap: &'a ImapConfig,
    /// The store and the ingest pipeline, used on the blocking pool.
    pub db: Db,
    /// `store.max_message_bytes`: larger mail is not fetched.
    pub max_message_bytes: u64,
    /// `store.busy_timeout_ms`: part of what a transaction may take.
    pub busy_timeout: std::time::Duration,
    pub shutdown: watch::Receiver<bool>,
    /// Told after each commit (the courier sends what it queued).
    pub committed: Arc<Notify>,
    /// Readiness, watchdog deadlines and metrics.
    pub observer: Arc<Observer>,
    /// A reloaded config (SIGHUP), applied before the next batch.
    pub reload: Option<watch::Receiver<Arc<Config>>>,
    pub stats: Stats,
    /// UIDs moved whose owed-move rows are still in the database; deleted
    /// with the next batch's commit, or by [`Worker::flush_moves`].
    pub moved_unrecorded: Vec<u32>,
    /// Committed messages not yet moved, by destination folder.
    pub owed: BTreeMap<String, Vec<u32>>,
}

impl Worker<'_> {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `wait`, or less if shutdown is asked for; true when it was.
    pub async fn sleep_or_shutdown(&mut self, wait: Duration) -> bool {
        if self.stopping() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = self.shutdown.changed() => true,
        }
    }

    /// One connection, from login to logout (or to the error that ends it).
    pub async fn session(&mut self, mode: Mode, backoff: &mut Backoff) -> Result<(), DaemonError> {
        let cfg = self.imap;
        let limit = Duration::from_secs(cfg.timeout_secs);
        // A login is a few timed round trips.
        self.observer.expect_within(limit * 6);
        let mut mb = imap::connect(cfg).await?;
        self.observer.imap_connected(true);
        backoff.reset();
        tracing::info!(
            host = %cfg.host,
            user = %cfg.username,
            idle = mb.idle,
            r#move = mb.has_move,
            "connected to the mailbox"
        );
        mb.ensure_folder(&cfg.processed_folder).await?;
        mb.ensure_folder(&cfg.failed_folder).await?;
        let selected = mb.select(&cfg.folder).await?;
        let validity = selected.uid_validity;
        let folder = cfg.folder.clone();
        let state = self
            .db
            .run(move |p, _| {
                let tx = p.store.write()?;
                let state = imap_state::open_folder(&tx, &folder, validity)?;
                if let Some(old) = state.reset_from {
                    let detail = format!(
                        "UIDVALIDITY of {folder} changed from {old} to {validity}: reading the folder anew; \
                         messages already ingested are recognised as duplicates"
                    );
                    tracing::warn!(folder = %folder, old, new = validity, "{detail}");
                    apply::event(&tx, now(), None, "imap_uidvalidity_changed", &detail)?;
                }
                tx.commit()?;
                Ok(state)
            })
            .await?;
        self.settle_owed(&mut mb, validity).await?;
        let mut last = state.last_uid;
        self.moved_unrecorded.clear();
        self.owed.clear();
        loop {
            last = match self.drain(&mut mb, validity, last).await {
                Ok(last) => last,
                Err(DaemonError::Stopped) => {
                    mb.logout().await;
                    return Err(DaemonError::Stopped);
                }
                Err(e) => return Err(e),
            };
            self.flush_moves(validity).await?;
            self.observer.polled();
            if mode == Mode::Once || self.stopping() {
                mb.logout().await;
                return Ok(());
            }
            let poll = Duration::from_secs(cfg.poll_interval_secs);
            self.observer.expect_within(IDLE_FOR.max(poll) + limit * 2);
            match mb.wait(IDLE_FOR, poll, &mut self.shutdown).await? {
                Wake::Look => {}
                Wake::Shutdown => {
                    mb.logout().await;
                    return Ok(());
                }
            }
        }
    }

    /// Moves the committed messages out of the folder. Done in large sets:
    /// a Maildir server pays for each MOVE in proportion to the folder's
    /// size, so 200 moves of 50 cost far more than one of 10,000 (measured:
    /// 490 ms per 200-message MOVE in a 6,000-message INBOX).
    async fn move_owed(&mut self, mb: &mut Mailbox) -> Result<(), DaemonError> {
        for (dest, uids) in std::mem::take(&mut self.owed) {
            if uids.is_empty() {
                continue;
            }
            mb.move_to(&uids, &dest).await?;
            self.stats.moved += uids.len() as u64;
            self.moved_unrecorded.extend(uids);
        }
        Ok(())
    }

    /// Records the moves done since the last commit.
    async fn flush_moves(&mut self, validity: u32) -> Result<(), DaemonError> {
        if self.moved_unrecorded.is_empty() {
            return Ok(());
        }
        let folder = self.imap.folder.clone();
        let moved = std::mem::take(&mut self.moved_unrecorded);
        self.db
            .run(move |p, _| {
                let tx = p.store.write()?;
                imap_state::moves_done(&tx, &folder, validity, &moved)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Carries out the moves a crash (or a failed move) left owed.
    async fn settle_owed(&mut self, mb: &mut Mailbox, validity: u32) -> Result<(), DaemonError> {
        let folder = self.imap.folder.clone();
        let owed = self
            .db
            .run(move |p, _| Ok(imap_state::owed_moves(p.store.conn(), &folder, validity)?))
            .await?;
        if owed.is_empty() {
            return Ok(());
        }
        let present = mb.uids_after(0).await?;
        let mut by_dest: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (uid, dest) in &owed {
            if present.binary_search(uid).is_ok() {
                by_dest.entry(dest.clone()).or_default().push(*uid);
            }
        }
        tracing::info!(
            owed = owed.len(),
            still_present = by_dest.values().map(Vec::len).sum::<usize>(),
            "settling moves owed from an earlier session"
        );
        for (dest, uids) in &by_dest {
            mb.move_to(uids, dest).await?;
            self.stats.moved += uids.len() as u64;
        }
        let all: Vec<u32> = owed.iter().map(|(u, _)| *u).collect();
        let folder = self.imap.folder.clone();
        self.db
            .run(move |p, _| {
                let tx = p.store.write()?;
                imap_state::moves_done(&tx, &folder, validity, &all)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Takes a config reloaded by SIGHUP: the ingest pipeline is rebuilt from
    /// its [support] and [[rules]]; a config that cannot be used is logged
    /// and the running one kept.
    async fn apply_reload(&mut self) -> Result<(), DaemonError> {
        let Some(rx) = self.reload.as_mut() else {
            return Ok(());
        };
        if !rx.has_changed().unwrap_or(false) {
            return Ok(());
        }
        let config = rx.borrow_and_update().clone();
        self.db
            .run(move |p, _| {
                match Ingestor::new(&config, &mut p.store) {
                    Ok(i) => {
                        p.ingestor = i;
                        tracing::info!(
                            "reloaded: [support] and [[rules]] apply from the next message on"
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reload failed; the previous settings stay in force")
                    }
                }
                Ok(())
            })
            .await
    }

    /// Ingests everything above `last`; returns the new last committed UID.
    async fn drain(
        &mut self,
        mb: &mut Mailbox,
        validity: u32,
        mut last: u32,
    ) -> Result<u32, DaemonError> {
        let cfg = self.imap;
        self.apply_reload().await?;
        loop {
            if self.stopping() {
                self.move_owed(mb).await?;
                return Ok(last);
            }
            let uids = mb.uids_after(last).await?;
            if uids.is_empty() {
                self.move_owed(mb).await?;
                return Ok(last);
            }
            let sizes = mb.sizes(&uids).await?;
            tracing::info!(
                messages = uids.len(),
                bytes = sizes.iter().map(|(_, b)| u64::from(*b)).sum::<u64>(),
                "new mail waiting"
            );
            drop(uids);
            // Mail too large to fetch takes a place in its batch (so that the
            // batch's commit covers its UID) but no share of the memory budget.
            let limit = self.max_message_bytes;
            let weight = |b: u32| {
                if u64::from(b) > limit {
                    0
                } else {
                    u64::from(b)
                }
            };
            for range in plan::batches(&sizes, cfg.batch_size as usize, MAX_BATCH_BYTES, weight) {
                let batch = &sizes[range];
                let (to_fetch, too_large) = self.split(batch);
                match self.batch(mb, validity, &to_fetch, too_large).await {
                    Ok(()) => {}
                    Err(DaemonError::Stopped) => {
                        // This batch stays in the mailbox; earlier ones are moved.
                        self.move_owed(mb).await?;
                        return Err(DaemonError::Stopped);
                    }
                    Err(e) => return Err(e),
                }
                // Committed: from here on a crash only leaves moves owed.
                last = last.max(batch.iter().map(|(uid, _)| *uid).max().unwrap_or(last));
                if self.owed.values().map(Vec::len).sum::<usize>() >= MOVE_EVERY {
                    self.move_owed(mb).await?;
                }
                if self.stopping() {
                    // Leave a clean inbox: what is committed is moved now
                    // (had it not been, the next start would move it).
                    self.move_owed(mb).await?;
                    return Ok(last);
                }
            }
        }
    }

    /// The batch's UIDs to fetch, and those over `store.max_message_bytes`.
    fn split(&self, batch: &[(u32, u32)]) -> (Vec<u32>, Vec<TooLarge>) {
        let cfg = self.imap;
        let limit = self.max_message_bytes;
        let mut fetch = Vec::with_capacity(batch.len());
        let mut too_large = Vec::new();
        for &(uid, bytes) in batch {
            let bytes = u64::from(bytes);
            if bytes <= limit {
                fetch.push(uid);
                continue;
            }
            let detail = format!(
                "UID {uid} in {inbox}: {bytes} bytes, over store.max_message_bytes ({limit}); \
                 moved to {failed} without downloading it. To take it in, raise \
                 store.max_message_bytes, then move it back to {inbox}",
                inbox = cfg.folder,
                failed = cfg.failed_folder,
            );
            too_large.push(TooLarge { uid, bytes, detail });
        }
        (fetch, too_large)
    }

    /// One batch: fetch, then parse, decide and commit on the blocking pool
    /// (with the moves it owes, and the record of the mail too large to
    /// fetch), then note the moves owed.
    async fn batch(
        &mut self,
        mb: &mut Mailbox,
        validity: u32,
        uids: &[u32],
        too_large: Vec<TooLarge>,
    ) -> Result<(), DaemonError> {
        let cfg = self.imap;
        let timeouts = Duration::from_secs(cfg.timeout_secs) * 3 + Duration::from_secs(60);
        // A fetch, then (below) the transaction, then a move.
        self.observer.expect_within(timeouts);
        let started = Instant::now();
        let fetched = mb.fetch(uids).await?;
        let fetch_ms = started.elapsed().as_millis() as u64;
        let bytes: u64 = fetched.iter().map(|f| f.raw.len() as u64).sum();
        // However long the ingest takes, the runtime stays free (the watchdog
        // is fed, /healthz answers); only one past this budget is stuck.
        self.observer
            .expect_within(plan::ingest_budget(bytes, self.busy_timeout));
        let at = now();
        let fetched_uids: Vec<u32> = fetched.iter().map(|f| f.uid).collect();
        let mails: Vec<Arrival<Vec<u8>>> = fetched
            .into_iter()
            .map(|f| Arrival {
                raw: f.raw,
                arrived: f.arrived.unwrap_or(at),
            })
            .collect();
        let job = BatchJob {
            folder: cfg.folder.clone(),
            processed: cfg.processed_folder.clone(),
            failed: cfg.failed_folder.clone(),
            validity,
            uids: fetched_uids.clone(),
            too_large: too_large.iter().map(|t| t.detail.clone()).collect(),
            too_large_uids: too_large.iter().map(|t| t.uid).collect(),
            moved: self.moved_unrecorded.clone(),
        };
        let reports = self
            .db
            .run(move |p, cancel| Ok(job.run(p, &mails, at, cancel)?))
            .await?;
        self.observer.expect_within(timeouts);
        self.moved_unrecorded.clear();
        self.committed.notify_one();
        let ingest_ms = started.elapsed().as_millis() as u64 - fetch_ms;
        let outcomes: Vec<Outcome> = reports.iter().map(|r| r.outcome).collect();
        self.observer
            .ingested(&outcomes, Duration::from_millis(ingest_ms));
        self.observer.too_large(too_large.len() as u64);
        let (processed, failed) = (cfg.processed_folder.as_str(), cfg.failed_folder.as_str());
        let mut to_processed = Vec::new();
        let mut to_failed = Vec::new();
        for (uid, r) in fetched_uids.iter().copied().zip(&reports) {
            *self.stats.outcomes.entry(r.outcome).or_default() += 1;
            if r.outcome == Outcome::Quarantined {
                tracing::warn!(
                    uid,
                    outcome = %r.outcome,
                    reason = r.reason.as_deref(),
                    message_id = r.message_id.as_deref(),
                    folder = failed,
                    "message quarantined (kept whole); see `ticketd quarantine list`"
                );
                to_failed.push(uid);
            } else {
                // One line per message: what became of it, never its text.
                tracing::info!(
                    uid,
                    outcome = %r.outcome,
                    ticket = r.ticket,
                    reason = r.reason.as_deref(),
                    message_id = r.message_id.as_deref(),
                    "message ingested"
                );
                to_processed.push(uid);
            }
        }
        for t in &too_large {
            tracing::warn!(
                uid = t.uid,
                bytes = t.bytes,
                limit = self.max_message_bytes,
                folder = failed,
                inbox = %cfg.folder,
                "message over store.max_message_bytes moved to the failed folder without \
                 downloading it; to take it in, raise store.max_message_bytes and move it back \
                 to the inbox"
            );
            to_failed.push(t.uid);
        }
        self.stats.fetched += reports.len() as u64;
        self.stats.too_large += too_large.len() as u64;
        self.owed
            .entry(processed.to_owned())
            .or_default()
            .extend(to_processed);
        self.owed
            .entry(failed.to_owned())
            .or_default()
            .extend(to_failed);
        tracing::info!(
            messages = reports.len(),
            too_large = too_large.len(),
            ms = started.elapsed().as_millis() as u64,
            fetch_ms,
            ingest_ms,
            bytes,
            "batch committed"
        );
        Ok(())
    }
}

/// What a batch's transaction records besides the tickets: where each
/// message goes, and the mail too large to fetch. Owned, for the blocking pool.
struct BatchJob {
    folder: String,
    processed: String,
    failed: String,
    validity: u32,
    /// The fetched messages' UIDs, in the order of the mails ingested.
    uids: Vec<u32>,
    too_large_uids: Vec<u32>,
    /// The `mail_too_large` event of each of `too_large_uids`.
    too_large: Vec<String>,
    /// Moves done since the last commit: recorded with this one.
    moved: Vec<u32>,
}

impl BatchJob {
    fn run(
        self,
        p: &mut Parts,
        mails: &[Arrival<Vec<u8>>],
        at: Timestamp,
        cancel: &super::db::Cancel,
    ) -> Result<Vec<Report>, StoreError> {
        let Parts { store, ingestor } = p;
        ingestor.ingest_batch_then(store, mails, at, |conn, reports| {
            if cancel.is_set() {
                // Shutdown stopped waiting: whatever an interrupt did to a
                // message (it may have been quarantined for it), none commits.
                return Err(StoreError::Invalid(
                    "shutdown: the batch in hand is rolled back".into(),
                ));
            }
            let mut moves: Vec<(u32, &str)> = self
                .uids
                .iter()
                .zip(reports)
                .map(|(uid, r)| {
                    let dest = if r.outcome == Outcome::Quarantined {
                        &self.failed
                    } else {
                        &self.processed
                    };
                    (*uid, dest.as_str())
                })
                .collect();
            for (uid, detail) in self.too_large_uids.iter().zip(&self.too_large) {
                apply::event(conn, at, None, "mail_too_large", detail)?;
                moves.push((*uid, self.failed.as_str()));
            }
            imap_state::record_batch(conn, &self.folder, self.validity, &moves)?;
            // The previous batch's moves are done: record that here rather
            // than pay a commit (an fsync) of its own.
            imap_state::moves_done(conn, &self.folder, self.validity, &self.moved)
        })
    }
}
