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

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment};
use serde::{Deserialize, Serialize};

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

/// What the layout needs besides the subject and the text, taken when the
/// notification is queued and kept with it (`outbox.layout`, JSON). The HTML
/// is drawn from these facts and the stored text when the mail is composed
/// ([`draw`]): the outbox holds a mail's words once, not again inside 3 KB of
/// markup, and queueing renders no HTML. The facts are those of the moment
/// of queueing (the status badge shows the status the text announces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub support_name: String,
    pub ticket: Option<TicketFacts>,
    /// Where the message the mail is about stands in the body (the text
    /// after the marker): byte offsets, start and end.
    pub message: Option<(usize, usize)>,
    /// The main link (the button's): the ticket's page or the password link.
    pub link: Option<String>,
}

/// The ticket line's facts: "[#42] Printer on fire" and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub heading: String,
    pub status: String,
    pub label: String,
}

impl Facts {
    /// The facts of a notification of `kind` rendered from `ctx` as `text`.
    pub fn new(kind: NotificationKind, ctx: &NoteContext, text: &str) -> Facts {
        let (_, body) = split_marker(text);
        let message = ctx
            .message
            .as_ref()
            .map(|m| m.text.trim())
            .filter(|m| !m.is_empty())
            .and_then(|m| find_paragraphs(body, m).map(|at| (at, at + m.len())));
        Facts {
            support_name: one_line(&ctx.support_name),
            ticket: ctx
                .ticket
                .as_ref()
                .filter(|_| shows_ticket(kind))
                .map(|t| TicketFacts {
                    heading: one_line(&format!("{} {}", t.tag, t.subject)),
                    status: t.status.clone(),
                    label: t.status_label.clone(),
                }),
            message,
            link: main_link(kind, ctx).map(str::to_owned),
        }
    }
}

impl Layout {
    /// The layout of a notification: its `subject` and `text` as the text
    /// template made them, and the facts taken then. An offset that does not
    /// fit the text (a row edited by hand) shows no message box, nothing worse.
    pub fn draw(facts: &Facts, subject: &str, text: &str) -> Layout {
        let (marker, body) = split_marker(text);
        let found = facts
            .message
            .filter(|&(start, end)| start <= end && body.get(start..end).is_some());
        Layout {
            lang: "en",
            title: one_line(subject),
            support_name: facts.support_name.clone(),
            marker,
            ticket: facts.ticket.as_ref().map(|t| TicketLine {
                heading: t.heading.clone(),
                badge: badge(&t.status, &t.label),
            }),
            blocks: blocks(body, found, facts.link.as_deref()),
        }
    }

    /// [`Facts::new`] and [`Layout::draw`] at once: what a mail queued now
    /// will look like when it is sent.
    #[cfg(test)]
    pub fn new(kind: NotificationKind, ctx: &NoteContext, subject: &str, text: &str) -> Layout {
        Layout::draw(&Facts::new(kind, ctx, text), subject, text)
    }
}

/// The reply marker, when the text starts with it on a line of its own,
/// and the body after it.
fn split_marker(text: &str) -> (Option<&'static str>, &str) {
    match text.strip_prefix(REPLY_MARKER) {
        Some(rest) if rest.is_empty() || rest.starts_with('\n') => (Some(REPLY_MARKER), rest),
        _ => (None, text),
    }
}

/// Why a layout could not be drawn: the built-in template itself failed.
#[derive(Debug, thiserror::Error)]
#[error("the mail layout {LAYOUT_NAME}: {0}")]
pub struct DrawError(String);

/// The layout's template, parsed once per process. Built in, not
/// overridable: the words are the operator's (the text templates), the
/// markup is ticketd's.
static LAYOUT_ENV: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    // minijinja's HTML escaping writes `/` as `&#x2f;`: correct, but it
    // would hide a password link's placeholder from the courier, which
    // fills it in the drawn HTML too.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::Html
            && !value.is_safe()
            && !value.is_none()
            && !value.is_undefined()
        {
            out.write_str(&escape(&value.to_string()))?;
            return Ok(());
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_template(LAYOUT_NAME, LAYOUT)
        .map_err(|e| e.to_string())?;
    Ok(env)
});

