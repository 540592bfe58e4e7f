//! The account page: change the password, which ends every other session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{hash_password, password_problem, verify_password};
use super::error::WebError;
use super::extract::SignedIn;
use super::pages;
use super::tickets::user_ctx;

pub fn router() -> Router<super::State> {
    Router::new()
        .route("/account", get(page))
        .route("/account/password", post(change_password))
}

fn render(
    web: &super::State,
    user: &SignedIn,
    error: Option<&str>,
    notice: Option<&str>,
) -> String {
    pages::render(
        "account.html",
        minijinja::context! {
            title => "Your account", nav => "account", support_name => web.site.support_name,
            support_address => web.site.support_address,
            user => user_ctx(user), csrf => user.form_token, error => error, notice => notice,
        },
    )
}

async fn page(State(web): State<super::State>, user: SignedIn) -> Response {
    Html(render(&web, &user, None, None)).into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(web): State<super::State>,
    user: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    let stored = web
        .db
        .user_for_login(user.email.clone())
        .await?
        .and_then(|u| u.password_hash);
    if !verify_password(form.password, stored).await? {
        let page = render(
            &web,
            &user,
            Some("Your current password is not right."),
            None,
        );
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    }
    if let Some(problem) = password_problem(&form.new_password, &user.email) {
        return Ok((
            StatusCode::BAD_REQUEST,
            Html(render(&web, &user, Some(&problem), None)),
        )
            .into_response());
    }
    let hash = hash_password(form.new_password).await?;
    web.db
        .change_password(user.id, hash, user.session_hash.clone())
        .await?;
    Ok(Redirect::to("/account").into_response())
}
