//! Signing in and out, and setting a password from an emailed link (DESIGN
//! §8). Passwords are hashed with Argon2id at its default (OWASP)
//! parameters, on the blocking pool. No answer tells whether an address has
//! an account: an unknown address costs the same hash and gets the same
//! words as a wrong password.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::error::WebError;
use super::extract::{MaybeSignedIn, SignedIn};
use super::{pages, session};
use crate::domain::model::Role;

pub fn router() -> Router<super::State> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password/setup", get(setup_page).post(setup))
        .route("/password/reset", get(reset_page).post(reset))
}

/// The shortest password accepted (NIST SP 800-63B asks at least 8).
pub const MIN_PASSWORD: usize = 10;

/// Argon2id, v19, m=19 MiB, t=2, p=1: the OWASP recommendation, and the
/// argon2 crate's default.
pub async fn hash_password(password: String) -> Result<String, WebError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| WebError::Internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| WebError::Internal(format!("password hashing stopped: {e}")))?
}

/// Whether `password` matches `stored` (a PHC string); `None` (no account,
/// or no password yet) is checked against a dummy hash so it takes as long.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, WebError> {
    let real = stored.is_some();
    let phc = match stored {
        Some(s) => s,
        None => dummy_hash().await?,
    };
    tokio::task::spawn_blocking(move || {
        let ok = PasswordHash::new(&phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .map_err(|e| WebError::Internal(format!("password check stopped: {e}")))
}

async fn dummy_hash() -> Result<String, WebError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password(crate::store::apply::random_hex(16)?).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

/// What is wrong with a new password, if anything.
pub fn password_problem(password: &str, email: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD {
        Some(format!("Use at least {MIN_PASSWORD} characters."))
    } else if password.len() > 1024 {
        Some("That password is too long (at most 1024 bytes).".into())
    } else if password.trim().eq_ignore_ascii_case(email.trim()) {
        Some("Your password must not be your email address.".into())
    } else {
        None
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login_page(
    State(web): State<super::State>,
    MaybeSignedIn(user): MaybeSignedIn,
) -> Response {
    if user.is_some() {
        return Redirect::to("/tickets").into_response();
    }
    Html(pages::render(
        "login.html",
        minijinja::context! { title => "Sign in", support_name => web.site.support_name, support_address => web.site.support_address },
    ))
    .into_response()
}

/// One wording for every failure: unknown address, wrong password, no
/// password set yet, no access.
const SIGN_IN_FAILED: &str = "That email address and password do not match. If you never set a password, use the link below.";

async fn login(
    State(web): State<super::State>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let email = crate::domain::model::normalize_email(&form.email);
    let now = Instant::now();
    if !web.limiter.allowed(&email, Some(client.ip()), now) {
        return Err(WebError::TooManyAttempts);
    }
    let user = web.db.user_for_login(email.clone()).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = verify_password(form.password, stored).await?;
    let user = user.filter(|u| matches && u.role != Role::NoAccess);
    let Some(user) = user else {
        web.limiter.failed(&email, Some(client.ip()), now);
        let page = pages::render(
            "login.html",
            minijinja::context! {
                title => "Sign in", support_name => web.site.support_name, support_address => web.site.support_address,
                error => SIGN_IN_FAILED, email => email,
            },
        );
        return Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page)).into_response());
    };
    web.limiter.succeeded(&email);
    signed_in(&web, user.id, "/tickets").await
}

/// A fresh session for `user_id` (never one the browser brought along: a
/// session token is made anew at every sign-in), then on to `to`.
async fn signed_in(web: &super::State, user_id: i64, to: &str) -> Result<Response, WebError> {
    let s = session::new_session()?;
    web.db
        .create_session(
            user_id,
            s.token_hash.clone(),
            s.form_token.clone(),
            web.site.session_days,
        )
        .await?;
    Ok((
        [(
            header::SET_COOKIE,
            session::set_cookie(&s.token, web.site.secure, web.site.session_days),
        )],
        Redirect::to(to),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(web): State<super::State>,
    user: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    web.db.delete_session(user.session_hash.clone()).await?;
    Ok((
        [(header::SET_COOKIE, session::clear_cookie(web.site.secure))],
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The page the emailed link opens. Showing it changes nothing: the token is
/// used only when the form is sent.
async fn setup_page(
    State(web): State<super::State>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let well_formed = q.token.len() == 64 && q.token.bytes().all(|b| b.is_ascii_hexdigit());
    let works = well_formed && web.db.token_owner(q.token.clone()).await?.is_some();
    let page = pages::render(
        "setup.html",
        minijinja::context! {
            title => "Choose your password", support_name => web.site.support_name, support_address => web.site.support_address,
            token => q.token, invalid => !works,
        },
    );
    let status = if works {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::GONE
    };
    Ok((status, Html(page)).into_response())
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn setup(
    State(web): State<super::State>,
    Form(form): Form<SetupForm>,
) -> Result<Response, WebError> {
    let again = |error: String| {
        let page = pages::render(
            "setup.html",
            minijinja::context! {
                title => "Choose your password", support_name => web.site.support_name, support_address => web.site.support_address,
                token => form.token.clone(), error => error,
            },
        );
        Ok((axum::http::StatusCode::BAD_REQUEST, Html(page)).into_response())
    };
    if form.password != form.password_confirm {
        return again("The two passwords differ.".into());
    }
    let owner = web.db.token_owner(form.token.clone()).await?;
    let Some(owner) = owner else {
        let page = pages::render(
            "setup.html",
            minijinja::context! { title => "Link expired", support_name => web.site.support_name, support_address => web.site.support_address, invalid => true },
        );
        return Ok((axum::http::StatusCode::GONE, Html(page)).into_response());
    };
    if let Some(problem) = password_problem(&form.password, &owner) {
        return again(problem);
    }
    let hash = hash_password(form.password).await?;
    match web
        .db
        .set_password_with_token(form.token.clone(), hash)
        .await?
    {
        Some(user_id) => signed_in(&web, user_id, "/tickets").await,
        None => {
            let page = pages::render(
                "setup.html",
                minijinja::context! { title => "Link expired", support_name => web.site.support_name, support_address => web.site.support_address, invalid => true },
            );
            Ok((axum::http::StatusCode::GONE, Html(page)).into_response())
        }
    }
}

async fn reset_page(State(web): State<super::State>) -> Response {
    Html(pages::render(
        "reset.html",
        minijinja::context! { title => "Set your password", support_name => web.site.support_name, support_address => web.site.support_address },
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    email: String,
}

/// The same page whatever the address: known, unknown, or without access.
async fn reset(
    State(web): State<super::State>,
    Form(form): Form<ResetForm>,
) -> Result<Response, WebError> {
    let email = crate::domain::model::normalize_email(&form.email);
    if email.contains('@') && email.len() <= 254 {
        web.db.request_password_reset(email).await?;
    }
    Ok(Html(pages::render(
        "reset.html",
        minijinja::context! { title => "Set your password", support_name => web.site.support_name, support_address => web.site.support_address, sent => true },
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify_password("correct horse battery".into(), Some(h.clone()))
                .await
                .expect("v")
        );
        assert!(!verify_password("wrong".into(), Some(h)).await.expect("v"));
        assert!(!verify_password("anything".into(), None).await.expect("v"));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(password_problem("short", "a@b.test").is_some());
        assert!(password_problem("ann@acme.test", "ann@acme.test").is_some());
        assert!(password_problem("a long enough one", "a@b.test").is_none());
    }
}
