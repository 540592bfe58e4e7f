//! Signatures: a `-- ` or long separator line, "Sent from my iPhone" and its
//! relatives in several languages, and a last paragraph that starts with the
//! sender's own name; with a "-Name" sign-off right above a separator.

use std::sync::LazyLock;

use regex::Regex;

use super::lines::{cut, is_blank, is_fence, is_quote, is_separator, Line, MAX_HEADER_LEN};
use super::regex;
use super::table::WORDS;

/// Mobile and webmail signatures that are a phrase of their own: "Get
/// Outlook for iOS", "Von meinem iPhone gesendet", "发自我的iPhone".
static APP_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?ix)^[\s(<*]*(?:
            (?:get|download|obtenir|télécharger)\s+\[?outlook\s+(?:for|pour)\b.*
          | outlook\s+für\s+(?:ios|android)\s+beziehen.*
          | von\s+meinem\s+.{1,40}\s+gesendet\.?
          | diese\s+nachricht\s+wurde\s+von\s+meinem\s+.{1,60}\s+gesendet\.?
          | 发自我的.{0,30}
          | iphoneから送信
          | sent\s+from\s+(?:a\s+)?(?:phone|mobile(?:\s+device)?)
          | <<\s*sent\s+by\s+.{1,30}>>
        )[\s)>*]*$",
    )
});

/// "Sent from", "Envoyé depuis", "Gesendet von", "Sendt fra", … at the start
/// of a line.
static SENT_FROM: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^[\s(<*]*(?:sent|envoyé|enviad[oa]|inviato|verzonden|gesendet|sendt|skickat|wysłane|отправлено|lähetetty)\s+(?:from|with|via|using|de|depuis|avec|à\s+partir\s+de|desde|do|da|dal|vanaf|met|van|von|mit|vom|fra|från|z|с|из|laitteesta)\s",
    )
});

/// What makes a "Sent from …" line a signature rather than a sentence: a
/// possessive ("my iPhone", "mon iPhone"), a device or mail app, or a link.
static SENT_DEVICE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:my|mon|ma|mi|meu|mio|mijn|min|mitt|mojego|meinem|моего|iphone|ipad|ipod|android|blackberry|samsung|galaxy|outlook|yahoo|gmail|mobile|mobil\w*|smartphone|handy|tablet|windows|huawei|xiaomi|nokia|htc|motorola|pixel|k-9|aol|typeapp|airmail|mailbox|spark|bluemail|protonmail|proton\s+mail)\b|<https?://|\[mail\]",
    )
});

/// "Sent from my iPhone" and its relatives: the language table's phrases
/// of iOS Mail, Outlook Mobile, Gmail, Samsung Email and Yahoo, and the
/// English "Sent from <app>" with a link. A
/// sentence that only starts like one ("Sent from my desk, which…", "Sent
/// via FedEx yesterday") is not one: no punctuation inside, at most eight
/// words, and a device, an app, a possessive or a link.
pub(super) fn is_mobile_signature(line: &str) -> bool {
    let t = line.trim();
    if t.chars().count() > 100 {
        return false;
    }
    if APP_SIGNATURE.is_match(t) || WORDS.is_mobile(t) {
        return true;
    }
    if !SENT_FROM.is_match(t) || !SENT_DEVICE.is_match(t) {
        return false;
    }
    let words = LINK.replace_all(t, " ");
    !words.contains([',', ';', '!', '?']) && words.split_whitespace().count() <= 8
}

/// Links as mail clients write them in plain text: `<http://…>`, `(http://…)`.
static LINK: LazyLock<Regex> = LazyLock::new(|| regex(r"<[^<>]*>|\(https?://[^()]*\)"));

/// "-Name" right above a signature separator: github's parser reads it as
/// part of the signature.
static DASH_SIGNOFF: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\s*-{1,2}\s?\p{L}[\p{L}\p{M}.']*(?:\s+\p{L}[\p{L}\p{M}.']*){0,3}\s*$")
});

/// "--Daniel", "—Daniel", "– Daniel Roe": a name glued to a double dash or
/// a long dash. (A single hyphen, "-Daniel", is only taken with a separator
/// under it: the corpora disagree on it.)
static GLUED_DASH: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\s*(?:--|—|–|-–|-—)\s?\p{Lu}[\p{L}\p{M}.'’\-]*(?:\s+\p{L}[\p{L}\p{M}.'’\-]*){0,2}\s*$")
});

