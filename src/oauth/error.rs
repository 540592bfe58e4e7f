//! What can go wrong getting a token, and whether waiting helps: a provider
//! in trouble (retry soon) or a grant that is gone (a person must sign in
//! again with `ticketd oauth login`).

use super::Service;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("cannot reach the OAuth2 endpoint {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("cannot talk TLS with the OAuth2 endpoint {url}: {reason}; trust its CA with {key}")]
    Tls {
        url: String,
        key: String,
        reason: String,
    },
    #[error("the OAuth2 endpoint {url} is in trouble: {reason}")]
    Unavailable { url: String, reason: String },
    #[error(
        "{url} refused the refresh token in {service}.oauth2.refresh_token_file ({file}): \
         {code}{}; sign in again with `ticketd oauth login {service}`",
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Refused {
        url: String,
        file: String,
        service: Service,
        code: String,
        description: Option<String>,
    },
    #[error("{url} answered with something that is not a token response: {reason}; check {key}")]
    Garbled {
        url: String,
        key: String,
        reason: String,
    },
    #[error(
        "no refresh token in {service}.oauth2.refresh_token_file ({file}): {reason}; \
         run `ticketd oauth login {service}` to sign in"
    )]
    NoRefreshToken {
        file: String,
        service: Service,
        reason: String,
    },
    #[error("cannot read {key} ({path}): {reason}")]
    File {
        key: String,
        path: String,
        reason: String,
    },
    #[error("cannot write {service}.oauth2.refresh_token_file ({path}): {reason}")]
    Write {
        path: String,
        service: Service,
        reason: String,
    },
    #[error("the sign-in for `ticketd oauth login {service}` {what}; run it again")]
    SignIn { service: Service, what: String },
    #[error("{0}")]
    Config(String),
}

impl OAuthError {
    /// The grant, a file or the config is wrong: retrying at once will not help.
    pub fn needs_operator(&self) -> bool {
        !matches!(
            self,
            OAuthError::Unreachable { .. } | OAuthError::Unavailable { .. }
        )
    }
}
