//! Quote and signature stripping against the reply suites of other
//! projects, each checked the way its own tests check it (see the corpus
//! README, "How a test can use each set").

use crate::common::{files, read_text, SourceResult};
use std::path::Path;
use std::time::{Duration, Instant};
use ticketd::domain::{html, quotes};

const REQUIRED: f64 = 0.90;

pub fn run(corpus: &Path) -> Vec<SourceResult> {
    vec![
        email_reply_parser(&corpus.join("email_reply_parser")),
        email_reply_parser_prs(&corpus.join("email_reply_parser_prs")),
        talon_standard(&corpus.join("talon")),
        talon_html(&corpus.join("talon")),
        talon_inline(&corpus.join("talon/inline_plain_cases")),
        discourse(&corpus.join("discourse_email_reply_trimmer")),
        crisp(&corpus.join("crisp_email_reply_parser")),
    ]
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Upstream normalises CRLF and right-strips the visible text.
fn erp_expect(text: &str) -> String {
    quotes::normalize_newlines(text).trim_end().to_owned()
}

/// github/email_reply_parser: the 9 asserted expectations, plus the two
/// stress inputs that must finish well under a second.
fn email_reply_parser(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/email_reply_parser", REQUIRED);
    for exp in files(&dir.join("expected"), &[".txt"]) {
        let file = name(&exp);
        let body = read_text(&dir.join("emails").join(&file));
        let got = r.time(&file, || quotes::visible_text(&body, None));
        r.record_text(&file, &got, &erp_expect(&read_text(&exp)));
    }
    // Upstream wants these "well under a second"; ticketd's bound is 50 ms.
    for file in ["email_long_quote.txt", "pathological.txt"] {
        let body = read_text(&dir.join("emails").join(file));
        let start = Instant::now();
        let _ = r.time(file, || quotes::visible_text(&body, None));
        let took = start.elapsed();
        r.record(
            (took >= Duration::from_millis(50))
                .then(|| format!("{file}: took {took:?} (limit 50 ms)")),
        );
    }
    r
}

/// The sender the PR #20 tests pass along with the body (from SOURCE.md).
fn pr20_sender(file: &str) -> Option<&'static str> {
    match file {
        "pr20__email_no_signature_deliminator.txt"
        | "pr20__email_no_signature_deliminator_adds_a_middle_initial.txt"
        | "pr20__email_mentions_own_name.txt"
        | "pr20__email_mentions_own_email_address.txt" => Some("Jim Smith <john.smith@gmail.com>"),
        "pr20__email_from_address_in_quote_header.txt" => Some("shelly@example.com"),
        "pr20__email_from_name_in_quote_header.txt"
        | "pr20__email_multiline_quote_header_from_first.txt"
        | "pr20__email_multiline_quote_header_from_to_date_subject.txt"
        | "pr20__email_multiline_quote_header_from_replyto_date_to_subject.txt"
        | "pr20__email_multiline_quote_header_pt_br.txt" => {
            Some("Smith, Shelly <shelly@example.com>")
        }
        _ => None,
    }
}

/// github/email_reply_parser pull requests: new text == expected.
fn email_reply_parser_prs(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/email_reply_parser_prs", REQUIRED);
    for exp in files(&dir.join("expected"), &[".txt"]) {
        let file = name(&exp);
        let body = read_text(&dir.join("emails").join(&file));
        let got = r.time(&file, || quotes::visible_text(&body, pr20_sender(&file)));
        r.record_text(&file, &got, &erp_expect(&read_text(&exp)));
    }
    r
}

/// The first text/plain part of a message, decoded.
fn first_plain_part(raw: &[u8]) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    msg.parts.iter().find_map(|p| match &p.body {
        mail_parser::PartType::Text(t) => Some(t.to_string()),
        _ => None,
    })
}

