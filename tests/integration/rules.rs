//! DESIGN §3 and §4 end to end: one conversation through every rule, with
//! the outcome, ticket state and notifications each mail must give.

use crate::desk::{fixture, mail, strings, Desk, BASE_CONFIG, VERIFIED};

/// The details of a ticket's events of one kind.
fn events_of(desk: &Desk, ticket: i64, kind: &str) -> Vec<String> {
    crate::desk::events(&desk.ticket(ticket), kind)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect()
}

/// A new ticket: watchers from To/Cc minus us, our plus-variants and agents;
/// rules set the category and extract fields; a new requester gets one
/// password-setup link; an agent on Cc gets no alert (they have the mail).
#[test]
fn new_ticket_watchers_rules_and_first_notifications() {
    let desk = Desk::new();
    let r = desk.ingest_fixture("new-with-cc.eml", &[]);
    assert_eq!(r["outcome"], "created");
    assert_eq!(r["ticket"], 1);
    assert!(r["reason"].is_null());

    let t = desk.ticket(1);
    assert_eq!(t["subject"], "VPN drops every hour");
    assert_eq!(t["requester"], "ann@acme.test");
    assert_eq!(t["status"], "open");
    assert_eq!(strings(&t["watchers"]), ["bob@acme.test", "dave@acme.test"]);
    assert_eq!(t["category"], "errors");
    assert_eq!(t["fields"]["error_code"], "E-4711");
    assert_eq!(t["messages"][0]["text"], "Hi, the VPN disconnects every hour on the hour.\nError code E-4711 shows up each time.\n\nThanks,\nAnn");
    assert_eq!(
        desk.outbox(),
        pairs(&[
            ("password_setup", "ann@acme.test"),
            ("ticket_received", "ann@acme.test")
        ])
    );

    // The same mail again (an MTA retry) is a duplicate, and changes nothing.
    let again = desk.ingest_fixture("new-with-cc.eml", &[]);
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["ticket"], 1);
    assert_eq!(desk.outbox().len(), 2);

    // A second ticket from the same requester: no second password link.
    let second = mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: Another thing\nMessage-ID: <fx-second@acme.test>",
        "Also the printer.",
    );
    assert_eq!(desk.ingest(&second)["ticket"], 2);
    let setups = desk
        .outbox()
        .iter()
        .filter(|(k, _)| k == "password_setup")
        .count();
    assert_eq!(
        setups, 1,
        "one password_setup per requester, never per ticket"
    );
}

