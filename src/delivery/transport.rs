//! The SMTP connection: lettre on tokio with rustls (system roots plus an
//! optional private CA), a small pool so consecutive notifications reuse one
//! session, and never a silent fall-back to plaintext: `starttls` means
//! STARTTLS is required, and `none` is only accepted for a loopback host.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::config::{Security, SmtpConfig};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("smtp.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("smtp TLS setup for {host}: {reason}")]
    Tls { host: String, reason: String },
}

/// Builds the pooled transport. Nothing connects until the first send.
pub fn build(cfg: &SmtpConfig, hello: &str, pool_size: u32) -> Result<Transport, TransportError> {
    let tls = match cfg.security {
        Security::None => Tls::None,
        Security::Tls => Tls::Wrapper(tls_parameters(cfg)?),
        Security::Starttls => Tls::Required(tls_parameters(cfg)?),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.as_str())
        .port(cfg.port)
        .tls(tls)
        .hello_name(ClientId::Domain(hello.to_owned()))
        .timeout(Some(Duration::from_secs(cfg.timeout_secs.max(1))))
        .pool_config(
            PoolConfig::new()
                .max_size(pool_size.max(1))
                .idle_timeout(Duration::from_secs(60)),
        );
    if let Some(user) = &cfg.username {
        b = b.credentials(Credentials::new(user.clone(), cfg.secret.0.clone()));
    }
    Ok(b.build())
}

fn tls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, TransportError> {
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
    p.build_rustls().map_err(|e| TransportError::Tls {
        host: cfg.host.clone(),
        reason: e.to_string(),
    })
}
