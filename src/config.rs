//! The one TOML file ops write. Loading collects *every* problem at once —
//! unknown keys, wrong types, impossible values — each naming the key and the
//! fix, so `check-config` (exit 78) tells the whole story in one run.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_db")]
    pub path: PathBuf,
    /// Attachments live beside the database unless set.
    pub attachments_dir: Option<PathBuf>,
    #[serde(default = "default_max_attachment")]
    pub max_attachment_bytes: u64,
    /// Larger mail is quarantined unread (pipe mode: kept whole) or, over
    /// IMAP, moved to `failed_folder` without being downloaded.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
    /// Attachments stored per mail; the rest are refused and noted.
    #[serde(default = "default_max_attachments")]
    pub max_attachments: usize,
    /// How long a writer waits for a busy database before giving up (exit 75).
    #[serde(default = "default_busy_ms")]
    pub busy_timeout_ms: u64,
    /// Raw mail and attachment files of tickets closed longer ago than this
    /// are removed (hourly, by `ticketd run`); unset: kept forever.
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportConfig {
    pub address: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default)]
    pub agents: Vec<String>,
    pub portal_url: String,
    pub oncall: Option<String>,
    #[serde(default = "default_reopen_days")]
    pub reopen_days: u32,
    /// How the ticket number appears in subjects; must contain `{id}`.
    #[serde(default = "default_tag")]
    pub ticket_tag: String,
    #[serde(default = "default_throttle")]
    pub max_new_tickets_per_hour: u32,
    /// Watchers kept per ticket; the rest are cut and the cut is logged.
    #[serde(default = "default_max_watchers")]
    pub max_watchers: usize,
    /// Public mail providers: their users get no organization from the domain.
    #[serde(default = "default_personal_domains")]
    pub personal_domains: Vec<String>,
    #[serde(default = "default_token_hours")]
    pub password_token_hours: u32,
    /// Automated mail one customer address may get per hour (a token bucket:
    /// this many at once, refilled at this rate). Agents are not limited.
    #[serde(default = "default_mails_per_recipient")]
    pub max_mails_per_recipient_per_hour: u32,
    /// Automated mail one ticket may cause per hour, all recipients together.
    #[serde(default = "default_mails_per_ticket")]
    pub max_mails_per_ticket_per_hour: u32,
    /// Folder of template overrides (`<kind>.txt`); built-in templates otherwise.
    pub templates_dir: Option<PathBuf>,
    /// authserv-ids of the operator's own receiving MTA, whose
    /// `Authentication-Results` verify a sender (DESIGN §3 "Trust").
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// `urgent_page` mails per hour, all tickets together (and one per ticket an hour).
    #[serde(default = "default_max_pages")]
    pub max_pages_per_hour: u32,
    /// Watchers an unverified sender may bring onto a new ticket by To/Cc.
    #[serde(default = "default_max_unverified_watchers")]
    pub max_unverified_watchers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    #[serde(default = "default_tls")]
    pub security: Security,
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_inbox")]
    pub folder: String,
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    #[serde(default = "default_failed")]
    pub failed_folder: String,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// How ticketd logs in: LOGIN, AUTHENTICATE PLAIN, or XOAUTH2.
    #[serde(default)]
    pub auth: ImapAuth,
    /// XOAUTH2: a file holding the current access token (kept fresh by
    /// another process, e.g. a systemd timer); read at every login.
    pub oauth_token_file: Option<PathBuf>,
    /// Every IMAP request gets this long before the connection is dropped.
    #[serde(default = "default_imap_timeout")]
    pub timeout_secs: u64,
    /// At most this many messages per fetch and transaction.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    #[serde(skip)]
    pub secret: Secret,
}

/// IMAP authentication mechanisms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    #[default]
    Login,
    Plain,
    Xoauth2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_starttls")]
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Seconds any one SMTP command may take.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
    /// Tries before a notification that keeps failing transiently is `failed`.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Notifications in flight at once (pooled connections).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(skip)]
    pub secret: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: String,
}

