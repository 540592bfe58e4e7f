//! The portal under load (issue 12 "Speed"): the pages a customer or an org
//! admin opens most, on a database of 100,000 tickets and 500,000 messages,
//! over real HTTP/1.1 keep-alive on loopback, 50 sessions at once:
//!
//! * `/tickets` for a member (20 tickets of their own, 3 watched);
//! * `/tickets` for the admin of a 10,000-ticket organization;
//! * a ticket page with 200 public messages (and 10 internal notes);
//!
//! p50/p99 latency and requests per second for each, then the cost of one
//! sign-in (`POST /login` with the right password: Argon2id), median of 11.
//! Every response is checked, not just timed: the member's list is exactly
//! their active tickets, the admin's is their organization's, the ticket
//! page shows 200 messages and no internal note; anything else panics.
//!
//! The server is `ticketd::web::serve` on a current-thread runtime of its
//! own (as `ticketd portal` runs it), the client a small HTTP/1.1 client on
//! another thread. The database is written directly with rusqlite (the
//! columns the ingest pipeline writes), in one transaction.
//!
//! `cargo bench --bench portal` (release). `BENCH_MESSAGES` sets the number
//! of messages (tickets are a fifth of it), `BENCH_SECONDS` the time per
//! page (default 10), `TICKETD_BENCH_SMALL=1` the small database,
//! `BENCH_KEEP=1` keeps it (for `EXPLAIN QUERY PLAN`). Under
//! `cargo test` (no `--bench` argument) it runs the small database (1,000
//! tickets) and a few requests per page, still checking every answer.

