//! The portal in process (`tower::ServiceExt::oneshot` on the real router,
//! a real database): every access and security rule of DESIGN §8.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::harness::{self, csrf_of, enc, Reply};
use ticketd::config::Config;
use ticketd::ingest::{now, Ingestor, Mode};
use ticketd::store::Store;

const ORIGIN: &str = "http://127.0.0.1:8080";

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
max_attachment_bytes = 100000
[support]
address = "support@example.test"
name = "Example Support"
agents = ["agent@example.test"]
portal_url = "{ORIGIN}"
[portal]
listen = "127.0.0.1:0"
categories = ["Billing", "Export"]
[[portal.fields]]
name = "error_code"
label = "Error code ID"
required = false
pattern = "^[A-Z]-?[0-9]{{3,5}}$"
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

    /// Runs `sql` in one transaction.
    fn sql(&self, sql: &str) {
        harness::sql(&self.config, sql);
    }

    /// Ingests a mail as the MTA would.
    fn mail(&self, headers: &str, body: &str) -> Option<i64> {
        let mut store = self.store();
        let ing = Ingestor::new(&self.config, &mut store).expect("ingestor");
        let raw = format!("{headers}\nDate: Mon, 30 Nov 2026 08:00:00 +0000\n\n{body}\n");
        ing.ingest(&mut store, raw.as_bytes(), now(), Mode::Commit)
            .expect("ingest")
            .ticket
    }

    /// A fresh password link for `email`, as the courier mints it.
    fn link_token(&self, email: &str) -> String {
        let store = self.store();
        ticketd::store::tokens::mint(store.conn(), None, email, now(), 72).expect("token")
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        harness::send(&self.app, req).await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).expect("request")).await
    }

    /// A same-origin form POST, as the portal's own pages send it.
    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Reply {
        self.post_from(path, cookie, form, Some("same-origin"))
            .await
    }

    async fn post_from(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        fetch_site: Option<&str>,
    ) -> Reply {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut b =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(s) = fetch_site {
            b = b.header("sec-fetch-site", s);
        }
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::from(body)).expect("request")).await
    }

    async fn post_multipart(
        &self,
        path: &str,
        cookie: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Reply {
        let boundary = "XyZzY";
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
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

    /// Sets `email`'s password from a fresh link; returns the session cookie.
    async fn sign_up(&self, email: &str) -> String {
        let token = self.link_token(email);
        let r = self
            .post(
                "/password/setup",
                None,
                &[
                    ("token", &token),
                    ("password", "a good long password"),
                    ("password_confirm", "a good long password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        cookie_of(&r)
    }
}

fn cookie_of(r: &Reply) -> String {
    let set = r
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    set.split(';').next().unwrap_or("").to_owned()
}

fn new_ticket(p: &Portal, from: &str, subject: &str, extra: &str) -> i64 {
    p.mail(
        &format!(
            "From: {from}\nTo: support@example.test\n{extra}Subject: {subject}\nMessage-ID: <{}@t>",
            subject.replace(' ', "-")
        ),
        "It is broken.",
    )
    .expect("a ticket")
}

#[tokio::test]
async fn a_password_link_signs_in_once_and_then_never_again() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "Printer", "");
    let token = p.link_token("ann@acme.test");
    // Opening the link changes nothing and says nothing of the address.
    let page = p.get(&format!("/password/setup?token={token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
    let form = [
        ("token", token.as_str()),
        ("password", "a good long password"),
        ("password_confirm", "a good long password"),
    ];
    let r = p.post("/password/setup", None, &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let set = r.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(
        set.starts_with("ticketd="),
        "plain http on loopback: no __Host- prefix: {set}"
    );
    let cookie = cookie_of(&r);
    let list = p.get("/tickets", Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Printer"), "{}", list.body);
    // Used: the same link again offers a fresh one.
    let again = p.post("/password/setup", None, &form).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("Send me a new link"));
    let reopened = p.get(&format!("/password/setup?token={token}"), None).await;
    assert_eq!(
        reopened.status,
        StatusCode::GONE,
        "a used link says so when opened"
    );
    // Only the hash of the session is stored.
    let token = cookie.split('=').nth(1).expect("value");
    let store = p.store();
    let n: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM sessions WHERE token_hash = ?1",
            [token],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn sign_in_fails_alike_for_unknown_addresses_and_wrong_passwords_and_is_limited() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "Printer", "");
    p.sign_up("ann@acme.test").await;
    let wrong = p
        .post(
            "/login",
            None,
            &[("email", "ann@acme.test"), ("password", "not it at all")],
        )
        .await;
    let unknown = p
        .post(
            "/login",
            None,
            &[("email", "zed@acme.test"), ("password", "not it at all")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body.replace("ann@acme.test", "X"),
        unknown.body.replace("zed@acme.test", "X"),
        "no answer tells whether an address has an account"
    );
    let ok = p
        .post(
            "/login",
            None,
            &[
                ("email", "Ann@Acme.test"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    for _ in 0..5 {
        p.post(
            "/login",
            None,
            &[
                ("email", "ann@acme.test"),
                ("password", "guess guess guess"),
            ],
        )
        .await;
    }
    let locked = p
        .post(
            "/login",
            None,
            &[
                ("email", "ann@acme.test"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password, while locked"
    );
}

#[tokio::test]
async fn a_foreign_ticket_and_a_missing_one_are_the_same_404() {
    let p = Portal::new();
    let anns = new_ticket(&p, "ann@acme.test", "Printer", "");
    let bobs = new_ticket(&p, "bob@other.test", "Secret plans", "");
    let cookie = p.sign_up("ann@acme.test").await;
    assert_eq!(
        p.get(&format!("/tickets/{anns}"), Some(&cookie))
            .await
            .status,
        StatusCode::OK
    );
    let foreign = p.get(&format!("/tickets/{bobs}"), Some(&cookie)).await;
    let missing = p.get("/tickets/999", Some(&cookie)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.body, missing.body);
    assert!(!foreign.body.contains("Secret plans"));
    let list = p.get("/tickets?status=all", Some(&cookie)).await;
    assert!(!list.body.contains("Secret plans"), "{}", list.body);
    // Acting on it is the same 404, and writes nothing.
    let csrf = csrf_of(&p.get("/tickets", Some(&cookie)).await.body);
    let r = p
        .post(
            &format!("/tickets/{bobs}/cc"),
            Some(&cookie),
            &[("csrf", &csrf), ("email", "ann@acme.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Not signed in: to the sign-in page.
    let anon = p.get(&format!("/tickets/{anns}"), None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.headers[header::LOCATION], "/login");
}

#[tokio::test]
async fn attachments_need_the_ticket_and_download_rather_than_render() {
    let p = Portal::new();
    let mime = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n";
    let body = "--b\nContent-Type: text/plain\n\nsee file\n--b\nContent-Type: image/svg+xml\nContent-Disposition: attachment; filename=\"x.svg\"\n\n<svg onload=\"alert(1)\"/>\n--b--";
    let bobs = p
        .mail(&format!("From: bob@other.test\nTo: support@example.test\nSubject: svg\nMessage-ID: <svg@t>\n{mime}"), body)
        .expect("ticket");
    let anns = new_ticket(&p, "ann@acme.test", "Printer", "");
    let bob = p.sign_up("bob@other.test").await;
    let ann = p.sign_up("ann@acme.test").await;
    let page = p.get(&format!("/tickets/{bobs}"), Some(&bob)).await;
    let href = page
        .body
        .split("href=\"")
        .find(|s| s.contains("/attachments/"))
        .and_then(|s| s.split('"').next())
        .expect("an attachment link")
        .to_owned();
    let dl = p.get(&href, Some(&bob)).await;
    assert_eq!(dl.status, StatusCode::OK);
    assert!(dl.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .starts_with("attachment;"));
    assert_eq!(
        dl.headers[header::CONTENT_TYPE],
        "application/octet-stream",
        "SVG is never rendered"
    );
    assert_eq!(dl.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Ann may not fetch Bob's file, not even through her own ticket's URL.
    assert_eq!(p.get(&href, Some(&ann)).await.status, StatusCode::NOT_FOUND);
    let aid = href.rsplit('/').next().expect("id");
    let via_own = p
        .get(&format!("/tickets/{anns}/attachments/{aid}"), Some(&ann))
        .await;
    assert_eq!(via_own.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cross_site_posts_and_stale_form_tokens_are_refused_and_get_changes_nothing() {
    let p = Portal::new();
    let t = new_ticket(&p, "ann@acme.test", "Printer", "");
    let cookie = p.sign_up("ann@acme.test").await;
    let csrf = csrf_of(&p.get("/tickets", Some(&cookie)).await.body);
    let solve = format!("/tickets/{t}/solve");
    let cross = p
        .post_from(
            &solve,
            Some(&cookie),
            &[("csrf", &csrf)],
            Some("cross-site"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let no_origin = p
        .post_from(&solve, Some(&cookie), &[("csrf", &csrf)], None)
        .await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    let stale = p.post(&solve, Some(&cookie), &[("csrf", "0000")]).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(
        p.get(&solve, Some(&cookie)).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let page = p.get(&format!("/tickets/{t}"), Some(&cookie)).await;
    assert!(
        page.body.contains("status-open"),
        "still open after all that"
    );
    let ok = p.post(&solve, Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let page = p.get(&format!("/tickets/{t}"), Some(&cookie)).await;
    assert!(page.body.contains("status-solved"), "{}", page.body);
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_escapes_mail() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "<script>alert(1)</script>", "");
    let cookie = p.sign_up("ann@acme.test").await;
    for path in [
        "/login",
        "/tickets",
        "/tickets/1",
        "/tickets/new",
        "/account",
        "/password/reset",
    ] {
        let r = p.get(path, Some(&cookie)).await;
        let csp = r.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            r.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
        assert!(!r.body.contains("<script>"), "{path}: {}", r.body);
    }
    let list = p.get("/tickets", Some(&cookie)).await;
    assert!(list.body.contains("&lt;script&gt;"), "{}", list.body);
}

#[tokio::test]
async fn org_admins_see_their_organization_and_members_of_another_do_not() {
    let p = Portal::new();
    let carls = new_ticket(&p, "carl@acme.test", "Carl's VPN", "");
    new_ticket(&p, "zoe@acme.test", "Zoe's first", "");
    new_ticket(&p, "eve@other.test", "Eve's", "");
    let zoe = p.sign_up("zoe@acme.test").await;
    let eve = p.sign_up("eve@other.test").await;
    assert_eq!(
        p.get(&format!("/tickets/{carls}"), Some(&zoe)).await.status,
        StatusCode::NOT_FOUND,
        "a member"
    );
    assert_eq!(
        p.get("/org", Some(&zoe)).await.status,
        StatusCode::NOT_FOUND
    );
    {
        let mut store = p.store();
        let tx = store.write().expect("tx");
        tx.execute(
            "UPDATE users SET role = 'admin' WHERE email = 'zoe@acme.test'",
            [],
        )
        .expect("admin");
        tx.commit().expect("commit");
    }
    let page = p.get(&format!("/tickets/{carls}"), Some(&zoe)).await;
    assert_eq!(page.status, StatusCode::OK);
    let list = p.get("/tickets", Some(&zoe)).await;
    assert!(
        list.body.contains("Carl&#x27;s VPN") || list.body.contains("Carl's VPN"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("Eve"));
    assert_eq!(
        p.get(&format!("/tickets/{carls}"), Some(&eve)).await.status,
        StatusCode::NOT_FOUND
    );
    let org = p.get("/org", Some(&zoe)).await;
    assert!(
        org.body.contains("carl@acme.test") && !org.body.contains("eve@other.test"),
        "{}",
        org.body
    );
    // She takes Carl's access away: his session stops working at once.
    let carl = p.sign_up("carl@acme.test").await;
    assert_eq!(p.get("/tickets", Some(&carl)).await.status, StatusCode::OK);
    let csrf = csrf_of(&org.body);
    let r = p
        .post(
            "/org/role",
            Some(&zoe),
            &[
                ("csrf", &csrf),
                ("email", "carl@acme.test"),
                ("role", "no_access"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.get("/tickets", Some(&carl)).await.status,
        StatusCode::SEE_OTHER
    );
    let again = p
        .post(
            "/login",
            None,
            &[
                ("email", "carl@acme.test"),
                ("password", "a good long password"),
            ],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "no_access cannot sign in"
    );
    // Another organization's member is out of her reach.
    let r = p
        .post(
            "/org/role",
            Some(&zoe),
            &[
                ("csrf", &csrf),
                ("email", "eve@other.test"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_ne!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_web_reply_is_a_message_with_the_rules_of_mail() {
    let p = Portal::new();
    let t = new_ticket(&p, "ann@acme.test", "Printer", "Cc: bob@acme.test\n");
    let ann = p.sign_up("ann@acme.test").await;
    let page = p.get(&format!("/tickets/{t}"), Some(&ann)).await;
    let csrf = csrf_of(&page.body);
    let r = p
        .post_multipart(
            &format!("/tickets/{t}/reply"),
            &ann,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("text", None, b"It smokes now."),
                ("attachments", Some("log.txt"), b"smoke log"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let store = p.store();
    let (source, verified): (String, bool) = store
        .conn()
        .query_row(
            "SELECT source, verified FROM messages WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
            [t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("message");
    assert_eq!((source.as_str(), verified), ("web", true));
    let told: Vec<String> = store
        .conn()
        .prepare("SELECT recipients FROM outbox WHERE kind = 'ticket_updated'")
        .expect("q")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(told.iter().any(|r| r.contains("bob@acme.test")), "{told:?}");
    assert!(
        !told.iter().any(|r| r.contains("ann@acme.test")),
        "not the author: {told:?}"
    );
    let page = p.get(&format!("/tickets/{t}"), Some(&ann)).await;
    assert!(
        page.body.contains("It smokes now.") && page.body.contains("log.txt"),
        "{}",
        page.body
    );
    // Over the upload limit: 413 with a message, nothing stored.
    let big = vec![b'x'; 200_000];
    let r = p
        .post_multipart(
            &format!("/tickets/{t}/reply"),
            &ann,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("text", None, b"big"),
                ("attachments", Some("big.bin"), &big),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("big.bin"), "{}", r.body);
}

#[tokio::test]
async fn a_ticket_from_the_form_checks_its_fields_on_the_server() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "Printer", "");
    let ann = p.sign_up("ann@acme.test").await;
    let csrf = csrf_of(&p.get("/tickets/new", Some(&ann)).await.body);
    let form = |code: &'static str| -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
        vec![
            ("subject", None, b"Export fails".to_vec()),
            ("description", None, b"The CSV export times out.".to_vec()),
            ("priority", None, b"high".to_vec()),
            ("category", None, b"Export".to_vec()),
            ("field.error_code", None, code.as_bytes().to_vec()),
            ("cc", None, b"carl@acme.test".to_vec()),
        ]
    };
    let send = |code: &'static str| {
        let mut parts = form(code);
        parts.push(("csrf", None, csrf.clone().into_bytes()));
        parts
    };
    let bad = send("nope");
    let bad_parts: Vec<(&str, Option<&str>, &[u8])> =
        bad.iter().map(|(n, f, d)| (*n, *f, d.as_slice())).collect();
    let r = p.post_multipart("/tickets", &ann, &bad_parts).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Error code ID"), "{}", r.body);
    let good = send("E-4711");
    let good_parts: Vec<(&str, Option<&str>, &[u8])> = good
        .iter()
        .map(|(n, f, d)| (*n, *f, d.as_slice()))
        .collect();
    let r = p.post_multipart("/tickets", &ann, &good_parts).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers[header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    let page = p.get(&to, Some(&ann)).await;
    assert!(
        page.body.contains("E-4711") && page.body.contains("carl@acme.test"),
        "{}",
        page.body
    );
    assert!(page.body.contains("priority-high"), "{}", page.body);
}

#[tokio::test]
async fn a_reset_request_answers_the_same_whoever_asks() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "Printer", "");
    let known = p
        .post("/password/reset", None, &[("email", "ann@acme.test")])
        .await;
    let unknown = p
        .post("/password/reset", None, &[("email", "nobody@acme.test")])
        .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, unknown.body);
    let store = p.store();
    let resets: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM outbox WHERE kind = 'password_reset'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(resets, 1, "a mail for the known address only");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let p = Portal::new();
    new_ticket(&p, "ann@acme.test", "Printer", "");
    let first = p.sign_up("ann@acme.test").await;
    let second = cookie_of(
        &p.post(
            "/login",
            None,
            &[
                ("email", "ann@acme.test"),
                ("password", "a good long password"),
            ],
        )
        .await,
    );
    let csrf = csrf_of(&p.get("/account", Some(&first)).await.body);
    let r = p
        .post(
            "/account/password",
            Some(&first),
            &[
                ("csrf", &csrf),
                ("password", "a good long password"),
                ("new_password", "another long password"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        p.get("/tickets", Some(&first)).await.status,
        StatusCode::OK,
        "this one stays"
    );
    assert_eq!(
        p.get("/tickets", Some(&second)).await.status,
        StatusCode::SEE_OTHER,
        "the other ended"
    );
}

/// Issue 12: `/tickets?q=` is the full-text index over subjects and public
/// messages; a word only in an internal note finds nothing for a customer,
/// and a word in someone else's ticket finds only what they may see.
#[tokio::test]
async fn a_customer_search_finds_public_words_never_note_words_nor_others_tickets() {
    let p = Portal::new();
    let mine = new_ticket(&p, "ann@acme.test", "Printer", "");
    let theirs = new_ticket(&p, "bob@other.test", "Scanner", "");
    {
        let store = p.store();
        let add = |ticket: i64, text: &str, internal: bool| {
            store
                .conn()
                .execute(
                    "INSERT INTO messages (ticket_id, direction, date, text, full_text, internal, created_at)
                     VALUES (?1, 'out', 0, ?2, ?2, ?3, 0)",
                    rusqlite::params![ticket, text, internal],
                )
                .expect("message");
        };
        add(mine, "Customer seems confused; zebracode applies.", true);
        add(
            mine,
            "Please try the Quokkafix driver, version E-1042.",
            false,
        );
        add(theirs, "The quokkafix driver did not help.", false);
    }
    let ann = p.sign_up("ann@acme.test").await;
    let row = |id: i64| format!("<a href=\"/tickets/{id}\">#{id}</a>");
    let search = |q: String| {
        let (p, ann) = (&p, &ann);
        async move {
            let r = p
                .get(&format!("/tickets?status=all&q={}", enc(&q)), Some(ann))
                .await;
            assert_eq!(r.status, StatusCode::OK, "q={q}: {}", r.body);
            r.body.replace("&#x2f;", "/")
        }
    };
    for q in ["quokkafix", "QUOKKAFIX driver", "e-1042", "printer quokka*"] {
        let body = search(q.to_owned()).await;
        assert!(body.contains(&row(mine)), "q={q}: a public word: {body}");
        assert!(
            !body.contains(&row(theirs)),
            "q={q}: only tickets ann may see: {body}"
        );
    }
    for q in ["zebracode", "zebra*", "printer zebracode"] {
        let body = search(q.to_owned()).await;
        assert!(
            !body.contains(&row(mine)),
            "q={q}: a word only in an internal note: {body}"
        );
    }
    let by_number = search(format!("#{mine}")).await;
    assert!(by_number.contains(&row(mine)), "{by_number}");
    let other_number = search(format!("#{theirs}")).await;
    assert!(
        !other_number.contains(&row(theirs)),
        "another's ticket by its number: {other_number}"
    );
}

/// The ticket numbers a portal list shows, in order.
fn listed(body: &str) -> Vec<i64> {
    const ROW: &str = "<td><a href=\"/tickets/";
    body.match_indices(ROW)
        .filter_map(|(i, _)| {
            let rest = &body[i + ROW.len()..];
            let (id, after) = rest.split_once('"')?;
            // The row's first link, `…">#123`, not the subject's.
            after.starts_with(">#").then(|| id.parse().ok())?
        })
        .collect()
}

#[tokio::test]
async fn a_long_list_goes_back_page_by_page_with_its_tab_and_search() {
    let p = Portal::new();
    let carls = new_ticket(&p, "carl@acme.test", "Printer jam", "");
    let eves = new_ticket(&p, "eve@other.test", "Printer elsewhere", "");
    new_ticket(&p, "zoe@acme.test", "Printer of my own", "");
    let zoe = p.sign_up("zoe@acme.test").await;
    // 250 more of the organization's, 5 of another one's, 3 of which Zoe
    // watches: an admin sees 252 + 3, in order of creation, newest first.
    p.sql(&format!(
        "UPDATE users SET role = 'admin', org = 'acme.test' WHERE email = 'zoe@acme.test';
         WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 250)
         INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         SELECT 'Printer ' || k, 'open', 'normal', t.requester_id, t.org,
                t.created_at - (k * 7919) % 1000, t.updated_at
         FROM n, tickets t WHERE t.id = {carls};
         WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5)
         INSERT INTO tickets (subject, status, priority, requester_id, org, created_at, updated_at)
         SELECT 'Printer there ' || k, 'open', 'normal', t.requester_id, t.org,
                t.created_at - k * 3, t.updated_at
         FROM n, tickets t WHERE t.id = {eves};
         INSERT INTO watchers (ticket_id, user_id)
         SELECT t.id, (SELECT id FROM users WHERE email = 'zoe@acme.test')
         FROM tickets t WHERE t.subject LIKE 'Printer there %' ORDER BY t.id LIMIT 3;"
    ));
    let store = p.store();
    let want: Vec<i64> = store
        .conn()
        .prepare(
            "SELECT t.id FROM tickets t WHERE t.org = 'acme.test'
                OR t.id IN (SELECT ticket_id FROM watchers
                            WHERE user_id = (SELECT id FROM users WHERE email = 'zoe@acme.test'))
             ORDER BY t.created_at DESC, t.id DESC",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    assert_eq!(want.len(), 255);
    let rows = ticketd::web::tickets::PAGE_ROWS as usize;
    for base in ["/tickets?status=all", "/tickets?status=all&q=printer"] {
        let mut got: Vec<i64> = Vec::new();
        let mut page = 1;
        loop {
            let r = p.get(&format!("{base}&page={page}"), Some(&zoe)).await;
            assert_eq!(r.status, StatusCode::OK);
            let shown = listed(&r.body);
            got.extend(shown.iter().copied());
            // The links as a browser reads them (minijinja escapes `/` and `&`).
            let hrefs = r.body.replace("&#x2f;", "/").replace("&amp;", "&");
            let prev = match page - 1 {
                0 => None,
                1 => Some(base.to_owned()),
                n => Some(format!("{base}&page={n}")),
            };
            assert_eq!(
                prev.map(|h| hrefs.contains(&format!("href=\"{h}\" rel=\"prev\""))),
                (page > 1).then_some(true),
                "{base} page {page}: back to the page before"
            );
            if !hrefs.contains(&format!("href=\"{base}&page={}\" rel=\"next\"", page + 1)) {
                assert!(
                    !shown.is_empty() && shown.len() <= rows,
                    "{base}: the last page"
                );
                break;
            }
            assert_eq!(shown.len(), rows, "{base} page {page}: a full page");
            page += 1;
            assert!(page < 100, "{base}: the pages end");
        }
        assert_eq!(got, want, "{base}: every ticket once, in order");
        assert_eq!(page, want.len().div_ceil(rows), "{base}: pages");
        let past = p
            .get(&format!("{base}&page={}", page + 1), Some(&zoe))
            .await;
        assert_eq!(listed(&past.body), Vec::<i64>::new());
        assert!(
            past.body.contains(&format!("on page {}", page + 1)),
            "{}",
            past.body
        );
    }
    // Not a number, or too far: page 1, or the last page the list goes to.
    let odd = p.get("/tickets?status=all&page=x", Some(&zoe)).await;
    assert_eq!(listed(&odd.body), want[..rows]);
    let far = p.get("/tickets?status=all&page=900", Some(&zoe)).await;
    assert_eq!(far.status, StatusCode::OK);
    assert!(far.body.contains("Page 500"), "{}", far.body);
}
