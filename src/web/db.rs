//! The portal's way to the database: a few threads of its own, each with
//! one SQLite connection (never used on the async runtime), and the calls
//! the pages make, each one typed for the page that shows it. The queries
//! themselves live in `crate::store::portal`, the changes in the ingest
//! pipeline.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::error::WebError;
use super::extract::SignedIn;
use crate::config::StoreConfig;
use crate::domain::access::Viewer;
use crate::domain::model::Role;
use crate::domain::time::Timestamp;
use crate::ingest::{now, Ingestor};
use crate::store::portal::StatusFilter;
use crate::store::{Durability, Store, StoreError};

pub use crate::ingest::Upload;

/// Database threads, each with its connection: at most this many jobs on
/// the database at once. Few, on purpose: with 2 cores, more threads only
/// take turns (and CPU from the async thread that serves the connections),
/// while a few still let reads go on beside a write waiting for its fsync.
/// Three, measured with 2, 3 and 4 at 20 agents on the desk's queue (whose
/// pages render on these threads): 2 and 3 had the lower p99
/// (docs/desk-bench.md).
const WORKERS: usize = 3;

/// One call's work, run on a database thread with its connection (or the
/// error that kept it from opening).
type Job = Box<dyn FnOnce(Result<&mut Store, StoreError>, &Ingestor) + Send>;

/// The portal's database threads.
///
/// Why threads of its own rather than `spawn_blocking` per call: under
/// load, a thread that finishes a job finds the next one waiting in the
/// queue and goes on, instead of going to sleep and being woken for the
/// next (the wake-ups and task switches of two `spawn_blocking` calls per
/// page were a sixth of the portal's CPU at 50 sessions); and each thread
/// keeps one warm connection, never opening one under load (a new one
/// checks the schema and starts with a cold page cache).
pub struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// How many threads started (a thread that cannot start is logged).
    workers: usize,
    files: crate::attachments::AttachmentDir,
    /// Woken after a change that may have queued mail: the courier sends
    /// it at once rather than at its next look.
    wake: Arc<tokio::sync::Notify>,
}

impl Pool {
    pub fn new(
        config: StoreConfig,
        ingestor: Arc<Ingestor>,
        files: crate::attachments::AttachmentDir,
        wake: Arc<tokio::sync::Notify>,
    ) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = 0;
        for k in 0..WORKERS {
            let (config, ingestor, rx) = (config.clone(), ingestor.clone(), rx.clone());
            match std::thread::Builder::new()
                .name(format!("ticketd-web-db-{k}"))
                .spawn(move || work(&config, &ingestor, &rx))
            {
                Ok(_) => workers += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a portal database thread"),
            }
        }
        Pool {
            jobs: Mutex::new(Some(tx)),
            workers,
            files,
            wake,
        }
    }

    /// [`Pool::run`] for a change that may queue notifications.
    pub(crate) async fn run_write<T, F>(&self, job: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &Ingestor) -> Result<T, StoreError> + Send + 'static,
    {
        let r = self.run(job).await?;
        self.wake.notify_one();
        Ok(r)
    }

    /// [`Pool::run`] for a page that only reads: nothing to wake the
    /// courier for.
    pub(crate) async fn run_read<T, F>(&self, job: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &Ingestor) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(job).await
    }

    /// Runs `job` on a database thread, with its connection.
    async fn run<T, F>(&self, job: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &Ingestor) -> Result<T, StoreError> + Send + 'static,
    {
        let stopped = || WebError::Internal("the portal's database threads stopped".into());
        if self.workers == 0 {
            return Err(stopped());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store, ingestor| {
            // The page may have gone (the client left): nothing to tell.
            let _ = tx.send(store.and_then(|s| job(s, ingestor)));
        });
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|jobs| jobs.send(job).is_ok()));
        if sent != Some(true) {
            return Err(stopped());
        }
        Ok(rx.await.map_err(|_| stopped())??)
    }
}

