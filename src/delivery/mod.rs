//! Delivery: the outbox, sent over SMTP (DESIGN §4). A row is marked only
//! after the server answered, so a crash between the two may send that one
//! row again and never loses it. The relay being down is not the rows'
//! fault: it costs them no try; the courier waits (backing off) instead.
//! Sessions are reused from one notification to the next within a pass.
//! A password link's token is minted here, as its mail is composed, so it
//! exists in that mail only (the database keeps its hash).
//!
//! Every database call runs on tokio's blocking pool (the connection is lent
//! to it and handed back, see [`on_pool`]): another process holding the
//! write lock makes the courier wait up to `store.busy_timeout_ms`, never the
//! runtime (`/healthz`, the watchdog, IDLE). Shutdown waits for a job in
//! hand: each is one short transaction, bounded by that busy timeout.

pub mod compose;
pub mod html_body;
pub mod transport;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::sync::{watch, Notify};

use crate::backoff::{self, Backoff};
use crate::clock::jitter;
use crate::clock::now;
use crate::config::{Config, SmtpConfig};
use crate::domain::address::Addressing;
use crate::domain::model::email_domain;
use crate::domain::retry::{classify_reply, Attempt, Next, RetryPolicy};
use crate::domain::time::Timestamp;
use crate::observe::Observer;
use crate::store::outbox::{self, Claimed, Recorded};
use crate::store::tokens;
use crate::store::{Durability, Store, StoreError};
use compose::{compose, Identity, Outgoing};
use transport::{Connector, SmtpFailure, TransportError};

/// Rows claimed at once; a pass keeps claiming until nothing is due.
const PAGE: usize = 256;
/// How long a claim keeps other couriers off a row (far beyond any send's
/// timeouts); a crash leaves it to be sent again after this.
const CLAIM_SECS: i64 = 600;
/// With nothing due, look again this often anyway: `ticketd ingest` (an MTA
/// pipe), `users reset-password` or `tickets update` may have queued rows
/// from another process, and a person waiting for a password link should
/// not wait long. One indexed query on the blocking pool each time.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("SMTP server {server} unavailable: {reason}. Nothing is lost: notifications wait in the outbox and go out when it answers")]
    RelayDown { server: String, reason: String },
    #[error(
        "SMTP server {server}: {reason}. Notifications wait in the outbox until the login works"
    )]
    LoginRefused { server: String, reason: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("support.address {address:?} cannot be a From address: {reason}")]
    Identity { address: String, reason: String },
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
}

impl PassStats {
    pub fn is_empty(&self) -> bool {
        self.sent + self.deferred + self.failed == 0
    }
}

impl std::fmt::Display for PassStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} deferred, {} failed",
            self.sent, self.deferred, self.failed
        )
    }
}

/// Sends the outbox: owns its own database connection and SMTP sessions.
pub struct Courier {
    /// `None` while a job has it on the blocking pool (and for good after a
    /// job was lost: see [`on_pool`]).
    store: Option<Store>,
    connector: Connector,
    identity: Identity,
    policy: RetryPolicy,
    concurrency: usize,
    /// `support.password_token_hours`: a minted link's lifetime.
    token_hours: u32,
    /// Sessions between two sends of a pass, reused by the next send.
    idle: Vec<AsyncSmtpConnection>,
    observer: Option<Arc<Observer>>,
}

impl Courier {
    pub fn new(config: &Config, smtp: &SmtpConfig) -> Result<Courier, DeliveryError> {
        // Marks are safe against a process crash without an fsync each: after
        // a power cut a row may be sent once more, which the contract allows.
        let mut store = Store::from_config(&config.store, Durability::Normal)?;
        let identity = identity(config, store.hmac_secret()?)?;
        let hello = email_domain(&config.support.address).unwrap_or("localhost");
        Ok(Courier {
            store: Some(store),
            connector: Connector::new(smtp, hello)?,
            identity,
            policy: RetryPolicy {
                max_attempts: smtp.max_attempts.max(1),
                ..RetryPolicy::default()
            },
            concurrency: smtp.concurrency.clamp(1, 32),
            token_hours: config.support.password_token_hours,
            idle: Vec::new(),
            observer: None,
        })
    }

    /// Counts every attempt in the daemon's metrics.
    pub fn observe(&mut self, observer: Arc<Observer>) {
        self.observer = Some(observer);
    }

    /// Sends every row that is due, up to `concurrency` at once, each session
    /// reused for the next row. Stops early (rows stay pending) once `stop`
    /// turns true; closes its sessions at the end.
    pub async fn pass(&mut self, stop: &watch::Receiver<bool>) -> Result<PassStats, DeliveryError> {
        let result = self.send_due(stop).await;
        self.close().await;
        result
    }

