//! Writes a decision: ticket, message, raw mail, attachments, watchers,
//! events and outbox rows (through [`super::notify`]), all inside the
//! caller's transaction (or savepoint).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::attachments::{sha256_hex, AttachmentDir};
use crate::domain::access::org_for;
use crate::domain::address::base_address;
use crate::domain::budget::BucketRule;
use crate::domain::decide::{Policy, Target, TicketChange};
use crate::domain::message::{InboundMessage, Mailbox};
use crate::domain::model::{Outcome, Priority, Source, Status, TicketId};
use crate::domain::notify::Planned;
use crate::domain::time::Timestamp;
use crate::render::Renderer;

/// Everything applying needs besides the decision; built once per process.
pub struct ApplyEnv<'a> {
    pub now: Timestamp,
    /// When the mail being applied arrived (IMAP INTERNALDATE; pipe: now).
    pub arrived: Timestamp,
    pub policy: &'a Policy,
    pub personal_domains: &'a [String],
    pub renderer: &'a Renderer,
    pub support_name: &'a str,
    pub portal_url: &'a str,
    pub token_hours: u32,
    /// `None` in a dry run (`explain`): nothing is written outside the database.
    pub files: Option<&'a AttachmentDir>,
    pub max_attachment_bytes: u64,
    pub budget: MailBudget,
    /// A batch's writer: where rendering and file writes go instead of
    /// being done on the thread that holds the write lock. `None`: done
    /// here and now.
    pub offload: Option<&'a dyn Offload>,
    /// The agents, when the caller has just read them (a mail's snapshot):
    /// notifications need them to show an author; `None`: read when needed.
    pub agents: Option<&'a [String]>,
}

/// Work that must be done before a batch commits but need not be done by
/// the one thread holding the database's write lock: rendering a
/// notification (its outbox row is written when it comes back) and writing
/// an attachment's file. The writer joins it all before `COMMIT`, so what
/// commits is what was done inline; and since housekeeping deletes unused
/// files only under the write lock, no file written meanwhile can go.
pub trait Offload {
    fn notification(&self, queued: super::notify::Queued);
    /// `data` is the attachment's content, stored as `sha256`; `name` its
    /// file name, for the error. The helper may also write it at once.
    fn attachment(&self, sha256: &str, data: &[u8], name: &str) -> Result<(), StoreError>;
}

/// The token buckets automated mail is drawn from (DESIGN §4).
#[derive(Debug, Clone, Copy)]
pub struct MailBudget {
    pub per_recipient: BucketRule,
    pub per_ticket: BucketRule,
    /// Urgent pages, all tickets together.
    pub pages: BucketRule,
}

impl MailBudget {
    /// Each `n` an hour, `n` at once.
    pub fn hourly(per_recipient: u32, per_ticket: u32, pages: u32) -> MailBudget {
        MailBudget {
            per_recipient: BucketRule::per_hour(per_recipient),
            per_ticket: BucketRule::per_hour(per_ticket),
            pages: BucketRule::per_hour(pages),
        }
    }
}

pub fn event(
    conn: &Connection,
    at: Timestamp,
    ticket: Option<TicketId>,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO events (at, ticket_id, kind, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![at.0, ticket.map(|t| t.0), kind, detail])?;
    Ok(())
}

/// Deletes a raw mail no message or quarantine entry uses any more;
/// returns 1 if it did.
pub fn drop_raw_if_unused(conn: &Connection, raw_id: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM raw_mail WHERE id = ?1
             AND NOT EXISTS (SELECT 1 FROM messages WHERE raw_id = ?1)
             AND NOT EXISTS (SELECT 1 FROM quarantine WHERE raw_id = ?1)",
        )?
        .execute([raw_id])?)
}

/// Keeps a mail's raw bytes. A large one is written through SQLite's blob
/// I/O into a zero-filled cell: binding it would copy it twice more in
/// memory (SQLite's own copy, then the record), for a 40 MB mail 80 MB.
pub fn store_raw(conn: &Connection, raw: &[u8]) -> Result<i64, StoreError> {
    store_raw_hashed(conn, raw, &sha256_hex(raw))
}

