//! Quote and signature stripping: the new words of a reply, without the
//! quoted history, the attribution lines mail clients write above it, the
//! sender's signature and what mail systems add around it. Pure string work,
//! linear in the size of the body. docs/reply-text.md is the user's account
//! of it: the languages and clients covered and the forward policy.
//!
//! The words clients write (attributions, header-block field names,
//! "Original Message", "Forwarded message", mobile signatures, gateway
//! banners, footers) are data: `languages.toml`, read by `table.rs`.
//!
//! How a body is read, in order:
//! 1. line endings are normalised and everything from ticketd's own
//!    [`REPLY_MARKER`] on is dropped (here);
//! 2. attribution lines that a client wrapped over several lines ("On …,
//!    Name <\naddr> wrote:", a date left alone above "um 10:00 schrieb …:")
//!    are joined into one logical line, an attribution sharing a line with
//!    the reply ("ok On … wrote:") is split off (`attribution.rs`), and a
//!    separator or header block run into one line is split
//!    (`header_block.rs`);
//! 3. the quoted history is cut ([`strip_quotes`] stops here): an
//!    "-----Original Message-----" separator, an Outlook `From:/Sent:/To:`
//!    block, an attribution line, a forward with a note above it; `>` blocks
//!    at the end (`history.rs`);
//! 4. gateway banners at the top, the signature (`-- `, long separator
//!    lines, "Sent from my …" lines, "--Name", a last paragraph that starts
//!    with the sender's own name) and a footer below the sign-off are cut
//!    ([`visible_text`]; `banner.rs`, `signature.rs`).
//!
//! Each stage works on `Line`s (`lines.rs`): it only clears their `keep`
//! flag, so what was dropped can be shown too ([`removed_text`]).
//!
//! No stage makes a cut that would leave nothing of the sender's own words
//! ([`has_own_text`]): a header with nothing above it goes alone and what
//! follows it is read on as the message. So the visible text is empty only
//! when the sender wrote nothing (a bare quote, a bare "Sent from my iPhone").
//!
//! The reply corpora this is checked against disagree on some points; the
//! choices made here, for what a support agent needs to read:
//! - forwards: with the customer's note above, the note is the visible text
//!   (Discourse's trimmer); with nothing above, the forwarded message's words
//!   are, its header lines dropped, whether a Gmail/Apple/Thunderbird marker
//!   opens it or a bare Outlook header block. [`strip_quotes`] keeps a
//!   forward whole (talon's reading: a forward is not a quote);
//! - text below a quote: in a bottom-posted reply (nothing above the
//!   attribution) it is the reply; between quotes (an inline reply) the quotes
//!   stay as the questions being answered and only the attribution goes
//!   (talon and Discourse; Crisp's first fragment cuts there); below the last
//!   quote of a top-posted reply it is taken for history (Discourse, Crisp;
//!   github's parser keeps it), unless it is a short sign-off ("Regards,
//!   Roman", as talon keeps it);
//! - text below an attribution line that is not `>`-quoted is history too
//!   (most clients that do not quote put the old message there), unless
//!   nothing stands above the attribution;
//! - "Sent from my iPhone" is a signature in [`visible_text`] but kept by
//!   [`strip_quotes`], which only removes quotes (as talon does);
//! - a "-Name" sign-off is dropped only when a signature or footer separator
//!   follows it (github's parser drops it, Crisp's keeps it); "--Name",
//!   "—Name" and "–Name" in a paragraph of their own at the end are a
//!   signature (Discourse keeps "—Ryan": one case lost there, on purpose);
//! - separator lines must be at least five characters long (underscores:
//!   two), so Markdown rules ("---", "***") inside a message are not taken for
//!   a signature; a long rule right under a line of text still is one
//!   (github's parser; Crisp's tests call a table rule "not a signature").

mod attribution;
mod banner;
mod header_block;
mod history;
mod lines;
mod signature;
mod table;

use regex::Regex;

use attribution::{is_attribution, join_wrapped_attributions, split_mid_line_attributions};
use banner::{banner_stage, footer_stage};
use header_block::{header_block_at, is_forwarded, is_original_message, split_run_together};
use history::{strip_stage, Forwards};
use lines::{canonical_quote_prefix, is_blank, is_quote, is_separator, Line};
use signature::{is_mobile_signature, signature_stage, SenderName};

/// The line ticketd puts at the top of every notification: only the text
/// above it is the reply.
pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

/// The new words of a reply: quoted history, the "On … wrote:" /
/// "-----Original Message-----" / "From: … Sent: …" headers (many clients and
/// languages), trailing signatures ("-- ", "Sent from my iPhone", …) removed;
/// text above [`REPLY_MARKER`] only.
///
/// Never empty when the sender wrote something of their own
/// ([`has_own_text`]): a cut that would leave nothing is not made.
///
/// `sender` is the From address, bare or as `Name <address>`: a last
/// paragraph that starts with the sender's name is taken for a signature.
pub fn visible_text(body: &str, sender: Option<&str>) -> String {
    visible_text_explained(body, sender).text
}

/// [`visible_text`] and why it is what it is, for `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub text: String,
    /// One sentence per decision worth showing (a cut not made, a header
    /// kept); empty for an ordinary reply.
    pub notes: Vec<String>,
}

