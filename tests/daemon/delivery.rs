//! The whole loop with real servers (DESIGN §4, §6): mail reaches the
//! support inbox in a private Dovecot, `ticketd run` turns it into tickets
//! and sends notifications to a real SMTP server, which delivers them into
//! the people's own Dovecot mailboxes; the tests read those over IMAP and
//! answer the way a mail client does.

use std::time::{Duration, Instant};

use super::dovecot::{Dovecot, Imap};
use super::smtp_sink::{header, Sink};
use super::{terminate, Daemon};

const PEOPLE: &[&str] = &[
    "ann@customer.test",
    "bob@customer.test",
    "oncall@example.test",
];

fn daemon(dv: &Dovecot, smtp: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("ticketd.toml");
    let text = format!(
        r#"[store]
path = "ticketd.db"

[support]
address = "support@example.test"
name = "Example Support"
agents = ["agent@example.test"]
portal_url = "https://support.example.test"
oncall = "oncall@example.test"

[imap]
host = "127.0.0.1"
port = {}
security = "none"
username = "support@example.test"
password = "secret"
poll_interval_secs = 1
timeout_secs = 10

[smtp]
{smtp}

[[rules]]
name = "outage"
field = "subject"
pattern = "(?i)\\bdown\\b"
priority = "urgent"
"#,
        dv.port
    );
    std::fs::write(&config, text).expect("config");
    Daemon { dir, config }
}

/// A customer's plain request to the support address.
fn request(from: &str, subject: &str, id: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\r\nHello.\r\n").into_bytes()
}

/// `n` requests ingested while the SMTP server is down: `run --once` says
/// 75 and every notification waits in the outbox.
fn queued_while_down(n: usize, from: impl Fn(usize) -> String) -> (Dovecot, Sink, Daemon, String) {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start(&dv);
    sink.down();
    let d = daemon(&dv, &plain_smtp(&sink));
    let mut support = dv.imap();
    for i in 0..n {
        let raw = request(
            &from(i),
            &format!("Request {i}"),
            &format!("down-{i}@customer.test"),
        );
        support.append("INBOX", &raw);
    }
    let (code, out, err) = d.once();
    assert_eq!(code, 75, "the relay is down: temporary failure\n{out}{err}");
    (dv, sink, d, err)
}

fn plain_smtp(sink: &Sink) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\ntimeout_secs = 10\n",
        sink.port
    )
}

