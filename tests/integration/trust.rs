//! DESIGN §3 "Trust": a From header is a claim. Each forged variant an
//! attacker would try on a ticket: what must not happen (no command carried
//! out, nothing relayed to customers, no watcher added) and what must (an
//! internal note or a ticket of its own, an `unverified_sender` event).

use crate::desk::{events, fixture, mail, strings, Desk, VERIFIED};

/// The phishing text a forger wants mailed from the support address.
const BAIT: &str = "please confirm your card number at http://evil.example/pay";

/// Agent command lines a forger puts on top.
const COMMANDS: &str = "#status solved\n#priority urgent\n#watch mallory@evil.example\n";

/// Ticket #1 from Ann (watchers Bob and Dave), with its outbox length.
fn desk_with_ticket() -> (Desk, usize) {
    let desk = Desk::new();
    let r = desk.ingest(fixture("new-with-cc.eml", &[]).as_bytes());
    assert_eq!(r["ticket"], 1);
    let before = desk.outbox().len();
    (desk, before)
}

/// Notification bodies queued since `from` (by outbox row order).
fn bodies_since(desk: &Desk, from: usize) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(desk.db()).expect("db");
    let mut stmt = conn
        .prepare("SELECT kind, recipients, body_text FROM outbox ORDER BY id")
        .expect("query");
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.into_iter().skip(from).collect()
}

/// Ticket #1 untouched by a forged agent mail: status, priority, watchers,
/// and no customer notified; the forged words reached agents only.
fn assert_nothing_granted(desk: &Desk, before: usize) {
    let t = desk.ticket(1);
    assert_eq!(t["status"], "open", "{t}");
    assert_eq!(t["priority"], "normal", "{t}");
    assert_eq!(strings(&t["watchers"]), ["bob@acme.test", "dave@acme.test"]);
    for (kind, to, body) in bodies_since(desk, before) {
        assert_eq!(kind, "agent_alert", "only agents hear of it: {to}");
        assert!(to.contains("@example.test"), "{to}");
        let _ = body;
    }
}

/// The forged mail landed on #1 as an internal note with the refusal on record.
/// A ticket's newest message, from `tickets show --json`.
fn last_message(t: &serde_json::Value) -> serde_json::Value {
    t["messages"]
        .as_array()
        .and_then(|m| m.last())
        .expect("a message")
        .clone()
}

fn assert_internal_note(desk: &Desk, needle: &str) {
    let t = desk.ticket(1);
    let last = last_message(&t);
    assert_eq!(last["internal"], true, "{last}");
    assert_eq!(last["verified"], false, "{last}");
    assert_eq!(last["source"], "email", "{last}");
    let refusals = events(&t, "unverified_sender");
    assert!(
        refusals.iter().any(|d| d.contains(needle)),
        "no unverified_sender event with {needle:?}: {refusals:?}"
    );
}

#[test]
fn a_forged_agent_from_with_a_subject_tag_is_an_internal_note_and_no_command() {
    let (desk, before) = desk_with_ticket();
    let forged = mail(
        "From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN drops every hour\nMessage-ID: <forged-1@evil.example>",
        &format!("{COMMANDS}{BAIT}"),
    );
    let r = desk.ingest(&forged);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("updated"), Some(1))
    );
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "claims to be agent@example.test; not relayed");
    assert_internal_note(&desk, "agent commands not carried out");
    // The command lines stay in the note as plain text, for agents to see.
    let t = desk.ticket(1);
    assert!(
        t["messages"][1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("#watch mallory@evil.example"),
        "{t}"
    );
    // The agents' alert says plainly what happened, the claimed agent included.
    let alerts = bodies_since(&desk, before);
    assert!(
        alerts
            .iter()
            .any(|(_, to, body)| to.contains("agent@example.test")
                && body.contains("unverified: claims to be agent@example.test; not relayed")),
        "{alerts:?}"
    );
}

#[test]
fn a_forged_agent_reply_by_message_id_is_not_relayed() {
    let (desk, before) = desk_with_ticket();
    let forged = mail(
        "From: Alice Agent <agent@example.test>\nTo: support@example.test\nSubject: Re: VPN\nMessage-ID: <forged-2@evil.example>\nIn-Reply-To: <fx-new-1@acme.test>",
        BAIT,
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "not relayed");
}

