//! One message end to end: normalize, recognise duplicates, classify, read
//! one snapshot, decide, apply — inside one transaction (or one savepoint of
//! a batch transaction). `explain` runs this very code and rolls back.

use std::borrow::Cow;

use rusqlite::Connection;
use serde::Serialize;

use crate::attachments::{sha256_hex, AttachmentDir};
use crate::config::Config;
use crate::domain::classify::Classification;
use crate::domain::decide::{self, Change, Policy};
use crate::domain::message::InboundMessage;
use crate::domain::model::{Outcome, TicketId};
use crate::domain::normalize::{normalize, NormalizeError, NormalizeOptions};
use crate::domain::rawmail::normalize_line_endings;
use crate::domain::tag::TicketTag;
use crate::domain::threading;
use crate::domain::time::Timestamp;
use crate::render::{RenderError, Renderer};
use crate::store::apply::{self, ApplyEnv, MailBudget};
use crate::store::console::{self, ConsoleUpdate, UpdateSummary};
use crate::store::{search_feed, snapshot, Store, StoreError};
use seen::{body_digest, recall, Recall};

mod offload;
mod seen;
mod stream;
mod web;

pub use crate::clock::now;
pub use crate::domain::web::WebUpdate;
pub use web::{DeskReply, NewTicket, Upload};

/// What happened to one message: the contract's JSON line, plus the trace.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub outcome: Outcome,
    pub ticket: Option<i64>,
    pub reason: Option<String>,
    #[serde(skip)]
    pub message_id: Option<String>,
    #[serde(skip)]
    pub trace: Vec<String>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One message to ingest and when it arrived: IMAP INTERNALDATE (set by the
/// receiving server), or in pipe mode the time of ingest. The throttle counts
/// by it, so draining a backlog of old mail throttles nobody.
#[derive(Debug, Clone)]
pub struct Arrival<R> {
    pub raw: R,
    pub arrived: Timestamp,
}

/// A mail read before its transaction (see [`Ingestor::parse`]).
// One per mail, built once and read in place: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Parsed<'t> {
    /// Over `store.max_message_bytes`: not read at all.
    TooLarge,
    Mail {
        msg: Result<InboundMessage<'t>, NormalizeError>,
        /// How it is remembered (Message-ID or raw hash), and its body digest.
        key: String,
        digest: Option<String>,
        /// SHA-256 of the raw bytes, as the stored raw mail records it.
        raw_sha256: String,
    },
}

/// One message's processing, as `process` needs it.
#[derive(Clone, Copy)]
struct Job<'r> {
    raw: &'r [u8],
    now: Timestamp,
    arrived: Timestamp,
    mode: Mode,
    replay: bool,
    /// A batch's helper thread, when it has one.
    offload: Option<&'r dyn crate::store::apply::Offload>,
}

impl<'r> Job<'r> {
    /// A mail of a batch the daemon commits.
    fn batched<R: AsRef<[u8]>>(
        mail: &'r Arrival<R>,
        now: Timestamp,
        offload: Option<&'r dyn crate::store::apply::Offload>,
    ) -> Job<'r> {
        Job {
            raw: mail.raw.as_ref(),
            now,
            arrived: mail.arrived,
            mode: Mode::Commit,
            replay: false,
            offload,
        }
    }
}

/// Whether the work is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Commit,
    /// `explain`: decide and apply inside a transaction that is rolled back;
    /// no attachment file is written.
    DryRun,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("support.ticket_tag: cannot build a pattern from it: {0}")]
    Tag(regex::Error),
}

/// The ingest pipeline, built once per process from the config.
pub struct Ingestor {
    policy: Policy,
    renderer: Renderer,
    personal_domains: Vec<String>,
    support_name: String,
    portal_url: String,
    token_hours: u32,
    max_attachment_bytes: u64,
    max_message_bytes: u64,
    budget: MailBudget,
    files: AttachmentDir,
    normalize: NormalizeOptions,
}

