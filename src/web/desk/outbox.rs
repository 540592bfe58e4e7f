//! `/desk/outbox`: the notifications, as `ticketd outbox` — state, tries,
//! last error — and a failed one queued again.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;

type WebState = super::super::State;

pub async fn show(State(web): State<WebState>, user: SignedIn) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let (rows, total) = super::db::outbox(&web, user.viewer()).await?;
    Ok(Html(pages::render(
        "desk_outbox.html",
        minijinja::context! {
            title => "Outbox", rows => rows, total => total, limit => super::db::LOG_LIMIT,
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn retry(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    super::db::retry(&web, user.viewer(), id).await?;
    Ok(Redirect::to("/desk/outbox").into_response())
}