#[test]
fn a_conversation_threads_and_notifies_by_the_rules() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let received = desk.notification_id("ticket_received", "ann@acme.test");

    // Rule 1: In-Reply-To names our notification, and Ann answered her
    // personal reply address, so the mail is verified. Outlook's quoted
    // header block is cut; the new Cc (Erin) becomes a watcher; Erin, a
    // direct recipient, and Ann, the author, are not notified.
    let reply_to = desk.personal_address(1, "ann@acme.test");
    let r = desk.ingest_fixture(
        "customer-reply.eml",
        &[("IN_REPLY_TO", &received), ("REPLY_TO", &reply_to)],
    );
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("updated"), Some(1))
    );
    let t = desk.ticket(1);
    assert_eq!(t["messages"][1]["text"], "It happened again at 9:00.");
    assert_eq!(
        strings(&t["watchers"]),
        ["bob@acme.test", "dave@acme.test", "erin@acme.test"]
    );
    let after_reply = desk.outbox();
    assert_eq!(
        after_reply[2..],
        pairs(&[
            ("ticket_updated", "bob@acme.test"),
            ("ticket_updated", "dave@acme.test"),
            ("agent_alert", "agent@example.test"),
        ])[..]
    );

    // Agent commands: honoured, and their lines removed from the text.
    let r = desk.ingest_fixture("agent-commands.eml", &[]);
    assert_eq!(r["outcome"], "updated");
    let t = desk.ticket(1);
    assert_eq!(t["status"], "solved");
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["category"], "network");
    assert_eq!(
        strings(&t["watchers"]),
        ["dave@acme.test", "erin@acme.test", "frank@acme.test"]
    );
    assert_eq!(
        t["messages"][2]["text"],
        "Fixed: the DHCP lease was one hour. Please confirm."
    );
    let new: Vec<_> = desk.outbox()[after_reply.len()..].to_vec();
    assert!(
        new.contains(&("urgent_page".into(), "oncall@example.test".into())),
        "{new:?}"
    );
    assert!(
        new.contains(&("ticket_updated".into(), "erin@acme.test".into())),
        "{new:?}"
    );
    assert!(
        !new.iter().any(|(_, to)| to == "ann@acme.test"),
        "Ann got the agent's mail directly: {new:?}"
    );
    assert!(
        !new.iter().any(|(_, to)| to == "bob@acme.test"),
        "Bob was unwatched: {new:?}"
    );

    // #note: internal, no customer notification, status unchanged.
    let before = desk.outbox().len();
    let r = desk.ingest_fixture("agent-note.eml", &[]);
    assert_eq!(r["outcome"], "updated");
    let t = desk.ticket(1);
    assert_eq!(t["messages"][3]["internal"], true);
    assert_eq!(
        t["messages"][3]["text"],
        "Customer is on the legacy gateway; move them next week."
    );
    assert_eq!(t["status"], "solved");
    assert_eq!(desk.outbox().len(), before);

    // The requester answers inside reopen_days: the solved ticket reopens.
    let reopen = mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: Re: [#1] VPN drops every hour\nMessage-ID: <fx-reopen@acme.test>\nIn-Reply-To: <fx-agent-1@example.test>",
        "Still broken, sorry.",
    );
    assert_eq!(desk.ingest(&reopen)["ticket"], 1);
    assert_eq!(desk.ticket(1)["status"], "open");
}

/// Rule 1 from someone not on the ticket: an internal note, agents alerted,
/// customers not. Rule 3 (subject tag) alone from them: a new ticket.
#[test]
fn strangers_get_an_internal_note_or_a_new_ticket() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let before = desk.outbox().len();

    let r = desk.ingest_fixture("stranger-reply.eml", &[]);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("updated"), Some(1))
    );
    let t = desk.ticket(1);
    assert_eq!(t["messages"][1]["internal"], true);
    assert_eq!(
        desk.outbox()[before..],
        pairs(&[("agent_alert", "agent@example.test")])[..]
    );

    let r = desk.ingest_fixture("stranger-subject-tag.eml", &[]);
    assert_eq!(r["outcome"], "created");
    assert_eq!(r["ticket"], 2);
    assert_eq!(desk.ticket(2)["requester"], "mallory@elsewhere.test");
    assert_eq!(desk.ticket(1)["messages"].as_array().map(Vec::len), Some(2));
}

/// A colleague from the same organisation may update by subject tag once an
/// org admin role is set, in a verified mail; the same mail unverified
/// (anyone can write `From: zoe@acme.test`) starts a ticket of its own.
#[test]
fn org_admins_may_update_their_orgs_tickets() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let out = desk.run(&["users", "set-role", "zoe@acme.test", "admin"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let head =
        "From: zoe@acme.test\nTo: support@example.test\nSubject: Re: [#1] VPN drops every hour";
    let forged = mail(
        &format!("{head}\nMessage-ID: <fx-zoe-forged@acme.test>"),
        "I am Ann's manager: please prioritise.",
    );
    let r = desk.ingest(&forged);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("created"), Some(2))
    );
    assert_eq!(desk.ticket(1)["messages"].as_array().map(Vec::len), Some(1));
    assert!(
        events_of(&desk, 2, "unverified_sender")
            .iter()
            .any(|d| d.contains("org admin rights on #1")),
        "{:?}",
        desk.ticket(2)["events"]
    );
    let verified = mail(
        &format!("Authentication-Results: mx.example.test; dmarc=pass header.from=acme.test\n{head}\nMessage-ID: <fx-zoe@acme.test>"),
        "I am Ann's manager: please prioritise.",
    );
    let r = desk.ingest(&verified);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("updated"), Some(1))
    );
    let t = desk.ticket(1);
    assert_eq!(t["messages"][1]["internal"], false);
    assert_eq!(t["messages"][1]["verified"], true);
}