/// talon standard replies: first text/plain part, quotes stripped (talon
/// keeps signatures), stripped == expected.
fn talon_standard(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/talon_standard", REQUIRED);
    for eml in files(&dir.join("fixtures/standard_replies"), &[".eml"]) {
        let file = name(&eml);
        let want = read_text(
            &dir.join("expected/standard_replies")
                .join(format!("{}.txt", stem(&eml))),
        );
        let raw = std::fs::read(&eml).unwrap_or_default();
        match first_plain_part(&raw) {
            None => r.record(Some(format!("{file}: no text/plain part"))),
            Some(text) => {
                let got = r.time(&file, || quotes::strip_quotes(&text));
                r.record_text(&file, &got, want.trim())
            }
        }
    }
    r
}

/// talon HTML replies: reply extracted from the HTML and converted equals
/// the expected text, ignoring all whitespace.
fn talon_html(dir: &Path) -> SourceResult {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut r = SourceResult::new("replies/talon_html", REQUIRED);
    for f in files(&dir.join("fixtures/html_replies"), &[".html"]) {
        let file = name(&f);
        let want = read_text(
            &dir.join("expected/html_replies")
                .join(format!("{}.txt", stem(&f))),
        );
        let h = read_text(&f);
        let got = r.time(&file, || html::html_reply_text(&h));
        // Compared without whitespace, as upstream does.
        r.record_text(&file, &squash(&got), &squash(&want));
    }
    r
}

/// talon's inline cases: strip_quotes(input) == expected, exactly.
/// `too_many_lines` holds upstream only with `MAX_LINES_COUNT` patched to 1
/// (talon then reads the first line alone), so it gets the first line.
fn talon_inline(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/talon_inline", REQUIRED);
    let manifest = read_text(&dir.join("manifest.tsv"));
    for case in manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
    {
        let input = read_text(&dir.join("input").join(format!("{case}.txt")));
        let want = read_text(&dir.join("expected").join(format!("{case}.txt")));
        let input = if case == "too_many_lines" {
            input.lines().next().unwrap_or("").to_owned()
        } else {
            input
        };
        let got = r.time(case, || quotes::strip_quotes(&input));
        r.record_text(case, &got, &want);
    }
    r
}

/// Discourse's trimmer suite: trimmed and elided (the removed part) must
/// both match, every text stripped first as upstream does.
fn discourse(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/discourse", REQUIRED);
    for f in files(&dir.join("emails"), &[".txt"]) {
        let file = name(&f);
        let body = read_text(&f);
        let body = body.trim();
        let trimmed = read_text(&dir.join("trimmed").join(&file));
        let elided = read_text(&dir.join("elided").join(&file));
        let got = r.time(&file, || quotes::visible_text(body, None));
        let removed = quotes::removed_text(body, None);
        let want = quotes::normalize_newlines(trimmed.trim());
        let want_removed = quotes::normalize_newlines(elided.trim());
        if got.trim() == want && removed.trim() != want_removed {
            let removed = removed.trim();
            r.record(Some(format!(
                "{file} (elided): got {removed:?}, want {want_removed:?}"
            )));
        } else {
            r.record_text(&file, got.trim(), &want);
        }
    }
    r
}

/// Crisp's parser: per manifest, the new text (first fragment) or the
/// visible text equals the expected file. ticketd's visible text is always
/// trimmed, so the untrimmed comparisons are made with trailing whitespace
/// removed on both sides (`email_3` keeps a trailing newline upstream).
fn crisp(dir: &Path) -> SourceResult {
    let mut r = SourceResult::new("replies/crisp", REQUIRED);
    let manifest = read_text(&dir.join("manifest.tsv"));
    for line in manifest.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(case), Some(how)) = (cols.next(), cols.next()) else {
            continue;
        };
        let body = read_text(&dir.join("fixtures").join(format!("{case}.txt")));
        let want = quotes::normalize_newlines(&read_text(
            &dir.join("expected").join(format!("{case}.txt")),
        ));
        let got = r.time(case, || quotes::visible_text(&body, None));
        let want = if how.ends_with("trimmed") {
            want.trim().to_owned()
        } else {
            want.trim_end().to_owned()
        };
        r.record_text(&format!("{case} ({how})"), &got, &want);
    }
    r
}
