//! The HTML alternative of a notification: a mail layout (`mail.html`:
//! tables, inline styles, at most 600 px wide) around the words of the text
//! part. The text template stays the one source of the words; the layout
//! adds what the context knows — the support name, the ticket and its status
//! as a badge — and shows the text's parts for what they are:
//!
//! - the "reply above this line" marker, first, as in the text (a reply
//!   written above our quoted HTML is cut there, DESIGN §4);
//! - the message the mail is about, found in the text by its exact words,
//!   in a quote box, with the line that introduces it ("Ann wrote:") bold;
//! - the mail's main link as a button: a paragraph of its own that reads
//!   `Label: URL`, where URL is the ticket's page (or the password link),
//!   becomes a button saying "Label";
//! - every other paragraph as written, line breaks kept, links clickable.
//!
//! Everything from mail or customers is escaped here or by the template.

use serde::Serialize;

use crate::domain::model::NotificationKind;
use crate::domain::normalize::one_line;
use crate::domain::quotes::REPLY_MARKER;
use crate::render::NoteContext;

/// The layout's template name (autoescaped: it ends in `.html`).
pub const LAYOUT_NAME: &str = "mail.html";

/// The layout, built in.
pub const LAYOUT: &str = include_str!("mail.html");

/// What the layout shows.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub lang: &'static str,
    pub title: String,
    pub support_name: String,
    pub marker: Option<&'static str>,
    pub ticket: Option<TicketLine>,
    pub blocks: Vec<Block>,
}

/// The ticket the mail is about: "[#42] Printer on fire" and its status.
#[derive(Debug, Serialize)]
pub struct TicketLine {
    pub heading: String,
    pub badge: Badge,
}

/// A status as a coloured badge; the word says it, the colour only helps.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub color: &'static str,
    pub background: &'static str,
}

/// One part of the mail's content, in the text's order. `html` fields hold
/// escaped markup made here (text, `<br>`, links) and are printed as is.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        html: String,
    },
    /// The line that introduces the message ("Ann Smith <ann@…> wrote:").
    Lead {
        html: String,
    },
    /// The message the mail is about, one entry per paragraph.
    Message {
        paragraphs: Vec<String>,
    },
    /// The main link, as a button.
    Action {
        label: String,
        url: String,
    },
}

impl Layout {
    /// The layout of a rendered notification: `subject` and `text` as the
    /// text template made them from `ctx`.
    pub fn new(kind: NotificationKind, ctx: &NoteContext, subject: &str, text: &str) -> Layout {
        let (marker, body) = match text.strip_prefix(REPLY_MARKER) {
            Some(rest) if rest.is_empty() || rest.starts_with('\n') => (Some(REPLY_MARKER), rest),
            _ => (None, text),
        };
        let message = ctx
            .message
            .as_ref()
            .map(|m| m.text.trim())
            .filter(|m| !m.is_empty());
        let ticket = ctx
            .ticket
            .as_ref()
            .filter(|_| shows_ticket(kind))
            .map(|t| TicketLine {
                heading: one_line(&format!("{} {}", t.tag, t.subject)),
                badge: badge(&t.status, &t.status_label),
            });
        Layout {
            lang: "en",
            title: one_line(subject),
            support_name: one_line(&ctx.support_name),
            marker,
            ticket,
            blocks: blocks(body, message, main_link(kind, ctx)),
        }
    }
}

/// Whether the mail shows the ticket and its status: not a password mail
/// (it is about the account), never a refusal (its sender may not see the
/// ticket).
fn shows_ticket(kind: NotificationKind) -> bool {
    !kind.carries_password_link() && kind != NotificationKind::Refused
}

/// The link the button leads to: the password link in a password mail, the
/// ticket's page (or the desk's, for agents) in the others.
fn main_link(kind: NotificationKind, ctx: &NoteContext) -> Option<&str> {
    if kind.carries_password_link() {
        ctx.setup_url.as_deref()
    } else {
        ctx.ticket_url.as_deref()
    }
}

/// The badge of a status (`open`, `pending`, `solved`, `closed`); dark
/// text on a light tint, at least 4.5:1 for every one.
pub fn badge(status: &str, label: &str) -> Badge {
    let (color, background) = match status {
        "open" => ("#1e40af", "#dbeafe"),
        "pending" => ("#92400e", "#fef3c7"),
        "solved" => ("#166534", "#dcfce7"),
        _ => ("#374151", "#e5e7eb"),
    };
    Badge {
        label: one_line(label),
        color,
        background,
    }
}

