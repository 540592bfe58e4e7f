//! The portal's core, called as the web layer calls it: a web reply or a
//! web ticket is a message (source web, verified) with the status rules,
//! events and notifications of a mail; solving and Cc as the console does
//! them, with the person recorded; password links, sessions, and the one
//! access rule behind every list, page and download.

use rusqlite::params;
use ticketd::config::Config;
use ticketd::domain::access::{may_view, Viewer};
use ticketd::domain::model::{Priority, Role, Status, TicketId};
use ticketd::domain::time::Timestamp;
use ticketd::ingest::{DeskReply, Ingestor, Mode, NewTicket, Report, Upload, WebUpdate};
use ticketd::store::portal::{self, TicketFilter};
use ticketd::store::{snapshot, tokens, Durability, Store, StoreError};

use crate::desk::{BASE_CONFIG, VERIFIED};

const NOW: Timestamp = Timestamp(1_800_000_000);

struct Portal {
    _dir: tempfile::TempDir,
    store: Store,
    ing: Ingestor,
}

impl Portal {
    fn new() -> Portal {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::parse(BASE_CONFIG, dir.path()).expect("config");
        let mut store = Store::from_config(&config.store, Durability::Normal).expect("store");
        let ing = Ingestor::new(&config, &mut store).expect("ingestor");
        Portal {
            _dir: dir,
            store,
            ing,
        }
    }

    fn mail(&mut self, raw: &str) -> Report {
        let r = self
            .ing
            .ingest(&mut self.store, raw.as_bytes(), NOW, Mode::Commit)
            .expect("ingest");
        assert!(r.ticket.is_some(), "{r:?}");
        r
    }

    /// Ann's ticket, opened by mail with Bob on Cc.
    fn anns_ticket(&mut self) -> TicketId {
        let r = self.mail(
            "From: Ann Smith <ann@acme.test>\nTo: support@example.test\nCc: bob@acme.test\nSubject: VPN down\nMessage-ID: <a1@acme.test>\n\nThe VPN drops every hour.\n",
        );
        TicketId(r.ticket.expect("ticket"))
    }

    fn conn(&self) -> &rusqlite::Connection {
        self.store.conn()
    }

