//! The Prometheus metrics (prometheus-client, the Prometheus project's own
//! Rust client): names, help texts, and label sets in one place.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::Backlog;
use crate::domain::model::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

pub(super) struct Metrics {
    registry: Registry,
    messages: Family<OutcomeLabel, Counter>,
    notifications: Family<OutcomeLabel, Counter>,
    outbox: Family<StatusLabel, Gauge>,
    outbox_oldest_pending: Gauge<f64, AtomicU64>,
    tickets_today: Gauge,
    pub last_poll: Gauge<f64, AtomicU64>,
    pub imap_connected: Gauge,
    pub ingest_seconds: Histogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::with_prefix("ticketd"),
            messages: Family::default(),
            notifications: Family::default(),
            outbox: Family::default(),
            outbox_oldest_pending: Gauge::default(),
            tickets_today: Gauge::default(),
            last_poll: Gauge::default(),
            imap_connected: Gauge::default(),
            // 0.25 ms … 4 s per message.
            ingest_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
        };
        let mut m = m;
        let r = &mut m.registry;
        r.register(
            "messages",
            "Messages taken from the mailbox, by outcome: ingested as created, updated, duplicate, \
             ignored, refused or quarantined (kept whole, see `ticketd quarantine list`); too_large: \
             over store.max_message_bytes, moved to the failed folder unread (not quarantined: raise \
             the limit and move it back to the inbox)",
            m.messages.clone(),
        );
        r.register(
            "notifications",
            "Notification delivery attempts, by outcome (sent, deferred, failed)",
            m.notifications.clone(),
        );
        r.register("outbox", "Outbox rows by delivery status", m.outbox.clone());
        r.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest notification still waiting to be sent (0: none)",
            m.outbox_oldest_pending.clone(),
        );
        r.register(
            "tickets_created_today",
            "Tickets created since midnight UTC",
            m.tickets_today.clone(),
        );
        r.register(
            "last_poll_timestamp_seconds",
            "When the mailbox was last read to the end without error (Unix time)",
            m.last_poll.clone(),
        );
        r.register(
            "imap_connected",
            "1 while logged in to the IMAP server",
            m.imap_connected.clone(),
        );
        r.register(
            "ingest_seconds",
            "Time to ingest one message (parse, decide, store), from each batch's average",
            m.ingest_seconds.clone(),
        );
        m
    }

    pub fn message(&self, o: Outcome) {
        self.messages_by(o.as_str(), 1);
    }

    /// `n` messages over `store.max_message_bytes`, moved unread.
    pub fn too_large(&self, n: u64) {
        self.messages_by("too_large", n);
    }

    fn messages_by(&self, outcome: &str, n: u64) {
        self.messages
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    pub fn delivery(&self, outcome: &str) {
        self.notifications
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn backlog(&self, b: &Backlog) {
        for (status, n) in [
            ("pending", b.pending),
            ("sent", b.sent),
            ("failed", b.failed),
        ] {
            self.outbox
                .get_or_create(&StatusLabel {
                    status: status.to_owned(),
                })
                .set(n);
        }
        self.outbox_oldest_pending
            .set(b.oldest_pending_secs.unwrap_or(0) as f64);
        self.tickets_today.set(b.tickets_today);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