/// The body (after the marker) as blocks: the message found by its words,
/// the paragraph before it as its lead if it ends with a colon, the main
/// link's own `Label: URL` paragraph as the button.
fn blocks(body: &str, message: Option<&str>, link: Option<&str>) -> Vec<Block> {
    let found = message.and_then(|m| find_paragraphs(body, m).map(|at| (at, at + m.len())));
    let (before, inner, after) = match found {
        Some((start, end)) => (&body[..start], Some(&body[start..end]), &body[end..]),
        None => (body, None, ""),
    };
    let mut out: Vec<Block> = Vec::new();
    let mut action_done = false;
    let mut plain = |para: &[&str], out: &mut Vec<Block>| match link
        .filter(|_| !action_done)
        .and_then(|url| action(para, url))
    {
        Some(a) => {
            action_done = true;
            out.push(a);
        }
        None => out.push(Block::Paragraph {
            html: paragraph_html(para),
        }),
    };
    let mut head = paragraphs(before);
    let lead = match inner {
        Some(_)
            if head
                .last()
                .is_some_and(|p| p.join("\n").trim_end().ends_with(':')) =>
        {
            head.pop()
        }
        _ => None,
    };
    for p in &head {
        plain(p, &mut out);
    }
    if let Some(lead) = lead {
        out.push(Block::Lead {
            html: paragraph_html(&lead),
        });
    }
    if let Some(inner) = inner {
        out.push(Block::Message {
            paragraphs: paragraphs(inner)
                .iter()
                .map(|p| paragraph_html(p))
                .collect(),
        });
    }
    for p in &paragraphs(after) {
        plain(p, &mut out);
    }
    out
}

/// Where `m` stands in `body` as whole paragraphs: a blank line (or the
/// start) before it, a blank line (or the end) after it. A short message
/// ("a") must not be found inside the line that introduces it.
fn find_paragraphs(body: &str, m: &str) -> Option<usize> {
    let blank_between = |gap: &str| gap.trim().is_empty() && gap.matches('\n').count() >= 2;
    body.match_indices(m).map(|(at, _)| at).find(|&at| {
        let head = body[..at].trim_end();
        let tail = &body[at + m.len()..];
        let tail_gap = &tail[..tail.len() - tail.trim_start().len()];
        (head.is_empty() || blank_between(&body[head.len()..at]))
            && (tail.trim().is_empty() || blank_between(tail_gap))
    })
}

/// A paragraph that is one line `Label: URL`, `URL` being the main link.
fn action(para: &[&str], url: &str) -> Option<Block> {
    let [line] = para else { return None };
    let label = line
        .trim()
        .strip_suffix(url)?
        .trim_end()
        .strip_suffix(':')?;
    let label = one_line(label);
    (!label.is_empty()).then(|| Block::Action {
        label,
        url: url.to_owned(),
    })
}

/// `s` as paragraphs: runs of lines between blank lines, each line with its
/// trailing whitespace removed.
fn paragraphs(s: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in s.lines().map(str::trim_end) {
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(line);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A paragraph's lines, escaped, joined by `<br>`.
fn paragraph_html(lines: &[&str]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>\n");
        }
        push_line(&mut out, line);
    }
    out
}

