//! Attribution lines: the "On …, Name wrote:" a mail client writes above the
//! message it quotes, in the many forms and languages the corpora show, and
//! the two repairs made before the rules run: joining one that was wrapped
//! over several lines, and splitting one off a line of reply.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::super::normalize::is_bidi_control;
use super::lines::{dequote, is_quote, Line, MAX_HEADER_LEN};
use super::regex;
use super::table::WORDS;

/// How many lines before a line ending like an attribution ("… wrote:") may
/// belong to it (Gmail and Outlook wrap long attributions over up to five).
const MAX_JOIN: usize = 4;

/// "On <date>, Name wrote:" and its English relatives ("At …", "In message …").
static ON_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)^(?:on|at|in\s+message)\s.*\d.*\b(?:wrote|writes|sent|said)[\s:\-*]*$")
});

/// A line that starts with a date or time: "15. marts 2017", "2014-10-17",
/// "pe 20. lokakuuta", "Wednesday, 17 November", "11:00 AM".
/// Also "2. 5. 2022" (Czech, Slovak), "2022. 05. 02." (Hungarian) and
/// "2022年5月2日" / "2022년 5월" (Chinese, Japanese, Korean).
static DATE_START: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:\p{L}{1,12}\.?,?\s+)?(?:\d{1,4}(?:[./\-]\d{1,2}|\.?\s+\p{L}{3,}|[:.]\d{2}(?:\D|$)|\.\s\d{1,2}\.)|\d{2,4}\s?[年년])",
    )
});

/// "Name <addr> wrote on <date>:" / "… schrieb am …:" (Google Inbox).
static WROTE_ON_DATE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^.{1,200}\b(?:wrote|schrieb)\s+(?:on|am)\s.*\d.*[:：]$"));

/// "Name <addr> wrote on" / "… schrieb am", the date wrapped to the next line.
static WROTE_ON_DATE_START: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)\b(?:wrote|schrieb)\s+(?:on|am)\b"));

/// "2016-03-03 17:21 GMT+01:00 Name" and "2013/7/20 Name <addr>" (old
/// Gmail): a leading ISO date with a GMT offset or an address, no colon.
static GMAIL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\d{4}[\-/]\d{1,2}[\-/]\d{1,2}\s+(?:\d{1,2}:\d{2}\s+GMT[+\-]\d{1,2}(?::?\d{2})?\s+\S.*|.*<[^<>\s]+@[^<>\s]+>[\s:]*)$",
    )
});

/// "---- John Smith wrote ----" (Android).
static DASHED_WROTE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^-{2,}\s*[^\-\s].{0,100}\bwrote\s*-{2,}$"));

/// "name via Discourse Meta wrote:" (no address, no date).
static VIA_WROTE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^.{1,100}\svia\s.{1,100}\s(?:wrote|schrieb)[\s:]*$"));

static EMAIL: LazyLock<Regex> = LazyLock::new(|| regex(r"[\w.+'\-]+@[\w\-]+(?:\.[\w\-]+)+"));

/// A date or a time somewhere in the line.
/// Digits may touch letters of scripts without spaces ("10:00写道").
static HAS_DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\d{1,2}[:.h]\d{2}(?:\D|$)|(?:^|\D)(?:19|20)\d{2}(?:\D|$)|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}",
    )
});

/// An attribution that ends with an address and a colon:
/// "30.09.2017, 18.30, "John" <john@example.com>:".
static ADDR_COLON_END: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"[\w.+'\-]+@[\w\-]+(?:\.[\w\-]+)+[>)\]"]*\s*[:：]$"#));

/// "reply On <date>, Name wrote:" with the reply in front on the same line.
static MID_LINE_ON: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^(.*?\S)[\s\-]+(on\s.*\d.*\bwrote:)\s*$"));

