//! Ingest throughput: a generated mailbox of 10,000 mixed messages (new
//! tickets with Cc, replies, agent commands, HTML-only mail, attachments,
//! auto-replies and bounces) into a fresh database, the way the daemon does
//! it (batches, one transaction each, with the writer's helper thread) and the way an
//! MTA pipe does it (one fsync'd transaction per message). Prints messages per
//! second, the parse-only floor for comparison, and peak memory.
//!
//! `cargo bench --bench ingest` (release build). Under `cargo test` it runs a
//! small mailbox once as a smoke check that every message gets an outcome.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::trace::{TraceEvent, TraceEventCodes};

#[path = "common/mailbox.rs"]
mod mailbox;
#[path = "common/report.rs"]
mod report;

use ticketd::config::Config;
use ticketd::domain::model::Outcome;
use ticketd::domain::time::Timestamp;
use ticketd::ingest::{Ingestor, Mode};
use ticketd::store::{Durability, Store};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = report::messages(bench, 10_000, 300);
    // The in-process figure: small attachments, so that the database path,
    // not the filesystem, is what is measured (benches/daemon.rs has the
    // full mix with 20-200 KB attachments).
    let mailbox = mailbox::generate(
        n,
        &mailbox::Mix {
            attachment: (2_000, 4_000),
            attachment_percent: 0,
        },
    );
    report::print_mailbox(&mailbox);

    // BENCH_RUNS: fewer (or more) timed runs than the 5 of `cargo bench`.
    let runs = if bench {
        std::env::var("BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
    } else {
        1
    };
    let mut floor = Vec::new();
    let mut batch = Vec::new();
    let mut writer = Vec::new();
    for _ in 0..runs {
        floor.push(parse_floor(&mailbox));
        let (wall, cpu) = run_batches(&mailbox, 100);
        batch.push(wall);
        writer.push(cpu);
    }
    report::median_line("parse only (mail-parser, the floor)", n, "msg", &mut floor);
    report::median_line("ingest, batches of 100 (daemon)", n, "msg", &mut batch);
    report::median_line(
        "  the writer thread's CPU time meanwhile",
        n,
        "msg",
        &mut writer,
    );

    let single_n = if bench { 2_000 } else { 50 };
    let mut single: Vec<Duration> = (0..if bench { 3 } else { 1 })
        .map(|_| run_single(&mailbox[..single_n]))
        .collect();
    report::median_line(
        "ingest, one fsync'd transaction each (MTA pipe)",
        single_n,
        "msg",
        &mut single,
    );
    statements_per_outcome(&mailbox, if bench { 1_000 } else { 50 });
    println!(
        "peak RSS: {:.1} MiB",
        report::peak_rss_kib("self") as f64 / 1024.0
    );
}

fn setup(durability: Durability) -> (tempfile::TempDir, Store, Ingestor) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::parse(
        r#"
[store]
path = "bench.db"
[support]
address = "support@example.test"
agents = ["agent1@example.test", "agent2@example.test"]
portal_url = "https://support.example.test"
oncall = "oncall@example.test"
[[rules]]
field = "subject"
pattern = "(?i)urgent|down"
priority = "urgent"
[[rules]]
field = "body"
pattern = "order (?P<order>ORD-\\d+)"
category = "orders"
"#,
        dir.path(),
    )
    .expect("config");
    let mut store =
        Store::open(&config.store.path, Duration::from_secs(30), durability).expect("store");
    let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
    (dir, store, ingestor)
}

/// The wall time of ingesting `mailbox` in batches of `size`, and the CPU
/// time of the thread holding the write lock (this one) meanwhile.
fn run_batches(mailbox: &[Vec<u8>], size: usize) -> (Duration, Duration) {
    let (_dir, mut store, ingestor) = setup(Durability::Normal);
    let start = Instant::now();
    let cpu = report::thread_cpu();
    let mut created = 0;
    // BENCH_TRACE=1: the time of every 1,000 messages, to see that the
    // rate does not fall as the database grows.
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    let mut lap = Instant::now();
    for (i, chunk) in mailbox.chunks(size).enumerate() {
        let reports = ingestor
            .ingest_batch(&mut store, chunk, NOW)
            .expect("batch");
        assert_eq!(reports.len(), chunk.len());
        created += reports
            .iter()
            .filter(|r| r.outcome == Outcome::Created)
            .count();
        if trace && ((i + 1) * size).is_multiple_of(1000) {
            eprintln!(
                "  {:>6} messages, last 1000 in {:?}",
                (i + 1) * size,
                lap.elapsed()
            );
            lap = Instant::now();
        }
    }
    let t = (start.elapsed(), report::thread_cpu() - cpu);
    assert!(
        created > mailbox.len() / 4,
        "only {created} tickets created"
    );
    t
}

fn run_single(mailbox: &[Vec<u8>]) -> Duration {
    let (_dir, mut store, ingestor) = setup(Durability::Full);
    let start = Instant::now();
    for raw in mailbox {
        ingestor
            .ingest(&mut store, raw, NOW, Mode::Commit)
            .expect("ingest");
    }
    start.elapsed()
}

fn parse_floor(mailbox: &[Vec<u8>]) -> Duration {
    let start = Instant::now();
    let mut parts = 0;
    for raw in mailbox {
        if let Some(m) = mail_parser::MessageParser::default().parse(raw.as_slice()) {
            parts += m.parts.len();
        }
    }
    assert!(parts >= mailbox.len());
    start.elapsed()
}

