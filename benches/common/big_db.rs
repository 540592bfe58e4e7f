//! A big, deterministic support database for the benchmarks that read one
//! (the portal's, the desk's): users in organizations, tickets of every
//! status, priority and category over two years, their messages (some
//! internal notes), attachments, watchers, assignees and signed-in
//! sessions, written directly with rusqlite in one transaction, in the
//! columns the ingest pipeline writes, on the schema the store creates.
//!
//! The same `Spec` gives the same database every run. Who is who:
//!
//! * [`AGENTS`]: the support staff (list them in `support.agents`, as
//!   [`config_toml`] does); the first writes every agent message, all of
//!   them are assignees;
//! * [`MEMBER`] of [`SMALL_ORG`]: requested [`MEMBER_TICKETS`] recent
//!   tickets and watches [`MEMBER_WATCHES`] of colleagues'; one of theirs
//!   (`BigDb::thread`) has [`THREAD_PUBLIC`] public messages,
//!   [`THREAD_INTERNAL`] internal notes (marked [`INTERNAL_MARK`]) and
//!   [`THREAD_FILES`] attachments;
//! * [`ADMIN`], admin of [`BIG_ORG`], which holds a tenth of all tickets;
//! * everyone else: organizations of ten people each.
//!
//! Every account that has one has the password [`PASSWORD`]; its hash is
//! the caller's (`Spec::password_hash`, from `ticketd::web::auth`).

// Each benchmark that includes this file uses a part of it.
#![allow(dead_code)]

use rusqlite::{params, Connection};

/// The password of every account that has one.
pub const PASSWORD: &str = "a good long password";
/// The support staff; the first one writes the agents' messages.
pub const AGENTS: [&str; 5] = [
    "agent@example.test",
    "agent2@example.test",
    "agent3@example.test",
    "agent4@example.test",
    "agent5@example.test",
];
pub const AGENT: &str = AGENTS[0];
pub const MEMBER: &str = "member@smallco.test";
pub const SMALL_ORG: &str = "smallco.test";
pub const ADMIN: &str = "admin@bigcorp.test";
pub const BIG_ORG: &str = "bigcorp.test";
pub const MEMBER_TICKETS: usize = 20;
pub const MEMBER_WATCHES: usize = 3;
pub const THREAD_PUBLIC: usize = 200;
pub const THREAD_INTERNAL: usize = 10;
pub const THREAD_FILES: usize = 20;
/// The start of every internal note: a page that shows it leaks one.
pub const INTERNAL_MARK: &str = "INTERNAL-NOTE-NOT-FOR-CUSTOMERS";

/// What to build.
pub struct Spec<'a> {
    /// At least 1,000 (the member's tickets are among the newest tenth).
    pub tickets: usize,
    /// At least `tickets + 210` (the thread has 210).
    pub messages: usize,
    /// Sessions made for each of [`AGENT`], [`MEMBER`] and [`ADMIN`].
    pub sessions: usize,
    /// The PHC string of [`PASSWORD`], set on those three accounts.
    pub password_hash: &'a str,
}

/// What a benchmark needs to know of the database it built.
pub struct BigDb {
    pub users: usize,
    pub tickets: usize,
    pub messages: usize,
    /// How many tickets [`BIG_ORG`] has.
    pub org_tickets: usize,
    /// User ids.
    pub agent: i64,
    pub member: i64,
    pub admin: i64,
    /// The member's ticket with [`THREAD_PUBLIC`] public messages.
    pub thread: i64,
    /// Session tokens (the `ticketd` cookie's value), `Spec::sessions` each.
    pub agent_tokens: Vec<String>,
    pub member_tokens: Vec<String>,
    pub admin_tokens: Vec<String>,
}

/// The `[store]` and `[support]` sections for this database: the store at
/// `ticketd.db` beside the config, [`AGENTS`] as agents, `portal_url`.
pub fn config_toml(portal_url: &str) -> String {
    let agents: Vec<String> = AGENTS.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[store]\npath = \"ticketd.db\"\n[support]\naddress = \"support@example.test\"\nname = \"Example Support\"\nagents = [{}]\nportal_url = \"{portal_url}\"\n",
        agents.join(", ")
    )
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

