//! `ticketd oauth login imap|smtp`: the one-time sign-in that gives ticketd
//! a refresh token for `[imap.oauth2]` or `[smtp.oauth2]` (DESIGN §5). No
//! browser on the server: it prints where to go and the code to enter.

use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use super::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::oauth::{self, OAuthError, Service};

#[derive(Debug, Subcommand)]
pub enum OauthCmd {
    /// Sign in once (device code flow) and store the refresh token in
    /// `refresh_token_file`; ticketd refreshes access tokens from it.
    Login {
        #[arg(value_enum)]
        login: Login,
    },
}

/// Which login to sign in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Login {
    /// `[imap.oauth2]`: reading the mailbox.
    Imap,
    /// `[smtp.oauth2]`: sending notifications.
    Smtp,
}

pub fn run(config: &Config, cmd: OauthCmd) -> CmdResult {
    let OauthCmd::Login { login } = cmd;
    let (service, block, timeout) = match login {
        Login::Imap => (
            Service::Imap,
            config.imap.as_ref().and_then(|i| i.oauth2.as_ref()),
            config.imap.as_ref().map(|i| i.timeout_secs),
        ),
        Login::Smtp => (
            Service::Smtp,
            config.smtp.as_ref().and_then(|s| s.oauth2.as_ref()),
            config.smtp.as_ref().map(|s| s.timeout_secs),
        ),
    };
    let cfg = block.ok_or_else(|| {
        Failure::new(
            Exit::Config,
            format!(
                "no [{service}.oauth2] block in the config: add one (token_url, device_url, \
                 client_id, refresh_token_file, scope) with auth = \"xoauth2\" in [{service}]"
            ),
        )
    })?;
    let timeout = Duration::from_secs(timeout.unwrap_or(30).max(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Software, format!("cannot start the runtime: {e}")))?;
    let done = runtime.block_on(oauth::login(cfg, service, timeout, |p| {
        if let Some(m) = &p.message {
            outln!("{m}");
        } else {
            outln!(
                "To let ticketd use the {service} login, open {} in any browser and enter the code {}",
                p.verification_uri,
                p.user_code
            );
        }
        if let Some(full) = &p.verification_uri_complete {
            outln!("(or open {full})");
        }
        outln!(
            "Waiting up to {} minute(s) for the sign-in…",
            p.expires_in.as_secs().div_ceil(60)
        );
    }));
    match done {
        Ok(path) => {
            outln!(
                "Signed in: the refresh token is in {} (mode 0600). `ticketd run` takes it from here.",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(failure(e)),
    }
}

fn failure(e: OAuthError) -> Failure {
    let exit = if e.needs_operator() {
        Exit::Config
    } else {
        Exit::TempFail
    };
    Failure::new(exit, e.to_string())
}
