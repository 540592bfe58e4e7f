//! Golden files: each notification kind, rendered from the built-in
//! template and composed into the exact bytes that go over SMTP. A change to
//! a template, a header or the HTML alternative shows up here as a diff;
//! `UPDATE_GOLDEN=1 cargo test --test integration golden` rewrites the files
//! after a deliberate change (then review the diff).

use std::path::PathBuf;

use ticketd::delivery::compose::{compose, Identity, Outgoing, ThreadFacts};
use ticketd::domain::address::Addressing;
use ticketd::domain::model::{NotificationKind, TicketId};
use ticketd::domain::quotes::REPLY_MARKER;
use ticketd::domain::time::Timestamp;
use ticketd::render::{ticket_url, MessageView, NoteContext, Renderer, TicketView};

const PORTAL: &str = "https://support.example.test";

/// Whether a mail of `kind` can be about a ticket: a password reset is
/// asked for on the portal, a refusal answers a sender who may see none.
fn has_ticket(kind: NotificationKind) -> bool {
    !matches!(
        kind,
        NotificationKind::PasswordReset | NotificationKind::Refused
    )
}

fn context(kind: NotificationKind) -> NoteContext {
    let ctx = NoteContext {
        support_name: "Example Support".into(),
        support_address: "support@example.test".into(),
        portal_url: PORTAL.into(),
        recipient: "ann@customer.test".into(),
        ticket_url: Some(ticket_url(PORTAL, 42, kind)),
        marker: REPLY_MARKER,
        ticket: Some(TicketView {
            id: 42,
            tag: "[#42]".into(),
            // A customer's subject that tries to add a header.
            subject: "Printer on fire\r\nBcc: everyone@evil.test".into(),
            status: if kind == NotificationKind::TicketUpdated {
                "pending".into()
            } else {
                "open".into()
            },
            status_label: if kind == NotificationKind::TicketUpdated {
                "Awaiting your reply".into()
            } else {
                "Open".into()
            },
            priority: "urgent".into(),
            category: Some("hardware".into()),
        }),
        message: Some(MessageView {
            author: if kind == NotificationKind::TicketUpdated {
                "Alice Agent".into()
            } else {
                "Ann Müller".into()
            },
            text: "The printer on floor 2 is smoking.\nSee https://status.customer.test/p?id=7&x=1 — thanks!".into(),
        }),
        warning: None,
        new_ticket: kind == NotificationKind::AgentAlert,
        internal: false,
        setup_url: Some(format!(
            "https://support.example.test/password/setup?token={}",
            "ab".repeat(32)
        )),
        expires_hours: 72,
        subject: Some("Printer on fire".into()),
        actor: (kind == NotificationKind::TicketAssigned).then(|| "Bea Agent".into()),
    };
    if has_ticket(kind) {
        ctx
    } else {
        NoteContext {
            ticket: None,
            ticket_url: None,
            ..ctx
        }
    }
}

fn composed(kind: NotificationKind) -> String {
    composed_with(kind, &context(kind))
}

fn composed_with(kind: NotificationKind, ctx: &NoteContext) -> String {
    let renderer = Renderer::new(None).expect("built-in templates");
    let out = renderer.render(kind, ctx).expect("renders");
    let identity = Identity::new(
        "Example Support",
        "support@example.test",
        Addressing::new("support@example.test", &[], b"golden-secret".to_vec()),
    )
    .expect("identity");
    let row = Outgoing {
        id: 7,
        kind,
        to: vec!["ann@customer.test".into()],
        subject: out.subject,
        body_text: out.text,
        // As queued since schema v13: the HTML is drawn when composed.
        body_html: None,
        layout: Some(serde_json::to_string(&out.layout).expect("layout facts")),
        message_id: format!("0123456789abcdef01234567.42.{kind}@example.test"),
        in_reply_to: Some("ann-2@customer.test".into()),
        references: vec!["first@customer.test".into(), "ann-2@customer.test".into()],
        ticket: Some(ThreadFacts {
            id: TicketId(42),
            subject: "Printer on fire".into(),
            created_at: Timestamp(1_796_000_000),
        }),
        created_at: Timestamp(1_796_003_600),
        attempts: 0,
    };
    let msg = compose(&row, &identity).expect("composes");
    String::from_utf8(msg.formatted()).expect("ASCII on the wire")
}

