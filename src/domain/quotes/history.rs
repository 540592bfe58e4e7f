//! The quoted history: `>` blocks, and the stage that cuts the history
//! (an "-----Original Message-----" separator, an Outlook header block, an
//! attribution line and what it quotes) while keeping quotes answered inline.

use std::sync::LazyLock;

use regex::Regex;

use super::attribution::is_attribution;
use super::header_block::{header_block_at, is_forwarded, is_original_message};
use super::lines::{
    cut, dequote, drop_range, is_blank, is_fence, is_quote, is_separator, Line, MAX_HEADER_LEN,
};
use super::regex;

/// What to do with a forwarded message that has the customer's own words
/// above it (with nothing above, its content is kept either way: a cut
/// that would leave nothing is not made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Forwards {
    /// [`super::visible_text`]: the note above a forward is the new text;
    /// the forwarded mail stays in the message's full text.
    Cut,
    /// [`super::strip_quotes`]: a forward is not a quote (talon's reading):
    /// it stays whole.
    Keep,
}

/// Removes the quoted history (see the module documentation). One pass:
/// whether reply text was seen is carried along, not searched for again.
///
/// A quote header (separator, header block, attribution) with no reply text
/// above it is never a cut that leaves nothing: the header alone goes and
/// what follows it is read on as the message (a forward, or a reply typed
/// under the header). Only when what follows is `>`-quoted history alone is
/// the result empty: then the sender wrote nothing.
pub(super) fn strip_stage(lines: &mut [Line], forwards: Forwards, notes: &mut Vec<String>) {
    let n = lines.len();
    // Quote lines further down tell an inline reply from a reply above a
    // quote; nothing below the current line changes before it is reached.
    let last_quote = lines.iter().rposition(|l| is_quote(&l.text));
    let mut text_seen = false;
    // A quote header was dropped above: a quote closing the message is
    // the history it introduced.
    let mut header_dropped = false;
    let mut fence = false;
    let mut i = 0;
    while i < n {
        if !lines[i].keep {
            i += 1;
            continue;
        }
        let t = lines[i].text.as_str();
        if is_fence(t) {
            fence = !fence;
        }
        if fence || is_blank(t) || t.len() > MAX_HEADER_LEN && !is_quote(t) {
            text_seen |= lines[i].is_reply_text();
            i += 1;
            continue;
        }
        let forwarded = is_forwarded(t);
        if forwarded || is_original_message(t) {
            if !text_seen {
                notes.push(format!(
                    "visible text: {:?} has nothing above it: not cut there, the {} content is kept",
                    t.trim(),
                    if forwarded { "forwarded" } else { "quoted" }
                ));
                i = drop_header(lines, i);
                header_dropped = true;
                continue;
            }
            if !(forwarded && forwards == Forwards::Keep) {
                cut(lines, i);
            }
            return;
        }
        if is_quote(t) {
            let end = quote_block_end(lines, i);
            let history = quote_block_is_history(lines, i, end);
            if end == n {
                // A quote closing the message is history, unless the whole
                // message is an unattributed quote (then it is all we have).
                if text_seen || history || header_dropped {
                    cut(lines, i);
                }
                return;
            }
            if !text_seen && history {
                drop_range(lines, i, end);
            } else {
                text_seen |= lines[i..end].iter().any(Line::is_reply_text);
            }
            i = end;
            continue;
        }
        if let Some(end) = header_block_at(lines, i) {
            if !text_seen {
                // A header block on top: a forward without its marker line
                // (or a reply typed below the block). Its content stays.
                notes.push(format!(
                    "visible text: the header block {:?} has nothing above it: not cut there, its content is kept",
                    t.trim()
                ));
                drop_range(lines, i, end);
                drop_rules_above(lines, i);
                header_dropped = true;
                i = end;
                continue;
            }
            cut(lines, i);
            return;
        }
        if is_attribution(t) {
            // The quote block under the attribution, when text follows it.
            let next = next_non_blank(lines, i + 1);
            let quote = next
                .filter(|&k| is_quote(&lines[k].text))
                .map(|k| (k, quote_block_end(lines, k)))
                .filter(|&(_, end)| end < n);
            if let Some((k, end)) = quote {
                if header_dropped || last_quote.is_some_and(|q| q > end) {
                    // Answers between quotes: an inline reply (so is a
                    // message that opened with a header of its own). The
                    // quotes are the questions being answered; only the
                    // attribution goes (and the quote at the end, later).
                    lines[i].keep = false;
                    i = k;
                    continue;
                }
                if !text_seen || is_closing(lines, end) {
                    // A bottom-posted reply, or a sign-off under the quote.
                    drop_range(lines, i, end);
                    i = end;
                    continue;
                }
            }
            if !text_seen && next.is_some_and(|k| !is_quote(&lines[k].text)) {
                // Unquoted text under an attribution with nothing above:
                // the cut would leave nothing, so only the line goes.
                notes.push(format!(
                    "visible text: the attribution {:?} has nothing above it: not cut there, the text below is kept",
                    t.trim()
                ));
                lines[i].keep = false;
                header_dropped = true;
                i += 1;
                continue;
            }
            cut(lines, i);
            return;
        }
        // A rule ("_____", "-----") is no words of the sender's: an Outlook
        // forward opens with one above its header block.
        text_seen |= !is_separator(t, 2);
        i += 1;
    }
}

