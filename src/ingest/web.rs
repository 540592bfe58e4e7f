//! The portal's actions, on the road mail takes (DESIGN §8: what the web
//! does is what mail does). A reply or a new ticket from the form is an
//! `InboundMessage` (source web, its author signed in) run through the same
//! snapshot, `decide` and apply as a mail; solving and Cc go through the
//! console's update with the person recorded; password links through the
//! outbox like every notification. One write transaction each.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Ingestor, Mode, Report};
use crate::domain::decide::{self, Change, Decision, Target};
use crate::domain::message::{Attachment, InboundMessage, Mailbox};
use crate::domain::model::{
    email_domain, normalize_email, NotificationKind, Priority, Role, Source, Status, TicketId,
};
use crate::domain::normalize::{clean_text, one_line, sanitize_filename};
use crate::domain::threading::ThreadKeys;
use crate::domain::time::Timestamp;
use crate::domain::watchers;
use crate::domain::web::{self, Refusal, WebForm, WebUpdate};
use crate::store::apply::{self, random_hex};
use crate::store::console::{self, Actor, ConsoleUpdate, UpdateSummary};
use crate::store::{notify, portal, snapshot, Store, StoreError};

/// A file sent with a portal form. The size limit is the mail's
/// (`store.max_attachment_bytes`: over it, the file is refused and noted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The create form (`POST /tickets`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// `field.NAME` values, checked by the web layer against `[[portal.fields]]`.
    pub fields: BTreeMap<String, String>,
    /// People to put on Cc: they become watchers.
    pub cc: Vec<String>,
}

/// The desk's reply form (`POST /desk/tickets/ID/reply`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskReply {
    pub text: String,
    pub uploads: Vec<Upload>,
    /// An internal note (`internal` = `1`): customers never see it.
    pub internal: bool,
}

/// The answer to a ticket one may not see, or that does not exist: the same.
fn not_found(id: TicketId) -> StoreError {
    StoreError::NotFound(format!("ticket {id} not found"))
}

/// A browser's claim about a file's type, kept only when it is a plain
/// `type/subtype` token (never parameters, never anything a header could
/// be made of).
fn content_type(claimed: &str) -> String {
    let t = claimed
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match t.split_once('/') {
        Some((a, b)) if t.len() <= 127 && token(a) && token(b) => t,
        _ => "application/octet-stream".to_owned(),
    }
}

/// Text typed into a form: no control characters, `\n` line ends.
fn form_text(text: &str) -> String {
    clean_text(text).trim_end().to_owned()
}

impl Ingestor {
    /// A reply written on ticket `ticket`'s page by `author` (signed in):
    /// the same status rules, events and notifications as a mailed reply.
    /// `NotFound` when the ticket does not exist or `author` may not see it
    /// (nothing written); `Invalid` when it is closed ("open a new one").
    pub fn web_reply(
        &self,
        store: &mut Store,
        author: &str,
        ticket: TicketId,
        text: &str,
        uploads: Vec<Upload>,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        self.reply(store, author, ticket, form_text(text), uploads, now)
    }

    /// The desk's reply (DESIGN §9): a public answer, or with `internal` an
    /// internal note — what `#note` does in an agent's mail. Agents only.
    pub fn desk_reply(
        &self,
        store: &mut Store,
        author: &str,
        ticket: TicketId,
        reply: DeskReply,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        let role = portal::viewer(store.conn(), author)?.map(|v| v.role);
        if role != Some(Role::Agent) {
            return Err(not_found(ticket));
        }
        let mut text = form_text(&reply.text);
        if reply.internal {
            text = format!("#note\n{text}");
        }
        self.reply(store, author, ticket, text, reply.uploads, now)
    }

    fn reply(
        &self,
        store: &mut Store,
        author: &str,
        ticket: TicketId,
        text: String,
        uploads: Vec<Upload>,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        if text.trim().is_empty() && uploads.is_empty() {
            return Err(StoreError::Invalid(
                "a reply needs some text or a file".into(),
            ));
        }
        let tx = store.write()?;
        let state = snapshot::ticket_state(&tx, ticket)?.ok_or_else(|| not_found(ticket))?;
        let subject = format!("Re: {} {}", self.policy.tag.format(ticket), state.subject);
        let msg = self.web_message(&tx, author, subject, text, Vec::new(), uploads, now)?;
        let keys = ThreadKeys {
            web_ticket: Some(ticket),
            ..Default::default()
        };
        let d = self.decide_web(&tx, &msg, &keys, None, now)?;
        let report = self.apply_web(&tx, &msg, d, Some(ticket), now)?;
        tx.commit()?;
        Ok(report)
    }