#[path = "common/report.rs"]
#[allow(dead_code)] // this benchmark prints its own table
mod report;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "a good long password";
const SESSIONS: usize = 50;
const AGENT: &str = "agent@example.test";
const MEMBER: &str = "member@smallco.test";
const ADMIN: &str = "admin@bigcorp.test";
const BIG_ORG: &str = "bigcorp.test";
const MEMBER_TICKETS: usize = 20;
const MEMBER_WATCHES: usize = 3;
const THREAD_PUBLIC: usize = 200;
const THREAD_INTERNAL: usize = 10;
const THREAD_FILES: usize = 20;
const INTERNAL_MARK: &str = "INTERNAL-NOTE-NOT-FOR-CUSTOMERS";
const TARGET_P99: Duration = Duration::from_millis(50);

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let small = !bench || std::env::var("TICKETD_BENCH_SMALL").is_ok_and(|v| v == "1");
    let messages = report::messages(!small, 500_000, 5_000).max(5_000);
    let tickets = messages / 5;
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    // Smoke runs: a couple of requests per session instead of a duration.
    let load = if small {
        Load::Requests(2)
    } else {
        Load::For(Duration::from_secs_f64(seconds))
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("address").port();
    let config_text = format!(
        "[store]\npath = \"ticketd.db\"\n[support]\naddress = \"support@example.test\"\nname = \"Example Support\"\nagents = [\"{AGENT}\"]\nportal_url = \"http://127.0.0.1:{port}\"\n[portal]\nlisten = \"127.0.0.1:0\"\ncategories = [\"Billing\", \"Export\"]\n"
    );
    let config = ticketd::config::Config::parse(&config_text, dir.path())
        .unwrap_or_else(|p| panic!("config: {p:?}"));

    let phc = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(ticketd::web::auth::hash_password(PASSWORD.to_owned()))
        .expect("hash the password");
    let t0 = Instant::now();
    let db = build(&config, tickets, messages, &phc);
    let built = t0.elapsed();
    let db_bytes = std::fs::metadata(&config.store.path)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "database: {tickets} tickets, {messages} messages, {} users, {BIG_ORG}: {} tickets, {:.0} MiB, built in {:.1} s; {} cores, {SESSIONS} sessions per page",
        db.users,
        db.org_tickets,
        db_bytes as f64 / 1_048_576.0,
        built.as_secs_f64(),
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );

    // The server: the portal's own state and `serve`, on its own thread.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server_config = config.clone();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let state = ticketd::web::state(&server_config).expect("portal state");
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            ticketd::web::serve(listener, state, stopped)
                .await
                .expect("serve");
        });
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let addr = format!("127.0.0.1:{port}");
    let expect = Expectations::read(&config.store.path, &db);

    let mut results = Vec::new();
    rt.block_on(async {
        // The lists' other filters, once: the whole sets, not only the active ones.
        check_once(&addr, &db.member_tokens[0], "/tickets?status=all", |b| {
            expect.member_all(b)
        })
        .await;
        check_once(&addr, &db.admin_tokens[0], "/tickets?status=all", |b| {
            expect.admin_all(b)
        })
        .await;
        let thread_path = format!("/tickets/{}", db.thread);
        let pages: [(String, &[String], String, Check); 3] = [
            (
                format!("/tickets, member ({MEMBER_TICKETS} own + {MEMBER_WATCHES} watched)"),
                &db.member_tokens,
                "/tickets".to_owned(),
                Check::MemberList,
            ),
            (
                format!("/tickets, admin ({}-ticket org)", db.org_tickets),
                &db.admin_tokens,
                "/tickets".to_owned(),
                Check::AdminList,
            ),
            (
                format!("/tickets/{{id}}, {THREAD_PUBLIC} messages"),
                &db.member_tokens,
                thread_path,
                Check::Thread,
            ),
        ];
        for (what, tokens, path, check) in pages {
            // Warm-up: connections, the pool's connections, the page cache.
            let warm = match load {
                Load::For(d) => Load::For(d / 5),
                Load::Requests(_) => Load::Requests(1),
            };
            run_load(&addr, tokens, &path, check, &expect, warm).await;
            // One session alone: what a request costs when nothing waits.
            let alone = match load {
                Load::For(d) => Load::For(d / 4),
                Load::Requests(n) => Load::Requests(n),
            };
            let one = run_load(&addr, &tokens[..1], &path, check, &expect, alone).await;
            let r = run_load(&addr, tokens, &path, check, &expect, load).await;
            results.push((what, one, r));
        }
    });

    println!();
    println!(
        "{:<42} {:>16} | {:>31} {:>7}",
        "", "1 session", "50 keep-alive sessions at once", ""
    );
    println!(
        "{:<42} {:>7} {:>8} | {:>7} {:>7} {:>7} {:>7}",
        "page", "p50 ms", "req/s", "p50 ms", "p99 ms", "max ms", "req/s"
    );
    let mut all_hold = true;
    for (what, one, r) in &results {
        let holds = r.p99 < TARGET_P99;
        all_hold &= holds;
        println!(
            "{what:<42} {:>7.2} {:>8.0} | {:>7.2} {:>7.2} {:>7.1} {:>7.0}  ({} requests){}",
            ms(one.p50),
            one.rate,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            r.rate,
            r.n,
            if holds { "" } else { "  p99 over 50 ms" }
        );
    }

    let (login, argon) = rt.block_on(sign_in_cost(&addr, if small { 3 } else { 11 }));
    println!(
        "\nsign-in: POST /login, right password      median {:>7.1} ms  (runs: {})",
        ms(login.0),
        login.1
    );
    println!(
        "         of which Argon2id verify alone    median {:>7.1} ms  (m=19 MiB, t=2, p=1)",
        ms(argon)
    );
    println!(
        "target p99 < 50 ms: {}; peak RSS (server and client) {} MiB",
        if small {
            "not judged (small database, a few requests: a smoke run)"
        } else if all_hold {
            "holds"
        } else {
            "MISSED"
        },
        report::peak_rss_kib("self") / 1024
    );

    stop.send(true).expect("stop the server");
    server.join().expect("server thread");
    if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("database kept: {}", config.store.path.display());
        let _ = dir.keep();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Clone, Copy)]
enum Load {
    /// Every session sends requests until this much time has passed.
    For(Duration),
    /// Every session sends this many requests.
    Requests(usize),
}