/// Waits until `user`'s inbox holds `n` messages; returns them.
fn inbox(dv: &Dovecot, user: &str, n: usize, d: &Daemon) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut imap = Imap::login(dv.port, user, "secret");
        let mails = imap.fetch_all("INBOX");
        if mails.len() >= n {
            assert_eq!(mails.len(), n, "{user} got more than expected: {mails:#?}");
            return mails;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{user} has {} of {n} mails; log:\n{}",
            mails.len(),
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text part, decoded as a mail client shows it.
fn text_of(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// The HTML alternative, decoded.
fn html_of(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_html(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

fn by_kind<'a>(mails: &'a [String], kind: &str) -> &'a String {
    mails
        .iter()
        .find(|m| header(m, "X-Ticketd-Kind").as_deref() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} among {mails:#?}"))
}

/// A reply as Thunderbird writes it: to the Reply-To, "Re:" subject,
/// In-Reply-To/References, the original quoted below an attribution line.
fn reply(from: &str, to: &str, original: &str, text: &str, id: &str) -> Vec<u8> {
    let subject = header(original, "Subject").expect("subject");
    let msg_id = header(original, "Message-ID").expect("message-id");
    let refs = header(original, "References").unwrap_or_default();
    let reply_to = header(original, "Reply-To").expect("reply-to");
    let reply_to = reply_to
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>').to_owned())
        .unwrap_or(reply_to);
    let quoted: String = original
        .split("\r\n\r\n")
        .nth(2)
        .unwrap_or("")
        .lines()
        .take(12)
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "From: {from}\r\nTo: {reply_to}\r\n{to}Subject: Re: {subject}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: {msg_id}\r\nReferences: {refs} {msg_id}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nOn Mon, 30 Nov 2026 at 09:00, Example Support wrote:\r\n{quoted}"
    )
    .into_bytes()
}

#[test]
fn the_whole_loop_customer_agent_watcher_and_oncall_over_real_servers() {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start(&dv);
    let d = daemon(&dv, &plain_smtp(&sink));
    let mut support = dv.imap();
    support.append(
        "INBOX",
        b"From: Ann Customer <ann@customer.test>\r\nTo: support@example.test\r\nCc: Bob <bob@customer.test>\r\nSubject: Printer on fire\r\nMessage-ID: <first@customer.test>\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\n\r\nThe printer on floor 2 is smoking.\r\n",
    );
    let mut running = d.spawn();

    // 1. The customer's own mailbox: the acknowledgement and the setup link.
    let ann = inbox(&dv, "ann@customer.test", 2, &d);
    let ack = by_kind(&ann, "ticket_received");
    assert_eq!(
        header(ack, "Subject").as_deref(),
        Some("[#1] Printer on fire")
    );
    assert_eq!(
        header(ack, "From").as_deref(),
        Some("\"Example Support\" <support@example.test>")
    );
    let reply_to = header(ack, "Reply-To").expect("Reply-To");
    assert!(
        reply_to.contains("<support+1-") && reply_to.ends_with("@example.test>"),
        "{reply_to}"
    );
    assert_eq!(
        header(ack, "In-Reply-To").as_deref(),
        Some("<first@customer.test>")
    );
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        header(ack, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(
        header(ack, "Thread-Topic").as_deref(),
        Some("Printer on fire")
    );
    assert!(header(ack, "Thread-Index").is_some());
    assert!(ack.contains("multipart/alternative"), "{ack}");
    assert!(ack.contains("Please type your reply above this line"));
    let setup = text_of(by_kind(&ann, "password_setup"));
    let link = setup
        .split_whitespace()
        .find(|w| w.starts_with("https://support.example.test/password/setup?token="))
        .expect("setup link");
    let token = link.rsplit('=').next().expect("token");
    // The HTML is drawn from the queued facts when the mail is sent: the
    // layout, the ticket line, and the same freshly minted link as the text.
    let ack_html = html_of(ack);
    assert!(ack_html.contains("max-width:600px"), "{ack_html}");
    assert!(ack_html.contains("Printer on fire</strong>"), "{ack_html}");
    let setup_html = html_of(by_kind(&ann, "password_setup"));
    assert!(
        setup_html.contains(&format!("href=\"{link}\"")),
        "{setup_html}"
    );
    assert_eq!(token.len(), 64, "256 random bits in hex: {link}");
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM password_tokens WHERE token_hash = '{token}'"
        )),
        0,
        "only the token's hash is stored"
    );
    // Bob is on Cc: he already has the customer's mail; nothing yet.
    assert_eq!(
        Imap::login(dv.port, "bob@customer.test", "secret").count("INBOX"),
        0
    );

    // 2. Ann answers the acknowledgement from her mail client.
    support.append(
        "INBOX",
        &reply(
            "Ann Customer <ann@customer.test>",
            "",
            ack,
            "Now it is only smoking a little.",
            "ann-2@customer.test",
        ),
    );
    d.wait_for(30, "Ann's reply on ticket #1", |d| {
        d.count("SELECT count(*) FROM messages WHERE ticket_id = 1") == 2
    });
    assert_eq!(d.tickets(), 1, "the reply found its ticket");
    let text: String =
        d.query_text("SELECT text FROM messages WHERE ticket_id = 1 ORDER BY id DESC LIMIT 1");
    assert_eq!(
        text, "Now it is only smoking a little.",
        "quote and marker stripped"
    );

    // 3. The agent answers the alert; Ann and the watcher Bob get the words.
    let agent = inbox(&dv, "agent@example.test", 2, &d);
    let alert = agent
        .iter()
        .find(|m| text_of(m).contains("Now it is only smoking"))
        .expect("the alert for Ann's reply");
    support.append(
        "INBOX",
        &reply(
            "Alice Agent <agent@example.test>",
            "",
            alert,
            "A technician is on the way.",
            "agent-1@example.test",
        ),
    );
    let ann = inbox(&dv, "ann@customer.test", 3, &d);
    let update = by_kind(&ann[2..], "ticket_updated");
    assert!(
        text_of(update).contains("A technician is on the way."),
        "{update}"
    );
    assert_eq!(
        header(update, "Subject").as_deref(),
        Some("[#1] Printer on fire")
    );
    let refs = header(update, "References").expect("References");
    assert!(
        refs.contains("<first@customer.test>"),
        "threads to the first mail: {refs}"
    );
    // Bob watches (he was on Cc): Ann's reply, then the agent's answer.
    let bob = inbox(&dv, "bob@customer.test", 2, &d);
    assert!(
        text_of(&bob[0]).contains("Now it is only smoking"),
        "{}",
        bob[0]
    );
    assert!(
        text_of(&bob[1]).contains("A technician is on the way."),
        "{}",
        bob[1]
    );
    assert_eq!(
        header(&bob[1], "Thread-Index").map(|t| t[..30].to_owned()),
        header(ack, "Thread-Index").map(|t| t[..30].to_owned()),
        "one Outlook conversation: the same 22-byte thread header"
    );
    // The alert carried the agent's own reply address (not Ann's): the
    // answer to it is verified, which is why it was relayed.
    let agent_reply_to = header(alert, "Reply-To").expect("Reply-To");
    assert_ne!(agent_reply_to, reply_to, "each recipient has their own");
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE message_id = 'agent-1@example.test' AND verified = 1 AND internal = 0"),
        1
    );

    // 3b. The same words under a forged From reach nobody outside the desk.
    let to_customers = "SELECT count(*) FROM outbox WHERE recipients LIKE '%customer.test%'";
    let customers_before = d.count(to_customers);
    support.append(
        "INBOX",
        b"From: Alice Agent <agent@example.test>\r\nTo: support@example.test\r\nSubject: Re: [#1] Printer on fire\r\nMessage-ID: <forged@evil.example>\r\nDate: Mon, 30 Nov 2026 10:30:00 +0000\r\n\r\n#status solved\r\nA technician is on the way. Please confirm your card at http://evil.example/pay\r\n",
    );
    let agent = inbox(&dv, "agent@example.test", 3, &d);
    assert!(
        text_of(&agent[2]).contains("unverified: claims to be agent@example.test; not relayed"),
        "{}",
        agent[2]
    );
    assert_eq!(
        d.count(to_customers),
        customers_before,
        "nothing queued for customers"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE message_id = 'forged@evil.example' AND internal = 1 AND verified = 0"),
        1
    );
    assert_eq!(
        d.query_text("SELECT status FROM tickets WHERE id = 1"),
        "pending",
        "the forged #status solved was not carried out"
    );
    assert_eq!(
        Imap::login(dv.port, "ann@customer.test", "secret").count("INBOX"),
        3
    );
    assert_eq!(
        Imap::login(dv.port, "bob@customer.test", "secret").count("INBOX"),
        2
    );

    // 4. An urgent ticket pages on-call at once.
    support.append(
        "INBOX",
        b"From: Ann Customer <ann@customer.test>\r\nTo: support@example.test\r\nSubject: Checkout is down\r\nMessage-ID: <urgent@customer.test>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n\r\nNobody can pay.\r\n",
    );
    let oncall = inbox(&dv, "oncall@example.test", 1, &d);
    assert_eq!(
        header(&oncall[0], "Subject").as_deref(),
        Some("URGENT [#2] Checkout is down")
    );
    assert!(text_of(&oncall[0]).contains("Nobody can pay."));

    assert_eq!(terminate(&mut running), 0, "{}", d.log());
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE status <> 'sent'"),
        0,
        "everything delivered; log:\n{}",
        d.log()
    );
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'notification_sent'"),
        d.count("SELECT count(*) FROM outbox"),
        "one event per delivery"
    );
}