impl Drop for Pool {
    /// The threads end once the queue is closed and empty.
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }
}

/// A database thread: takes the next job until the pool is dropped. Its
/// connection is opened at the first job (and again after one that failed
/// to open or panicked).
fn work(config: &StoreConfig, ingestor: &Ingestor, jobs: &Mutex<mpsc::Receiver<Job>>) {
    let mut store: Option<Store> = None;
    loop {
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        let s = match store.as_mut() {
            Some(s) => s,
            None => match Store::from_config(config, Durability::Full)
                .and_then(|s| s.tune_for_pages().map(|()| s))
            {
                Ok(s) => store.insert(s),
                Err(e) => {
                    job(Err(e), ingestor);
                    continue;
                }
            },
        };
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(s), ingestor)));
        if ran.is_err() {
            // A job that panicked may have left its connection mid-way.
            store = None;
        }
    }
}

pub use crate::ingest::{NewTicket, WebUpdate};

/// A row of "My activities", as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TicketRowView {
    pub id: i64,
    pub subject: String,
    pub description: String,
    pub created: String,
    pub created_iso: String,
    pub category: Option<String>,
    pub status: &'static str,
    pub status_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub days_open: i64,
    pub assignee: Option<String>,
    /// Who asked, when that is not the viewer (an admin's colleagues).
    pub requester: Option<String>,
}

