//! Separators and header blocks that open a quoted or forwarded message:
//! "-----Original Message-----", "---------- Forwarded message ----------",
//! and Outlook's "From: … Sent: … To: … Subject: …" block, in the languages
//! the corpora cover.

use std::sync::LazyLock;

use regex::Regex;

use super::lines::{is_quote, Line, MAX_HEADER_LEN};
use super::regex;
use super::table::{Field, WORDS};

/// An Outlook header block is looked for over at most this many lines.
const MAX_BLOCK_LINES: usize = 24;

/// "-----Original Message-----" and its translations (the language table).
pub(super) fn is_original_message(line: &str) -> bool {
    line.len() <= MAX_HEADER_LEN && WORDS.original.is_match(line)
}

/// "---------- Forwarded message ---------", "Begin forwarded message:" and
/// their translations (the language table).
pub(super) fn is_forwarded(line: &str) -> bool {
    line.len() <= MAX_HEADER_LEN && WORDS.forwarded.is_match(line)
}

/// "Key: value", with Outlook's bold stars ("**De :** …", "** De : … **"),
/// French spacing ("Objet :") and the direction marks of right-to-left
/// clients in front.
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^[\s\u{200E}\u{200F}\u{202A}-\u{202E}\u{2066}-\u{2069}]*[*_]{0,2}\s*([\p{L}][\p{L}\p{M} '.\-/]{0,28}?)\s*[*_]{0,2}\s*[:：]",
    )
});

/// The kind of header field the line starts with, if it starts with one.
fn field_of(line: &str) -> Option<Field> {
    if line.len() > MAX_HEADER_LEN {
        return None;
    }
    FIELD
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|k| WORDS.field(k.as_str()))
}

/// Separators and header blocks that a client (or an HTML-to-text step)
/// ran into one line are put back on lines of their own, so the rules
/// below see them: "-------- Ursprüngliche Nachricht --------Von: …" and
/// "From: Ann Sent: Monday To: Bob Subject: Hi". The original text of a
/// split line is given back split, which is how it reads anyway.
pub(super) fn split_run_together(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.text.len() > MAX_HEADER_LEN || line.joined || is_quote(&line.text) {
            out.push(line);
            continue;
        }
        if let Some((sep, rest)) = WORDS.run_together(&line.text) {
            let (sep, rest) = (sep.to_owned(), rest.to_owned());
            out.push(Line::new(&sep));
            push_fields(&mut out, &rest);
            continue;
        }
        push_fields(&mut out, &line.text.clone());
    }
    out
}

/// `text` as one line, or as one line per header field when it holds a
/// whole header block (a From or date field first, two more after it).
fn push_fields(out: &mut Vec<Line>, text: &str) {
    let starts = inline_fields(text);
    if starts.len() < 3 {
        out.push(Line::new(text));
        return;
    }
    let mut bounds = starts;
    bounds.push(text.len());
    out.extend(
        bounds
            .windows(2)
            .map(|w| Line::new(text[w[0]..w[1]].trim_end())),
    );
}

/// Where the header fields of a run-together block start: the line must
/// open with a From or date field; each further field is a known name
/// after white space ("Re: hello" in a subject is not one).
fn inline_fields(text: &str) -> Vec<usize> {
    if !matches!(field_of(text), Some(Field::From | Field::Date)) {
        return Vec::new();
    }
    let mut starts = vec![0];
    let mut prev_space = false;
    for (i, c) in text.char_indices() {
        if prev_space
            && !c.is_whitespace()
            && field_of(&text[i..]).is_some_and(|f| f != Field::Other)
        {
            starts.push(i);
        }
        prev_space = c.is_whitespace();
    }
    starts
}

