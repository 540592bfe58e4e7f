//! The parts of the portal's pages that repeat hundreds of times — the
//! rows of the ticket list, the messages of a conversation — written
//! straight into the page.
//!
//! Why not in the templates: minijinja turned every row and message into a
//! map of values and looked each field up by name, with the allocations
//! that go with it: a quarter of an org admin's list and a fifth of a
//! 200-message ticket page under load (docs/portal-bench.md). The markup is
//! the one the templates had (the tests check it against them); the pages
//! print it as it is, so everything from mail or a form is escaped here,
//! by [`escape_into`].

use std::fmt::Write;

use super::db::{MessageView, TicketRowView};

/// The `<tr>` of every row, in order.
pub fn ticket_rows(rows: &[TicketRowView]) -> String {
    let mut out = String::with_capacity(rows.len() * 1_024);
    for t in rows {
        let id = t.id;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "<tr>\n    <td><a href=\"/tickets/{id}\">#{id}</a></td>\n    <td><a href=\"/tickets/{id}\">"
        );
        escape_into(&mut out, &t.subject);
        out.push_str("</a>");
        if let Some(r) = t.requester.as_deref().filter(|r| !r.is_empty()) {
            out.push_str("<br><span class=\"muted small\">");
            escape_into(&mut out, r);
            out.push_str("</span>");
        }
        out.push_str("</td>\n    <td class=\"desc\">");
        escape_into(&mut out, &t.description);
        out.push_str("</td>\n    <td><time datetime=\"");
        escape_into(&mut out, &t.created_iso);
        out.push_str("\">");
        escape_into(&mut out, &t.created);
        out.push_str("</time></td>\n    <td>");
        escape_into(&mut out, or_dash(t.category.as_deref()));
        // Status and priority are the enums' own words, never input.
        let _ = write!(
            out,
            "</td>\n    <td><span class=\"badge status-{}\">{}</span></td>\n    <td><span class=\"badge priority-{}\">{}</span></td>\n    <td>{}</td>\n    <td class=\"assignee\">",
            t.status, t.status_label, t.priority, t.priority_label, t.days_open
        );
        escape_into(&mut out, or_dash(t.assignee.as_deref()));
        out.push_str("</td>\n  </tr>\n");
    }
    out
}

/// The `<article>` of every message of ticket `ticket`, in order.
pub fn conversation(ticket: i64, messages: &[MessageView]) -> String {
    let size: usize = messages.iter().map(|m| m.text.len() + 400).sum();
    let mut out = String::with_capacity(size);
    for m in messages {
        out.push_str("<article class=\"message");
        if m.from_support {
            out.push_str(" from-support");
        }
        out.push_str("\">\n    <header><strong>");
        escape_into(&mut out, &m.author);
        out.push_str("</strong> <time datetime=\"");
        escape_into(&mut out, &m.date_iso);
        out.push_str("\">");
        escape_into(&mut out, &m.date);
        out.push_str("</time>");
        if m.source == "web" {
            out.push_str(" <span class=\"muted small\">via the portal</span>");
        }
        out.push_str("</header>\n    <div class=\"text\">");
        escape_into(&mut out, &m.text);
        out.push_str("</div>\n    ");
        if !m.attachments.is_empty() {
            out.push_str("<ul class=\"attachments\">\n      ");
            for a in &m.attachments {
                let _ = write!(
                    out,
                    "<li><a href=\"/tickets/{ticket}/attachments/{}\">",
                    a.id
                );
                escape_into(&mut out, &a.filename);
                out.push_str("</a> <span class=\"muted small\">");
                escape_into(&mut out, &a.size_label);
                out.push_str("</span></li>");
            }
            out.push_str("\n    </ul>\n    ");
        }
        out.push_str("</article>\n  ");
    }
    out
}

/// An empty or missing value shows as a dash, as the template's `or "—"`.
fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("—")
}