/// SQL statements run since the last reset: the mail's own, and those
/// triggers run for it (the search index).
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static IN_TRIGGERS: AtomicU64 = AtomicU64::new(0);
/// `BENCH_SQL=1`: print the statements of the first three mails counted.
static PRINT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `BENCH_SQL=time`: the writer's time from each statement's start to the
/// next one's, by statement text, summed over the sample: the statement
/// itself (its triggers' programs included) and the Rust work after it.
/// SQLite's own profile clock counts whole milliseconds, too coarse here.
static TIMES: std::sync::Mutex<BTreeMap<String, (u64, Duration)>> =
    std::sync::Mutex::new(BTreeMap::new());
/// The statement running now and when it started (`BENCH_SQL=time`).
static LAST: std::sync::Mutex<Option<(String, Instant)>> = std::sync::Mutex::new(None);
static TIMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ends the running statement's span at `now`, and starts `next`'s.
fn time_span(next: Option<String>) {
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((sql, at)) = last.take() {
        let mut times = TIMES.lock().unwrap_or_else(|p| p.into_inner());
        let e = times.entry(sql).or_default();
        e.0 += 1;
        e.1 += now - at;
    }
    *last = next.map(|sql| (sql, now));
}

fn count_statement(e: TraceEvent<'_>) {
    if let TraceEvent::Stmt(_, sql) = e {
        if TIMED.load(Ordering::Relaxed) && !sql.starts_with("--") {
            time_span(Some(sql.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        // A trigger's program is announced as "-- TRIGGER name".
        let counter = if sql.starts_with("--") {
            &IN_TRIGGERS
        } else {
            &STATEMENTS
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if PRINT.load(Ordering::Relaxed) {
            println!(
                "    {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }
}

/// How many statements one mail costs, by outcome: the first half of the
/// mailbox ingested in batches as the daemon does (so that replies find
/// their tickets), then `sample` mails one batch each, counted.
fn statements_per_outcome(mailbox: &[Vec<u8>], sample: usize) {
    let (_dir, mut store, ingestor) = setup(Durability::Normal);
    let half = mailbox.len() / 2;
    for chunk in mailbox[..half].chunks(100) {
        ingestor
            .ingest_batch(&mut store, chunk, NOW)
            .expect("batch");
    }
    let timed = std::env::var("BENCH_SQL").is_ok_and(|v| v == "time");
    TIMED.store(timed, Ordering::Relaxed);
    store
        .conn()
        .trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(count_statement));
    if timed {
        // Timed as the daemon runs: batches of 100 (spans then count the
        // batch's shared work, the waits for its helper threads included).
        let mut quarantined = 0;
        for chunk in mailbox[half..].chunks(100).take(sample.div_ceil(100)) {
            let reports = ingestor
                .ingest_batch(&mut store, chunk, NOW)
                .expect("batch");
            time_span(None);
            assert_eq!(reports.len(), chunk.len(), "a report for every mail timed");
            quarantined += reports
                .iter()
                .filter(|r| r.outcome == Outcome::Quarantined)
                .count();
        }
        TIMED.store(false, Ordering::Relaxed);
        // What was timed must be the normal path, not quarantines.
        assert_eq!(quarantined, 0, "mails quarantined in the timed sample");
    }
    let from = if timed { half + sample } else { half };
    let mut by: BTreeMap<Outcome, (u64, u64, u64)> = BTreeMap::new();
    let print = std::env::var_os("BENCH_SQL").is_some() && !timed;
    for (i, raw) in mailbox[from..].iter().take(sample).enumerate() {
        PRINT.store(print && i < 3, Ordering::Relaxed);
        STATEMENTS.store(0, Ordering::Relaxed);
        IN_TRIGGERS.store(0, Ordering::Relaxed);
        let reports = ingestor
            .ingest_batch(&mut store, std::slice::from_ref(raw), NOW)
            .expect("one");
        let outcome = reports[0].outcome;
        if PRINT.load(Ordering::Relaxed) {
            println!("  ^ the statements of one mail, {}", outcome.as_str());
        }
        let e = by.entry(outcome).or_default();
        e.0 += 1;
        // BEGIN and COMMIT are the batch's, not the mail's.
        e.1 += STATEMENTS.load(Ordering::Relaxed).saturating_sub(2);
        e.2 += IN_TRIGGERS.load(Ordering::Relaxed);
    }
    store.conn().trace_v2(TraceEventCodes::empty(), None);
    assert!(!by.is_empty(), "no mail counted");
    if timed {
        let times = TIMES.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<_> = times.iter().collect();
        rows.sort_by_key(|(_, (_, t))| std::cmp::Reverse(*t));
        let total: Duration = rows.iter().map(|(_, (_, t))| *t).sum();
        println!(
            "writer time over {sample} mails in batches of 100: {total:?}, by the statement running or last run:"
        );
        for (sql, (n, t)) in rows.iter().take(30) {
            let cut: String = sql.chars().take(110).collect();
            println!("  {:>9.1?} {:>6} × {cut}", t, n);
        }
    }
    println!("SQL statements per mail, by outcome (besides the batch's BEGIN and COMMIT):");
    for (outcome, (n, stmts, trig)) in &by {
        assert!(*stmts > 0, "{outcome:?}: no statement counted");
        println!(
            "  {:<12} {:>5.1} statements, {:>4.1} trigger programs  ({n} mails)",
            outcome.as_str(),
            *stmts as f64 / *n as f64,
            *trig as f64 / *n as f64
        );
    }
}