/// Does an Outlook-style header block ("From: … Sent: … To: … Subject: …")
/// start at line `i`? Then the index of the line after it. Lines that are
/// not fields may sit inside the block when a field follows within two lines
/// (a wrapped address or subject). The first line must be a field mail
/// clients write (From, Date, To, …), or a field of another name directly
/// above one ("Message du : …" over "De : …"): a reply line such as "Note:
/// see below" with more text under it is reply text, not the block's start.
pub(super) fn header_block_at(lines: &[Line], i: usize) -> Option<usize> {
    let first = field_of(&lines[i].text)?;
    if first == Field::Other
        && !lines
            .get(i + 1)
            .and_then(|l| field_of(&l.text))
            .is_some_and(|f| f != Field::Other)
    {
        return None;
    }
    let mut seen = vec![first];
    let mut j = i + 1;
    let end = lines.len().min(i + MAX_BLOCK_LINES);
    while j < end && lines[j].keep {
        let t = &lines[j].text;
        if t.trim().is_empty() {
            break;
        }
        if let Some(f) = field_of(t) {
            seen.push(f);
            j += 1;
            continue;
        }
        // A continuation line counts only if a field follows it directly.
        let field_follows = (j + 1..end.min(j + 3))
            .take_while(|&k| !lines[k].text.trim().is_empty())
            .any(|k| field_of(&lines[k].text).is_some());
        if !field_follows {
            break;
        }
        j += 1;
    }
    let has = |f: Field| seen.contains(&f);
    let kinds = [
        Field::From,
        Field::Date,
        Field::To,
        Field::Cc,
        Field::Subject,
    ]
    .iter()
    .filter(|&&f| has(f))
    .count();
    (kinds >= 2 && (has(Field::From) || has(Field::To))).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::super::{strip_quotes, visible_text};

    #[test]
    fn strips_outlook_blocks_and_separators() {
        let body = "Reply\n________________________________\nFrom: Ann <ann@x.org>\nSent: Monday\nTo: Bob\nSubject: Re: x\n\nold";
        assert_eq!(visible_text(body, None), "Reply");
        let de = "Antwort\n\nVon: Ann\nGesendet: Montag\nAn: Bob\nBetreff: x\n\nalt";
        assert_eq!(visible_text(de, None), "Antwort");
        let orig = "New\n\n-----Original Message-----\nold";
        assert_eq!(visible_text(orig, None), "New");
    }

    #[test]
    fn run_together_headers_are_split() {
        let cases = [
            (
                "Nein.\n\n-------- Ursprüngliche Nachricht --------Von: a@b.c\nDatum: 1.5.\nAn: d@e.f\n\nalt",
                "Nein.",
            ),
            (
                "Ok.\n\nFrom: a@b.c Sent: Monday To: d@e.f Subject: Re: hi\n\nold",
                "Ok.",
            ),
            // Two fields on a line are not a block.
            ("From: the shop To: me\nwhat now?", "From: the shop To: me\nwhat now?"),
        ];
        for (body, want) in cases {
            assert_eq!(visible_text(body, None), want, "{body:?}");
        }
    }

    #[test]
    fn a_lone_field_is_not_a_header_block() {
        let body = "From: the shop\nI got a broken cup.\n\nDate: Monday\nTime: 10:00";
        assert_eq!(visible_text(body, None), body);
    }

    #[test]
    fn forwards_one_policy() {
        // A note above a forward is the new text.
        let body = "FYI\n\n---------- Forwarded message ----------\nFrom: a@b.c\nDate: Mon\nSubject: s\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(body, None), "FYI");
        assert_eq!(strip_quotes(body), body, "strip_quotes keeps it (talon)");
        // Nothing above: the forwarded words are what the customer sends,
        // with the Gmail marker or without one.
        let bare = "---------- Forwarded message ----------\nFrom: a@b.c\nDate: Mon\nSubject: s\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(bare, None), "Text");
        let block = "From: a@b.c\nDate: Mon\nSubject: s\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(block, None), "Text");
        let apple =
            "Begin forwarded message:\n\nFrom: a@b.c\nSubject: s\nDate: Mon\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(apple, None), "Text");
    }
}