    /// A ticket opened on the portal's form by `author` (signed in): rules
    /// run as on a mail, the form's priority, category and fields are set,
    /// each Cc becomes a watcher (and is told, having had no mail), and the
    /// requester gets `ticket_received` with the reply address, as for mail.
    pub fn web_create(
        &self,
        store: &mut Store,
        author: &str,
        form: NewTicket,
        uploads: Vec<Upload>,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        let subject = one_line(&form.subject);
        if subject.is_empty() {
            return Err(StoreError::Invalid("a ticket needs a subject".into()));
        }
        let requester = normalize_email(author);
        let tx = store.write()?;
        let agents = snapshot::agents(&tx)?;
        let mut cc: Vec<Mailbox> = Vec::new();
        for input in &form.cc {
            let email =
                web::parse_address(input).map_err(|r| StoreError::Invalid(r.to_string()))?;
            match watchers::refusal(&email, &self.policy.addressing, &agents, &requester) {
                // Naming oneself on Cc is no mistake worth an error.
                Some(_) if email == requester => {}
                Some(why) => {
                    return Err(StoreError::Invalid(
                        Refusal::NotWatchable(email, why).to_string(),
                    ))
                }
                None if cc.iter().any(|m| m.email == email) => {}
                None => cc.push(Mailbox { email, name: None }),
            }
        }
        let web_form = WebForm {
            priority: form.priority,
            category: form
                .category
                .as_deref()
                .map(one_line)
                .filter(|c| !c.is_empty()),
            fields: form
                .fields
                .iter()
                .map(|(k, v)| (one_line(k), one_line(v)))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .collect(),
        };
        let msg = self.web_message(
            &tx,
            &requester,
            subject,
            form_text(&form.description),
            cc,
            uploads,
            now,
        )?;
        let d = self.decide_web(&tx, &msg, &ThreadKeys::default(), Some(&web_form), now)?;
        let report = self.apply_web(&tx, &msg, d, None, now)?;
        tx.commit()?;
        Ok(report)
    }

    /// Solving a ticket, or adding or removing someone on Cc, from its page:
    /// the console's update with `actor` recorded ("by ann@acme.test
    /// (portal)"), the same events and notifications. Customers may do
    /// these and nothing more; a Cc follows the `#watch` rules.
    pub fn web_update(
        &self,
        store: &mut Store,
        actor: &str,
        ticket: TicketId,
        update: WebUpdate,
        now: Timestamp,
    ) -> Result<UpdateSummary, StoreError> {
        let tx = store.write()?;
        let viewer = portal::viewer(&tx, actor)?.ok_or_else(|| not_found(ticket))?;
        let state = snapshot::ticket_state(&tx, ticket)?.ok_or_else(|| not_found(ticket))?;
        let agents = snapshot::agents(&tx)?;
        let update = web::check_update(&viewer, &state, &update, &self.policy, &agents, now)
            .map_err(|r| match r {
                Refusal::NotVisible => not_found(ticket),
                r => StoreError::Invalid(r.to_string()),
            })?;
        let u = match update {
            WebUpdate::Solve => ConsoleUpdate {
                status: Some(Status::Solved),
                ..Default::default()
            },
            WebUpdate::AddCc(email) => ConsoleUpdate {
                watch: vec![email],
                ..Default::default()
            },
            WebUpdate::RemoveCc(email) => ConsoleUpdate {
                unwatch: vec![email],
                ..Default::default()
            },
        };
        let by = Actor::Portal {
            email: &viewer.email,
            role: viewer.role,
        };
        let summary = console::update_ticket(&tx, &self.env(now, Mode::Commit), ticket, &u, by)?;
        tx.commit()?;
        Ok(summary)
    }

    /// The desk's update (DESIGN §9): what `tickets update` does, by an
    /// agent signed in, recorded as theirs. Anyone else: `NotFound`.
    pub fn desk_update(
        &self,
        store: &mut Store,
        actor: &str,
        ticket: TicketId,
        update: &ConsoleUpdate,
        now: Timestamp,
    ) -> Result<UpdateSummary, StoreError> {
        let tx = store.write()?;
        let viewer = portal::viewer(&tx, actor)?.filter(|v| v.role == Role::Agent);
        let Some(viewer) = viewer else {
            return Err(not_found(ticket));
        };
        let by = Actor::Portal {
            email: &viewer.email,
            role: viewer.role,
        };
        let summary =
            console::update_ticket(&tx, &self.env(now, Mode::Commit), ticket, update, by)?;
        tx.commit()?;
        Ok(summary)
    }

