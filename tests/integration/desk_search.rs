//! The desk's queue in process (DESIGN §9, issue 13): full-text search over
//! subjects and every message text (words, addresses, codes, accents),
//! internal notes found by agents and never by the public-only search, the
//! assignee filter, paging past 200 rows, and hostile queries.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::harness::{self, csrf_of, enc, Reply};
use ticketd::config::Config;
use ticketd::ingest::{now, Ingestor, Mode};
use ticketd::store::Store;

const ORIGIN: &str = "http://127.0.0.1:8080";
const AGENT: &str = "agent@example.test";
const BEA: &str = "bea@example.test";

struct Portal {
    _dir: tempfile::TempDir,
    config: Config,
    app: axum::Router,
}

impl Portal {
    fn new() -> Portal {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            r#"
[store]
path = "ticketd.db"
[support]
address = "support@example.test"
name = "Example Support"
agents = ["{AGENT}", "{BEA}"]
portal_url = "{ORIGIN}"
[portal]
listen = "127.0.0.1:0"
"#
        );
        let (config, app) = harness::portal(&text, dir.path());
        Portal {
            _dir: dir,
            config,
            app,
        }
    }

    fn store(&self) -> Store {
        harness::store(&self.config)
    }

    fn sql(&self, sql: &str) {
        harness::sql(&self.config, sql);
    }

    fn ticket(&self, from: &str, subject: &str, body: &str) -> i64 {
        let mut store = self.store();
        let ing = Ingestor::new(&self.config, &mut store).expect("ingestor");
        let raw = format!(
            "From: {from}\nTo: support@example.test\nSubject: {subject}\nMessage-ID: <{}@t>\nDate: Mon, 30 Nov 2026 08:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n{body}\n",
            subject.replace(' ', "-")
        );
        ing.ingest(&mut store, raw.as_bytes(), now(), Mode::Commit)
            .expect("ingest")
            .ticket
            .expect("a ticket")
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let mut r = harness::send(&self.app, req).await;
        // minijinja writes `/` in attributes as `&#x2f;`; the checks read paths.
        r.body = r.body.replace("&#x2f;", "/");
        r
    }

    async fn get(&self, path: &str, cookie: &str) -> Reply {
        let req = Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// `/desk?q=…`, checked to answer 200.
    async fn search(&self, q: &str, cookie: &str) -> Reply {
        let r = self.get(&format!("/desk?q={}", enc(q)), cookie).await;
        assert_eq!(r.status, StatusCode::OK, "q={q:?}: {}", r.body);
        r
    }

    async fn sign_up(&self, email: &str) -> String {
        let token = {
            let store = self.store();
            ticketd::store::tokens::mint(store.conn(), None, email, now(), 72).expect("token")
        };
        let body = format!(
            "token={}&password=a+good+long+password&password_confirm=a+good+long+password",
            enc(&token)
        );
        let req = Request::post("/password/setup")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .expect("request");
        let r = self.send(req).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap_or("")
            .to_owned()
    }

    /// An internal note on `ticket`, through the desk's own form.
    async fn note(&self, cookie: &str, ticket: i64, text: &str) {
        let csrf = csrf_of(&self.get("/desk", cookie).await.body);
        let boundary = "XyZzY";
        let mut body = String::new();
        for (name, value) in [("csrf", csrf.as_str()), ("text", text), ("internal", "1")] {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let req = Request::post(format!("/desk/tickets/{ticket}/reply"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("sec-fetch-site", "same-origin")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .expect("request");
        let r = self.send(req).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "the note: {}", r.body);
    }
}

/// The ticket numbers the queue lists, in order.
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

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[tokio::test]
async fn search_finds_words_addresses_codes_accents_and_subject_words() {
    let p = Portal::new();
    let a = p.ticket(
        "ann@acme.test",
        "Printer jam",
        "Tray two. Error code E-1042; please copy carl@acme.test",
    );
    let b = p.ticket("bob@other.test", "Café order", "The crème brûlée was cold.");
    let c = p.ticket(
        "dan@other.test",
        "Cafe menu",
        "Is there a cafe near E-1043?",
    );
    let d = p.ticket("eve@other.test", "Refunds", "I paid twice for order 1042.");
    let agent = p.sign_up(AGENT).await;
    for (q, want) in [
        ("tray", vec![a]),
        ("TRAY", vec![a]),
        ("E-1042", vec![a]),
        ("e-1042", vec![a]),
        ("E-104*", vec![a, c]),
        ("carl@acme.test", vec![a]),
        ("carl@other.test", vec![]),
        ("printer", vec![a]),
        ("jam e-1042", vec![a]),
        ("café", vec![b, c]),
        ("cafe", vec![b, c]),
        ("creme brulee", vec![b]),
        ("crème", vec![b]),
        ("order", vec![b, d]),
        ("twice order", vec![d]),
        ("cold twice", vec![]),
        ("nothing-like-this", vec![]),
    ] {
        let r = p.search(q, &agent).await;
        assert_eq!(sorted(listed(&r.body)), want, "q={q:?}");
    }
    // A number alone: the ticket with that number, and texts that hold it.
    let r = p.search(&format!("#{b}"), &agent).await;
    assert_eq!(listed(&r.body), vec![b]);
    let r = p.search(&a.to_string(), &agent).await;
    assert_eq!(listed(&r.body), vec![a]);
    let r = p.search("1042", &agent).await;
    assert_eq!(
        sorted(listed(&r.body)),
        vec![a, d],
        "no ticket 1042 yet: texts"
    );
    // What was searched stays in the box and in the status tabs' links.
    let r = p.search("E-1042", &agent).await;
    assert!(r.body.contains("value=\"E-1042\""), "{}", r.body);
    assert!(r.body.contains("status=open&amp;q=E-1042"), "{}", r.body);
}

#[tokio::test]
async fn a_word_only_in_a_note_is_found_on_the_desk_and_never_by_the_public_search() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let other = p.ticket("bob@acme.test", "Scanner", "Also broken.");
    let agent = p.sign_up(AGENT).await;
    p.note(&agent, t, "Customer seems confused; zebracode")
        .await;

    let r = p.search("zebracode", &agent).await;
    assert_eq!(listed(&r.body), vec![t], "the agent finds the note's word");
    let r = p.search("printer zebracode", &agent).await;
    assert_eq!(listed(&r.body), vec![t], "with the subject's word");

    let store = p.store();
    let find = |q: &str, public_only: bool| -> Vec<i64> {
        sorted(
            ticketd::store::search::matching_tickets(store.conn(), q, public_only, 50)
                .expect("search")
                .into_iter()
                .map(|t| t.0)
                .collect(),
        )
    };
    assert_eq!(find("zebracode", false), vec![t]);
    assert_eq!(find("zebracode", true), Vec::<i64>::new(), "public only");
    assert_eq!(find("zebra*", true), Vec::<i64>::new(), "not as a prefix");
    assert_eq!(find("printer zebracode", true), Vec::<i64>::new());
    assert_eq!(find("broken", true), vec![t, other], "public words are");
    assert_eq!(find("printer", true), vec![t], "and subjects");
}

#[tokio::test]
async fn the_assignee_filter_takes_me_none_or_an_address_and_names_the_assignee() {
    let p = Portal::new();
    let mine = p.ticket("ann@acme.test", "Printer", "Broken.");
    let beas = p.ticket("bob@acme.test", "Scanner", "Broken too.");
    let nobodys = p.ticket("carl@acme.test", "Phone", "Silent.");
    let solved_mine = p.ticket("dan@acme.test", "Old one", "Done.");
    let agent = p.sign_up(AGENT).await;
    p.sql(&format!(
        "UPDATE users SET name = 'Bea Agent' WHERE email = '{BEA}';
         UPDATE tickets SET assignee_id = (SELECT id FROM users WHERE email = '{AGENT}') WHERE id IN ({mine}, {solved_mine});
         UPDATE tickets SET assignee_id = (SELECT id FROM users WHERE email = '{BEA}') WHERE id = {beas};
         UPDATE tickets SET status = 'solved' WHERE id = {solved_mine};"
    ));
    for (query, want) in [
        ("assignee=me", vec![mine, solved_mine]),
        ("assignee=me&status=open", vec![mine]),
        ("assignee=none", vec![nobodys]),
        (&format!("assignee={}", enc(BEA)), vec![beas]),
        ("assignee=BEA%40Example.test", vec![beas]),
        ("assignee=nobody%40example.test", vec![]),
        ("assignee=me&q=broken", vec![mine]),
        ("assignee=none&q=broken", vec![]),
        ("", vec![mine, beas, nobodys, solved_mine]),
    ] {
        let r = p.get(&format!("/desk?{query}"), &agent).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
        assert_eq!(sorted(listed(&r.body)), sorted(want), "{query}");
    }
    let r = p.get("/desk?assignee=me", &agent).await;
    // The filter stays in the URL of every other filter's link…
    assert!(
        r.body
            .contains("href=\"/desk?status=open&amp;assignee=me\""),
        "{}",
        r.body
    );
    // … and selected in its list, which has every agent, me and nobody.
    assert!(
        r.body.contains("<option value=\"me\" selected>Me</option>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<option value=\"none\">Unassigned</option>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            "<option value=\"{BEA}\">Bea Agent &lt;{BEA}&gt;</option>"
        )),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(&format!("<option value=\"{AGENT}\">{AGENT}</option>")),
        "{}",
        r.body
    );
    // "Assigned to": the name, or the address of an agent without one.
    let all = p.get("/desk", &agent).await;
    let row = |id: i64| -> String {
        let start = all
            .body
            .find(&format!("<td><a href=\"/desk/tickets/{id}\""))
            .expect("the row");
        let end = all.body[start..].find("</tr>").expect("row end") + start;
        all.body[start..end].to_owned()
    };
    // (the cell before "Days open")
    let cell = |who: &str| format!("<td>{who}</td>\n    <td class=\"num\">");
    assert!(row(beas).contains(&cell("Bea Agent")), "{}", row(beas));
    assert!(row(mine).contains(&cell(AGENT)), "{}", row(mine));
    assert!(row(nobodys).contains(&cell("—")), "{}", row(nobodys));
}

