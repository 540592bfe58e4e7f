//! What can go wrong talking to the IMAP server, and what the daemon should
//! do about it: reconnect soon, or wait long (credentials) and say so.

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("{host} refused the login of {user}: {reason}; check imap.username and {hint}")]
    Auth {
        host: String,
        user: String,
        reason: String,
        /// What else to check: the password, or where the token came from.
        hint: String,
    },
    #[error("cannot get an OAuth2 access token for IMAP: {0}")]
    OAuth(#[from] crate::oauth::OAuthError),
    #[error("{host} cannot log anyone in right now: {reason}; retrying")]
    Unavailable { host: String, reason: String },
    #[error("{host} does not offer {what}")]
    Unsupported { host: String, what: String },
    #[error("IMAP {command} got no answer within {secs} s (imap.timeout_secs)")]
    Timeout { command: String, secs: u64 },
    #[error("IMAP {command} failed: {reason}")]
    Command { command: String, reason: String },
    #[error("the server closed the connection{0}")]
    Closed(String),
}

impl From<crate::tls::TlsError> for ImapError {
    fn from(e: crate::tls::TlsError) -> ImapError {
        ImapError::Tls {
            host: e.host,
            reason: e.reason,
        }
    }
}

impl ImapError {
    /// Credentials or configuration: retrying at once will not help.
    pub fn needs_operator(&self) -> bool {
        if let ImapError::OAuth(e) = self {
            return e.needs_operator();
        }
        matches!(
            self,
            ImapError::Auth { .. } | ImapError::Unsupported { .. } | ImapError::Tls { .. }
        )
    }

    pub(crate) fn command(command: &str, e: async_imap::error::Error) -> ImapError {
        use async_imap::error::Error;
        match e {
            Error::ConnectionLost => ImapError::Closed(format!(" during {command}")),
            Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                ImapError::Closed(format!(" during {command}"))
            }
            other => ImapError::Command {
                command: command.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}
