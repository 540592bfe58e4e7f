//! SMTP connections: lettre's protocol client over sockets ticketd opens
//! itself, for two reasons. TCP_NODELAY: lettre writes a message and its
//! final "." separately, and with Nagle's algorithm that second small write
//! waits for the server's delayed ACK (40 ms on Linux) — a 40x slowdown per
//! message. And the same rustls setup as IMAP (system roots plus an
//! optional private CA). `starttls` means STARTTLS is required; `none` is
//! only accepted for a loopback host (the config refuses others).

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use crate::config::{Secret, Security, SmtpAuth, SmtpConfig};
use crate::oauth::{sasl, Service, TokenSource};
use crate::tls;

/// Why the transport cannot even be set up (a config problem).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("smtp.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("smtp TLS setup for {host}: {reason}")]
    Lettre { host: String, reason: String },
}

/// A failed SMTP exchange: the server's reply code when it gave one (`None`:
/// the connection, TLS or a timeout failed), and what to tell a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpFailure {
    pub code: Option<u16>,
    pub message: String,
    /// The server refused our login: an operator must fix the credentials.
    pub login_refused: bool,
    /// Refused by the client before the server saw it (a non-ASCII address
    /// to a server without SMTPUTF8, say): no retry can help.
    pub permanent: bool,
}

impl SmtpFailure {
    fn local(message: String) -> SmtpFailure {
        SmtpFailure {
            code: None,
            message,
            login_refused: false,
            permanent: false,
        }
    }
}

impl From<lettre::transport::smtp::Error> for SmtpFailure {
    fn from(e: lettre::transport::smtp::Error) -> SmtpFailure {
        SmtpFailure {
            code: e.status().map(u16::from),
            message: e.to_string(),
            login_refused: false,
            permanent: e.is_client(),
        }
    }
}

/// Opens authenticated SMTP sessions to the configured server.
pub struct Connector {
    host: String,
    port: u16,
    security: Security,
    /// Implicit TLS (`security = "tls"`).
    tls: Option<tokio_rustls::TlsConnector>,
    /// STARTTLS (`security = "starttls"`), through lettre.
    starttls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// `auth = "xoauth2"`: the user and where the bearer token comes from.
    oauth: Option<(String, TokenSource)>,
    timeout: Duration,
}

impl Connector {
    pub fn new(cfg: &SmtpConfig, hello: &str) -> Result<Connector, TransportError> {
        let (tls, starttls) = match cfg.security {
            Security::None => (None, None),
            Security::Tls => (
                Some(tls::connector(
                    &cfg.host,
                    cfg.ca_file.as_deref(),
                    "smtp.ca_file",
                )?),
                None,
            ),
            Security::Starttls => (None, Some(starttls_parameters(cfg)?)),
        };
        Ok(Connector {
            host: cfg.host.clone(),
            port: cfg.port,
            security: cfg.security,
            tls,
            starttls,
            hello: ClientId::Domain(hello.to_owned()),
            credentials: cfg
                .username
                .as_ref()
                .filter(|_| cfg.auth == SmtpAuth::Password)
                .map(|u| Credentials::new(u.clone(), cfg.secret.0.clone())),
            oauth: token_source(cfg),
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
        })
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A new session: connected, greeted, encrypted as configured, logged
    /// in. A refused OAuth2 token is refreshed and tried once more.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpFailure> {
        let first = self.timed_open().await;
        match (&first, &self.oauth) {
            (Err(f), Some((_, source))) if f.login_refused && f.code.is_some() => {
                if !source.refused().await {
                    return first;
                }
                tracing::warn!(
                    server = %self.server(),
                    reason = %f.message,
                    "the SMTP server refused the OAuth2 access token; refreshing it and trying once more"
                );
                self.timed_open().await
            }
            _ => first,
        }
    }

    async fn timed_open(&self) -> Result<AsyncSmtpConnection, SmtpFailure> {
        tokio::time::timeout(self.timeout * 2, self.open())
            .await
            .map_err(|_| no_answer(self.timeout * 2))?
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SmtpFailure> {
        // The token first: a refresh never holds a connection open.
        let token = match &self.oauth {
            Some((_, source)) => Some(source.token().await.map_err(|e| SmtpFailure {
                code: None,
                message: format!("cannot get an OAuth2 access token: {e}"),
                login_refused: e.needs_operator(),
                permanent: false,
            })?),
            None => None,
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SmtpFailure::local(format!("cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let mut conn = match (&self.tls, &self.starttls) {
            (Some(connector), _) => {
                let stream = tls::wrap(connector, &self.host, tcp)
                    .await
                    .map_err(|e| SmtpFailure::local(e.to_string()))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsTcp(stream)), &self.hello)
                    .await?
            }
            (None, Some(params)) => {
                let mut c =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
                if !c.can_starttls() {
                    c.abort().await;
                    return Err(SmtpFailure::local(
                        "the server does not offer STARTTLS; not sending without TLS (smtp.security)"
                            .into(),
                    ));
                }
                c.starttls(params.clone(), &self.hello).await?;
                c
            }
            (None, None) => {
                debug_assert_eq!(self.security, Security::None);
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
        };
        if let Some(creds) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds)
                .await
                .map_err(|e| SmtpFailure {
                    code: e.status().map(u16::from),
                    message: format!(
                        "login refused ({e}); check smtp.username and smtp.password (or password_file)"
                    ),
                    // 4xx: the server's auth service is in trouble, not us.
                    login_refused: !e.is_transient(),
                    permanent: false,
                })?;
        }
        if let (Some((user, source)), Some(token)) = (&self.oauth, token) {
            authenticate_bearer(&mut conn, user, &token)
                .await
                .map_err(|mut f| {
                    f.message = format!("{}; check smtp.username and {}", f.message, source.hint());
                    f
                })?;
        }
        Ok(conn)
    }