    /// Uses a password link: sets the password (an Argon2id hash the caller
    /// made), uses up the token and every other unused one of the user, ends
    /// their sessions. Returns the user's id; `TokenInvalid` when the link
    /// is unknown, used or expired.
    pub fn set_password_with_token(
        &self,
        store: &mut Store,
        token: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let tx = store.write()?;
        let id = portal::set_password_with_token(&tx, token, password_hash, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// `POST /password/reset`: queues a `password_reset` mail for a known
    /// address that may sign in, at most one per address every 10 minutes
    /// (the mail budget's `reset:` bucket). For an unknown, `no_access` or
    /// bouncing address nothing happens and nothing is recorded; the web
    /// answers the same either way.
    pub fn request_password_reset(
        &self,
        store: &mut Store,
        email: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let email = normalize_email(email);
        let tx = store.write()?;
        let known: Option<(String, Option<i64>)> = tx
            .prepare_cached("SELECT role, bouncing_since FROM users WHERE email = ?1")?
            .query_row([&email], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((role, None)) = known else {
            return Ok(());
        };
        if role == Role::NoAccess.as_str() {
            return Ok(());
        }
        let env = self.env(now, Mode::Commit);
        notify::queue_account_mail(&tx, &env, NotificationKind::PasswordReset, &email)?;
        apply::event(
            &tx,
            now,
            None,
            "password_reset_requested",
            &format!("{email} (portal)"),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// `POST /org/invite`: an org admin invites an address of their
    /// organization's domain; a new account is made in the organization and
    /// gets a `password_setup` mail. Someone who has a password already is
    /// left as they are.
    pub fn org_invite(
        &self,
        store: &mut Store,
        admin: &str,
        email: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = store.write()?;
        let admin = portal::viewer(&tx, admin)?.filter(|v| v.role == Role::Admin);
        let Some((admin, org)) = admin.and_then(|a| a.org.clone().map(|o| (a, o))) else {
            return Err(StoreError::Invalid(
                "only an organization's admin may invite people".into(),
            ));
        };
        let email = web::parse_address(email).map_err(|r| StoreError::Invalid(r.to_string()))?;
        if !email_domain(&email).is_some_and(|d| d.eq_ignore_ascii_case(&org)) {
            return Err(StoreError::Invalid(format!(
                "only addresses at {org} can be invited to {org}"
            )));
        }
        let existing: Option<(String, Option<String>, bool)> = tx
            .prepare_cached(
                "SELECT role, org, password_hash IS NOT NULL FROM users WHERE email = ?1",
            )?
            .query_row([&email], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match &existing {
            Some((_, o, _)) if o.as_deref() != Some(org.as_str()) => {
                return Err(StoreError::Invalid(format!(
                    "{email} cannot be invited to {org}"
                )))
            }
            Some((role, _, _)) if role == Role::NoAccess.as_str() => {
                return Err(StoreError::Invalid(format!(
                    "{email} has no access: give them a role first"
                )))
            }
            Some((role, _, _)) if role == Role::Agent.as_str() => {
                return Err(StoreError::Invalid(format!(
                    "{email} is an agent and signs in already"
                )))
            }
            Some((_, _, true)) => return Ok(()),
            _ => {}
        }
        if existing.is_none() {
            let who = Mailbox {
                email: email.clone(),
                name: None,
            };
            let id = apply::upsert_user(&tx, &who, &self.personal_domains, now)?;
            tx.prepare_cached("UPDATE users SET org = ?2 WHERE id = ?1")?
                .execute(params![id, org])?;
        }
        let env = self.env(now, Mode::Commit);
        notify::queue_account_mail(&tx, &env, NotificationKind::PasswordSetup, &email)?;
        apply::event(
            &tx,
            now,
            None,
            "user_invited",
            &format!("{email} to {org} by {} (portal)", admin.email),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The message a portal form makes: from the signed-in author (with the
    /// name the store has), to the desk, a fresh Message-ID at the desk's
    /// domain (so mail clients can thread on it later), source web.
    #[allow(clippy::too_many_arguments)]
    fn web_message(
        &self,
        conn: &Connection,
        author: &str,
        subject: String,
        text: String,
        cc: Vec<Mailbox>,
        uploads: Vec<Upload>,
        now: Timestamp,
    ) -> Result<InboundMessage<'static>, StoreError> {
        let user = portal::user_for_login(conn, author)?
            .ok_or_else(|| StoreError::NotFound(format!("no account for {author}")))?;
        let support = self.policy.addressing.support().to_owned();
        let domain = email_domain(&support).unwrap_or("localhost").to_owned();
        let uploads: Vec<Upload> = uploads
            .into_iter()
            .filter(|u| !(u.filename.trim().is_empty() && u.data.is_empty()))
            .collect();
        let max = self.normalize.max_attachments;
        let attachments_dropped = uploads.len().saturating_sub(max);
        let attachments = uploads
            .into_iter()
            .take(max)
            .enumerate()
            .map(|(n, u)| Attachment {
                filename: sanitize_filename(Some(&u.filename), &format!("attachment-{}", n + 1)),
                content_type: content_type(&u.content_type),
                sha256: crate::domain::digest::sha256_hex(&u.data),
                data: Cow::Owned(u.data),
            })
            .collect();
        Ok(InboundMessage {
            message_id: Some(format!("{}.web@{domain}", random_hex(16)?)),
            from: Some(Mailbox {
                email: user.email,
                name: user.name,
            }),
            from_count: 1,
            to: vec![Mailbox {
                email: support,
                name: None,
            }],
            cc,
            subject,
            date: Some(now),
            visible: text.clone(),
            text,
            attachments,
            attachments_dropped,
            source: Source::Web,
            ..Default::default()
        })
    }

    /// The snapshot and the decision, as for a mail.
    fn decide_web(
        &self,
        conn: &Connection,
        msg: &InboundMessage<'_>,
        keys: &ThreadKeys,
        form: Option<&WebForm>,
        now: Timestamp,
    ) -> Result<Decision, StoreError> {
        let sender = msg.from.as_ref().map(|f| f.email.as_str()).unwrap_or("");
        let snap = snapshot::load(
            conn,
            msg,
            &snapshot::Lookup {
                sender_email: sender,
                keys,
                addressing: &self.policy.addressing,
                personal_domains: &self.personal_domains,
                oncall: self.policy.oncall.as_deref(),
                arrived: now,
            },
            now,
        )?;
        Ok(decide::decide_web(msg, form, &snap, &self.policy, now))
    }

    /// Applies a portal message's decision, or refuses it with nothing
    /// written: a reply must land on `expect`, a new ticket must be new.
    fn apply_web(
        &self,
        conn: &Connection,
        msg: &InboundMessage<'_>,
        d: Decision,
        expect: Option<TicketId>,
        now: Timestamp,
    ) -> Result<Report, StoreError> {
        let change = match &d.change {
            Change::Ticket(c) => c,
            Change::Forbidden | Change::Refused => {
                return Err(match expect {
                    Some(t) => not_found(t),
                    None => StoreError::NotFound("no access".into()),
                })
            }
            Change::Quarantine => {
                return Err(StoreError::Invalid(format!(
                    "you opened {} tickets in the last hour, the most there may be: please add to one of them, or try again later",
                    self.policy.max_new_tickets_per_hour
                )))
            }
            Change::Nothing | Change::MarkBouncing { .. } => {
                return Err(StoreError::Invalid("the message was not taken".into()))
            }
        };
        match (&change.target, expect) {
            (Target::Existing(id), Some(want)) if *id == want => {}
            (
                Target::New {
                    follow_up_of: None, ..
                },
                None,
            ) => {}
            (Target::New { .. }, Some(want)) => {
                return Err(StoreError::Invalid(format!(
                    "ticket {want} is closed: open a new one"
                )))
            }
            _ => return Err(StoreError::Invalid("the message was not taken".into())),
        }
        let env = self.env(now, Mode::Commit);
        let ticket = apply::apply_ticket(conn, &env, msg, None, change, &d.notifications)?;
        tracing::info!(
            ticket = ticket.0,
            outcome = %d.outcome,
            source = "web",
            "portal message applied"
        );
        Ok(Report {
            outcome: d.outcome,
            ticket: Some(ticket.0),
            reason: d.reason,
            message_id: msg.message_id.clone(),
            trace: d.trace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_content_type_is_a_plain_token_or_octet_stream() {
        for (claimed, kept) in [
            ("image/PNG", "image/png"),
            ("text/plain; charset=utf-8", "text/plain"),
            ("application/vnd.ms-excel", "application/vnd.ms-excel"),
            ("text/html\r\nX-Evil: 1", "application/octet-stream"),
            ("nonsense", "application/octet-stream"),
            ("", "application/octet-stream"),
            ("a/b/c", "application/octet-stream"),
        ] {
            assert_eq!(content_type(claimed), kept, "{claimed:?}");
        }
    }
}
