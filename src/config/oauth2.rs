//! `[imap.oauth2]` and `[smtp.oauth2]`: parsed apart from their sections (so
//! a problem names `imap.oauth2.client_id`, not `imap`), then checked
//! together with `auth` and `oauth_token_file`.

use std::path::{Path, PathBuf};

use super::{secret_path, section, OAuth2Config, Problem, Secret};
use crate::oauth::url::Url;

/// Takes `[NAME.oauth2]` out of `[NAME]`. An empty table counts as absent:
/// the example config carries the header with every key commented out.
pub(super) fn oauth2_section(
    root: &mut toml::Table,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<OAuth2Config> {
    let toml::Value::Table(parent) = root.get_mut(name)? else {
        return None;
    };
    let value = parent.remove("oauth2")?;
    if matches!(&value, toml::Value::Table(t) if t.is_empty()) {
        return None;
    }
    let key = format!("{name}.oauth2");
    let mut tmp = toml::Table::from_iter([(key.clone(), value)]);
    section(&mut tmp, &key, problems)
}

/// A section's OAuth2 settings as read: the token file resolved against
/// the config's folder, the `[SECTION.oauth2]` block put in place, and both
/// checked against `auth` (the same for `[imap]` and `[smtp]`).
pub(super) fn settle_oauth(
    name: &str,
    xoauth2: bool,
    token_file: &mut Option<PathBuf>,
    oauth2: &mut Option<OAuth2Config>,
    block: Option<OAuth2Config>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) {
    *token_file = token_file.take().map(|p| secret_path(base_dir, &p));
    *oauth2 = block;
    validate_oauth(
        name,
        xoauth2,
        token_file.is_some(),
        oauth2.as_mut(),
        base_dir,
        problems,
    );
}

/// Checks how the login gets its bearer token, and the block's values.
fn validate_oauth(
    name: &str,
    xoauth2: bool,
    has_token_file: bool,
    oauth2: Option<&mut OAuth2Config>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) {
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            key: format!("{name}.{key}"),
            message,
        })
    };
    match (xoauth2, has_token_file, oauth2.is_some()) {
        (true, false, false) => problem(
            "oauth2",
            format!(
                "missing: auth = \"xoauth2\" needs an [{name}.oauth2] block (ticketd refreshes the \
                 token itself) or oauth_token_file (something else keeps it fresh)"
            ),
        ),
        (true, true, true) => problem(
            "oauth_token_file",
            format!("set either oauth_token_file or [{name}.oauth2], not both"),
        ),
        (false, true, _) => problem(
            "oauth_token_file",
            "only used with auth = \"xoauth2\"; remove it or set auth".into(),
        ),
        (false, _, true) => problem(
            "oauth2",
            "only used with auth = \"xoauth2\"; remove the block or set auth".into(),
        ),
        _ => {}
    }
    let Some(o) = oauth2 else {
        return;
    };
    let mut url_problem = |key: &str, text: &str| {
        if let Err(reason) = Url::parse(text).and_then(|u| u.check_transport()) {
            problem(&format!("oauth2.{key}"), reason);
        }
    };
    url_problem("token_url", &o.token_url);
    if let Some(d) = &o.device_url {
        url_problem("device_url", d);
    }
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            key: format!("{name}.oauth2.{key}"),
            message,
        })
    };
    if o.client_id.trim().is_empty() {
        problem(
            "client_id",
            "must not be empty: the application (client) ID of the app registration".into(),
        );
    }
    if o.scope.as_deref().is_some_and(|s| s.trim().is_empty()) {
        problem(
            "scope",
            "must not be empty; leave it out, or name the scopes (space-separated)".into(),
        );
    }
    if let Some(p) = o.client_secret_file.take() {
        let path = secret_path(base_dir, &p);
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => o.client_secret = Some(Secret(s.trim().to_owned())),
            Ok(_) => problem("client_secret_file", format!("{} is empty", path.display())),
            Err(e) => problem(
                "client_secret_file",
                format!(
                    "cannot read {}: {e}; check the path and that ticketd may read it",
                    path.display()
                ),
            ),
        }
        o.client_secret_file = Some(path);
    }
    o.ca_file = o.ca_file.take().map(|p| base_dir.join(p));
    o.refresh_token_file = base_dir.join(&o.refresh_token_file);
    let folder = o
        .refresh_token_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty());
    if folder.is_some_and(|d| !d.is_dir()) {
        problem(
            "refresh_token_file",
            format!(
                "its folder does not exist: {}; ticketd writes the file there (a folder the \
                 service may write, e.g. /var/lib/ticketd)",
                folder.map(|d| d.display().to_string()).unwrap_or_default()
            ),
        );
    }
}

/// Both logins rotate their refresh token on their own: one file each.
pub(super) fn distinct_files(
    imap: Option<&OAuth2Config>,
    smtp: Option<&OAuth2Config>,
    problems: &mut Vec<Problem>,
) {
    if let (Some(i), Some(s)) = (imap, smtp) {
        if i.refresh_token_file == s.refresh_token_file {
            problems.push(Problem {
                key: "smtp.oauth2.refresh_token_file".into(),
                message: "is imap.oauth2.refresh_token_file too: each login rotates its refresh \
                          token on its own, give each its own file (e.g. imap.refresh, smtp.refresh)"
                    .into(),
            });
        }
    }
}
