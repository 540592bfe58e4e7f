//! Every full message of the corpus through the real ingest pipeline, each
//! into a fresh database: no panic, and nothing lost — each ends as a ticket,
//! an update, ignored (raw kept) or quarantined (raw kept). The same message
//! with LF, CRLF and bare-CR line endings gives the same result; django-
//! helpdesk's mails give the ticket title and description its tests expect.

use std::path::{Path, PathBuf};

use ticketd::config::Config;
use ticketd::domain::model::{Outcome, TicketId};
use ticketd::domain::time::Timestamp;
use ticketd::ingest::{Ingestor, Mode, Report};
use ticketd::store::queries::{self, Messages};
use ticketd::store::{Durability, Store};

use crate::common::{files, SourceResult};

/// A fixed clock: the corpus is old mail, the result must not depend on today.
const NOW: Timestamp = Timestamp(1_800_000_000);

/// The full RFC 822 messages: `.eml`, `.raw`, and MimeKit's `.txt` messages.
fn messages(corpus: &Path) -> Vec<PathBuf> {
    let mut all = files(corpus, &[".eml", ".raw"]);
    all.extend(files(&corpus.join("mimekit/messages"), &[".txt"]));
    all
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    ingestor: Ingestor,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = r#"
[store]
path = "t.db"
[support]
address = "support@example.com"
agents = ["agent@example.com"]
portal_url = "https://support.example.com"
"#;
    let config = Config::parse(text, dir.path()).expect("test config");
    let mut store = Store::open(
        &config.store.path,
        std::time::Duration::from_secs(5),
        Durability::Normal,
    )
    .expect("store");
    let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
    Env {
        _dir: dir,
        store,
        ingestor,
    }
}

/// What a message became, in a form two runs can be compared by.
#[derive(Debug, PartialEq, Eq)]
struct Result_ {
    outcome: Outcome,
    reason: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    attachments: usize,
}

fn ingest(raw: &[u8]) -> Result<(Result_, Option<String>), String> {
    let mut e = env();
    let before = raw_count(&e.store);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        e.ingestor.ingest(&mut e.store, raw, NOW, Mode::Commit)
    }));
    let report: Report = match caught {
        Err(_) => return Err("panicked".into()),
        Ok(Err(err)) => return Err(format!("store error: {err}")),
        Ok(Ok(r)) => r,
    };
    let kept = raw_count(&e.store) > before;
    let mut out = Result_ {
        outcome: report.outcome,
        reason: report.reason.clone(),
        subject: None,
        text: None,
        attachments: 0,
    };
    let mut full = None;
    match report.outcome {
        Outcome::Created | Outcome::Updated => {
            let id = report.ticket.ok_or("created without a ticket number")?;
            let t = queries::ticket(e.store.conn(), TicketId(id)).map_err(|e| e.to_string())?;
            out.subject = Some(t.subject.clone());
            if let Messages::List(m) = &t.messages {
                let first = m.first().ok_or("ticket without its message")?;
                out.text = Some(first.text.clone());
                out.attachments = first.attachments.len();
            }
            full = e
                .store
                .conn()
                .query_row(
                    "SELECT full_text FROM messages WHERE ticket_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .ok();
        }
        Outcome::Ignored | Outcome::Quarantined | Outcome::Refused => {}
        Outcome::Duplicate => return Err("duplicate in a fresh database".into()),
    }
    if !kept {
        return Err(format!("{}: the raw message was not kept", report.outcome));
    }
    Ok((out, full))
}

fn raw_count(store: &Store) -> i64 {
    store
        .conn()
        .query_row("SELECT count(*) FROM raw_mail", [], |r| r.get(0))
        .unwrap_or(-1)
}