#[derive(Clone, Copy)]
enum Check {
    MemberList,
    AdminList,
    Thread,
}

struct Figures {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    rate: f64,
}

/// `SESSIONS` connections, one session each, requesting `path` back to back.
async fn run_load(
    addr: &str,
    tokens: &[String],
    path: &str,
    check: Check,
    expect: &Expectations,
    load: Load,
) -> Figures {
    let start = Instant::now();
    let clients = tokens.iter().map(|token| async move {
        let mut conn = Http::connect(addr).await;
        let req = get_request(addr, path, token);
        let mut lat = Vec::new();
        loop {
            match load {
                Load::For(d) if start.elapsed() >= d => break,
                Load::Requests(n) if lat.len() >= n => break,
                _ => {}
            }
            let t = Instant::now();
            let r = conn.send(req.as_bytes()).await;
            lat.push(t.elapsed());
            assert_eq!(r.status, 200, "GET {path}: {}", r.head);
            let body = std::str::from_utf8(&r.body).expect("UTF-8 page");
            match check {
                Check::MemberList => expect.member_active(body),
                Check::AdminList => expect.admin_active(body),
                Check::Thread => expect.thread(body),
            }
        }
        lat
    });
    let mut lat: Vec<Duration> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    let elapsed = start.elapsed();
    lat.sort();
    let n = lat.len();
    assert!(n > 0, "no request was answered");
    let at = |q: f64| lat[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
    Figures {
        n,
        p50: at(0.50),
        p99: at(0.99),
        max: lat[n - 1],
        rate: n as f64 / elapsed.as_secs_f64(),
    }
}

async fn check_once(addr: &str, token: &str, path: &str, check: impl Fn(&str)) {
    let mut conn = Http::connect(addr).await;
    let r = conn.send(get_request(addr, path, token).as_bytes()).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.head);
    check(std::str::from_utf8(&r.body).expect("UTF-8 page"));
}

fn get_request(addr: &str, path: &str, token: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: ticketd={token}\r\nConnection: keep-alive\r\n\r\n")
}

/// The median of `runs` sign-ins over one connection, and of Argon2 alone.
async fn sign_in_cost(addr: &str, runs: usize) -> ((Duration, usize), Duration) {
    let mut conn = Http::connect(addr).await;
    let body = format!(
        "email={}&password={}",
        MEMBER.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let req = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    );
    let mut times = Vec::new();
    for k in 0..=runs {
        let t = Instant::now();
        let r = conn.send(req.as_bytes()).await;
        let took = t.elapsed();
        assert_eq!(r.status, 303, "POST /login: {}", r.head);
        let cookie = r
            .head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("set-cookie")
                    .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
            })
            .expect("a session cookie");
        let token = cookie.strip_prefix("ticketd=").expect("ticketd cookie");
        // The new session works.
        let page = conn
            .send(get_request(addr, "/tickets", token).as_bytes())
            .await;
        assert_eq!(
            page.status, 200,
            "GET /tickets after sign-in: {}",
            page.head
        );
        if k > 0 {
            times.push(took); // the first one warms the pool
        }
    }
    times.sort();
    let login = (times[times.len() / 2], times.len());
    let phc = ticketd::web::auth::hash_password(PASSWORD.to_owned())
        .await
        .expect("hash");
    let mut argon = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let ok = ticketd::web::auth::verify_password(PASSWORD.to_owned(), Some(phc.clone()))
            .await
            .expect("verify");
        argon.push(t.elapsed());
        assert!(ok, "the password verifies");
    }
    argon.sort();
    (login, argon[argon.len() / 2])
}

// ------------------------------------------------------------ HTTP client

