//! The desk's way to the database: the calls its pages make, each typed for
//! the page that shows it, run on the blocking pool. The queries live in
//! `crate::store::desk`, the changes in the ingest pipeline
//! (`Ingestor::desk_reply`, `Ingestor::desk_update`: the code mail and the
//! console go through).

use serde::Serialize;

use super::super::db::{readable, AttachmentView, FieldView, FileView};
use super::super::error::WebError;
use super::super::tickets::{priority_label, size_label};
use super::super::State;
use crate::domain::access::Viewer;
use crate::domain::model::{Role, TicketId};
use crate::ingest::{now, DeskReply, Ingestor};
use crate::store::console::ConsoleUpdate;
use crate::store::desk::{self as q, QueueFilter};
use crate::store::portal::Person;
use crate::store::{Store, StoreError};

/// Runs `job` with one of the portal's connections, on the blocking pool.
/// Every desk job may queue mail (answers, updates, retries), so the
/// courier is woken after each; a look that queued nothing costs it one
/// cheap query.
async fn run<T, F>(web: &State, job: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store, &Ingestor) -> Result<T, StoreError> + Send + 'static,
{
    web.db.run_write(job).await
}

/// A person as the desk shows them: as every page does.
pub use super::super::db::person as who;

/// A line of the queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRowView {
    pub id: i64,
    pub subject: String,
    pub requester: String,
    pub org: Option<String>,
    pub created: String,
    pub created_iso: String,
    pub updated: String,
    pub updated_iso: String,
    pub category: Option<String>,
    pub status: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub assignee: Option<String>,
    pub days_open: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountView {
    pub status: &'static str,
    pub count: i64,
}

/// The queue page's data.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub rows: Vec<QueueRowView>,
    pub total: i64,
    /// `total` is a floor: more than that many match.
    pub more: bool,
    pub counts: Vec<CountView>,
    pub all: i64,
    pub categories: Vec<String>,
    pub orgs: Vec<String>,
    /// Every agent, for the assignee filter's list.
    #[serde(skip)]
    pub agents: Vec<Person>,
}

/// Everything the queue page shows, in one job on one connection: the
/// rows, the counts, the filters' choices and the agents (a job per part
/// cost a queue round trip each, under load a wait each); `then` makes the
/// page of it on the same thread.
pub async fn queue<R, F>(
    web: &State,
    viewer: Viewer,
    filter: QueueFilter,
    limit: u32,
    then: F,
) -> Result<R, WebError>
where
    R: Send + 'static,
    F: FnOnce(QueueView) -> R + Send + 'static,
{
    web.db
        .run_read(move |store, _| {
            let conn = store.conn();
            let t = now();
            let found = q::queue(conn, &viewer, &filter, limit)?;
            let counts = q::status_counts(conn, &viewer)?;
            let (categories, orgs) = q::filter_choices(conn, &viewer)?;
            let agents = q::agents(conn, &viewer)?;
            Ok(then(QueueView {
                total: found.total,
                more: found.more,
                rows: found
                    .rows
                    .into_iter()
                    .map(|r| QueueRowView {
                        id: r.id.0,
                        days_open: r.days_open(t),
                        subject: r.subject,
                        requester: who(&r.requester),
                        org: r.org,
                        created: readable(r.created_at),
                        created_iso: r.created_at.to_string(),
                        updated: readable(r.updated_at),
                        updated_iso: r.updated_at.to_string(),
                        category: r.category,
                        status: r.status.as_str(),
                        priority: r.priority.as_str(),
                        priority_label: priority_label(r.priority),
                        assignee: r.assignee,
                    })
                    .collect(),
                all: counts.iter().map(|(_, n)| n).sum(),
                counts: counts
                    .into_iter()
                    .map(|(s, n)| CountView {
                        status: s.as_str(),
                        count: n,
                    })
                    .collect(),
                categories,
                orgs,
                agents,
            }))
        })
        .await
}

