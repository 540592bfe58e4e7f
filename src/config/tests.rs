//! The config's own tests: every problem at once, each with its key.

use super::keys::{KNOWN, OAUTH2_KEYS, PORTAL_FIELD_KEYS, RULE_KEYS};
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
    let ok = format!("{MINIMAL}trusted_authserv_ids = [\"mx.example.test\", \"mx.google.com\"]\n");
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
                    || text.contains(&format!("[[{section}.{key}]]"))
                    || text.contains(&format!("\n[{section}.{key}]\n")),
                "{section}.{key} undocumented"
            );
        }
    }
    let portal = c.portal.expect("[portal] in the example");
    assert_eq!(portal.fields.len(), 1);
    assert!(
        c.imap.expect("[imap]").oauth2.is_none(),
        "a commented-out block is unused"
    );
    for key in RULE_KEYS.iter().chain(PORTAL_FIELD_KEYS).chain(OAUTH2_KEYS) {
        assert!(
            text.contains(&format!("{key} =")),
            "rules.{key} undocumented"
        );
    }
}

const OAUTH_IMAP: &str = r#"
[support]
address = "support@example.test"
portal_url = "https://support.example.test/"

[imap]
host = "outlook.office365.com"
username = "support@example.test"
auth = "xoauth2"

[imap.oauth2]
token_url = "https://login.microsoftonline.com/T/oauth2/v2.0/token"
device_url = "https://login.microsoftonline.com/T/oauth2/v2.0/devicecode"
client_id = "c1"
refresh_token_file = "imap.refresh"
scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
"#;

#[test]
fn an_oauth2_block_needs_no_password_and_resolves_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::parse(OAUTH_IMAP, dir.path()).expect("parses");
    let o = c.imap.unwrap().oauth2.expect("the block");
    assert_eq!(o.refresh_token_file, dir.path().join("imap.refresh"));
    assert_eq!(o.client_id, "c1");
    assert!(o.client_secret.is_none());
}

#[test]
fn oauth2_problems_name_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: String| match Config::parse(&text, dir.path()) {
        Ok(_) => Vec::new(),
        Err(p) => p.into_iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    };
    let swap = |from: &str, to: &str| check(OAUTH_IMAP.replace(from, to));
    for (got, want) in [
        (
            swap("https://login.microsoftonline.com/T/oauth2/v2.0/token", "http://login.example.test/t"),
            "imap.oauth2.token_url: http:// sends tokens in clear text",
        ),
        (
            swap("https://login.microsoftonline.com/T/oauth2/v2.0/devicecode", "login.example.test"),
            "imap.oauth2.device_url: \"login.example.test\" is not an https:// URL",
        ),
        (swap("client_id = \"c1\"", "client_id = \" \""), "imap.oauth2.client_id: must not be empty"),
        (swap("client_id = \"c1\"\n", ""), "imap.oauth2.client_id: missing field"),
        (swap("scope =", "scopes ="), "imap.oauth2.scopes: unknown key (did you mean \"scope\"?)"),
        (
            swap("client_id = \"c1\"", "client_id = \"c1\"\nclient_secret_file = \"nope\""),
            "imap.oauth2.client_secret_file: cannot read",
        ),
        (
            swap("\"imap.refresh\"", "\"no/such/dir/imap.refresh\""),
            "imap.oauth2.refresh_token_file: its folder does not exist",
        ),
        (swap("auth = \"xoauth2\"", "auth = \"login\"\npassword = \"x\""), "imap.oauth2: only used with auth = \"xoauth2\""),
        (
            swap("auth = \"xoauth2\"", "auth = \"xoauth2\"\noauth_token_file = \"t\""),
            "imap.oauth_token_file: set either oauth_token_file or [imap.oauth2], not both",
        ),
        (
            check(OAUTH_IMAP.split("[imap.oauth2]").next().unwrap().to_owned()),
            "imap.oauth2: missing: auth = \"xoauth2\" needs an [imap.oauth2] block",
        ),
        (
            check(format!(
                "{OAUTH_IMAP}\n[smtp]\nhost = \"smtp.office365.com\"\nauth = \"xoauth2\"\n\n[smtp.oauth2]\ntoken_url = \"https://l.test/t\"\nclient_id = \"c\"\nrefresh_token_file = \"imap.refresh\"\n"
            )),
            "smtp.oauth2.refresh_token_file: is imap.oauth2.refresh_token_file too",
        ),
    ] {
        assert!(got.iter().any(|p| p.starts_with(want)), "want {want:?} in {got:?}");
    }
    let smtp = check(format!(
        "{OAUTH_IMAP}\n[smtp]\nhost = \"smtp.office365.com\"\nauth = \"xoauth2\"\n\n[smtp.oauth2]\ntoken_url = \"https://l.test/t\"\nclient_id = \"c\"\nrefresh_token_file = \"imap.refresh\"\n"
    ));
    assert!(
        smtp.iter().any(|p| p.starts_with("smtp.username: missing")),
        "{smtp:?}"
    );
}

#[test]
fn the_client_secret_never_shows_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cr3t-value\n").unwrap();
    let text = OAUTH_IMAP.replace(
        "client_id = \"c1\"",
        "client_id = \"c1\"\nclient_secret_file = \"secret\"",
    );
    let c = Config::parse(&text, dir.path()).expect("parses");
    let o = c.imap.as_ref().unwrap().oauth2.as_ref().unwrap();
    assert_eq!(o.client_secret, Some(Secret("s3cr3t-value".into())));
    assert!(!format!("{c:?}").contains("s3cr3t"));
}