    fn last_outbox(&self) -> i64 {
        self.conn()
            .query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))
            .expect("max")
    }

    /// (kind, recipient) of the outbox rows after `since`, in order.
    fn outbox_since(&self, since: i64) -> Vec<(String, String)> {
        let mut stmt = self
            .conn()
            .prepare("SELECT kind, recipients FROM outbox WHERE id > ?1 ORDER BY id")
            .expect("sql");
        stmt.query_map([since], |r| {
            let to: String = r.get(1)?;
            let to: Vec<String> = serde_json::from_str(&to).unwrap_or_default();
            Ok((r.get(0)?, to.join(",")))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("outbox")
    }

    fn status(&self, t: TicketId) -> String {
        self.conn()
            .query_row("SELECT status FROM tickets WHERE id = ?1", [t.0], |r| {
                r.get(0)
            })
            .expect("status")
    }

    fn count(&self, table: &str) -> i64 {
        self.conn()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }

    fn events(&self, kind: &str) -> Vec<String> {
        let mut stmt = self
            .conn()
            .prepare("SELECT detail FROM events WHERE kind = ?1 ORDER BY id")
            .expect("sql");
        stmt.query_map([kind], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("events")
    }

    fn viewer(&self, email: &str) -> Viewer {
        portal::viewer(self.conn(), email)
            .expect("read")
            .expect("account")
    }

    fn set_role(&self, email: &str, role: Role, org: Option<&str>) {
        self.conn()
            .execute(
                "INSERT INTO users (email, role, org, created_at) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT(email) DO UPDATE SET role = excluded.role",
                params![email, role.as_str(), org],
            )
            .expect("role");
    }

    fn reply(&mut self, who: &str, t: TicketId, text: &str) -> Result<Report, StoreError> {
        self.ing
            .web_reply(&mut self.store, who, t, text, Vec::new(), NOW)
    }

    fn update(&mut self, who: &str, t: TicketId, u: WebUpdate) -> Result<(), StoreError> {
        self.ing
            .web_update(&mut self.store, who, t, u, NOW)
            .map(|_| ())
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn a_web_reply_by_the_requester_reopens_and_tells_the_watchers_not_the_author() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    p.ing
        .update_ticket(
            &mut p.store,
            t,
            &ticketd::store::console::ConsoleUpdate {
                status: Some(Status::Solved),
                ..Default::default()
            },
            NOW,
        )
        .expect("solve");
    let before = p.last_outbox();
    let r = p
        .reply("ann@acme.test", t, "Still broken.\r\n")
        .expect("reply");
    assert_eq!((r.outcome.as_str(), r.ticket), ("updated", Some(t.0)));
    assert_eq!(p.status(t), "open", "a solved ticket reopens");
    assert_eq!(
        p.outbox_since(before),
        pairs(&[
            ("ticket_updated", "bob@acme.test"),
            ("agent_alert", "agent@example.test")
        ])
    );
    let (source, verified, text, mid): (String, bool, String, String) = p
        .conn()
        .query_row(
            "SELECT source, verified, text, message_id FROM messages ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("message");
    assert_eq!(
        (source.as_str(), verified, text.as_str()),
        ("web", true, "Still broken.")
    );
    assert!(mid.ends_with("@example.test"), "{mid}");
    assert_eq!(r.message_id.as_deref(), Some(mid.as_str()));
    let threaded: i64 = p
        .conn()
        .query_row(
            "SELECT ticket_id FROM thread_ids WHERE message_id = ?1",
            [&mid],
            |r| r.get(0),
        )
        .expect("thread id");
    assert_eq!(threaded, t.0, "a mail answering it threads");
    let added = p.events("message_added");
    assert!(
        added
            .last()
            .is_some_and(|e| e.contains("ann@acme.test") && e.contains("portal")),
        "{added:?}"
    );
}

#[test]
fn an_agents_web_reply_sets_pending_and_is_relayed() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    let before = p.last_outbox();
    p.reply("agent@example.test", t, "Please restart the router.")
        .expect("reply");
    assert_eq!(p.status(t), "pending");
    assert_eq!(
        p.outbox_since(before),
        pairs(&[
            ("ticket_updated", "ann@acme.test"),
            ("ticket_updated", "bob@acme.test")
        ])
    );
    let body: String = p
        .conn()
        .query_row(
            "SELECT body_text FROM outbox WHERE id > ?1 ORDER BY id LIMIT 1",
            [before],
            |r| r.get(0),
        )
        .expect("body");
    assert!(body.contains("Please restart the router."), "{body}");
    // An internal note from the desk: customers hear nothing, status stays.
    let before = p.last_outbox();
    p.ing
        .desk_reply(
            &mut p.store,
            "agent@example.test",
            t,
            DeskReply {
                text: "Customer seems to use an old client.".into(),
                internal: true,
                ..Default::default()
            },
            NOW,
        )
        .expect("note");
    assert_eq!(p.status(t), "pending");
    assert!(p.outbox_since(before).is_empty());
    let internal: bool = p
        .conn()
        .query_row(
            "SELECT internal FROM messages ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("note");
    assert!(internal);
    assert!(matches!(
        p.ing.desk_reply(
            &mut p.store,
            "ann@acme.test",
            t,
            DeskReply {
                text: "x".into(),
                internal: true,
                ..Default::default()
            },
            NOW
        ),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_web_reply_to_a_foreign_ticket_is_not_found_and_writes_nothing() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    p.mail("From: carl@other.test\nTo: support@example.test\nSubject: Mine\nMessage-ID: <c1@other.test>\n\nHello\n");
    p.set_role("zed@acme.test", Role::NoAccess, Some("acme.test"));
    let counts =
        |p: &Portal| ["messages", "events", "outbox", "tickets", "watchers"].map(|t| p.count(t));
    let before = counts(&p);
    for who in ["carl@other.test", "zed@acme.test", "nobody@acme.test"] {
        let got = p.reply(who, t, "let me in");
        assert!(
            matches!(got, Err(StoreError::NotFound(_))),
            "{who}: {got:?}"
        );
    }
    let got = p.reply("ann@acme.test", TicketId(999), "hello?");
    assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
    assert_eq!(counts(&p), before);
}

#[test]
fn a_closed_ticket_refuses_a_web_reply() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    p.conn()
        .execute(
            "UPDATE tickets SET status = 'solved', solved_at = ?2 WHERE id = ?1",
            params![t.0, NOW.0 - 30 * 86_400],
        )
        .expect("long solved");
    let before = p.count("messages");
    match p.reply("ann@acme.test", t, "again") {
        Err(StoreError::Invalid(why)) => {
            assert_eq!(why, format!("ticket {t} is closed: open a new one"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.count("messages"), before);
}

#[test]
fn a_web_ticket_takes_the_form_and_its_cc_become_told_watchers() {
    let mut p = Portal::new();
    p.set_role("ann@acme.test", Role::Member, Some("acme.test"));
    // Signed in: she has a password (no setup link is owed).
    p.conn()
        .execute(
            "UPDATE users SET password_hash = '$argon2id$x' WHERE email = 'ann@acme.test'",
            [],
        )
        .expect("password");
    let before = p.last_outbox();
    let form = NewTicket {
        subject: "Export\nfails".into(),
        description: "Error code E-42 on every export.".into(),
        priority: Some(Priority::High),
        category: Some("Billing".into()),
        fields: [("device".to_string(), "X1 Carbon".to_string())].into(),
        cc: vec![
            "Bob@Acme.test".into(),
            "dan@acme.test".into(),
            "ann@acme.test".into(),
        ],
    };
    let upload = Upload {
        filename: "../../etc/report.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.4".to_vec(),
    };
    let r = p
        .ing
        .web_create(&mut p.store, "ann@acme.test", form, vec![upload], NOW)
        .expect("create");
    assert_eq!(r.outcome.as_str(), "created");
    let t = TicketId(r.ticket.expect("ticket"));
    let (subject, status, priority, category, fields): (String, String, String, String, String) = p
        .conn()
        .query_row(
            "SELECT subject, status, priority, category, fields FROM tickets WHERE id = ?1",
            [t.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("ticket");
    assert_eq!(
        (
            subject.as_str(),
            status.as_str(),
            priority.as_str(),
            category.as_str()
        ),
        ("Export fails", "open", "high", "Billing"),
        "the form's category over the rule's"
    );
    let fields: serde_json::Value = serde_json::from_str(&fields).expect("json");
    assert_eq!(
        fields,
        serde_json::json!({"device": "X1 Carbon", "error_code": "E-42"}),
        "the form's fields and the rule's"
    );
    assert_eq!(
        snapshot::watchers(p.conn(), t).expect("watchers"),
        ["bob@acme.test", "dan@acme.test"]
    );
    assert_eq!(
        p.outbox_since(before),
        pairs(&[
            ("ticket_received", "ann@acme.test"),
            ("ticket_updated", "bob@acme.test"),
            ("ticket_updated", "dan@acme.test"),
            ("agent_alert", "agent@example.test"),
        ])
    );
    let (source, verified): (String, bool) = p
        .conn()
        .query_row(
            "SELECT source, verified FROM messages WHERE ticket_id = ?1",
            [t.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("message");
    assert_eq!((source.as_str(), verified), ("web", true));
    let page = portal::ticket_page(p.conn(), &p.viewer("ann@acme.test"), t)
        .expect("page")
        .expect("visible");
    let file = &page.messages[0].attachments[0];
    assert_eq!(
        (
            file.filename.as_str(),
            file.content_type.as_str(),
            file.size
        ),
        ("report.pdf", "application/pdf", 8)
    );

    for (cc, why) in [
        ("support@example.test", "desk"),
        ("help+7@example.test", "desk"),
        ("agent@example.test", "agent"),
        ("not an address", "not an email address"),
    ] {
        let form = NewTicket {
            subject: "More".into(),
            cc: vec![cc.into()],
            ..Default::default()
        };
        match p
            .ing
            .web_create(&mut p.store, "ann@acme.test", form, Vec::new(), NOW)
        {
            Err(StoreError::Invalid(e)) => assert!(e.contains(why), "{cc}: {e}"),
            other => panic!("{cc}: {other:?}"),
        }
    }
}

#[test]
fn a_customer_solves_and_the_watchers_are_told_with_the_customer_on_record() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    let before = p.last_outbox();
    p.update("ann@acme.test", t, WebUpdate::Solve)
        .expect("solve");
    assert_eq!(p.status(t), "solved");
    assert_eq!(
        p.outbox_since(before),
        pairs(&[("ticket_updated", "bob@acme.test")])
    );
    assert!(p
        .events("status_changed")
        .contains(&"open → solved by ann@acme.test (portal)".to_string()));
    let before = p.last_outbox();
    p.update("ann@acme.test", t, WebUpdate::Solve)
        .expect("again");
    assert!(p.outbox_since(before).is_empty(), "already solved: nothing");
    p.mail("From: carl@other.test\nTo: support@example.test\nSubject: Mine\n\nHello\n");
    assert!(matches!(
        p.update("carl@other.test", t, WebUpdate::Solve),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn cc_from_the_portal_follows_the_watch_rules() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    for who in [
        "help@example.test",
        "support+1@example.test",
        "agent@example.test",
        "ann@acme.test",
    ] {
        let got = p.update("ann@acme.test", t, WebUpdate::AddCc(who.into()));
        assert!(matches!(got, Err(StoreError::Invalid(_))), "{who}: {got:?}");
    }
    p.update("bob@acme.test", t, WebUpdate::AddCc("Eve@Acme.test".into()))
        .expect("a watcher adds one");
    assert_eq!(
        snapshot::watchers(p.conn(), t).expect("watchers"),
        ["bob@acme.test", "eve@acme.test"]
    );
    assert!(p
        .events("watcher_added")
        .contains(&"eve@acme.test by bob@acme.test (portal)".to_string()));
    p.update(
        "ann@acme.test",
        t,
        WebUpdate::RemoveCc("bob@acme.test".into()),
    )
    .expect("remove");
    assert_eq!(
        snapshot::watchers(p.conn(), t).expect("watchers"),
        ["eve@acme.test"]
    );
    assert!(matches!(
        p.update(
            "eve@acme.test",
            t,
            WebUpdate::RemoveCc("ann@acme.test".into())
        ),
        Err(StoreError::Invalid(_))
    ));
}

fn token_for(p: &Portal, email: &str, at: Timestamp) -> String {
    tokens::mint(p.conn(), None, email, at, 72).expect("mint")
}

fn password_of(p: &Portal, email: &str) -> Option<String> {
    portal::user_for_login(p.conn(), email)
        .expect("read")
        .expect("user")
        .password_hash
}

#[test]
fn a_password_link_works_once_and_never_expired_or_reserved() {
    let mut p = Portal::new();
    p.anns_ticket();
    let token = token_for(&p, "ann@acme.test", NOW);
    assert_eq!(
        portal::token_email(p.conn(), &token, NOW)
            .expect("read")
            .as_deref(),
        Some("ann@acme.test")
    );
    let session = portal::hash_token("old session");
    let ann_id = p
        .ing
        .set_password_with_token(&mut p.store, &token, "$argon2id$first", NOW)
        .expect("first use");
    assert_eq!(
        password_of(&p, "ann@acme.test").as_deref(),
        Some("$argon2id$first")
    );
    assert_eq!(p.events("password_set"), ["ann@acme.test (password link)"]);
    portal::create_session(p.conn(), ann_id, &session, "f", NOW, NOW.plus_secs(60))
        .expect("session");
    assert!(matches!(
        p.ing
            .set_password_with_token(&mut p.store, &token, "$argon2id$second", NOW),
        Err(StoreError::TokenInvalid)
    ));
    assert_eq!(
        password_of(&p, "ann@acme.test").as_deref(),
        Some("$argon2id$first")
    );

    let old = token_for(&p, "ann@acme.test", NOW.minus_secs(73 * 3600));
    assert!(matches!(
        p.ing.set_password_with_token(&mut p.store, &old, "$x", NOW),
        Err(StoreError::TokenInvalid)
    ));
    // A row reserved for a mail not yet composed opens nothing.
    let reserved = tokens::reserve(p.conn(), "ann@acme.test", NOW, 72).expect("reserve");
    let hash: String = p
        .conn()
        .query_row(
            "SELECT token_hash FROM password_tokens WHERE id = ?1",
            [reserved],
            |r| r.get(0),
        )
        .expect("hash");
    for guess in [
        tokens::TOKEN_PLACEHOLDER,
        hash.as_str(),
        hash.trim_start_matches("reserved:"),
        "",
    ] {
        assert!(
            matches!(
                p.ing
                    .set_password_with_token(&mut p.store, guess, "$x", NOW),
                Err(StoreError::TokenInvalid)
            ),
            "{guess}"
        );
    }
    // A new link ends every session: the web signs the user in afresh.
    let fresh = token_for(&p, "ann@acme.test", NOW);
    p.ing
        .set_password_with_token(&mut p.store, &fresh, "$argon2id$third", NOW)
        .expect("reset");
    assert!(portal::session_user(p.conn(), &session, NOW)
        .expect("read")
        .is_none());
    let unused: i64 = p
        .conn()
        .query_row(
            "SELECT count(*) FROM password_tokens WHERE used_at IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(unused, 0, "the reserved row is used up too");
}

#[test]
fn a_reset_mail_goes_to_known_addresses_at_most_every_ten_minutes() {
    let mut p = Portal::new();
    p.anns_ticket();
    p.set_role("zed@acme.test", Role::NoAccess, Some("acme.test"));
    let events = p.count("events");
    let before = p.last_outbox();
    for who in ["nobody@acme.test", "zed@acme.test"] {
        p.ing
            .request_password_reset(&mut p.store, who, NOW)
            .expect("quiet");
    }
    assert_eq!(
        (p.count("events"), p.last_outbox()),
        (events, before),
        "nothing, nothing on record"
    );
    for at in [NOW, NOW.plus_secs(60), NOW.plus_secs(601)] {
        p.ing
            .request_password_reset(&mut p.store, "ANN@acme.test", at)
            .expect("reset");
    }
    assert_eq!(
        p.outbox_since(before),
        pairs(&[
            ("password_reset", "ann@acme.test"),
            ("password_reset", "ann@acme.test")
        ])
    );
    let body: String = p
        .conn()
        .query_row(
            "SELECT body_text FROM outbox WHERE kind = 'password_reset' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("body");
    assert!(
        tokens::has_placeholder(&body),
        "the token is minted at sending: {body}"
    );
}

#[test]
fn sessions_of_a_user_set_to_no_access_stop_working() {
    let mut p = Portal::new();
    p.anns_ticket();
    p.set_role("carl@acme.test", Role::Admin, Some("acme.test"));
    let ann = portal::user_for_login(p.conn(), "ann@acme.test")
        .expect("read")
        .expect("ann");
    let h = portal::hash_token("ann's cookie");
    portal::create_session(p.conn(), ann.id, &h, "form", NOW, NOW.plus_secs(3600))
        .expect("session");
    let (u, form) = portal::session_user(p.conn(), &h, NOW)
        .expect("read")
        .expect("live");
    assert_eq!((u.email.as_str(), form.as_str()), ("ann@acme.test", "form"));
    let carl = p.viewer("carl@acme.test");
    portal::set_role_in_org(p.conn(), &carl, "ann@acme.test", Role::NoAccess, NOW).expect("block");
    assert!(portal::session_user(p.conn(), &h, NOW)
        .expect("read")
        .is_none());
    assert!(p
        .events("role_changed")
        .contains(&"ann@acme.test: member → no_access by carl@acme.test (portal)".to_string()));
}

#[test]
fn ticket_lists_show_exactly_what_the_access_rule_allows() {
    let mut p = Portal::new();
    let anns = p.anns_ticket();
    p.mail("From: carl@acme.test\nTo: support@example.test\nSubject: Printer\nMessage-ID: <c2@acme.test>\n\nJammed.\n");
    p.mail("From: dora@other.test\nTo: support@example.test\nSubject: Other\nMessage-ID: <d1@other.test>\n\nHi.\n");
    p.mail("From: gus@gmail.com\nTo: support@example.test\nSubject: Gmail\nMessage-ID: <g1@gmail.com>\n\nHi.\n");
    p.update(
        "agent@example.test",
        TicketId(4),
        WebUpdate::AddCc("ann@acme.test".into()),
    )
    .expect("ann watches gus's");
    p.set_role("carl@acme.test", Role::Admin, Some("acme.test"));
    p.set_role("zed@acme.test", Role::NoAccess, Some("acme.test"));
    let all: Vec<TicketId> = (1..=4).map(TicketId).collect();
    let mut seen = Vec::new();
    for who in [
        "ann@acme.test",
        "bob@acme.test",
        "carl@acme.test",
        "dora@other.test",
        "gus@gmail.com",
        "agent@example.test",
        "zed@acme.test",
    ] {
        let v = p.viewer(who);
        let mut want: Vec<TicketId> = all
            .iter()
            .copied()
            .filter(|t| {
                let state = snapshot::ticket_state(p.conn(), *t)
                    .expect("read")
                    .expect("ticket");
                may_view(&v, &state)
            })
            .collect();
        want.reverse();
        let listed: Vec<TicketId> =
            portal::tickets_for(p.conn(), &v, &TicketFilter::default(), 50, 0)
                .expect("list")
                .iter()
                .map(|r| r.id)
                .collect();
        assert_eq!(listed, want, "{who}");
        for t in &all {
            let page = portal::ticket_page(p.conn(), &v, *t).expect("page");
            assert_eq!(page.is_some(), want.contains(t), "{who} on {t}");
        }
        seen.push((who, listed.iter().map(|t| t.0).collect::<Vec<_>>()));
    }
    assert_eq!(
        seen,
        [
            ("ann@acme.test", vec![4, 1]),
            ("bob@acme.test", vec![1]),
            ("carl@acme.test", vec![2, 1]),
            ("dora@other.test", vec![3]),
            ("gus@gmail.com", vec![4]),
            ("agent@example.test", vec![4, 3, 2, 1]),
            ("zed@acme.test", vec![]),
        ]
    );
    let row = &portal::tickets_for(
        p.conn(),
        &p.viewer("ann@acme.test"),
        &TicketFilter::default(),
        50,
        0,
    )
    .expect("list")[1];
    assert_eq!(
        (
            row.id,
            row.subject.as_str(),
            row.description.as_str(),
            row.status,
            row.days_open(NOW.plus_secs(3 * 86_400))
        ),
        (
            anns,
            "VPN down",
            "The VPN drops every hour.",
            Status::Open,
            3
        )
    );
}

#[test]
fn a_download_needs_a_public_message_of_that_very_ticket() {
    let mut p = Portal::new();
    let t = p.anns_ticket();
    p.mail("From: carl@other.test\nTo: support@example.test\nSubject: Mine\nMessage-ID: <c3@other.test>\n\nHello\n");
    let file = |name: &str| Upload {
        filename: name.into(),
        content_type: "text/plain".into(),
        data: name.as_bytes().to_vec(),
    };
    p.ing
        .web_reply(
            &mut p.store,
            "ann@acme.test",
            t,
            "log attached",
            vec![file("log.txt")],
            NOW,
        )
        .expect("reply");
    p.ing
        .desk_reply(
            &mut p.store,
            "agent@example.test",
            t,
            DeskReply {
                text: "their config".into(),
                uploads: vec![file("secret.txt")],
                internal: true,
            },
            NOW,
        )
        .expect("note");
    let id_of = |p: &Portal, name: &str| -> i64 {
        p.conn()
            .query_row(
                "SELECT id FROM attachments WHERE filename = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("attachment")
    };
    let (public, internal) = (id_of(&p, "log.txt"), id_of(&p, "secret.txt"));
    let ann = p.viewer("ann@acme.test");
    let got = portal::attachment_for(p.conn(), &ann, t, public)
        .expect("read")
        .expect("hers");
    assert_eq!((got.filename.as_str(), got.size), ("log.txt", 7));
    assert!(p.ing.attachments_dir().path_of(&got.sha256).exists());
    assert_eq!(
        portal::attachment_for(p.conn(), &ann, TicketId(2), public).expect("read"),
        None,
        "another ticket's id"
    );
    assert_eq!(
        portal::attachment_for(p.conn(), &ann, t, internal).expect("read"),
        None,
        "an internal note's"
    );
    let agent = p.viewer("agent@example.test");
    assert_eq!(
        portal::attachment_for(p.conn(), &agent, t, internal).expect("read"),
        None,
        "not on the portal"
    );
    let carl = p.viewer("carl@other.test");
    assert_eq!(
        portal::attachment_for(p.conn(), &carl, t, public).expect("read"),
        None,
        "not his ticket"
    );
    let page = portal::ticket_page(p.conn(), &ann, t)
        .expect("page")
        .expect("hers");
    assert!(
        page.messages.iter().all(|m| m.text != "their config"),
        "internal notes never"
    );
    assert_eq!(page.messages.len(), 2);
}

#[test]
fn an_unverified_mail_still_threads_after_a_web_reply() {
    // A mail client answering the web message's notification threads by rule 1.
    let mut p = Portal::new();
    let t = p.anns_ticket();
    let r = p.reply("ann@acme.test", t, "more details").expect("reply");
    let mid = r.message_id.expect("message id");
    let raw = format!(
        "From: agent@example.test\nTo: support@example.test\n{VERIFIED}Subject: Re: VPN\nIn-Reply-To: <{mid}>\nMessage-ID: <ag1@example.test>\n\nThanks, looking.\n"
    );
    let r = p.mail(&raw);
    assert_eq!(r.ticket, Some(t.0));
    assert_eq!(p.status(t), "pending");
}
