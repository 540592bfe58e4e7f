//! Queueing notifications: each planned mail drawn from the mail budget
//! (DESIGN §4), rendered from its template with the ticket's facts, and
//! written as an outbox row in the caller's transaction, so a mail exists
//! exactly when the change that owes it was committed.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::apply::{event, random_hex, ApplyEnv};
use super::StoreError;
use crate::domain::address::base_address;
use crate::domain::budget::{self, Bucket, BucketRule};
use crate::domain::decide::{Target, TicketChange};
use crate::domain::message::InboundMessage;
use crate::domain::model::{email_domain, NotificationKind, Status, TicketId};
use crate::domain::notify::Planned;
use crate::domain::quotes::REPLY_MARKER;
use crate::domain::threading::fits;
use crate::domain::time::Timestamp;
use crate::domain::verify::shown_author;
use crate::render::{MessageView, NoteContext, Rendered, Renderer, TicketView};

/// Queues one mail about an account rather than a ticket (a password
/// link: setup, reset, an invitation).
pub fn queue_account_mail(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    kind: NotificationKind,
    to: &str,
) -> Result<(), StoreError> {
    let planned = [Planned {
        kind,
        to: to.to_owned(),
    }];
    queue_notifications(conn, env, None, &InboundMessage::default(), None, &planned)
}

