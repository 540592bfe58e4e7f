//! Delivery throughput: notifications per second from the outbox to a real
//! local SMTP server (scripts/smtp-sink, aiosmtpd), with connection reuse,
//! at one and at several notifications in flight. The floor is the same
//! server fed the same composed messages by a bare sequential SMTP loop over
//! one connection: what the server itself can take.
//!
//! `cargo bench --bench delivery` (release build). Under `cargo test` it
//! sends a few notifications once, as a smoke check that all are accepted.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/report.rs"]
#[allow(dead_code)] // the mailbox line is the other benches'
mod report;

use ticketd::config::Config;
use ticketd::delivery::compose::{compose, Identity};
use ticketd::delivery::Courier;
use ticketd::domain::address::Addressing;
use ticketd::ingest::{now, Ingestor};
use ticketd::store::{outbox, Durability, Store};

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let tickets = report::messages(bench, 1_000, 10);
    let sink_dir = tempfile::tempdir().expect("sink dir");
    let port = free_port();
    let sink = Sink::start(sink_dir.path(), port);

    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path(), port, 1);
    let mut store = Store::open(
        &config.store.path,
        Duration::from_secs(30),
        Durability::Normal,
    )
    .expect("store");
    let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
    let mails: Vec<Vec<u8>> = (0..tickets)
        .map(|i| format!("From: Customer {i} <c{i}@customer.test>\r\nTo: support@example.test\r\nSubject: Request {i}\r\nMessage-ID: <bench-{i}@customer.test>\r\n\r\nHello, this is request {i}.\r\nIt has a few lines of text, as requests do.\r\n").into_bytes())
        .collect();
    for chunk in mails.chunks(100) {
        ingestor
            .ingest_batch(&mut store, chunk, now())
            .expect("ingest");
    }
    let rows = {
        let tx = store.write().expect("tx");
        let rows = outbox::claim(&tx, now(), usize::MAX, 0).expect("rows");
        tx.commit().expect("commit");
        rows
    };
    let n = rows.len();
    println!("outbox: {n} notifications from {tickets} new tickets (setup link, acknowledgement, 2 agent alerts each)");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let runs = if bench { 5 } else { 1 };
    let mut floor = Vec::new();
    let identity = Identity::new(
        "Example Support",
        "support@example.test",
        Addressing::new("support@example.test", &[], b"bench".to_vec()),
    )
    .expect("identity");
    let composed: Vec<(String, Vec<u8>)> = rows
        .iter()
        .map(|r| {
            let m = compose(r, &identity).expect("compose");
            (r.to[0].clone(), m.formatted())
        })
        .collect();
    // Rounds interleave the three ways, so the server's growing folder of
    // received mail weighs on each alike.
    let mut courier_times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        floor.push(bare_smtp(port, &composed));
        for (slot, concurrency) in [1usize, 4].into_iter().enumerate() {
            let config = self::config(dir.path(), port, concurrency);
            store
                .conn()
                .execute(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = 0",
                    [],
                )
                .expect("reset");
            let t = rt.block_on(async {
                let smtp = config.smtp.as_ref().expect("smtp");
                let mut courier = Courier::new(&config, smtp).expect("courier");
                let (_tx, rx) = tokio::sync::watch::channel(false);
                let start = Instant::now();
                let stats = courier.pass(&rx).await.expect("pass");
                let t = start.elapsed();
                courier.close().await;
                assert_eq!(
                    stats.sent as usize, n,
                    "every notification accepted: {stats}"
                );
                t
            });
            courier_times[slot].push(t);
        }
    }
    report::median_line(
        "floor: bare SMTP loop, one connection",
        n,
        "notifications",
        &mut floor,
    );
    for (times, concurrency) in courier_times.iter_mut().zip([1, 4]) {
        report::median_line(
            &format!("ticketd courier, {concurrency} in flight, sessions reused"),
            n,
            "notifications",
            times,
        );
    }
    println!(
        "peak RSS: {:.1} MiB",
        report::peak_rss_kib("self") as f64 / 1024.0
    );
    drop(sink);
}

fn config(dir: &Path, port: u16, concurrency: usize) -> Config {
    Config::parse(
        &format!(
            r#"
[store]
path = "bench.db"
[support]
address = "support@example.test"
name = "Example Support"
agents = ["agent1@example.test", "agent2@example.test"]
portal_url = "https://support.example.test"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = {concurrency}
"#
        ),
        dir,
    )
    .expect("config")
}

/// The floor: MAIL, RCPT, DATA for each message, one connection, no client
/// library at all.
fn bare_smtp(port: u16, mails: &[(String, Vec<u8>)]) -> Duration {
    let start = Instant::now();
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let reply = |r: &mut BufReader<TcpStream>| loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "server closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            assert!(line.starts_with('2') || line.starts_with('3'), "{line}");
            break;
        }
    };
    reply(&mut r);
    w.write_all(b"EHLO bench.test\r\n").expect("w");
    reply(&mut r);
    for (to, body) in mails {
        write!(w, "MAIL FROM:<support@example.test>\r\n").expect("w");
        reply(&mut r);
        write!(w, "RCPT TO:<{to}>\r\n").expect("w");
        reply(&mut r);
        w.write_all(b"DATA\r\n").expect("w");
        reply(&mut r);
        // lettre's output already ends lines with CRLF; dot-stuff them.
        let mut data = Vec::with_capacity(body.len() + 16);
        for line in body.split_inclusive(|b| *b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        w.write_all(&data).expect("w");
        reply(&mut r);
    }
    w.write_all(b"QUIT\r\n").expect("w");
    start.elapsed()
}

struct Sink(std::path::PathBuf);

impl Sink {
    fn start(dir: &Path, port: u16) -> Sink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-sink");
        let out = Command::new(&script)
            .arg("start")
            .arg(dir)
            .arg(port.to_string())
            .output()
            .expect("scripts/smtp-sink");
        assert!(
            out.status.success(),
            "scripts/smtp-sink failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Sink(dir.to_owned())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-sink");
        let _ = Command::new(script).arg("stop").arg(&self.0).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
