//! A support desk for one test: its own folder, config and database, driven
//! through the real `ticketd` binary exactly as an MTA or an operator would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub const BASE_CONFIG: &str = r#"
[store]
path = "ticketd.db"
busy_timeout_ms = 10000

[support]
address = "support@example.test"
aliases = ["help@example.test"]
name = "Example Support"
agents = ["agent@example.test"]
portal_url = "https://support.example.test"
oncall = "oncall@example.test"
reopen_days = 7
# The test MTA: mail carrying VERIFIED (below) proves an example.test sender.
trusted_authserv_ids = ["mx.example.test"]

[[rules]]
name = "error-code"
field = "body"
pattern = "Error code (?P<error_code>E-\\d+)"
category = "errors"
"#;

/// The header the trusted test MTA adds to mail from example.test that
/// passed DMARC: an agent's mail with it is verified (DESIGN §3 "Trust").
pub const VERIFIED: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\n";

pub struct Desk {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Desk {
    pub fn new() -> Desk {
        Desk::with_config(BASE_CONFIG)
    }

    pub fn with_config(text: &str) -> Desk {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("ticketd.toml");
        std::fs::write(&config, text).expect("write config");
        Desk { dir, config }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("ticketd.db")
    }

    /// Runs `ticketd --config <ours> ARGS` with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Out {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ticketd"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ticketd");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        // Write from a thread: a large message must not deadlock against a
        // child that answers before reading everything.
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait for ticketd");
        let _ = writer.join();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `ticketd ingest` from stdin; asserts exit 0 and returns the JSON line.
    pub fn ingest(&self, raw: &[u8]) -> Value {
        let out = self.run(&["ingest"], raw);
        assert_eq!(out.code, 0, "ingest failed: {}{}", out.stdout, out.stderr);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "ingest prints exactly one line: {:?}",
            out.stdout
        );
        serde_json::from_str(lines[0]).expect("ingest prints JSON")
    }

    /// Ingests `fixtures/mail/NAME` with `{{KEY}}` placeholders filled in.
    pub fn ingest_fixture(&self, name: &str, subs: &[(&str, &str)]) -> Value {
        self.ingest(fixture(name, subs).as_bytes())
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args, b"");
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(out.stdout.trim()).expect("JSON output")
    }

    /// `email`'s personal reply address for ticket `id`, as the notifications
    /// carry it (built from the database's own secret).
    pub fn personal_address(&self, id: i64, email: &str) -> String {
        let conn = rusqlite::Connection::open(self.db()).expect("db");
        let secret: Vec<u8> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'hmac_secret'",
                [],
                |r| r.get(0),
            )
            .expect("the secret");
        ticketd::domain::address::Addressing::new("support@example.test", &[], secret)
            .personal_address(ticketd::domain::model::TicketId(id), email)
    }

    pub fn ticket(&self, id: i64) -> Value {
        self.json(&["tickets", "show", &id.to_string(), "--json"])
    }

    /// The outbox as (kind, recipient) pairs, oldest first.
    pub fn outbox(&self) -> Vec<(String, String)> {
        let rows = self.json(&["outbox", "list", "--json"]);
        let mut out: Vec<(String, String)> = rows
            .as_array()
            .expect("array")
            .iter()
            .map(|r| {
                (
                    r["kind"].as_str().expect("kind").to_owned(),
                    r["to"][0].as_str().expect("to").to_owned(),
                )
            })
            .collect();
        out.reverse();
        out
    }

    /// The Message-ID of the first outbox row of `kind` to `to`.
    pub fn notification_id(&self, kind: &str, to: &str) -> String {
        let rows = self.json(&["outbox", "list", "--json"]);
        rows.as_array()
            .expect("array")
            .iter()
            .find(|r| r["kind"] == kind && r["to"][0] == to)
            .and_then(|r| r["message_id"].as_str())
            .unwrap_or_else(|| panic!("no {kind} to {to} in the outbox"))
            .to_owned()
    }
}

pub fn fixture(name: &str, subs: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mail")
        .join(name);
    let mut text = std::fs::read_to_string(&path).expect("fixture");
    for (k, v) in subs {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(!text.contains("{{"), "{name}: placeholder left unfilled");
    text
}

/// A plain message with the given headers block and body.
pub fn mail(headers: &str, body: &str) -> Vec<u8> {
    format!("{headers}\nDate: Mon, 30 Nov 2026 08:00:00 +0000\n\n{body}\n").into_bytes()
}

/// The details of a ticket's events of one kind (`t` as `tickets show --json`).
pub fn events(t: &Value, kind: &str) -> Vec<String> {
    t["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
        .collect()
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}
