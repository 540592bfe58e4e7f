//! The sd_notify(3) protocol (`Type=notify` units): a datagram to
//! `$NOTIFY_SOCKET`, a no-op when systemd did not set it. A failed send is
//! logged at debug level only: it never stops the daemon.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

use super::{status_line, Backlog, Observer};
use crate::clock::now;
use crate::store::{queries, Store};

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

/// READY=1: the database is open and the first IMAP login succeeded.
pub fn ready() {
    send(&[
        NotifyState::Ready,
        NotifyState::Status("connected; reading the mailbox"),
    ]);
}

/// STOPPING=1: SIGTERM received, finishing the batch in hand.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing the batch in hand"),
    ]);
}

/// RELOADING=1 before a SIGHUP reload; [`reloaded`] after it. Only once
/// ready: a reload during start-up must not report the service ready early.
pub fn reloading(observer: &Observer) {
    if !observer.is_ready() {
        return;
    }
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn reloaded(observer: &Observer) {
    if observer.is_ready() {
        send(&[NotifyState::Ready]);
    }
}

/// Every few seconds (and at half the watchdog interval when `WatchdogSec=`
/// is set): reads the backlog, updates the gauges and the STATUS= line, and
/// feeds the watchdog while the mailbox loop keeps to its deadlines.
pub async fn status_task(observer: Arc<Observer>, store: Store, mut stop: watch::Receiver<bool>) {
    let watchdog = sd_notify::watchdog_enabled();
    let every = watchdog
        .map(|w| (w / 2).min(Duration::from_secs(5)))
        .unwrap_or(Duration::from_secs(5))
        .max(Duration::from_millis(100));
    let mut warned = false;
    // The backlog is read less often than the watchdog is fed: it counts rows.
    let mut backlog = Backlog::default();
    let mut read_at: Option<std::time::Instant> = None;
    while !*stop.borrow() {
        if read_at.is_none_or(|t| t.elapsed() >= BACKLOG_EVERY) {
            backlog = read_backlog(&store);
            observer.backlog(&backlog);
            read_at = Some(std::time::Instant::now());
        }
        let line = status_line(&observer, &backlog);
        match (watchdog, observer.overdue()) {
            (Some(_), None) => {
                warned = false;
                send(&[NotifyState::Status(&line), NotifyState::Watchdog]);
            }
            (Some(w), Some(late)) => {
                if !warned {
                    tracing::error!(
                        overdue_secs = late.as_secs(),
                        watchdog_secs = w.as_secs(),
                        "the mailbox loop is stuck past its own timeouts; no longer feeding the watchdog, systemd will restart ticketd"
                    );
                    warned = true;
                }
                send(&[NotifyState::Status(&line)]);
            }
            (None, _) => send(&[NotifyState::Status(&line)]),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// How often the status task counts tickets and outbox rows.
const BACKLOG_EVERY: Duration = Duration::from_secs(15);

fn read_backlog(store: &Store) -> Backlog {
    match queries::backlog(store.conn(), now()) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the outbox backlog for the status line");
            Backlog::default()
        }
    }
}
