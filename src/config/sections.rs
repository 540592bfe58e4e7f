//! The sections of the config file as serde reads them, with their
//! defaults; checking the values is `validate`'s job.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Secret, Security};

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
    /// XOAUTH2 with tokens ticketd refreshes itself (`[imap.oauth2]`);
    /// parsed apart from the section so its problems carry its own keys.
    #[serde(skip)]
    pub oauth2: Option<OAuth2Config>,
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
    /// How ticketd logs in when `username` is set: the password (PLAIN or
    /// LOGIN), or an OAuth2 bearer token (XOAUTH2, else OAUTHBEARER).
    #[serde(default)]
    pub auth: SmtpAuth,
    /// XOAUTH2: a file holding the current access token, as in `[imap]`.
    pub oauth_token_file: Option<PathBuf>,
    /// XOAUTH2 with tokens ticketd refreshes itself (`[smtp.oauth2]`).
    #[serde(skip)]
    pub oauth2: Option<OAuth2Config>,
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

/// SMTP authentication: a password, or an OAuth2 bearer token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    #[default]
    Password,
    Xoauth2,
}

/// `[imap.oauth2]` / `[smtp.oauth2]` (DESIGN §5): where ticketd gets access
/// tokens, and the refresh token it keeps (and rewrites when rotated).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    pub token_url: String,
    /// The device authorization endpoint, for `ticketd oauth login`.
    pub device_url: Option<String>,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    /// Relative to the config's folder, never `$CREDENTIALS_DIRECTORY`:
    /// ticketd rewrites it, and systemd's credentials are read-only.
    pub refresh_token_file: PathBuf,
    pub scope: Option<String>,
    /// Extra CA certificates to trust for the endpoints (a private IdP).
    pub ca_file: Option<PathBuf>,
    #[serde(skip)]
    pub client_secret: Option<Secret>,
    /// The access token in memory, shared by every clone of this config.
    #[serde(skip)]
    pub tokens: crate::oauth::TokenCache,
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