#[tokio::test]
async fn pages_of_200_go_past_the_limit_and_keep_the_filters() {
    let p = Portal::new();
    let first = p.ticket("ann@acme.test", "Seed", "The first one.");
    let agent = p.sign_up(AGENT).await;
    // 449 more, each updated a second after the one before; every third pending.
    p.sql(&format!(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 449)
         INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         SELECT 'Bulk ' || k, CASE WHEN k % 3 = 0 THEN 'pending' ELSE 'open' END, 'normal',
                t.requester_id, 'acme.test', t.created_at, t.updated_at + k
         FROM n, tickets t WHERE t.id = {first};"
    ));
    let p1 = p.get("/desk", &agent).await;
    assert!(p1.body.contains("1–200 of 450 tickets"), "{}", p1.body);
    assert!(
        p1.body.contains("href=\"/desk?page=2\" rel=\"next\""),
        "{}",
        p1.body
    );
    assert!(
        !p1.body.contains("rel=\"prev\""),
        "no page before the first"
    );
    let p2 = p.get("/desk?page=2", &agent).await;
    assert!(p2.body.contains("201–400 of 450 tickets"), "{}", p2.body);
    assert!(
        p2.body.contains("href=\"/desk\" rel=\"prev\""),
        "{}",
        p2.body
    );
    let p3 = p.get("/desk?page=3", &agent).await;
    assert!(p3.body.contains("401–450 of 450 tickets"), "{}", p3.body);
    assert!(!p3.body.contains("rel=\"next\""), "no page after the last");
    let (l1, l2, l3) = (listed(&p1.body), listed(&p2.body), listed(&p3.body));
    assert_eq!((l1.len(), l2.len(), l3.len()), (200, 200, 50));
    let mut every: Vec<i64> = l1.iter().chain(&l2).chain(&l3).copied().collect();
    let in_order = every.clone();
    every.sort();
    every.dedup();
    assert_eq!(every.len(), 450, "each ticket on exactly one page");
    // Newest activity first, across the pages: the bulk tickets were
    // updated in ticket order, the first one before them all.
    assert_eq!(in_order.last(), Some(&first));
    assert!(
        in_order[..449].windows(2).all(|w| w[0] > w[1]),
        "by updated_at"
    );

    // Past the end: the count, and a way back.
    let p9 = p.get("/desk?page=9", &agent).await;
    assert_eq!(p9.status, StatusCode::OK);
    assert!(
        p9.body.contains("Page 9 is past the end: 450 tickets"),
        "{}",
        p9.body
    );
    assert!(
        p9.body.contains("href=\"/desk?page=3\" rel=\"prev\""),
        "{}",
        p9.body
    );
    assert!(listed(&p9.body).is_empty());

    // With filters: 300 open bulk tickets, the links keep status and search.
    let o2 = p.get("/desk?status=open&q=bulk&page=2", &agent).await;
    assert!(o2.body.contains("201–300 of 300 tickets"), "{}", o2.body);
    assert!(
        o2.body
            .contains("href=\"/desk?status=open&amp;q=bulk\" rel=\"prev\""),
        "{}",
        o2.body
    );
    let o1 = p.get("/desk?status=open&q=bulk", &agent).await;
    assert!(
        o1.body
            .contains("href=\"/desk?status=open&amp;q=bulk&amp;page=2\" rel=\"next\""),
        "{}",
        o1.body
    );
    // Counts per status at the top, whatever the page.
    assert!(
        o2.body.contains("Pending <span class=\"count\">149</span>"),
        "{}",
        o2.body
    );
    assert!(
        o2.body.contains("Open <span class=\"count\">301</span>"),
        "{}",
        o2.body
    );
    // A page that is no number is the first.
    for bad in ["x", "-1", "0", "99999999999999999999", "1e9"] {
        let r = p.get(&format!("/desk?page={}", enc(bad)), &agent).await;
        assert_eq!(r.status, StatusCode::OK, "page={bad}");
        assert!(
            r.body.contains("1–200 of 450") || r.body.contains("past the end"),
            "page={bad}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn hostile_queries_never_fail_the_queue() {
    let p = Portal::new();
    let t = p.ticket(
        "ann@acme.test",
        "Printer (jammed)",
        "Paper \"again\" -- see: E-1042",
    );
    let agent = p.sign_up(AGENT).await;
    let long = "(\"NEAR OR ".repeat(1_100);
    let ten_kb = "a".repeat(10_240);
    let hostile = [
        "\"",
        "\"\"",
        "\"unbalanced",
        "(",
        ")",
        "()",
        "a OR b",
        "NEAR(printer again)",
        "NOT printer",
        "printer AND",
        "-printer",
        "subject:printer",
        "{subject body} : printer",
        "^printer",
        "*",
        "* *",
        "printer*",
        "\\",
        "'; DROP TABLE tickets; --",
        "%",
        "_",
        "\u{0}",
        "#",
        "#-1",
        "#99999999999999999999",
        "\u{301}",
        "🙂",
        &long,
        &ten_kb,
    ];
    for q in hostile {
        let r = p.search(q, &agent).await;
        assert!(
            !r.body.contains("Something went wrong"),
            "q={q:?}: {}",
            r.body
        );
    }
    for q in ["(jammed)", "\"again\"", "-printer", "printer*", "see:"] {
        let r = p.search(q, &agent).await;
        assert_eq!(listed(&r.body), vec![t], "q={q:?}");
    }
    // The other filters, hostile too.
    for query in [
        "assignee=%22%3B",
        "assignee=me&page=-5",
        "status=%00&priority=%27&category=%22&org=%25",
        "assignee=",
    ] {
        let r = p.get(&format!("/desk?{query}"), &agent).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    }
}

#[tokio::test]
async fn a_broad_search_lists_and_counts_what_a_narrow_one_would() {
    let p = Portal::new();
    let first = p.ticket("ann@acme.test", "Seed", "The first one.");
    let agent = p.sign_up(AGENT).await;
    // More index rows than `BROAD_ROWS` hold "widget": the queue walks its
    // own order instead of looking up every hit. Every fourth is pending,
    // every third holds "gadget" too; their updates interleave with ids.
    let n = ticketd::store::search::BROAD_ROWS + 150;
    p.sql(&format!(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {n})
         INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         SELECT CASE WHEN k % 3 = 0 THEN 'Widget and gadget ' ELSE 'Widget ' END || k,
                CASE WHEN k % 4 = 0 THEN 'pending' ELSE 'open' END, 'normal',
                t.requester_id, 'acme.test', t.created_at, t.updated_at + (k * 7919) % {n}
         FROM n, tickets t WHERE t.id = {first};"
    ));
    let store = p.store();
    let expected = |cond: &str| -> Vec<i64> {
        store
            .conn()
            .prepare(&format!(
                "SELECT id FROM tickets WHERE {cond} ORDER BY updated_at DESC, id DESC"
            ))
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("ids")
    };
    for (query, cond) in [
        ("q=widget", "subject LIKE 'Widget%'"),
        (
            "q=widget&status=pending",
            "subject LIKE 'Widget%' AND status = 'pending'",
        ),
        ("q=widget+gadget", "subject LIKE '%gadget%'"),
        ("q=widg*", "subject LIKE 'Widget%'"),
    ] {
        let want = expected(cond);
        assert!(!want.is_empty(), "{query}");
        let mut got = Vec::new();
        for page in 1..=want.len().div_ceil(200) {
            let r = p.get(&format!("/desk?{query}&page={page}"), &agent).await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
            let total = want.len().to_string();
            let total = if want.len() >= 1_000 {
                format!(
                    "{},{}",
                    &total[..total.len() - 3],
                    &total[total.len() - 3..]
                )
            } else {
                total
            };
            // A word in nearly every ticket, unfiltered: its first pages
            // are read by probing each ticket, counted only so far.
            let dense = matches!(query, "q=widget" | "q=widg*")
                && page * 200 <= ticketd::store::desk::DENSE_COUNT as usize;
            let total = if dense {
                "more than 1,000".to_owned()
            } else {
                total
            };
            assert!(
                r.body.contains(&format!(" of {total} tickets"))
                    || r.body.contains(&format!(">{total} tickets")),
                "{query} page {page}: the count {total}: {}",
                r.body
            );
            got.extend(listed(&r.body));
        }
        assert_eq!(got, want, "{query}: the same rows in the same order");
    }
}
