//! Heavy and hostile mail over IMAP (issue 11): a backlog or a burst from
//! one sender is throttled by INTERNALDATE and never dropped; mail over
//! `store.max_message_bytes` is moved to the failed folder without being
//! downloaded; and while one message takes long to ingest (a 40 MB body, a
//! locked database) `/healthz` keeps answering and SIGTERM stops the daemon
//! within seconds, the message committed or still in the mailbox.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dovecot::{free_port, Dovecot};
use super::{Daemon, Running};

/// One customer's new request, `n`.
fn request(n: usize) -> Vec<u8> {
    format!(
        "From: Carla Customer <carla@acme.test>\r\nTo: support@example.test\r\nSubject: Question number {n}\r\nMessage-ID: <heavy-{n}@acme.test>\r\nDate: Mon, 01 Jan 2024 08:00:00 +0000\r\n\r\nHello, this is question {n}.\r\n"
    )
    .into_bytes()
}

/// A config line added to a section of the test daemon's config.
fn set(d: &Daemon, section: &str, line: &str) {
    let text = std::fs::read_to_string(&d.config).expect("config");
    let header = format!("[{section}]\n");
    assert!(text.contains(&header), "no {header} in\n{text}");
    std::fs::write(
        &d.config,
        text.replacen(&header, &format!("{header}{line}\n"), 1),
    )
    .expect("config");
}

#[test]
fn a_months_backlog_from_one_sender_gives_one_ticket_per_request() {
    let dv = Dovecot::start();
    let mut imap = dv.imap();
    // One a day in January 2024, drained in one pass today: the throttle
    // (20 an hour by default) counts by arrival, not by the clock.
    for day in 1..=30 {
        let date = format!("{day:02}-Jan-2024 09:00:00 +0000");
        imap.append_at("INBOX", &date, &request(day));
    }
    let d = Daemon::new(&dv, "");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("fetched 30 message(s): created 30"), "{out}");
    assert_eq!(d.tickets(), 30);
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 0);
    assert_eq!((imap.count("INBOX"), imap.count("Processed")), (0, 30));
}

#[test]
fn a_burst_from_one_sender_is_throttled_and_kept_whole() {
    let dv = Dovecot::start();
    let mut imap = dv.imap();
    for i in 0..8 {
        let date = format!("15-Mar-2024 10:00:{:02} +0000", i * 5);
        imap.append_at("INBOX", &date, &request(i));
    }
    let d = Daemon::new(&dv, "");
    set(&d, "support", "max_new_tickets_per_hour = 5");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created 5") && out.contains("quarantined 3"),
        "{out}"
    );
    assert_eq!(d.tickets(), 5);
    assert_eq!(
        d.count("SELECT count(*) FROM quarantine WHERE reason = 'throttled'"),
        3,
        "{err}"
    );
    assert_eq!(
        (
            imap.count("INBOX"),
            imap.count("Processed"),
            imap.count("Failed")
        ),
        (0, 5, 3)
    );
}

/// The most bytes Dovecot sent any one IMAP session of this server.
fn most_sent(dv: &Dovecot) -> u64 {
    let log = std::fs::read_to_string(dv.state().join("log/dovecot.log")).unwrap_or_default();
    let sent: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("Logged out") || l.contains("Disconnected"))
        .filter_map(|l| l.split(" out=").nth(1))
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        !sent.is_empty(),
        "no session totals in the Dovecot log:\n{log}"
    );
    sent.into_iter().max().unwrap_or(0)
}