#[derive(Debug, Clone, Serialize)]
pub struct DeskMessageView {
    pub id: i64,
    pub author: String,
    pub date: String,
    pub date_iso: String,
    pub text: String,
    pub source: &'static str,
    pub verified: bool,
    pub internal: bool,
    pub outgoing: bool,
    pub attachments: Vec<AttachmentView>,
    /// Files that were not kept, and why.
    pub refused: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: i64,
    pub at: String,
    pub at_iso: String,
    pub kind: String,
    pub detail: String,
}

/// Everything on a ticket.
#[derive(Debug, Clone, Serialize)]
pub struct DeskTicketView {
    pub id: i64,
    pub subject: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub category: Option<String>,
    pub requester: String,
    pub org: Option<String>,
    pub assignee: Option<String>,
    /// The assignee's address: the update form's current choice.
    pub assignee_email: Option<String>,
    /// Every agent, for the assignee choice.
    pub agents: Vec<String>,
    pub follow_up_of: Option<i64>,
    pub created: String,
    pub created_iso: String,
    pub updated: String,
    pub updated_iso: String,
    pub solved: Option<String>,
    pub fields: Vec<FieldView>,
    pub watchers: Vec<String>,
    pub messages: Vec<DeskMessageView>,
    pub notes: usize,
    pub events: Vec<EventView>,
}

pub async fn ticket(
    web: &State,
    viewer: Viewer,
    id: i64,
    labels: Vec<(String, String)>,
) -> Result<Option<DeskTicketView>, WebError> {
    run(web, move |store, _| {
        let Some(d) = q::ticket(store.conn(), &viewer, TicketId(id))? else {
            return Ok(None);
        };
        let label_of = |name: &str| {
            labels
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(|| name.replace('_', " "), |(_, l)| l.clone())
        };
        let agents = crate::store::snapshot::agents(store.conn())?;
        let p = d.page;
        let messages: Vec<DeskMessageView> = d
            .messages
            .into_iter()
            .map(|m| DeskMessageView {
                id: m.id,
                author: m.author.as_ref().map_or_else(|| "Support".to_owned(), who),
                date: readable(m.date),
                date_iso: m.date.to_string(),
                text: m.text,
                source: m.source.as_str(),
                verified: m.verified,
                internal: m.internal,
                outgoing: m.direction == "out",
                refused: m
                    .attachments
                    .iter()
                    .filter_map(|a| {
                        a.refused
                            .as_ref()
                            .map(|why| format!("{} ({why})", a.filename))
                    })
                    .collect(),
                attachments: m
                    .attachments
                    .into_iter()
                    .filter(|a| a.refused.is_none())
                    .map(|a| AttachmentView {
                        id: a.id,
                        filename: a.filename,
                        size_label: size_label(a.size.max(0) as u64),
                    })
                    .collect(),
            })
            .collect();
        Ok(Some(DeskTicketView {
            id: p.id.0,
            subject: p.subject,
            status: p.status.as_str(),
            status_label: super::queue::status_word(p.status.as_str()),
            priority: p.priority.as_str(),
            priority_label: priority_label(p.priority),
            category: p.category,
            requester: who(&p.requester),
            org: p.org,
            assignee: p.assignee.as_ref().map(who),
            assignee_email: p.assignee.as_ref().map(|a| a.email.clone()),
            agents,
            follow_up_of: p.follow_up_of.map(|t| t.0),
            created: readable(p.created_at),
            created_iso: p.created_at.to_string(),
            updated: readable(p.updated_at),
            updated_iso: p.updated_at.to_string(),
            solved: p.solved_at.map(readable),
            fields: p
                .fields
                .iter()
                .map(|(k, v)| FieldView {
                    label: label_of(k),
                    value: v.clone(),
                })
                .collect(),
            watchers: p.watchers.iter().map(|w| w.email.clone()).collect(),
            notes: messages.iter().filter(|m| m.internal).count(),
            messages,
            events: d
                .events
                .into_iter()
                .map(|e| EventView {
                    id: e.id,
                    at: readable(e.at),
                    at_iso: e.at.to_string(),
                    kind: e.kind,
                    detail: e.detail,
                })
                .collect(),
        }))
    })
    .await
}