impl TicketRowView {
    /// `row` for `viewer_email`, moving its strings rather than copying them.
    fn new(row: crate::store::portal::TicketRow, viewer_email: &str, now: Timestamp) -> Self {
        let (created, created_iso) = dates(row.created_at);
        TicketRowView {
            id: row.id.0,
            days_open: row.days_open(now),
            subject: row.subject,
            description: row.description,
            created,
            created_iso,
            category: row.category,
            status: row.status.as_str(),
            status_label: row.status.label(),
            priority: row.priority.as_str(),
            priority_label: super::tickets::priority_label(row.priority),
            assignee: row.assignee,
            requester: Some(row.requester).filter(|r| r != viewer_email),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub id: i64,
    pub filename: String,
    pub size_label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub author: String,
    pub from_support: bool,
    pub date: String,
    pub date_iso: String,
    pub text: String,
    pub source: &'static str,
    pub attachments: Vec<AttachmentView>,
}

/// The ticket page.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub id: i64,
    pub subject: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub category: Option<String>,
    pub requester: String,
    pub assignee: Option<String>,
    pub created: String,
    pub created_iso: String,
    pub updated: String,
    pub updated_iso: String,
    pub fields: Vec<FieldView>,
    pub watchers: Vec<String>,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub email: String,
    pub name: Option<String>,
    pub role: &'static str,
    pub role_label: &'static str,
}

/// A file to download, read after the access check.
pub struct FileView {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The stored file of a download the access check let through.
pub(crate) fn read_file(
    files: &crate::attachments::AttachmentDir,
    d: crate::store::portal::Download,
) -> Result<FileView, StoreError> {
    let path = files.path_of(&d.sha256);
    let data = std::fs::read(&path).map_err(|e| StoreError::Io {
        what: format!("read attachment file {}", path.display()),
        source: e,
    })?;
    Ok(FileView {
        filename: d.filename,
        content_type: d.content_type,
        data,
    })
}

/// "30 Nov 2026, 09:00 UTC" from a timestamp.
pub fn readable(t: crate::domain::time::Timestamp) -> String {
    dates(t).0
}

/// A time as pages show it, "30 Nov 2026, 09:00 UTC", and for `<time
/// datetime>`, "2026-11-30T09:00:00Z": both from one formatting of the
/// timestamp (a list formats 200, a ticket page 200 more).
pub fn dates(t: crate::domain::time::Timestamp) -> (String, String) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = t.to_string(); // 2026-11-30T09:00:00Z
    let (Some(y), Some(m), Some(d), Some(hm)) = (
        iso.get(0..4),
        iso.get(5..7),
        iso.get(8..10),
        iso.get(11..16),
    ) else {
        return (iso.clone(), iso);
    };
    let Some(month) = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
    else {
        return (iso.clone(), iso);
    };
    let mut out = String::with_capacity(24);
    for part in [
        d.trim_start_matches('0'),
        " ",
        month,
        " ",
        y,
        ", ",
        hm,
        " UTC",
    ] {
        out.push_str(part);
    }
    (out, iso)
}

/// The statuses a tab of "My activities" shows (`?status=`); anything
/// unknown is the default tab, open and awaiting reply.
fn status_filter(tab: &str) -> StatusFilter {
    match tab {
        "all" => StatusFilter::All,
        "log" => StatusFilter::DataLog,
        tab => tab.parse().map_or(StatusFilter::Active, StatusFilter::Only),
    }
}

/// The conversation as the ticket page shows it. A thread has few authors
/// and many messages: each author's label and side (support or customer)
/// is worked out once, not once per message.
fn message_views(
    messages: Vec<crate::store::portal::PageMessage>,
    support: &crate::domain::address::Addressing,
    agents: &[String],
) -> Vec<MessageView> {
    let mut authors: Vec<(Option<String>, String, bool)> = Vec::new();
    messages
        .into_iter()
        .map(|m| {
            let email = m.author.as_ref().map(|a| a.email.as_str());
            let i = match authors.iter().position(|(e, _, _)| e.as_deref() == email) {
                Some(i) => i,
                None => {
                    let (label, ours) = match &m.author {
                        Some(a) => (
                            person(a),
                            support.is_ours(&a.email) || agents.contains(&a.email),
                        ),
                        None => ("Support".to_owned(), false),
                    };
                    authors.push((email.map(str::to_owned), label, ours));
                    authors.len() - 1
                }
            };
            let (_, author, from_support) = &authors[i];
            let (date, date_iso) = dates(m.date);
            MessageView {
                author: author.clone(),
                from_support: *from_support,
                date,
                date_iso,
                text: m.text,
                source: m.source.as_str(),
                attachments: m
                    .attachments
                    .into_iter()
                    .filter(|a| a.refused.is_none())
                    .map(|a| AttachmentView {
                        id: a.id,
                        filename: a.filename,
                        size_label: super::tickets::size_label(a.size.max(0) as u64),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A person as the pages show them: "Name <address>", or the address.
pub fn person(p: &crate::store::portal::Person) -> String {
    match &p.name {
        Some(n) if !n.trim().is_empty() => format!("{n} <{}>", p.email),
        _ => p.email.clone(),
    }
}

impl Pool {
    pub async fn session_user(&self, token_hash: String) -> Result<Option<SignedIn>, WebError> {
        self.run(move |store, _| {
            let found = crate::store::portal::session_user(store.conn(), &token_hash, now())?;
            Ok(found.map(|(u, form_token)| SignedIn {
                id: u.id,
                email: u.email,
                name: u.name,
                role: u.role,
                org: u.org,
                form_token,
                session_hash: token_hash,
            }))
        })
        .await
    }

    pub async fn create_session(
        &self,
        user_id: i64,
        token_hash: String,
        form_token: String,
        days: u32,
    ) -> Result<(), WebError> {
        self.run(move |store, _| {
            let t = now();
            let tx = store.write()?;
            crate::store::portal::delete_expired_sessions(&tx, t)?;
            crate::store::portal::create_session(
                &tx,
                user_id,
                &token_hash,
                &form_token,
                t,
                t.plus_secs(i64::from(days) * crate::domain::time::DAY),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<(), WebError> {
        self.run(move |store, _| {
            crate::store::portal::delete_session(store.conn(), &token_hash)?;
            Ok(())
        })
        .await
    }

    pub async fn user_for_login(
        &self,
        email: String,
    ) -> Result<Option<crate::store::portal::LoginUser>, WebError> {
        self.run(move |store, _| crate::store::portal::user_for_login(store.conn(), &email))
            .await
    }

    /// Whose password a link sets, if it still works.
    pub async fn token_owner(&self, token: String) -> Result<Option<String>, WebError> {
        self.run(move |store, _| crate::store::portal::token_email(store.conn(), &token, now()))
            .await
    }

    /// Sets the password; `None` when the link no longer works.
    pub async fn set_password_with_token(
        &self,
        token: String,
        hash: String,
    ) -> Result<Option<i64>, WebError> {
        self.run(
            move |store, ing| match ing.set_password_with_token(store, &token, &hash, now()) {
                Ok(id) => Ok(Some(id)),
                Err(StoreError::TokenInvalid) => Ok(None),
                Err(e) => Err(e),
            },
        )
        .await
    }

    pub async fn request_password_reset(&self, email: String) -> Result<(), WebError> {
        self.run_write(move |store, ing| ing.request_password_reset(store, &email, now()))
            .await
    }

    pub async fn change_password(
        &self,
        user_id: i64,
        hash: String,
        keep: String,
    ) -> Result<(), WebError> {
        self.run(move |store, _| {
            let tx = store.write()?;
            crate::store::portal::change_password(&tx, user_id, &hash, Some(&keep), now())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The rows of `page` (from 1) of the list for `viewer`, and whether
    /// more follow, handed to `then` on the database thread: the page is
    /// rendered there too, so that rendering spreads over both cores
    /// instead of queueing on the one runtime thread.
    pub async fn tickets_for<R, F>(
        &self,
        viewer: Viewer,
        status: String,
        q: String,
        page: u32,
        then: F,
    ) -> Result<R, WebError>
    where
        R: Send + 'static,
        F: FnOnce(Vec<TicketRowView>, bool) -> R + Send + 'static,
    {
        self.run(move |store, _| {
            let filter = crate::store::portal::TicketFilter {
                status: status_filter(&status),
                q: Some(q).filter(|q| !q.is_empty()),
            };
            let t = now();
            let limit = super::tickets::PAGE_ROWS;
            let offset = (page.max(1) - 1).saturating_mul(limit);
            // One row more than the page: whether an older page exists.
            let mut rows = crate::store::portal::tickets_for(
                store.conn(),
                &viewer,
                &filter,
                limit + 1,
                offset,
            )?;
            let more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            Ok(then(
                rows.into_iter()
                    .map(|r| TicketRowView::new(r, &viewer.email, t))
                    .collect(),
                more,
            ))
        })
        .await
    }

    /// The ticket page's view, handed to `then` on the database thread (as
    /// [`Pool::tickets_for`]); `None` when `viewer` may not see ticket `id`.
    pub async fn ticket_page<R, F>(
        &self,
        viewer: Viewer,
        id: i64,
        labels: Vec<(String, String)>,
        then: F,
    ) -> Result<Option<R>, WebError>
    where
        R: Send + 'static,
        F: FnOnce(TicketView) -> R + Send + 'static,
    {
        self.run(move |store, ing| {
            let Some(p) = crate::store::portal::ticket_page(
                store.conn(),
                &viewer,
                crate::domain::model::TicketId(id),
            )?
            else {
                return Ok(None);
            };
            let agents = crate::store::snapshot::agents(store.conn())?;
            let label_of = |name: &str| {
                labels
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or_else(|| name.replace('_', " "), |(_, l)| l.clone())
            };
            let (created, created_iso) = dates(p.created_at);
            let (updated, updated_iso) = dates(p.updated_at);
            let messages = message_views(p.messages, &ing.policy().addressing, &agents);
            Ok(Some(then(TicketView {
                id: p.id.0,
                subject: p.subject,
                status: p.status.as_str(),
                status_label: p.status.label(),
                priority: p.priority.as_str(),
                priority_label: super::tickets::priority_label(p.priority),
                category: p.category,
                requester: person(&p.requester),
                assignee: p.assignee.as_ref().map(person),
                created,
                created_iso,
                updated,
                updated_iso,
                fields: p
                    .fields
                    .iter()
                    .map(|(k, v)| FieldView {
                        label: label_of(k),
                        value: v.clone(),
                    })
                    .collect(),
                watchers: p.watchers.into_iter().map(|w| w.email).collect(),
                messages,
            })))
        })
        .await
    }

    pub async fn attachment_for(
        &self,
        viewer: Viewer,
        id: i64,
        aid: i64,
    ) -> Result<Option<FileView>, WebError> {
        let files = self.files.clone();
        self.run(move |store, _| {
            let Some(d) = crate::store::portal::attachment_for(
                store.conn(),
                &viewer,
                crate::domain::model::TicketId(id),
                aid,
            )?
            else {
                return Ok(None);
            };
            read_file(&files, d).map(Some)
        })
        .await
    }

    pub async fn web_create(
        &self,
        author: String,
        form: NewTicket,
        uploads: Vec<Upload>,
    ) -> Result<i64, WebError> {
        self.run_write(move |store, ing| {
            let r = ing.web_create(store, &author, form, uploads, now())?;
            r.ticket
                .ok_or_else(|| StoreError::Invalid("the ticket could not be opened".into()))
        })
        .await
    }

    pub async fn web_reply(
        &self,
        author: Viewer,
        id: i64,
        text: String,
        uploads: Vec<Upload>,
    ) -> Result<(), WebError> {
        self.run_write(move |store, ing| {
            ing.web_reply(
                store,
                &author.email,
                crate::domain::model::TicketId(id),
                &text,
                uploads,
                now(),
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn web_change(
        &self,
        actor: Viewer,
        id: i64,
        change: WebUpdate,
    ) -> Result<(), WebError> {
        self.run_write(move |store, ing| {
            ing.web_update(
                store,
                &actor.email,
                crate::domain::model::TicketId(id),
                change,
                now(),
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn org_members(&self, org: String) -> Result<Vec<MemberView>, WebError> {
        self.run(move |store, _| {
            Ok(crate::store::portal::org_members(store.conn(), &org)?
                .into_iter()
                .map(|m| MemberView {
                    email: m.email,
                    name: m.name,
                    role: m.role.as_str(),
                    role_label: super::org::role_label(m.role),
                })
                .collect())
        })
        .await
    }

    pub async fn set_org_role(
        &self,
        admin: Viewer,
        email: String,
        role: Role,
    ) -> Result<(), WebError> {
        self.run_write(move |store, _| {
            let tx = store.write()?;
            crate::store::portal::set_role_in_org(&tx, &admin, &email, role, now())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn invite(&self, admin: String, email: String) -> Result<(), WebError> {
        self.run_write(move |store, ing| ing.org_invite(store, &admin, &email, now()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_filters_in_sql_and_the_default_is_active() {
        use crate::domain::model::Status;
        for (tab, want) in [
            ("active", StatusFilter::Active),
            ("", StatusFilter::Active),
            ("nonsense", StatusFilter::Active),
            ("open", StatusFilter::Only(Status::Open)),
            ("pending", StatusFilter::Only(Status::Pending)),
            ("solved", StatusFilter::Only(Status::Solved)),
            ("closed", StatusFilter::Only(Status::Closed)),
            ("log", StatusFilter::DataLog),
            ("all", StatusFilter::All),
        ] {
            assert_eq!(status_filter(tab), want, "{tab:?}");
        }
    }

    #[test]
    fn dates_read_like_dates() {
        assert_eq!(
            readable(crate::domain::time::Timestamp(1_796_029_200)),
            "30 Nov 2026, 09:00 UTC"
        );
    }
}