#[test]
fn mail_over_max_message_bytes_is_moved_unread_and_the_rest_ingested() {
    let dv = Dovecot::start();
    let mut imap = dv.imap();
    imap.append("INBOX", &request(1));
    let mut big = request(2);
    big.truncate(big.len() - 2);
    while big.len() < 3 * 1024 * 1024 {
        big.extend_from_slice(b"\r\nA line of a very long mail that nobody should download.");
    }
    big.extend_from_slice(b"\r\n");
    imap.append("INBOX", &big); // UID 2
    imap.append("INBOX", &request(3));
    imap.append("INBOX", &request(4));
    let d = Daemon::new(&dv, "");
    set(&d, "store", "max_message_bytes = 1048576");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("fetched 3 message(s): created 3")
            && out.contains("1 over store.max_message_bytes moved to the failed folder unread"),
        "{out}"
    );
    assert_eq!(d.tickets(), 3);
    assert_eq!(
        (
            imap.count("INBOX"),
            imap.count("Processed"),
            imap.count("Failed")
        ),
        (0, 3, 1)
    );
    // Never fetched: not quarantined by ingest (which would hold its bytes),
    // no raw mail of that size, and Dovecot never sent that many bytes.
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 0);
    assert_eq!(
        d.count("SELECT count(*) FROM raw_mail WHERE length(bytes) > 1048576"),
        0
    );
    let sent = most_sent(&dv);
    assert!(
        sent < 1024 * 1024,
        "Dovecot sent {sent} bytes in one session"
    );
    let detail = d.query_text("SELECT detail FROM events WHERE kind = 'mail_too_large'");
    let size = big.len().to_string();
    for word in [
        "UID 2",
        size.as_str(),
        "1048576",
        "raise store.max_message_bytes",
        "move it back to INBOX",
    ] {
        assert!(detail.contains(word), "{word} in {detail}");
    }
    assert!(
        err.lines().any(|l| l.contains("without downloading")
            && l.contains("uid=2")
            && l.contains(&format!("bytes={size}"))
            && l.contains("limit=1048576")),
        "{err}"
    );
    assert_eq!(d.count("SELECT count(*) FROM imap_moves"), 0);

    // Done as the event says: raise the limit, move it back; it is taken in.
    let text = std::fs::read_to_string(&d.config).expect("config");
    std::fs::write(
        &d.config,
        text.replace(
            "max_message_bytes = 1048576",
            "max_message_bytes = 10485760",
        ),
    )
    .expect("config");
    imap.cmd("SELECT Failed");
    imap.cmd("MOVE 1 INBOX");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("fetched 1 message(s): created 1"), "{out}");
    assert_eq!(d.tickets(), 4);
}

/// `GET /healthz` every 50 ms on a thread of its own until stopped: each
/// answer's status line and how long it took.
struct HealthPoller {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(String, Duration)>>,
}

impl HealthPoller {
    fn start(port: u16) -> HealthPoller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                let status = healthz(port);
                got.push((status, started.elapsed()));
                std::thread::sleep(Duration::from_millis(50));
            }
            got
        });
        HealthPoller { stop, thread }
    }

    /// Stops polling; panics unless every answer was a 200. Returns the
    /// number of answers and the slowest.
    fn finish(self, d: &Daemon) -> (usize, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let got = self.thread.join().expect("poller");
        let bad: Vec<&(String, Duration)> =
            got.iter().filter(|(s, _)| s != "HTTP/1.1 200 OK").collect();
        assert!(
            bad.is_empty(),
            "{bad:?} of {}; log:\n{}",
            got.len(),
            d.log()
        );
        let slowest = got.iter().map(|(_, t)| *t).max().unwrap_or_default();
        (got.len(), slowest)
    }
}

fn healthz(port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return "cannot connect".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return "cannot write".into();
    }
    let mut reply = String::new();
    match s.read_to_string(&mut reply) {
        Ok(_) => reply.lines().next().unwrap_or("").to_owned(),
        Err(e) => format!("no answer: {e}"),
    }
}

/// SIGTERM; returns the exit code and how long the daemon took to exit.
fn terminate_timed(running: &mut Running) -> (i32, Duration) {
    let started = Instant::now();
    let code = super::terminate(running);
    (code, started.elapsed())
}

