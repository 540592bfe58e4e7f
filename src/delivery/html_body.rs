//! The HTML alternative of a notification, made from its text body: escaped,
//! paragraphs kept, links clickable, the "reply above this line" marker
//! greyed (it stays in the text, so it survives in an HTML reply's quote and
//! ingest can cut there).

use crate::domain::quotes::REPLY_MARKER;

pub fn from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2 + 200);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family:sans-serif;font-size:14px;line-height:1.4\">\n");
    for para in text
        .split("\n\n")
        .map(str::trim_end)
        .filter(|p| !p.trim().is_empty())
    {
        if para.trim() == REPLY_MARKER {
            out.push_str("<p style=\"color:#888;font-size:12px\">");
            out.push_str(&escape(REPLY_MARKER));
            out.push_str("</p>\n");
            continue;
        }
        out.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            push_line(&mut out, line);
        }
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// One line: escaped, leading spaces kept, `http(s)://` links made links.
fn push_line(out: &mut String, line: &str) {
    let indent = line.len() - line.trim_start_matches(' ').len();
    for _ in 0..indent {
        out.push_str("&nbsp;");
    }
    let mut rest = &line[indent..];
    while let Some(start) = find_link(rest) {
        out.push_str(&escape(&rest[..start]));
        let link = &rest[start..];
        let end = link
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(link.len());
        // A sentence's full stop or comma is not part of the address.
        let end = link[..end]
            .trim_end_matches(['.', ',', ')', ';', ':'])
            .len();
        let url = escape(&link[..end]);
        out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
        rest = &link[end..];
    }
    out.push_str(&escape(rest));
}

fn find_link(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_keeps_paragraphs_and_links() {
        let html = from_text(&format!(
            "{REPLY_MARKER}\n\nHello <b>Ann</b> & co,\nsee https://x.test/p?a=1&b=2.\n\n  indented"
        ));
        assert!(html.contains("Hello &lt;b&gt;Ann&lt;/b&gt; &amp; co,<br>\nsee <a href=\"https://x.test/p?a=1&amp;b=2\">https://x.test/p?a=1&amp;b=2</a>.</p>"), "{html}");
        assert!(html.contains("<p style=\"color:#888;font-size:12px\">##- Please type your reply above this line -##</p>"), "{html}");
        assert!(html.contains("<p>&nbsp;&nbsp;indented</p>"), "{html}");
        assert!(!html.contains("<b>"), "customer text never becomes markup");
    }

    #[test]
    fn ingest_reads_the_html_back_to_the_same_words() {
        let text = "Dear Ann,\n\nyour printer works again.\nhttps://x.test/kb/1";
        let back = crate::domain::html::html_to_text(&from_text(text));
        for w in [
            "Dear Ann,",
            "your printer works again.",
            "https://x.test/kb/1",
        ] {
            assert!(back.contains(w), "{w} in {back:?}");
        }
    }
}
