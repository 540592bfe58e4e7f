//! The one TOML file ops write. Loading collects *every* problem at once —
//! unknown keys, wrong types, impossible values — each naming the key and the
//! fix, so `check-config` (exit 78) tells the whole story in one run.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod keys;
mod oauth2;
mod sections;
mod table;
#[cfg(test)]
mod tests;
mod validate;

pub use keys::known_keys;
use keys::strip_unknown;
use oauth2::{distinct_files, oauth2_section, settle_oauth};
pub use sections::{
    ImapAuth, ImapConfig, LogConfig, MetricsConfig, OAuth2Config, PortalConfig, PortalField,
    RuleConfig, SmtpAuth, SmtpConfig, StoreConfig, SupportConfig,
};
use table::{from_empty, section, type_problem};
pub use validate::is_loopback;
use validate::{check_security, resolve_secret, secret_path, validate_portal, validate_support};

/// Where ticketd looks when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/ticketd/ticketd.toml";

/// One thing wrong with the config: which key, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The config could not be used; `problems` lists everything found.
#[derive(Debug, thiserror::Error)]
#[error("{} has {} problem(s):\n{}", path.display(), problems.len(), list(problems))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"[redacted]\""
        })
    }
}

/// Transport security for IMAP and SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The folder the config file lives in; relative paths start here.
    pub base_dir: PathBuf,
    pub store: StoreConfig,
    pub support: SupportConfig,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
    pub metrics: Option<MetricsConfig>,
    pub portal: Option<PortalConfig>,
    pub log: LogConfig,
    pub rules: Vec<RuleConfig>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            problems: vec![Problem {
                key: "(file)".into(),
                message: format!(
                    "cannot read {}: {e}; pass --config PATH or create the file from config/ticketd.example.toml",
                    path.display()
                ),
            }],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Config::parse(&text, &base).map_err(|problems| ConfigError {
            path: path.to_owned(),
            problems,
        })
    }

    /// Parses config text; relative paths are resolved against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Config, Vec<Problem>> {
        let mut root: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                // Where, and what is wrong, but never the line itself: it
                // may be the `password = "…"` line.
                let at = e
                    .span()
                    .map(|s| {
                        let before = &text[..s.start.min(text.len())];
                        let line = before.matches('\n').count() + 1;
                        let column =
                            before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                        format!(" at line {line}, column {column}")
                    })
                    .unwrap_or_default();
                return Err(vec![Problem {
                    key: "(syntax)".into(),
                    message: format!("not valid TOML{at}: {}", e.message().trim()),
                }]);
            }
        };
        let mut problems = Vec::new();
        strip_unknown(&mut root, &mut problems);

        let store: Option<StoreConfig> = section(&mut root, "store", &mut problems)
            .or_else(|| from_empty("store", &mut problems));
        let support: Option<SupportConfig> = match root.contains_key("support") {
            true => section(&mut root, "support", &mut problems),
            false => {
                problems.push(Problem {
                    key: "support".into(),
                    message: "missing section: add [support] with at least address and portal_url"
                        .into(),
                });
                None
            }
        };
        let imap_oauth2 = oauth2_section(&mut root, "imap", &mut problems);
        let smtp_oauth2 = oauth2_section(&mut root, "smtp", &mut problems);
        let imap: Option<ImapConfig> = section(&mut root, "imap", &mut problems);
        let smtp: Option<SmtpConfig> = section(&mut root, "smtp", &mut problems);
        let metrics: Option<MetricsConfig> = section(&mut root, "metrics", &mut problems);
        let portal: Option<PortalConfig> = section(&mut root, "portal", &mut problems);
        let log: LogConfig = section(&mut root, "log", &mut problems).unwrap_or_default();
        let rules: Vec<RuleConfig> = match root.remove("rules") {
            None => Vec::new(),
            Some(v) => match v.try_into() {
                Ok(r) => r,
                Err(e) => {
                    problems.push(type_problem("rules", &e));
                    Vec::new()
                }
            },
        };

        let (Some(mut store), Some(mut support)) = (store, support) else {
            return Err(problems);
        };
        let mut imap = imap;
        let mut smtp = smtp;
        validate_support(&mut support, &mut problems);
        store.path = base_dir.join(&store.path);
        if store.retention_days == Some(0) {
            problems.push(Problem {
                key: "store.retention_days".into(),
                message: "must be at least 1; leave it out to keep mail forever".into(),
            });
        }
        store.attachments_dir = store.attachments_dir.map(|p| base_dir.join(p));
        support.templates_dir = support.templates_dir.map(|p| base_dir.join(p));
        if store.max_message_bytes < 1024 {
            problems.push(Problem {
                key: "store.max_message_bytes".into(),
                message: "must be at least 1024 (bytes; default 52428800 = 50 MiB)".into(),
            });
        }
        if store.max_attachment_bytes == 0 {
            problems.push(Problem {
                key: "store.max_attachment_bytes".into(),
                message: "must be greater than 0 (bytes; default 26214400 = 25 MiB)".into(),
            });
        }
        if let Some(imap) = imap.as_mut() {
            let oauth = imap.auth == ImapAuth::Xoauth2;
            imap.secret = resolve_secret(
                "imap",
                imap.password.take(),
                imap.password_file
                    .as_ref()
                    .map(|p| secret_path(base_dir, p)),
                !oauth,
                &mut problems,
            );
            settle_oauth(
                "imap",
                oauth,
                &mut imap.oauth_token_file,
                &mut imap.oauth2,
                imap_oauth2,
                base_dir,
                &mut problems,
            );
            if imap.timeout_secs == 0 {
                problems.push(Problem {
                    key: "imap.timeout_secs".into(),
                    message: "must be at least 1 (seconds an IMAP request may take)".into(),
                });
            }
            if !(1..=5000).contains(&imap.batch_size) {
                problems.push(Problem {
                    key: "imap.batch_size".into(),
                    message: "must be between 1 and 5000 (messages per fetch)".into(),
                });
            }
            imap.ca_file = imap.ca_file.take().map(|p| base_dir.join(p));
            check_security("imap", &imap.host, imap.security, &mut problems);
            for (key, v) in [("imap.host", &imap.host), ("imap.username", &imap.username)] {
                if v.trim().is_empty() {
                    problems.push(Problem {
                        key: key.into(),
                        message: "must not be empty".into(),
                    });
                }
            }
            if imap.poll_interval_secs == 0 {
                problems.push(Problem {
                    key: "imap.poll_interval_secs".into(),
                    message:
                        "must be at least 1 (seconds between polls when the server has no IDLE)"
                            .into(),
                });
            }
        }
        if let Some(smtp) = smtp.as_mut() {
            let oauth = smtp.auth == SmtpAuth::Xoauth2;
            let needs = smtp.username.is_some() && !oauth;
            if oauth && smtp.username.is_none() {
                problems.push(Problem {
                    key: "smtp.username".into(),
                    message: "missing: auth = \"xoauth2\" logs in as this user".into(),
                });
            }
            settle_oauth(
                "smtp",
                oauth,
                &mut smtp.oauth_token_file,
                &mut smtp.oauth2,
                smtp_oauth2,
                base_dir,
                &mut problems,
            );
            smtp.secret = resolve_secret(
                "smtp",
                smtp.password.take(),
                smtp.password_file
                    .as_ref()
                    .map(|p| secret_path(base_dir, p)),
                needs,
                &mut problems,
            );
            smtp.ca_file = smtp.ca_file.take().map(|p| base_dir.join(p));
            check_security("smtp", &smtp.host, smtp.security, &mut problems);
        }
        distinct_files(
            imap.as_ref().and_then(|i| i.oauth2.as_ref()),
            smtp.as_ref().and_then(|s| s.oauth2.as_ref()),
            &mut problems,
        );
        if let Some(m) = &metrics {
            if m.listen.parse::<std::net::SocketAddr>().is_err() {
                problems.push(Problem {
                    key: "metrics.listen".into(),
                    message: format!(
                        "{:?} is not an address:port such as \"127.0.0.1:9187\"",
                        m.listen
                    ),
                });
            }
        }
        if let Some(p) = &portal {
            validate_portal(p, &mut problems);
        }
        for (i, rule) in rules.iter().enumerate() {
            if let Err(p) = crate::domain::rules::Rule::compile(rule) {
                problems.extend(p.into_iter().map(|(key, message)| Problem {
                    key: format!("rules[{i}].{key}"),
                    message,
                }));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            base_dir: base_dir.to_owned(),
            store,
            support,
            imap,
            smtp,
            metrics,
            portal,
            log,
            rules,
        })
    }

    /// Where attachment files are written.
    pub fn attachments_dir(&self) -> PathBuf {
        match &self.store.attachments_dir {
            Some(d) => d.clone(),
            None => {
                let mut name = self
                    .store
                    .path
                    .file_name()
                    .unwrap_or_default()
                    .to_os_string();
                name.push(".attachments");
                self.store.path.with_file_name(name)
            }
        }
    }
}
