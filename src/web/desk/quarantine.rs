//! `/desk/quarantine`: mail that was held back, as `ticketd quarantine` —
//! why, a look at the raw message as text (escaped, never rendered), and
//! replay or discard.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;

type WebState = super::super::State;

pub async fn list(State(web): State<WebState>, user: SignedIn) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let rows = super::db::quarantine(&web, user.viewer()).await?;
    Ok(Html(pages::render(
        "desk_quarantine.html",
        minijinja::context! {
            title => "Quarantine", rows => rows, one => (),
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

pub async fn show(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let (q, raw, cut) = super::db::quarantined(&web, user.viewer(), id).await?;
    Ok(Html(pages::render(
        "desk_quarantine.html",
        minijinja::context! {
            title => format!("Quarantine {id}"), one => q, raw => raw, cut => cut,
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

pub async fn replay(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    let to = match super::db::replay(&web, user.viewer(), id).await? {
        Some(t) => format!("/desk/tickets/{t}"),
        None => "/desk/quarantine".into(),
    };
    Ok(Redirect::to(&to).into_response())
}

pub async fn discard(
    State(web): State<WebState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    super::db::discard(&web, user.viewer(), id).await?;
    Ok(Redirect::to("/desk/quarantine").into_response())
}