/// Does a glued-dash sign-off open the end of the message: it, a paragraph
/// of its own, and at most three short lines under it (a title, a company,
/// a phone number)?
fn glued_dash_signoff(lines: &[Line], rest: &[usize]) -> bool {
    let Some((&first, after)) = rest.split_first() else {
        return false;
    };
    let short = |k: usize| {
        let t = lines[k].text.trim();
        t.chars().count() <= 60
            && !is_quote(t)
            && !t.ends_with(['?', '!', ':'])
            && !t.starts_with(['-', '—', '–'])
    };
    // A paragraph of its own: a list of dashed items is not a sign-off.
    first > 0
        && is_blank(&lines[first - 1].text)
        && GLUED_DASH.is_match(&lines[first].text)
        && after.len() <= 3
        && after.iter().all(|&k| short(k))
}

/// The first and last name of the sender, to recognise a signature that
/// starts with them.
#[derive(Debug)]
pub(super) struct SenderName {
    first: String,
    last: String,
}

impl SenderName {
    /// From "Jim Smith <jim@x>", "Smith, Jim <jim@x>" or "jim.smith@x".
    pub(super) fn parse(sender: &str) -> Option<SenderName> {
        let name = match sender.find('<') {
            Some(p) => sender[..p].trim().trim_matches('"').trim().to_owned(),
            None => String::new(),
        };
        let words: Vec<String> = if name.is_empty() {
            let addr = sender.trim().trim_matches(['<', '>']);
            let local = addr.split('@').next().unwrap_or("");
            let parts: Vec<&str> = local.split(['.', '_', '-']).collect();
            if parts.len() != 2
                || parts
                    .iter()
                    .any(|p| p.len() < 2 || !p.chars().all(char::is_alphabetic))
            {
                return None;
            }
            parts.iter().map(|p| p.to_lowercase()).collect()
        } else if let Some((last, first)) = name.split_once(',') {
            let first = first.split_whitespace().next()?;
            let last = last.split_whitespace().last()?;
            vec![first.to_lowercase(), last.to_lowercase()]
        } else {
            name.split_whitespace().map(str::to_lowercase).collect()
        };
        if words.len() < 2 {
            return None;
        }
        let first = words.first()?.clone();
        let last = words.last()?.clone();
        Some(SenderName { first, last })
    }

    /// Does the line start with "First [M.] Last"?
    fn starts(&self, line: &str) -> bool {
        let clean = |w: &str| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        };
        let words: Vec<String> = line.split_whitespace().take(5).map(clean).collect();
        if words.first() != Some(&self.first) {
            return false;
        }
        for w in words.iter().skip(1).take(3) {
            if *w == self.last {
                return true;
            }
            if w.chars().count() > 1 {
                return false;
            }
        }
        false
    }
}

/// Removes the signature (see the module documentation).
pub(super) fn signature_stage(
    lines: &mut [Line],
    sender: Option<&SenderName>,
    notes: &mut Vec<String>,
) {
    let kept: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].is_kept_nonblank())
        .collect();
    let mut fence = false;
    for (pos, &i) in kept.iter().enumerate() {
        let t = lines[i].text.trim_end();
        if is_fence(t) {
            fence = !fence;
            continue;
        }
        if fence || t.len() > MAX_HEADER_LEN {
            continue;
        }
        let dashes = t.trim_start() == "--"
            || is_separator(t, 5)
            || is_separator(t, 2) && t.trim_start().starts_with('_');
        let signature = dashes
            || is_mobile_signature(t)
            || glued_dash_signoff(lines, &kept[pos..])
            || sender.is_some_and(|s| {
                pos > 0
                    && kept.len() - pos <= 6
                    && t.chars().count() <= 80
                    && i > 0
                    && is_blank(&lines[i - 1].text)
                    && s.starts(t)
            });
        if !signature {
            continue;
        }
        if !has_text_before(lines, i) {
            // A cut here would leave nothing: the words below are the
            // message ("Sent from my iPhone" typed above them by the app,
            // or a reply written under a "-- " line). An app line alone goes.
            notes.push(format!(
                "visible text: {:?} looks like a signature but nothing is above it: not cut there",
                t.trim()
            ));
            if is_mobile_signature(t) {
                lines[i].keep = false;
            }
            continue;
        }
        let mut from = i;
        if dashes
            && pos > 0
            && DASH_SIGNOFF.is_match(&lines[kept[pos - 1]].text)
            && has_text_before(lines, kept[pos - 1])
        {
            from = kept[pos - 1];
        }
        cut(lines, from);
        drop_trailing_quote(lines);
        return;
    }
}