    /// Sends one message on `conn`, within the timeout.
    pub async fn send(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<String, SmtpFailure> {
        let reply = tokio::time::timeout(self.timeout, conn.send(envelope, bytes))
            .await
            .map_err(|_| no_answer(self.timeout))??;
        Ok(format!(
            "{} {}",
            u16::from(reply.code()),
            reply.first_line().unwrap_or("")
        ))
    }
}

/// AUTH XOAUTH2 when the server offers it, else OAUTHBEARER (RFC 7628),
/// sent by hand: lettre knows no OAUTHBEARER, and its XOAUTH2 cannot answer
/// the error challenge a refusing server sends (RFC 7628 §3.2.3: an empty
/// line, then the server's 535).
async fn authenticate_bearer(
    conn: &mut AsyncSmtpConnection,
    user: &str,
    token: &Secret,
) -> Result<(), SmtpFailure> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (mechanism, message) = if conn
        .server_info()
        .supports_auth_mechanism(Mechanism::Xoauth2)
    {
        ("XOAUTH2", sasl::xoauth2(user, &token.0))
    } else {
        ("OAUTHBEARER", sasl::oauthbearer(user, &token.0))
    };
    let refused = |code: Option<u16>, detail: String| SmtpFailure {
        code,
        message: format!("AUTH {mechanism} refused ({detail})"),
        // 4xx: the server's auth service is in trouble, not the token.
        login_refused: code.is_some_and(|c| c >= 500),
        permanent: false,
    };
    let reply = conn
        .command(format!("AUTH {mechanism} {}\r\n", b64.encode(message)))
        .await;
    match reply {
        Ok(r) if r.has_code(235) => Ok(()),
        Ok(r) if r.has_code(334) => {
            // The challenge is the server's JSON error status: keep it for the message.
            let status = r
                .first_line()
                .and_then(|l| b64.decode(l.trim()).ok())
                .map(|j| {
                    String::from_utf8_lossy(&j)
                        .chars()
                        .take(200)
                        .collect::<String>()
                })
                .unwrap_or_default();
            let end = conn.command("\r\n").await;
            let code = match &end {
                Ok(r) => Some(u16::from(r.code())),
                Err(e) => e.status().map(u16::from),
            };
            let detail = match end {
                Err(e) => format!("{e}; {status}"),
                Ok(r) => format!(
                    "{} {}; {status}",
                    u16::from(r.code()),
                    r.first_line().unwrap_or("")
                ),
            };
            Err(refused(code.or(Some(535)), detail))
        }
        Ok(r) => Err(refused(
            Some(u16::from(r.code())),
            r.first_line().unwrap_or("").to_owned(),
        )),
        Err(e) => Err(refused(e.status().map(u16::from), e.to_string())),
    }
}

/// Where XOAUTH2 takes its token from (`None`: a password login, or none).
fn token_source(cfg: &SmtpConfig) -> Option<(String, TokenSource)> {
    if cfg.auth != SmtpAuth::Xoauth2 {
        return None;
    }
    let user = cfg.username.clone().unwrap_or_default();
    let source = match (&cfg.oauth2, &cfg.oauth_token_file) {
        (Some(o), _) => TokenSource::Provider {
            cfg: o.clone(),
            service: Service::Smtp,
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
        },
        (None, path) => TokenSource::File {
            path: path.clone().unwrap_or_default(),
            key: "smtp.oauth_token_file",
        },
    };
    Some((user, source))
}

fn no_answer(after: Duration) -> SmtpFailure {
    SmtpFailure::local(format!(
        "no answer within {} s (smtp.timeout_secs)",
        after.as_secs()
    ))
}

fn starttls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, TransportError> {
    let mut p = TlsParameters::builder(cfg.host.clone());
    if let Some(path) = &cfg.ca_file {
        let ca_err = |reason: String| TransportError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(format!("cannot read it: {e}")))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| ca_err(format!("not a PEM certificate: {e}")))?;
        p = p.add_root_certificate(cert);
    }
    p.build_rustls().map_err(|e| TransportError::Lettre {
        host: cfg.host.clone(),
        reason: e.to_string(),
    })
}

/// A rustls client stream that lettre's connection can drive.
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
