//! Opening a session: TCP, then TLS (at once, or after STARTTLS, or not at
//! all on loopback), the greeting, the login, and the server's capabilities.

use std::fmt;
use std::time::Duration;

use async_imap::Client;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::mailbox::Mailbox;
use super::ImapError;
use crate::config::{ImapAuth, ImapConfig, Security};
use crate::oauth::{Service, TokenSource};
use crate::tls;

/// Any byte stream async-imap can drive: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}
pub type Stream = Box<dyn Io>;

/// Connects and logs in; every step bounded by `imap.timeout_secs`. An
/// OAuth2 token the server refuses is refreshed and tried once more (it
/// may have been revoked or expired early); a second refusal is final.
pub async fn connect(cfg: &ImapConfig) -> Result<Mailbox, ImapError> {
    let source = token_source(cfg);
    match connect_once(cfg, source.as_ref()).await {
        Err(ImapError::Auth { reason, .. }) if refreshable(source.as_ref()).await => {
            tracing::warn!(
                host = %cfg.host,
                user = %cfg.username,
                reason = %reason,
                "the server refused the OAuth2 access token; refreshing it and trying once more"
            );
            connect_once(cfg, source.as_ref()).await
        }
        other => other,
    }
}

/// Where XOAUTH2 takes its token from (`None`: a password login).
fn token_source(cfg: &ImapConfig) -> Option<TokenSource> {
    if cfg.auth != ImapAuth::Xoauth2 {
        return None;
    }
    Some(match (&cfg.oauth2, &cfg.oauth_token_file) {
        (Some(o), _) => TokenSource::Provider {
            cfg: o.clone(),
            service: Service::Imap,
            timeout: Duration::from_secs(cfg.timeout_secs),
        },
        (None, path) => TokenSource::File {
            path: path.clone().unwrap_or_default(),
            key: "imap.oauth_token_file",
        },
    })
}

async fn refreshable(source: Option<&TokenSource>) -> bool {
    match source {
        Some(s) => s.refused().await,
        None => false,
    }
}

async fn connect_once(
    cfg: &ImapConfig,
    source: Option<&TokenSource>,
) -> Result<Mailbox, ImapError> {
    // The token first: a refresh never holds a connection open.
    let token = match source {
        Some(s) => Some(s.token().await?),
        None => None,
    };
    let limit = Duration::from_secs(cfg.timeout_secs);
    let step = |command: &str| ImapError::Timeout {
        command: command.to_owned(),
        secs: cfg.timeout_secs,
    };
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = tokio::time::timeout(limit, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
        .map_err(|_| step("connect"))?
        .map_err(|source| ImapError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);

    let client: Client<Stream> = match cfg.security {
        Security::Tls => {
            let connector = tls::connector(&cfg.host, cfg.ca_file.as_deref(), "imap.ca_file")?;
            let stream = tokio::time::timeout(limit, tls::wrap(&connector, &cfg.host, tcp))
                .await
                .map_err(|_| step("TLS handshake"))??;
            greeted(Client::new(Box::new(stream) as Stream), limit, &step).await?
        }
        Security::None => greeted(Client::new(Box::new(tcp) as Stream), limit, &step).await?,
        Security::Starttls => {
            let connector = tls::connector(&cfg.host, cfg.ca_file.as_deref(), "imap.ca_file")?;
            let mut plain = greeted(Client::new(tcp), limit, &step).await?;
            // A refused STARTTLS is an error: never go on in plaintext.
            tokio::time::timeout(limit, plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| step("STARTTLS"))?
                .map_err(|e| ImapError::Tls {
                    host: cfg.host.clone(),
                    reason: format!("STARTTLS refused ({e}); not going on without TLS"),
                })?;
            let stream =
                tokio::time::timeout(limit, tls::wrap(&connector, &cfg.host, plain.into_inner()))
                    .await
                    .map_err(|_| step("TLS handshake"))??;
            // No greeting after STARTTLS (RFC 3501 6.2.1).
            Client::new(Box::new(stream) as Stream)
        }
    };

    // RFC 5530: [UNAVAILABLE] is the server's trouble (its auth service is
    // starting, say), not wrong credentials: retry soon, not in five minutes.
    let auth_err = |reason: String| {
        if reason.contains("UNAVAILABLE") {
            ImapError::Unavailable {
                host: cfg.host.clone(),
                reason,
            }
        } else {
            ImapError::Auth {
                host: cfg.host.clone(),
                user: cfg.username.clone(),
                reason,
                hint: match source {
                    Some(s) => s.hint(),
                    None => "the password".into(),
                },
            }
        }
    };
    let login = async {
        match cfg.auth {
            ImapAuth::Login => client
                .login(&cfg.username, &cfg.secret.0)
                .await
                .map_err(|(e, _)| auth_err(e.to_string())),
            ImapAuth::Plain => client
                .authenticate(
                    "PLAIN",
                    Plain(format!("\0{}\0{}", cfg.username, cfg.secret.0)),
                )
                .await
                .map_err(|(e, _)| auth_err(e.to_string())),
            ImapAuth::Xoauth2 => {
                let token = token.as_ref().map(|t| t.0.as_str()).unwrap_or_default();
                let initial = crate::oauth::sasl::xoauth2(&cfg.username, token);
                client
                    .authenticate("XOAUTH2", Plain(initial))
                    .await
                    .map_err(|(e, _)| auth_err(e.to_string()))
            }
        }
    };
    let mut session = tokio::time::timeout(limit, login)
        .await
        .map_err(|_| step("login"))??;
    let caps = tokio::time::timeout(limit, session.capabilities())
        .await
        .map_err(|_| step("CAPABILITY"))?
        .map_err(|e| ImapError::command("CAPABILITY", e))?;
    Ok(Mailbox::new(
        session,
        cfg.host.clone(),
        limit,
        caps.has_str("IDLE"),
        caps.has_str("MOVE"),
        caps.has_str("UIDPLUS"),
    ))
}

/// Reads the server greeting; a `* BYE` or silence is an error.
async fn greeted<T>(
    mut client: Client<T>,
    limit: Duration,
    step: &impl Fn(&str) -> ImapError,
) -> Result<Client<T>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug,
{
    let greeting = tokio::time::timeout(limit, client.read_response())
        .await
        .map_err(|_| step("greeting"))?
        .map_err(|e| ImapError::Closed(format!(" before its greeting: {e}")))?;
    match greeting {
        Some(g)
            if matches!(
                g.parsed(),
                async_imap::imap_proto::Response::Data {
                    status: async_imap::imap_proto::Status::Bye,
                    ..
                }
            ) =>
        {
            Err(ImapError::Closed(" with BYE instead of a greeting".into()))
        }
        Some(_) => Ok(client),
        None => Err(ImapError::Closed(" before its greeting".into())),
    }
}

/// A one-step SASL exchange (PLAIN, XOAUTH2): the whole answer at once. An
/// XOAUTH2 failure arrives as a challenge; answering it with an empty line
/// lets the server finish with NO, which becomes an `Auth` error.
struct Plain(String);

impl async_imap::Authenticator for Plain {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        std::mem::take(&mut self.0).into_bytes()
    }
}
