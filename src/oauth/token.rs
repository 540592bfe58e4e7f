//! The access token for a login: read from `oauth_token_file` (kept fresh
//! by someone else), or obtained by ticketd itself with the refresh grant
//! and cached in memory until shortly before it expires.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::grant::{self, Answer, Tokens};
use super::url::{form_encode, Url};
use super::{file, http, OAuthError, Service};
use crate::config::{OAuth2Config, Secret};

/// Without `expires_in`, assume the usual hour.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);
/// Refresh this long before expiry at most (half the lifetime for short ones).
const MARGIN: Duration = Duration::from_secs(60);

/// The in-memory access token of one `[*.oauth2]` block, shared by every
/// clone of the config (so each reconnect and every pooled SMTP connection
/// uses one token, and one refresh happens at a time). Never written out.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    access: Option<Cached>,
    /// A rotated refresh token that could not be written: used next time,
    /// since the provider may already have revoked the one in the file.
    unsaved_refresh: Option<Secret>,
}

struct Cached {
    token: Secret,
    /// When to stop using it.
    renew_at: Instant,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache")
    }
}

/// When a token fetched at `now` and valid for `lifetime` should be renewed.
fn renew_at(now: Instant, lifetime: Option<Duration>) -> Instant {
    let lifetime = lifetime.unwrap_or(ASSUMED_LIFETIME);
    now + lifetime - MARGIN.min(lifetime / 2)
}

/// Where a login's bearer token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `oauth_token_file`: re-read at every login.
    File { path: PathBuf, key: &'static str },
    /// `[imap.oauth2]` / `[smtp.oauth2]`.
    Provider {
        cfg: OAuth2Config,
        service: Service,
        timeout: Duration,
    },
}

impl TokenSource {
    /// A token to log in with: cached while fresh, else refreshed.
    pub async fn token(&self) -> Result<Secret, OAuthError> {
        match self {
            TokenSource::File { path, key } => {
                file::read_token(path).map_err(|reason| OAuthError::File {
                    key: (*key).to_owned(),
                    path: path.display().to_string(),
                    reason,
                })
            }
            TokenSource::Provider {
                cfg,
                service,
                timeout,
            } => {
                let mut state = cfg.tokens.0.lock().await;
                if let Some(c) = &state.access {
                    if Instant::now() < c.renew_at {
                        return Ok(c.token.clone());
                    }
                }
                let token = refresh(cfg, *service, *timeout, &mut state).await?;
                Ok(token)
            }
        }
    }

    /// The server refused the token: forget it. True when asking again can
    /// give a different one (a refresh), so one more login is worth it.
    pub async fn refused(&self) -> bool {
        match self {
            TokenSource::File { .. } => false,
            TokenSource::Provider { cfg, .. } => {
                cfg.tokens.0.lock().await.access = None;
                true
            }
        }
    }

    /// The config key a person fixes when the token keeps being refused.
    pub fn hint(&self) -> String {
        match self {
            TokenSource::File { key, .. } => format!("the token in {key}"),
            TokenSource::Provider { service, .. } => format!(
                "the grant in {service}.oauth2.refresh_token_file (its scope and the mailbox's \
                 permissions); sign in again with `ticketd oauth login {service}`"
            ),
        }
    }
}