    async fn send_due(&mut self, stop: &watch::Receiver<bool>) -> Result<PassStats, DeliveryError> {
        let mut stats = PassStats::default();
        let mut relay_checked = false;
        while !*stop.borrow() {
            if !on_pool(&mut self.store, |s| outbox::any_due(s.conn(), now())).await? {
                break;
            }
            if !relay_checked {
                // Before any row is claimed or charged a try: can we reach
                // the server and log in?
                let first = self
                    .connector
                    .connect()
                    .await
                    .map_err(|f| self.relay_error(f))?;
                self.idle.push(first);
                relay_checked = true;
            }
            // Claimed rows are ours for a while: another courier (a
            // `ticketd run --once` from cron, say) skips them.
            let rows = on_pool(&mut self.store, |s| {
                let tx = s.write()?;
                let rows = outbox::claim_for_sending(&tx, now(), PAGE, CLAIM_SECS)?;
                tx.commit()?;
                Ok(rows)
            })
            .await?;
            if rows.is_empty() {
                break;
            }
            let bouncing = on_pool(&mut self.store, |s| outbox::bouncing(s.conn())).await?;
            let mut queue = VecDeque::with_capacity(rows.len());
            // Rows claimed but not attempted: handed back at the end.
            let mut unsent: Vec<i64> = Vec::new();
            // The store could not mint a link: those rows wait, no try spent.
            let mut mint_error: Option<DeliveryError> = None;
            for claimed in rows {
                if mint_error.is_some() && needs_token(&claimed.row) {
                    // One busy wait per pass is enough.
                    unsent.push(claimed.row.id);
                    continue;
                }
                match self.prepare(&claimed, &bouncing).await {
                    Ok(message) => queue.push_back((claimed.row, message)),
                    Err(Unready::Never(reason)) => {
                        record(
                            &mut self.store,
                            &self.policy,
                            self.observer.as_deref(),
                            claimed.row,
                            Attempt::Permanent,
                            reason,
                            &mut stats,
                        )
                        .await?
                    }
                    Err(Unready::Store(e)) => {
                        tracing::warn!(outbox = claimed.row.id, kind = %claimed.row.kind, error = %e, "cannot mint the password link now; the notification waits");
                        unsent.push(claimed.row.id);
                        mint_error.get_or_insert(e.into());
                    }
                }
            }
            let connector = &self.connector;
            let mut in_flight = FuturesUnordered::new();
            let mut relay_failure: Option<SmtpFailure> = None;
            let mut record_error: Option<DeliveryError> = None;
            loop {
                while in_flight.len() < self.concurrency
                    && !*stop.borrow()
                    && relay_failure.is_none()
                    && record_error.is_none()
                {
                    let Some((row, message)) = queue.pop_front() else {
                        break;
                    };
                    let session = self.idle.pop();
                    in_flight.push(send_one(connector, session, row, message));
                }
                let Some(sent) = in_flight.next().await else {
                    break;
                };
                let (row, result, session) = match sent {
                    Sent::NoSession(row, f) => {
                        // The server's trouble, not this row's: no try spent.
                        unsent.push(row.id);
                        relay_failure.get_or_insert(f);
                        continue;
                    }
                    Sent::Done(row, result, session) => (row, result, session),
                };
                self.idle.extend(session);
                let (attempt, detail) = match result {
                    Ok(reply) => (Attempt::Delivered, reply),
                    Err(f) if f.permanent => (Attempt::Permanent, f.message),
                    Err(f) => (
                        classify_reply(f.code),
                        format!("{}: {}", connector.server(), f.message),
                    ),
                };
                // Sends already in flight are still recorded after a failed
                // write, so a busy database resends as little as possible.
                // (The store is a field apart from the connector the sends
                // in flight borrow.)
                if let Err(e) = record(
                    &mut self.store,
                    &self.policy,
                    self.observer.as_deref(),
                    row,
                    attempt,
                    detail,
                    &mut stats,
                )
                .await
                {
                    record_error.get_or_insert(e);
                }
            }
            unsent.extend(queue.iter().map(|(row, _)| row.id));
            if !unsent.is_empty() {
                on_pool(&mut self.store, move |s| {
                    outbox::release(s.conn(), &unsent, now())
                })
                .await?;
            }
            if let Some(e) = record_error {
                return Err(e);
            }
            if let Some(f) = relay_failure {
                return Err(self.relay_error(f));
            }
            if let Some(e) = mint_error {
                return Err(e);
            }
        }
        Ok(stats)
    }

    fn relay_error(&self, f: SmtpFailure) -> DeliveryError {
        let server = self.connector.server();
        if f.login_refused {
            DeliveryError::LoginRefused {
                server,
                reason: f.message,
            }
        } else {
            DeliveryError::RelayDown {
                server,
                reason: f.message,
            }
        }
    }

