//! ticketd's own reply fixtures: `fixtures/replies/<topic>/NAME.eml`, each
//! a whole message in the format a real client writes, with the visible text
//! expected in `NAME.txt` beside it. A mismatch writes what came out to
//! `NAME.actual.txt` beside the fixture and names it; an `.eml` without its
//! `.txt`, or a topic without fixtures, fails. Every `.eml` under
//! `fixtures/` also goes through the never-empty rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{files, SourceResult};
use crate::never_empty;
use ticketd::domain::normalize::{normalize, NormalizeOptions};
use ticketd::domain::rawmail::normalize_line_endings;

/// `fixtures/` of this crate.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Slower than this for one message fails the fixture (the bound).
const MAX_MILLIS: u128 = 50;

pub fn run(fixtures: &Path) -> Vec<SourceResult> {
    // The rules' tables and regexes are built on first use: not timed.
    let _ = ticketd::domain::quotes::visible_text("Hi\n\nOn 1 May 2020, a@b.c wrote:\n> q", None);
    let _ = ticketd::domain::html::html_reply_text("<p>Hi</p>");
    let replies = fixtures.join("replies");
    let mut by_topic: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files(&replies, &[".eml"]) {
        let topic = f
            .parent()
            .and_then(|p| p.strip_prefix(&replies).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        by_topic.entry(topic).or_default().push(f);
    }
    let mut out = Vec::new();
    if by_topic.is_empty() {
        let mut r = SourceResult::new("fixtures/replies", 1.0);
        r.record(Some(format!(
            "no fixture found under {}",
            replies.display()
        )));
        out.push(r);
    }
    for (topic, emls) in by_topic {
        let mut r = SourceResult::new(format!("fixtures/replies/{topic}"), 1.0);
        for eml in emls {
            golden(&mut r, &eml);
        }
        out.push(r);
    }
    let mut never = SourceResult::new("fixtures/never empty (every fixture)", 1.0);
    for f in files(fixtures, &[".eml"]) {
        let name = f.strip_prefix(fixtures).unwrap_or(&f).display().to_string();
        never.record(never_empty::check_message(&name, &f));
    }
    out.push(never);
    out
}

fn golden(r: &mut SourceResult, eml: &Path) {
    let name = eml
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected = eml.with_extension("txt");
    let actual = eml.with_extension("actual.txt");
    let Ok(want) = std::fs::read_to_string(&expected) else {
        r.record(Some(format!(
            "{name}: no expectation {}",
            expected.display()
        )));
        return;
    };
    let raw = match std::fs::read(eml) {
        Ok(raw) => raw,
        Err(e) => {
            r.record(Some(format!("{name}: cannot read: {e}")));
            return;
        }
    };
    let started = std::time::Instant::now();
    let raw = normalize_line_endings(&raw);
    let parsed = r.time(&name, || {
        normalize(&raw, NormalizeOptions::default()).map(|m| m.visible)
    });
    let got = match parsed {
        Ok(v) => v,
        Err(e) => {
            r.record(Some(format!("{name}: does not normalise: {e}")));
            return;
        }
    };
    let took = started.elapsed().as_millis();
    let want = want.trim_end();
    let empty = r.empty.get_or_insert(0);
    if got.trim().is_empty() && !want.trim().is_empty() {
        *empty += 1;
    }
    if got != want {
        let _ = std::fs::write(&actual, &got);
        r.record(Some(format!(
            "{name}: got {got:?}, want {want:?} (written to {})",
            actual.display()
        )));
    } else if took > MAX_MILLIS {
        r.record(Some(format!("{name}: took {took} ms (limit {MAX_MILLIS})")));
    } else {
        let _ = std::fs::remove_file(&actual);
        r.record(None);
    }
}