#[test]
fn an_smtp_outage_delays_notifications_but_loses_and_doubles_none() {
    let (_dv, sink, d, err) = queued_while_down(3, |_| "Ann <ann@customer.test>".into());
    assert!(
        err.contains(&format!("127.0.0.1:{}", sink.port)),
        "names the server: {err}"
    );
    assert!(err.contains("Nothing is lost"), "{err}");
    assert_eq!(d.tickets(), 3, "ingestion did not wait for SMTP");
    let queued = d.count("SELECT count(*) FROM outbox");
    assert_eq!(queued, 3 + 1 + 3, "3 acks, 1 setup link, 3 agent alerts");
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0"),
        queued,
        "an unreachable relay charges no row a try"
    );

    sink.up();
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("outbox: {queued} sent")), "{out}");
    let got = sink.received();
    assert_eq!(got.len() as i64, queued);
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| header(m, "Message-ID").expect("id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as i64, queued, "no notification twice");
    // Nothing left to send: a third pass sends nothing more.
    let (code, out, _) = d.once();
    assert_eq!(code, 0);
    assert!(out.contains("outbox: 0 sent"), "{out}");
    assert_eq!(sink.received().len() as i64, queued);
}

#[test]
fn refusals_deferrals_and_bouncing_addresses() {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start(&dv);
    let d = daemon(&dv, &plain_smtp(&sink));
    let mut support = dv.imap();
    support.append(
        "INBOX",
        &request("reject-me@customer.test", "A", "r1@customer.test"),
    );
    support.append(
        "INBOX",
        &request("defer-me@customer.test", "B", "r2@customer.test"),
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    // 550: failed at once, with the server's words in the row and the log.
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE recipients LIKE '%reject-me%' AND status = 'failed' AND attempts = 1 AND last_error LIKE '%550%'"),
        2
    );
    // 451: still pending, one try spent, the next one scheduled later.
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE recipients LIKE '%defer-me%' AND status = 'pending' AND attempts = 1 AND next_attempt_at > strftime('%s','now') AND last_error LIKE '%451%'"),
        2
    );
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'notification_failed'"),
        2
    );
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'notification_deferred'"),
        2
    );
    let out = d.cmd(&["outbox", "list"]).output().expect("outbox list");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("failed") && table.contains("pending"),
        "{table}"
    );
    // An operator sends the failed ones again once the address is fixed.
    let out = d
        .cmd(&["outbox", "retry", "--failed"])
        .output()
        .expect("retry");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 notification(s) queued again"),
        "{out:?}"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE recipients LIKE '%reject-me%' AND status = 'pending' AND attempts = 0"),
        2
    );
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'notification_requeued'"),
        2
    );

    // A bouncing address is held until an agent clears it.
    let sent_before = sink.received().len();
    let out = d
        .cmd(&["users", "set-role", "ann@customer.test", "member"])
        .output()
        .expect("set-role");
    assert!(out.status.success());
    rusqlite::Connection::open(d.dir.path().join("ticketd.db"))
        .expect("db")
        .execute(
            "UPDATE users SET bouncing_since = 1 WHERE email = 'ann@customer.test'",
            [],
        )
        .expect("mark");
    support.append(
        "INBOX",
        &request("Ann <ann@customer.test>", "C", "r3@customer.test"),
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE recipients LIKE '%ann@customer.test%' AND status = 'pending'"),
        0
    );
    let received = sink.received();
    assert!(
        received[sent_before..]
            .iter()
            .all(|m| !m.contains("To: ann@customer.test")),
        "nothing to a bouncing address"
    );
    let out = d
        .cmd(&["users", "clear-bounce", "ann@customer.test"])
        .output()
        .expect("clear-bounce");
    assert!(out.status.success());
    let out = d
        .cmd(&["tickets", "update", "3", "--status", "solved"])
        .output()
        .expect("update");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        sink.received()
            .iter()
            .any(|m| m.contains("To: ann@customer.test") && text_of(m).contains("Solved")),
        "cleared: mail flows again"
    );
}

