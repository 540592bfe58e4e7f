//! "My activities", the ticket page, the create form, and what a customer
//! does on a ticket: reply, mark solved, add or remove a colleague on Cc,
//! download an attachment. Each goes through the one access rule (in the
//! store's queries) and, when it changes something, through the same
//! pipeline as a mail.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::db::{NewTicket, WebUpdate};
use super::error::WebError;
use super::extract::SignedIn;
use super::multipart::read_multipart;
use super::pages;
use crate::domain::model::{Priority, Status};

pub fn router() -> Router<super::State> {
    Router::new()
        .route("/tickets", get(list).post(create))
        .route("/tickets/new", get(new_page))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/reply", post(reply))
        .route("/tickets/{id}/solve", post(solve))
        .route("/tickets/{id}/cc", post(add_cc))
        .route("/tickets/{id}/cc/remove", post(remove_cc))
        .route("/tickets/{id}/attachments/{aid}", get(attachment))
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    /// Read as text: a page number that is no number is page 1, not a 400.
    #[serde(default)]
    page: String,
}

/// Rows a page of "My activities" shows (an org admin's organization may
/// have thousands of tickets: `?page=N` goes further back).
pub const PAGE_ROWS: u32 = 50;

/// The last page a list goes to: the work a page costs stays bounded
/// (a search finds an old ticket sooner).
const MAX_PAGE: u32 = 500;

/// `/tickets?…` for `page` of the list, its tab and search kept.
fn list_href(status: &str, q: &str, page: u32) -> String {
    let mut href = format!("/tickets?status={}", super::percent::encode(status));
    if !q.is_empty() {
        href.push_str("&q=");
        href.push_str(&super::percent::encode(q));
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

#[derive(Serialize)]
struct Filter {
    value: &'static str,
    label: &'static str,
    current: bool,
}

/// The status filter's choices, in the order a customer reads them.
const FILTERS: &[(&str, &str)] = &[
    ("active", "Open and awaiting reply"),
    ("open", "Open"),
    ("pending", "Awaiting your reply"),
    ("solved", "Solved"),
    ("closed", "Closed"),
    ("log", "Data Log"),
    ("all", "All"),
];

async fn list(
    State(web): State<super::State>,
    user: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let status = if FILTERS.iter().any(|(v, _)| *v == q.status) {
        q.status.clone()
    } else {
        "active".to_owned()
    };
    let search = q.q.trim().chars().take(200).collect::<String>();
    let page: u32 = q.page.trim().parse().unwrap_or(1).clamp(1, MAX_PAGE);
    let filters: Vec<Filter> = FILTERS
        .iter()
        .map(|(value, label)| Filter {
            value,
            label,
            current: *value == status,
        })
        .collect();
    let newer = (page > 1).then(|| list_href(&status, &search, page - 1));
    let older = list_href(&status, &search, page + 1);
    let ctx = minijinja::context! {
        title => "My activities", nav => "tickets", support_name => web.site.support_name,
        support_address => web.site.support_address,
        user => user_ctx(&user), csrf => user.form_token,
        filters => filters, status => status, q => search, page => page, newer => newer,
        data_log => status == "log",
    };
    let html = web
        .db
        .tickets_for(user.viewer(), status, search, page, move |tickets, more| {
            let rows = minijinja::Value::from_safe_string(super::rows::ticket_rows(&tickets));
            let older = (more && page < MAX_PAGE).then_some(older);
            pages::render(
                "tickets.html",
                minijinja::context! {
                    any => !tickets.is_empty(), rows => rows, older => older, ..ctx
                },
            )
        })
        .await?;
    Ok(Html(html).into_response())
}

/// What the page layout shows of the signed-in person.
pub fn user_ctx(user: &SignedIn) -> minijinja::Value {
    minijinja::context! {
        email => user.email, name => user.name, role => user.role.as_str(), org => user.org,
    }
}

async fn show(
    State(web): State<super::State>,
    user: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let labels = web
        .site
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.label.clone()))
        .collect();
    let page = minijinja::context! {
        nav => "tickets",
        support_name => web.site.support_name, support_address => web.site.support_address,
        user => user_ctx(&user), csrf => user.form_token,
        max_upload => size_label(web.site.max_upload),
    };
    let html = web
        .db
        .ticket_page(user.viewer(), id, labels, move |mut t| {
            let messages = std::mem::take(&mut t.messages);
            let conversation =
                minijinja::Value::from_safe_string(super::rows::conversation(t.id, &messages));
            pages::render(
                "ticket.html",
                minijinja::context! {
                    title => format!("#{id} {}", t.subject), t => t,
                    conversation => conversation, ..page
                },
            )
        })
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Html(html).into_response())
}

