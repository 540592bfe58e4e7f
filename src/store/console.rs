//! `tickets update`: what an agent's email commands do, for whoever works at
//! the console — the same events, and the notifications the same plan owes
//! (a solve tells the requester and watchers; becoming urgent pages on-call).

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::apply::{event, upsert_user, ApplyEnv};
use super::notify::{queue_account_mail, queue_notifications};
use super::StoreError;
use crate::domain::commands::Assignment;
use crate::domain::message::{InboundMessage, Mailbox};
use crate::domain::model::{normalize_email, NotificationKind, Priority, Role, Status, TicketId};
use crate::domain::notify::{self, PlanInput};

/// The changes asked for; `None`/empty leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConsoleUpdate {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub watch: Vec<String>,
    pub unwatch: Vec<String>,
    /// `--assign EMAIL` / `--unassign`, the desk's assignee, `#assign`.
    pub assign: Option<Assignment>,
}

impl ConsoleUpdate {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.priority.is_none()
            && self.category.is_none()
            && self.watch.is_empty()
            && self.unwatch.is_empty()
            && self.assign.is_none()
    }
}

/// What changed, one line each, and how many notifications were queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    pub changes: Vec<String>,
    pub notifications: usize,
}

/// Who asks for an update, as its events record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// Whoever works at the console (`tickets update`): acts as an agent.
    Console,
    /// A signed-in person on the portal or the desk.
    Portal { email: &'a str, role: Role },
}

impl Actor<'_> {
    /// What each event's detail ends with: " (console)", " by ann@acme.test (portal)".
    pub fn suffix(&self) -> String {
        match self {
            Actor::Console => " (console)".into(),
            Actor::Portal { email, .. } => format!(" by {email} (portal)"),
        }
    }

    /// The author and role the notification plan sees.
    fn author(&self) -> (&str, Role) {
        match self {
            Actor::Console => ("", Role::Agent),
            Actor::Portal { email, role } => (email, *role),
        }
    }
}