/// [`store_raw`] with the hash already taken (ingest takes it before the
/// write lock, on every core).
pub fn store_raw_hashed(conn: &Connection, raw: &[u8], sha256: &str) -> Result<i64, StoreError> {
    const STREAM_ABOVE: usize = 256 * 1024;
    if raw.len() <= STREAM_ABOVE {
        conn.prepare_cached("INSERT INTO raw_mail (sha256, bytes) VALUES (?1, ?2)")?
            .execute(params![sha256, raw])?;
        return Ok(conn.last_insert_rowid());
    }
    conn.prepare_cached("INSERT INTO raw_mail (sha256, bytes) VALUES (?1, zeroblob(?2))")?
        .execute(params![sha256, raw.len() as i64])?;
    let id = conn.last_insert_rowid();
    let mut blob = conn.blob_open(rusqlite::MAIN_DB, "raw_mail", "bytes", id, false)?;
    for (n, chunk) in raw.chunks(1024 * 1024).enumerate() {
        blob.write_at(chunk, n * 1024 * 1024)?;
    }
    blob.close()?;
    Ok(id)
}

pub fn mark_seen(
    conn: &Connection,
    key: &SeenKey,
    outcome: Outcome,
    ticket: Option<TicketId>,
    at: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO seen (key, outcome, ticket_id, at, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key.key, outcome.as_str(), ticket.map(|t| t.0), at.0, key.digest])?;
    Ok(())
}

/// How a processed mail is remembered: by Message-ID (or raw hash), with a
/// digest of its body so that a different mail reusing the id is told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenKey {
    pub key: String,
    pub digest: Option<String>,
}

/// Creates the user if the address is new; returns their id.
pub fn upsert_user(
    conn: &Connection,
    who: &Mailbox,
    personal: &[String],
    now: Timestamp,
) -> Result<i64, StoreError> {
    // Most addresses are known and complete: a read, where the upsert would
    // rewrite the row and its base_email index entry for nothing (the
    // update below changes only what is still NULL).
    let known: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM users WHERE email = ?1 AND base_email IS NOT NULL
             AND (name IS NOT NULL OR ?2 IS NULL)",
        )?
        .query_row(params![who.email, who.name], |r| r.get(0))
        .optional()?;
    if let Some(id) = known {
        return Ok(id);
    }
    let id = conn
        .prepare_cached(
            "INSERT INTO users (email, name, role, org, created_at, base_email) VALUES (?1, ?2, 'member', ?3, ?4, ?5)
             ON CONFLICT(email) DO UPDATE SET name = coalesce(users.name, excluded.name),
                 base_email = coalesce(users.base_email, excluded.base_email)
             RETURNING id",
        )?
        .query_row(
            params![who.email, who.name, org_for(&who.email, personal), now.0, base_address(&who.email)],
            |r| r.get(0),
        )?;
    Ok(id)
}

