//! The never-empty rule, as a property over every input the corpus has:
//! whenever a body holds words of the sender's own (`quotes::has_own_text`),
//! the visible text is not empty. Checked on every reply body (with or
//! without an expectation), every HTML reply, and every full message through
//! the real normalisation.

use std::path::Path;

use crate::common::{files, read_text, SourceResult};
use ticketd::domain::normalize::{normalize, NormalizeOptions};
use ticketd::domain::rawmail::normalize_line_endings;
use ticketd::domain::{html, quotes};

pub fn run(corpus: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/never empty (every corpus input)", 1.0);
    let bodies = [
        "email_reply_parser/emails",
        "email_reply_parser_prs/emails",
        "talon/inline_plain_cases/input",
        "discourse_email_reply_trimmer/emails",
        "crisp_email_reply_parser/fixtures",
    ];
    for dir in bodies {
        for f in files(&corpus.join(dir), &[".txt"]) {
            let body = read_text(&f);
            r.record(check(
                &label(corpus, &f),
                &body,
                &quotes::visible_text(&body, None),
            ));
        }
    }
    for f in files(&corpus.join("talon/fixtures/html_replies"), &[".html"]) {
        let h = read_text(&f);
        r.record(check(
            &label(corpus, &f),
            &html::html_to_text(&h),
            &html::html_reply_text(&h),
        ));
    }
    let mut messages = files(corpus, &[".eml", ".raw"]);
    messages.extend(files(&corpus.join("mimekit/messages"), &[".txt"]));
    for f in messages {
        r.record(check_message(&label(corpus, &f), &f));
    }
    r
}

fn label(base: &Path, f: &Path) -> String {
    f.strip_prefix(base).unwrap_or(f).display().to_string()
}

/// A miss when `text` has words of the sender's own and `visible` is blank.
pub fn check(name: &str, text: &str, visible: &str) -> Option<String> {
    (quotes::has_own_text(text) && visible.trim().is_empty()).then(|| {
        format!(
            "{name}: visible text empty, but the sender wrote {:?}",
            head(text)
        )
    })
}

/// The rule through the real normalisation of a full message (one that
/// does not normalise has no visible text to check).
pub fn check_message(name: &str, path: &Path) -> Option<String> {
    let raw = match std::fs::read(path) {
        Ok(r) => r,
        Err(e) => return Some(format!("{name}: cannot read: {e}")),
    };
    let raw = normalize_line_endings(&raw);
    let m = normalize(&raw, NormalizeOptions::default()).ok()?;
    check(name, &m.text, &m.visible)
}

fn head(s: &str) -> String {
    s.trim().chars().take(120).collect()
}