/// A file of any message of the ticket (notes too), for an agent.
pub async fn attachment(
    web: &State,
    viewer: Viewer,
    id: i64,
    aid: i64,
) -> Result<Option<FileView>, WebError> {
    let files = web.ingestor.attachments_dir().clone();
    run(web, move |store, _| {
        let Some(d) = q::attachment(store.conn(), &viewer, TicketId(id), aid)? else {
            return Ok(None);
        };
        super::super::db::read_file(&files, d).map(Some)
    })
    .await
}

/// A public answer or an internal note, as the agent's.
pub async fn reply(web: &State, agent: Viewer, id: i64, reply: DeskReply) -> Result<(), WebError> {
    run(web, move |store, ing| {
        ing.desk_reply(store, &agent.email, TicketId(id), reply, now())
            .map(|_| ())
    })
    .await
}

/// Status, priority, category, assignee, watchers: what `tickets update` does.
pub async fn update(
    web: &State,
    agent: Viewer,
    id: i64,
    change: ConsoleUpdate,
) -> Result<Vec<String>, WebError> {
    run(web, move |store, ing| {
        if let Some(email) = change.watch.first() {
            // The `#watch` rules: never the desk itself, an agent or the requester.
            let page = crate::store::portal::ticket_page(store.conn(), &agent, TicketId(id))?
                .ok_or_else(|| StoreError::NotFound(format!("ticket {id} not found")))?;
            let agents = crate::store::snapshot::agents(store.conn())?;
            if let Some(why) = crate::domain::watchers::refusal(
                email,
                &ing.policy().addressing,
                &agents,
                &page.requester.email,
            ) {
                return Err(StoreError::Invalid(format!(
                    "{email} cannot watch this ticket: {why}"
                )));
            }
        }
        ing.desk_update(store, &agent.email, TicketId(id), &change, now())
            .map(|s| s.changes)
    })
    .await
}

/// The one check every desk handler makes first: agents only; anyone else
/// gets the 404 of a page that does not exist.
pub fn is_agent(viewer: &Viewer) -> bool {
    viewer.role == Role::Agent
}

/// Events shown on the log page at most (the newest).
pub const LOG_LIMIT: usize = 500;

/// The data log, newest first (at most [`LOG_LIMIT`]), and how many there are.
pub async fn log(
    web: &State,
    agent: Viewer,
    ticket: Option<i64>,
) -> Result<(Vec<crate::store::queries::Event>, usize), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let mut all = crate::store::queries::events(store.conn(), ticket.map(TicketId))?;
        let total = all.len();
        all.reverse();
        all.truncate(LOG_LIMIT);
        Ok((all, total))
    })
    .await
}

/// `ticketd log delete`: one event.
pub async fn delete_event(web: &State, agent: Viewer, id: i64) -> Result<(), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let tx = store.write()?;
        crate::store::queries::delete_event(&tx, id)?;
        tx.commit()?;
        Ok(())
    })
    .await
}

/// `ticketd log clear --before`: returns how many were deleted.
pub async fn clear_events(
    web: &State,
    agent: Viewer,
    before: crate::domain::time::Timestamp,
) -> Result<usize, WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let tx = store.write()?;
        let n = crate::store::queries::clear_events(&tx, before)?;
        tx.commit()?;
        Ok(n)
    })
    .await
}

/// The outbox, newest first (at most [`LOG_LIMIT`]), and how many rows.
pub async fn outbox(
    web: &State,
    agent: Viewer,
) -> Result<(Vec<crate::store::queries::OutboxRow>, usize), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let mut rows = crate::store::queries::outbox(store.conn())?;
        let total = rows.len();
        rows.truncate(LOG_LIMIT);
        Ok((rows, total))
    })
    .await
}

