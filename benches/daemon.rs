//! The daemon against a private Dovecot (DESIGN §7): generated mailboxes of
//! 2,000, 10,000 and 50,000 messages (new requests with Cc, threaded replies,
//! 20-200 KB attachments, auto-replies, bounces, several charsets), each
//! delivered into a fresh support Maildir, then for each:
//!
//! * the floor (DESIGN §7): one IMAP connection fetching every message raw
//!   and moving it to the processed folder, batch by batch, no ingest (and
//!   the fetching alone, for scale);
//! * `ticketd run --once` over the same mailbox: full ingest, commit, move;
//! * their ratio, messages per second, and the daemon's peak RSS;
//! * the correctness of what was timed (tickets, threading, nothing ignored
//!   stored, the inbox empty), asserted;
//! * IDLE latency (10,000 only): APPEND to committed ticket, median and p99
//!   over 100;
//!
//! and a table of the three, with whether peak memory stays flat (under
//! 64 MiB, within 10 % across sizes).
//!
//! `cargo bench --bench daemon` (root: it starts Dovecot). `BENCH_MESSAGES`
//! runs one size instead; `BENCH_VERBOSE=1` prints the daemon's log (with
//! each batch's fetch and ingest times); `BENCH_WRAP="valgrind --tool=massif"`
//! runs the daemon under a profiler. Under `cargo test` it runs a small
//! mailbox once.

#[path = "../tests/daemon/dovecot.rs"]
#[allow(dead_code)]
mod dovecot;
#[path = "common/mailbox.rs"]
mod mailbox;
#[path = "common/report.rs"]
mod report;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dovecot::{deliver, Dovecot};

/// The mailbox sizes: under `cargo bench` 2,000, 10,000 and 50,000 (peak
/// memory must not grow with the mailbox), `BENCH_MESSAGES` for one size,
/// a small one under `cargo test`. IDLE latency is measured on the middle
/// size (or the only one).
fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => vec![n],
        None if bench => vec![2_000, 10_000, 50_000],
        None => vec![200],
    };
    let samples = if bench { 100 } else { 5 };
    let latency_at = sizes[sizes.len() / 2];
    let rows: Vec<Row> = sizes
        .iter()
        .map(|&n| run_size(n, if n == latency_at { samples } else { 0 }))
        .collect();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>12} {:>10} {:>7} {:>10} {:>10}",
        "messages",
        "floor ms",
        "floor/s",
        "fetch ms",
        "run --once ms",
        "msg/s",
        "ratio",
        "peak RSS",
        "CPU ms"
    );
    for r in &rows {
        println!(
            "{:>8} {:>10.0} {:>10.0} {:>10.0} {:>12.0} {:>10.0} {:>6.2}x {:>6.1} MiB {:>10.0}",
            r.n,
            ms(r.floor),
            r.n as f64 / r.floor.as_secs_f64(),
            ms(r.fetch_only),
            ms(r.ingest),
            r.n as f64 / r.ingest.as_secs_f64(),
            r.ingest.as_secs_f64() / r.floor.as_secs_f64(),
            r.peak_kib as f64 / 1024.0,
            ms(r.cpu)
        );
    }
    let peaks: Vec<u64> = rows.iter().map(|r| r.peak_kib).collect();
    let (lo, hi) = (
        peaks.iter().copied().min().unwrap_or(0),
        peaks.iter().copied().max().unwrap_or(0),
    );
    println!(
        "peak RSS {:.1}-{:.1} MiB: {} 64 MiB, spread {:.0} % ({} 10 %)",
        lo as f64 / 1024.0,
        hi as f64 / 1024.0,
        if hi < 64 * 1024 { "under" } else { "OVER" },
        100.0 * (hi - lo) as f64 / lo.max(1) as f64,
        if (hi - lo) * 10 <= lo {
            "within"
        } else {
            "NOT within"
        }
    );
}

/// One size's figures.
struct Row {
    n: usize,
    /// DESIGN §7's floor: fetch and move.
    floor: Duration,
    /// Its fetches alone.
    fetch_only: Duration,
    ingest: Duration,
    peak_kib: u64,
    /// The daemon's CPU time, all threads, user and system (as last seen,
    /// at most a poll before it exited): steal on a shared machine inflates
    /// the wall time, not this.
    cpu: Duration,
}

