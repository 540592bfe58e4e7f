//! `GET /desk/tickets/ID`: everything on a ticket — details and fields,
//! watchers, every message with the internal notes marked, attachments
//! (notes' too, through the desk's own download), and its events. The
//! forms: answer or note (with files), update (status, priority, category,
//! assignee), watchers.

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::{Deserialize, Serialize};

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::multipart::read_multipart;
use super::super::pages;
use super::super::tickets::priority_label;
use crate::domain::commands::Assignment;
use crate::domain::model::{Priority, Status};
use crate::domain::normalize::one_line;
use crate::ingest::DeskReply;
use crate::store::console::ConsoleUpdate;

type WebState = super::super::State;

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

pub async fn show(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let labels = web
        .site
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.label.clone()))
        .collect();
    let t = super::db::ticket(&web, user.viewer(), id, labels)
        .await?
        .ok_or(WebError::NotFound)?;
    let statuses: Vec<Choice> = Status::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str(),
            label: super::queue::status_word(s.as_str()),
        })
        .collect();
    let priorities: Vec<Choice> = Priority::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str(),
            label: priority_label(*p),
        })
        .collect();
    let mut categories = web.site.categories.clone();
    if let Some(c) = &t.category {
        if !categories.contains(c) {
            categories.push(c.clone());
        }
    }
    Ok(Html(pages::render(
        "desk_ticket.html",
        minijinja::context! {
            title => format!("#{id} {}", t.subject), t => t, statuses => statuses,
            priorities => priorities, categories => categories, me => user.email.clone(),
            max_upload => super::super::tickets::size_label(web.site.max_upload),
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

pub async fn reply(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let posted = read_multipart(mp, web.site.max_upload).await?;
    user.check_form(posted.text.get("csrf").map(String::as_str).unwrap_or(""))?;
    let text = posted
        .text
        .get("text")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if text.is_empty() {
        return Err(WebError::BadRequest("Write an answer or a note.".into()));
    }
    let internal = posted.text.get("internal").map(String::as_str) == Some("1");
    super::db::reply(
        &web,
        user.viewer(),
        id,
        DeskReply {
            text,
            uploads: posted.files,
            internal,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    category: String,
    /// `me`, `none`, an agent's address; empty leaves it as it is.
    #[serde(default)]
    assignee: String,
}

fn word<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, WebError> {
    match s.trim() {
        "" => Ok(None),
        w => w
            .parse()
            .map(Some)
            .map_err(|_| WebError::BadRequest(format!("Choose a {what} from the list."))),
    }
}

/// The form's `assignee` as the change it asks for; whether the address is
/// an agent's is the store's check (DESIGN §9: only agents are assigned).
fn assignment(field: &str, me: &str) -> Result<Option<Assignment>, WebError> {
    Ok(match field.trim() {
        "" => None,
        "none" => Some(Assignment::Nobody),
        "me" => Some(Assignment::To(me.to_owned())),
        other => Some(Assignment::To(
            crate::domain::web::parse_address(other)
                .map_err(|r| WebError::BadRequest(r.to_string()))?,
        )),
    })
}

pub async fn update(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    let category = one_line(&form.category);
    if category.chars().count() > 100 {
        return Err(WebError::BadRequest(
            "A category has at most 100 characters.".into(),
        ));
    }
    let change = ConsoleUpdate {
        status: word(&form.status, "status")?,
        priority: word(&form.priority, "priority")?,
        category: Some(category).filter(|c| !c.is_empty()),
        assign: assignment(&form.assignee, &user.email)?,
        ..Default::default()
    };
    super::db::update(&web, user.viewer(), id, change).await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn watchers(
    web: WebState,
    user: SignedIn,
    id: i64,
    form: EmailForm,
    add: bool,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    let email = crate::domain::web::parse_address(&form.email)
        .map_err(|r| WebError::BadRequest(r.to_string()))?;
    let change = if add {
        ConsoleUpdate {
            watch: vec![email],
            ..Default::default()
        }
    } else {
        ConsoleUpdate {
            unwatch: vec![email],
            ..Default::default()
        }
    };
    super::db::update(&web, user.viewer(), id, change).await?;
    Ok(Redirect::to(&format!("/desk/tickets/{id}")).into_response())
}

pub async fn watch(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    watchers(web, user, id, form, true).await
}

pub async fn unwatch(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    watchers(web, user, id, form, false).await
}

/// A download of any file of the ticket (internal notes' too): always as
/// an attachment, never rendered, under a CSP that forbids everything.
pub async fn attachment(
    State(web): State<WebState>,
    user: SignedIn,
    Path((id, aid)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let file = super::db::attachment(&web, user.viewer(), id, aid)
        .await?
        .ok_or(WebError::NotFound)?;
    let name: String = file
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._ ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut res = file.data.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}
