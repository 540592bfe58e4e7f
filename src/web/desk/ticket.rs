//! `GET /desk/tickets/ID`: everything on a ticket — details and fields,
//! watchers, every message with the internal notes marked, attachments
//! (notes' too, through the desk's own download), and its events. The
//! forms: answer or note, update (status, priority, category), watchers.
//!
//! Not yet: files with a desk reply (the form takes text only, until the
//! portal's multipart reader is shared), assignment.

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::{Deserialize, Serialize};

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;
use super::super::tickets::priority_label;
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
            priorities => priorities, categories => categories,
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

/// Text fields longer than this are refused.
const MAX_TEXT_FIELD: usize = 1024 * 1024;

/// The reply form's text fields. Files are not taken from the desk yet: a
/// form that carries one is refused rather than sent without it.
async fn read_text_form(
    mut mp: Multipart,
) -> Result<std::collections::BTreeMap<String, String>, WebError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebError::TooLarge("The form is larger than the desk accepts.".into())
        } else {
            WebError::BadRequest(format!("The form could not be read: {e}"))
        }
    };
    let mut out = std::collections::BTreeMap::new();
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        let is_file = field.file_name().is_some();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if value.len() + chunk.len() > MAX_TEXT_FIELD {
                return Err(WebError::TooLarge(format!("The {name} field is too long.")));
            }
            value.extend_from_slice(&chunk);
        }
        if is_file {
            if !value.is_empty() {
                return Err(WebError::BadRequest(
                    "The desk does not take files with a reply yet: send them by mail.".into(),
                ));
            }
            continue;
        }
        out.insert(name, String::from_utf8_lossy(&value).into_owned());
    }
    Ok(out)
}

pub async fn reply(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let posted = read_text_form(mp).await?;
    user.check_form(posted.get("csrf").map(String::as_str).unwrap_or(""))?;
    let text = posted
        .get("text")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if text.is_empty() {
        return Err(WebError::BadRequest("Write an answer or a note.".into()));
    }
    let internal = posted.get("internal").map(String::as_str) == Some("1");
    super::db::reply(
        &web,
        user.viewer(),
        id,
        DeskReply {
            text,
            uploads: Vec::new(),
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
