//! The one error type of the web layer, and the page each one shows. A
//! forbidden ticket and a missing one are the same 404: the portal never
//! tells whether something it will not show exists.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Missing, or not the viewer's to see.
    #[error("not found")]
    NotFound,
    /// Not signed in: to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// A cross-site POST, or a stale form token.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A form that cannot be taken as it is; the message says why.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many attempts: wait a few minutes, then try again")]
    TooManyAttempts,
    /// The database is busy or the disk full: try again.
    #[error("the service is busy: please try again in a moment")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        match e {
            StoreError::NotFound(_) => WebError::NotFound,
            StoreError::Invalid(m) => WebError::BadRequest(m),
            e if e.is_temporary() => WebError::Busy,
            e => WebError::Internal(e.to_string()),
        }
    }
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::SignIn => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            WebError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::SignIn = self {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = self.status();
        let message = match &self {
            WebError::NotFound => "This page does not exist, or it is not yours to see.".to_owned(),
            WebError::Internal(detail) => {
                tracing::error!(error = %detail, "portal request failed");
                "Something went wrong on our side. Please try again later.".to_owned()
            }
            other => other.to_string(),
        };
        let page = super::pages::error_page(status.as_u16(), &message);
        (status, Html(page)).into_response()
    }
}
