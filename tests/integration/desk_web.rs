//! The desk in process (DESIGN §9): agents only, everything on a ticket,
//! answers and notes through the mail pipeline, updates through the
//! console's code, the queue's filters and search.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::harness::{self, csrf_of, enc, Reply};
use ticketd::config::Config;
use ticketd::ingest::{now, Ingestor, Mode};
use ticketd::store::Store;

const ORIGIN: &str = "http://127.0.0.1:8080";
const AGENT: &str = "agent@example.test";

struct Portal {
    _dir: tempfile::TempDir,
    config: Config,
    app: axum::Router,
}

impl Portal {
    fn new() -> Portal {
        Portal::with_agents(&[AGENT])
    }

    fn with_agents(agents: &[&str]) -> Portal {
        let agents = agents
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            r#"
[store]
path = "ticketd.db"
max_attachment_bytes = 100000
[support]
address = "support@example.test"
name = "Example Support"
agents = [{agents}]
oncall = "oncall@example.test"
portal_url = "{ORIGIN}"
[portal]
listen = "127.0.0.1:0"
categories = ["Billing", "Export"]
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

    fn count(&self, sql: &str) -> i64 {
        self.store()
            .conn()
            .query_row(sql, [], |r| r.get(0))
            .expect("count")
    }

    fn mail(&self, headers: &str, body: &str) -> Option<i64> {
        let mut store = self.store();
        let ing = Ingestor::new(&self.config, &mut store).expect("ingestor");
        let raw = format!("{headers}\nDate: Mon, 30 Nov 2026 08:00:00 +0000\n\n{body}\n");
        ing.ingest(&mut store, raw.as_bytes(), now(), Mode::Commit)
            .expect("ingest")
            .ticket
    }

    fn ticket(&self, from: &str, subject: &str, body: &str) -> i64 {
        self.mail(
            &format!(
                "From: {from}\nTo: support@example.test\nSubject: {subject}\nMessage-ID: <{}@t>",
                subject.replace(' ', "-")
            ),
            body,
        )
        .expect("a ticket")
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        harness::send(&self.app, req).await
    }

    async fn get(&self, path: &str, cookie: &str) -> Reply {
        let req = Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    async fn post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        self.post_from(path, cookie, form, "same-origin").await
    }

    async fn post_from(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
        fetch_site: &str,
    ) -> Reply {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", fetch_site)
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    async fn post_multipart(&self, path: &str, cookie: &str, parts: &[(&str, &str)]) -> Reply {
        self.post_files(path, cookie, parts, &[]).await
    }

    /// A multipart form with text `parts` and `files` as (filename, content)
    /// in the `attachments` field.
    async fn post_files(
        &self,
        path: &str,
        cookie: &str,
        parts: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Reply {
        let boundary = "XyZzY";
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        for (filename, content) in files {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let req = Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("sec-fetch-site", "same-origin")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    async fn sign_up(&self, email: &str) -> String {
        let token = {
            let store = self.store();
            ticketd::store::tokens::mint(store.conn(), None, email, now(), 72).expect("token")
        };
        let r = self
            .post_from(
                "/password/setup",
                "",
                &[
                    ("token", &token),
                    ("password", "a good long password"),
                    ("password_confirm", "a good long password"),
                ],
                "same-origin",
            )
            .await;
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

    /// The agent's session and its form token.
    async fn agent(&self) -> (String, String) {
        let cookie = self.sign_up(AGENT).await;
        let csrf = csrf_of(&self.get("/desk", &cookie).await.body);
        (cookie, csrf)
    }
}

#[tokio::test]
async fn customers_and_org_admins_get_no_desk_and_strangers_sign_in_first() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    p.ticket("zoe@acme.test", "Zoe's", "Hello.");
    let ann = p.sign_up("ann@acme.test").await;
    let zoe = p.sign_up("zoe@acme.test").await;
    p.sql("UPDATE users SET role = 'admin' WHERE email = 'zoe@acme.test'");
    let missing = p.get("/no/such/page", &ann).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let ann_csrf = csrf_of(&p.get("/tickets", &ann).await.body);
    for who in [&ann, &zoe] {
        for path in [
            "/desk".to_owned(),
            "/desk?q=Printer".to_owned(),
            format!("/desk/tickets/{t}"),
            format!("/desk/tickets/{t}/attachments/1"),
            "/desk/log".to_owned(),
            "/desk/outbox".to_owned(),
            "/desk/quarantine".to_owned(),
            "/desk/users".to_owned(),
        ] {
            let r = p.get(&path, who).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!r.body.contains("Printer"), "{path}: {}", r.body);
        }
    }
    // Their forms are the same 404, and change nothing.
    let zoe_csrf = csrf_of(&p.get("/tickets", &zoe).await.body);
    for (who, csrf) in [(&ann, &ann_csrf), (&zoe, &zoe_csrf)] {
        for path in [
            format!("/desk/tickets/{t}/update"),
            format!("/desk/tickets/{t}/watch"),
            format!("/desk/tickets/{t}/unwatch"),
            "/desk/log/1/delete".to_owned(),
            "/desk/log/clear".to_owned(),
            "/desk/outbox/1/retry".to_owned(),
            "/desk/quarantine/1/discard".to_owned(),
            "/desk/quarantine/1/replay".to_owned(),
            "/desk/users/role".to_owned(),
            "/desk/users/reset-password".to_owned(),
            "/desk/users/clear-bounce".to_owned(),
        ] {
            let form = [
                ("csrf", csrf.as_str()),
                ("email", "zoe@acme.test"),
                ("role", "admin"),
                ("priority", "urgent"),
                ("before", "2999-01-01"),
            ];
            let r = p.post(&path, who, &form).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        }
    }
    assert!(
        p.count("SELECT count(*) FROM events") > 0,
        "nothing cleared"
    );
    let r = p
        .post(
            &format!("/desk/tickets/{t}/update"),
            &ann,
            &[("csrf", &ann_csrf), ("priority", "urgent")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = p
        .post_multipart(
            &format!("/desk/tickets/{t}/reply"),
            &ann,
            &[("csrf", &ann_csrf), ("text", "sneaky"), ("internal", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        p.count("SELECT count(*) FROM tickets WHERE priority = 'urgent'"),
        0
    );
    assert_eq!(
        p.count("SELECT count(*) FROM messages WHERE text LIKE '%sneaky%'"),
        0
    );
    // Not signed in: to the sign-in page.
    let anon = p.get("/desk", "").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.headers[header::LOCATION], "/login");
}

#[tokio::test]
async fn agents_see_internal_notes_and_customers_never_do() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let ann = p.sign_up("ann@acme.test").await;
    let (agent, csrf) = p.agent().await;
    let before = p.count("SELECT count(*) FROM outbox");
    let r = p
        .post_multipart(
            &format!("/desk/tickets/{t}/reply"),
            &agent,
            &[
                ("csrf", &csrf),
                ("text", "Customer <b>seems</b> confused; zebracode"),
                ("internal", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let queued: Vec<(String, String)> = {
        let store = p.store();
        let mut stmt = store
            .conn()
            .prepare("SELECT kind, recipients FROM outbox WHERE id > ?1")
            .expect("q");
        stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert!(
        !queued.iter().any(|(_, to)| to.contains("ann@acme.test")),
        "a note is for no customer: {queued:?}"
    );
    let desk = p.get(&format!("/desk/tickets/{t}"), &agent).await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(desk.body.contains("zebracode"), "{}", desk.body);
    assert!(desk.body.contains("Internal note"), "{}", desk.body);
    assert!(
        desk.body.contains("&lt;b&gt;seems") && !desk.body.contains("<b>seems"),
        "escaped: {}",
        desk.body
    );
    assert!(desk.body.contains("It is broken."));
    let page = p.get(&format!("/tickets/{t}"), &ann).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("zebracode"), "{}", page.body);
    let list = p.get("/tickets?status=all&q=zebracode", &ann).await;
    assert!(!list.body.contains("Printer"), "{}", list.body);
    // The agent finds it by the note's word.
    let found = p.get("/desk?q=zebracode", &agent).await;
    assert!(
        found.body.contains(&format!("/desk/tickets/{t}")),
        "{}",
        found.body
    );
}

#[tokio::test]
async fn a_public_answer_reaches_the_requester_as_the_agents_words() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let r = p
        .post_multipart(
            &format!("/desk/tickets/{t}/reply"),
            &agent,
            &[("csrf", &csrf), ("text", "Please restart the spooler.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], format!("/desk/tickets/{t}"));
    let store = p.store();
    let (to, body): (String, String) = store
        .conn()
        .query_row(
            "SELECT recipients, body_text FROM outbox WHERE kind = 'ticket_updated' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a ticket_updated mail");
    assert!(to.contains("ann@acme.test"), "{to}");
    assert!(body.contains("Please restart the spooler."), "{body}");
    let status: String = store
        .conn()
        .query_row("SELECT status FROM tickets WHERE id = ?1", [t], |r| {
            r.get(0)
        })
        .expect("status");
    assert_eq!(status, "pending");
    let (internal, source): (bool, String) = store
        .conn()
        .query_row(
            "SELECT internal, source FROM messages WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
            [t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("message");
    assert_eq!((internal, source.as_str()), (false, "web"));
}

#[tokio::test]
async fn an_update_sets_urgent_pages_oncall_and_is_logged() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let r = p
        .post(
            &format!("/desk/tickets/{t}/update"),
            &agent,
            &[
                ("csrf", &csrf),
                ("status", "open"),
                ("priority", "urgent"),
                ("category", "Billing"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (priority, category): (String, Option<String>) = p
        .store()
        .conn()
        .query_row(
            "SELECT priority, category FROM tickets WHERE id = ?1",
            [t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("ticket");
    assert_eq!(
        (priority.as_str(), category.as_deref()),
        ("urgent", Some("Billing"))
    );
    assert_eq!(
        p.count("SELECT count(*) FROM outbox WHERE kind = 'urgent_page' AND recipients LIKE '%oncall@example.test%'"),
        1
    );
    let page = p.get(&format!("/desk/tickets/{t}"), &agent).await;
    assert!(page.body.contains("priority_changed"), "{}", page.body);
    assert!(page.body.contains("by agent@example.test (portal)"));
    // Watchers: add and remove, through the same update.
    let r = p
        .post(
            &format!("/desk/tickets/{t}/watch"),
            &agent,
            &[("csrf", &csrf), ("email", "bob@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(p.count("SELECT count(*) FROM watchers"), 1);
    let r = p
        .post(
            &format!("/desk/tickets/{t}/watch"),
            &agent,
            &[("csrf", &csrf), ("email", "support@example.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "the desk's own address");
    let r = p
        .post(
            &format!("/desk/tickets/{t}/unwatch"),
            &agent,
            &[("csrf", &csrf), ("email", "bob@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(p.count("SELECT count(*) FROM watchers"), 0);
    // A missing ticket is a 404.
    let r = p
        .post(
            "/desk/tickets/999/update",
            &agent,
            &[("csrf", &csrf), ("priority", "low")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cross_site_posts_and_stale_tokens_to_the_desk_are_refused() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let path = format!("/desk/tickets/{t}/update");
    let form = [("csrf", csrf.as_str()), ("priority", "urgent")];
    let cross = p.post_from(&path, &agent, &form, "cross-site").await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let stale = p
        .post(&path, &agent, &[("csrf", "0000"), ("priority", "urgent")])
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(
        p.get(&path, &agent).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        p.count("SELECT count(*) FROM tickets WHERE priority = 'urgent'"),
        0
    );
}

#[tokio::test]
async fn the_queue_filters_combine_and_search_finds_subjects_and_texts() {
    let p = Portal::new();
    let a = p.ticket(
        "ann@acme.test",
        "Printer jam",
        "Tray two. Error code E-1042",
    );
    let b = p.ticket("bob@other.test", "Invoice wrong", "Billed twice.");
    let c = p.ticket("carl@acme.test", "VPN down", "Since Monday.");
    p.sql(&format!(
        "UPDATE tickets SET priority = 'high', category = 'Billing' WHERE id = {b}"
    ));
    p.sql(&format!(
        "UPDATE tickets SET status = 'solved' WHERE id = {c}"
    ));
    let (agent, _) = p.agent().await;
    let has = |body: &str, id: i64| body.contains(&format!("href=\"/desk/tickets/{id}\""));
    let all = p.get("/desk", &agent).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(has(&all.body, a) && has(&all.body, b) && has(&all.body, c));
    assert!(all.body.contains("3 tickets"), "{}", all.body);
    for (query, want) in [
        ("status=solved", vec![c]),
        ("status=open", vec![a, b]),
        ("priority=high", vec![b]),
        ("category=Billing", vec![b]),
        ("org=acme.test", vec![a, c]),
        ("org=acme.test&status=open", vec![a]),
        ("q=E-1042", vec![a]),
        ("q=invoice", vec![b]),
        (&format!("q=%23{c}"), vec![c]),
        ("q=nothing-like-this", vec![]),
    ] {
        let r = p.get(&format!("/desk?{query}"), &agent).await;
        assert_eq!(r.status, StatusCode::OK, "{query}");
        for id in [a, b, c] {
            assert_eq!(has(&r.body, id), want.contains(&id), "{query}: #{id}");
        }
    }
    // Newest activity first.
    p.sql(&format!(
        "UPDATE tickets SET updated_at = updated_at + 1000 WHERE id = {a}"
    ));
    let r = p.get("/desk", &agent).await;
    let first = r.body.find(&format!("/desk/tickets/{a}\"")).expect("a");
    let other = r.body.find(&format!("/desk/tickets/{b}\"")).expect("b");
    assert!(first < other, "most recently updated first");
    // The status counts are at the top.
    assert!(
        r.body.contains("Solved <span class=\"count\">1</span>"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn note_attachments_download_from_the_desk_only_through_their_ticket() {
    let p = Portal::new();
    let mime = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n";
    let body = "--b\nContent-Type: text/plain\n\nsee file\n--b\nContent-Type: text/html\nContent-Disposition: attachment; filename=\"x.html\"\n\n<script>alert(1)</script>\n--b--";
    let t = p
        .mail(&format!("From: ann@acme.test\nTo: support@example.test\nSubject: file\nMessage-ID: <f@t>\n{mime}"), body)
        .expect("ticket");
    let other = p.ticket("bob@other.test", "Other", "Hi.");
    let (agent, _) = p.agent().await;
    let page = p.get(&format!("/desk/tickets/{t}"), &agent).await;
    let href = page
        .body
        .split("href=\"")
        .find(|s| s.contains("/attachments/"))
        .and_then(|s| s.split('"').next())
        .expect("an attachment link")
        .to_owned();
    assert!(href.starts_with(&format!("/desk/tickets/{t}/attachments/")));
    let dl = p.get(&href, &agent).await;
    assert_eq!(dl.status, StatusCode::OK);
    assert_eq!(dl.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert!(dl.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .starts_with("attachment;"));
    let aid = href.rsplit('/').next().expect("id");
    let wrong = p
        .get(&format!("/desk/tickets/{other}/attachments/{aid}"), &agent)
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_data_log_lists_deletes_and_clears_for_agents_only() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let ann = p.sign_up("ann@acme.test").await;
    let (agent, csrf) = p.agent().await;
    let ann_csrf = csrf_of(&p.get("/tickets", &ann).await.body);
    assert_eq!(p.get("/desk/log", &ann).await.status, StatusCode::NOT_FOUND);
    let event: i64 = p.count(&format!("SELECT min(id) FROM events WHERE ticket_id = {t}"));
    let r = p
        .post(
            &format!("/desk/log/{event}/delete"),
            &ann,
            &[("csrf", &ann_csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = p.get(&format!("/desk/log?ticket={t}"), &agent).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ticket_created"), "{}", page.body);
    let r = p
        .post(
            &format!("/desk/log/{event}/delete"),
            &agent,
            &[("csrf", &csrf), ("ticket", &t.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], format!("/desk/log?ticket={t}"));
    assert_eq!(
        p.count(&format!("SELECT count(*) FROM events WHERE id = {event}")),
        0
    );
    // Clearing: closed tickets' events before the date go, open ones stay.
    p.sql(&format!(
        "UPDATE tickets SET status = 'closed' WHERE id = {t}"
    ));
    let kept = p.ticket("bob@other.test", "Still open", "Hi.");
    let r = p
        .post(
            "/desk/log/clear",
            &agent,
            &[("csrf", &csrf), ("before", "2999-01-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.count(&format!(
            "SELECT count(*) FROM events WHERE ticket_id = {t}"
        )),
        0
    );
    assert!(
        p.count(&format!(
            "SELECT count(*) FROM events WHERE ticket_id = {kept}"
        )) > 0
    );
    let bad = p
        .post(
            "/desk/log/clear",
            &agent,
            &[("csrf", &csrf), ("before", "soon")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_outbox_shows_notifications_and_retries_a_failed_one() {
    let p = Portal::new();
    p.ticket("ann@acme.test", "Printer", "It is broken.");
    let ann = p.sign_up("ann@acme.test").await;
    let (agent, csrf) = p.agent().await;
    assert_eq!(
        p.get("/desk/outbox", &ann).await.status,
        StatusCode::NOT_FOUND
    );
    let id = p.count("SELECT min(id) FROM outbox WHERE kind = 'ticket_received'");
    p.sql(&format!(
        "UPDATE outbox SET status = 'failed', attempts = 5, last_error = '550 <no such user>' WHERE id = {id}"
    ));
    let page = p.get("/desk/outbox", &agent).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ticket_received"), "{}", page.body);
    assert!(
        page.body.contains("550 &lt;no such user&gt;"),
        "{}",
        page.body
    );
    let r = p
        .post(
            &format!("/desk/outbox/{id}/retry"),
            &agent,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.count(&format!(
            "SELECT count(*) FROM outbox WHERE id = {id} AND status = 'pending'"
        )),
        1
    );
}

#[tokio::test]
async fn quarantined_mail_is_shown_as_text_then_replayed_or_discarded() {
    let p = Portal::new();
    p.ticket("ann@acme.test", "Printer", "It is broken.");
    let ann = p.sign_up("ann@acme.test").await;
    let (agent, csrf) = p.agent().await;
    for (n, subject) in [(1, "Held <script>x</script>"), (2, "Spam")] {
        let raw = format!(
            "From: eve@other.test\nTo: support@example.test\nSubject: {subject}\nMessage-ID: <q{n}@t>\nDate: Mon, 30 Nov 2026 08:00:00 +0000\n\nHello from quarantine {n}.\n"
        );
        let mut store = p.store();
        let tx = store.write().expect("tx");
        tx.execute(
            "INSERT INTO raw_mail (sha256, bytes) VALUES (?1, ?2)",
            rusqlite::params![format!("{n:064}"), raw.as_bytes()],
        )
        .expect("raw");
        let raw_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO quarantine (at, reason, message_id, sender, subject, raw_id) VALUES (1796029200, 'too many new tickets', ?1, 'eve@other.test', ?2, ?3)",
            rusqlite::params![format!("q{n}@t"), subject, raw_id],
        )
        .expect("quarantine");
        tx.commit().expect("commit");
    }
    assert_eq!(
        p.get("/desk/quarantine", &ann).await.status,
        StatusCode::NOT_FOUND
    );
    let list = p.get("/desk/quarantine", &agent).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("too many new tickets"), "{}", list.body);
    let one = p.get("/desk/quarantine/1", &agent).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(
        one.body.contains("Hello from quarantine 1."),
        "{}",
        one.body
    );
    assert!(!one.body.contains("<script>x"), "escaped: {}", one.body);
    let r = p
        .post("/desk/quarantine/2/discard", &agent, &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = p
        .post("/desk/quarantine/1/replay", &agent, &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(p.count("SELECT count(*) FROM quarantine"), 0);
    assert_eq!(
        p.count("SELECT count(*) FROM messages WHERE text LIKE '%quarantine 1.%'"),
        1
    );
    assert_eq!(
        p.count("SELECT count(*) FROM messages WHERE text LIKE '%quarantine 2.%'"),
        0
    );
}

#[tokio::test]
async fn agents_search_accounts_and_set_roles_but_never_agents() {
    let p = Portal::new();
    p.ticket("ann@acme.test", "Printer", "It is broken.");
    p.ticket("carl@acme.test", "VPN", "Down.");
    let ann = p.sign_up("ann@acme.test").await;
    let carl = p.sign_up("carl@acme.test").await;
    let (agent, csrf) = p.agent().await;
    assert_eq!(
        p.get("/desk/users", &ann).await.status,
        StatusCode::NOT_FOUND
    );
    let found = p.get("/desk/users?q=carl", &agent).await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.body.contains("carl@acme.test") && !found.body.contains("ann@acme.test"));
    let r = p
        .post(
            "/desk/users/role",
            &agent,
            &[
                ("csrf", &csrf),
                ("email", "ann@acme.test"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.count("SELECT count(*) FROM users WHERE email = 'ann@acme.test' AND role = 'admin'"),
        1
    );
    let r = p
        .post(
            "/desk/users/role",
            &agent,
            &[
                ("csrf", &csrf),
                ("email", "carl@acme.test"),
                ("role", "no_access"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.get("/tickets", &carl).await.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );
    for (email, role) in [
        (AGENT, "member"),
        ("ann@acme.test", "agent"),
        ("nobody@x.test", "member"),
    ] {
        let r = p
            .post(
                "/desk/users/role",
                &agent,
                &[("csrf", &csrf), ("email", email), ("role", role)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{email} {role}");
    }
}

#[tokio::test]
async fn the_desk_assigns_to_me_a_colleague_or_nobody_and_the_customer_sees_it() {
    let p = Portal::with_agents(&[AGENT, "bea@example.test"]);
    let t = p.ticket("Ann <ann@acme.test>", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let assignee = || -> Option<String> {
        p.store()
            .conn()
            .query_row(
                "SELECT a.email FROM tickets t LEFT JOIN users a ON a.id = t.assignee_id WHERE t.id = ?1",
                [t],
                |r| r.get(0),
            )
            .expect("ticket")
    };
    let update = |who: &'static str| {
        let (agent, csrf) = (agent.clone(), csrf.clone());
        let p = &p;
        async move {
            p.post(
                &format!("/desk/tickets/{t}/update"),
                &agent,
                &[("csrf", &csrf), ("assignee", who)],
            )
            .await
        }
    };
    let page = p.get(&format!("/desk/tickets/{t}"), &agent).await;
    assert!(
        page.body.contains("id=\"assign-me\""),
        "an Assign to me button"
    );

    let r = update("me").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(assignee().as_deref(), Some(AGENT));
    let page = p.get(&format!("/desk/tickets/{t}"), &agent).await;
    assert!(!page.body.contains("id=\"assign-me\""), "already mine");
    assert!(
        page.body.contains("by agent@example.test (portal)"),
        "the event"
    );

    // The customer's page names the assignee.
    let ann = p.sign_up("ann@acme.test").await;
    let mine = p.get(&format!("/tickets/{t}"), &ann).await;
    assert_eq!(mine.status, StatusCode::OK);
    let details = mine.body.split("Assigned to").nth(1).unwrap_or("");
    assert!(
        details
            .chars()
            .take(80)
            .collect::<String>()
            .contains("agent@example.test"),
        "{}",
        mine.body
    );

    let r = update("bea@example.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(assignee().as_deref(), Some("bea@example.test"));
    assert_eq!(
        p.count("SELECT count(*) FROM outbox WHERE kind = 'ticket_assigned' AND recipients LIKE '%bea@example.test%'"),
        1
    );

    let r = update("ann@acme.test").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("not an agent"), "{}", r.body);
    assert_eq!(assignee().as_deref(), Some("bea@example.test"));

    let r = update("none").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(assignee(), None);
    assert_eq!(
        p.count(&format!(
            "SELECT count(*) FROM events WHERE ticket_id = {t} AND kind = 'assigned'"
        )),
        3
    );

    // A customer cannot assign, whatever they post.
    let ann_csrf = csrf_of(&p.get(&format!("/tickets/{t}"), &ann).await.body);
    let r = p
        .post(
            &format!("/desk/tickets/{t}/update"),
            &ann,
            &[("csrf", &ann_csrf), ("assignee", "me")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(assignee(), None);
}

#[tokio::test]
async fn a_desk_answer_carries_its_files_to_the_customer() {
    let p = Portal::new();
    let t = p.ticket("ann@acme.test", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let r = p
        .post_files(
            &format!("/desk/tickets/{t}/reply"),
            &agent,
            &[("csrf", &csrf), ("text", "The driver is attached.")],
            &[("driver-notes.txt", "install with --force")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.count("SELECT count(*) FROM attachments WHERE filename = 'driver-notes.txt' AND refused IS NULL"),
        1
    );
    let ann = p.sign_up("ann@acme.test").await;
    let page = p.get(&format!("/tickets/{t}"), &ann).await;
    assert!(page.body.contains("driver-notes.txt"), "{}", page.body);

    // Over store.max_attachment_bytes (100000 here): refused with a message.
    let big = "x".repeat(100_001);
    let r = p
        .post_files(
            &format!("/desk/tickets/{t}/reply"),
            &agent,
            &[("csrf", &csrf), ("text", "Too big.")],
            &[("big.txt", &big)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(
        p.count("SELECT count(*) FROM attachments WHERE filename = 'big.txt'"),
        0
    );
}

#[tokio::test]
async fn agents_send_a_password_link_and_clear_a_bounce_from_the_users_page() {
    let p = Portal::new();
    p.ticket("ann@acme.test", "Printer", "It is broken.");
    let (agent, csrf) = p.agent().await;
    let links = || {
        p.count("SELECT count(*) FROM outbox WHERE kind = 'password_setup' AND recipients LIKE '%ann@acme.test%'")
    };
    let before = links();
    let page = p.get("/desk/users", &agent).await;
    assert!(
        page.body.contains("/desk/users/reset-password"),
        "{}",
        page.body
    );
    let r = p
        .post(
            "/desk/users/reset-password",
            &agent,
            &[("csrf", &csrf), ("email", "ann@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(links(), before + 1);
    assert_eq!(
        p.count("SELECT count(*) FROM events WHERE kind = 'password_reset_requested' AND detail = 'ann@acme.test by agent@example.test (portal)'"),
        1
    );
    // An unknown address gets no account (a typo must not create one).
    let r = p
        .post(
            "/desk/users/reset-password",
            &agent,
            &[("csrf", &csrf), ("email", "nobody@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        p.count("SELECT count(*) FROM users WHERE email = 'nobody@acme.test'"),
        0
    );

    p.sql("UPDATE users SET bouncing_since = 1, bounce_detail = '5.1.1' WHERE email = 'ann@acme.test'");
    let page = p.get("/desk/users", &agent).await;
    assert!(
        page.body.contains("/desk/users/clear-bounce"),
        "{}",
        page.body
    );
    let r = p
        .post(
            "/desk/users/clear-bounce",
            &agent,
            &[("csrf", &csrf), ("email", "ann@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.count(
            "SELECT count(*) FROM users WHERE email = 'ann@acme.test' AND bouncing_since IS NULL"
        ),
        1
    );
    assert_eq!(
        p.count("SELECT count(*) FROM events WHERE kind = 'bouncing_cleared' AND detail LIKE '%by agent@example.test (portal)'"),
        1
    );
}