    /// Whether the row can go at all: not to a bouncing address, and it
    /// composes; a password link gets its token first (committed before the
    /// mail is sent, so the stored hash is never older than the mail).
    async fn prepare(
        &mut self,
        claimed: &Claimed,
        bouncing: &HashSet<String>,
    ) -> Result<lettre::Message, Unready> {
        let row = &claimed.row;
        if let Some(b) = row.to.iter().find(|t| bouncing.contains(*t)) {
            return Err(Unready::Never(format!(
                "held: mail to {b} bounces; after fixing the address, `ticketd users clear-bounce {b}` lets new notifications through"
            )));
        }
        let never = |e: compose::ComposeError| Unready::Never(e.to_string());
        if !needs_token(row) {
            return compose(row, &self.identity).map_err(never);
        }
        let token = self.mint(claimed).await.map_err(|e| match e {
            StoreError::NotFound(reason) => Unready::Never(reason),
            e => Unready::Store(e),
        })?;
        // The token lives in this copy and the message made from it only.
        // The HTML is drawn from the text as queued, then filled like it.
        let filled = Outgoing {
            body_text: tokens::fill_placeholder(&row.body_text, &token),
            body_html: Some(tokens::fill_placeholder(&compose::html_of(row), &token)),
            ..row.clone()
        };
        compose(&filled, &self.identity).map_err(never)
    }

    /// Mints the row's token in a short write transaction of its own.
    async fn mint(&mut self, claimed: &Claimed) -> Result<String, StoreError> {
        let row = &claimed.row;
        let email = row
            .to
            .first()
            .ok_or_else(|| StoreError::NotFound(format!("outbox row {} has no recipient", row.id)))?
            .clone();
        let (id, token_id, hours) = (row.id, claimed.token_id, self.token_hours);
        on_pool(&mut self.store, move |s| {
            let tx = s.write()?;
            let token = tokens::mint_for_outbox(&tx, id, token_id, &email, now(), hours)?;
            tx.commit()?;
            Ok(token)
        })
        .await
    }

    /// The daemon's courier: a pass whenever ingestion wakes it, a row falls
    /// due, or `POLL` passes; backs off while the relay is down.
    pub async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        wake: Arc<Notify>,
        mut reload: Option<watch::Receiver<Arc<Config>>>,
    ) {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));
        while !*stop.borrow() {
            if let Some(rx) = reload.as_mut().filter(|r| r.has_changed().unwrap_or(false)) {
                let config = rx.borrow_and_update().clone();
                self.reidentify(&config).await;
            }
            let (wait, wake_early) = match self.pass(&stop).await {
                Ok(stats) => {
                    backoff.reset();
                    if !stats.is_empty() {
                        tracing::info!(
                            sent = stats.sent,
                            deferred = stats.deferred,
                            failed = stats.failed,
                            "outbox pass"
                        );
                    }
                    (self.until_next_due().await, true)
                }
                Err(e) => {
                    let wait = match e {
                        // Retrying a refused login every few seconds helps
                        // no one and may lock the account.
                        DeliveryError::LoginRefused { .. } => backoff::OPERATOR_WAIT,
                        _ => backoff.next(jitter()),
                    };
                    tracing::error!(error = %e, retry_in_secs = wait.as_secs_f32(), failures = backoff.failures(), "outbox delivery paused");
                    // New mail does not cut a backoff short.
                    (wait, false)
                }
            };
            tokio::select! {
                _ = wake.notified(), if wake_early => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn until_next_due(&mut self) -> Duration {
        match on_pool(&mut self.store, |s| outbox::next_due(s.conn())).await {
            Ok(Some(Timestamp(t))) => {
                Duration::from_secs((t - now().0).clamp(1, POLL.as_secs() as i64) as u64)
            }
            _ => POLL,
        }
    }

    /// A reloaded [support]: the From name, the reply addresses and the
    /// links' lifetime follow it.
    async fn reidentify(&mut self, config: &Config) {
        self.token_hours = config.support.password_token_hours;
        let secret = on_pool(&mut self.store, |s| s.hmac_secret()).await;
        match secret
            .map_err(DeliveryError::from)
            .and_then(|secret| identity(config, secret))
        {
            Ok(i) => self.identity = i,
            Err(e) => tracing::error!(error = %e, "reload: keeping the previous From address"),
        }
    }

    /// Says QUIT on the sessions left open (briefly: a server that does not
    /// answer must not hold up a shutdown).
    pub async fn close(&mut self) {
        for mut session in self.idle.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.quit()).await;
        }
    }
}

/// Who ticketd's mail is from, by the config and the database's secret.
fn identity(config: &Config, secret: Vec<u8>) -> Result<Identity, DeliveryError> {
    let s = &config.support;
    let addressing = Addressing::new(&s.address, &s.aliases, secret);
    Identity::new(&s.name, &s.address, addressing).map_err(|e| DeliveryError::Identity {
        address: s.address.clone(),
        reason: e.to_string(),
    })
}