#[derive(Serialize, Default, Clone)]
struct FormValues {
    subject: String,
    description: String,
    priority: String,
    category: String,
    cc: String,
}

#[derive(Serialize)]
struct FieldInput {
    name: String,
    label: String,
    required: bool,
    value: String,
}

fn new_form_page(
    web: &super::State,
    user: &SignedIn,
    form: &FormValues,
    values: &BTreeMap<String, String>,
    error: Option<String>,
) -> String {
    let fields: Vec<FieldInput> = web
        .site
        .fields
        .iter()
        .map(|f| FieldInput {
            name: f.name.clone(),
            label: f.label.clone(),
            required: f.required,
            value: values.get(&f.name).cloned().unwrap_or_default(),
        })
        .collect();
    let priorities: Vec<minijinja::Value> = Priority::ALL
        .iter()
        .map(|p| minijinja::context! { value => p.as_str(), label => priority_label(*p) })
        .collect();
    pages::render(
        "new.html",
        minijinja::context! {
            title => "New ticket", nav => "new", support_name => web.site.support_name,
            support_address => web.site.support_address,
            user => user_ctx(user), csrf => user.form_token, form => form, fields => fields,
            categories => web.site.categories, priorities => priorities, error => error,
            max_upload => size_label(web.site.max_upload),
        },
    )
}

async fn new_page(State(web): State<super::State>, user: SignedIn) -> Response {
    let form = FormValues {
        priority: "normal".into(),
        ..Default::default()
    };
    Html(new_form_page(&web, &user, &form, &BTreeMap::new(), None)).into_response()
}