/// A quote block left at the end once the signature is gone ("> old\n\n--
/// \nBob") is history too, when reply text stands above it.
fn drop_trailing_quote(lines: &mut [Line]) {
    let Some(last) = (0..lines.len())
        .rev()
        .find(|&i| lines[i].is_kept_nonblank())
    else {
        return;
    };
    if !is_quote(&lines[last].text) {
        return;
    }
    let mut start = last;
    while start > 0 && !lines[start - 1].is_reply_text() {
        start -= 1;
    }
    if has_text_before(lines, start) {
        cut(lines, start);
    }
}

/// Is there reply text (not blank, not quoted) kept above line `i`?
fn has_text_before(lines: &[Line], i: usize) -> bool {
    lines[..i].iter().any(Line::is_reply_text)
}

#[cfg(test)]
mod tests {
    use super::super::{strip_quotes, visible_text};

    #[test]
    fn strips_signatures() {
        assert_eq!(
            visible_text("Parcel\n\nSent via FedEx yesterday\n\nTracking 42", None),
            "Parcel\n\nSent via FedEx yesterday\n\nTracking 42"
        );
        assert_eq!(
            visible_text("Ok\n\nSent from TypeApp<http://t.example/?a=1>\nold", None),
            "Ok"
        );
        assert_eq!(visible_text("Hi\n\n-- \nBob\nACME", None), "Hi");
        assert_eq!(visible_text("Hi\n\nSent from my iPhone", None), "Hi");
        assert_eq!(visible_text("Hi\n\nVon meinem iPhone gesendet", None), "Hi");
        assert_eq!(
            visible_text("Hi\n\nSent from my desk, which is nicer.", None),
            "Hi\n\nSent from my desk, which is nicer."
        );
        assert_eq!(
            visible_text("Hi\n\n-Bob\n\n______\nlist footer", None),
            "Hi"
        );
        assert_eq!(visible_text("Hi\n\n-Bob", None), "Hi\n\n-Bob");
        for sig in ["--Daniel", "—Daniel", "–Daniel", "-- Daniel Roe\nACME Ltd"] {
            let body = format!("Please refund order 42.\n\n{sig}");
            assert_eq!(
                visible_text(&body, None),
                "Please refund order 42.",
                "{sig}"
            );
        }
        // A dash in the middle of the text, or before a word, is no signature.
        let body = "Two options:\n—Refund\n—Replacement\n\nWhich one do you prefer, and when?";
        assert_eq!(visible_text(body, None), body);
        // Markdown rules are not separators.
        assert_eq!(visible_text("A\n---\nB", None), "A\n---\nB");
        // Nor is anything inside a code fence.
        let code = "See:\n```\n--\nSent from my iPhone\n```\nok";
        assert_eq!(visible_text(code, None), code);
    }

    #[test]
    fn strip_quotes_keeps_signatures() {
        assert_eq!(
            strip_quotes("Hi \n\nSent from my iPhone"),
            "Hi \n\nSent from my iPhone"
        );
    }

    #[test]
    fn signature_by_sender_name() {
        let body = "Please help.\n\nAnn B. Example | Buyer\nACME";
        assert_eq!(
            visible_text(body, Some("Ann Example <ann@x.org>")),
            "Please help."
        );
        assert_eq!(
            visible_text(body, Some("Example, Ann <ann@x.org>")),
            "Please help."
        );
        assert_eq!(
            visible_text(body, Some("ann.example@x.org")),
            "Please help."
        );
        let mention = "I am Ann Example.\n\nPlease help.";
        assert_eq!(
            visible_text(mention, Some("Ann Example <ann@x.org>")),
            mention
        );
    }
}