/// Why a claimed row is not ready to send.
enum Unready {
    /// It never can be: the reason, recorded as a permanent failure.
    Never(String),
    /// The store failed to mint its link: the row waits, no try spent.
    Store(StoreError),
}

/// A password link still waiting for its token.
fn needs_token(row: &Outgoing) -> bool {
    row.kind.carries_password_link() && tokens::has_placeholder(&row.body_text)
}

/// What became of one send.
// One value per send, moved once: boxing the session would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Sent {
    /// No session could be opened: the server's trouble, the row untouched.
    NoSession(Outgoing, SmtpFailure),
    /// The server answered (or the session broke mid-message); the session
    /// comes back if it is still good (lettre drops one after an error reply).
    Done(
        Outgoing,
        Result<String, SmtpFailure>,
        Option<AsyncSmtpConnection>,
    ),
}

/// One send, on `session` or a new one.
async fn send_one(
    connector: &Connector,
    session: Option<AsyncSmtpConnection>,
    row: Outgoing,
    message: lettre::Message,
) -> Sent {
    let mut session = match session {
        Some(s) => s,
        None => match connector.connect().await {
            Ok(s) => s,
            Err(f) => return Sent::NoSession(row, f),
        },
    };
    let result = connector
        .send(&mut session, message.envelope(), &message.formatted())
        .await;
    let keep = result.is_ok() && !session.has_broken();
    Sent::Done(row, result, keep.then_some(session))
}

/// Records what an attempt came to: the row, its event, and a log line.
async fn record(
    store: &mut Option<Store>,
    policy: &RetryPolicy,
    observer: Option<&Observer>,
    row: Outgoing,
    attempt: Attempt,
    detail: String,
    stats: &mut PassStats,
) -> Result<(), DeliveryError> {
    let at = now();
    let next = policy.after(attempt, row.attempts + 1, at);
    let ticket = row.ticket.as_ref().map(|t| t.id.0);
    let to = row.to.join(", ");
    let recorded = match next {
        Next::Sent => {
            stats.sent += 1;
            tracing::info!(outbox = row.id, kind = %row.kind, to = %to, ticket, message_id = %row.message_id, outcome = "sent", reply = %detail, "notification sent");
            Recorded::Sent { reply: detail }
        }
        Next::RetryAt(when) => {
            stats.deferred += 1;
            tracing::warn!(outbox = row.id, kind = %row.kind, to = %to, ticket, message_id = %row.message_id, outcome = "deferred", attempts = row.attempts + 1, retry_at = %when, error = %detail, "notification deferred; it will be retried");
            Recorded::Retry {
                at: when,
                error: detail,
            }
        }
        Next::Failed { exhausted } => {
            stats.failed += 1;
            let error = if exhausted {
                format!("gave up after {} tries: {detail}", row.attempts + 1)
            } else {
                detail
            };
            tracing::error!(outbox = row.id, kind = %row.kind, to = %to, ticket, message_id = %row.message_id, outcome = "failed", error = %error, "notification failed for good; see `ticketd outbox list`");
            Recorded::Failed { error }
        }
    };
    let outcome = match recorded {
        Recorded::Sent { .. } => "sent",
        Recorded::Retry { .. } => "deferred",
        Recorded::Failed { .. } => "failed",
    };
    on_pool(store, move |s| {
        let tx = s.write()?;
        outbox::record(&tx, &row, &recorded, at)?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    if let Some(o) = observer {
        o.delivery(outcome);
    }
    Ok(())
}

/// Runs `job` on the courier's connection on tokio's blocking pool and waits
/// for it: the connection is taken from `slot`, lent to the job and put back.
/// Taking the slot, not the courier, leaves the connector free for the sends
/// in flight. A job that never came back (it panicked, or the runtime is
/// shutting down) takes the connection with it: a [`StoreError::Invalid`]
/// says so, then and on every later call, until ticketd restarts.
async fn on_pool<T, F>(slot: &mut Option<Store>, job: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let mut store = slot.take().ok_or_else(|| {
        StoreError::Invalid(
            "the courier lost its database connection to a failed job (see the log); \
             notifications wait in the outbox until ticketd restarts"
                .into(),
        )
    })?;
    let joined = tokio::task::spawn_blocking(move || {
        let r = job(&mut store);
        (store, r)
    })
    .await;
    match joined {
        Ok((store, r)) => {
            *slot = Some(store);
            r
        }
        Err(e) => Err(StoreError::Invalid(format!(
            "cannot finish the courier's database work ({}); notifications wait in the \
             outbox until ticketd restarts",
            if e.is_panic() {
                "it panicked"
            } else {
                "the runtime is shutting down"
            }
        ))),
    }
}