/// Creates the schema through the store at `config.store.path` (which must
/// not hold tickets yet), then writes users, tickets, messages,
/// attachments, watchers, assignees and sessions in one transaction.
pub fn build(config: &ticketd::config::Config, spec: &Spec) -> BigDb {
    let (tickets, messages) = (spec.tickets, spec.messages);
    assert!(tickets >= 1_000, "at least 1,000 tickets");
    assert!(
        messages >= tickets + THREAD_PUBLIC + THREAD_INTERNAL,
        "a message per ticket, and the thread's"
    );
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
    let phc = spec.password_hash;

    // Users: the agents, the big organization (its admin first), the
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
    let agent = add_user(AGENT, "agent", None, Some(phc));
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
    let member = add_user(MEMBER, "member", Some(SMALL_ORG), Some(phc));
    let colleagues: Vec<i64> = (1..5)
        .map(|k| {
            add_user(
                &format!("colleague{k}@{SMALL_ORG}"),
                "member",
                Some(SMALL_ORG),
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
    let mut agents = vec![agent];
    agents.extend(AGENTS[1..].iter().map(|a| add_user(a, "agent", None, None)));
    let users = agents.len() + big.len() + 1 + colleagues.len() + others.len();

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
            "INSERT INTO tickets (subject, status, priority, category, requester_id, org, fields, follow_up_of, created_at, updated_at, solved_at, arrived_at, assignee_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{}', NULL, ?7, ?8, ?9, ?7, ?10)",
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
    // Assignees come from a generator of their own, so that everything else
    // is the database it was before tickets had assignees: half of the open
    // tickets are assigned, nine in ten of the others.
    let mut assign_rng = Rng(0x5eed_1234_abcd_0002);
    let mut colleague_tickets = Vec::new();
    let mut thread = 0;
    for i in 0..tickets {
        let (requester, org): (i64, String) = match owner[i] {
            Owner::Member => (member, SMALL_ORG.to_owned()),
            Owner::Colleague => (
                colleagues[rng.below(colleagues.len())],
                SMALL_ORG.to_owned(),
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
        let share = if status == "open" { 50 } else { 90 };
        let assignee =
            (assign_rng.below(100) < share).then(|| agents[assign_rng.below(agents.len())]);
        ticket_stmt
            .execute(params![
                subject, status, priority, category, requester, org, created, last, solved,
                assignee
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

    // Sessions, as sign-in makes them.
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
    let member_tokens: Vec<String> = (0..spec.sessions).map(|k| session(member, 1, k)).collect();
    let admin_tokens: Vec<String> = (0..spec.sessions).map(|k| session(big[0], 2, k)).collect();
    let agent_tokens: Vec<String> = (0..spec.sessions).map(|k| session(agent, 3, k)).collect();
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
    BigDb {
        users,
        tickets,
        messages,
        org_tickets,
        agent,
        member,
        admin: big[0],
        thread,
        agent_tokens,
        member_tokens,
        admin_tokens,
    }
}

/// A database [`build`] made before (kept with `BENCH_KEEP=1`), read back:
/// minutes saved when iterating on a benchmark. Its sessions must still
/// run (they last 14 days) and number at least `sessions` each.
pub fn open(config: &ticketd::config::Config, sessions: usize) -> BigDb {
    let conn = Connection::open_with_flags(
        &config.store.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", config.store.path.display()));
    let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> i64 {
        conn.query_row(sql, p, |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let user = |email: &str| one("SELECT id FROM users WHERE email = ?1", &[&email]);
    let (agent, member, admin) = (user(AGENT), user(MEMBER), user(ADMIN));
    let live = |user: i64| -> usize {
        one(
            "SELECT count(*) FROM sessions WHERE user_id = ?1 AND expires_at > ?2",
            &[&user, &ticketd::ingest::now().0],
        ) as usize
    };
    for (who, id) in [(AGENT, agent), (MEMBER, member), (ADMIN, admin)] {
        assert!(
            live(id) >= sessions,
            "{who}: fewer than {sessions} live sessions"
        );
    }
    let tokens = |kind: u128| (0..sessions).map(|k| token(kind, k)).collect();
    BigDb {
        users: one("SELECT count(*) FROM users", &[]) as usize,
        tickets: one("SELECT count(*) FROM tickets", &[]) as usize,
        messages: one("SELECT count(*) FROM messages", &[]) as usize,
        org_tickets: one("SELECT count(*) FROM tickets WHERE org = ?1", &[&BIG_ORG]) as usize,
        agent,
        member,
        admin,
        thread: one(
            "SELECT t.id FROM tickets t JOIN messages m ON m.ticket_id = t.id
             WHERE t.requester_id = ?1 GROUP BY t.id ORDER BY count(*) DESC LIMIT 1",
            &[&member],
        ),
        member_tokens: tokens(1),
        admin_tokens: tokens(2),
        agent_tokens: tokens(3),
    }
}
