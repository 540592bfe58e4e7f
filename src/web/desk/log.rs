//! `/desk/log`: the data log, as `ticketd log` — one ticket's or all,
//! delete an event, clear what came before a date (closed tickets' events
//! and those of no ticket, as the console does).

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;
use crate::domain::time::Timestamp;

type WebState = super::super::State;

#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    ticket: String,
}

fn ticket_of(s: &str) -> Option<i64> {
    let s = s.trim();
    s.strip_prefix('#').unwrap_or(s).parse().ok()
}

pub async fn show(
    State(web): State<WebState>,
    user: SignedIn,
    Query(q): Query<LogQuery>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let ticket = ticket_of(&q.ticket);
    let (events, total) = super::db::log(&web, user.viewer(), ticket).await?;
    Ok(Html(pages::render(
        "desk_log.html",
        minijinja::context! {
            title => "Data log", events => events, total => total, ticket => ticket,
            limit => super::db::LOG_LIMIT,
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
}

fn back(ticket: &str) -> String {
    match ticket_of(ticket) {
        Some(t) => format!("/desk/log?ticket={t}"),
        None => "/desk/log".into(),
    }
}

pub async fn delete(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    super::db::delete_event(&web, user.viewer(), id).await?;
    Ok(Redirect::to(&back(&form.ticket)).into_response())
}

#[derive(Deserialize)]
pub struct ClearForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    before: String,
}

pub async fn clear(
    State(web): State<WebState>,
    user: SignedIn,
    Form(form): Form<ClearForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    let before = Timestamp::parse(form.before.trim())
        .ok_or_else(|| WebError::BadRequest("Give a date as YYYY-MM-DD (or RFC 3339).".into()))?;
    super::db::clear_events(&web, user.viewer(), before).await?;
    Ok(Redirect::to("/desk/log").into_response())
}