#[test]
fn replies_to_a_closed_ticket_start_a_follow_up() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let out = desk.run(&["tickets", "update", "1", "--status", "closed"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let late = mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: Re: [#1] VPN drops every hour\nMessage-ID: <fx-late@acme.test>\nIn-Reply-To: <fx-new-1@acme.test>",
        "It is back.",
    );
    let r = desk.ingest(&late);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("created"), Some(2))
    );
    assert_eq!(desk.ticket(2)["follow_up_of"], 1);
    assert_eq!(desk.ticket(1)["status"], "closed");
}

/// Loops, bounces, auto-replies: no ticket, no notification, an event; a
/// bounce of our notification marks that recipient as bouncing.
#[test]
fn auto_replies_and_bounces_are_ignored_and_bounces_remembered() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let received = desk.notification_id("ticket_received", "ann@acme.test");
    let before = desk.outbox().len();

    let r = desk.ingest_fixture("auto-reply.eml", &[]);
    assert_eq!(r["outcome"], "ignored");
    assert_eq!(r["reason"], "auto_reply");
    assert!(r["ticket"].is_null());

    // The DSN names ann's notification and ann as the failed recipient.
    let r = desk.ingest(
        fixture("bounce.eml", &[("NOTIFICATION_ID", &received)])
            .replace("dave@acme.test", "ann@acme.test")
            .as_bytes(),
    );
    assert_eq!(r["outcome"], "ignored");
    assert_eq!(r["reason"], "bounce");
    assert_eq!(desk.outbox().len(), before);
    let users = desk.json(&["users", "list", "--json"]);
    let ann = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "ann@acme.test")
        .expect("ann");
    assert!(ann["bouncing_since"].is_string(), "{ann}");

    // Ann no longer gets mail; Bob still does.
    let reply = mail(
        &format!("{VERIFIED}From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <fx-after-bounce@example.test>\nIn-Reply-To: <fx-new-1@acme.test>"),
        "Any news?",
    );
    desk.ingest(&reply);
    let new = desk.outbox()[before..].to_vec();
    assert!(!new.iter().any(|(_, to)| to == "ann@acme.test"), "{new:?}");
    assert!(
        new.contains(&("ticket_updated".into(), "bob@acme.test".into())),
        "{new:?}"
    );

    // A loop: our own notification coming back.
    let looped = mail(
        "From: someone@acme.test\nTo: support@example.test\nSubject: [#1] VPN\nMessage-ID: <fx-loop@acme.test>\nX-Ticketd-Loop: support@example.test",
        "looped",
    );
    assert_eq!(desk.ingest(&looped)["reason"], "loop");
    // Mail from our own address or an alias.
    let own = mail(
        "From: help@example.test\nTo: support@example.test\nSubject: hi\nMessage-ID: <fx-own@example.test>",
        "own",
    );
    assert_eq!(desk.ingest(&own)["reason"], "own_mail");
    let log = desk.json(&["log", "list", "--json"]);
    let ignored = log
        .as_array()
        .expect("log")
        .iter()
        .filter(|e| e["kind"] == "mail_ignored")
        .count();
    assert_eq!(ignored, 4, "every ignored mail is an event");
}