/// Carries out `u` on ticket `id` for `by` (who was allowed to ask: the
/// caller checked). One function for the console, the portal and the desk:
/// the same events, and the notifications the same plan owes.
pub fn update_ticket(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    id: TicketId,
    u: &ConsoleUpdate,
    by: Actor<'_>,
) -> Result<UpdateSummary, StoreError> {
    let now = env.now;
    let via = by.suffix();
    let (subject, status, priority, category, requester): (
        String,
        String,
        String,
        Option<String>,
        String,
    ) = conn
        .query_row(
            "SELECT t.subject, t.status, t.priority, t.category, u.email
             FROM tickets t JOIN users u ON u.id = t.requester_id WHERE t.id = ?1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "ticket {id} does not exist: see `ticketd tickets list`"
            ))
        })?;
    let mut out = UpdateSummary::default();
    let mut solved_now = false;
    let mut became_urgent = false;

    if let Some(s) = u.status.filter(|s| s.as_str() != status) {
        conn.execute(
            "UPDATE tickets SET status = ?2, updated_at = ?3,
             solved_at = CASE WHEN ?2 = 'solved' THEN ?3 ELSE NULL END WHERE id = ?1",
            params![id.0, s.as_str(), now.0],
        )?;
        let line = format!("{status} → {s}");
        event(
            conn,
            now,
            Some(id),
            "status_changed",
            &format!("{line}{via}"),
        )?;
        out.changes.push(format!("status {line}"));
        solved_now = s == Status::Solved;
    }
    if let Some(p) = u.priority.filter(|p| p.as_str() != priority) {
        conn.execute(
            "UPDATE tickets SET priority = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.0, p.as_str(), now.0],
        )?;
        let line = format!("{priority} → {p}");
        event(
            conn,
            now,
            Some(id),
            "priority_changed",
            &format!("{line}{via}"),
        )?;
        out.changes.push(format!("priority {line}"));
        became_urgent = p == Priority::Urgent;
    }
    if let Some(c) = u
        .category
        .as_ref()
        .filter(|c| Some(*c) != category.as_ref())
    {
        conn.execute(
            "UPDATE tickets SET category = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.0, c, now.0],
        )?;
        let line = format!("{} → {c}", category.as_deref().unwrap_or("none"));
        event(
            conn,
            now,
            Some(id),
            "category_changed",
            &format!("{line}{via}"),
        )?;
        out.changes.push(format!("category {line}"));
    }
    for w in &u.watch {
        let email = normalize_email(w);
        if email == requester {
            continue;
        }
        let who = Mailbox {
            email: email.clone(),
            name: None,
        };
        let uid = upsert_user(conn, &who, env.personal_domains, now)?;
        let added = conn.execute(
            "INSERT OR IGNORE INTO watchers (ticket_id, user_id) VALUES (?1, ?2)",
            params![id.0, uid],
        )?;
        if added > 0 {
            event(
                conn,
                now,
                Some(id),
                "watcher_added",
                &format!("{email}{via}"),
            )?;
            out.changes.push(format!("watcher {email} added"));
        }
    }
    for w in &u.unwatch {
        let email = normalize_email(w);
        let removed = conn.execute(
            "DELETE FROM watchers WHERE ticket_id = ?1 AND user_id = (SELECT id FROM users WHERE email = ?2)",
            params![id.0, email],
        )?;
        if removed > 0 {
            event(
                conn,
                now,
                Some(id),
                "watcher_removed",
                &format!("{email}{via}"),
            )?;
            out.changes.push(format!("watcher {email} removed"));
        }
    }

    let mut assigned_now = None;
    if let Some(to) = &u.assign {
        if let Some(line) = super::assign::set_assignee(conn, now, id, to, &via)? {
            out.changes.push(format!("assignee {line}"));
            assigned_now = to.email().map(str::to_owned);
        }
    }
    let assignee: Option<String> = conn
        .prepare_cached(
            "SELECT a.email FROM tickets t JOIN users a ON a.id = t.assignee_id WHERE t.id = ?1",
        )?
        .query_row([id.0], |r| r.get(0))
        .optional()?;

    let watchers = strings(conn, "SELECT u.email FROM watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = ?1 ORDER BY u.email", Some(id.0))?;
    let agents = strings(
        conn,
        "SELECT email FROM users WHERE role = 'agent' ORDER BY email",
        None,
    )?;
    let bouncing: HashSet<String> = strings(
        conn,
        "SELECT email FROM users WHERE bouncing_since IS NOT NULL",
        None,
    )?
    .into_iter()
    .collect();
    let (author, author_role) = by.author();
    let planned = notify::plan(&PlanInput {
        author,
        author_role: Some(author_role),
        internal: true,
        requester: &requester,
        watchers: &watchers,
        agents: &agents,
        assignee: assignee.as_deref(),
        assigned_now: assigned_now.as_deref(),
        solved_now,
        became_urgent,
        oncall: env.policy.oncall.as_deref(),
        bouncing: Some(&bouncing),
        ..Default::default()
    });
    // The actor as the author a staff mail names ("assigned to you by …").
    let msg = InboundMessage {
        subject,
        from: (!author.is_empty()).then(|| Mailbox {
            email: author.to_owned(),
            name: None,
        }),
        ..Default::default()
    };
    queue_notifications(conn, env, Some(id), &msg, None, &planned)?;
    out.notifications = planned.len();
    Ok(out)
}

fn strings(conn: &Connection, sql: &str, arg: Option<i64>) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = match arg {
        Some(a) => stmt
            .query_map([a], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?,
        None => stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?,
    };
    Ok(rows)
}

/// `users reset-password`: a fresh single-use setup link for an account, on
/// request (a customer who lost theirs). Unknown addresses get no account:
/// the operator is told instead, so a typo does not create one.
pub fn reset_password(
    conn: &Connection,
    env: &ApplyEnv<'_>,
    email: &str,
    by: Actor<'_>,
) -> Result<(), StoreError> {
    let email = normalize_email(email);
    let known: Option<Option<i64>> = conn
        .query_row(
            "SELECT bouncing_since FROM users WHERE email = ?1",
            [&email],
            |r| r.get(0),
        )
        .optional()?;
    match known {
        None => Err(StoreError::NotFound(format!(
            "no account for {email}: see `ticketd users list` (accounts are made by the first mail)"
        ))),
        Some(Some(_)) => Err(StoreError::Invalid(format!(
            "{email} is marked as bouncing: clear it first with `ticketd users clear-bounce {email}`"
        ))),
        Some(None) => {
            queue_account_mail(conn, env, NotificationKind::PasswordSetup, &email)?;
            event(
                conn,
                env.now,
                None,
                "password_reset_requested",
                &format!("{email}{}", by.suffix()),
            )
        }
    }
}