#[test]
fn a_reply_to_a_notification_threads_by_its_message_id_and_proves_no_membership() {
    // Threading rule 1 for the Message-ID of a mail ticketd sent: no tag in
    // the subject, the plain support address, only In-Reply-To to go by.
    let (desk, _) = desk_with_ticket();
    let sent = desk.notification_id("ticket_received", "ann@acme.test");
    let r = desk.ingest(&mail(
        &format!("From: ann@acme.test\nTo: support@example.test\nSubject: Re: your request\nMessage-ID: <n-1@acme.test>\nIn-Reply-To: <{sent}>"),
        "It happened again at noon.",
    ));
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("updated"), Some(1))
    );
    let last = last_message(&desk.ticket(1));
    assert_eq!(
        (last["text"].as_str(), last["internal"].as_bool()),
        (Some("It happened again at noon."), Some(false)),
        "{last}"
    );
    // Someone who merely holds the id gets on the ticket as a note only.
    let r = desk.ingest(&mail(
        &format!("From: mallory@evil.example\nTo: support@example.test\nSubject: Re: your request\nMessage-ID: <n-2@evil.example>\nReferences: <{sent}>"),
        BAIT,
    ));
    assert_eq!(r["ticket"].as_i64(), Some(1), "{r}");
    let last = last_message(&desk.ticket(1));
    assert_eq!(last["internal"], true, "{last}");
    // An id ticketd never sent threads nothing.
    let r = desk.ingest(&mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: Re: your request\nMessage-ID: <n-3@acme.test>\nIn-Reply-To: <000000000000000000000000.1@example.test>",
        "new question",
    ));
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("created"), Some(2)),
        "{r}"
    );
}

#[test]
fn a_display_name_claiming_an_agent_proves_nothing_and_is_shown_as_the_address() {
    let (desk, before) = desk_with_ticket();
    let forged = mail(
        "From: \"agent@example.test\" <mallory@evil.example>\nTo: support@example.test\nSubject: Re: VPN\nMessage-ID: <forged-3@evil.example>\nIn-Reply-To: <fx-new-1@acme.test>",
        &format!("{COMMANDS}{BAIT}"),
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "claims the support desk or an agent");
    for (_, _, body) in bodies_since(&desk, before) {
        assert!(body.contains("from mallory@evil.example"), "{body}");
        assert!(!body.contains("\"agent@example.test\""), "{body}");
    }
}

#[test]
fn a_display_name_claiming_the_desk_is_never_shown_to_customers() {
    let (desk, before) = desk_with_ticket();
    // Ann herself, but her client (or someone) names her "Example Support".
    let reply = mail(
        "From: Example Support <ann@acme.test>\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <name-1@acme.test>",
        "Thanks, it works now.",
    );
    desk.ingest(&reply);
    let sent = bodies_since(&desk, before);
    let to_bob = sent
        .iter()
        .find(|(k, to, _)| k == "ticket_updated" && to.contains("bob@acme.test"))
        .expect("Bob is told of Ann's reply");
    assert!(to_bob.2.contains("ann@acme.test wrote:"), "{}", to_bob.2);
    assert!(!to_bob.2.contains("Example Support <"), "{}", to_bob.2);
}

#[test]
fn a_sender_header_verifies_nothing() {
    let (desk, before) = desk_with_ticket();
    // From the attacker, Sender the agent: the From is who wrote.
    let forged = mail(
        "From: mallory@evil.example\nSender: agent@example.test\nTo: support@example.test\nSubject: Re: VPN\nMessage-ID: <forged-4@evil.example>\nIn-Reply-To: <fx-new-1@acme.test>",
        &format!("{COMMANDS}{BAIT}"),
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    let t = desk.ticket(1);
    assert_eq!(t["messages"][1]["internal"], true);
    assert_eq!(t["messages"][1]["from"], "mallory@evil.example");
    // No From at all, the agent in Sender: still only a claim.
    let forged = mail(
        "Sender: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <forged-5@evil.example>",
        &format!("{COMMANDS}{BAIT}"),
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "not relayed");
}

#[test]
fn two_from_addresses_are_never_verified() {
    let (desk, before) = desk_with_ticket();
    // Even with the trusted MTA's pass for the first address's domain.
    let forged = mail(
        &format!("{VERIFIED}From: agent@example.test, mallory@evil.example\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <forged-6@evil.example>"),
        &format!("{COMMANDS}{BAIT}"),
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "From names 2 addresses");
}

#[test]
fn a_pass_from_an_untrusted_server_verifies_nothing() {
    let (desk, before) = desk_with_ticket();
    let forged = mail(
        "Authentication-Results: mx.evil.example; dkim=pass header.d=example.test; dmarc=pass header.from=example.test\nFrom: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <forged-7@evil.example>",
        &format!("{COMMANDS}{BAIT}"),
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "not relayed");
}

#[test]
fn a_dkim_fail_from_the_trusted_server_verifies_nothing() {
    let (desk, before) = desk_with_ticket();
    // Our MTA on top says fail; below the sending side's own header, the
    // forger's copy of ours says pass: only the topmost block counts.
    let forged = mail(
        "Authentication-Results: mx.example.test; dkim=fail (bad signature) header.d=example.test\nAuthentication-Results: mx.evil.example; dkim=pass header.d=example.test\nAuthentication-Results: mx.example.test; dmarc=pass header.from=example.test\nFrom: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <forged-8@evil.example>",
        &format!("{COMMANDS}{BAIT}"),
    );
    let explain = desk.run(&["explain"], &forged);
    assert!(
        explain.stdout.contains("unverified: no personal address, and the trusted mx.example.test did not confirm the sender"),
        "{}",
        explain.stdout
    );
    desk.ingest(&forged);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "not relayed");
}