#[test]
fn no_access_senders_are_refused_with_one_notice_a_day() {
    let desk = Desk::new();
    let out = desk.run(&["users", "set-role", "spammer@bad.test", "no_access"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for i in 0..3 {
        let m = mail(
            &format!("From: spammer@bad.test\nTo: support@example.test\nSubject: buy\nMessage-ID: <fx-spam-{i}@bad.test>"),
            "buy now",
        );
        let r = desk.ingest(&m);
        assert_eq!(r["outcome"], "refused");
        assert_eq!(r["reason"], "no_access");
        assert!(r["ticket"].is_null());
    }
    assert_eq!(desk.outbox(), pairs(&[("refused", "spammer@bad.test")]));
    assert_eq!(
        desk.json(&["tickets", "list", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn a_flood_of_new_tickets_from_one_sender_is_throttled() {
    let desk = Desk::with_config(&crate::desk::BASE_CONFIG.replace(
        "reopen_days = 7",
        "reopen_days = 7\nmax_new_tickets_per_hour = 3",
    ));
    // Plus-variants of the address count as the same person.
    let outcomes: Vec<(String, Option<String>)> = (0..5)
        .map(|i| {
            let from = if i % 2 == 0 { "loud".to_owned() } else { format!("loud+{i}") };
            let m = mail(
                &format!("From: {from}@acme.test\nTo: support@example.test\nSubject: issue {i}\nMessage-ID: <fx-flood-{i}@acme.test>"),
                "again",
            );
            let r = desk.ingest(&m);
            (
                r["outcome"].as_str().unwrap_or("?").to_owned(),
                r["reason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let throttled = ("quarantined".to_owned(), Some("throttled".to_owned()));
    let created = ("created".to_owned(), None);
    assert_eq!(
        outcomes,
        [
            created.clone(),
            created.clone(),
            created.clone(),
            throttled.clone(),
            throttled
        ]
    );
    // Kept whole, never dropped: an operator may let one through.
    let q = desk.json(&["quarantine", "list", "--json"]);
    let entries = q.as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{q}");
    assert!(entries.iter().all(|e| e["reason"] == "throttled"), "{q}");
    let id = entries[0]["id"].as_i64().expect("id").to_string();
    let out = desk.run(&["quarantine", "replay", &id], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        desk.json(&["tickets", "list", "--json"])
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    // The same message again from the MTA is a duplicate, not a third entry.
    let again = mail(
        "From: loud@acme.test\nTo: support@example.test\nSubject: issue 4\nMessage-ID: <fx-flood-4@acme.test>",
        "again",
    );
    assert_eq!(desk.ingest(&again)["outcome"], "duplicate");
}

/// HTML-only mail becomes text; RFC 2047 subjects are decoded.
#[test]
fn html_only_mail_is_converted() {
    let desk = Desk::new();
    let r = desk.ingest_fixture("html-only.eml", &[]);
    assert_eq!(r["outcome"], "created");
    let t = desk.ticket(1);
    assert_eq!(t["subject"], "Rechnung fehlt – bitte prüfen");
    let text = t["messages"][0]["text"].as_str().expect("text");
    assert!(text.contains("Guten Tag,"), "{text}");
    assert!(
        text.contains("die Rechnung INV-2026-17 fehlt\u{a0}noch.")
            || text.contains("die Rechnung INV-2026-17 fehlt noch."),
        "{text}"
    );
    assert!(
        !text.contains("alert(1)") && !text.contains("color: red"),
        "{text}"
    );
}

/// `tickets update` does what agent commands do, with the same events.
#[test]
fn console_updates_use_the_same_rules() {
    let desk = Desk::new();
    desk.ingest_fixture("new-with-cc.eml", &[]);
    let before = desk.outbox().len();
    let out = desk.run(
        &[
            "tickets",
            "update",
            "#1",
            "--status",
            "solved",
            "--priority",
            "urgent",
            "--unwatch",
            "bob@acme.test",
        ],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let t = desk.ticket(1);
    assert_eq!(
        (t["status"].as_str(), t["priority"].as_str()),
        (Some("solved"), Some("urgent"))
    );
    assert_eq!(strings(&t["watchers"]), ["dave@acme.test"]);
    let kinds: Vec<String> = t["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    for k in ["status_changed", "priority_changed", "watcher_removed"] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing: {kinds:?}");
    }
    assert_eq!(
        desk.outbox()[before..],
        pairs(&[
            ("ticket_updated", "ann@acme.test"),
            ("ticket_updated", "dave@acme.test"),
            ("urgent_page", "oncall@example.test"),
        ])[..]
    );
    let bad = desk.run(&["tickets", "update", "1", "--status", "done"], b"");
    assert_eq!(bad.code, 64);
    let missing = desk.run(&["tickets", "update", "99", "--status", "open"], b"");
    assert_eq!(missing.code, 64);
    assert!(
        missing.stderr.contains("ticket #99 does not exist"),
        "{}",
        missing.stderr
    );
}

/// The README's walkthrough gives exactly the outcomes the README shows.
#[test]
fn the_readme_walkthrough() {
    let desk = Desk::with_config(
        "[store]\npath = \"ticketd.db\"\n[support]\naddress = \"support@example.test\"\nname = \"Example Support\"\nagents = [\"agent@example.test\"]\nportal_url = \"https://support.example.test\"\ntrusted_authserv_ids = [\"mx.example.test\"]\n",
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/walkthrough");
    let expected = [
        ("1-new.eml", "created", Some(1), None),
        ("2-agent-reply.eml", "updated", Some(1), None),
        ("3-customer-reply-cc.eml", "updated", Some(1), None),
        ("4-out-of-office.eml", "ignored", None, Some("auto_reply")),
    ];
    for (file, outcome, ticket, reason) in expected {
        let raw = std::fs::read(dir.join(file)).expect("walkthrough mail");
        let r = desk.ingest(&raw);
        assert_eq!(r["outcome"], outcome, "{file}");
        assert_eq!(r["ticket"].as_i64(), ticket, "{file}");
        assert_eq!(r["reason"].as_str(), reason, "{file}");
    }
    let t = desk.ticket(1);
    assert_eq!(
        (
            t["status"].as_str(),
            t["priority"].as_str(),
            t["category"].as_str()
        ),
        (Some("open"), Some("high"), Some("hardware"))
    );
    assert_eq!(
        strings(&t["watchers"]),
        ["bob@acme.test", "carol@acme.test"]
    );
    assert_eq!(
        t["messages"][1]["text"],
        "Please unplug it now; a technician is on the way."
    );
    let list = desk.run(&["tickets", "list"], b"");
    assert!(
        list.stdout.contains("Printer on fire  ann@acme.test"),
        "{}",
        list.stdout
    );
}

#[test]
fn a_peer_that_answers_every_mail_drains_its_budget_and_gets_no_more() {
    // A script on the customer's side answers each notification with a new
    // plain mail that no loop rule can recognise.
    let desk = Desk::with_config(&BASE_CONFIG.replace(
        "reopen_days = 7",
        "reopen_days = 7\nmax_mails_per_recipient_per_hour = 3\nmax_mails_per_ticket_per_hour = 100",
    ));
    desk.ingest(&mail(
        "From: bot@acme.test\nTo: support@example.test\nSubject: Status\nMessage-ID: <storm-0@acme.test>",
        "ping",
    ));
    let to_bot = |d: &Desk, kind: &str| {
        d.outbox()
            .iter()
            .filter(|(k, to)| to == "bot@acme.test" && k == kind)
            .count()
    };
    assert_eq!(
        to_bot(&desk, "password_setup") + to_bot(&desk, "ticket_received"),
        2
    );
    // The script's new mails from plus-variants of its address: they draw
    // on the base address's bucket, which holds 3.
    for i in 1..=4 {
        desk.ingest(&mail(
            &format!("From: bot+{i}@acme.test\nTo: support@example.test\nSubject: Status {i}\nMessage-ID: <storm-{i}@acme.test>"),
            "ping",
        ));
    }
    let events = |kind: &str| {
        desk.json(&["log", "list", "--json"])
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    };
    let acks = desk
        .outbox()
        .iter()
        .filter(|(k, to)| k == "ticket_received" && to.starts_with("bot"))
        .count();
    // 3 in the bucket: the first setup link and ack, then bot+1's setup
    // link; the other 7 (an ack and setup link each) are held.
    assert_eq!(acks, 1);
    assert_eq!(
        events("notification_suppressed"),
        7,
        "each held mail is logged"
    );
    // Agents are staff: their alerts are not limited by the recipient budget.
    let alerts = desk
        .outbox()
        .iter()
        .filter(|(k, _)| k == "agent_alert")
        .count();
    assert_eq!(alerts, 5);
}

/// The budget limits automation, never an agent's answer: with the bucket
/// empty, each answer is queued for its slot (one every 20 min at 3 an
/// hour), none dropped.
#[test]
fn an_agents_answer_is_delayed_by_the_budget_never_dropped() {
    let desk = Desk::with_config(&BASE_CONFIG.replace(
        "reopen_days = 7",
        "reopen_days = 7\nmax_mails_per_recipient_per_hour = 3\nmax_mails_per_ticket_per_hour = 100",
    ));
    desk.ingest(&mail(
        "From: bot@acme.test\nTo: support@example.test\nSubject: Status\nMessage-ID: <wait-0@acme.test>",
        "ping",
    ));
    for i in 1..=5 {
        let agent_reply = mail(
            &format!("{VERIFIED}From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] Status\nMessage-ID: <wait-agent-{i}@example.test>"),
            "pong",
        );
        assert_eq!(desk.ingest(&agent_reply)["outcome"], "updated");
    }
    let conn = rusqlite::Connection::open(desk.db()).expect("db");
    let mut stmt = conn
        .prepare("SELECT next_attempt_at - created_at FROM outbox WHERE kind = 'ticket_updated' AND recipients = '[\"bot@acme.test\"]' ORDER BY id")
        .expect("query");
    let waits: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("waits");
    // Setup link and acknowledgement took 2 of 3: the first answer goes at
    // once, each later one 1,200 s after the one before.
    // (Each ingest reads the wall clock: the bucket refills a little
    // between them, so allow a few seconds.)
    assert_eq!(waits.len(), 5);
    for (got, want) in waits.iter().zip([0, 1200, 2400, 3600, 4800]) {
        assert!((got - want).abs() <= 5, "{waits:?}");
    }
    let t = desk.ticket(1);
    let delayed = t["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "notification_delayed")
        .count();
    assert_eq!(delayed, 4);
    assert!(!t["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["kind"] == "notification_suppressed"));
}

/// Urgent pages: one per ticket an hour, `support.max_pages_per_hour` in all.
#[test]
fn urgent_pages_are_limited_per_ticket_and_in_all() {
    let desk = Desk::with_config(
        &BASE_CONFIG.replace("reopen_days = 7", "reopen_days = 7\nmax_pages_per_hour = 2"),
    );
    for i in 1..=3 {
        desk.ingest(&mail(
            &format!("From: ann{i}@acme.test\nTo: support@example.test\nSubject: Down {i}\nMessage-ID: <page-{i}@acme.test>"),
            "Everything is down.",
        ));
    }
    let update = |id: &str, p: &str| {
        let out = desk.run(&["tickets", "update", id, "--priority", p], b"");
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    let pages = |d: &Desk| {
        d.outbox()
            .iter()
            .filter(|(k, _)| k == "urgent_page")
            .count()
    };
    update("1", "urgent");
    assert_eq!(pages(&desk), 1);
    // The same ticket again within the hour: no second page.
    update("1", "low");
    update("1", "urgent");
    assert_eq!(pages(&desk), 1);
    update("2", "urgent");
    assert_eq!(pages(&desk), 2);
    // A third ticket: past max_pages_per_hour.
    update("3", "urgent");
    assert_eq!(pages(&desk), 2);
    let events = desk.json(&["log", "list", "--json"]);
    let suppressed: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "notification_suppressed")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(suppressed.len(), 2, "{suppressed:?}");
    assert!(suppressed.iter().all(|d| d.contains("max_pages_per_hour")));
}