/// Keeps an unusable mail whole, with the reason, for `quarantine replay`.
pub fn quarantine(
    conn: &Connection,
    raw: &[u8],
    reason: &str,
    message_id: Option<&str>,
    sender: Option<&str>,
    subject: Option<&str>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let raw_id = store_raw(conn, raw)?;
    conn.prepare_cached(
        "INSERT INTO quarantine (at, reason, message_id, sender, subject, raw_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now.0, reason, message_id, sender, subject, raw_id])?;
    let id = conn.last_insert_rowid();
    event(
        conn,
        now,
        None,
        "mail_quarantined",
        &format!("quarantine {id}: {reason}"),
    )?;
    Ok(id)
}

/// Records a permanent bounce against the addresses it names.
pub fn mark_bouncing(
    conn: &Connection,
    recipients: &[String],
    detail: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    for r in recipients {
        conn.prepare_cached(
            "UPDATE users SET bouncing_since = coalesce(bouncing_since, ?2), bounce_detail = ?3 WHERE email = ?1",
        )?
        .execute(params![r, now.0, detail])?;
        event(
            conn,
            now,
            None,
            "bounce_recorded",
            &format!("{r} marked as bouncing: {detail}"),
        )?;
    }
    Ok(())
}

/// Applies a ticket change and queues its notifications; returns the ticket.
/// `raw_id` is the mail's raw bytes (none for a portal message).
pub fn apply_ticket(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    msg: &InboundMessage<'_>,
    raw_id: Option<i64>,
    change: &TicketChange,
    notifications: &[Planned],
) -> Result<TicketId, StoreError> {
    let now = env.now;
    let author = msg
        .from
        .as_ref()
        .ok_or_else(|| StoreError::Invalid("a ticket change needs a sender".into()))?;
    let author_id = upsert_user(conn, author, env.personal_domains, now)?;
    let solved_at = (change.status == Status::Solved).then_some(now.0);

    let ticket = match &change.target {
        Target::New {
            subject,
            follow_up_of,
        } => {
            let org: Option<String> = conn
                .prepare_cached("SELECT org FROM users WHERE id = ?1")?
                .query_row([author_id], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO tickets (subject, status, priority, category, requester_id, org, fields, follow_up_of, created_at, updated_at, solved_at, arrived_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
            )?
            .execute(params![
                subject,
                change.status.as_str(),
                change.priority.unwrap_or(Priority::Normal).as_str(),
                change.category,
                author_id,
                org,
                serde_json::to_string(&change.fields).unwrap_or_else(|_| "{}".into()),
                follow_up_of.map(|t| t.0),
                now.0,
                solved_at,
                env.arrived.0,
            ])?;
            let id = TicketId(conn.last_insert_rowid());
            let mut via = match follow_up_of {
                Some(old) => format!(" as a follow-up of {old}"),
                None => String::new(),
            };
            if msg.source == Source::Web {
                via.push_str(" on the portal");
            }
            event(
                conn,
                now,
                Some(id),
                "ticket_created",
                &format!("by {}{via}: {subject}", author.email),
            )?;
            if let Some(old) = follow_up_of {
                event(
                    conn,
                    now,
                    Some(*old),
                    "follow_up_created",
                    &format!("{id} continues this closed ticket"),
                )?;
            }
            if let Some(p) = change.priority.filter(|p| *p != Priority::Normal) {
                event(
                    conn,
                    now,
                    Some(id),
                    "priority_changed",
                    &format!("normal → {p}"),
                )?;
            }
            id
        }
        Target::Existing(id) => {
            let id = *id;
            let (old_status, old_priority, old_category, old_fields): (
                String,
                String,
                Option<String>,
                String,
            ) = conn
                .prepare_cached(
                    "SELECT status, priority, category, fields FROM tickets WHERE id = ?1",
                )?
                .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            let mut fields: BTreeMap<String, String> =
                serde_json::from_str(&old_fields).unwrap_or_default();
            let mut new_fields = Vec::new();
            for (k, v) in &change.fields {
                if !fields.contains_key(k) {
                    fields.insert(k.clone(), v.clone());
                    new_fields.push(format!("{k}={v}"));
                }
            }
            conn.prepare_cached(
                "UPDATE tickets SET status = ?2, priority = coalesce(?3, priority), category = coalesce(?4, category),
                 fields = ?5, updated_at = ?6,
                 solved_at = CASE WHEN ?2 = 'solved' THEN coalesce(CASE WHEN status = 'solved' THEN solved_at END, ?6) ELSE NULL END
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                change.status.as_str(),
                change.priority.map(|p| p.as_str()),
                change.category,
                serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into()),
                now.0,
            ])?;
            if change.status.as_str() != old_status {
                event(
                    conn,
                    now,
                    Some(id),
                    "status_changed",
                    &format!("{old_status} → {}", change.status),
                )?;
            }
            if let Some(p) = change.priority.filter(|p| p.as_str() != old_priority) {
                event(
                    conn,
                    now,
                    Some(id),
                    "priority_changed",
                    &format!("{old_priority} → {p}"),
                )?;
            }
            if let Some(c) = change
                .category
                .as_ref()
                .filter(|c| Some(*c) != old_category.as_ref())
            {
                let old = old_category.as_deref().unwrap_or("none");
                event(
                    conn,
                    now,
                    Some(id),
                    "category_changed",
                    &format!("{old} → {c}"),
                )?;
            }
            if !new_fields.is_empty() {
                event(conn, now, Some(id), "fields_set", &new_fields.join(", "))?;
            }
            id
        }
    };
    if let Some(old) = change.close {
        conn.prepare_cached("UPDATE tickets SET status = 'closed', updated_at = ?2 WHERE id = ?1 AND status <> 'closed'")?
            .execute(params![old.0, now.0])?;
        event(
            conn,
            now,
            Some(old),
            "status_changed",
            "solved → closed (solved for longer than reopen_days)",
        )?;
    }
    if !change.rules_matched.is_empty() {
        event(
            conn,
            now,
            Some(ticket),
            "rules_matched",
            &change.rules_matched.join(", "),
        )?;
    }
    if let Some(to) = &change.assign {
        super::assign::set_assignee(conn, now, ticket, to, "")?;
    }

    // The message itself. `full_text` is kept only where it differs from the
    // visible text by more than surrounding blanks (empty: the same), so a
    // 40 MB mail is not written twice. The raw mail is kept anyway.
    let date = msg.date.unwrap_or(now);
    let full_text = if msg.text.trim() == change.text.trim() {
        ""
    } else {
        msg.text.as_str()
    };
    conn.prepare_cached(
        "INSERT INTO messages (ticket_id, direction, author_id, message_id, date, text, full_text, internal, raw_id, created_at, source, verified)
         VALUES (?1, 'in', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![ticket.0, author_id, msg.message_id, date.0, change.text, full_text, change.internal, raw_id, now.0, msg.source.as_str(), change.verified])?;
    let message_row = conn.last_insert_rowid();
    if let Some(mid) = &msg.message_id {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO thread_ids (message_id, ticket_id) VALUES (?1, ?2)",
        )?
        .execute(params![mid, ticket.0])?;
    }
    let what = if change.internal {
        "internal note"
    } else {
        "message"
    };
    let how = match change.rule {
        Some(r) => format!(" ({})", r.describe()),
        None if msg.source == Source::Web => " (on the portal)".into(),
        None => String::new(),
    };
    event(
        conn,
        now,
        Some(ticket),
        "message_added",
        &format!("{what} from {}{how}", author.email),
    )?;

    store_attachments(conn, env, ticket, message_row, msg)?;

    // Watchers.
    for w in &change.watch_add {
        let uid = upsert_user(conn, w, env.personal_domains, now)?;
        conn.prepare_cached("INSERT OR IGNORE INTO watchers (ticket_id, user_id) VALUES (?1, ?2)")?
            .execute(params![ticket.0, uid])?;
        event(conn, now, Some(ticket), "watcher_added", &w.email)?;
    }
    if change.watch_cut > 0 {
        event(
            conn,
            now,
            Some(ticket),
            "watchers_capped",
            &format!(
                "{} more addresses were not added: a ticket keeps at most {} watchers",
                change.watch_cut, env.policy.max_watchers
            ),
        )?;
    }
    for e in &change.watch_remove {
        conn.prepare_cached(
            "DELETE FROM watchers WHERE ticket_id = ?1 AND user_id = (SELECT id FROM users WHERE email = ?2)",
        )?
        .execute(params![ticket.0, e])?;
        event(conn, now, Some(ticket), "watcher_removed", e)?;
    }
    for r in &change.refused_unverified {
        event(
            conn,
            now,
            Some(ticket),
            "unverified_sender",
            &format!("{} (From {}, unverified): {r}", what, author.email),
        )?;
    }
    if let Some(w) = &change.warning {
        event(conn, now, Some(ticket), "unverified_sender", w)?;
    }
    for r in &change.rejected_commands {
        event(
            conn,
            now,
            Some(ticket),
            "command_rejected",
            &format!("{r:?} from {} is not a valid command", author.email),
        )?;
    }

    super::notify::queue_notifications(conn, env, Some(ticket), msg, Some(change), notifications)?;
    Ok(ticket)
}