/// The refresh grant (RFC 6749 §6); a rotated refresh token is written back.
async fn refresh(
    cfg: &OAuth2Config,
    service: Service,
    timeout: Duration,
    state: &mut State,
) -> Result<Secret, OAuthError> {
    let path = &cfg.refresh_token_file;
    let refresh_token = match state.unsaved_refresh.clone() {
        Some(t) => t,
        None => file::read_token(path).map_err(|reason| OAuthError::NoRefreshToken {
            file: path.display().to_string(),
            service,
            reason,
        })?,
    };
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.0.as_str()),
        ("client_id", cfg.client_id.as_str()),
    ];
    if let Some(s) = &cfg.client_secret {
        form.push(("client_secret", s.0.as_str()));
    }
    if let Some(scope) = &cfg.scope {
        form.push(("scope", scope.as_str()));
    }
    let tokens = post_token(cfg, service, &form_encode(&form), timeout).await?;
    let expires_in = tokens.expires_in;
    state.access = Some(Cached {
        token: tokens.access_token.clone(),
        renew_at: renew_at(Instant::now(), expires_in),
    });
    tracing::info!(
        service = %service,
        expires_in_secs = expires_in.map(|d| d.as_secs()),
        "refreshed the OAuth2 access token"
    );
    match tokens.refresh_token {
        Some(new) if new != refresh_token => match file::write_token(path, &new) {
            Ok(()) => {
                state.unsaved_refresh = None;
                tracing::info!(
                    service = %service,
                    path = %path.display(),
                    "the provider rotated the refresh token; wrote it to refresh_token_file"
                );
            }
            Err(reason) => {
                // Keep it in memory: the old one may already be revoked.
                tracing::error!(
                    error = %OAuthError::Write { path: path.display().to_string(), service, reason },
                    "the rotated refresh token lives in memory only until the file can be written"
                );
                state.unsaved_refresh = Some(new);
            }
        },
        _ => {}
    }
    Ok(tokens.access_token)
}

/// POSTs a token request and reads the answer into tokens or an error.
pub(super) async fn post_token(
    cfg: &OAuth2Config,
    service: Service,
    body: &str,
    timeout: Duration,
) -> Result<Tokens, OAuthError> {
    match token_answer(cfg, service, body, timeout).await? {
        Answer::Ok(t) => Ok(t),
        Answer::Error {
            status,
            code,
            description,
        } => Err(token_error(cfg, service, status, code, description)),
        Answer::Garbled { status, reason } => Err(garbled(cfg, service, status, reason)),
    }
}

/// One POST to `token_url`, its answer read but not judged (the device
/// flow treats some errors as "wait").
pub(super) async fn token_answer(
    cfg: &OAuth2Config,
    service: Service,
    body: &str,
    timeout: Duration,
) -> Result<Answer<Tokens>, OAuthError> {
    let reply = post(cfg, &cfg.token_url, service, "token_url", body, timeout).await?;
    Ok(grant::token_answer(reply.status, &reply.body))
}

pub(super) async fn post(
    cfg: &OAuth2Config,
    url_text: &str,
    service: Service,
    key: &str,
    body: &str,
    timeout: Duration,
) -> Result<http::Reply, OAuthError> {
    let url = Url::parse(url_text)
        .and_then(|u| u.check_transport().map(|()| u))
        .map_err(|reason| OAuthError::Config(format!("{service}.oauth2.{key}: {reason}")))?;
    http::post_form(&url, body, cfg.ca_file.as_deref(), timeout)
        .await
        .map_err(|f| match f {
            http::Failed::Net(reason) => OAuthError::Unreachable {
                url: url_text.to_owned(),
                reason,
            },
            http::Failed::Tls(reason) => OAuthError::Tls {
                url: url_text.to_owned(),
                reason,
                key: format!("{service}.oauth2.ca_file"),
            },
        })
}

pub(super) fn token_error(
    cfg: &OAuth2Config,
    service: Service,
    status: u16,
    code: String,
    description: Option<String>,
) -> OAuthError {
    if grant::needs_operator(status, &code) {
        OAuthError::Refused {
            url: cfg.token_url.clone(),
            file: cfg.refresh_token_file.display().to_string(),
            service,
            code,
            description,
        }
    } else {
        OAuthError::Unavailable {
            url: cfg.token_url.clone(),
            reason: format!("HTTP {status} {code}"),
        }
    }
}

pub(super) fn garbled(
    cfg: &OAuth2Config,
    service: Service,
    status: u16,
    reason: String,
) -> OAuthError {
    if status >= 500 {
        OAuthError::Unavailable {
            url: cfg.token_url.clone(),
            reason,
        }
    } else {
        OAuthError::Garbled {
            url: cfg.token_url.clone(),
            key: format!("{service}.oauth2.token_url"),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let now = Instant::now();
        for (lifetime, renew_after) in
            [(Some(3599), 3539), (Some(4), 2), (Some(0), 0), (None, 3540)]
        {
            assert_eq!(
                renew_at(now, lifetime.map(Duration::from_secs)),
                now + Duration::from_secs(renew_after),
                "{lifetime:?}"
            );
        }
    }
}
