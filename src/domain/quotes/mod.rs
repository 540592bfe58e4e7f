//! Quote and signature stripping: the new words of a reply, without the
//! quoted history, the attribution lines mail clients write above it, and the
//! sender's signature. Pure string work, linear in the size of the body.
//!
//! How a body is read, in order:
//! 1. line endings are normalised and everything from ticketd's own
//!    [`REPLY_MARKER`] on is dropped (here);
//! 2. attribution lines that a client wrapped over several lines ("On …,
//!    Name <\naddr> wrote:") are joined into one logical line, and an
//!    attribution sharing a line with the reply ("ok On … wrote:") is split off
//!    (`attribution.rs`);
//! 3. the quoted history is cut ([`strip_quotes`] stops here): an
//!    "-----Original Message-----" separator, an Outlook `From:/Sent:/To:`
//!    block (many languages, `header_block.rs`), or an attribution line; `>`
//!    blocks at the end (`history.rs`);
//! 4. the signature is cut ([`visible_text`]): `-- `, long separator lines,
//!    "Sent from my …" lines in several languages, and a last paragraph that
//!    starts with the sender's own name (`signature.rs`).
//!
//! Each stage works on `Line`s (`lines.rs`): it only clears their `keep`
//! flag, so what was dropped can be shown too ([`removed_text`]).
//!
//! The reply corpora this is checked against disagree on some points; the
//! choices made here, for what a support agent needs to read:
//! - a forwarded message ("---------- Forwarded message ----------") is kept
//!   whole: it is what the customer wants us to see (talon keeps it,
//!   Discourse's trimmer drops it);
//! - text below a quote: in a bottom-posted reply (nothing above the
//!   attribution) it is the reply; between quotes (an inline reply) the quotes
//!   stay as the questions being answered and only the attribution goes
//!   (talon and Discourse; Crisp's first fragment cuts there); below the last
//!   quote of a top-posted reply it is taken for history (Discourse, Crisp;
//!   github's parser keeps it), unless it is a short sign-off ("Regards,
//!   Roman", as talon keeps it);
//! - text below an attribution line that is not `>`-quoted is history too
//!   (most clients that do not quote put the old message there);
//! - "Sent from my iPhone" is a signature in [`visible_text`] but kept by
//!   [`strip_quotes`], which only removes quotes (as talon does);
//! - a "-Name" sign-off is dropped only when a signature or footer separator
//!   follows it (github's parser drops it, Crisp's keeps it);
//! - separator lines must be at least five characters long (underscores:
//!   two), so Markdown rules ("---", "***") inside a message are not taken for
//!   a signature; a long rule right under a line of text still is one
//!   (github's parser; Crisp's tests call a table rule "not a signature").

mod attribution;
mod header_block;
mod history;
mod lines;
mod signature;

use regex::Regex;

use attribution::{join_wrapped_attributions, split_mid_line_attributions};
use history::strip_stage;
use lines::{canonical_quote_prefix, Line};
use signature::{signature_stage, SenderName};

/// The line ticketd puts at the top of every notification: only the text
/// above it is the reply.
pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

/// The new words of a reply: quoted history, the "On … wrote:" /
/// "-----Original Message-----" / "From: … Sent: …" headers (many clients and
/// languages), trailing signatures ("-- ", "Sent from my iPhone", …) removed;
/// text above [`REPLY_MARKER`] only.
///
/// `sender` is the From address, bare or as `Name <address>`: a last
/// paragraph that starts with the sender's name is taken for a signature.
pub fn visible_text(body: &str, sender: Option<&str>) -> String {
    let (head, tail) = split_for_scan(body);
    let lines = analyse(head, sender, true);
    let kept = render_kept(&lines);
    match tail {
        // Nothing was cut from the head: its words go on in the tail.
        Some(tail) if lines.iter().all(|l| l.keep) => format!("{kept}\n{}", tail.trim_end()),
        _ => kept,
    }
}

/// The part of a body the quote rules read. The new words of a reply are at
/// its top; a body past [`MAX_SCAN_BYTES`] (a pasted log, a dump) is read
/// up to there, so time and memory stay bounded whatever the mail. The
/// rest is kept as written when the head had no quoted history.
pub const MAX_SCAN_BYTES: usize = 1024 * 1024;

fn split_for_scan(body: &str) -> (&str, Option<&str>) {
    if body.len() <= MAX_SCAN_BYTES {
        return (body, None);
    }
    let mut cut = MAX_SCAN_BYTES;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let cut = body[..cut].rfind('\n').unwrap_or(cut);
    let (head, tail) = body.split_at(cut);
    (head, Some(tail.strip_prefix('\n').unwrap_or(tail)))
}

/// The reply without its quoted history, signatures left in place. Lines are
/// given back as written (trailing spaces kept); the whole is trimmed.
pub fn strip_quotes(body: &str) -> String {
    let lines = analyse(body, None, false);
    let kept: Vec<&str> = lines
        .iter()
        .filter(|l| l.keep)
        .map(|l| l.orig.as_str())
        .collect();
    kept.join("\n").trim().to_owned()
}

