//! What mail systems add around the sender's words: the "external sender"
//! banner a gateway puts at the top, and the confidentiality or marketing
//! footer a company's mail system appends below the sign-off. Both phrase
//! lists are in the language table.

use super::lines::{cut, is_blank, Line, MAX_HEADER_LEN};
use super::table::{normal_words, WORDS};

/// A banner or footer paragraph longer than this is taken for text.
const MAX_PARAGRAPH: usize = 1200;

/// Paragraphs (runs of kept, non-blank lines) as index ranges.
fn paragraphs(lines: &[Line]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        let text = l.keep && !is_blank(&l.text);
        match (text, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) if l.keep => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, lines.len()));
    }
    out
}

fn paragraph_text(lines: &[Line], (from, to): (usize, usize)) -> Option<String> {
    let mut len = 0;
    let mut parts = Vec::new();
    for l in lines[from..to].iter().filter(|l| l.keep) {
        len += l.text.len();
        if len > MAX_PARAGRAPH || l.text.len() > MAX_HEADER_LEN {
            return None;
        }
        parts.push(l.text.as_str());
    }
    Some(normal_words(&parts.join(" ")))
}

/// Drops gateway banners at the top (the first paragraph, and a second
/// right under a first one), unless nothing would be left of the message.
pub(super) fn banner_stage(lines: &mut [Line], notes: &mut Vec<String>) {
    let paras = paragraphs(lines);
    for &(from, to) in paras.iter().take(2) {
        let Some(text) = paragraph_text(lines, (from, to)) else {
            return;
        };
        if !WORDS.is_banner(&text) {
            // The sender's words have begun: a banner is only ever above.
            return;
        }
        let rest = lines[to..].iter().any(Line::is_reply_text);
        if !rest {
            notes.push("visible text: a gateway banner is all there is; kept".to_owned());
            return;
        }
        for l in &mut lines[from..to] {
            l.keep = false;
        }
    }
}

/// Cuts a confidentiality or marketing footer that follows a sign-off
/// ("Regards,", "Thanks", …): from the first footer paragraph on.
pub(super) fn footer_stage(lines: &mut [Line]) {
    let paras = paragraphs(lines);
    let Some(signoff) = paras
        .iter()
        .position(|&(from, to)| lines[from..to].iter().any(|l| is_signoff(&l.text)))
    else {
        return;
    };
    for &(from, to) in &paras[signoff + 1..] {
        if paragraph_text(lines, (from, to)).is_some_and(|t| WORDS.is_footer(&t)) {
            cut(lines, from);
            return;
        }
    }
}

/// A short closing line: "Regards,", "Best, Ann", "Thanks!".
fn is_signoff(line: &str) -> bool {
    let t = line.trim();
    t.chars().count() <= 40 && super::history::is_closing_line(t)
}

#[cfg(test)]
mod tests {
    use super::super::visible_text;

    #[test]
    fn banners_at_the_top_go() {
        let cases = [
            (
                "CAUTION: This email originated from outside of the organization. Do not click links or open attachments unless you recognize the sender.\n\nHi, my invoice is wrong.",
                "Hi, my invoice is wrong.",
            ),
            (
                "[EXTERNAL]\n\nHello, the app crashes.\n\nThanks",
                "Hello, the app crashes.\n\nThanks",
            ),
            (
                "This Message Is From an External Sender\nThis message came from outside your organization.\n\nPlease call me back.",
                "Please call me back.",
            ),
            // Only a banner: kept, there is nothing else.
            ("EXTERNAL EMAIL", "EXTERNAL EMAIL"),
            // Further down it is the customer's words.
            (
                "Hi,\n\nour filter says external email.\n\nWhy?",
                "Hi,\n\nour filter says external email.\n\nWhy?",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(visible_text(body, None), want, "{body:?}");
        }
    }

    #[test]
    fn footers_after_the_signoff_go() {
        let body = "The export fails at 90%.\n\nRegards,\nAnn\nACME Ltd\n\nThis email and any attachments are confidential and intended solely for the addressee.\n\nFollow us on LinkedIn";
        assert_eq!(
            visible_text(body, None),
            "The export fails at 90%.\n\nRegards,\nAnn\nACME Ltd"
        );
        let no_signoff = "Follow us on LinkedIn, you said. Where?";
        assert_eq!(visible_text(no_signoff, None), no_signoff);
    }
}