#[test]
fn every_kind_matches_its_golden_file() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for kind in NotificationKind::ALL {
        let got = composed(*kind);
        let path = dir.join(format!("{kind}.eml"));
        if update {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            stale.push(format!("{}:\n{got}", path.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "rendered mail differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n{}",
        stale.join("\n")
    );
}

#[test]
fn no_customer_text_becomes_a_header() {
    for kind in NotificationKind::ALL {
        let mail = composed(*kind);
        let head = mail.split("\r\n\r\n").next().expect("head");
        for line in head.lines() {
            assert!(
                !line.to_ascii_lowercase().starts_with("bcc:"),
                "{kind}: {line}"
            );
        }
        assert_eq!(
            mail.matches("\r\nTo: ").count() + usize::from(mail.starts_with("To: ")),
            1,
            "{kind}: one To line"
        );
    }
}

#[test]
fn the_reply_address_is_the_recipients_personal_one() {
    let mail = composed(NotificationKind::TicketUpdated);
    let reply_to = mail
        .lines()
        .find(|l| l.starts_with("Reply-To:"))
        .expect("Reply-To");
    let addressing = Addressing::new("support@example.test", &[], b"golden-secret".to_vec());
    let to = mail
        .lines()
        .find_map(|l| l.strip_prefix("To: "))
        .expect("To");
    let personal = addressing.personal_address(TicketId(42), to.trim());
    assert!(reply_to.contains(&personal), "{reply_to} for {to}");
    // Not the per-ticket form, and not someone else's key.
    assert!(!reply_to.contains(&addressing.reply_address(TicketId(42))));
    assert!(!reply_to.contains(&addressing.personal_address(TicketId(42), "mallory@evil.example")));
}

/// The text and the HTML part of a composed mail, decoded.
fn parts(mail: &str) -> (String, String) {
    let msg = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .expect("parses");
    let text = msg.body_text(0).expect("a text part").into_owned();
    let html = msg.body_html(0).expect("an HTML part").into_owned();
    assert_ne!(text, html, "two parts");
    (text, html)
}

#[test]
fn customer_mails_lead_to_the_ticket_page_and_agent_mails_to_the_desk() {
    use NotificationKind::*;
    let portal = format!("{PORTAL}/tickets/42");
    let desk = format!("{PORTAL}/desk/tickets/42");
    // (kind, the link, the HTML's button or None when the button is the
    // password link)
    let table = [
        (TicketReceived, &portal, Some("View your ticket")),
        (TicketUpdated, &portal, Some("View your ticket")),
        (PasswordSetup, &portal, None),
        (AgentAlert, &desk, Some("Open in the desk")),
        (UrgentPage, &desk, Some("Open in the desk")),
    ];
    for (kind, url, button) in table {
        let (text, html) = parts(&composed(kind));
        assert!(text.contains(url.as_str()), "{kind} text: {text}");
        assert!(
            html.contains(&format!("href=\"{url}\"")),
            "{kind} HTML: {html}"
        );
        let other = if url == &portal { &desk } else { &portal };
        assert!(!text.contains(&format!("{other}\n")), "{kind}: {text}");
        if let Some(label) = button {
            let at = html.find(&format!("href=\"{url}\"")).expect("link");
            let tail = &html[at..];
            let shown =
                &tail[tail.find('>').expect("tag end") + 1..tail.find("</a>").expect("end")];
            assert_eq!(shown, label, "{kind}");
        }
    }
    // A password mail's button is its password link.
    let (_, html) = parts(&composed(PasswordSetup));
    assert!(html.contains("/password/setup?token=abab"), "{html}");
    assert!(html.contains(">Choose your password</a>"), "{html}");
}

#[test]
fn the_html_part_escapes_what_customers_wrote() {
    let kind = NotificationKind::TicketUpdated;
    let mut ctx = context(kind);
    if let Some(t) = ctx.ticket.as_mut() {
        t.subject = "<script>alert(\"subject\")</script>".into();
    }
    ctx.message = Some(MessageView {
        author: "Eve <b>Evil</b> <eve@evil.test>".into(),
        text: "<img src=x onerror=\"alert(1)\"> & 'quotes'\n<a href=\"https://evil.test\">x</a>"
            .into(),
    });
    let (text, html) = parts(&composed_with(kind, &ctx));
    assert!(
        text.contains("<img src=x onerror"),
        "the text part is text: {text}"
    );
    for raw in ["<script", "<img", "<b>", "<eve@", "\">x</a>"] {
        assert!(!html.contains(raw), "{raw} in {html}");
    }
    for escaped in [
        "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;",
        "Eve &lt;b&gt;Evil&lt;/b&gt; &lt;eve@evil.test&gt; wrote:",
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;quotes&#39;<br>",
        "&lt;a href=&quot;",
    ] {
        assert!(html.contains(escaped), "{escaped} not in {html}");
    }
}

#[test]
fn the_marker_is_the_first_line_of_the_text_and_the_first_words_of_the_html() {
    use NotificationKind::*;
    for kind in [TicketReceived, TicketUpdated, AgentAlert, UrgentPage] {
        let (text, html) = parts(&composed(kind));
        assert_eq!(text.lines().next(), Some(REPLY_MARKER), "{kind}: {text}");
        assert!(
            html.contains(&format!(">{REPLY_MARKER}<")),
            "{kind}: {html}"
        );
        let read = ticketd::domain::html::html_to_text(&html);
        let first = read.lines().map(str::trim).find(|l| !l.is_empty());
        assert_eq!(first, Some(REPLY_MARKER), "{kind}: {read}");
    }
}

#[test]
fn a_reply_above_our_html_is_cut_to_the_customers_words() {
    let (_, html) = parts(&composed(NotificationKind::TicketUpdated));
    let start = html.find("<body").expect("body");
    let start = start + html[start..].find('>').expect("body tag") + 1;
    let ours = &html[start..html.find("</body>").expect("body end")];
    let gmail = format!(
        "<div dir=\"ltr\">It works again, thanks!</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, 30 Nov 2026 at 01:53, Example Support &lt;<a href=\"mailto:support@example.test\">support@example.test</a>&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">{ours}</blockquote></div>"
    );
    // A client that marks nothing: the marker cuts.
    let unmarked = format!("<p>It works again, thanks!</p>{ours}");
    for (client, reply) in [("gmail", gmail), ("unmarked", unmarked)] {
        assert_eq!(
            ticketd::domain::html::html_reply_text(&reply),
            "It works again, thanks!",
            "{client}"
        );
    }
}