fn store_attachments(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    ticket: TicketId,
    message_row: i64,
    msg: &InboundMessage<'_>,
) -> Result<(), StoreError> {
    if msg.attachments_dropped > 0 {
        event(
            conn,
            env.now,
            Some(ticket),
            "attachment_refused",
            &format!(
                "{} more attachments not stored: a mail keeps at most {} (store.max_attachments); the raw mail holds them all",
                msg.attachments_dropped,
                msg.attachments.len()
            ),
        )?;
    }
    for a in &msg.attachments {
        let size = a.data.len() as u64;
        let sha = &a.sha256;
        let refused = (size > env.max_attachment_bytes).then(|| {
            format!(
                "{size} bytes is over store.max_attachment_bytes ({})",
                env.max_attachment_bytes
            )
        });
        if refused.is_none() {
            match (env.files, env.offload) {
                (Some(_), Some(o)) => o.attachment(sha, &a.data, &a.filename)?,
                (Some(files), None) => store_file(files, sha, &a.data, &a.filename)?,
                (None, _) => {}
            }
        }
        conn.prepare_cached(
            "INSERT INTO attachments (message_id, filename, content_type, size, sha256, refused) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![message_row, a.filename, a.content_type, size as i64, sha, refused])?;
        if let Some(r) = refused {
            event(
                conn,
                env.now,
                Some(ticket),
                "attachment_refused",
                &format!("{}: {r}", a.filename),
            )?;
        }
    }
    Ok(())
}

/// Writes one attachment's file (content-addressed: a no-op when it is
/// there already).
pub fn store_file(
    files: &AttachmentDir,
    sha256: &str,
    data: &[u8],
    name: &str,
) -> Result<(), StoreError> {
    files
        .store(sha256, data)
        .map(drop)
        .map_err(|e| StoreError::Io {
            what: format!(
                "store attachment {name:?} as {}",
                files.path_of(sha256).display()
            ),
            source: e,
        })
}

pub fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
