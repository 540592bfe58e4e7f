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
use ticketd::render::{MessageView, NoteContext, Renderer, TicketView};

fn context(kind: NotificationKind) -> NoteContext {
    NoteContext {
        support_name: "Example Support".into(),
        support_address: "support@example.test".into(),
        portal_url: "https://support.example.test".into(),
        recipient: "ann@customer.test".into(),
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
    }
}

fn composed(kind: NotificationKind) -> String {
    let renderer = Renderer::new(None).expect("built-in templates");
    let (subject, body) = renderer.render(kind, &context(kind)).expect("renders");
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
        subject,
        body_text: body,
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