/// [`visible_text`], with the notes `explain` prints.
pub fn visible_text_explained(body: &str, sender: Option<&str>) -> Visible {
    let (head, tail) = split_for_scan(body);
    let mut notes = Vec::new();
    let lines = analyse(head, sender, true, Forwards::Cut, &mut notes);
    let mut kept = render_kept(&lines);
    if kept.is_empty() && has_own_text_lines(head) {
        // The stages each refuse a cut that leaves nothing; this is the
        // last guard should two of them together still do it.
        notes.push(
            "visible text: the quote rules would have left nothing of the sender's own words; \
             the text is kept whole"
                .to_owned(),
        );
        let text = normalize_newlines(head);
        kept = split_at_marker(&text).0.join("\n").trim().to_owned();
    }
    let text = match tail {
        // Nothing was cut from the head: its words go on in the tail.
        Some(tail) if lines.iter().all(|l| l.keep) => format!("{kept}\n{}", tail.trim_end()),
        _ => kept,
    };
    Visible { text, notes }
}

/// Did the sender write anything of their own: a line above ticketd's
/// [`REPLY_MARKER`] that is not blank, not `>`-quoted, and not one a mail
/// client writes (an attribution, a separator, a header block, "Sent from
/// my …")? When so, [`visible_text`] is never empty.
pub fn has_own_text(body: &str) -> bool {
    let (head, _) = split_for_scan(body);
    has_own_text_lines(head)
}

fn has_own_text_lines(head: &str) -> bool {
    let text = normalize_newlines(head);
    let (above, _) = split_at_marker(&text);
    let lines = split_run_together(split_mid_line_attributions(join_wrapped_attributions(
        above,
    )));
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].text.as_str();
        if let Some(end) = header_block_at(&lines, i) {
            i = end;
            continue;
        }
        let client_line = is_blank(t)
            || is_quote(t)
            || is_separator(t, 2)
            || t.trim() == "--"
            || is_attribution(t)
            || is_forwarded(t)
            || is_original_message(t)
            || is_mobile_signature(t);
        if !client_line {
            return true;
        }
        i += 1;
    }
    false
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
    let lines = analyse(body, None, false, Forwards::Keep, &mut Vec::new());
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
    let lines = analyse(body, sender, true, Forwards::Cut, &mut Vec::new());
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
/// (the signature stage only when `signatures` is set); `notes` gets what
/// `explain` should say.
fn analyse(
    body: &str,
    sender: Option<&str>,
    signatures: bool,
    forwards: Forwards,
    notes: &mut Vec<String>,
) -> Vec<Line> {
    let text = normalize_newlines(body);
    let (above, below) = split_at_marker(&text);
    let mut lines = split_run_together(split_mid_line_attributions(join_wrapped_attributions(
        above,
    )));
    strip_stage(&mut lines, forwards, notes);
    if signatures {
        banner_stage(&mut lines, notes);
        let sender = sender.and_then(SenderName::parse);
        signature_stage(&mut lines, sender.as_ref(), notes);
        footer_stage(&mut lines);
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
    fn a_cut_that_would_leave_nothing_is_not_made() {
        let cases = [
            (
                "Sent from my iPhone\n\nHello, order 42 is late.",
                "Hello, order 42 is late.",
            ),
            (
                "From: Shop <s@x.org>\nSent: Monday\nTo: Ann\nSubject: Order\n\nShipped today.",
                "Shipped today.",
            ),
            (
                "On Mon, 2 May 2022, Ann <ann@x.org> wrote:\n\nMy answer",
                "My answer",
            ),
            (
                "-----Original Message-----\nFrom: a\nSent: b\nTo: c\n\nold words",
                "old words",
            ),
            (
                "Note: see below\nstill broken\nFrom: a\nSent: b\nTo: c\n\nold",
                "Note: see below\nstill broken",
            ),
            ("-- \nAnn Example\nACME", "--\nAnn Example\nACME"),
            // Nothing of the sender's own: empty is right.
            (
                "On Mon, 2 May 2022, Ann <ann@x.org> wrote:\n> only a quote",
                "",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(visible_text(body, None), want.trim_end(), "{body:?}");
        }
        let v = visible_text_explained(cases[1].0, None);
        assert!(
            v.notes.iter().any(|n| n.contains("nothing above")),
            "{:?}",
            v.notes
        );
        assert!(visible_text_explained("Hi\n\n> q", None).notes.is_empty());
    }

    /// The never-empty rule as a property: bodies put together at random
    /// from reply lines and everything clients write around them (headers,
    /// quotes, signatures) in every order; whenever the sender wrote words
    /// of their own, the visible text is not empty.
    #[test]
    fn never_empty_when_the_sender_wrote_something() {
        const CHUNKS: &[&str] = &[
            "Hello, the parcel for order 1043 has not arrived.",
            "Can you help me today?",
            "Danke, das hat geholfen.",
            "OK",
            "Regards,\nAnn",
            "",
            "> old question\n> more of it",
            "On Mon, 2 May 2022 at 10:00, Ann <ann@x.org> wrote:",
            "Am 02.05.2022 um 10:00 schrieb Ann <ann@x.org>:",
            "W dniu 2.05.2022 o 10:00, Ann pisze:",
            "-----Original Message-----",
            "---------- Forwarded message ---------",
            "From: Ann <ann@x.org>\nSent: Monday, May 2, 2022 10:00\nTo: Bob <bob@x.org>\nSubject: Re: x",
            "Od: Ann\nWysłano: poniedziałek\nDo: Bob\nTemat: x",
            "Sent from my iPhone",
            "Lähetetty iPhonesta",
            "-- \nAnn Example\nACME Ltd",
            "________________________________",
            "--Ann",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let n = 1 + (next() % 9) as usize;
            let parts: Vec<&str> = (0..n)
                .map(|_| CHUNKS[(next() % CHUNKS.len() as u64) as usize])
                .collect();
            let body = parts.join("\n");
            let visible = visible_text(&body, Some("Ann Example <ann@x.org>"));
            if has_own_text(&body) {
                assert!(!visible.trim().is_empty(), "empty for {body:?}");
            }
            let _ = removed_text(&body, None);
        }
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
