//! A password link's token exists only in the mail itself (DESIGN §4): after
//! a real delivery, the token the customer received is in no table, no file
//! of the database (WAL and shared memory too) and no backup; only its hash
//! is, which proves the search would have found it.

use std::path::Path;
use std::time::{Duration, Instant};

use ticketd::attachments::sha256_hex;
use ticketd::store::tokens::TOKEN_PLACEHOLDER;

use super::dovecot::{Dovecot, Imap};
use super::smtp_sink::{header, Sink};
use super::Daemon;

fn daemon(dv: &Dovecot, sink: &Sink) -> Daemon {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("ticketd.toml");
    let text = format!(
        r#"[store]
path = "ticketd.db"

[support]
address = "support@example.test"
name = "Example Support"
agents = ["agent@example.test"]
portal_url = "https://support.example.test"

[imap]
host = "127.0.0.1"
port = {}
security = "none"
username = "support@example.test"
password = "secret"
timeout_secs = 10

[smtp]
host = "127.0.0.1"
port = {}
security = "none"
timeout_secs = 10
"#,
        dv.port, sink.port
    );
    std::fs::write(&config, text).expect("config");
    Daemon { dir, config }
}

/// The customer's password_setup mail, as their mail client fetches it.
fn setup_mail(dv: &Dovecot, user: &str, d: &Daemon) -> String {
    let start = Instant::now();
    loop {
        let mails = Imap::login(dv.port, user, "secret").fetch_all("INBOX");
        if let Some(m) = mails
            .into_iter()
            .find(|m| header(m, "X-Ticketd-Kind").as_deref() == Some("password_setup"))
        {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no password_setup mail for {user}; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// `table.column` for every column of every table where any of `needles`
/// occurs, compared as text and as bytes.
fn columns_holding(db: &Path, needles: &[Vec<u8>]) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("db");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert!(tables.len() > 5, "{tables:?}");
    let mut found = Vec::new();
    for table in &tables {
        let columns: Vec<(String, String)> = conn
            .prepare(&format!("PRAGMA table_info(\"{table}\")"))
            .expect("table_info")
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
            .expect("table_info")
            .collect::<Result<_, _>>()
            .expect("table_info");
        for (column, _declared) in columns {
            // Every column, whatever its declared type: SQLite stores any
            // value anywhere.
            let sql = format!(
                "SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS BLOB), ?1) > 0"
            );
            for needle in needles {
                let n: i64 = conn
                    .query_row(&sql, [needle], |r| r.get(0))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                if n > 0 {
                    found.push(format!("{table}.{column}"));
                }
            }
        }
    }
    found
}

#[test]
fn the_setup_token_is_in_the_mail_and_nowhere_in_the_database_or_its_backup() {
    let dv = Dovecot::start_users(&["ann@customer.test"]);
    let sink = Sink::start(&dv);
    let d = daemon(&dv, &sink);
    dv.imap().append(
        "INBOX",
        b"From: Ann Customer <ann@customer.test>\r\nTo: support@example.test\r\nSubject: Printer on fire\r\nMessage-ID: <tok-1@customer.test>\r\n\r\nThe printer is smoking.\r\n",
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");

    let mail = setup_mail(&dv, "ann@customer.test", &d);
    let text = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("a text part");
    let token = text
        .split("https://support.example.test/password/setup?token=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .expect("a setup link in the mail");
    assert_eq!(token.len(), 64, "256 random bits in hex: {text}");
    assert!(
        !out.contains(&token) && !err.contains(&token),
        "the token is never logged"
    );

    let db = d.dir.path().join("ticketd.db");
    let backup = d.dir.path().join("backup.db");
    let status = d
        .cmd(&["backup", backup.to_str().expect("utf-8 path")])
        .output()
        .expect("ticketd backup");
    assert!(status.status.success(), "{status:?}");

    // The token as the mail shows it, in capitals, and as its 32 bytes.
    let needles = vec![
        token.clone().into_bytes(),
        token.to_uppercase().into_bytes(),
        hex_decode(&token),
    ];
    for file in [&db, &backup] {
        let found = columns_holding(file, &needles);
        assert!(
            found.is_empty(),
            "{} holds the token in {found:?}",
            file.display()
        );
    }
    let mut files = vec![db.clone(), backup.clone()];
    for suffix in ["-wal", "-shm"] {
        let p = d.dir.path().join(format!("ticketd.db{suffix}"));
        if p.exists() {
            files.push(p);
        }
    }
    let mut all_bytes = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        for n in &needles {
            assert!(!contains(&bytes, n), "{} holds the token", f.display());
        }
        all_bytes.extend(bytes);
    }

    // The control: the same searches find the token's hash.
    let hash = sha256_hex(token.as_bytes());
    assert_eq!(
        columns_holding(&db, &[hash.clone().into_bytes()]),
        vec!["password_tokens.token_hash".to_owned()]
    );
    assert_eq!(
        columns_holding(&backup, &[hash.clone().into_bytes()]),
        vec!["password_tokens.token_hash".to_owned()]
    );
    assert!(
        contains(&all_bytes, hash.as_bytes()),
        "the byte search finds the hash"
    );
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM password_tokens WHERE token_hash = '{hash}' AND used_at IS NULL AND expires_at > strftime('%s','now')"
        )),
        1
    );

    // The sent row keeps the placeholder, and names that token row.
    let body = d.query_text(
        "SELECT body_text FROM outbox WHERE kind = 'password_setup' AND status = 'sent'",
    );
    assert!(
        body.contains(&format!(
            "https://support.example.test/password/setup?token={TOKEN_PLACEHOLDER}"
        )),
        "{body}"
    );
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM outbox o JOIN password_tokens p ON p.id = o.token_id WHERE o.kind = 'password_setup' AND p.token_hash = '{hash}'"
        )),
        1
    );
}
