//! Checks of values serde cannot make: addresses, loopback-only plaintext,
//! secrets read from their files, the portal's fields.

use std::path::{Path, PathBuf};

use super::{PortalConfig, Problem, Secret, Security, SupportConfig};

/// Why an entry of `support.trusted_authserv_ids` cannot be an authserv-id
/// (RFC 8601: a token, in practice a host name), if it cannot.
pub(super) fn authserv_id_problem(id: &str) -> Option<&'static str> {
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

pub(super) fn validate_portal(p: &PortalConfig, problems: &mut Vec<Problem>) {
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

pub(super) fn validate_support(s: &mut SupportConfig, problems: &mut Vec<Problem>) {
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

pub(super) fn looks_like_address(v: &str) -> bool {
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

pub(super) fn check_security(
    section: &str,
    host: &str,
    security: Security,
    problems: &mut Vec<Problem>,
) {
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
pub(super) fn secret_path(base_dir: &Path, p: &Path) -> PathBuf {
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

pub(super) fn resolve_secret(
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
