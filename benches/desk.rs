//! The desk's queue under load (issue 13): `/desk` on a database of
//! 100,000 tickets and 500,000 messages (`common/big_db.rs`, the portal
//! benchmark's), over real HTTP/1.1 keep-alive on loopback, 20 agents at
//! once:
//!
//! * the queue unfiltered, by status (`open`), by assignee (`me`);
//! * a full-text search for a rare word (one message of one old ticket),
//!   for a common one (a message on one ticket in ten, added here), and for
//!   the most common (`invoice`: nearly every message of the generator's
//!   40-word texts holds it).
//!
//! p50/p99 latency and requests per second for each, alone and with 20
//! agents. Every answer is checked, not just timed: the rows listed are
//! exactly the ones our own SQL (never the FTS index) expects, in order,
//! with the count; anything else panics.
//!
//! `cargo bench --bench desk` (release). `BENCH_MESSAGES` sets the number of
//! messages (tickets are a fifth of it), `BENCH_SECONDS` the time per query
//! (default 8), `BENCH_ONLY` runs the queries whose name contains it,
//! `TICKETD_BENCH_SMALL=1` the small database, `BENCH_KEEP=1` keeps it (for
//! `EXPLAIN QUERY PLAN`), `BENCH_DB=FOLDER` runs on a kept one instead of
//! building anew (its words are read back, not added again). Under `cargo test` (no `--bench`
//! argument) it runs the small database (1,000 tickets) and a few requests
//! per query, still checking every answer.

#[path = "common/big_db.rs"]
mod big_db;
#[path = "common/http.rs"]
mod http;
#[path = "common/report.rs"]
#[allow(dead_code)] // this benchmark prints its own table
mod report;

use std::time::{Duration, Instant};

use big_db::{BigDb, Spec};
use http::{ms, run_load};
use rusqlite::{params, Connection};
use ticketd::store::desk::DENSE_COUNT;

const AGENTS_AT_ONCE: usize = 20;
const TARGET_P99: Duration = Duration::from_millis(100);
/// The rare word: one public message on one old ticket.
const RARE: &str = "zanzibarite";
/// The common word: one message on every tenth ticket.
const COMMON: &str = "refund";
/// The generator's most frequent kind of word: in nearly every message.
const EVERYWHERE: &str = "invoice";
/// Rows of a queue page (`web::desk::queue::LIMIT`).
const PAGE: usize = 200;

