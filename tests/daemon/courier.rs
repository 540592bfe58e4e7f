//! The courier's database work runs off the async runtime: while another
//! process holds the SQLite write lock (an MTA's `ticketd ingest`, a console
//! command), the courier waits for it on the blocking pool and `/healthz`,
//! the watchdog and IDLE go on; once the lock is free, what was pending is
//! sent exactly once.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dovecot::{free_port, Dovecot};
use super::smtp_sink::{header, Sink};
use super::{mail, terminate, Daemon};

/// How long `/healthz` may take while the courier waits for the lock.
const PROMPT: Duration = Duration::from_millis(500);

fn healthz(port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return "cannot connect".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    if write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return "cannot write".into();
    }
    let mut reply = String::new();
    match s.read_to_string(&mut reply) {
        Ok(_) => reply.lines().next().unwrap_or("").to_owned(),
        Err(e) => format!("no answer: {e}"),
    }
}

/// `GET /healthz` every 50 ms on a thread of its own until stopped: each
/// answer's status line and how long it took.
fn poll_health(
    port: u16,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(String, Duration)>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let status = healthz(port);
            got.push((status, started.elapsed()));
            std::thread::sleep(Duration::from_millis(50));
        }
        got
    })
}

/// Whether some socket of this host is connected to 127.0.0.1:`port`.
fn connected_to(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let remote = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // st 01: ESTABLISHED.
        f.len() > 3 && f[2] == remote && f[3] == "01"
    })
}

#[test]
fn healthz_answers_while_the_courier_waits_for_the_write_lock() {
    let dv = Dovecot::start();
    let sink = Sink::start(&dv);
    sink.down();
    let port = free_port();
    let d = Daemon::new(
        &dv,
        &format!(
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\ntimeout_secs = 10\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n",
            sink.port
        ),
    );
    let text = std::fs::read_to_string(&d.config).expect("config");
    std::fs::write(
        &d.config,
        text.replacen("[store]\n", "[store]\nbusy_timeout_ms = 20000\n", 1),
    )
    .expect("config");

    // Notifications queued while the relay is down (a password link among them).
    let mut imap = dv.imap();
    for i in 0..2 {
        imap.append("INBOX", &mail(i, "locked"));
    }
    let (code, out, err) = d.once();
    assert_eq!(code, 75, "the relay is down\n{out}{err}");
    let queued = d.count("SELECT count(*) FROM outbox WHERE status = 'pending'");
    assert!(
        d.count("SELECT count(*) FROM outbox WHERE kind = 'password_setup'") >= 1,
        "a link to mint"
    );

    let mut running = d.spawn();
    d.wait_for(20, "the courier to find the relay down", |d| {
        d.log().contains("outbox delivery paused")
    });
    let start = Instant::now();
    while healthz(port) != "HTTP/1.1 200 OK" {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Someone else takes the write lock; then the relay comes back.
    let lock = rusqlite::Connection::open(d.dir.path().join("ticketd.db")).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let locked = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_health(port, stop.clone());
    sink.up();
    // The courier's next try logs in to the relay, then waits to claim rows.
    let start = Instant::now();
    while !connected_to(sink.port) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the courier did not try again; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let waiting = Instant::now();
    while locked.elapsed() < Duration::from_secs(6) || waiting.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(sink.received().is_empty(), "nothing sent under the lock");
    lock.execute_batch("ROLLBACK").expect("unlock");
    let held = locked.elapsed();

    d.wait_for(30, "the notifications", |_| {
        sink.received().len() as i64 >= queued
    });
    stop.store(true, Ordering::Relaxed);
    let got = poller.join().expect("poller");
    let bad: Vec<&(String, Duration)> =
        got.iter().filter(|(s, _)| s != "HTTP/1.1 200 OK").collect();
    assert!(
        bad.is_empty(),
        "{bad:?} of {}; log:\n{}",
        got.len(),
        d.log()
    );
    let slowest = got.iter().map(|(_, t)| *t).max().unwrap_or_default();
    println!(
        "write lock held {held:?} (courier waiting {:?} of it): /healthz answered {} times, slowest {slowest:?}",
        held.saturating_sub(waiting.duration_since(locked)),
        got.len()
    );
    assert!(slowest < PROMPT, "slowest /healthz {slowest:?}");

    // Exactly once: every row sent, each mail received one time.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(terminate(&mut running), 0, "{}", d.log());
    let received = sink.received();
    assert_eq!(received.len() as i64, queued, "{}", d.log());
    let mut ids: Vec<String> = received
        .iter()
        .map(|m| header(m, "Message-ID").expect("id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as i64, queued, "no notification twice");
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE status = 'sent' AND attempts = 1"),
        queued
    );
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'notification_sent'"),
        queued
    );
}