#[test]
fn starttls_with_a_private_ca_and_never_plaintext_to_an_untrusted_server() {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start_starttls(&dv, None);
    let smtp = format!(
        "host = \"localhost\"\nport = {}\nsecurity = \"starttls\"\ntimeout_secs = 10\n",
        sink.port
    );
    // Without the private CA the certificate is untrusted: nothing is sent.
    let d = daemon(&dv, &smtp);
    dv.imap().append(
        "INBOX",
        &request("Ann <ann@customer.test>", "TLS", "t1@customer.test"),
    );
    let (code, _, err) = d.once();
    assert_eq!(code, 75, "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(sink.received().is_empty());
    // With it, the same rows go out over TLS.
    let trusted = format!("{smtp}ca_file = \"{}\"\n", dv.ca().display());
    std::fs::write(
        &d.config,
        std::fs::read_to_string(&d.config)
            .expect("config")
            .replace(&smtp, &trusted),
    )
    .expect("config");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sink.received().len(), 3, "{out}");
}

#[test]
fn implicit_tls_with_a_private_ca() {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start_tls(&dv);
    let d = daemon(
        &dv,
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout_secs = 10\nca_file = \"{}\"\n",
            sink.port,
            dv.ca().display()
        ),
    );
    dv.imap().append(
        "INBOX",
        &request("Ann <ann@customer.test>", "TLS", "t2@customer.test"),
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sink.received().len(), 3, "{out}");
    assert_eq!(inbox(&dv, "ann@customer.test", 2, &d).len(), 2);
}

