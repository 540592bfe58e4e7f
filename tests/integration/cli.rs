//! The command-line contract of DESIGN §5: exit codes, global `--config`,
//! JSON field names, and errors that name the key and the fix.

use crate::desk::{mail, Desk};

#[test]
fn check_config_accepts_a_good_file_and_lists_every_problem_of_a_bad_one() {
    let desk = Desk::new();
    let ok = desk.run(&["check-config"], b"");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("ok"), "{}", ok.stdout);

    let bad = Desk::with_config(
        "[store]\npaht = \"x.db\"\n[support]\naddress = \"not-an-address\"\nportal_url = \"https://s.test\"\nreopen_days = \"seven\"\n[imap]\nhost = \"mail.example.com\"\nusername = \"u\"\nsecurity = \"none\"\n",
    );
    let out = bad.run(&["check-config"], b"");
    assert_eq!(out.code, 78, "{}{}", out.stdout, out.stderr);
    for key in [
        "store.paht",
        "support.reopen_days",
        "imap.security",
        "imap.password",
    ] {
        assert!(out.stdout.contains(key), "{key} not named:\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains("path"),
        "did-you-mean for paht:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.lines().count() >= 4,
        "one line per problem:\n{}",
        out.stdout
    );

    // Every other command refuses a bad config with 78 too.
    assert_eq!(bad.run(&["ingest"], b"From: a@b.test\n\nx").code, 78);
    let missing = Desk::new();
    std::fs::remove_file(&missing.config).expect("remove");
    let out = missing.run(&["tickets", "list"], b"");
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("ticketd.toml"), "{}", out.stderr);
}

#[test]
fn config_may_stand_before_or_after_the_subcommand() {
    let desk = Desk::new();
    desk.ingest(&mail(
        "From: a@acme.test\nTo: support@example.test\nSubject: s\nMessage-ID: <c1@acme.test>",
        "x",
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .args(["tickets", "list", "--json", "--config"])
        .arg(&desk.config)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["id"], 1);
}

#[test]
fn usage_errors_exit_64() {
    let desk = Desk::new();
    assert_eq!(desk.run(&["no-such-command"], b"").code, 64);
    assert_eq!(desk.run(&["tickets", "show", "abc"], b"").code, 64);
    assert_eq!(
        desk.run(&["users", "set-role", "x@y.test", "boss"], b"")
            .code,
        64
    );
    let out = desk.run(&["ingest", "/no/such/file.eml"], b"");
    assert_eq!(out.code, 64);
    assert!(out.stderr.contains("/no/such/file.eml"), "{}", out.stderr);
}

#[test]
fn json_fields_are_the_contract() {
    let desk = Desk::new();
    desk.ingest(&mail("From: Ann <ann@acme.test>\nTo: support@example.test\nCc: bob@acme.test\nSubject: Printer\nMessage-ID: <j1@acme.test>", "hello"));
    let list = desk.json(&["tickets", "list", "--json"]);
    let t = &list[0];
    let mut keys: Vec<&str> = t
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "assignee",
            "category",
            "created_at",
            "fields",
            "follow_up_of",
            "id",
            "messages",
            "priority",
            "requester",
            "status",
            "subject",
            "updated_at",
            "watchers"
        ]
    );
    assert_eq!(t["messages"], 1);
    let show = desk.ticket(1);
    let m = &show["messages"][0];
    let mut mk: Vec<&str> = m
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    mk.sort_unstable();
    assert_eq!(
        mk,
        [
            "attachments",
            "date",
            "direction",
            "from",
            "id",
            "internal",
            "message_id",
            "source",
            "text",
            "verified"
        ]
    );
    assert_eq!(m["direction"], "in");
    assert_eq!(m["message_id"], "j1@acme.test");
    let e = &show["events"][0];
    let mut ek: Vec<&str> = e
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    ek.sort_unstable();
    assert_eq!(ek, ["at", "detail", "id", "kind"]);

    let outbox = desk.json(&["outbox", "list", "--json"]);
    let o = &outbox[0];
    for k in [
        "id",
        "kind",
        "to",
        "subject",
        "status",
        "attempts",
        "ticket",
        "message_id",
    ] {
        assert!(o.get(k).is_some(), "outbox row lacks {k}: {o}");
    }
    assert_eq!(o["status"], "pending");
    assert_eq!(o["attempts"], 0);
    assert!(o["subject"].as_str().unwrap_or("").contains("[#1]") || o["kind"] == "password_setup");

    let users = desk.json(&["users", "list", "--json"]);
    let ann = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "ann@acme.test")
        .expect("ann");
    for k in ["email", "name", "role", "org", "has_password"] {
        assert!(ann.get(k).is_some(), "user lacks {k}: {ann}");
    }
    assert_eq!(ann["role"], "member");
    assert_eq!(ann["org"], "acme.test");
    assert_eq!(ann["has_password"], false);
    assert_eq!(ann["name"], "Ann");
}