/// `[portal]`: the web portal and desk (DESIGN §8, §9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Where the portal listens; put a TLS reverse proxy in front and set
    /// `support.portal_url` to its public URL.
    pub listen: String,
    /// How long a session lasts without use.
    #[serde(default = "default_session_days")]
    pub session_days: u32,
    /// The create form's category choices (empty: free text).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Structured fields of the create form.
    #[serde(default)]
    pub fields: Vec<PortalField>,
}

/// One `[[portal.fields]]`: form field `field.NAME`, stored in the ticket's `fields`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// A regex the value must match (checked on the server).
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `ticketd=debug`; `RUST_LOG` wins.
    pub level: Option<String>,
}

/// `[[rules]]`: the core's own type (`domain::rules`), read here as written.
pub use crate::domain::rules::RuleConfig;

fn default_db() -> PathBuf {
    PathBuf::from("ticketd.db")
}
fn default_max_attachment() -> u64 {
    25 * 1024 * 1024
}
fn default_busy_ms() -> u64 {
    30_000
}
fn default_name() -> String {
    "Support".into()
}
fn default_reopen_days() -> u32 {
    7
}
fn default_tag() -> String {
    "[#{id}]".into()
}
fn default_throttle() -> u32 {
    20
}
fn default_session_days() -> u32 {
    14
}
fn default_max_attachments() -> usize {
    100
}
fn default_max_message() -> u64 {
    50 * 1024 * 1024
}
fn default_max_watchers() -> usize {
    48
}
fn default_max_pages() -> u32 {
    20
}
fn default_max_unverified_watchers() -> usize {
    5
}
fn default_token_hours() -> u32 {
    72
}
fn default_personal_domains() -> Vec<String> {
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "zoho.com",
        // The same providers' country domains, and other large ones: each
        // is millions of people, never one organization.
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.ca",
        "yahoo.com.au",
        "yahoo.co.jp",
        "yahoo.co.in",
        "rocketmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "outlook.de",
        "outlook.fr",
        "live.co.uk",
        "live.fr",
        "live.de",
        "windowslive.com",
        "gmx.com",
        "gmx.at",
        "gmx.ch",
        "gmx.co.uk",
        "mail.com",
        "aim.com",
        "pm.me",
        "proton.ch",
        "tutanota.com",
        "tuta.io",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "yandex.com",
        "ya.ru",
        "rambler.ru",
        "t-online.de",
        "freenet.de",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "libero.it",
        "virgilio.it",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "seznam.cz",
        "naver.com",
        "daum.net",
        "btinternet.com",
        "comcast.net",
        "att.net",
        "sbcglobal.net",
        "verizon.net",
        "cox.net",
        "bigpond.com",
        "rediffmail.com",
        "uol.com.br",
        "bol.com.br",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_imap_port() -> u16 {
    993
}
fn default_mails_per_recipient() -> u32 {
    20
}

fn default_mails_per_ticket() -> u32 {
    60
}

fn default_smtp_timeout() -> u64 {
    30
}

fn default_max_attempts() -> u32 {
    12
}

fn default_concurrency() -> usize {
    4
}

fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> Security {
    Security::Tls
}
fn default_starttls() -> Security {
    Security::Starttls
}
fn default_inbox() -> String {
    "INBOX".into()
}
fn default_processed() -> String {
    "Processed".into()
}
fn default_failed() -> String {
    "Failed".into()
}
fn default_poll() -> u64 {
    60
}
fn default_imap_timeout() -> u64 {
    60
}
fn default_batch() -> u32 {
    200
}

/// Why an entry of `support.trusted_authserv_ids` cannot be an authserv-id
/// (RFC 8601: a token, in practice a host name), if it cannot.
fn authserv_id_problem(id: &str) -> Option<&'static str> {
    if id.trim().is_empty() {
        Some("is empty")
    } else if id != id.trim() {
        Some("has spaces around it")
    } else if id.contains('=') {
        Some("looks like a result (method=value), not an authserv-id")
    } else if id.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, ';' | '(' | ')' | '"' | '@' | ',')
    }) {
        Some("contains a character an authserv-id cannot have")
    } else {
        None
    }
}

