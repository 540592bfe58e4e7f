//! `/desk/users`: accounts and roles — search, set a role (member, admin,
//! no_access; agents come from `support.agents`), send a password link
//! (`users reset-password`), clear a bounce mark (`users clear-bounce`).

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::super::error::WebError;
use super::super::extract::SignedIn;
use super::super::pages;
use crate::domain::model::Role;

type WebState = super::super::State;

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
}

pub async fn list(
    State(web): State<WebState>,
    user: SignedIn,
    Query(query): Query<UsersQuery>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    let q: String = query.q.trim().chars().take(200).collect();
    let (rows, total) = super::db::users(&web, user.viewer(), q.clone()).await?;
    let roles: Vec<&str> = [Role::Member, Role::Admin, Role::NoAccess]
        .iter()
        .map(|r| r.as_str())
        .collect();
    Ok(Html(pages::render(
        "desk_users.html",
        minijinja::context! {
            title => "Users", rows => rows, total => total, q => q, roles => roles,
            limit => super::db::LOG_LIMIT,
            ..super::layout(&web, &user)
        },
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    State(web): State<WebState>,
    user: SignedIn,
    Form(form): Form<RoleForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| WebError::BadRequest("Choose a role from the list.".into()))?;
    super::db::set_role(&web, user.viewer(), form.email, role).await?;
    Ok(Redirect::to("/desk/users").into_response())
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// `POST /desk/users/reset-password` (`email`).
pub async fn reset_password(
    State(web): State<WebState>,
    user: SignedIn,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    super::db::send_password_link(&web, user.viewer(), form.email).await?;
    Ok(Redirect::to("/desk/users").into_response())
}

/// `POST /desk/users/clear-bounce` (`email`).
pub async fn clear_bounce(
    State(web): State<WebState>,
    user: SignedIn,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    super::require_agent(&user)?;
    user.check_form(&form.csrf)?;
    super::db::clear_bounce(&web, user.viewer(), form.email).await?;
    Ok(Redirect::to("/desk/users").into_response())
}