impl Ingestor {
    pub fn new(config: &Config, store: &mut Store) -> Result<Ingestor, SetupError> {
        let s = &config.support;
        let secret = store.hmac_secret()?;
        store.sync_agents(&s.agents, now().0)?;
        let rules = crate::domain::rules::compile_all(&config.rules);
        let keep_headers = rules
            .iter()
            .any(|r| matches!(r.field, crate::domain::rules::RuleField::Header(_)));
        let policy = Policy {
            addressing: crate::domain::address::Addressing::new(&s.address, &s.aliases, secret),
            tag: TicketTag::new(&s.ticket_tag).map_err(SetupError::Tag)?,
            rules,
            reopen_days: s.reopen_days,
            max_watchers: s.max_watchers,
            max_new_tickets_per_hour: s.max_new_tickets_per_hour,
            oncall: s.oncall.clone(),
            loop_id: s.address.clone(),
            support_name: s.name.clone(),
            trusted_authserv_ids: s.trusted_authserv_ids.clone(),
            max_unverified_watchers: s.max_unverified_watchers,
        };
        Ok(Ingestor {
            policy,
            renderer: Renderer::new(s.templates_dir.as_deref())?,
            personal_domains: s.personal_domains.clone(),
            support_name: s.name.clone(),
            portal_url: s.portal_url.clone(),
            token_hours: s.password_token_hours,
            max_attachment_bytes: config.store.max_attachment_bytes,
            max_message_bytes: config.store.max_message_bytes,
            budget: MailBudget::hourly(
                s.max_mails_per_recipient_per_hour,
                s.max_mails_per_ticket_per_hour,
                s.max_pages_per_hour,
            ),
            files: AttachmentDir::new(&config.attachments_dir()),
            normalize: NormalizeOptions {
                keep_headers,
                max_attachments: config.store.max_attachments,
            },
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn attachments_dir(&self) -> &AttachmentDir {
        &self.files
    }

    /// Ingests one message in its own transaction (pipe mode: it arrives now).
    pub fn ingest(
        &self,
        store: &mut Store,
        raw: &[u8],
        now: Timestamp,
        mode: Mode,
    ) -> Result<Report, StoreError> {
        let text = self.text(raw);
        let parsed = self.parse(raw, &text);
        let tx = store.write()?;
        let job = Job {
            raw,
            now,
            arrived: now,
            mode,
            replay: false,
            offload: None,
        };
        let report = match self.process(&tx, &job, &parsed) {
            Ok(r) => r,
            // A failure of this message's own (it cannot be stored as a
            // ticket): keep it whole in the quarantine rather than lose it.
            Err(e) if !e.is_temporary() && mode == Mode::Commit => {
                tx.rollback()?;
                let tx = store.write()?;
                let r = self.quarantine_failed(&tx, raw, &e, now)?;
                tx.commit()?;
                return Ok(r);
            }
            Err(e) => return Err(e),
        };
        match mode {
            Mode::Commit => tx.commit()?,
            Mode::DryRun => tx.rollback()?,
        }
        Ok(report)
    }

    /// Ingests a batch in one transaction: a message that fails for a reason
    /// of its own is quarantined without spoiling the others (see
    /// [`Self::ingest_batch_then`]); a temporary failure (busy, disk full)
    /// aborts the whole batch so that nothing is acknowledged.
    pub fn ingest_batch<R: AsRef<[u8]> + Sync>(
        &self,
        store: &mut Store,
        raws: &[R],
        now: Timestamp,
    ) -> Result<Vec<Report>, StoreError> {
        let mails: Vec<Arrival<&[u8]>> = raws
            .iter()
            .map(|r| Arrival {
                raw: r.as_ref(),
                arrived: now,
            })
            .collect();
        self.ingest_batch_then(store, &mails, now, |_, _| Ok(()))
    }

    /// [`Self::ingest_batch`], then `finish` inside the same transaction
    /// before it commits: the daemon records there which mailbox messages it
    /// now owes a move, so that the record and the tickets commit together.
    pub fn ingest_batch_then<R: AsRef<[u8]> + Sync>(
        &self,
        store: &mut Store,
        mails: &[Arrival<R>],
        now: Timestamp,
        finish: impl FnOnce(&Connection, &[Report]) -> Result<(), StoreError>,
    ) -> Result<Vec<Report>, StoreError> {
        // Line endings are made uniform on every core; the mails are then
        // parsed on a thread of their own, a mail ahead of the writer (see
        // `stream`), the first one before the lock is taken.
        let texts: Vec<Cow<'_, [u8]>> = on_every_core(mails, |m| self.text(m.raw.as_ref()));
        let pairs: Vec<(&Arrival<R>, &Cow<'_, [u8]>)> = mails.iter().zip(&texts).collect();
        std::thread::scope(|s| {
            let mut parsed =
                stream::Parsing::start(s, &pairs, |(m, t)| self.parse(m.raw.as_ref(), t));
            if !mails.is_empty() {
                parsed.get(0);
            }
            // The common case first: every mail of the batch applies cleanly,
            // so none needs a savepoint of its own (a savepoint is not free:
            // the pages it touches are copied to a subjournal). Should one
            // mail fail for a reason of its own, the whole pass is rolled
            // back and the batch redone with a savepoint each, so that one is
            // quarantined without spoiling the others. Processing is a
            // function of the mail, the database and `now`, so the second
            // pass decides as the first would have; attachment files are
            // content-addressed, so writing one again is a no-op. Either way
            // the search index is fed once, at the end (see `search_feed`).
            let tx = store.write()?;
            search_feed::defer(&tx)?;
            let (tx, reports) = match self.batch_pass(&tx, mails, &mut parsed, now)? {
                Some(reports) => (tx, reports),
                None => {
                    drop(tx); // rolls the first pass back
                    let tx = store.write()?;
                    search_feed::defer(&tx)?;
                    let reports = self.pass_inline(&tx, mails, &mut parsed, now)?;
                    (tx, reports)
                }
            };
            search_feed::index_deferred(&tx)?;
            finish(&tx, &reports)?;
            tx.commit()?;
            Ok(reports)
        })
    }

    /// One pass over a batch inside `tx`, without savepoints: `None` as
    /// soon as a mail fails for a reason of its own (the caller rolls back
    /// and comes again with [`Self::pass_inline`]). A temporary failure is an
    /// error: nothing of the batch may be acknowledged.
    fn batch_pass<R: AsRef<[u8]>>(
        &self,
        tx: &Connection,
        mails: &[Arrival<R>],
        parsed: &mut stream::Parsing<'_, '_>,
        now: Timestamp,
    ) -> Result<Option<Vec<Report>>, StoreError> {
        // Rendering and file writes go to a helper thread (see
        // `offload`), joined before the caller commits.
        std::thread::scope(|s| {
            let (helper, work) = offload::helper(&self.renderer, &self.files);
            let worker = s.spawn(work);
            let mut reports = Vec::with_capacity(mails.len());
            let mut result = Ok(());
            for (i, mail) in mails.iter().enumerate() {
                let job = Job::batched(mail, now, Some(&helper));
                result = self.process(tx, &job, parsed.get(i)).and_then(|r| {
                    reports.push(r);
                    helper.write_ready(tx)
                });
                if result.is_err() {
                    break;
                }
            }
            // After a failure the helper's end is dropped unused, which
            // stops it.
            let result = result.and_then(|()| helper.finish(tx));
            worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            match result {
                Ok(()) => Ok(Some(reports)),
                Err(e) if e.is_temporary() => Err(e),
                Err(_) => Ok(None),
            }
        })
    }

    /// A pass with a savepoint per mail, everything done inline: a mail
    /// that fails for a reason of its own is rolled back to its savepoint
    /// and quarantined. A temporary failure is an error: nothing of the
    /// batch may be acknowledged.
    fn pass_inline<R: AsRef<[u8]>>(
        &self,
        tx: &Connection,
        mails: &[Arrival<R>],
        parsed: &mut stream::Parsing<'_, '_>,
        now: Timestamp,
    ) -> Result<Vec<Report>, StoreError> {
        let mut reports = Vec::with_capacity(mails.len());
        for (i, mail) in mails.iter().enumerate() {
            let raw = mail.raw.as_ref();
            let job = Job::batched(mail, now, None);
            tx.execute_batch(&format!("SAVEPOINT mail{i}"))?;
            match self.process(tx, &job, parsed.get(i)) {
                Ok(r) => {
                    tx.execute_batch(&format!("RELEASE mail{i}"))?;
                    reports.push(r);
                }
                Err(e) if e.is_temporary() => return Err(e),
                Err(e) => {
                    tx.execute_batch(&format!("ROLLBACK TO mail{i}; RELEASE mail{i}"))?;
                    reports.push(self.quarantine_failed(tx, raw, &e, now)?);
                }
            }
        }
        Ok(reports)
    }

    /// Ingests quarantine entry `id` again (after a fix), in one transaction
    /// with removing the entry: duplicates are not checked against its own
    /// earlier quarantine, and a message that fails again gets a new entry.
    pub fn replay(&self, store: &mut Store, id: i64, now: Timestamp) -> Result<Report, StoreError> {
        let tx = store.write()?;
        let (_, raw) = crate::store::queries::quarantined(&tx, id)?;
        tx.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
        let job = Job {
            raw: &raw,
            now,
            arrived: now,
            mode: Mode::Commit,
            replay: true,
            offload: None,
        };
        let text = self.text(&raw);
        let parsed = self.parse(&raw, &text);
        let report = self.process(&tx, &job, &parsed)?;
        apply::event(
            &tx,
            now,
            report.ticket.map(TicketId),
            "quarantine_replayed",
            &format!("entry {id}: {}", report.outcome),
        )?;
        tx.commit()?;
        Ok(report)
    }

    /// `users reset-password` from the console, in one transaction.
    pub fn reset_password(
        &self,
        store: &mut Store,
        email: &str,
        by: console::Actor<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = store.write()?;
        console::reset_password(&tx, &self.env(now, Mode::Commit), email, by)?;
        tx.commit()?;
        Ok(())
    }

    /// `tickets update` from the console, in one transaction.
    pub fn update_ticket(
        &self,
        store: &mut Store,
        id: TicketId,
        update: &ConsoleUpdate,
        now: Timestamp,
    ) -> Result<UpdateSummary, StoreError> {
        let tx = store.write()?;
        let summary = console::update_ticket(
            &tx,
            &self.env(now, Mode::Commit),
            id,
            update,
            console::Actor::Console,
        )?;
        tx.commit()?;
        Ok(summary)
    }

    fn env(&self, now: Timestamp, mode: Mode) -> ApplyEnv<'_> {
        ApplyEnv {
            now,
            arrived: now,
            policy: &self.policy,
            personal_domains: &self.personal_domains,
            renderer: &self.renderer,
            support_name: &self.support_name,
            portal_url: &self.portal_url,
            token_hours: self.token_hours,
            files: (mode == Mode::Commit).then_some(&self.files),
            max_attachment_bytes: self.max_attachment_bytes,
            budget: self.budget,
            offload: None,
            agents: None,
        }
    }

    /// Mail over `store.max_message_bytes`: kept whole, never parsed (the
    /// cost of parsing grows with the size; the limit bounds it).
    fn quarantine_too_large(
        &self,
        conn: &Connection,
        raw: &[u8],
        now: Timestamp,
        replay: bool,
    ) -> Result<Report, StoreError> {
        // Replayed and still too large: back into the quarantine, not lost.
        let key = match recall(conn, format!("sha256:{}", sha256_hex(raw)), None, replay)? {
            Recall::Fresh(key, _) => key,
            Recall::Duplicate(seen, key) => {
                let why = format!("already processed as {}", seen.outcome);
                return Ok(Report {
                    outcome: Outcome::Duplicate,
                    ticket: seen.ticket.map(|t| t.0),
                    reason: Some(why.clone()),
                    message_id: None,
                    trace: vec![format!("duplicate: {why} ({key})")],
                });
            }
        };
        let detail = format!(
            "{} bytes is over store.max_message_bytes ({}): not parsed; after raising the limit, `ticketd quarantine replay`",
            raw.len(),
            self.max_message_bytes
        );
        let id = apply::quarantine(conn, raw, "too_large", None, None, None, now)?;
        apply::event(
            conn,
            now,
            None,
            "mail_too_large",
            &format!("quarantine {id}: {detail}"),
        )?;
        apply::mark_seen(conn, &key, Outcome::Quarantined, None, now)?;
        tracing::warn!(
            quarantine = id,
            bytes = raw.len(),
            limit = self.max_message_bytes,
            "message over store.max_message_bytes quarantined unread"
        );
        Ok(Report {
            outcome: Outcome::Quarantined,
            ticket: None,
            reason: Some("too_large".into()),
            message_id: None,
            trace: vec![format!("quarantined as {id}: {detail}")],
        })
    }

    fn quarantine_failed(
        &self,
        conn: &Connection,
        raw: &[u8],
        e: &StoreError,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        let reason = format!("could not be stored: {e}");
        apply::quarantine(conn, raw, &reason, None, None, None, now)?;
        Ok(Report {
            outcome: Outcome::Quarantined,
            ticket: None,
            reason: Some(reason),
            message_id: None,
            trace: Vec::new(),
        })
    }

    /// The mail's bytes as the parser reads them (line endings made
    /// uniform); nothing for mail over the size limit, which is never parsed.
    fn text<'r>(&self, raw: &'r [u8]) -> Cow<'r, [u8]> {
        if raw.len() as u64 > self.max_message_bytes {
            Cow::Borrowed(&[])
        } else {
            normalize_line_endings(raw)
        }
    }

    /// The costly, lock-free half of a mail's processing: decoding, HTML,
    /// quote stripping and hashing run before the write transaction opens,
    /// so a huge mail never holds the database's lock while it is read.
    fn parse<'t>(&self, raw: &[u8], text: &'t [u8]) -> Parsed<'t> {
        if raw.len() as u64 > self.max_message_bytes {
            return Parsed::TooLarge;
        }
        let msg = normalize(text, self.normalize);
        // Hashed here, off the write lock and on every core, once: the
        // stored raw mail's checksum, and the key of a mail without a
        // Message-ID when its line endings needed no change.
        let raw_sha256 = sha256_hex(raw);
        let (key, digest) = match msg.as_ref().ok().and_then(|m| m.message_id.as_ref()) {
            Some(id) => (format!("mid:{id}"), Some(body_digest(text))),
            None if std::ptr::eq(text, raw) => (format!("sha256:{raw_sha256}"), None),
            None => (format!("sha256:{}", sha256_hex(text)), None),
        };
        Parsed::Mail {
            msg,
            key,
            digest,
            raw_sha256,
        }
    }

    fn process(
        &self,
        conn: &Connection,
        job: &Job<'_>,
        parsed: &Parsed<'_>,
    ) -> Result<Report, StoreError> {
        let Job {
            raw,
            now,
            arrived,
            mode,
            replay,
            offload,
        } = *job;
        let (parsed, key, digest, raw_sha256) = match parsed {
            Parsed::TooLarge => return self.quarantine_too_large(conn, raw, now, replay),
            Parsed::Mail {
                msg,
                key,
                digest,
                raw_sha256,
            } => (msg, key.clone(), digest.clone(), raw_sha256.as_str()),
        };
        let report = |outcome,
                      ticket: Option<TicketId>,
                      reason: Option<String>,
                      trace: Vec<String>| Report {
            outcome,
            ticket: ticket.map(|t| t.0),
            reason,
            message_id: parsed.as_ref().ok().and_then(|m| m.message_id.clone()),
            trace,
        };
        let key = match recall(conn, key, digest, replay)? {
            Recall::Duplicate(seen, key) => {
                let why = format!("already processed as {}", seen.outcome);
                return Ok(report(
                    Outcome::Duplicate,
                    seen.ticket,
                    Some(why.clone()),
                    vec![format!("duplicate: {why} ({key})")],
                ));
            }
            Recall::Fresh(key, reused) => {
                if reused {
                    // A forger's copy sent first must not make the real
                    // mail a dropped duplicate (nor the other way round).
                    apply::event(
                        conn,
                        now,
                        None,
                        "message_id_reused",
                        &format!("{} was seen before on a different mail: this one is taken as a mail of its own", key.key),
                    )?;
                }
                key
            }
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                let reason = e.to_string();
                let id = apply::quarantine(conn, raw, &reason, None, None, None, now)?;
                apply::mark_seen(conn, &key, Outcome::Quarantined, None, now)?;
                return Ok(report(
                    Outcome::Quarantined,
                    None,
                    Some(reason.clone()),
                    vec![format!("quarantined as {id}: {reason}")],
                ));
            }
        };
        let env = ApplyEnv {
            arrived,
            offload,
            ..self.env(now, mode)
        };
        let from = msg.from.as_ref().map(|f| f.email.as_str());
        let summary = format!(
            "from {} subject {:?} message-id {}",
            from.unwrap_or("<>"),
            msg.subject,
            msg.message_id.as_deref().unwrap_or("none")
        );

        let class = decide::classify(msg, &self.policy);
        let sender = match (&class, from) {
            (Classification::Normal, Some(f)) => f,
            _ => {
                let sent = match &class {
                    Classification::Bounce(r) => match &r.original_message_id {
                        Some(id) => snapshot::sent_to(conn, id)?,
                        None => None,
                    },
                    _ => None,
                };
                let d = decide::decide_unusual(&class, sent.as_deref());
                keep_ignored(conn, raw, raw_sha256, d.reason.as_deref(), &summary, now)?;
                if let Change::MarkBouncing { recipients } = &d.change {
                    apply::mark_bouncing(conn, recipients, &d.trace.join("; "), now)?;
                }
                apply::mark_seen(conn, &key, Outcome::Ignored, None, now)?;
                return Ok(report(Outcome::Ignored, None, d.reason, d.trace));
            }
        };

        let keys = threading::keys(msg, &self.policy.addressing, &self.policy.tag);
        let mut snap = snapshot::load(
            conn,
            msg,
            &snapshot::Lookup {
                sender_email: sender,
                keys: &keys,
                addressing: &self.policy.addressing,
                personal_domains: &self.personal_domains,
                oncall: self.policy.oncall.as_deref(),
                arrived,
            },
            now,
        )?;
        if replay {
            // An operator let it through: the throttle has had its say.
            snap.sender.tickets_last_hour = 0;
        }
        let d = decide::decide(msg, &snap, &self.policy, now);
        let env = ApplyEnv {
            agents: Some(&snap.agents),
            ..env
        };
        let ticket = match &d.change {
            Change::Ticket(change) => {
                let raw_id = apply::store_raw_hashed(conn, raw, raw_sha256)?;
                Some(apply::apply_ticket(
                    conn,
                    &env,
                    msg,
                    Some(raw_id),
                    change,
                    &d.notifications,
                )?)
            }
            Change::Refused => {
                apply::event(
                    conn,
                    now,
                    None,
                    "mail_refused",
                    &format!("no_access: {summary}"),
                )?;
                crate::store::notify::queue_notifications(
                    conn,
                    &env,
                    None,
                    msg,
                    None,
                    &d.notifications,
                )?;
                None
            }
            Change::Quarantine => {
                let reason = d.reason.as_deref().unwrap_or("quarantined");
                let id = apply::quarantine(
                    conn,
                    raw,
                    reason,
                    msg.message_id.as_deref(),
                    Some(sender),
                    Some(&msg.subject),
                    now,
                )?;
                tracing::warn!(quarantine = id, reason, sender, "message quarantined");
                None
            }
            // (`Forbidden` is the portal's: mail never names a ticket outright.)
            Change::Nothing | Change::MarkBouncing { .. } | Change::Forbidden => {
                keep_ignored(conn, raw, raw_sha256, d.reason.as_deref(), &summary, now)?;
                None
            }
        };
        apply::mark_seen(conn, &key, d.outcome, ticket, now)?;
        Ok(report(d.outcome, ticket, d.reason, d.trace))
    }
}

/// An ignored mail leaves its raw bytes and one event saying why.
fn keep_ignored(
    conn: &Connection,
    raw: &[u8],
    raw_sha256: &str,
    reason: Option<&str>,
    summary: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let raw_id = apply::store_raw_hashed(conn, raw, raw_sha256)?;
    let reason = reason.unwrap_or("ignored");
    apply::event(
        conn,
        now,
        None,
        "mail_ignored",
        &format!("{reason}: {summary} (raw {raw_id})"),
    )
}

/// `f` over `items` in order, split across the machine's cores: decoding,
/// HTML and quote stripping are pure (about a sixth of a mail's time in
/// `cargo bench --bench ingest`), and the one writer only waits for them. Small batches stay on this thread (a thread
/// costs more than a short mail). A panic in a worker is this thread's.
fn on_every_core<'a, T: Sync, U: Send>(items: &'a [T], f: impl Fn(&'a T) -> U + Sync) -> Vec<U> {
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if cores < 2 || items.len() < 2 * cores {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(cores);
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod batch_tests;