#[test]
fn smtp_login_from_a_password_file_and_a_clear_error_for_a_wrong_one() {
    let dv = Dovecot::start_users(PEOPLE);
    let sink = Sink::start_starttls(&dv, Some("support@example.test:s3cret pass"));
    let smtp = |password_file: &str| {
        format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout_secs = 10\nca_file = \"{}\"\nusername = \"support@example.test\"\npassword_file = \"{password_file}\"\n",
            sink.port,
            dv.ca().display()
        )
    };
    let d = daemon(&dv, &smtp("wrong.secret"));
    std::fs::write(d.dir.path().join("wrong.secret"), "nope\n").expect("secret");
    std::fs::write(d.dir.path().join("smtp.secret"), "s3cret pass\n").expect("secret");
    dv.imap().append(
        "INBOX",
        &request("Ann <ann@customer.test>", "Auth", "a1@customer.test"),
    );
    let (code, _, err) = d.once();
    assert_eq!(code, 78, "a refused login is the operator's to fix: {err}");
    assert!(
        err.contains("login refused") && err.contains("smtp.username"),
        "{err}"
    );
    assert!(
        !err.contains("nope"),
        "the password is never printed: {err}"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0"),
        3,
        "no row charged a try"
    );
    std::fs::write(
        &d.config,
        std::fs::read_to_string(&d.config)
            .expect("config")
            .replace("wrong.secret", "smtp.secret"),
    )
    .expect("config");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sink.received().len(), 3);
}

#[test]
fn two_couriers_at_once_send_each_notification_once() {
    let (_dv, sink, d, _) = queued_while_down(20, |i| format!("c{i}@customer.test"));
    // A row written by a newer ticketd: failed with the reason, never a
    // blocked outbox.
    rusqlite::Connection::open(d.dir.path().join("ticketd.db"))
        .expect("db")
        .execute(
            "UPDATE outbox SET kind = 'from_the_future' WHERE id = 1",
            [],
        )
        .expect("update");
    let queued = d.count("SELECT count(*) FROM outbox");
    sink.up();
    // The service and a cron `run --once` deliver side by side.
    let spawn = || {
        d.cmd(&["run", "--once"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().expect("wait").success());
    assert!(b.wait().expect("wait").success());
    let mut ids: Vec<String> = sink
        .received()
        .iter()
        .map(|m| header(m, "Message-ID").expect("id"))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no notification twice");
    assert_eq!(n as i64, queued - 1, "every other notification sent");
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE id = 1 AND status = 'failed' AND last_error LIKE '%unknown kind%'"),
        1
    );
}