#[test]
fn someone_elses_personal_address_does_not_verify_the_agent() {
    let (desk, before) = desk_with_ticket();
    // Ann's personal key leaked (she forwarded a notification): it threads,
    // but proves only Ann, not the agent.
    let anns = desk.personal_address(1, "ann@acme.test");
    let forged = mail(
        &format!("From: agent@example.test\nTo: {anns}\nSubject: Re: VPN\nMessage-ID: <forged-9@evil.example>"),
        &format!("{COMMANDS}{BAIT}"),
    );
    let r = desk.ingest(&forged);
    assert_eq!(r["ticket"], 1);
    assert_nothing_granted(&desk, before);
    assert_internal_note(&desk, "not relayed");
    // A made-up key matches nothing at all: a new ticket, not #1.
    let made_up = mail(
        "From: mallory@evil.example\nTo: support+1-0123456789abcdef@example.test\nSubject: hello\nMessage-ID: <forged-10@evil.example>",
        BAIT,
    );
    assert_eq!(desk.ingest(&made_up)["ticket"], 2);
}

#[test]
fn a_forged_requester_cannot_add_a_watcher() {
    let (desk, before) = desk_with_ticket();
    let forged = mail(
        "From: Ann Customer <ann@acme.test>\nTo: support@example.test\nCc: mallory@evil.example\nSubject: Re: [#1] VPN drops every hour\nMessage-ID: <forged-11@evil.example>",
        "Adding my colleague.",
    );
    let r = desk.ingest(&forged);
    assert_eq!(r["outcome"], "updated");
    let t = desk.ticket(1);
    // An unverified customer reply still lands as her reply…
    assert_eq!(t["messages"][1]["internal"], false);
    assert_eq!(t["messages"][1]["verified"], false);
    // …but Mallory is no watcher and hears nothing of later answers.
    assert_eq!(strings(&t["watchers"]), ["bob@acme.test", "dave@acme.test"]);
    assert!(
        events(&t, "unverified_sender")
            .iter()
            .any(|d| d.contains("mallory@evil.example")),
        "{t}"
    );
    let answer = mail(
        &format!("{VERIFIED}From: agent@example.test\nTo: support@example.test\nSubject: Re: [#1] VPN\nMessage-ID: <answer-1@example.test>"),
        "We are on it.",
    );
    desk.ingest(&answer);
    assert!(
        !bodies_since(&desk, before)
            .iter()
            .any(|(_, to, _)| to.contains("mallory")),
        "Mallory got mail"
    );
}

#[test]
fn verified_agent_mail_keeps_its_powers() {
    let (desk, before) = desk_with_ticket();
    // By the agent's personal reply address (as answering the alert does).
    let own = desk.personal_address(1, "agent@example.test");
    let answer = mail(
        &format!("From: Alice Agent <agent@example.test>\nTo: {own}\nSubject: Re: [#1] VPN\nMessage-ID: <answer-2@example.test>"),
        "#priority high\nWe are on it.",
    );
    let explain = desk.run(&["explain"], &answer);
    assert!(
        explain.stdout.contains("verified: personal reply address"),
        "{}",
        explain.stdout
    );
    desk.ingest(&answer);
    let t = desk.ticket(1);
    assert_eq!(t["priority"], "high");
    assert_eq!(t["status"], "pending");
    assert_eq!(t["messages"][1]["verified"], true);
    assert_eq!(t["messages"][1]["internal"], false);
    let sent = bodies_since(&desk, before);
    let to_ann = sent
        .iter()
        .find(|(k, to, _)| k == "ticket_updated" && to.contains("ann@acme.test"))
        .expect("Ann gets the answer");
    assert!(
        to_ann.2.contains("Alice Agent <agent@example.test> wrote:"),
        "{}",
        to_ann.2
    );
    assert!(to_ann.2.contains("We are on it."));
}

#[test]
fn a_forged_mail_sent_first_with_someones_message_id_does_not_swallow_theirs() {
    let desk = Desk::new();
    let head = "To: support@example.test\nSubject: Refund\nMessage-ID: <real-1@acme.test>";
    let forged = mail(
        &format!("From: mallory@evil.example\n{head}"),
        "Ignore my next mail.",
    );
    let real = mail(
        &format!("From: ann@acme.test\n{head}"),
        "Please refund order 42.",
    );
    assert_eq!(desk.ingest(&forged)["outcome"], "created");
    let r = desk.ingest(&real);
    assert_eq!(
        (r["outcome"].as_str(), r["ticket"].as_i64()),
        (Some("created"), Some(2))
    );
    assert_eq!(desk.ticket(2)["requester"], "ann@acme.test");
    // The real mail delivered again is still its duplicate, and so is the forger's.
    assert_eq!(desk.ingest(&real)["outcome"], "duplicate");
    assert_eq!(desk.ingest(&forged)["outcome"], "duplicate");
    let log = desk.json(&["log", "list", "--json"]);
    assert!(
        log.as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "message_id_reused"),
        "{log}"
    );
}