/// `ticketd outbox retry ID`: a failed notification back to pending.
pub async fn retry(web: &State, agent: Viewer, id: i64) -> Result<(), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let tx = store.write()?;
        crate::store::outbox::requeue(&tx, Some(&[id]), now())?;
        tx.commit()?;
        Ok(())
    })
    .await
}

/// The quarantine, as `ticketd quarantine list`.
pub async fn quarantine(
    web: &State,
    agent: Viewer,
) -> Result<Vec<crate::store::queries::Quarantined>, WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        crate::store::queries::quarantine_list(store.conn())
    })
    .await
}

/// Characters of a quarantined mail the page shows at most.
pub const RAW_CHARS: usize = 200_000;

/// One quarantined mail and its raw text (cut at [`RAW_CHARS`]).
pub async fn quarantined(
    web: &State,
    agent: Viewer,
    id: i64,
) -> Result<(crate::store::queries::Quarantined, String, bool), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let (q, raw) = crate::store::queries::quarantined(store.conn(), id)?;
        let text = String::from_utf8_lossy(&raw);
        let cut = text.chars().count() > RAW_CHARS;
        Ok((q, text.chars().take(RAW_CHARS).collect(), cut))
    })
    .await
}

/// `ticketd quarantine replay`: returns the ticket it landed on, if any.
pub async fn replay(web: &State, agent: Viewer, id: i64) -> Result<Option<i64>, WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, ing| {
        ing.replay(store, id, now()).map(|r| r.ticket)
    })
    .await
}

/// `ticketd quarantine discard`.
pub async fn discard(web: &State, agent: Viewer, id: i64) -> Result<(), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let tx = store.write()?;
        crate::store::queries::discard(&tx, id, now())?;
        tx.commit()?;
        Ok(())
    })
    .await
}

/// Accounts whose address, name or organization contains `q` (all when
/// empty), by address, at most [`LOG_LIMIT`]; and how many matched.
pub async fn users(
    web: &State,
    agent: Viewer,
    q: String,
) -> Result<(Vec<crate::store::queries::User>, usize), WebError> {
    if !is_agent(&agent) {
        return Err(WebError::NotFound);
    }
    run(web, move |store, _| {
        let q = q.to_lowercase();
        let mut found: Vec<_> = crate::store::queries::users(store.conn())?
            .into_iter()
            .filter(|u| {
                q.is_empty()
                    || u.email.contains(&q)
                    || u.name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&q))
                    || u.org.as_deref().is_some_and(|o| o.contains(&q))
            })
            .collect();
        let total = found.len();
        found.truncate(LOG_LIMIT);
        Ok((found, total))
    })
    .await
}

/// A fresh password link for an account (`users reset-password`), e.g. an
/// agent helping a customer who lost theirs; recorded as the agent's.
pub async fn send_password_link(web: &State, agent: Viewer, email: String) -> Result<(), WebError> {
    run(web, move |store, ing| {
        let by = crate::store::console::Actor::Portal {
            email: &agent.email,
            role: agent.role,
        };
        ing.reset_password(store, &email, by, now())
    })
    .await
}

/// `users clear-bounce`: mail to the address resumes.
pub async fn clear_bounce(web: &State, agent: Viewer, email: String) -> Result<bool, WebError> {
    run(web, move |store, _| {
        let tx = store.write()?;
        let via = format!(" by {} (portal)", agent.email);
        let cleared = crate::store::queries::clear_bouncing(&tx, &email, now(), &via)?;
        tx.commit()?;
        Ok(cleared)
    })
    .await
}

pub async fn set_role(
    web: &State,
    agent: Viewer,
    email: String,
    role: Role,
) -> Result<(), WebError> {
    run(web, move |store, _| {
        let tx = store.write()?;
        q::set_role(&tx, &agent, &email, role, now())?;
        tx.commit()?;
        Ok(())
    })
    .await
}
