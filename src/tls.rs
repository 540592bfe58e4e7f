//! rustls everywhere (IMAP and SMTP): the system's roots plus an optional private CA file;
//! no OpenSSL at run time and never a silent fall-back to plaintext.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A TLS problem with `host`: setup (roots, CA file) or the handshake.
#[derive(Debug, thiserror::Error)]
#[error("TLS with {host}: {reason}")]
pub struct TlsError {
    pub host: String,
    pub reason: String,
}

/// A connector trusting the system roots and, when given, the certificates in
/// `ca_file` (`ca_key` names its config key in messages).
pub fn connector(
    host: &str,
    ca_file: Option<&std::path::Path>,
    ca_key: &str,
) -> Result<TlsConnector, TlsError> {
    let tls_err = |reason: String| TlsError {
        host: host.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // One unusable system certificate must not stop the others.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect())
            .map_err(|e| tls_err(format!("cannot read the CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(tls_err(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| tls_err(format!("{}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(tls_err(format!(
            "no trusted certificates: install ca-certificates or set {ca_key}"
        )));
    }
    let config = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls_err(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

pub async fn wrap(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| TlsError {
        host: host.to_owned(),
        reason: format!("{host:?} is not a valid server name: {e}"),
    })?;
    connector.connect(name, tcp).await.map_err(|e| TlsError {
        host: host.to_owned(),
        reason: e.to_string(),
    })
}