/// The plain HTML of a text body, for an outbox row queued before the
/// layout existed: escaped, paragraphs kept, links clickable, the marker
/// greyed.
pub fn from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2 + 200);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family:sans-serif;font-size:14px;line-height:1.4\">\n");
    for para in paragraphs(text) {
        if para == [REPLY_MARKER] {
            out.push_str("<p style=\"color:#888;font-size:12px\">");
            out.push_str(&escape(REPLY_MARKER));
            out.push_str("</p>\n");
            continue;
        }
        out.push_str("<p>");
        out.push_str(&paragraph_html(&para));
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
            .trim_end_matches(['.', ',', ')', ';', ':', ']'])
            .len();
        let url = escape(&link[..end]);
        out.push_str(&format!(
            "<a href=\"{url}\" style=\"color:#1d4ed8;text-decoration:underline;\">{url}</a>"
        ));
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

/// HTML-escapes `& < > " '` (not `/`: links stay readable, and a password
/// link's placeholder stays findable in the queued HTML).
pub fn escape(s: &str) -> String {
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
    use crate::render::{MessageView, TicketView};

    fn para(s: &str) -> Block {
        Block::Paragraph { html: s.into() }
    }

    #[test]
    fn escapes_keeps_paragraphs_and_links() {
        let html = from_text(&format!(
            "{REPLY_MARKER}\n\nHello <b>Ann</b> & co,\nsee https://x.test/p?a=1&b=2.\n\n  indented"
        ));
        assert!(html.contains("Hello &lt;b&gt;Ann&lt;/b&gt; &amp; co,<br>\nsee <a href=\"https://x.test/p?a=1&amp;b=2\" style=\"color:#1d4ed8;text-decoration:underline;\">https://x.test/p?a=1&amp;b=2</a>.</p>"), "{html}");
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

    #[test]
    fn the_text_becomes_lead_message_button_and_paragraphs() {
        let url = "https://p.test/tickets/7";
        let body = format!(
            "\n\nAnn wrote:\n\nHi <all>,\n\nit broke.\n\nTicket [#7] is now: Open.\n\nView your ticket: {url}\n\nSupport\n"
        );
        let got = blocks(&body, Some("Hi <all>,\n\nit broke."), Some(url));
        assert_eq!(
            got,
            vec![
                Block::Lead {
                    html: "Ann wrote:".into()
                },
                Block::Message {
                    paragraphs: vec!["Hi &lt;all&gt;,".into(), "it broke.".into()]
                },
                para("Ticket [#7] is now: Open."),
                Block::Action {
                    label: "View your ticket".into(),
                    url: url.into()
                },
                para("Support"),
            ]
        );
    }

    #[test]
    fn a_message_is_found_only_as_whole_paragraphs() {
        // (body, message, where)
        let table: &[(&str, &str, Option<usize>)] = &[
            ("Alan wrote:\n\na\n", "a", Some(13)),
            ("a\n\nb", "a", Some(0)),
            ("Anna\n\nx", "a", None),
            ("x\na\n", "a", None),
            ("", "a", None),
        ];
        for (body, m, want) in table {
            assert_eq!(find_paragraphs(body, m), *want, "{body:?} {m:?}");
        }
    }

    #[test]
    fn only_a_label_colon_link_paragraph_is_a_button() {
        let url = "https://p.test/tickets/7";
        let table: &[(&[&str], bool)] = &[
            (&["View your ticket: https://p.test/tickets/7"], true),
            (&["https://p.test/tickets/7"], false),
            (&["See https://p.test/tickets/7"], false),
            (&["View: https://p.test/tickets/77"], false),
            (&["a", "View: https://p.test/tickets/7"], false),
        ];
        for (p, want) in table {
            assert_eq!(action(p, url).is_some(), *want, "{p:?}");
        }
    }

    #[test]
    fn the_layout_shows_the_ticket_but_not_in_password_mails_or_refusals() {
        let ctx = NoteContext {
            support_name: "Support".into(),
            ticket: Some(TicketView {
                id: 7,
                tag: "[#7]".into(),
                subject: "Help\r\nme".into(),
                status: "solved".into(),
                status_label: "Solved".into(),
                priority: "normal".into(),
                category: None,
            }),
            message: Some(MessageView {
                author: "Ann".into(),
                text: "Thanks".into(),
            }),
            ..Default::default()
        };
        let text = format!("{REPLY_MARKER}\n\nAnn wrote:\n\nThanks\n");
        let l = Layout::new(NotificationKind::TicketUpdated, &ctx, "[#7] Help", &text);
        assert_eq!(l.marker, Some(REPLY_MARKER));
        let t = l.ticket.expect("ticket line");
        assert_eq!(t.heading, "[#7] Help me");
        assert_eq!(t.badge, badge("solved", "Solved"));
        assert_eq!(l.blocks.len(), 2);
        for kind in [NotificationKind::PasswordSetup, NotificationKind::Refused] {
            let l = Layout::new(kind, &ctx, "s", "Hello");
            assert!(l.ticket.is_none() && l.marker.is_none(), "{kind}");
        }
    }
}