/// The message with every line ending made `eol`.
fn with_line_endings(raw: &[u8], eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(eol);
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(eol);
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

pub fn run(corpus: &Path) -> Vec<SourceResult> {
    let mut no_loss = SourceResult::new("ingest/every message: no panic, no loss", 1.0);
    let mut eol = SourceResult::new("ingest/LF = CRLF = CR", 1.0);
    let mut sisimai = SourceResult::new("ingest/sisimai lhost-postfix-01 variants", 1.0);
    for path in messages(corpus) {
        let name = path
            .strip_prefix(corpus)
            .unwrap_or(&path)
            .display()
            .to_string();
        let raw = match std::fs::read(&path) {
            Ok(r) => r,
            Err(e) => {
                no_loss.record(Some(format!("{name}: cannot read: {e}")));
                continue;
            }
        };
        let base = match ingest(&raw) {
            Ok((r, _)) => {
                no_loss.record(None);
                r
            }
            Err(e) => {
                no_loss.record(Some(format!("{name}: {e}")));
                continue;
            }
        };
        let variants = [&b"\n"[..], b"\r\n", b"\r"].map(|e| ingest(&with_line_endings(&raw, e)));
        let miss = variants
            .iter()
            .zip(["LF", "CRLF", "CR"])
            .find_map(|(v, label)| match v {
                Ok((r, _)) if *r == base => None,
                Ok((r, _)) => Some(format!("{name}: {label} gives {r:?}, as received {base:?}")),
                Err(e) => Some(format!("{name}: {label}: {e}")),
            });
        eol.record(miss);
    }

    let dir = corpus.join("sisimai_bounces/line_endings");
    let variants: Vec<_> = files(&dir, &[".eml"])
        .into_iter()
        .chain(Some(corpus.join(
            "sisimai_bounces/dsn_multipart_report/lhost-postfix-01.eml",
        )))
        .collect();
    let results: Vec<_> = variants
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map_err(|e| e.to_string())
                .and_then(|r| ingest(&r))
                .map(|(r, _)| r)
        })
        .collect();
    for (p, r) in variants.iter().zip(&results) {
        let name = p.strip_prefix(corpus).unwrap_or(p).display().to_string();
        sisimai.record(match (r, results.first()) {
            (Ok(r), Some(Ok(first))) if r == first && r.outcome == Outcome::Ignored => None,
            (r, _) => Some(format!("{name}: {r:?}")),
        });
    }

    vec![no_loss, eol, sisimai, django(corpus)]
}

/// django-helpdesk's own expectations for the ticket it makes from each mail.
fn django(corpus: &Path) -> SourceResult {
    // 5 of 6: utf-nondecodable.eml has words only in its HTML alternative,
    // which django-helpdesk keeps as an attachment and ticketd keeps in the
    // raw message (see README).
    let mut res = SourceResult::new("ingest/django_helpdesk title + description", 0.8);
    let dir = corpus.join("django_helpdesk");
    let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
        res.record(Some("expected.json missing".into()));
        return res;
    };
    let Ok(serde_json::Value::Object(all)) = serde_json::from_str::<serde_json::Value>(&text)
    else {
        res.record(Some("expected.json unreadable".into()));
        return res;
    };
    for (file, exp) in all.iter().filter(|(k, _)| !k.starts_with('_')) {
        // Where upstream runs one mail under two settings, keep the first:
        // the whole first message stored, which is what an agent wants.
        let exp = match exp {
            serde_json::Value::Array(a) => match a.first() {
                Some(e) => e,
                None => continue,
            },
            e => e,
        };
        let raw = match std::fs::read(dir.join("emails").join(file)) {
            Ok(r) => r,
            Err(e) => {
                res.record(Some(format!("{file}: {e}")));
                continue;
            }
        };
        res.record(match ingest(&raw) {
            Err(e) => Some(format!("{file}: {e}")),
            Ok((r, full)) => {
                check_django(&r, full.as_deref().unwrap_or(""), exp).map(|m| format!("{file}: {m}"))
            }
        });
    }
    res
}

fn check_django(r: &Result_, full: &str, exp: &serde_json::Value) -> Option<String> {
    let subject = r.subject.as_deref().unwrap_or("");
    let text = r.text.as_deref().unwrap_or("");
    if let Some(title) = exp.get("ticket_title").and_then(|v| v.as_str()) {
        // django-helpdesk cuts titles at 200 characters and appends "...".
        let ok = match title.strip_suffix("...") {
            Some(prefix) => subject.starts_with(prefix),
            None => subject == title,
        };
        if !ok {
            return Some(format!("subject {subject:?}, expected {title:?}"));
        }
    }
    if let Some(d) = exp.get("ticket_description").and_then(|v| v.as_str()) {
        if text.trim() != d.trim() {
            return Some(format!("text {text:?}, expected {d:?}"));
        }
    }
    if let Some(d) = exp
        .get("ticket_description_stripped")
        .and_then(|v| v.as_str())
    {
        if text.trim() != d {
            return Some(format!("text {text:?}, expected {d:?}"));
        }
    }
    let list = |key: &str| -> Vec<String> {
        match exp.get(key) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    for want in list("ticket_description_contains") {
        if !full.contains(&want) {
            return Some(format!("message text lacks {want:?}"));
        }
    }
    None
}