/// One keep-alive HTTP/1.1 connection; responses read by Content-Length.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Http {
    async fn connect(addr: &str) -> Http {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Http {
            stream,
            buf: Vec::with_capacity(256 * 1024),
        }
    }

    async fn fill(&mut self) {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let n = self.stream.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the server closed the connection");
    }

    async fn send(&mut self, req: &[u8]) -> Response {
        self.stream.write_all(req).await.expect("write");
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
        };
        assert!(
            header("transfer-encoding").is_none(),
            "a chunked response: {head}"
        );
        let len: usize = header("content-length")
            .map(|v| v.parse().expect("Content-Length"))
            .unwrap_or_else(|| panic!("no Content-Length: {head}"));
        let total = end + 4 + len;
        while self.buf.len() < total {
            self.fill().await;
        }
        let body = self.buf[end + 4..total].to_vec();
        self.buf.drain(..total);
        Response { status, head, body }
    }
}

/// The ticket numbers a list page shows, in order (the `#123` link of each row).
fn listed(body: &str) -> Vec<i64> {
    const ROW: &str = "<td><a href=\"/tickets/";
    body.match_indices(ROW)
        .filter_map(|(i, _)| {
            let rest = &body[i + ROW.len()..];
            let digits = rest.find(|c: char| !c.is_ascii_digit())?;
            rest[digits..]
                .starts_with("\">#")
                .then(|| rest[..digits].parse().ok())?
        })
        .collect()
}

// ------------------------------------------------------------- the checks

/// What each page must show, read from the database with SQL of our own.
struct Expectations {
    member_all: Vec<i64>,
    member_active: Vec<i64>,
    admin_all: Vec<i64>,
    admin_active: Vec<i64>,
    org: BTreeSet<i64>,
    thread: i64,
}

