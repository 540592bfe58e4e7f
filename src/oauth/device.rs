//! `ticketd oauth login`: the device authorization grant (RFC 8628). The
//! server shows a code; a person enters it in any browser; ticketd polls
//! the token endpoint until they have, and keeps the refresh token.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::grant::{self, Answer};
use super::token::{garbled, post, token_answer};
use super::url::form_encode;
use super::{file, OAuthError, Service};
use crate::config::OAuth2Config;

/// What the person must do, as the provider put it.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub message: Option<String>,
    pub expires_in: Duration,
}

/// Runs the whole flow; `show` is called once with the code to enter.
/// Returns the file the refresh token was written to.
pub async fn login(
    cfg: &OAuth2Config,
    service: Service,
    timeout: Duration,
    show: impl FnOnce(&Prompt),
) -> Result<PathBuf, OAuthError> {
    let device_url = cfg.device_url.as_deref().ok_or_else(|| {
        OAuthError::Config(format!(
            "{service}.oauth2.device_url: missing; `ticketd oauth login` needs the provider's \
             device authorization endpoint"
        ))
    })?;
    let scope = cfg.scope.as_deref().unwrap_or_default();
    let mut form = vec![("client_id", cfg.client_id.as_str()), ("scope", scope)];
    if let Some(s) = &cfg.client_secret {
        form.push(("client_secret", s.0.as_str()));
    }
    let reply = post(
        cfg,
        device_url,
        service,
        "device_url",
        &form_encode(&form),
        timeout,
    )
    .await?;
    let code = match grant::device_answer(reply.status, &reply.body) {
        Answer::Ok(c) => c,
        Answer::Error {
            code, description, ..
        } => {
            return Err(OAuthError::SignIn {
                service,
                what: format!(
                    "was refused by {device_url}: {code}{}",
                    description.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            })
        }
        Answer::Garbled { reason, .. } => {
            return Err(OAuthError::Garbled {
                url: device_url.to_owned(),
                key: format!("{service}.oauth2.device_url"),
                reason,
            })
        }
    };
    show(&Prompt {
        verification_uri: code.verification_uri.clone(),
        verification_uri_complete: code.verification_uri_complete.clone(),
        user_code: code.user_code.clone(),
        message: code.message.clone(),
        expires_in: code.expires_in,
    });

    let deadline = Instant::now() + code.expires_in;
    let mut interval = code.interval;
    let mut poll = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", code.device_code.0.as_str()),
        ("client_id", cfg.client_id.as_str()),
    ];
    if let Some(s) = &cfg.client_secret {
        poll.push(("client_secret", s.0.as_str()));
    }
    let body = form_encode(&poll);
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(expired(service));
        }
        let answer = match token_answer(cfg, service, &body, timeout).await {
            Ok(a) => a,
            // A network blip while the person types: keep waiting.
            Err(e) if !e.needs_operator() => {
                tracing::warn!(error = %e, "still waiting for the sign-in");
                continue;
            }
            Err(e) => return Err(e),
        };
        match answer {
            Answer::Ok(tokens) => {
                let Some(refresh) = tokens.refresh_token else {
                    return Err(OAuthError::SignIn {
                        service,
                        what: "gave no refresh token: add offline_access to the scope \
                               (Microsoft) or check the client type"
                            .into(),
                    });
                };
                let path = cfg.refresh_token_file.clone();
                file::write_token(&path, &refresh).map_err(|reason| OAuthError::Write {
                    path: path.display().to_string(),
                    service,
                    reason,
                })?;
                return Ok(path);
            }
            Answer::Error { code, .. } if code == "authorization_pending" => {}
            // §3.5: slow down by 5 seconds, for this and every later poll.
            Answer::Error { code, .. } if code == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Answer::Error { code, .. } if code == "access_denied" => {
                return Err(OAuthError::SignIn {
                    service,
                    what: "was declined in the browser".into(),
                })
            }
            Answer::Error { code, .. } if code == "expired_token" => return Err(expired(service)),
            // The provider in trouble: keep polling until the code expires.
            Answer::Error { status, code, .. } if !grant::needs_operator(status, &code) => {}
            Answer::Garbled { status, .. } if status >= 500 => {}
            Answer::Error {
                code, description, ..
            } => {
                return Err(OAuthError::SignIn {
                    service,
                    what: format!(
                        "was refused by {}: {code}{}",
                        cfg.token_url,
                        description.map(|d| format!(" ({d})")).unwrap_or_default()
                    ),
                })
            }
            Answer::Garbled { status, reason } => {
                return Err(garbled(cfg, service, status, reason))
            }
        }
    }
}

fn expired(service: Service) -> OAuthError {
    OAuthError::SignIn {
        service,
        what: "was not completed before the code expired".into(),
    }
}