/// Drops the rules and blank lines right above line `i` (the "_____"
/// Outlook writes over its header block).
fn drop_rules_above(lines: &mut [Line], i: usize) {
    for l in lines[..i].iter_mut().rev() {
        if !l.keep {
            continue;
        }
        if !(is_blank(&l.text) || is_separator(&l.text, 2)) {
            return;
        }
        l.keep = false;
    }
}

/// Drops the separator line `i` ("-----Original Message-----", "Begin
/// forwarded message:") and the header block right under it; gives the
/// index to read on from.
fn drop_header(lines: &mut [Line], i: usize) -> usize {
    lines[i].keep = false;
    let Some(k) = next_non_blank(lines, i + 1) else {
        return lines.len();
    };
    match header_block_at(lines, k) {
        Some(end) => {
            drop_range(lines, i, end);
            end
        }
        None => i + 1,
    }
}

/// The index of the first kept line from `from` on that is neither blank
/// nor quoted (the end of a quote block), or `lines.len()`.
///
/// Up to three unquoted lines squeezed between two quoted lines, with no
/// blank line around them, belong to the quote: a long quoted line the client
/// wrapped without repeating the `>` ("> see (http://x/a\nb) >").
fn quote_block_end(lines: &[Line], from: usize) -> usize {
    let n = lines.len();
    let text = |k: usize| lines[k].is_reply_text();
    let quoted = |k: usize| lines[k].keep && is_quote(&lines[k].text);
    let mut k = from;
    while k < n {
        if !text(k) {
            k += 1;
            continue;
        }
        if k > from && quoted(k - 1) {
            let run = (k..n.min(k + 3)).take_while(|&x| text(x)).count();
            if k + run < n && quoted(k + run) {
                k += run;
                continue;
            }
        }
        return k;
    }
    n
}

/// The first kept, non-blank line from `from` on.
fn next_non_blank(lines: &[Line], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&k| lines[k].is_kept_nonblank())
}

/// Does the quote block `i..end` open with an attribution or a separator
/// ("> On … wrote:"): then it is quoted history, not a quote being answered.
fn quote_block_is_history(lines: &[Line], i: usize, end: usize) -> bool {
    lines[i..end]
        .iter()
        .find(|l| !is_blank(dequote(&l.text)))
        .is_some_and(|l| {
            let t = dequote(&l.text);
            is_attribution(t) || is_original_message(t) || is_forwarded(t)
        })
}

/// The words a short sign-off opens with ("Regards,", "Cheers", "Grüße", …).
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:regards|best|kind\s+regards|best\s+regards|warm\s+regards|thanks|thank\s+you|many\s+thanks|cheers|sincerely|br|mit\s+freundlichen|viele\s+grüße|grüße|gruß|lg|cordialement|bien\s+à\s+vous|merci|saludos|atentamente|un\s+saludo|cordiali\s+saluti|saluti|grazie|groeten|met\s+vriendelijke|hälsningar|mvh|pozdrawiam|с\s+уважением|спасибо)\b",
    )
});

/// Does the line open with a sign-off word ("Regards,", "Cheers", …)?
pub(super) fn is_closing_line(line: &str) -> bool {
    CLOSING.is_match(line)
}

/// Is everything from `from` on a short sign-off ("Regards, Roman")?
fn is_closing(lines: &[Line], from: usize) -> bool {
    let rest: Vec<&str> = lines[from..]
        .iter()
        .filter(|l| l.is_kept_nonblank())
        .map(|l| l.text.trim())
        .take(4)
        .collect();
    !rest.is_empty()
        && rest.len() <= 3
        && rest.iter().all(|l| l.chars().count() <= 60)
        && CLOSING.is_match(rest[0])
}

#[cfg(test)]
mod tests {
    use super::super::visible_text;

    #[test]
    fn quotes_answered_inline_are_kept() {
        let body = "See below.\n> is it late?\nNo.\n> and the fee?\nNone.";
        assert_eq!(visible_text(body, None), body);
        assert_eq!(visible_text("> only a quote", None), "> only a quote");
        assert_eq!(visible_text("Answer\n\n> old\n> older", None), "Answer");
    }

    #[test]
    fn bottom_posted_reply_and_signoff_survive() {
        let bottom = "On Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> q\n\nMy answer";
        assert_eq!(visible_text(bottom, None), "My answer");
        let signoff = "Answer\n\nOn Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> q\n\nRegards, Bob";
        assert_eq!(visible_text(signoff, None), "Answer\n\nRegards, Bob");
    }
}