fn validate_portal(p: &PortalConfig, problems: &mut Vec<Problem>) {
    if p.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(Problem {
            key: "portal.listen".into(),
            message: format!(
                "{:?} is not an address:port such as \"127.0.0.1:8080\"",
                p.listen
            ),
        });
    }
    if p.session_days == 0 {
        problems.push(Problem {
            key: "portal.session_days".into(),
            message: "must be at least 1 (default 14)".into(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in p.fields.iter().enumerate() {
        let key = format!("portal.fields[{i}]");
        let ok_name = !f.name.is_empty()
            && f.name.len() <= 40
            && f.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok_name {
            problems.push(Problem {
                key: format!("{key}.name"),
                message: format!(
                    "{:?}: use lower-case letters, digits and _ (it is the form field field.NAME)",
                    f.name
                ),
            });
        } else if !seen.insert(f.name.clone()) {
            problems.push(Problem {
                key: format!("{key}.name"),
                message: format!("{:?} is used by an earlier field", f.name),
            });
        }
        if f.label.trim().is_empty() {
            problems.push(Problem {
                key: format!("{key}.label"),
                message: "must not be empty: it is what the form shows".into(),
            });
        }
        if let Some(pat) = &f.pattern {
            if let Err(e) = regex::Regex::new(pat) {
                problems.push(Problem {
                    key: format!("{key}.pattern"),
                    message: format!("not a valid regular expression: {e}"),
                });
            }
        }
    }
}

/// Every key ticketd knows, per section; anything else is reported.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "store",
        &[
            "path",
            "attachments_dir",
            "max_attachment_bytes",
            "max_message_bytes",
            "max_attachments",
            "busy_timeout_ms",
            "retention_days",
        ],
    ),
    (
        "support",
        &[
            "address",
            "aliases",
            "name",
            "agents",
            "portal_url",
            "oncall",
            "reopen_days",
            "ticket_tag",
            "max_new_tickets_per_hour",
            "max_watchers",
            "personal_domains",
            "password_token_hours",
            "templates_dir",
            "max_mails_per_recipient_per_hour",
            "max_mails_per_ticket_per_hour",
            "trusted_authserv_ids",
            "max_pages_per_hour",
            "max_unverified_watchers",
        ],
    ),
    (
        "imap",
        &[
            "host",
            "port",
            "security",
            "username",
            "password",
            "password_file",
            "ca_file",
            "folder",
            "processed_folder",
            "failed_folder",
            "poll_interval_secs",
            "auth",
            "oauth_token_file",
            "timeout_secs",
            "batch_size",
        ],
    ),
    (
        "smtp",
        &[
            "host",
            "port",
            "security",
            "username",
            "password",
            "password_file",
            "ca_file",
            "timeout_secs",
            "max_attempts",
            "concurrency",
        ],
    ),
    ("metrics", &["listen"]),
    (
        "portal",
        &["listen", "session_days", "categories", "fields"],
    ),
    ("log", &["level"]),
];
/// Every key the parser accepts, per table (`store`, …, `rules`,
/// `portal.fields`): for the documentation (`ticketd.toml(5)`) and the test
/// that keeps it and the example config in step with the parser.
pub fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    let mut v = KNOWN.to_vec();
    v.push(("rules", RULE_KEYS));
    v.push(("portal.fields", PORTAL_FIELD_KEYS));
    v
}

const RULE_KEYS: &[&str] = &["name", "field", "pattern", "priority", "category"];
const PORTAL_FIELD_KEYS: &[&str] = &["name", "label", "required", "pattern"];

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
            imap.oauth_token_file = imap
                .oauth_token_file
                .take()
                .map(|p| secret_path(base_dir, &p));
            match (&imap.oauth_token_file, oauth) {
                (None, true) => problems.push(Problem {
                    key: "imap.oauth_token_file".into(),
                    message: "missing: auth = \"xoauth2\" needs a file holding the access token"
                        .into(),
                }),
                (Some(_), false) => problems.push(Problem {
                    key: "imap.oauth_token_file".into(),
                    message: "only used with auth = \"xoauth2\"; remove it or set auth".into(),
                }),
                _ => {}
            }
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
            let needs = smtp.username.is_some();
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

