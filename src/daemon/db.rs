//! The mailbox worker's database work, off the async runtime. The store (one
//! rusqlite `Connection`: `Send`, not `Sync`) and the ingest pipeline are
//! lent to tokio's blocking pool for each job and handed back when it
//! returns, one job at a time (SQLite has one writer anyway). So a long
//! ingest — a huge mail, a database locked for `busy_timeout_ms` — never
//! stops `/healthz`, the watchdog, IDLE or the courier.
//!
//! On shutdown a job gets [`GRACE`] to finish (the batch in hand commits and
//! is moved). Then it is cancelled: the statement SQLite is running is
//! interrupted, and a job checks [`Cancel`] just before it commits, so its
//! transaction rolls back. A job that still has not returned
//! [`AFTER_INTERRUPT`] later (it is parsing, or waiting for the write lock,
//! which no interrupt reaches) is abandoned: the process exits without it.
//! Nothing of that work was acknowledged in the mailbox, so the next start
//! reads the message again — never lost, never doubled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::DaemonError;
use crate::ingest::Ingestor;
use crate::store::Store;

/// How long shutdown waits for the job in hand before cancelling it.
pub const GRACE: Duration = Duration::from_secs(2);
/// How long a cancelled job may take to roll back before it is abandoned.
pub const AFTER_INTERRUPT: Duration = Duration::from_secs(1);

/// What a job works with.
pub struct Parts {
    pub store: Store,
    pub ingestor: Ingestor,
}

/// Set once shutdown stopped waiting for a job: the job must not commit
/// (checked inside its transaction, just before the commit).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The store and the ingest pipeline, and the means to stop a job.
pub struct Db {
    /// `None` while a job has them, and for good once one was abandoned.
    parts: Option<Parts>,
    interrupt: rusqlite::InterruptHandle,
    shutdown: watch::Receiver<bool>,
}

impl Db {
    pub fn new(parts: Parts, shutdown: watch::Receiver<bool>) -> Db {
        Db {
            interrupt: parts.store.conn().get_interrupt_handle(),
            parts: Some(parts),
            shutdown,
        }
    }

    /// Runs `job` on the blocking pool and waits for it. On shutdown: as the
    /// module says; [`DaemonError::Stopped`] when the job was cancelled or
    /// abandoned (then nothing of it committed, or it committed in full).
    pub async fn run<T, F>(&mut self, job: F) -> Result<T, DaemonError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Parts, &Cancel) -> Result<T, DaemonError> + Send + 'static,
    {
        let mut parts = self.parts.take().ok_or(DaemonError::Stopped)?;
        let cancel = Cancel::default();
        let told = cancel.clone();
        let mut handle = tokio::task::spawn_blocking(move || {
            let r = job(&mut parts, &told);
            (parts, r)
        });
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            joined = &mut handle => return self.settle(joined, &cancel),
            () = asked(&mut shutdown) => {}
        }
        if let Ok(joined) = tokio::time::timeout(GRACE, &mut handle).await {
            return self.settle(joined, &cancel);
        }
        cancel.set();
        self.interrupt.interrupt();
        if let Ok(joined) = tokio::time::timeout(AFTER_INTERRUPT, &mut handle).await {
            return self.settle(joined, &cancel);
        }
        tracing::warn!(
            waited_secs = (GRACE + AFTER_INTERRUPT).as_secs(),
            "shutdown: not waiting any longer for the message in hand; it was not acknowledged \
             and stays in the mailbox, the next start reads it again"
        );
        Err(DaemonError::Stopped)
    }

    fn settle<T>(
        &mut self,
        joined: Result<(Parts, Result<T, DaemonError>), tokio::task::JoinError>,
        cancel: &Cancel,
    ) -> Result<T, DaemonError> {
        match joined {
            Ok((parts, r)) => {
                self.parts = Some(parts);
                match r {
                    // Whatever failed after the cancel, it failed because of it.
                    Err(_) if cancel.is_set() => Err(DaemonError::Stopped),
                    r => r,
                }
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(DaemonError::Stopped),
        }
    }
}

/// Resolves once shutdown is asked for (never, if nobody can ask any more).
async fn asked(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;
    use std::time::Instant;

    fn parts(dir: &tempfile::TempDir) -> Parts {
        let config = crate::config::Config::parse(
            "[store]\npath = \"t.db\"\n[support]\naddress = \"support@example.test\"\nportal_url = \"https://support.example.test\"\n",
            dir.path(),
        )
        .expect("config");
        let mut store = Store::from_config(&config.store, Durability::Normal).expect("store");
        let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
        Parts { store, ingestor }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_off_the_runtime_and_hand_the_store_back() {
        let dir = tempfile::tempdir().expect("dir");
        let (_tx, rx) = watch::channel(false);
        let mut db = Db::new(parts(&dir), rx);
        // The runtime keeps ticking while a job blocks its thread.
        let ticks = tokio::spawn(async {
            let mut n = 0;
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                n += 1;
            }
            n
        });
        let r = db
            .run(|_, _| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(7)
            })
            .await
            .expect("job");
        assert_eq!(r, 7);
        assert_eq!(ticks.await.expect("ticks"), 10);
        let n: i64 = db
            .run(|p, _| {
                Ok(p.store
                    .conn()
                    .query_row("SELECT 41 + 1", [], |r| r.get(0))?)
            })
            .await
            .expect("store handed back");
        assert_eq!(n, 42);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn shutdown_cancels_then_abandons_a_job_that_does_not_return() {
        let dir = tempfile::tempdir().expect("dir");
        let (tx, rx) = watch::channel(false);
        let mut db = Db::new(parts(&dir), rx);
        // A job that sees the cancel and gives up: Stopped, store back.
        let stop = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(true);
            }
        });
        let started = Instant::now();
        let r: Result<(), _> = db
            .run(|_, cancel| {
                while !cancel.is_set() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(DaemonError::Stopped)
            })
            .await;
        stop.await.expect("stop");
        assert!(matches!(r, Err(DaemonError::Stopped)), "{r:?}");
        assert!(started.elapsed() < GRACE + AFTER_INTERRUPT);
        assert!(db.parts.is_some(), "a cancelled job hands the store back");
        // A job that ignores everything: abandoned after the grace periods.
        let started = Instant::now();
        let r: Result<(), _> = db
            .run(|_, _| {
                std::thread::sleep(GRACE + AFTER_INTERRUPT * 2);
                Ok(())
            })
            .await;
        assert!(matches!(r, Err(DaemonError::Stopped)), "{r:?}");
        let waited = started.elapsed();
        assert!(
            waited >= GRACE + AFTER_INTERRUPT && waited < GRACE + AFTER_INTERRUPT * 2,
            "{waited:?}"
        );
        assert!(matches!(
            db.run(|_, _| Ok(())).await,
            Err(DaemonError::Stopped)
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_interrupt_stops_a_long_statement() {
        let dir = tempfile::tempdir().expect("dir");
        let (tx, rx) = watch::channel(false);
        let mut db = Db::new(parts(&dir), rx);
        let _ = tx.send(true);
        let started = Instant::now();
        // Runs for minutes unless interrupted.
        let r: Result<i64, _> = db
            .run(|p, _| {
                Ok(p.store.conn().query_row(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await;
        assert!(matches!(r, Err(DaemonError::Stopped)), "{r:?}");
        assert!(
            started.elapsed() < GRACE + AFTER_INTERRUPT,
            "interrupted, not abandoned"
        );
        assert!(db.parts.is_some());
    }
}