/// Renders and queues each planned notification as an outbox row.
pub fn queue_notifications(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    ticket: Option<TicketId>,
    msg: &InboundMessage<'_>,
    change: Option<&TicketChange>,
    planned: &[Planned],
) -> Result<(), StoreError> {
    if planned.is_empty() {
        return Ok(());
    }
    let view = match ticket {
        Some(id) => Some(ticket_view(conn, env, id)?),
        None => None,
    };
    let root: Option<String> = match ticket {
        Some(id) => conn
            .prepare_cached("SELECT message_id FROM messages WHERE ticket_id = ?1 AND message_id IS NOT NULL ORDER BY id LIMIT 1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?,
        None => None,
    };
    // A Message-ID too long for a header is left out: it would make every
    // later mail of the ticket undeliverable (DESIGN §4, 998 bytes a line).
    let mut refs: Vec<String> = root.into_iter().filter(|r| fits(r)).collect();
    let own_id = msg.message_id.clone().filter(|m| fits(m));
    if let Some(mid) = &own_id {
        if !refs.contains(mid) {
            refs.push(mid.clone());
        }
    }
    let in_reply_to = own_id.or_else(|| refs.first().cloned());
    let author = match &msg.from {
        Some(f) => {
            let read;
            let agents = match env.agents {
                Some(a) => a,
                None => {
                    read = super::snapshot::agents(conn)?;
                    &read
                }
            };
            shown_author(f, &env.policy.desk(agents))
        }
        None => String::new(),
    };
    let domain = email_domain(env.policy.addressing.support())
        .unwrap_or("localhost")
        .to_owned();

    // An agent's public answer is never dropped by the budget: it waits
    // for its slot (DESIGN §4).
    let agent_answer = change.is_some_and(|c| c.agent_answer);
    let mut buckets = Buckets::default();
    for p in planned {
        let must_go = agent_answer && p.kind == NotificationKind::TicketUpdated;
        let due = match take_budget(conn, env, &mut buckets, p, ticket, must_go)? {
            Draw::Now => env.now,
            Draw::Later(at) => {
                event(
                    conn,
                    env.now,
                    ticket,
                    "notification_delayed",
                    &format!(
                        "{} to {}: the mail budget is spent; an agent's answer waits for its slot, {} s",
                        p.kind,
                        p.to,
                        at.0 - env.now.0
                    ),
                )?;
                at
            }
            Draw::Suppressed(why) => {
                event(
                    conn,
                    env.now,
                    ticket,
                    "notification_suppressed",
                    &format!("{} to {}: {why}", p.kind, p.to),
                )?;
                tracing::warn!(kind = %p.kind, to = %p.to, ticket = ticket.map(|t| t.0), "notification suppressed: {why}");
                continue;
            }
        };
        let mut ctx = NoteContext {
            support_name: env.support_name.to_owned(),
            support_address: env.policy.addressing.support().to_owned(),
            portal_url: env.portal_url.to_owned(),
            recipient: p.to.clone(),
            ticket_url: ticket.map(|t| crate::render::ticket_url(env.portal_url, t.0, p.kind)),
            marker: REPLY_MARKER,
            ticket: view.clone(),
            message: change.map(|c| MessageView {
                author: author.clone(),
                text: excerpt(&c.text, &full_message_url(env, ticket, p.kind)),
            }),
            warning: change.and_then(|c| c.warning.clone()),
            new_ticket: change.is_some_and(|c| matches!(c.target, Target::New { .. })),
            internal: change.is_some_and(|c| c.internal),
            expires_hours: env.token_hours,
            subject: Some(msg.subject.clone()),
            actor: (p.kind == NotificationKind::TicketAssigned)
                .then(|| author.clone())
                .filter(|a| !a.is_empty()),
            ..Default::default()
        };
        let token_id = if p.kind.carries_password_link() {
            let (id, url) = issue_token(conn, env, &p.to)?;
            ctx.setup_url = Some(url);
            Some(id)
        } else {
            None
        };
        if p.kind == NotificationKind::Refused {
            conn.prepare_cached("UPDATE users SET refused_notice_at = ?2 WHERE email = ?1")?
                .execute(params![p.to, env.now.0])?;
        }
        let message_id = format!(
            "{}.{}@{domain}",
            random_hex(12)?,
            ticket.map(|t| t.0).unwrap_or(0)
        );
        let queued = Queued {
            kind: p.kind,
            ctx,
            recipients: serde_json::to_string(&[&p.to]).unwrap_or_else(|_| "[]".into()),
            message_id,
            in_reply_to: in_reply_to.clone(),
            refs: refs.join(" "),
            ticket,
            created: env.now,
            token_id,
            due,
        };
        match env.offload {
            Some(o) => o.notification(queued),
            None => {
                let out = queued.render(env.renderer)?;
                queued.insert(conn, &out)?;
            }
        }
        event(
            conn,
            env.now,
            ticket,
            "notification_queued",
            &format!("{} to {}", p.kind, p.to),
        )?;
    }
    buckets.write_back(conn)?;
    Ok(())
}

/// A notification drawn from the budget, its context built: what its
/// outbox row needs but the rendering. A batch's writer hands it to a
/// helper thread to render (see [`super::apply::Offload`]) and writes the
/// row when it comes back, before the batch commits.
pub struct Queued {
    kind: NotificationKind,
    ctx: NoteContext,
    recipients: String,
    message_id: String,
    in_reply_to: Option<String>,
    refs: String,
    ticket: Option<TicketId>,
    created: Timestamp,
    token_id: Option<i64>,
    due: Timestamp,
}

impl Queued {
    /// The mail's subject and bodies, from its template.
    pub fn render(&self, renderer: &Renderer) -> Result<Rendered, StoreError> {
        renderer.render(self.kind, &self.ctx).map_err(|e| {
            StoreError::Invalid(format!("cannot render the {} notification: {e}", self.kind))
        })
    }

    /// Writes the outbox row, `out` being what [`Self::render`] made: the
    /// text, and the facts its HTML is drawn from when it is sent.
    pub fn insert(&self, conn: &Connection, out: &Rendered) -> Result<(), StoreError> {
        let layout = serde_json::to_string(&out.layout).map_err(|e| {
            StoreError::Invalid(format!(
                "cannot keep the {} notification's layout: {e}",
                self.kind
            ))
        })?;
        conn.prepare_cached(
            "INSERT INTO outbox (kind, recipients, subject, body_text, layout, message_id, in_reply_to, refs, ticket_id, status, attempts, next_attempt_at, created_at, token_id)
             VALUES (?1, ?2, ?3, ?4, ?12, ?5, ?6, ?7, ?8, 'pending', 0, ?11, ?9, ?10)",
        )?
        .execute(params![
            self.kind.as_str(),
            self.recipients,
            out.subject,
            out.text,
            self.message_id,
            self.in_reply_to,
            self.refs,
            self.ticket.map(|t| t.0),
            self.created.0,
            self.token_id,
            self.due.0,
            layout,
        ])?;
        Ok(())
    }
}

/// The most of a customer's text a notification carries: a 40 MB mail must
/// not make a 40 MB alert (DESIGN §4); the rest is one link away.
pub const MAX_EXCERPT_BYTES: usize = 32 * 1024;

/// Where the whole message can be read: the desk for agents, the portal
/// for everyone else.
fn full_message_url(
    env: &ApplyEnv<'_>,
    ticket: Option<TicketId>,
    kind: NotificationKind,
) -> String {
    match ticket {
        Some(t) => crate::render::ticket_url(env.portal_url, t.0, kind),
        None => env.portal_url.to_owned(),
    }
}

/// `text` cut to [`MAX_EXCERPT_BYTES`] on a line (or character) boundary,
/// with a note saying how much is left and where to read it.
fn excerpt(text: &str, url: &str) -> String {
    if text.len() <= MAX_EXCERPT_BYTES {
        return text.to_owned();
    }
    let mut cut = MAX_EXCERPT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let head = head
        .rfind('\n')
        .map(|n| &head[..n])
        .filter(|h| h.len() > cut / 2)
        .unwrap_or(head);
    format!(
        "{head}\n\n[… {} more bytes not shown. The whole message: {url}]",
        text.len() - head.len()
    )
}

/// What the budget says about one notification.
enum Draw {
    Now,
    /// An agent's answer whose buckets are empty: it goes at its slot.
    Later(Timestamp),
    Suppressed(&'static str),
}

/// Draws one mail from the buckets `p` uses: the ticket's, and the
/// recipient's (by base address: `ann+x@` is `ann@`) unless the mail goes
/// to staff (an agent alert). A page draws from its own buckets: one per
/// ticket an hour, `support.max_pages_per_hour` in all. `must_go` (an
/// agent's answer) is never suppressed, only delayed.
fn take_budget(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    buckets: &mut Buckets,
    p: &Planned,
    ticket: Option<TicketId>,
    must_go: bool,
) -> Result<Draw, StoreError> {
    let mut keys: Vec<(String, BucketRule)> = Vec::with_capacity(2);
    let why = match p.kind {
        NotificationKind::PasswordReset => {
            // Asked for on a public form: one link per person per 10 minutes,
            // whoever keeps pressing the button.
            keys.push((
                format!("reset:{}", base_address(&p.to)),
                BucketRule {
                    burst: 1.0,
                    per_hour: 6.0,
                },
            ));
            keys.push((
                format!("to:{}", base_address(&p.to)),
                env.budget.per_recipient,
            ));
            "at most one password reset mail per address every 10 minutes"
        }
        NotificationKind::UrgentPage => {
            if let Some(t) = ticket {
                keys.push((format!("page:ticket:{}", t.0), BucketRule::per_hour(1)));
            }
            keys.push(("page:all".into(), env.budget.pages));
            "at most one page per ticket an hour and support.max_pages_per_hour in all"
        }
        kind => {
            if !matches!(
                kind,
                NotificationKind::AgentAlert | NotificationKind::TicketAssigned
            ) {
                keys.push((
                    format!("to:{}", base_address(&p.to)),
                    env.budget.per_recipient,
                ));
            }
            if let Some(t) = ticket {
                keys.push((format!("ticket:{}", t.0), env.budget.per_ticket));
            }
            "the automated-mail budget is spent (support.max_mails_per_*_per_hour)"
        }
    };
    let mut current = Vec::with_capacity(keys.len());
    for (key, rule) in &keys {
        current.push((*rule, buckets.get(conn, key, rule, env.now)?));
    }
    let (draw, after) = if must_go {
        let (wait, after) = budget::take_waiting(&current, env.now);
        match wait {
            0 => (Draw::Now, after),
            w => (Draw::Later(env.now.plus_secs(w)), after),
        }
    } else {
        match budget::take(&current, env.now) {
            (true, after) => (Draw::Now, after),
            (false, _) => return Ok(Draw::Suppressed(why)),
        }
    };
    for ((key, _), b) in keys.into_iter().zip(after) {
        buckets.set(key, b);
    }
    Ok(draw)
}

/// The buckets one mail's notifications draw from, each read once and
/// written back once, after the last draw: a new ticket's three or four
/// mails all draw from its ticket's bucket, which was read and written for
/// each. The same transaction sees the same rows either way.
#[derive(Default)]
struct Buckets {
    /// By key, as the draws so far left them; `true` when changed.
    known: HashMap<String, (Bucket, bool)>,
    /// Changed keys in the order of their first change.
    order: Vec<String>,
}

impl Buckets {
    fn get(
        &mut self,
        conn: &Connection,
        key: &str,
        rule: &BucketRule,
        now: Timestamp,
    ) -> Result<Bucket, StoreError> {
        if let Some((b, _)) = self.known.get(key) {
            return Ok(*b);
        }
        let stored: Option<(f64, i64)> = conn
            .prepare_cached("SELECT tokens, at FROM mail_budget WHERE key = ?1")?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let bucket = match stored {
            Some((tokens, at)) => Bucket {
                tokens,
                at: Timestamp(at),
            },
            None => rule.full(now),
        };
        self.known.insert(key.to_owned(), (bucket, false));
        Ok(bucket)
    }

    fn set(&mut self, key: String, bucket: Bucket) {
        match self.known.get_mut(&key) {
            Some((b, changed)) => {
                if !*changed {
                    self.order.push(key);
                }
                *b = bucket;
                *changed = true;
            }
            None => {
                self.order.push(key.clone());
                self.known.insert(key, (bucket, true));
            }
        }
    }

    fn write_back(self, conn: &Connection) -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO mail_budget (key, tokens, at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
        )?;
        for key in &self.order {
            if let Some((b, _)) = self.known.get(key) {
                stmt.execute(params![key, b.tokens, b.at.0])?;
            }
        }
        Ok(())
    }
}

fn ticket_view(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    id: TicketId,
) -> Result<TicketView, StoreError> {
    let (subject, status, priority, category): (String, String, String, Option<String>) = conn
        .prepare_cached("SELECT subject, status, priority, category FROM tickets WHERE id = ?1")?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let label = status
        .parse::<Status>()
        .map(|s| s.label())
        .unwrap_or("Open")
        .to_owned();
    Ok(TicketView {
        id: id.0,
        tag: env.policy.tag.format(id),
        subject,
        status,
        status_label: label,
        priority,
        category,
    })
}

/// A single-use password link (setup or reset), reserved: its token is minted when the
/// courier composes the mail (DESIGN §4), so the queued body holds only a
/// placeholder. Returns the reserved token row and the link as queued.
fn issue_token(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    email: &str,
) -> Result<(i64, String), StoreError> {
    let id = super::tokens::reserve(conn, email, env.now, env.token_hours)?;
    Ok((id, super::tokens::placeholder_link(env.portal_url)))
}