/// A daemon with `/healthz` on a free port, running and connected.
fn serving(dv: &Dovecot, store_line: &str) -> (Daemon, u16, Running) {
    let port = free_port();
    let d = Daemon::new(dv, &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    if !store_line.is_empty() {
        set(&d, "store", store_line);
    }
    let running = d.spawn();
    d.wait_for(20, "the daemon to settle in the folder", |d| {
        d.count("SELECT count(*) FROM imap_state") == 1 && d.log().contains("connected")
    });
    let start = Instant::now();
    while healthz(port) != "HTTP/1.1 200 OK" {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    (d, port, running)
}

/// A request with a 40 MB plain-text body: seconds of parsing and quote
/// stripping (5.4 s for `ticketd ingest`, debug build).
fn huge(n: usize) -> Vec<u8> {
    let mut raw = request(n);
    let line = b"Many lines of an ordinary text body, quite long, none of them quoted.\r\n";
    raw.reserve(40_000_000);
    while raw.len() < 40_000_000 {
        raw.extend_from_slice(line);
    }
    raw
}

#[test]
fn healthz_answers_and_sigterm_is_honoured_during_a_huge_ingest() {
    let dv = Dovecot::start();
    let (d, port, mut running) = serving(&dv, "");
    let mut imap = dv.imap();

    // A 40 MB mail, ingested while /healthz is polled.
    let poller = HealthPoller::start(port);
    let started = Instant::now();
    imap.append("INBOX", &huge(1));
    d.wait_for(90, "the huge ticket", |d| d.tickets() == 1);
    let took = started.elapsed();
    let (answers, slowest) = poller.finish(&d);
    println!(
        "40 MB mail: ticket after {took:?}; /healthz answered {answers} times, slowest {slowest:?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "slowest /healthz {slowest:?}"
    );

    // Another: SIGTERM while it is in hand.
    d.wait_for(20, "the move", |d| {
        d.count("SELECT count(*) FROM imap_moves") == 0
    });
    let waiting = d.log().matches("new mail waiting").count();
    imap.append("INBOX", &huge(2));
    d.wait_for(30, "the second fetch", |d| {
        d.log().matches("new mail waiting").count() > waiting
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (code, exit) = terminate_timed(&mut running);
    println!("SIGTERM during a 40 MB ingest: exit {code} after {exit:?}");
    assert_eq!(code, 0, "{}", d.log());
    assert!(
        exit < Duration::from_secs(5),
        "exit took {exit:?}; log:\n{}",
        d.log()
    );
    let committed = d.tickets() == 2;
    assert_eq!(
        imap.count("INBOX"),
        usize::from(!committed),
        "committed and moved, or left in the inbox; log:\n{}",
        d.log()
    );
    // The next run takes it in (or has nothing left): exactly once.
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 2);
    assert_eq!(imap.count("INBOX"), 0);
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE message_id = 'heavy-2@acme.test'"),
        1
    );
}

#[test]
fn healthz_answers_and_sigterm_is_honoured_while_the_database_is_locked() {
    let dv = Dovecot::start();
    let (d, port, mut running) = serving(&dv, "busy_timeout_ms = 60000");
    // Someone else holds the write lock (a long `ticketd` console command, a
    // backup tool): the ingest waits up to busy_timeout_ms for it.
    let lock = rusqlite::Connection::open(d.dir.path().join("ticketd.db")).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let poller = HealthPoller::start(port);
    let mut imap = dv.imap();
    imap.append("INBOX", &request(1));
    d.wait_for(20, "the fetch", |d| d.log().contains("new mail waiting"));
    std::thread::sleep(Duration::from_secs(2));
    let (answers, slowest) = poller.finish(&d);
    println!("database locked: /healthz answered {answers} times, slowest {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "slowest /healthz {slowest:?}"
    );

    let (code, exit) = terminate_timed(&mut running);
    println!("SIGTERM while waiting for the write lock: exit {code} after {exit:?}");
    assert_eq!(code, 0, "{}", d.log());
    assert!(
        exit < Duration::from_secs(5),
        "exit took {exit:?}; log:\n{}",
        d.log()
    );
    assert!(
        d.log().contains("stays in the mailbox"),
        "the log says what became of it:\n{}",
        d.log()
    );
    assert_eq!(
        imap.count("INBOX"),
        1,
        "not acknowledged: still in the inbox"
    );
    drop(lock); // rolls back: the lock is free
    assert_eq!(d.tickets(), 0);
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("fetched 1 message(s): created 1"), "{out}");
    assert_eq!(d.tickets(), 1);
    assert_eq!(imap.count("INBOX"), 0);
    // Nothing of the stopped batch lingers: no quarantine, no owed move.
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 0);
    assert_eq!(d.count("SELECT count(*) FROM imap_moves"), 0);
}