#[test]
fn the_tables_show_what_a_desk_shows() {
    let desk = Desk::new();
    desk.ingest(&mail("From: ann@acme.test\nTo: support@example.test\nSubject: Printer on fire\nMessage-ID: <tb1@acme.test>", "x"));
    let out = desk.run(&["tickets", "list"], b"");
    let header = out.stdout.lines().next().unwrap_or("");
    for col in [
        "#",
        "subject",
        "requester",
        "created",
        "category",
        "status",
        "priority",
        "days open",
    ] {
        assert!(header.contains(col), "{col} missing in {header:?}");
    }
    assert!(out.stdout.contains("Printer on fire") && out.stdout.contains("ann@acme.test"));
    let only_solved = desk.run(&["tickets", "list", "--status", "solved"], b"");
    assert!(
        !only_solved.stdout.contains("Printer"),
        "{}",
        only_solved.stdout
    );
}

#[test]
fn the_log_can_be_listed_deleted_and_pruned() {
    let desk = Desk::new();
    desk.ingest(&mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: a\nMessage-ID: <lg1@acme.test>",
        "x",
    ));
    let events = desk.json(&["log", "list", "--ticket", "1", "--json"]);
    let n = events.as_array().map(Vec::len).unwrap_or(0);
    assert!(n >= 2);
    let first = events[0]["id"].as_i64().expect("id");
    assert_eq!(
        desk.run(&["log", "delete", &first.to_string()], b"").code,
        0
    );
    assert_eq!(
        desk.json(&["log", "list", "--ticket", "1", "--json"])
            .as_array()
            .map(Vec::len),
        Some(n - 1)
    );
    assert_eq!(
        desk.run(&["log", "delete", &first.to_string()], b"").code,
        64
    );

    // clear only prunes closed tickets.
    assert_eq!(
        desk.run(&["log", "clear", "--before", "2999-01-01"], b"")
            .code,
        0
    );
    assert_eq!(
        desk.json(&["log", "list", "--ticket", "1", "--json"])
            .as_array()
            .map(Vec::len),
        Some(n - 1)
    );
    assert_eq!(
        desk.run(&["tickets", "update", "1", "--status", "closed"], b"")
            .code,
        0
    );
    assert_eq!(
        desk.run(&["log", "clear", "--before", "2999-01-01"], b"")
            .code,
        0
    );
    assert_eq!(
        desk.json(&["log", "list", "--ticket", "1", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        desk.run(&["log", "clear", "--before", "yesterday"], b"")
            .code,
        64
    );
}

#[test]
fn explain_changes_nothing_and_tells_the_steps() {
    let desk = Desk::new();
    let m = mail("From: ann@acme.test\nTo: support@example.test\nCc: bob@acme.test\nSubject: Printer\nMessage-ID: <ex1@acme.test>", "hello");
    let out = desk.run(&["explain"], &m);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for step in [
        "classified: normal mail",
        "threading:",
        "sender:",
        "watcher",
        "notification",
        "outcome: created",
    ] {
        assert!(out.stdout.contains(step), "{step} missing:\n{}", out.stdout);
    }
    assert_eq!(
        desk.json(&["tickets", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        desk.json(&["outbox", "list", "--json"]),
        serde_json::json!([])
    );
    // …and the real ingest afterwards is not a duplicate.
    assert_eq!(desk.ingest(&m)["outcome"], "created");
}

#[test]
fn run_without_an_imap_section_says_what_to_add() {
    let desk = Desk::new();
    let out = desk.run(&["run", "--once"], b"");
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains("[imap]"), "{}", out.stderr);
}

#[test]
fn reset_password_queues_a_fresh_single_use_link() {
    let desk = Desk::new();
    desk.ingest(&mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: s\nMessage-ID: <rp1@acme.test>",
        "x",
    ));
    let out = desk.run(&["users", "reset-password", "Ann@Acme.test"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = desk.json(&["outbox", "list", "--json"]);
    let setups: Vec<_> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["kind"] == "password_setup" && r["to"][0] == "ann@acme.test")
        .collect();
    assert_eq!(setups.len(), 2, "the first mail's link and the reset's");
    // The token is minted when the mail is sent (DESIGN §4): the queued
    // body holds a placeholder, the token table a reserved row per link.
    let conn = rusqlite::Connection::open(desk.db()).expect("db");
    let bodies: Vec<String> = conn
        .prepare("SELECT body_text FROM outbox WHERE kind = 'password_setup' ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("bodies")
        .collect::<Result<_, _>>()
        .expect("bodies");
    assert_eq!(bodies.len(), 2);
    let placeholder = format!(
        "/password/setup?token={}",
        ticketd::store::tokens::TOKEN_PLACEHOLDER
    );
    let token_like = regex::Regex::new("[0-9a-fA-F]{32,}").expect("regex");
    for body in &bodies {
        assert!(body.contains(&placeholder), "{body}");
        assert!(!token_like.is_match(body), "no token in the outbox: {body}");
    }
    let hashes: Vec<String> = conn
        .prepare("SELECT token_hash FROM password_tokens WHERE used_at IS NULL AND expires_at > strftime('%s','now')")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("hashes")
        .collect::<Result<_, _>>()
        .expect("hashes");
    assert_eq!(hashes.len(), 2, "a pending link each: {hashes:?}");
    assert!(
        hashes.iter().all(|h| h.starts_with("reserved:")),
        "nothing a token could match before sending: {hashes:?}"
    );
    let linked: i64 = conn
        .query_row(
            "SELECT count(DISTINCT o.token_id) FROM outbox o JOIN password_tokens p ON p.id = o.token_id WHERE o.kind = 'password_setup'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(linked, 2, "each queued link names its own token row");

    let unknown = desk.run(&["users", "reset-password", "nobody@acme.test"], b"");
    assert_eq!(unknown.code, 64);
    assert!(
        unknown.stderr.contains("no account for nobody@acme.test"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_expired_setup_link_is_replaced_when_its_user_writes_again() {
    let desk = Desk::new();
    desk.ingest(&mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: s\nMessage-ID: <ex1@acme.test>",
        "x",
    ));
    let setups = |d: &Desk| {
        d.outbox()
            .iter()
            .filter(|(k, to)| k == "password_setup" && to == "ann@acme.test")
            .count()
    };
    assert_eq!(setups(&desk), 1);
    // A reply while the link is still valid: no second link.
    let reply_to = desk.notification_id("ticket_received", "ann@acme.test");
    desk.ingest(&mail(
        &format!("From: ann@acme.test\nTo: support@example.test\nSubject: Re: [#1] s\nMessage-ID: <ex2@acme.test>\nIn-Reply-To: <{reply_to}>"),
        "still broken",
    ));
    assert_eq!(setups(&desk), 1, "the live link is enough");
    // The link expires unused; her next reply earns a fresh one.
    rusqlite::Connection::open(desk.db())
        .expect("db")
        .execute("UPDATE password_tokens SET expires_at = 0", [])
        .expect("expire");
    desk.ingest(&mail(
        &format!("From: ann@acme.test\nTo: support@example.test\nSubject: Re: [#1] s\nMessage-ID: <ex3@acme.test>\nIn-Reply-To: <{reply_to}>"),
        "any news?",
    ));
    assert_eq!(setups(&desk), 2, "a fresh link after the old one expired");
    let live: i64 = rusqlite::Connection::open(desk.db())
        .expect("db")
        .query_row(
            "SELECT count(*) FROM password_tokens WHERE expires_at > strftime('%s','now')",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(live, 1);
}

#[test]
fn password_files_are_found_in_systemd_credentials_first() {
    let desk = Desk::with_config(&format!(
        "{}\n[smtp]\nhost = \"smtp.example.test\"\nusername = \"support@example.test\"\npassword_file = \"smtp-password\"\n",
        crate::desk::BASE_CONFIG
    ));
    let check = |creds: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ticketd"));
        c.arg("--config").arg(&desk.config).arg("check-config");
        if let Some(dir) = creds {
            c.env("CREDENTIALS_DIRECTORY", dir);
        }
        c.output().expect("check-config")
    };
    let out = check(None);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("smtp.password_file"),
        "{out:?}"
    );
    // What `LoadCredential=smtp-password:/etc/ticketd/smtp-password` provides.
    let creds = tempfile::tempdir().expect("creds");
    std::fs::write(creds.path().join("smtp-password"), "s3cret\n").expect("write");
    let out = check(Some(creds.path()));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn explain_says_when_a_quote_rule_was_held_back_to_keep_the_senders_words() {
    let desk = Desk::new();
    let raw = mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: Export\nMessage-ID: <sent-from@acme.test>",
        "Sent from my iPhone\n\nThe export fails again.",
    );
    let out = desk.run(&["explain"], &raw);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "\"Sent from my iPhone\" looks like a signature but nothing is above it: not cut there"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("assignee:"), "{}", out.stdout);
    desk.ingest(&raw);
    let text = desk.ticket(1)["messages"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(text.contains("The export fails again."), "{text}");
}