fn main() {
    let b = http::Bench::new(8.0);
    let (small, load, kept) = (b.small, b.load, b.kept.clone());
    let (messages, tickets) = (b.messages, b.tickets);
    let (config, phc, addr) = (b.config.clone(), b.password_hash.clone(), b.addr.clone());

    let t0 = Instant::now();
    let (db, words) = match &kept {
        Some(_) => {
            let db = big_db::open(&config, AGENTS_AT_ONCE);
            let words = read_words(&config.store.path);
            (db, words)
        }
        None => {
            let db = big_db::build(
                &config,
                &Spec {
                    tickets,
                    messages,
                    sessions: AGENTS_AT_ONCE,
                    password_hash: &phc,
                },
            );
            let words = add_words(&config.store.path, &db);
            (db, words)
        }
    };
    let built = t0.elapsed();
    let merged = merge_as_housekeeping_does(&config);
    let db_bytes = std::fs::metadata(&config.store.path)
        .map(|m| m.len())
        .unwrap_or(0);
    let index_bytes = index_size(&config.store.path);
    println!(
        "database: {} tickets, {} messages (+{} added here), {} users, {:.0} MiB of which the search index {:.0} MiB, {} in {:.1} s; {} cores, {AGENTS_AT_ONCE} agents at once",
        db.tickets,
        db.messages,
        words.added,
        db.users,
        db_bytes as f64 / 1_048_576.0,
        index_bytes as f64 / 1_048_576.0,
        if kept.is_some() { "read" } else { "built" },
        built.as_secs_f64(),
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );

    println!("{merged}");

    let server = b.serve();

    let expect = Expected::read(&config.store.path, &db, &words);
    let queries: Vec<(String, String, Vec<i64>, i64)> = vec![
        (
            "/desk (everything)".into(),
            "/desk".into(),
            expect.all.clone(),
            expect.all_total,
        ),
        (
            "/desk?status=open".into(),
            "/desk?status=open".into(),
            expect.open.clone(),
            expect.open_total,
        ),
        (
            "/desk?assignee=me".into(),
            "/desk?assignee=me".into(),
            expect.mine.clone(),
            expect.mine_total,
        ),
        (
            "/desk?q= rare word (1 ticket)".to_owned(),
            format!("/desk?q={RARE}"),
            vec![words.rare_ticket],
            1,
        ),
        (
            format!("/desk?q= common word ({} tickets)", words.common.len()),
            format!("/desk?q={COMMON}"),
            expect.common.clone(),
            words.common.len() as i64,
        ),
        (
            format!(
                "/desk?q= everywhere word ({} tickets)",
                expect.everywhere_total
            ),
            format!("/desk?q={EVERYWHERE}"),
            expect.everywhere.clone(),
            // Nearly every ticket: counted only as far as "more than 1,000".
            if expect.everywhere_total > DENSE_COUNT {
                -DENSE_COUNT
            } else {
                expect.everywhere_total
            },
        ),
    ];

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let mut results = Vec::new();
    rt.block_on(async {
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        for (what, path, rows, total) in &queries {
            if !what.contains(only.as_str()) {
                continue;
            }
            let check = Check {
                rows: rows.clone(),
                total: *total,
            };
            let verify = |body: &str| check.verify(path, body);
            let tokens = &db.agent_tokens;
            run_load(&addr, tokens, path, &verify, load.warm_up()).await;
            let one = run_load(&addr, &tokens[..1], path, &verify, load.alone()).await;
            let many = run_load(&addr, tokens, path, &verify, load).await;
            results.push((what.clone(), one, many));
        }
    });

    println!();
    println!(
        "{:<44} {:>16} | {:>31}",
        "",
        "1 agent",
        format!("{AGENTS_AT_ONCE} agents at once")
    );
    println!(
        "{:<44} {:>7} {:>8} | {:>7} {:>7} {:>7} {:>7}",
        "query", "p50 ms", "req/s", "p50 ms", "p99 ms", "max ms", "req/s"
    );
    let mut all_hold = true;
    for (what, one, r) in &results {
        let holds = r.p99 < TARGET_P99;
        all_hold &= holds;
        println!(
            "{what:<44} {:>7.2} {:>8.0} | {:>7.2} {:>7.2} {:>7.1} {:>7.0}  ({} requests){}",
            ms(one.p50),
            one.rate,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            r.rate,
            r.n,
            if holds { "" } else { "  p99 over 100 ms" }
        );
    }
    println!(
        "target p99 < 100 ms: {}; load average (1 min) {}; peak RSS (server and client) {} MiB",
        if small {
            "not judged (small database, a few requests: a smoke run)"
        } else if all_hold {
            "holds"
        } else {
            "MISSED"
        },
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".into()),
        report::peak_rss_kib("self") / 1024
    );

    server.stop();
    b.finish();
}

/// The pages the full-text index holds (`dbstat` is not compiled in:
/// `search_index_data` rows' bytes, which is nearly all of it).
fn index_size(path: &std::path::Path) -> u64 {
    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT coalesce(sum(length(block)), 0) FROM search_index_data",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n.max(0) as u64)
        .unwrap_or(0)
}

// ------------------------------------------------------------ the words

/// The tickets that hold the words this benchmark adds.
struct Words {
    rare_ticket: i64,
    common: Vec<i64>,
    added: usize,
}

/// One public message with [`RARE`] on an old closed-or-solved ticket, one
/// with [`COMMON`] on every tenth ticket; through the triggers, as the
/// ingest pipeline's inserts are. The tickets' `updated_at` stays as it was.
fn add_words(path: &std::path::Path, db: &BigDb) -> Words {
    let mut conn = Connection::open(path).expect("open the database");
    conn.execute_batch("PRAGMA synchronous = OFF;")
        .expect("pragmas");
    let tx = conn.transaction().expect("transaction");
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM tickets ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    let rare_ticket = ids[ids.len() / 7];
    let common: Vec<i64> = ids.iter().copied().step_by(10).collect();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (ticket_id, direction, author_id, date, text, full_text, internal, created_at, source, verified)
                 SELECT t.id, 'out', ?2, t.updated_at, ?3, ?3, 0, t.updated_at, 'email', 1 FROM tickets t WHERE t.id = ?1",
            )
            .expect("prepare");
        insert
            .execute(params![
                rare_ticket,
                db.agent,
                format!("The part you need is the {RARE} gasket, order code E-7731.")
            ])
            .expect("rare message");
        for &t in &common {
            insert
                .execute(params![
                    t,
                    db.agent,
                    format!("We have sent the {COMMON} to your card; allow five days.")
                ])
                .expect("common message");
        }
    }
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    Words {
        rare_ticket,
        added: 1 + common.len(),
        common,
    }
}

