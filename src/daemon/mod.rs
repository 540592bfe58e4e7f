//! `ticketd run`: keeps the support mailbox empty. Every message is fetched,
//! ingested through the same pipeline as `ticketd ingest`, committed, and
//! only then moved out of the inbox (quarantined mail to the failed folder).
//!
//! Crash safety rests on two facts. A batch's tickets and the moves it owes
//! (`imap_moves`) commit in one transaction before anything is moved; so a
//! crash before the commit leaves the messages to be fetched again, and a
//! crash after it leaves owed moves that the next session carries out
//! without ingesting anything twice. And every message's Message-ID (or
//! hash) is remembered, so even a message fetched twice — after a
//! UIDVALIDITY change, say — is a `duplicate`, never a second ticket.
//!
//! All database work (parse, decide, commit; the mailbox bookkeeping) runs
//! on the blocking pool (`db.rs`); the async side only talks IMAP and waits.
//! Mail over `store.max_message_bytes` is never downloaded: its size is
//! known before the fetch, and it is moved to the failed folder unread.

mod db;
mod folder;
mod plan;

use std::time::Duration;

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::backoff::{self, Backoff};
use crate::config::{Config, ImapConfig};
use crate::imap::ImapError;
use crate::ingest::{Ingestor, SetupError};
use crate::observe::Observer;
use crate::store::{Durability, Store, StoreError};

pub use folder::Stats;

/// How long one IDLE lasts before it is renewed (RFC 2177: under 29 minutes).
const IDLE_FOR: Duration = Duration::from_secs(25 * 60);
/// About this much mail is held in memory at once, whatever the mailbox size.
const MAX_BATCH_BYTES: u64 = 8 * 1024 * 1024;
/// Committed messages are moved out of the folder once this many are owed
/// (and whenever the folder is drained).
const MOVE_EVERY: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Imap(#[from] ImapError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(#[from] SetupError),
    #[error("`ticketd run` reads a mailbox: add an [imap] section to the config (see config/ticketd.example.toml)")]
    NoImap,
    /// Shutdown did not wait for the database work in hand (it rolled back
    /// or was abandoned; nothing of it was acknowledged in the mailbox).
    #[error("stopped before the work in hand committed; the mailbox still holds it")]
    Stopped,
}

impl From<rusqlite::Error> for DaemonError {
    fn from(e: rusqlite::Error) -> DaemonError {
        DaemonError::Store(e.into())
    }
}

impl DaemonError {
    /// Whether trying again later may work (the exit code says so: 75).
    pub fn is_temporary(&self) -> bool {
        match self {
            DaemonError::Imap(e) => !e.needs_operator(),
            DaemonError::Store(e) => e.is_temporary(),
            DaemonError::Setup(_) | DaemonError::NoImap | DaemonError::Stopped => false,
        }
    }
}

/// Whether to keep watching or stop when the mailbox is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forever,
    Once,
}

/// How the mailbox loop talks to the rest of the process.
pub struct Hooks {
    /// Notified after every commit, so the courier sends what the batch
    /// queued at once.
    pub committed: Arc<Notify>,
    /// Readiness, watchdog deadlines, metrics.
    pub observer: Arc<Observer>,
    /// A new config after SIGHUP: its [support] and [[rules]] apply from the
    /// next batch on.
    pub reload: Option<watch::Receiver<Arc<Config>>>,
}

/// Runs until `shutdown` turns true (then finishes the batch in hand) or,
/// with [`Mode::Once`], until the mailbox is empty.
pub async fn run(
    config: &Config,
    mode: Mode,
    shutdown: watch::Receiver<bool>,
    hooks: Hooks,
) -> Result<Stats, DaemonError> {
    let Hooks {
        committed,
        observer,
        reload,
    } = hooks;
    let imap = config.imap.as_ref().ok_or(DaemonError::NoImap)?;
    let owned = config.clone();
    let parts = tokio::task::spawn_blocking(move || -> Result<db::Parts, DaemonError> {
        // fsync on every commit: a message is moved out of the inbox right after.
        let mut store = Store::from_config(&owned.store, Durability::Full)?;
        store.tune_for_batches()?;
        let ingestor = Ingestor::new(&owned, &mut store)?;
        Ok(db::Parts { store, ingestor })
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let mut d = folder::Worker {
        imap,
        db: db::Db::new(parts, shutdown.clone()),
        max_message_bytes: config.store.max_message_bytes,
        busy_timeout: Duration::from_millis(config.store.busy_timeout_ms),
        shutdown,
        committed,
        observer: observer.clone(),
        reload,
        stats: Stats::default(),
        moved_unrecorded: Vec::new(),
        owed: Default::default(),
    };
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    loop {
        match d.session(mode, &mut backoff).await {
            Ok(()) | Err(DaemonError::Stopped) => return Ok(d.stats),
            Err(e) if mode == Mode::Once => return Err(e),
            Err(e) => match retry_wait(&e, imap, &mut backoff) {
                None => return Err(e),
                Some(wait) => {
                    observer.imap_connected(false);
                    // Waiting is what the loop is supposed to do now.
                    observer.expect_within(wait + Duration::from_secs(30));
                    if d.sleep_or_shutdown(wait).await {
                        return Ok(d.stats);
                    }
                }
            },
        }
    }
}

/// How long to wait after `e`, logged so an operator sees what happens;
/// `None` for an error no wait can cure (it ends the run).
fn retry_wait(e: &DaemonError, imap: &ImapConfig, backoff: &mut Backoff) -> Option<Duration> {
    let wait = match e {
        DaemonError::Imap(i) if i.needs_operator() => backoff::OPERATOR_WAIT,
        DaemonError::Imap(_) => backoff.next(crate::clock::jitter()),
        DaemonError::Store(s) if s.is_temporary() => backoff.next(crate::clock::jitter()),
        DaemonError::Store(_)
        | DaemonError::Setup(_)
        | DaemonError::NoImap
        | DaemonError::Stopped => return None,
    };
    tracing::error!(
        error = %e,
        host = %imap.host,
        retry_in_secs = wait.as_secs_f32(),
        failures = backoff.failures(),
        "mailbox unavailable; nothing is lost, retrying"
    );
    Some(wait)
}