/// Appends `s` escaped as minijinja escapes the rest of the page
/// (`& < > " ' /`: safe in text and in a quoted attribute), copying the
/// runs between them at once.
pub fn escape_into(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            b'/' => "&#x2f;",
            _ => continue,
        };
        // `i` is an ASCII byte: both ends are character boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TicketRowView {
        TicketRowView {
            id: 42,
            subject: "<script>alert('x')</script> & \"more\"".into(),
            description: "Hello <b>there</b>".into(),
            created: "2026-12-01".into(),
            created_iso: "2026-12-01T10:00:00Z".into(),
            category: None,
            status: "open",
            status_label: "Open",
            priority: "high",
            priority_label: "High",
            days_open: 3,
            assignee: Some("Eve <eve@example.test>".into()),
            requester: Some("bob@acme.test".into()),
        }
    }

    #[test]
    fn everything_from_input_is_escaped() {
        let html = ticket_rows(&[row()]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains(
                "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;more&quot;"
            ),
            "{html}"
        );
        assert!(html.contains("Eve &lt;eve@example.test&gt;"), "{html}");
    }

    #[test]
    fn a_row_has_its_links_cells_and_dashes() {
        let html = ticket_rows(&[row()]);
        assert_eq!(html.matches("<tr>").count(), 1);
        assert_eq!(html.matches("<td").count(), 9, "{html}");
        assert_eq!(html.matches("href=\"/tickets/42\"").count(), 2);
        assert!(html.contains("<td>—</td>"), "no category: {html}");
        assert!(html.contains("status-open\">Open<"), "{html}");
        assert!(html.contains("<td>3</td>"), "days open: {html}");
        assert!(html.contains("<span class=\"muted small\">bob@acme.test</span>"));
        let mine = TicketRowView {
            requester: None,
            assignee: Some(String::new()),
            ..row()
        };
        let html = ticket_rows(&[mine]);
        assert!(!html.contains("muted small"), "{html}");
        assert!(html.contains("<td class=\"assignee\">—</td>"), "{html}");
    }

    /// The rows as the template wrote them before.
    const TEMPLATE_ROWS: &str = r#"{% for t in tickets %}<tr>
    <td><a href="/tickets/{{ t.id }}">#{{ t.id }}</a></td>
    <td><a href="/tickets/{{ t.id }}">{{ t.subject }}</a>{% if t.requester %}<br><span class="muted small">{{ t.requester }}</span>{% endif %}</td>
    <td class="desc">{{ t.description }}</td>
    <td><time datetime="{{ t.created_iso }}">{{ t.created }}</time></td>
    <td>{{ t.category or "—" }}</td>
    <td><span class="badge status-{{ t.status }}">{{ t.status_label }}</span></td>
    <td><span class="badge priority-{{ t.priority }}">{{ t.priority_label }}</span></td>
    <td>{{ t.days_open }}</td>
    <td class="assignee">{{ t.assignee or "—" }}</td>
  </tr>
{% endfor %}"#;

    #[test]
    fn the_rows_are_what_the_template_wrote() {
        let mut env = minijinja::Environment::new();
        env.add_template("rows.html", TEMPLATE_ROWS)
            .expect("template");
        let rows = vec![
            row(),
            TicketRowView {
                id: 7,
                subject: "a/b & c's \"d\"".into(),
                category: Some("Billing & <VAT>".into()),
                requester: Some(String::new()),
                assignee: None,
                description: String::new(),
                ..row()
            },
        ];
        let want = env
            .get_template("rows.html")
            .and_then(|t| t.render(minijinja::context! { tickets => rows }))
            .expect("render");
        assert_eq!(ticket_rows(&rows), want);
    }

    /// The conversation as the template wrote it before.
    const TEMPLATE_CONVERSATION: &str = r#"{% for m in t.messages %}<article class="message{% if m.from_support %} from-support{% endif %}">
    <header><strong>{{ m.author }}</strong> <time datetime="{{ m.date_iso }}">{{ m.date }}</time>{% if m.source == "web" %} <span class="muted small">via the portal</span>{% endif %}</header>
    <div class="text">{{ m.text }}</div>
    {% if m.attachments %}<ul class="attachments">
      {% for a in m.attachments %}<li><a href="/tickets/{{ t.id }}/attachments/{{ a.id }}">{{ a.filename }}</a> <span class="muted small">{{ a.size_label }}</span></li>{% endfor %}
    </ul>
    {% endif %}</article>
  {% endfor %}"#;

    #[test]
    fn the_conversation_is_what_the_template_wrote() {
        use super::super::db::AttachmentView;
        let message =
            |author: &str, support: bool, source: &'static str, files: usize| MessageView {
                author: author.into(),
                from_support: support,
                date: "1 Dec 2026, 10:00 UTC".into(),
                date_iso: "2026-12-01T10:00:00Z".into(),
                text: "Hello <b>there</b>,\nsee a/b & 'c'".into(),
                source,
                attachments: (0..files)
                    .map(|k| AttachmentView {
                        id: 30 + k as i64,
                        filename: format!("report <{k}>.pdf"),
                        size_label: "12 KB".into(),
                    })
                    .collect(),
            };
        let messages = vec![
            message("Ann <ann@acme.test>", false, "email", 0),
            message("Example Support", true, "web", 2),
            message("", false, "web", 1),
        ];
        let mut env = minijinja::Environment::new();
        env.add_template("c.html", TEMPLATE_CONVERSATION)
            .expect("template");
        let want = env
            .get_template("c.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    t => minijinja::context! { id => 9, messages => messages },
                })
            })
            .expect("render");
        assert_eq!(conversation(9, &messages), want);
    }

    #[test]
    fn escaping_keeps_other_text_whole() {
        let mut out = String::new();
        for s in ["", "plain", "é漢字 — ok", "&&", "a'b\"c<d>e&f/g"] {
            out.clear();
            escape_into(&mut out, s);
            let back = out
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&#x2f;", "/")
                .replace("&amp;", "&");
            assert_eq!(back, s);
        }
    }
}