impl Expectations {
    fn read(path: &std::path::Path, db: &Built) -> Expectations {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("read the database");
        let ids = |sql: &str, user: i64| -> Vec<(i64, String)> {
            let mut stmt = conn.prepare(sql).expect("prepare");
            stmt.query_map(params![user, BIG_ORG], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let active = |v: &[(i64, String)]| -> Vec<i64> {
            v.iter()
                .filter(|(_, s)| s == "open" || s == "pending")
                .map(|(id, _)| *id)
                .collect()
        };
        let mine =
            "t.requester_id = ?1 OR t.id IN (SELECT ticket_id FROM watchers WHERE user_id = ?1)";
        let member = ids(
            &format!("SELECT t.id, t.status FROM tickets t WHERE ({mine}) AND ?2 IS NOT NULL ORDER BY t.created_at DESC, t.id DESC"),
            db.member,
        );
        assert_eq!(
            member.len(),
            MEMBER_TICKETS + MEMBER_WATCHES,
            "the member's tickets"
        );
        // The list shows the newest 200 it may see (then, by default, the active ones).
        let admin = ids(
            &format!("SELECT t.id, t.status FROM tickets t WHERE t.org = ?2 OR {mine} ORDER BY t.created_at DESC, t.id DESC LIMIT 200"),
            db.admin,
        );
        let org: BTreeSet<i64> = conn
            .prepare("SELECT id FROM tickets WHERE org = ?1")
            .expect("prepare")
            .query_map([BIG_ORG], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(org.len(), db.org_tickets, "the organization's tickets");
        assert_eq!(admin.len(), org.len().min(200), "the admin's page is full");
        let e = Expectations {
            member_all: member.iter().map(|(id, _)| *id).collect(),
            member_active: active(&member),
            admin_all: admin.iter().map(|(id, _)| *id).collect(),
            admin_active: active(&admin),
            org,
            thread: db.thread,
        };
        assert!(!e.member_active.is_empty(), "the member has active tickets");
        assert!(!e.admin_active.is_empty(), "the admin has active tickets");
        assert!(e.member_active.contains(&db.thread), "the thread is active");
        e
    }

    fn member_all(&self, body: &str) {
        assert_eq!(listed(body), self.member_all, "member, ?status=all");
    }

    fn member_active(&self, body: &str) {
        assert_eq!(listed(body), self.member_active, "member, /tickets");
    }

    fn admin_all(&self, body: &str) {
        assert_eq!(listed(body), self.admin_all, "admin, ?status=all");
    }

    fn admin_active(&self, body: &str) {
        let shown = listed(body);
        assert_eq!(shown, self.admin_active, "admin, /tickets");
        assert!(
            shown.iter().all(|id| self.org.contains(id)),
            "admin, /tickets: only the organization's tickets"
        );
    }

    fn thread(&self, body: &str) {
        assert!(
            body.contains(&format!("<span class=\"muted\">#{}</span>", self.thread)),
            "the ticket's heading"
        );
        assert_eq!(
            body.matches("<article class=\"message").count(),
            THREAD_PUBLIC,
            "the ticket page's messages"
        );
        assert_eq!(
            body.matches(&format!("/tickets/{}/attachments/", self.thread))
                .count(),
            THREAD_FILES,
            "the ticket page's attachments"
        );
        assert!(
            !body.contains(INTERNAL_MARK),
            "an internal note on the page"
        );
    }
}

// ------------------------------------------------------------ the database

/// What the benchmark needs to know of the database it built.
struct Built {
    users: usize,
    org_tickets: usize,
    member: i64,
    admin: i64,
    /// The member's ticket with 200 public messages.
    thread: i64,
    member_tokens: Vec<String>,
    admin_tokens: Vec<String>,
}

/// xorshift64*: the same database every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

const WORDS: &[&str] = &[
    "invoice",
    "export",
    "the",
    "report",
    "fails",
    "since",
    "yesterday",
    "when",
    "we",
    "open",
    "dashboard",
    "please",
    "check",
    "account",
    "error",
    "code",
    "after",
    "update",
    "our",
    "team",
    "cannot",
    "sign",
    "in",
    "billing",
    "page",
    "shows",
    "wrong",
    "totals",
    "for",
    "march",
    "thanks",
    "regards",
    "attached",
    "screenshot",
    "again",
    "still",
    "happens",
    "on",
    "every",
    "browser",
];

fn text(rng: &mut Rng, min: usize, max: usize) -> String {
    let target = min + rng.below(max - min);
    let mut s = String::with_capacity(target + 16);
    while s.len() < target {
        if !s.is_empty() {
            s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s
}

fn token(kind: u128, k: usize) -> String {
    format!("{:064x}", (kind << 64) | k as u128)
}

/// Creates the schema through the store, then writes users, tickets,
/// messages, attachments, watchers and sessions in one transaction.
fn build(config: &ticketd::config::Config, tickets: usize, messages: usize, phc: &str) -> Built {
    drop(
        ticketd::store::Store::from_config(&config.store, ticketd::store::Durability::Full)
            .expect("create the schema"),
    );
    let mut conn = Connection::open(&config.store.path).expect("open the database");
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")
        .expect("pragmas");
    let tx = conn.transaction().expect("transaction");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let now = ticketd::ingest::now().0;
    let span: i64 = 2 * 365 * 86_400;
    let day = 86_400;

    // Users: the agent, the big organization (its admin first), the
    // member's small one, and everyone else in organizations of ten.
    let add_user = |email: &str, role: &str, org: Option<&str>, hash: Option<&str>| -> i64 {
        tx.prepare_cached(
            "INSERT INTO users (email, name, role, org, password_hash, created_at, base_email)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?1)",
        )
        .expect("prepare")
        .execute(params![
            email,
            email.split('@').next().map(|n| n.replace('.', " ")),
            role,
            org,
            hash,
            now - span - day
        ])
        .expect("user");
        tx.last_insert_rowid()
    };
    let agent = add_user(AGENT, "agent", None, None);
    let big_users = (tickets / 200).max(10);
    let mut big = vec![add_user(ADMIN, "admin", Some(BIG_ORG), Some(phc))];
    for k in 1..big_users {
        big.push(add_user(
            &format!("user{k}@{BIG_ORG}"),
            "member",
            Some(BIG_ORG),
            None,
        ));
    }
    let member = add_user(MEMBER, "member", Some("smallco.test"), Some(phc));
    let colleagues: Vec<i64> = (1..5)
        .map(|k| {
            add_user(
                &format!("colleague{k}@smallco.test"),
                "member",
                Some("smallco.test"),
                None,
            )
        })
        .collect();
    let other_users = (tickets / 5).max(50);
    let orgs = other_users / 10;
    let others: Vec<i64> = (0..other_users)
        .map(|k| {
            let org = format!("org{}.test", k % orgs);
            add_user(&format!("person{k}@{org}"), "member", Some(&org), None)
        })
        .collect();
    let users = 1 + big.len() + 1 + colleagues.len() + others.len();

    // Who opened each ticket. Tickets are numbered in the order they were
    // opened; the member's 20 (and 10 of their colleagues) are recent ones.
    #[derive(Clone, Copy, PartialEq)]
    enum Owner {
        Other,
        Member,
        Colleague,
        Big,
    }
    let mut owner = vec![Owner::Other; tickets];
    let mut recent: Vec<usize> = (tickets * 9 / 10..tickets).collect();
    rng.shuffle(&mut recent);
    for &i in &recent[..MEMBER_TICKETS] {
        owner[i] = Owner::Member;
    }
    for &i in &recent[MEMBER_TICKETS..MEMBER_TICKETS + 10] {
        owner[i] = Owner::Colleague;
    }
    let thread_index = recent[0];
    let mut rest: Vec<usize> = (0..tickets).filter(|&i| owner[i] == Owner::Other).collect();
    rng.shuffle(&mut rest);
    let org_tickets = tickets / 10;
    for &i in &rest[..org_tickets] {
        owner[i] = Owner::Big;
    }

    // Messages per ticket: one each, the thread 200 + 10 notes, the rest at random.
    let mut count = vec![1usize; tickets];
    count[thread_index] = THREAD_PUBLIC + THREAD_INTERNAL;
    let mut left = messages - count.iter().sum::<usize>();
    while left > 0 {
        let i = rng.below(tickets);
        if i != thread_index {
            count[i] += 1;
            left -= 1;
        }
    }

    let mut ticket_stmt = tx
        .prepare_cached(
            "INSERT INTO tickets (subject, status, priority, category, requester_id, org, fields, follow_up_of, created_at, updated_at, solved_at, arrived_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{}', NULL, ?7, ?8, ?9, ?7)",
        )
        .expect("prepare");
    let mut message_stmt = tx
        .prepare_cached(
            "INSERT INTO messages (ticket_id, direction, author_id, message_id, date, text, full_text, internal, raw_id, created_at, source, verified)
             VALUES (?1, 'in', ?2, ?3, ?4, ?5, ?5, ?6, NULL, ?4, ?7, ?8)",
        )
        .expect("prepare");
    let mut thread_stmt = tx
        .prepare_cached("INSERT INTO thread_ids (message_id, ticket_id) VALUES (?1, ?2)")
        .expect("prepare");
    let mut file_stmt = tx
        .prepare_cached(
            "INSERT INTO attachments (message_id, filename, content_type, size, sha256, refused)
             VALUES (?1, ?2, 'application/pdf', ?3, ?4, NULL)",
        )
        .expect("prepare");
    let mut watch_stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO watchers (ticket_id, user_id) VALUES (?1, ?2)")
        .expect("prepare");
    let mut colleague_tickets = Vec::new();
    let mut thread = 0;
    for i in 0..tickets {
        let (requester, org): (i64, String) = match owner[i] {
            Owner::Member => (member, "smallco.test".to_owned()),
            Owner::Colleague => (
                colleagues[rng.below(colleagues.len())],
                "smallco.test".to_owned(),
            ),
            Owner::Big => (big[rng.below(big.len())], BIG_ORG.to_owned()),
            Owner::Other => {
                let k = rng.below(others.len());
                (others[k], format!("org{}.test", k % orgs))
            }
        };
        let created = now - span + (i as i64 * span) / tickets as i64;
        let age = now - created;
        let roll = rng.below(100);
        let status = if i == thread_index {
            "open"
        } else if age < 30 * day {
            match roll {
                0..=44 => "open",
                45..=69 => "pending",
                _ => "solved",
            }
        } else {
            match roll {
                0..=4 => "open",
                5..=14 => "solved",
                _ => "closed",
            }
        };
        let priority = ["low", "normal", "normal", "normal", "high", "urgent"][rng.below(6)];
        let category = [Some("Billing"), Some("Export"), None][rng.below(3)];
        let subject = format!("{} #{}", text(&mut rng, 20, 60), i + 1);
        let last = created + (count[i] as i64 - 1) * 3_600;
        let solved = matches!(status, "solved" | "closed").then_some(last);
        ticket_stmt
            .execute(params![
                subject, status, priority, category, requester, org, created, last, solved
            ])
            .expect("ticket");
        let id = tx.last_insert_rowid();
        if i == thread_index {
            thread = id;
        }
        if owner[i] == Owner::Colleague {
            colleague_tickets.push(id);
        }
        // A colleague on Cc on some tickets.
        if rng.below(100) < 15 {
            let watcher = match owner[i] {
                Owner::Big => big[rng.below(big.len())],
                Owner::Member | Owner::Colleague => colleagues[rng.below(colleagues.len())],
                Owner::Other => others[rng.below(others.len())],
            };
            if watcher != requester {
                watch_stmt.execute(params![id, watcher]).expect("watcher");
            }
        }
        let mut files_left = if i == thread_index { THREAD_FILES } else { 0 };
        for k in 0..count[i] {
            let from_agent = k % 2 == 1;
            let internal = if i == thread_index {
                k >= THREAD_PUBLIC
            } else {
                from_agent && rng.below(10) == 0
            };
            let body = if internal {
                format!("{INTERNAL_MARK} {}", text(&mut rng, 80, 300))
            } else {
                text(&mut rng, 150, 700)
            };
            let mid = format!("<t{id}.m{k}@bench.test>");
            let author = if from_agent || internal {
                agent
            } else {
                requester
            };
            let date = created + k as i64 * 3_600;
            let source = if from_agent || rng.below(4) > 0 {
                "email"
            } else {
                "web"
            };
            message_stmt
                .execute(params![
                    id,
                    author,
                    mid,
                    date,
                    body,
                    internal,
                    source,
                    source == "web"
                ])
                .expect("message");
            let message = tx.last_insert_rowid();
            thread_stmt.execute(params![mid, id]).expect("thread id");
            let file = if i == thread_index {
                !internal && k % 10 == 0 && files_left > 0
            } else {
                rng.below(20) == 0
            };
            if file {
                files_left = files_left.saturating_sub(1);
                file_stmt
                    .execute(params![
                        message,
                        format!("screenshot-{k}.pdf"),
                        20_000 + rng.below(200_000) as i64,
                        format!("{:064x}", message)
                    ])
                    .expect("attachment");
            }
        }
    }
    // The member watches three of their colleagues' tickets.
    for &t in &colleague_tickets[..MEMBER_WATCHES] {
        watch_stmt.execute(params![t, member]).expect("watcher");
    }

    // Sessions: 50 for the member, 50 for the admin, as sign-in makes them.
    let session = |user: i64, kind: u128, k: usize| -> String {
        let t = token(kind, k);
        ticketd::store::portal::create_session(
            &tx,
            user,
            &ticketd::web::session::hash(&t),
            &format!("form{kind}x{k}"),
            ticketd::domain::time::Timestamp(now),
            ticketd::domain::time::Timestamp(now + 14 * day),
        )
        .expect("session");
        t
    };
    let member_tokens: Vec<String> = (0..SESSIONS).map(|k| session(member, 1, k)).collect();
    let admin_tokens: Vec<String> = (0..SESSIONS).map(|k| session(big[0], 2, k)).collect();
    drop((
        ticket_stmt,
        message_stmt,
        thread_stmt,
        file_stmt,
        watch_stmt,
    ));
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    Built {
        users,
        org_tickets,
        member,
        admin: big[0],
        thread,
        member_tokens,
        admin_tokens,
    }
}
