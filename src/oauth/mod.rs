//! OAuth2 for the IMAP and SMTP logins (DESIGN §5): access tokens obtained
//! with the refresh grant (RFC 6749 §6) and kept in memory only, the refresh
//! token rewritten when the provider rotates it, and the one-time device
//! authorization grant (RFC 8628) behind `ticketd oauth login`. The wire
//! formats are pure ([`grant`], [`url`]); the edge is a tiny HTTPS client.

mod device;
mod error;
mod file;
pub mod grant;
mod http;
pub mod sasl;
mod token;
pub mod url;

pub use device::{login, Prompt};
pub use error::OAuthError;
pub use token::{TokenCache, TokenSource};

use std::fmt;

/// Which login a token is for: names the config block and the command in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Imap,
    Smtp,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Imap => "imap",
            Service::Smtp => "smtp",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
