//! Which keys each table may hold: unknown ones are reported (with the
//! closest known key) and dropped before serde sees the table.

use super::Problem;

/// Every key ticketd knows, per section; anything else is reported.
pub(super) const KNOWN: &[(&str, &[&str])] = &[
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
            "oauth2",
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
            "auth",
            "oauth_token_file",
            "oauth2",
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
    v.push(("imap.oauth2", OAUTH2_KEYS));
    v.push(("smtp.oauth2", OAUTH2_KEYS));
    v
}

pub(super) const OAUTH2_KEYS: &[&str] = &[
    "token_url",
    "device_url",
    "client_id",
    "client_secret_file",
    "refresh_token_file",
    "scope",
    "ca_file",
];

pub(super) const RULE_KEYS: &[&str] = &["name", "field", "pattern", "priority", "category"];
pub(super) const PORTAL_FIELD_KEYS: &[&str] = &["name", "label", "required", "pattern"];

pub(super) fn strip_unknown(root: &mut toml::Table, problems: &mut Vec<Problem>) {
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
                    if let Some(toml::Value::Table(o)) = t.get_mut("oauth2") {
                        remove_unknown(o, OAUTH2_KEYS, &format!("{key}.oauth2"), problems);
                    }
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