async fn create(
    State(web): State<super::State>,
    user: SignedIn,
    mp: Multipart,
) -> Result<Response, WebError> {
    let posted = read_multipart(mp, web.site.max_upload).await?;
    let get = |k: &str| {
        posted
            .text
            .get(k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    user.check_form(&get("csrf"))?;
    let form = FormValues {
        subject: get("subject"),
        description: get("description"),
        priority: get("priority"),
        category: get("category"),
        cc: get("cc"),
    };
    let values: BTreeMap<String, String> = web
        .site
        .fields
        .iter()
        .map(|f| (f.name.clone(), get(&format!("field.{}", f.name))))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let problem = check_new_ticket(&web.site, &form, &values);
    let (priority, cc) = match problem {
        Ok(ok) => ok,
        Err(message) => {
            let page = new_form_page(&web, &user, &form, &values, Some(message));
            return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
        }
    };
    let id = web
        .db
        .web_create(
            user.email.clone(),
            NewTicket {
                subject: form.subject,
                description: form.description,
                priority,
                category: Some(form.category).filter(|c| !c.is_empty()),
                fields: values,
                cc,
            },
            posted.files,
        )
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

/// The server-side checks of the create form: required text, the
/// configured fields (required, pattern), a category from the list when
/// there is one, Cc addresses that are addresses.
fn check_new_ticket(
    site: &super::Site,
    form: &FormValues,
    values: &BTreeMap<String, String>,
) -> Result<(Option<Priority>, Vec<String>), String> {
    if form.subject.is_empty() || form.subject.chars().count() > 200 {
        return Err("Please give the ticket a subject (at most 200 characters).".into());
    }
    if form.description.is_empty() {
        return Err("Please describe what happened.".into());
    }
    let priority = match form.priority.as_str() {
        "" => None,
        p => Some(
            p.parse::<Priority>()
                .map_err(|_| "Please choose a priority from the list.")?,
        ),
    };
    if !site.categories.is_empty()
        && !form.category.is_empty()
        && !site.categories.contains(&form.category)
    {
        return Err("Please choose a category from the list.".into());
    }
    for f in &site.fields {
        let v = values.get(&f.name).map(String::as_str).unwrap_or("");
        if v.is_empty() {
            if f.required {
                return Err(format!("Please fill in “{}”.", f.label));
            }
            continue;
        }
        if let Some(p) = &f.pattern {
            let ok = regex::Regex::new(p).map(|r| r.is_match(v)).unwrap_or(false);
            if !ok {
                return Err(format!(
                    "“{}” does not look right: please check it.",
                    f.label
                ));
            }
        }
    }
    let mut cc = Vec::new();
    for a in form
        .cc
        .split([',', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let a = crate::domain::model::normalize_email(a);
        let ok = a
            .rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        if !ok {
            return Err(format!("“{a}” is not an email address."));
        }
        cc.push(a);
    }
    Ok((priority, cc))
}

async fn reply(
    State(web): State<super::State>,
    user: SignedIn,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    let posted = read_multipart(mp, web.site.max_upload).await?;
    let csrf = posted.text.get("csrf").cloned().unwrap_or_default();
    user.check_form(&csrf)?;
    let text = posted
        .text
        .get("text")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if text.is_empty() && posted.files.is_empty() {
        return Err(WebError::BadRequest(
            "Write a reply, or attach a file.".into(),
        ));
    }
    web.db
        .web_reply(user.viewer(), id, text, posted.files)
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn solve(
    State(web): State<super::State>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    web.db
        .web_change(user.viewer(), id, WebUpdate::Solve)
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

async fn add_cc(
    State(web): State<super::State>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    let email = crate::domain::model::normalize_email(&form.email);
    web.db
        .web_change(user.viewer(), id, WebUpdate::AddCc(email))
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

async fn remove_cc(
    State(web): State<super::State>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    let email = crate::domain::model::normalize_email(&form.email);
    web.db
        .web_change(user.viewer(), id, WebUpdate::RemoveCc(email))
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

/// Types a browser may show inline: plain raster images. Everything else
/// (SVG and HTML above all: they can carry script) is a download.
const INLINE: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

async fn attachment(
    State(web): State<super::State>,
    user: SignedIn,
    Path((id, aid)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    let file = web
        .db
        .attachment_for(user.viewer(), id, aid)
        .await?
        .ok_or(WebError::NotFound)?;
    let inline = INLINE.contains(&file.content_type.as_str());
    let content_type = if inline {
        file.content_type.clone()
    } else {
        "application/octet-stream".to_owned()
    };
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        ascii_filename(&file.filename),
        super::percent::encode(&file.filename)
    );
    let mut res = file.data.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // A download gets a CSP that forbids everything, should a browser render it anyway.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}

/// The name for the plain `filename=` parameter: ASCII without quotes.
fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// "1.5 MB", "320 KB", "12 bytes".
pub fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// How a customer reads a priority.
pub fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Low => "Low",
        Priority::Normal => "Normal",
        Priority::High => "High",
        Priority::Urgent => "Urgent",
    }
}

/// How a customer reads a status.
pub fn status_label(s: Status) -> &'static str {
    s.label()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_cannot_break_the_header() {
        assert_eq!(ascii_filename("a\"b\\c\r\nd.pdf"), "a_b_c__d.pdf");
        assert_eq!(
            crate::web::percent::encode("Rechnung März.pdf"),
            "Rechnung%20M%C3%A4rz.pdf"
        );
        assert_eq!(size_label(1536), "1 KB");
        assert_eq!(size_label(26_214_400), "25.0 MB");
    }
}