/// A fresh Dovecot holding `n` generated messages: the floor (median of 3),
/// `run --once` timed and its result checked, then (with `samples`) IDLE
/// latency over the running daemon.
fn run_size(n: usize, samples: usize) -> Row {
    println!();
    let (raws, kinds) = mailbox::generate_with_kinds(
        n,
        &mailbox::Mix {
            attachment: (20_000, 200_000),
            attachment_percent: 25,
        },
    );
    report::print_mailbox(&raws);

    let dv = Dovecot::start();
    deliver(&dv, &raws);
    drop(raws); // 50,000 messages are 800 MB: the Maildir has them now
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("ticketd.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"ticketd.db\"\n[support]\naddress = \"support@example.test\"\nagents = [\"agent1@example.test\"]\ntrusted_authserv_ids = [\"mx.example.test\"]\nportal_url = \"https://support.example.test\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"support@example.test\"\npassword = \"secret\"\n",
            dv.port
        ),
    )
    .expect("config");
    let parsed = ticketd::config::Config::load(&config).expect("config parses");
    let imap_cfg = parsed.imap.clone().expect("imap section");

    // The floor: fetch everything raw and move it, as the daemon does (same
    // batches), no ingest. Medians of 3.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let runs: Vec<(Duration, Duration)> = (0..3)
        .map(|_| rt.block_on(floor_run(&imap_cfg, n)))
        .collect();
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let floor = median(runs.iter().map(|r| r.0).collect());
    let fetch_only = median(runs.iter().map(|r| r.1).collect());
    assert_eq!(dv.imap().count("INBOX"), n, "the floor put everything back");

    // Full ingest: the real binary, once over the whole mailbox.
    let start = Instant::now();
    // BENCH_WRAP="valgrind --tool=massif" runs the daemon under a profiler.
    let wrap: Vec<String> = std::env::var("BENCH_WRAP")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut cmd = match wrap.split_first() {
        Some((tool, args)) => {
            let mut c = Command::new(tool);
            c.args(args).arg(env!("CARGO_BIN_EXE_ticketd"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_ticketd")),
    };
    let mut child = cmd
        .arg("--config")
        .arg(&config)
        .args(["run", "--once"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(work.path().join("once.log")).expect("log"))
        .spawn()
        .expect("ticketd run --once");
    let mut peak_kib = 0;
    let mut cpu = Duration::ZERO;
    while child.try_wait().expect("wait").is_none() {
        peak_kib = peak_kib.max(report::peak_rss_kib(&child.id().to_string()));
        cpu = cpu.max(report::process_cpu(&child.id().to_string()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let ingest = start.elapsed();
    let out = child.wait_with_output().expect("output");
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "ticketd run --once failed: {summary}");
    assert!(
        summary.contains(&format!("fetched {n} message(s)")),
        "{summary}"
    );

    // What was timed must be right: checked before anything else runs.
    let inbox_left = dv.imap().count("INBOX");
    let verdict = Verdict::read(&work.path().join("ticketd.db"), &kinds, inbox_left);

    let latency = (samples > 0).then(|| idle_latency(&dv, work.path(), &config, samples));

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "floor (raw IMAP fetch and move, median of 3) {:.0} ms, of which fetching {:.0} ms; run --once {:.0} ms ({:.0} msg/s, {:.2}x the floor); peak RSS {:.1} MiB",
        ms(floor),
        ms(fetch_only),
        ms(ingest),
        n as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64() / floor.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    if let Some(lat) = &latency {
        let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
        println!(
            "IDLE latency, APPEND to committed ticket ({samples} messages): median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(p(0.5)),
            ms(p(0.99)),
            ms(lat[lat.len() - 1])
        );
    }
    println!("daemon said: {summary}");
    verdict.print_and_check();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        print!(
            "{}",
            std::fs::read_to_string(work.path().join("once.log")).unwrap_or_default()
        );
    }
    Row {
        n,
        floor,
        fetch_only,
        ingest,
        peak_kib,
        cpu,
    }
}

/// IDLE latency: APPEND, then wait for the committed ticket, `samples`
/// times, over a running daemon; sorted.
fn idle_latency(
    dv: &Dovecot,
    work: &std::path::Path,
    config: &std::path::Path,
    samples: usize,
) -> Vec<Duration> {
    let log = std::fs::File::create(work.join("run.log")).expect("log");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("ticketd run");
    let db = work.join("ticketd.db");
    wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(work.join("run.log"))
            .unwrap_or_default()
            .contains("connected to the mailbox")
    });
    std::thread::sleep(Duration::from_millis(300)); // into IDLE
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("db");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy");
    let mut imap = dv.imap();
    let mut lat: Vec<Duration> = Vec::with_capacity(samples);
    for k in 0..samples {
        let subject = format!("latency probe {k}");
        let raw = format!(
            "From: probe{k}@latency.test\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <probe-{k}@latency.test>\r\n\r\nping\r\n"
        );
        let t0 = Instant::now();
        imap.append("INBOX", raw.as_bytes());
        wait_until(Duration::from_secs(30), || {
            conn.query_row(
                "SELECT count(*) FROM tickets WHERE subject = ?1",
                [&subject],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
                == 1
        });
        lat.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    lat.sort();

    lat
}

/// One floor run, DESIGN §7's: every message fetched raw and moved to the
/// processed folder, a batch at a time, as the daemon does (`UID FETCH
/// BODY.PEEK[]` then `UID MOVE`); returns (fetch and move, fetch alone).
/// The messages are moved back afterwards, untimed, for the next run.
async fn floor_run(cfg: &ticketd::config::ImapConfig, n: usize) -> (Duration, Duration) {
    let mut mb = ticketd::imap::connect(cfg).await.expect("connect");
    mb.ensure_folder(&cfg.processed_folder)
        .await
        .expect("processed folder");
    mb.select(&cfg.folder).await.expect("select");
    let start = Instant::now();
    let uids = mb.uids_after(0).await.expect("search");
    assert_eq!(uids.len(), n);
    let (mut got, mut fetching) = (0, Duration::ZERO);
    for chunk in uids.chunks(cfg.batch_size as usize) {
        let t = Instant::now();
        got += mb.fetch(chunk).await.expect("fetch").len();
        fetching += t.elapsed();
        mb.move_to(chunk, &cfg.processed_folder)
            .await
            .expect("move");
    }
    let both = start.elapsed();
    assert_eq!(got, n);
    // Back where they were, in their order, for the next run.
    mb.select(&cfg.processed_folder).await.expect("select");
    let moved = mb.uids_after(0).await.expect("search");
    assert_eq!(moved.len(), n, "every message was moved");
    for chunk in moved.chunks(1_000) {
        mb.move_to(chunk, &cfg.folder).await.expect("move back");
    }
    mb.logout().await;
    (both, fetching)
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The result of `run --once`, checked against the generated mailbox.
struct Verdict {
    new_requests: usize,
    tickets: i64,
    quarantined: i64,
    replies: usize,
    replies_threaded: usize,
    answers: usize,
    answers_threaded: usize,
    answers_public: usize,
    ignored: usize,
    ignored_as_messages: usize,
    inbox_left: usize,
}

impl Verdict {
    fn read(db: &std::path::Path, kinds: &[mailbox::Kind], inbox_left: usize) -> Verdict {
        use mailbox::Kind;
        let conn = rusqlite::Connection::open(db).expect("db");
        let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        let mut stmt = conn
            .prepare(
                "SELECT message_id, ticket_id, internal FROM messages WHERE message_id IS NOT NULL",
            )
            .expect("query");
        let placed: std::collections::HashMap<String, (i64, bool)> = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                Ok((
                    id.trim_matches(['<', '>']).to_owned(),
                    (r.get(1)?, r.get(2)?),
                ))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        let id_of = |i: usize| -> String {
            match kinds[i] {
                Kind::Agent(_) => format!("m{i}@example.test"),
                Kind::Bounce => format!("m{i}@mx.customer.test"),
                _ => format!("m{i}@customer.test"),
            }
        };
        let ticket_of = |i: usize| placed.get(&id_of(i)).map(|p| p.0);
        let mut v = Verdict {
            new_requests: 0,
            tickets: one("SELECT count(*) FROM tickets"),
            quarantined: one("SELECT count(*) FROM quarantine"),
            replies: 0,
            replies_threaded: 0,
            answers: 0,
            answers_threaded: 0,
            answers_public: 0,
            ignored: 0,
            ignored_as_messages: 0,
            inbox_left,
        };
        for (i, kind) in kinds.iter().enumerate() {
            match *kind {
                Kind::New => v.new_requests += 1,
                Kind::Reply(orig) => {
                    v.replies += 1;
                    let t = ticket_of(i);
                    v.replies_threaded += usize::from(t.is_some() && t == ticket_of(orig));
                }
                Kind::Agent(orig) => {
                    v.answers += 1;
                    let t = ticket_of(i);
                    v.answers_threaded += usize::from(t.is_some() && t == ticket_of(orig));
                    v.answers_public += usize::from(placed.get(&id_of(i)).is_some_and(|p| !p.1));
                }
                Kind::AutoReply | Kind::Bounce => {
                    v.ignored += 1;
                    v.ignored_as_messages += usize::from(ticket_of(i).is_some());
                }
            }
        }
        v
    }

    /// Prints the correctness lines beside the figures, then fails the
    /// benchmark if any is wrong: a speed is only worth its result.
    fn print_and_check(&self) {
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        println!(
            "tickets: {} for {} new requests ({} quarantined)",
            self.tickets, self.new_requests, self.quarantined
        );
        println!(
            "customer replies on their request's ticket: {}/{} ({:.1} %)",
            self.replies_threaded,
            self.replies,
            pct(self.replies_threaded, self.replies)
        );
        println!(
            "verified agent answers on their ticket: {}/{} ({:.1} %), public (relayed): {}",
            self.answers_threaded,
            self.answers,
            pct(self.answers_threaded, self.answers),
            self.answers_public
        );
        println!(
            "auto-replies and bounces stored as messages: {} of {}",
            self.ignored_as_messages, self.ignored
        );
        println!("left in the inbox: {}", self.inbox_left);
        assert_eq!(
            self.tickets, self.new_requests as i64,
            "one ticket per new request"
        );
        assert_eq!(self.quarantined, 0, "nothing quarantined");
        assert_eq!(self.replies_threaded, self.replies, "every reply threaded");
        assert_eq!(self.answers_threaded, self.answers, "every answer threaded");
        assert_eq!(
            self.answers_public, self.answers,
            "verified answers are relayed"
        );
        assert_eq!(
            self.ignored_as_messages, 0,
            "no auto-reply or bounce stored"
        );
        assert_eq!(self.inbox_left, 0, "the inbox is empty");
    }
}