/// The words [`add_words`] added to a kept database, found again with SQL
/// of our own (never the index): a kept database already holds them.
fn read_words(path: &std::path::Path) -> Words {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("read the database");
    let tickets = |word: &str| -> Vec<i64> {
        conn.prepare(
            "SELECT DISTINCT ticket_id FROM messages WHERE text LIKE ?1 ORDER BY ticket_id",
        )
        .expect("prepare")
        .query_map([format!("%{word}%")], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids")
    };
    let rare = tickets(RARE);
    assert_eq!(rare.len(), 1, "the kept database holds the rare word once");
    let common = tickets(COMMON);
    assert!(
        !common.is_empty(),
        "the kept database holds the common word"
    );
    Words {
        rare_ticket: rare[0],
        added: 1 + common.len(),
        common,
    }
}

// ------------------------------------------------------------- the checks

/// What each query must list, read with SQL of our own (never the index).
struct Expected {
    all: Vec<i64>,
    all_total: i64,
    open: Vec<i64>,
    open_total: i64,
    mine: Vec<i64>,
    mine_total: i64,
    common: Vec<i64>,
    everywhere: Vec<i64>,
    everywhere_total: i64,
}

impl Expected {
    fn read(path: &std::path::Path, db: &BigDb, words: &Words) -> Expected {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("read the database");
        let page = |cond: &str| -> (Vec<i64>, i64) {
            let ids: Vec<i64> = conn
                .prepare(&format!(
                    "SELECT id FROM tickets WHERE {cond} ORDER BY updated_at DESC, id DESC"
                ))
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("ids");
            let total = ids.len() as i64;
            (ids.into_iter().take(PAGE).collect(), total)
        };
        let (all, all_total) = page("1");
        let (open, open_total) = page("status = 'open'");
        let (mine, mine_total) = page(&format!("assignee_id = {}", db.agent));
        let list: Vec<String> = words.common.iter().map(i64::to_string).collect();
        let (common, common_total) = page(&format!("id IN ({})", list.join(",")));
        assert_eq!(common_total as usize, words.common.len());
        // A substring match is a word match here: no generated word holds
        // another (the generator's 40 words, `#N`, the two added sentences).
        let (everywhere, everywhere_total) = page(&format!(
            "subject LIKE '%{EVERYWHERE}%' OR id IN (SELECT ticket_id FROM messages WHERE text LIKE '%{EVERYWHERE}%')"
        ));
        assert!(mine_total > 0 && open_total > 0, "the filters find tickets");

        Expected {
            all,
            all_total,
            open,
            open_total,
            mine,
            mine_total,
            common,
            everywhere,
            everywhere_total,
        }
    }
}

/// What one query's page must show.
struct Check {
    rows: Vec<i64>,
    /// How many match; a negative number `-n` is "more than n".
    total: i64,
}

impl Check {
    fn verify(&self, path: &str, body: &str) {
        assert_eq!(listed(body), self.rows, "GET {path}: the rows");
        let total = thousands(self.total.abs());
        let want = if self.total < 0 {
            format!("1–{PAGE} of more than {total} tickets")
        } else if self.total as usize <= PAGE {
            format!("{total} ticket{}", if self.total == 1 { "" } else { "s" })
        } else {
            format!("1–{PAGE} of {total} tickets")
        };
        assert!(
            body.contains(&format!("id=\"range\">{want}")),
            "GET {path}: the count, {want}"
        );
    }
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The ticket numbers the queue lists, in order (the `#123` cell of each row).
fn listed(body: &str) -> Vec<i64> {
    const ROW: &str = "<td><a href=\"/desk/tickets/";
    body.match_indices(ROW)
        .filter_map(|(i, _)| {
            let rest = &body[i + ROW.len()..];
            let end = rest.find('"')?;
            rest[..end].parse().ok()
        })
        .collect()
}

/// The search index as the daemon's hourly housekeeping leaves it
/// (`store::housekeeping::merge_search_index`): the triggers that wrote it
/// leave a segment per transaction, FTS5's automerge about three per level.
/// `BENCH_UNMERGED=1` keeps the index as written, to compare.
fn merge_as_housekeeping_does(config: &ticketd::config::Config) -> String {
    let mut store =
        ticketd::store::Store::from_config(&config.store, ticketd::store::Durability::Normal)
            .expect("open the database");
    let segments = |store: &ticketd::store::Store| {
        ticketd::store::search::index_segments(store.conn()).expect("segments")
    };
    let before = segments(&store);
    if std::env::var("BENCH_UNMERGED").is_ok_and(|v| v == "1") {
        return format!("search index: {before} segments, left as written (BENCH_UNMERGED=1)");
    }
    let t = Instant::now();
    let steps = ticketd::store::housekeeping::merge_search_index(&mut store).expect("merge");
    format!(
        "search index: {before} segments, {} after housekeeping's merge ({steps} steps, {:.1} s)",
        segments(&store),
        t.elapsed().as_secs_f64()
    )
}