/// What [`visible_text`] dropped, trimmed: the quoted history, headers and
/// signature, one logical line per line (a wrapped attribution is shown
/// joined, and `Name>` or `|` quote prefixes are shown as `>`). For showing
/// "quoted text hidden" and for checking the stripping against other tools.
pub fn removed_text(body: &str, sender: Option<&str>) -> String {
    let lines = analyse(body, sender, true);
    let removed: Vec<String> = lines
        .iter()
        .filter(|l| !l.keep)
        .map(|l| canonical_quote_prefix(&l.text))
        .collect();
    removed.join("\n").trim().to_owned()
}

/// CRLF and lone CR become LF.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// The body as lines, each marked kept or dropped by the stages in turn
/// (the signature stage only when `signatures` is set).
fn analyse(body: &str, sender: Option<&str>, signatures: bool) -> Vec<Line> {
    let text = normalize_newlines(body);
    let (above, below) = split_at_marker(&text);
    let mut lines = split_mid_line_attributions(join_wrapped_attributions(above));
    strip_stage(&mut lines);
    if signatures {
        let sender = sender.and_then(SenderName::parse);
        signature_stage(&mut lines, sender.as_ref());
    }
    for l in below {
        let mut line = Line::new(l);
        line.keep = false;
        lines.push(line);
    }
    lines
}

/// The lines above ticketd's reply marker, and the ones from it on. Text
/// before the marker on its own line is kept, unless it is only quote marks.
fn split_at_marker(text: &str) -> (Vec<&str>, Vec<&str>) {
    let Some(at) = text.find(REPLY_MARKER) else {
        return (text.split('\n').collect(), Vec::new());
    };
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    let mut above: Vec<&str> = if line_start == 0 {
        Vec::new()
    } else {
        text[..line_start - 1].split('\n').collect()
    };
    let prefix = &text[line_start..at];
    if !prefix
        .trim_matches(|c: char| c == '>' || c.is_whitespace())
        .is_empty()
    {
        above.push(prefix);
    }
    (above, text[line_start..].split('\n').collect())
}

/// The kept lines as written, each right-trimmed, without blank lines
/// around them.
fn render_kept(lines: &[Line]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in lines.iter().filter(|l| l.keep) {
        for part in l.orig.split('\n') {
            out.push(part.trim_end());
        }
    }
    let start = out.iter().position(|l| !l.is_empty()).unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |p| p + 1);
    out[start..end].join("\n")
}

/// Compiles one of the module's fixed patterns (each is exercised by the
/// tests, so a typo fails there rather than in production).
fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_text() {
        assert_eq!(
            visible_text("Hello there\n\nBye", None),
            "Hello there\n\nBye"
        );
        assert_eq!(visible_text("", None), "");
        assert_eq!(visible_text("\r\n\r\n", None), "");
    }

    #[test]
    fn drops_text_below_the_reply_marker() {
        let body = format!("Fixed, thanks!\n\n> {REPLY_MARKER}\n> Ticket #4 was updated");
        assert_eq!(visible_text(&body, None), "Fixed, thanks!");
        let inline = format!("Yes please{REPLY_MARKER}\nold");
        assert_eq!(visible_text(&inline, None), "Yes please");
    }

    #[test]
    fn removed_text_is_the_rest() {
        let body = "Hi\n\nOn Tue, 3 May 2022, Ann <ann@x.org> wrote:\nAnn> old\n| older";
        assert_eq!(
            removed_text(body, None),
            "On Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> old\n> older"
        );
        assert_eq!(removed_text("just text", None), "");
    }

    #[test]
    fn normalizes_newlines() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let odd = [
            "\u{feff}é>\r\r\n>",
            "On 1 wrote:",
            ">",
            "ᐧ",
            "From:",
            "a\u{0}b\nOn Tue, 1 Jan 2020, x@y.z wrote:\n>",
            "ß>ü\n|",
            "-\n--\n---",
        ];
        for s in odd {
            let _ = visible_text(s, Some("<>"));
            let _ = strip_quotes(s);
            let _ = removed_text(s, Some("Ä, Ö"));
        }
        // Many quote blocks and attributions: still one pass.
        let many = "text\n> q\n\nOn 1 May 2020, a@b.c wrote:\n> q\n\nmore\n".repeat(20_000);
        let start = std::time::Instant::now();
        let _ = visible_text(&many, None);
        assert!(start.elapsed().as_secs() < 5);
        let long = ">".repeat(200_000) + "\n" + &"x".repeat(100_000);
        let start = std::time::Instant::now();
        let _ = visible_text(&long, None);
        assert!(start.elapsed().as_secs() < 2);
    }

    #[test]
    fn a_huge_body_is_read_up_to_a_bound_and_loses_no_words() {
        let log = "2026-11-30 10:00:01 worker[7]: retrying job 42 after timeout\n".repeat(60_000);
        assert!(log.len() > 3 * MAX_SCAN_BYTES);
        let reply = format!("Thanks, see the log below.\n\n{log}");
        let v = visible_text(&reply, None);
        assert_eq!(
            v.len(),
            reply.trim_end().len(),
            "every word of a pasted log stays"
        );
        let quoted: String = log.lines().map(|l| format!("> {l}\n")).collect();
        let answer = format!(
            "Fixed now.\n\nOn Mon, 30 Nov 2026 at 09:00, Ann <ann@acme.test> wrote:\n{quoted}"
        );
        let started = std::time::Instant::now();
        assert_eq!(visible_text(&answer, None), "Fixed now.");
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }
}
