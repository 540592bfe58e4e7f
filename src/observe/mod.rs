//! What the running daemon tells about itself: to systemd (READY=1 after the
//! database is open and the first IMAP login, STATUS= lines, WATCHDOG=1 while
//! the mailbox loop keeps its promises, STOPPING=1) and to Prometheus
//! (`[metrics] listen`: `/metrics` and `/healthz`). The mailbox loop and the
//! courier report into one [`Observer`]; a status task reads the database
//! every few seconds for the backlog figures.

pub mod http;
mod metrics;
pub mod systemd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::domain::model::Outcome;
use metrics::Metrics;

/// Shared by the mailbox loop, the courier, the status task and the HTTP
/// endpoint; cheap to update (atomics and one small lock).
pub struct Observer {
    metrics: Metrics,
    /// The mailbox loop promises to be heard from again by then.
    deadline: Mutex<Option<Instant>>,
    ready: AtomicBool,
    connected: AtomicBool,
    last_poll: Mutex<Option<SystemTime>>,
}

impl Default for Observer {
    fn default() -> Observer {
        Observer::new()
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl Observer {
    pub fn new() -> Observer {
        Observer {
            metrics: Metrics::new(),
            deadline: Mutex::new(None),
            ready: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            last_poll: Mutex::new(None),
        }
    }

    /// The mailbox loop is about to do something that takes at most `d`
    /// (a login, a batch, an IDLE): the watchdog stays fed until then.
    pub fn expect_within(&self, d: Duration) {
        if let Ok(mut g) = self.deadline.lock() {
            *g = Some(Instant::now() + d);
        }
    }

    /// Whether the mailbox loop is overdue (stuck past its own timeouts).
    pub fn overdue(&self) -> Option<Duration> {
        let deadline = (*self.deadline.lock().ok()?)?;
        Instant::now().checked_duration_since(deadline)
    }

    /// Logged in (or lost the connection). The first login makes the
    /// service ready: the database was opened before.
    pub fn imap_connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
        self.metrics.imap_connected.set(i64::from(yes));
        if yes && !self.ready.swap(true, Ordering::Relaxed) {
            systemd::ready();
        }
    }

    /// Whether READY=1 was sent (the first login succeeded).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The folder was read to the end without error.
    pub fn polled(&self) {
        let now = SystemTime::now();
        if let Ok(mut g) = self.last_poll.lock() {
            *g = Some(now);
        }
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.metrics.last_poll.set(secs);
    }

    pub fn last_poll(&self) -> Option<SystemTime> {
        *self.last_poll.lock().ok()?
    }

    /// A committed batch: its outcomes, and the ingest time per message.
    pub fn ingested(&self, outcomes: &[Outcome], ingest: Duration) {
        if outcomes.is_empty() {
            return;
        }
        let each = ingest.as_secs_f64() / outcomes.len() as f64;
        for o in outcomes {
            self.metrics.message(*o);
            self.metrics.ingest_seconds.observe(each);
        }
    }

    /// Mail over `store.max_message_bytes` moved to the failed folder unread
    /// (its batch committed): counted as outcome `too_large`.
    pub fn too_large(&self, n: u64) {
        if n > 0 {
            self.metrics.too_large(n);
        }
    }

    /// One notification's delivery attempt: "sent", "deferred" or "failed".
    pub fn delivery(&self, outcome: &'static str) {
        self.metrics.delivery(outcome);
    }

    /// The backlog, as the status task last read it.
    pub fn backlog(&self, b: &Backlog) {
        self.metrics.backlog(b);
    }

    /// Prometheus text exposition of every metric.
    pub fn render_metrics(&self) -> String {
        self.metrics.render()
    }
}

/// Figures read from the database for STATUS= and the gauges.
pub use crate::store::queries::Backlog;

/// The line `systemctl status` shows: "last poll 23:04:05Z · 17 tickets today
/// · outbox 3 pending (oldest 2 min), 1 failed".
pub fn status_line(o: &Observer, b: &Backlog) -> String {
    let poll = match o.last_poll() {
        Some(t) => {
            let secs = t
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let ts = crate::domain::time::Timestamp(secs).to_string();
            format!("last poll {}", ts.get(11..).unwrap_or(&ts))
        }
        None if o.is_connected() => "connected, first poll running".into(),
        None => "not connected to the mailbox yet".into(),
    };
    let mut outbox = format!("outbox {} pending", b.pending);
    if let Some(age) = b.oldest_pending_secs.filter(|a| *a >= 60) {
        outbox.push_str(&format!(" (oldest {} min)", age / 60));
    }
    if b.failed > 0 {
        outbox.push_str(&format!(", {} failed", b.failed));
    }
    format!(
        "{poll} · {} ticket{} today · {outbox}",
        b.tickets_today,
        if b.tickets_today == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_reads_like_a_sentence() {
        let o = Observer::new();
        let b = Backlog {
            tickets_today: 1,
            pending: 3,
            failed: 2,
            oldest_pending_secs: Some(150),
            ..Backlog::default()
        };
        assert_eq!(
            status_line(&o, &b),
            "not connected to the mailbox yet · 1 ticket today · outbox 3 pending (oldest 2 min), 2 failed"
        );
        o.polled();
        assert!(
            status_line(&o, &b).starts_with("last poll "),
            "{}",
            status_line(&o, &b)
        );
    }

    #[test]
    fn the_watchdog_deadline() {
        let o = Observer::new();
        assert_eq!(o.overdue(), None, "no promise made yet");
        o.expect_within(Duration::from_secs(60));
        assert_eq!(o.overdue(), None);
        o.expect_within(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert!(o.overdue().is_some());
    }

    #[test]
    fn metrics_count_outcomes_and_deliveries() {
        let o = Observer::new();
        o.ingested(
            &[Outcome::Created, Outcome::Created, Outcome::Ignored],
            Duration::from_millis(3),
        );
        o.too_large(0);
        o.too_large(2);
        o.delivery("sent");
        o.imap_connected(true);
        let text = o.render_metrics();
        for line in [
            "ticketd_messages_total{outcome=\"created\"} 2",
            "ticketd_messages_total{outcome=\"ignored\"} 1",
            "ticketd_messages_total{outcome=\"too_large\"} 2",
            "ticketd_notifications_total{outcome=\"sent\"} 1",
            "ticketd_imap_connected 1",
            // Never ingested: no share of the ingest time.
            "ticketd_ingest_seconds_count 3",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