fn strip_unknown(root: &mut toml::Table, problems: &mut Vec<Problem>) {
    let top: Vec<String> = root.keys().cloned().collect();
    for key in top {
        if key == "rules" {
            if let Some(toml::Value::Array(rules)) = root.get_mut("rules") {
                for (i, rule) in rules.iter_mut().enumerate() {
                    if let toml::Value::Table(t) = rule {
                        remove_unknown(t, RULE_KEYS, &format!("rules[{i}]"), problems);
                    }
                }
            }
            continue;
        }
        match KNOWN.iter().find(|(name, _)| *name == key) {
            None => {
                root.remove(&key);
                problems.push(Problem {
                    key: key.clone(),
                    message: format!(
                        "unknown section or key; known sections: {}, [[rules]]",
                        KNOWN
                            .iter()
                            .map(|(n, _)| format!("[{n}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Some((_, keys)) => {
                if let Some(toml::Value::Table(t)) = root.get_mut(&key) {
                    remove_unknown(t, keys, &key, problems);
                    if let Some(toml::Value::Array(fields)) = t.get_mut("fields") {
                        for (i, f) in fields.iter_mut().enumerate() {
                            if let toml::Value::Table(f) = f {
                                let at = format!("{key}.fields[{i}]");
                                remove_unknown(f, PORTAL_FIELD_KEYS, &at, problems);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn remove_unknown(t: &mut toml::Table, keys: &[&str], prefix: &str, problems: &mut Vec<Problem>) {
    let unknown: Vec<String> = t
        .keys()
        .filter(|k| !keys.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in unknown {
        t.remove(&k);
        let hint = closest(&k, keys)
            .map(|c| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default();
        problems.push(Problem {
            key: format!("{prefix}.{k}"),
            message: format!("unknown key{hint}; known keys here: {}", keys.join(", ")),
        });
    }
}

/// The known key that differs least from a misspelt one, if it is close.
fn closest<'a>(word: &str, keys: &[&'a str]) -> Option<&'a str> {
    keys.iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Deserializes one section. serde stops at the first wrong value and does
/// not say which key held it, so a failing key is found (by leaving keys out
/// one at a time, or by the value the message quotes), reported under its
/// own name, and dropped; the rest of the section is still checked, so one
/// run of `check-config` lists every problem.
fn section<T: DeserializeOwned>(
    root: &mut toml::Table,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut table = match root.remove(name)? {
        toml::Value::Table(t) => t,
        other => {
            problems.push(Problem {
                key: name.to_owned(),
                message: format!("must be a section [{name}], found a {}", other.type_str()),
            });
            return None;
        }
    };
    loop {
        let e = match toml::Value::Table(table.clone()).try_into::<T>() {
            // Dropped keys fall back to defaults so the remaining checks
            // run; the problems already recorded make the load fail.
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let msg = e.message().trim().to_owned();
        if msg.starts_with("missing field") {
            problems.push(type_problem(name, &e));
            return None;
        }
        let Some(key) = culprit::<T>(&table, &msg) else {
            problems.push(type_problem(name, &e));
            return None;
        };
        problems.push(Problem {
            key: format!("{name}.{key}"),
            message: format!("{}; fix the value", humane(&msg)),
        });
        table.remove(&key);
    }
}

/// serde's Rust type names, in words an operator knows.
fn humane(msg: &str) -> String {
    let mut m = msg.to_owned();
    for (rust, words) in [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a port number, 1 to 65535"),
        (
            "expected a sequence",
            "expected a list such as [\"a\", \"b\"]",
        ),
    ] {
        m = m.replace(rust, words);
    }
    m
}

/// The key whose value causes `msg`.
fn culprit<T: DeserializeOwned>(table: &toml::Table, msg: &str) -> Option<String> {
    let by_removal = table.keys().find(|k| {
        let mut t = table.clone();
        t.remove(*k);
        match toml::Value::Table(t).try_into::<T>() {
            Ok(_) => true,
            Err(e) => !e.message().starts_with("missing field") && e.message().trim() != msg,
        }
    });
    by_removal.cloned().or_else(|| {
        table
            .iter()
            .find(|(_, v)| match v {
                toml::Value::String(s) => msg.contains(&format!("{s:?}")),
                other => msg.contains(&other.to_string()),
            })
            .map(|(k, _)| k.clone())
    })
}

fn from_empty<T: DeserializeOwned>(name: &str, problems: &mut Vec<Problem>) -> Option<T> {
    section(
        &mut toml::Table::from_iter([(name.to_owned(), toml::Value::Table(toml::Table::new()))]),
        name,
        problems,
    )
}

fn type_problem(section: &str, e: &toml::de::Error) -> Problem {
    let msg = e.message().trim().to_owned();
    // serde names a missing field in its message; make that key the key.
    let key = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
        .map(|field| format!("{section}.{field}"))
        .unwrap_or_else(|| section.to_owned());
    let fix = if msg.starts_with("missing field") {
        "; add it"
    } else {
        ""
    };
    Problem {
        key,
        message: format!("{msg}{fix}"),
    }
}

fn validate_support(s: &mut SupportConfig, problems: &mut Vec<Problem>) {
    let mut bad_address = |key: String, value: &str| {
        if !looks_like_address(value) {
            problems.push(Problem {
                key,
                message: format!(
                    "{value:?} is not an email address such as \"support@example.com\""
                ),
            });
        }
    };
    bad_address("support.address".into(), &s.address);
    for (i, a) in s.aliases.iter().enumerate() {
        bad_address(format!("support.aliases[{i}]"), a);
    }
    for (i, a) in s.agents.iter().enumerate() {
        bad_address(format!("support.agents[{i}]"), a);
    }
    if let Some(o) = &s.oncall {
        bad_address("support.oncall".into(), o);
    }
    if !(s.portal_url.starts_with("https://") || s.portal_url.starts_with("http://")) {
        problems.push(Problem {
            key: "support.portal_url".into(),
            message: format!(
                "{:?} must start with https:// (the password-setup links point there)",
                s.portal_url
            ),
        });
    }
    s.portal_url = s.portal_url.trim_end_matches('/').to_owned();
    if s.ticket_tag.matches("{id}").count() != 1 {
        problems.push(Problem {
            key: "support.ticket_tag".into(),
            message: format!(
                "{:?} must contain {{id}} exactly once, e.g. \"[#{{id}}]\"",
                s.ticket_tag
            ),
        });
    }
    if s.max_watchers == 0 {
        problems.push(Problem {
            key: "support.max_watchers".into(),
            message: "must be at least 1 (default 48)".into(),
        });
    }
    for (i, id) in s.trusted_authserv_ids.iter().enumerate() {
        if let Some(why) = authserv_id_problem(id) {
            problems.push(Problem {
                key: format!("support.trusted_authserv_ids[{i}]"),
                message: format!(
                    "{id:?} {why}: use the name your receiving MTA writes first in its Authentication-Results header (Postfix+OpenDMARC: its AuthservID, often the host name such as \"mx.example.test\"; Gmail: \"mx.google.com\")"
                ),
            });
        }
    }
    for (key, v) in [
        (
            "max_mails_per_recipient_per_hour",
            s.max_mails_per_recipient_per_hour,
        ),
        (
            "max_mails_per_ticket_per_hour",
            s.max_mails_per_ticket_per_hour,
        ),
        ("max_pages_per_hour", s.max_pages_per_hour),
    ] {
        if v == 0 {
            problems.push(Problem {
                key: format!("support.{key}"),
                message: "must be at least 1: it limits automated mail, it cannot turn it off"
                    .into(),
            });
        }
    }
    if s.password_token_hours == 0 {
        problems.push(Problem {
            key: "support.password_token_hours".into(),
            message: "must be at least 1 (default 72)".into(),
        });
    }
    let lower = |v: &mut Vec<String>| {
        v.iter_mut()
            .for_each(|a| *a = a.trim().to_ascii_lowercase())
    };
    s.address = s.address.trim().to_ascii_lowercase();
    lower(&mut s.aliases);
    lower(&mut s.agents);
    lower(&mut s.personal_domains);
    s.oncall = s.oncall.take().map(|o| o.trim().to_ascii_lowercase());
}

fn looks_like_address(v: &str) -> bool {
    let v = v.trim();
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !v.chars().any(|c| c.is_whitespace() || "<>,;\"".contains(c))
        }
        None => false,
    }
}

fn check_security(section: &str, host: &str, security: Security, problems: &mut Vec<Problem>) {
    if security == Security::None && !is_loopback(host) {
        problems.push(Problem {
            key: format!("{section}.security"),
            message: format!(
                "\"none\" sends the password in clear text and is only allowed to a loopback host (127.0.0.1, ::1, localhost), not {host:?}; use \"tls\" or \"starttls\""
            ),
        });
    }
}

/// Where a secret file named in the config is. Under systemd, a bare name
/// given to the unit as `LoadCredential=NAME:…` is read from
/// `$CREDENTIALS_DIRECTORY` (systemd's private copy, readable by the service
/// only); otherwise the path is relative to the config's folder.
fn secret_path(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_relative() {
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = Path::new(&dir).join(p);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    base_dir.join(p)
}

/// Whether `host` names this machine (plaintext is only allowed there).
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_matches(['[', ']']);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn resolve_secret(
    section: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    required: bool,
    problems: &mut Vec<Problem>,
) -> Secret {
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(Problem {
                key: format!("{section}.password"),
                message: "set either password or password_file, not both".into(),
            });
            Secret::default()
        }
        (Some(p), None) => Secret(p),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(s) => Secret(s.trim_end_matches(['\r', '\n']).to_owned()),
            Err(e) => {
                problems.push(Problem {
                    key: format!("{section}.password_file"),
                    message: format!(
                        "cannot read {}: {e}; check the path and that ticketd may read it",
                        path.display()
                    ),
                });
                Secret::default()
            }
        },
        (None, None) => {
            if required {
                problems.push(Problem {
                    key: format!("{section}.password"),
                    message:
                        "missing: set password, or password_file pointing to a file that holds it"
                            .into(),
                });
            }
            Secret::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[support]
address = "Support@Example.test"
portal_url = "https://support.example.test/"
"#;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("/etc/ticketd")) {
            Ok(_) => Vec::new(),
            Err(p) => p.into_iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_config_gets_defaults_and_absolute_paths() {
        let c = Config::parse(MINIMAL, Path::new("/etc/ticketd")).expect("valid");
        assert_eq!(c.support.address, "support@example.test");
        assert_eq!(c.support.portal_url, "https://support.example.test");
        assert_eq!(c.store.path, PathBuf::from("/etc/ticketd/ticketd.db"));
        assert_eq!(
            c.attachments_dir(),
            PathBuf::from("/etc/ticketd/ticketd.db.attachments")
        );
        assert_eq!(c.support.reopen_days, 7);
        assert_eq!(c.support.max_watchers, 48);
        assert!(c.imap.is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let text = r#"
colour = "blue"
[support]
address = "not an address"
portal_url = "ftp://x"
reopen_dayz = 3
ticket_tag = "[ticket]"
[imap]
host = "mail.example.com"
security = "none"
username = "support@example.test"
[[rules]]
field = "body"
pattern = "(unclosed"
priority = "whenever"
"#;
        let p = problems(text);
        let keys: Vec<&str> = p
            .iter()
            .map(|s| s.split(':').next().unwrap_or(""))
            .collect();
        for want in [
            "colour",
            "support.reopen_dayz",
            "support.address",
            "support.portal_url",
            "support.ticket_tag",
            "imap.password",
            "imap.security",
            "rules[0].pattern",
            "rules[0].priority",
        ] {
            assert!(keys.contains(&want), "missing problem for {want} in {p:#?}");
        }
        assert!(
            p.iter().any(|s| s.contains("did you mean \"reopen_days\"")),
            "{p:#?}"
        );
    }

    #[test]
    fn trusted_authserv_ids_must_be_authserv_ids() {
        let ok =
            format!("{MINIMAL}trusted_authserv_ids = [\"mx.example.test\", \"mx.google.com\"]\n");
        assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
        let c = Config::parse(MINIMAL, Path::new("/etc/ticketd")).expect("valid");
        assert!(
            c.support.trusted_authserv_ids.is_empty(),
            "none trusted by default"
        );
        assert_eq!(c.support.max_pages_per_hour, 20);
        let bad = format!(
            "{MINIMAL}trusted_authserv_ids = [\"\", \"mx.example.test; dkim=pass\", \"spf=pass\", \" mx \"]\nmax_pages_per_hour = 0\n"
        );
        let p = problems(&bad);
        for key in [
            "support.trusted_authserv_ids[0]: \"\" is empty",
            "support.trusted_authserv_ids[1]:",
            "support.trusted_authserv_ids[2]: \"spf=pass\" looks like a result",
            "support.trusted_authserv_ids[3]: \" mx \" has spaces",
            "support.max_pages_per_hour:",
        ] {
            assert!(p.iter().any(|l| l.starts_with(key)), "{key} in {p:#?}");
        }
    }

    #[test]
    fn missing_support_section_and_missing_field_are_named() {
        assert_eq!(problems("[store]\npath = \"x.db\"\n").len(), 1);
        let p = problems("[support]\naddress = \"a@b.test\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("support.portal_url: missing field"),
            "{p:?}"
        );
    }

    #[test]
    fn a_syntax_error_never_shows_the_line_it_is_on() {
        let p = problems("[imap]\npassword = \"hunter2\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("(syntax): not valid TOML at line 2"),
            "{p:?}"
        );
        assert!(!p[0].contains("hunter2"), "{p:?}");
    }

    #[test]
    fn wrong_types_and_syntax_are_problems_not_panics() {
        assert!(problems("[support\n")[0].starts_with("(syntax)"));
        let p = problems(&format!("{MINIMAL}reopen_days = \"seven\"\n"));
        assert!(p[0].starts_with("support"), "{p:?}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let text = format!(
            "{MINIMAL}[imap]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nusername = \"u\"\npassword = \"hunter2\"\n"
        );
        let c = Config::parse(&text, Path::new("/")).expect("valid");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(c.imap.map(|i| i.secret.0), Some("hunter2".to_string()));
    }

    #[test]
    fn plaintext_only_to_loopback() {
        for (host, ok) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("localhost", true),
            ("mail.example.com", false),
        ] {
            assert_eq!(is_loopback(host), ok, "{host}");
        }
    }

    /// The shipped example documents every key: it must parse, and every key
    /// ticketd knows must appear in it (so a new key cannot go undocumented).
    #[test]
    fn the_example_config_parses_and_documents_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ticketd.example.toml");
        let text = std::fs::read_to_string(&path).expect("example config");
        let c = Config::parse(&text, Path::new("/etc/ticketd")).expect("example parses");
        assert_eq!(c.support.address, "support@example.test");
        assert_eq!(c.rules.len(), 2, "[[portal.fields]] are not rules");
        assert_eq!(c.store.path, Path::new("/etc/ticketd/ticketd.db"));
        for (section, keys) in KNOWN {
            assert!(
                text.contains(&format!("[{section}]")),
                "[{section}] missing"
            );
            for key in *keys {
                assert!(
                    text.contains(&format!("{key} ="))
                        || text.contains(&format!("[[{section}.{key}]]")),
                    "{section}.{key} undocumented"
                );
            }
        }
        let portal = c.portal.expect("[portal] in the example");
        assert_eq!(portal.fields.len(), 1);
        for key in RULE_KEYS.iter().chain(PORTAL_FIELD_KEYS) {
            assert!(
                text.contains(&format!("{key} =")),
                "rules.{key} undocumented"
            );
        }
    }
}