/// The HTML alternative of a mail: `facts` (as stored with it), its
/// subject and its text (before any password link is filled in).
pub fn draw(facts: &Facts, subject: &str, text: &str) -> Result<String, DrawError> {
    let env = LAYOUT_ENV.as_ref().map_err(|e| DrawError(e.clone()))?;
    env.get_template(LAYOUT_NAME)
        .and_then(|t| t.render(Layout::draw(facts, subject, text)))
        .map_err(|e| DrawError(e.to_string()))
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

/// The body (after the marker) as blocks: the message where it was found,
/// the paragraph before it as its lead if it ends with a colon, the main
/// link's own `Label: URL` paragraph as the button.
fn blocks(body: &str, found: Option<(usize, usize)>, link: Option<&str>) -> Vec<Block> {
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
        let m = "Hi <all>,\n\nit broke.";
        let found = find_paragraphs(&body, m).map(|at| (at, at + m.len()));
        let got = blocks(&body, found, Some(url));
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

    #[test]
    fn the_html_is_drawn_from_stored_facts_as_it_would_have_been_at_queueing() {
        let ctx = NoteContext {
            support_name: "Support".into(),
            ticket_url: Some("https://p.test/tickets/7".into()),
            ticket: Some(TicketView {
                id: 7,
                tag: "[#7]".into(),
                subject: "Help".into(),
                status: "open".into(),
                status_label: "Open".into(),
                priority: "normal".into(),
                category: None,
            }),
            message: Some(MessageView {
                author: "Ann".into(),
                text: "It broke <again>.\n".into(),
            }),
            ..Default::default()
        };
        let text = format!(
            "{REPLY_MARKER}\n\nAnn wrote:\n\nIt broke <again>.\n\nView your ticket: https://p.test/tickets/7\n"
        );
        let facts = Facts::new(NotificationKind::TicketUpdated, &ctx, &text);
        let stored = serde_json::to_string(&facts).expect("json");
        let back: Facts = serde_json::from_str(&stored).expect("read back");
        assert_eq!(back, facts);
        let html = draw(&back, "[#7] Help", &text).expect("drawn");
        assert!(
            html.contains("It broke &lt;again&gt;.</p>\n</td></tr></table>"),
            "{html}"
        );
        assert!(html.contains(">View your ticket</a>"), "{html}");
        assert!(html.contains(">Open</span>"), "{html}");
        // Offsets that do not fit the text draw no message box, and no panic.
        for bad in [(3, 1), (0, text.len() + 1), (1, 2)] {
            let odd = Facts {
                message: Some(bad),
                ..facts.clone()
            };
            let html = draw(&odd, "[#7] Help", "\u{e9}t\u{e9}").expect("drawn anyway");
            assert!(!html.contains("border-left:4px"), "{bad:?}: {html}");
        }
    }

    #[test]
    fn a_password_link_placeholder_survives_drawing_unescaped() {
        let link = crate::store::tokens::placeholder_link("https://p.test");
        let ctx = NoteContext {
            support_name: "Support".into(),
            setup_url: Some(link.clone()),
            ..Default::default()
        };
        let text = format!("Hello,\n\nChoose your password: {link}\n");
        let facts = Facts::new(NotificationKind::PasswordSetup, &ctx, &text);
        let html = draw(&facts, "Set your password", &text).expect("drawn");
        assert!(crate::store::tokens::has_placeholder(&html), "{html}");
        let filled = crate::store::tokens::fill_placeholder(&html, "abc123");
        assert!(
            filled.contains("/password/setup?token=abc123\""),
            "{filled}"
        );
    }
}
