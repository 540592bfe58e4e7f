//! The signed-in person as an extractor: a handler that takes [`SignedIn`]
//! cannot run for someone who is not (they are sent to the sign-in page),
//! and a session whose user became `no_access` stops working at once (the
//! store checks the role on every request).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::WebError;
use super::{session, State};
use crate::domain::access::Viewer;
use crate::domain::model::Role;

/// The person a request comes from.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub org: Option<String>,
    /// Every form of this session carries it.
    pub form_token: String,
    /// The session's stored hash (to end this session, or all others).
    pub session_hash: String,
}

impl SignedIn {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            email: self.email.clone(),
            role: self.role,
            org: self.org.clone(),
        }
    }

    /// The form token a POST carried must be this session's.
    pub fn check_form(&self, token: &str) -> Result<(), WebError> {
        if super::csrf::tokens_match(token, &self.form_token) {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "this form has expired (you signed in again since it was shown): reload the page and send it again",
            ))
        }
    }
}

impl FromRequestParts<State> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, web: &State) -> Result<SignedIn, WebError> {
        let token = session::token_from(&parts.headers, web.site.secure).ok_or(WebError::SignIn)?;
        web.db
            .session_user(session::hash(&token))
            .await?
            .ok_or(WebError::SignIn)
    }
}

/// The signed-in person, if any (pages like sign-in look different then).
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequestParts<State> for MaybeSignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, web: &State) -> Result<MaybeSignedIn, WebError> {
        match SignedIn::from_request_parts(parts, web).await {
            Ok(s) => Ok(MaybeSignedIn(Some(s))),
            Err(WebError::SignIn) => Ok(MaybeSignedIn(None)),
            Err(e) => Err(e),
        }
    }
}