/// Removes Unicode's direction controls, which Gmail puts around the
/// parts of a right-to-left attribution (U+202B … U+202C around it, U+202A
/// around the address).
fn without_bidi(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_bidi_control) {
        Cow::Owned(s.chars().filter(|&c| !is_bidi_control(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Removes quote marks, dashes, bold stars and spaces around a line.
fn bare(s: &str) -> &str {
    s.trim_start_matches(|c: char| c == '>' || c == '*' || c == '-' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '*' || c == '-' || c.is_whitespace())
}

fn ends_with_colon(s: &str) -> bool {
    s.ends_with(':') || s.ends_with('：')
}

/// Is this (joined, unquoted) line an attribution: the line a mail client
/// writes above the message it quotes?
pub(super) fn is_attribution(line: &str) -> bool {
    if line.len() > MAX_HEADER_LEN {
        return false;
    }
    let line = without_bidi(line);
    let s = bare(&line);
    if s.is_empty() {
        return false;
    }
    if DASHED_WROTE.is_match(line.trim()) {
        return true;
    }
    if ON_WROTE.is_match(s) || GMAIL_DATE.is_match(s) || WROTE_ON_DATE.is_match(s) {
        return true;
    }
    let colon = ends_with_colon(s);
    let wrote_end = WORDS.ends_with_wrote(s);
    let has_wrote = WORDS.has_wrote(s);
    if VIA_WROTE.is_match(s) {
        return true;
    }
    let has_addr = EMAIL.is_match(s);
    let dated = HAS_DATE.is_match(s);
    let digit = s.chars().any(char::is_numeric);
    let starter = WORDS.starter.is_match(s);
    // "Le 4 janv. 2016, Neil a écrit :", "Am 4. Juli schrieb Rick <r@x>:".
    if starter && digit && has_wrote && (wrote_end || colon) {
        return true;
    }
    // "בתאריך יום ב׳, 2 במאי 2022 ב-10:00 מאת Ann <ann@x.org>:" (no "wrote").
    if starter && digit && colon && ADDR_COLON_END.is_match(s) {
        return true;
    }
    // "Ann kirjoitti 2.5.2022 klo 10.00:" (no address).
    if colon && dated && WORDS.wrote_then_date(s) {
        return true;
    }
    // "Wiadomość napisana przez Ann <ann@x.org> w dniu 02.05.2022, o godz. 10:00:".
    if colon && WORDS.lead.is_match(s) && (has_addr || dated) {
        return true;
    }
    // "Some One <one@x> wrote:", "15. marts 2017 kl. 11.00 skrev John <j@x>:".
    if has_wrote && (wrote_end || colon) && (has_addr || (dated && DATE_START.is_match(s))) {
        return true;
    }
    // "26.06.2014, 14:41, "Alexander" <abc@example.com>:" and the like.
    colon && dated && DATE_START.is_match(s) && ADDR_COLON_END.is_match(s)
}

/// Could this line open an attribution that goes on over the next lines?
fn is_strong_start(line: &str) -> bool {
    let line = without_bidi(line);
    let s = bare(&line);
    WORDS.starter.is_match(s) || WORDS.lead.is_match(s) || DATE_START.is_match(s) || {
        // "Name <addr> schrieb am Fr., 28." (the date wraps).
        EMAIL.is_match(s) && WROTE_ON_DATE_START.is_match(s)
    }
}

/// Could this line be the last line of an attribution?
fn ends_like_attribution(line: &str) -> bool {
    if line.len() > MAX_HEADER_LEN {
        return false;
    }
    let line = without_bidi(line);
    let s = bare(&line);
    ends_with_colon(s) || WORDS.ends_with_wrote(s) || s.ends_with('>')
}

/// Joins attributions that a client wrapped over several lines into one
/// logical line, so "On <date>, Name <\naddr> wrote:" is recognised and
/// dropped as a whole. The smallest span that starts like an attribution and
/// reads as one when joined wins.
pub(super) fn join_wrapped_attributions(raw: Vec<&str>) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(raw.len());
    for l in raw {
        if !ends_like_attribution(dequote(l)) {
            out.push(Line::new(l));
            continue;
        }
        let single = is_attribution(dequote(l));
        if single && is_strong_start(dequote(l)) {
            // "Am 26.5.2017" left alone on the line above "um 10:00 schrieb
            // Ann <ann@x.org>:": the date belongs to the attribution.
            if let Some(prev) = out.last().filter(|p| is_dangling_start(p)) {
                let joined = join_words([prev.text.as_str(), l].into_iter());
                if is_attribution(dequote(&joined)) {
                    let orig = format!("{}\n{l}", prev.orig);
                    out.pop();
                    out.push(Line {
                        text: joined,
                        orig,
                        keep: true,
                        joined: true,
                    });
                    continue;
                }
            }
            out.push(Line::new(l));
            continue;
        }
        let mut chosen = None;
        for k in 1..=MAX_JOIN.min(out.len()) {
            let span = &out[out.len() - k..];
            let first = &span[0];
            if first.joined
                || first.text.trim().is_empty()
                || first.text.len() > MAX_HEADER_LEN
                || span.iter().any(|x| x.joined)
                || span.iter().filter(|x| x.text.trim().is_empty()).count() > 1
                || !is_strong_start(dequote(&first.text))
                || span.iter().any(|x| {
                    let t = dequote(&x.text);
                    ends_like_attribution(t) && is_attribution(t)
                })
            {
                continue;
            }
            let joined = join_words(span.iter().map(|x| x.text.as_str()).chain([l]));
            if is_attribution(dequote(&joined)) {
                chosen = Some((k, joined));
                break;
            }
        }
        match chosen {
            Some((k, joined)) => {
                let start = out.len() - k;
                let orig: Vec<&str> = out[start..]
                    .iter()
                    .map(|x| x.orig.as_str())
                    .chain([l])
                    .collect();
                let orig = orig.join("\n");
                out.truncate(start);
                out.push(Line {
                    text: joined,
                    orig,
                    keep: true,
                    joined: true,
                });
            }
            None => out.push(Line::new(l)),
        }
    }
    out
}

/// A short line that opens an attribution with its date and stops there
/// ("Am 26.5.2017", "Le 26 mai 2017,"): a client wrapped the rest to the
/// next line. Not a sentence: no full stop, question or colon at its end.
fn is_dangling_start(line: &Line) -> bool {
    let t = dequote(&line.text).trim();
    !line.joined
        && !t.is_empty()
        && t.chars().count() <= 60
        && !t.ends_with(['.', '!', '?', ':', '：'])
        && t.chars().any(|c| c.is_ascii_digit())
        && (WORDS.starter.is_match(t) || DATE_START.is_match(t))
        && !is_attribution(t)
}

/// Joins lines with one space where the line breaks (and blank lines) were.
fn join_words<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(p);
    }
    s
}

/// "reply On <date>, Name wrote:" followed by a quote: the reply and the
/// attribution go to lines of their own.
pub(super) fn split_mid_line_attributions(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.text.len() <= MAX_HEADER_LEN && !is_quote(&line.text) {
            if let Some(c) = MID_LINE_ON.captures(&line.text) {
                let (Some(pre), Some(attr)) = (c.get(1), c.get(2)) else {
                    out.push(line.clone());
                    continue;
                };
                let pre = pre.as_str().trim_end_matches(['-', ' ']);
                let next = lines[i + 1..].iter().find(|l| !l.text.trim().is_empty());
                if !pre.trim().is_empty()
                    && ON_WROTE.is_match(attr.as_str())
                    && next.is_some_and(|l| is_quote(&l.text))
                {
                    out.push(Line::new(pre));
                    let mut a = Line::new(attr.as_str());
                    a.joined = true;
                    out.push(a);
                    continue;
                }
            }
        }
        out.push(line.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{removed_text, strip_quotes, visible_text};

    #[test]
    fn strips_attribution_and_quote() {
        let cases = [
            (
                "Works now.\n\nOn Tue, 3 May 2022 at 10:00, Ann <ann@x.org> wrote:\n> broken?\n",
                "Works now.",
            ),
            (
                "Ja.\n\nAm 3. Mai 2022 um 10:00 schrieb Ann <ann@x.org>:\n\n> kaputt?",
                "Ja.",
            ),
            (
                "Oui.\n\nLe mar. 3 mai 2022 à 10:00, Ann <ann@x.org> a écrit :\n> cassé ?",
                "Oui.",
            ),
            (
                "Sí.\n\nEl mar, 3 may 2022 a las 10:00, Ann (<ann@x.org>) escribió:\n> ¿roto?",
                "Sí.",
            ),
            (
                "Yes.\n\n2022-05-03 10:00 GMT+02:00 Ann <ann@x.org>:\n\n> broken?",
                "Yes.",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(visible_text(body, None), want, "{body:?}");
        }
    }

    #[test]
    fn joins_wrapped_attributions() {
        let body =
            "Done.\n\nOn Tue, 3 May 2022 at 10:00, Ann Example <\nann@example.org> wrote:\n\n> old";
        assert_eq!(visible_text(body, None), "Done.");
        assert_eq!(
            removed_text(body, None),
            "On Tue, 3 May 2022 at 10:00, Ann Example < ann@example.org> wrote:\n\n> old"
        );
        let three = "Ok\n\nIl giorno lun 4 lug 2022 alle ore 08:12 Ann <ann@exa=\nmple.org>\nha scritto:\n> vecchio";
        assert_eq!(visible_text(three, None), "Ok");
    }

    #[test]
    fn joins_a_date_left_on_the_line_above() {
        let body = "Ja.\n\nAm 26.5.2017\num 10:00 schrieb Ann <ann@x.org>:\n\n> alt";
        assert_eq!(visible_text(body, None), "Ja.");
        // A sentence with a date is not part of the attribution.
        let body = "Am 26.5.2017 war alles gut.\num 10:00 schrieb Ann <ann@x.org>:\n> alt";
        assert_eq!(visible_text(body, None), "Am 26.5.2017 war alles gut.");
    }

    #[test]
    fn attributions_in_other_scripts() {
        let cases = [
            "Στις Δευ 2 Μαΐ 2022 στις 10:00 π.μ., ο/η Ann <ann@x.org> έγραψε:",
            "пн, 2 мая 2022 г. в 10:00, Ann <ann@x.org>:",
            "Ann <ann@x.org> 于2022年5月2日周一 10:00写道：",
            "2022年5月2日(月) 10:00 Ann <ann@x.org>:",
            "في 2 مايو 2022، الساعة 10:00 ص، كتب Ann <ann@x.org>:",
            "Wiadomość napisana przez Ann <ann@x.org> w dniu 02.05.2022, o godz. 10:00:",
            "Ann kirjoitti 2.5.2022 klo 10.00:",
        ];
        for attr in cases {
            let body = format!("Ok\n\n{attr}\n\n> old");
            assert_eq!(visible_text(&body, None), "Ok", "{attr}");
        }
        // "skrev" inside "beskrev" is no attribution.
        let body = "Hun beskrev 2.5.2022 kl. 10:00 problemet <ann@x.org>:\nDet virker ikke.";
        assert_eq!(visible_text(body, None), body);
    }

    #[test]
    fn splits_attribution_sharing_a_line() {
        assert_eq!(
            strip_quotes("fine--- On Mon, May 2, 2022 at 9:00 AM, a@b.c wrote:\n> q"),
            "fine"
        );
    }
}
