//! OAuth2 for real (issue 17): a local authorization server
//! (`oauth_server.py`: token, device and introspection endpoints, access
//! tokens that live seconds, refresh tokens rotated at every use), a Dovecot
//! whose `passdb { driver = oauth2 }` checks every bearer token against its
//! introspection endpoint, and an SMTP server that does the same.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dovecot::Dovecot;
use super::smtp_sink::Sink;
use super::{mail, terminate, Daemon};

const USER: &str = "support@example.test";
const PEOPLE: &[&str] = &["ann@customer.test", "oncall@example.test"];

/// `oauth_server.py` on a free loopback port; killed on drop.
struct AuthServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl AuthServer {
    fn start(access_ttl_secs: u64) -> AuthServer {
        let dir = tempfile::tempdir().expect("dir");
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/daemon/oauth_server.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&port_file)
            .args(["--access-ttl", &access_ttl_secs.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/daemon/oauth_server.py with /usr/bin/python3");
        let start = Instant::now();
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break p;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the authorization server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        AuthServer {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("auth server");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("answer");
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
    }

    /// A refresh token for `user`, as a sign-in would have left.
    fn seed(&self, user: &str) -> String {
        let v = self.call("POST", "/admin/seed", &format!("user={user}"));
        v["refresh_token"].as_str().expect("token").to_owned()
    }

    fn stat(&self, name: &str) -> Value {
        self.call("GET", "/admin/stats", "")[name].clone()
    }

    fn count(&self, name: &str) -> u64 {
        self.stat(name).as_u64().expect("a counter")
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[NAME.oauth2]` against `auth`, its refresh token in `file`.
fn block(name: &str, auth: &AuthServer, file: &str) -> String {
    format!(
        "\n[{name}.oauth2]\ntoken_url = \"{}\"\ndevice_url = \"{}\"\nclient_id = \"ticketd-test\"\nrefresh_token_file = \"{file}\"\nscope = \"mail offline_access\"\n",
        auth.url("/token"),
        auth.url("/device")
    )
}

/// A daemon that logs in to IMAP with XOAUTH2 through `[imap.oauth2]`,
/// its refresh token seeded (world-readable, as a careless copy leaves it).
fn oauth_daemon(dv: &Dovecot, auth: &AuthServer, extra: &str) -> (Daemon, PathBuf) {
    let d = Daemon::new(
        dv,
        &format!(
            "auth = \"xoauth2\"\n{}{extra}",
            block("imap", auth, "imap.refresh")
        ),
    );
    let text = std::fs::read_to_string(&d.config)
        .expect("config")
        .replace("password = \"secret\"\n", "");
    std::fs::write(&d.config, text).expect("config");
    let file = d.dir.path().join("imap.refresh");
    std::fs::write(&file, format!("{}\n", auth.seed(USER))).expect("refresh token");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    (d, file)
}

fn token_in(file: &Path) -> String {
    std::fs::read_to_string(file)
        .expect("refresh token file")
        .trim()
        .to_owned()
}

fn mode(file: &Path) -> u32 {
    std::fs::metadata(file).expect("file").permissions().mode() & 0o777
}

#[test]
fn oauth_once_logs_in_with_a_refreshed_token_and_writes_the_rotated_one_back_0600() {
    let auth = AuthServer::start(30);
    let dv = Dovecot::start_oauth2(&[], &auth.url("/introspect"));
    dv.imap().append("INBOX", &mail(1, "oauth"));
    let (d, file) = oauth_daemon(&dv, &auth, "");
    let first = token_in(&file);

    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 1, "{out}{err}");
    assert_eq!(auth.count("refresh_grants"), 1);
    assert!(
        auth.count("introspections") >= 1,
        "Dovecot checked the token"
    );
    let rotated = token_in(&file);
    assert_ne!(rotated, first, "the provider's new refresh token is kept");
    assert_eq!(mode(&file), 0o600, "rewritten private");
    for secret in [&first, &rotated] {
        assert!(
            !out.contains(secret.as_str()) && !err.contains(secret.as_str()),
            "a token was printed:\n{out}{err}"
        );
    }

    // The next run starts from the rotated token (the first is dead now).
    dv.imap().append("INBOX", &mail(2, "oauth"));
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 2);
    assert_eq!(auth.count("refused_refresh"), 0);
    assert_ne!(token_in(&file), rotated);

    let (code, out, err) = {
        let o = d.cmd(&["check-config"]).output().expect("check-config");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn oauth_a_revoked_refresh_token_is_a_clear_error_and_exit_78() {
    let auth = AuthServer::start(30);
    let dv = Dovecot::start_oauth2(&[], &auth.url("/introspect"));
    dv.imap().append("INBOX", &mail(1, "revoked"));
    let (d, _file) = oauth_daemon(&dv, &auth, "");
    auth.call("POST", "/admin/revoke", "");
    let (code, out, err) = d.once();
    assert_eq!(code, 78, "{out}{err}");
    for want in [
        "invalid_grant",
        "imap.oauth2.refresh_token_file",
        "ticketd oauth login imap",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    assert_eq!(d.tickets(), 0);
    assert_eq!(
        dv.imap().count("INBOX"),
        1,
        "nothing taken from the mailbox"
    );
}

#[test]
fn oauth_the_daemon_refreshes_across_expiry_refusal_and_restarts_and_loses_nothing() {
    // Access tokens live 3 s: every reconnect below needs a new one.
    let auth = AuthServer::start(3);
    let dv = Dovecot::start_oauth2(&[], &auth.url("/introspect"));
    let (d, file) = oauth_daemon(&dv, &auth, "");
    let mut child = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    dv.imap().append("INBOX", &mail(1, "before"));
    d.wait_for(20, "ticket 1", |d| d.tickets() == 1);

    // Past the token's expiry, the server restarts: a fresh token, no refusal.
    std::thread::sleep(Duration::from_secs(4));
    dv.down();
    std::thread::sleep(Duration::from_millis(1500));
    dv.up();
    dv.imap().append("INBOX", &mail(2, "after expiry"));
    d.wait_for(60, "ticket 2 after the restart", |d| d.tickets() == 2);
    assert!(auth.count("refresh_grants") >= 2, "{}", d.log());

    // Long-lived tokens from now on; the next login fetches one.
    auth.call("POST", "/admin/ttl", "ttl=300");
    std::thread::sleep(Duration::from_secs(2));
    dv.down();
    dv.up();
    dv.imap().append("INBOX", &mail(3, "long token"));
    d.wait_for(60, "ticket 3", |d| d.tickets() == 3);

    // A token the provider dropped early (still fresh by the clock): the
    // login is refused, ticketd refreshes once and gets in.
    let grants = auth.count("refresh_grants");
    auth.call("POST", "/admin/forget", "");
    dv.down();
    dv.up();
    dv.imap().append("INBOX", &mail(4, "after refusal"));
    d.wait_for(60, "ticket 4 after the refusal", |d| d.tickets() == 4);
    assert!(
        d.log().contains("refusing") || d.log().contains("trying once more"),
        "{}",
        d.log()
    );
    assert_eq!(
        auth.count("refresh_grants"),
        grants + 1,
        "one refresh per refusal"
    );
    d.wait_for(20, "the moves", |d| {
        d.count("SELECT count(*) FROM imap_moves") == 0
    });
    assert_eq!(dv.imap().count("INBOX"), 0);
    assert_eq!(auth.count("refused_refresh"), 0);
    assert_eq!(mode(&file), 0o600);

    // Revoked: the daemon keeps running, retries slowly, and says what to do.
    auth.call("POST", "/admin/revoke", "");
    dv.down();
    dv.up();
    d.wait_for(60, "the revocation to be reported", |d| {
        d.log().contains("ticketd oauth login imap")
    });
    let log = d.log();
    assert!(log.contains("refresh_token_file"), "{log}");
    let last = token_in(&file);
    assert!(!log.contains(&last), "a token was logged:\n{log}");
    assert_eq!(terminate(&mut child), 0, "{log}");
}

/// Notifications to an SMTP server that takes only OAuth2 bearer logins,
/// its tokens checked against the same introspection endpoint.
fn smtp_block(sink: &Sink, dv: &Dovecot, auth: &AuthServer, file: &str) -> String {
    format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nca_file = \"{}\"\ntimeout_secs = 10\nusername = \"{USER}\"\nauth = \"xoauth2\"\n{}",
        sink.port,
        dv.ca().display(),
        block("smtp", auth, file)
    )
}

fn auths(sink: &Sink) -> Vec<String> {
    let index =
        std::fs::read_to_string(sink.dir.path().join("out/index.jsonl")).unwrap_or_default();
    index
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["auth"].as_str().unwrap_or("none").to_owned())
        .collect()
}

#[test]
fn oauth_notifications_go_out_over_smtp_with_xoauth2_or_oauthbearer() {
    let auth = AuthServer::start(30);
    let dv = Dovecot::start_oauth2(PEOPLE, &auth.url("/introspect"));
    let both = Sink::start_oauth2(&dv, &auth.url("/introspect"), "XOAUTH2 OAUTHBEARER");
    let only_standard = Sink::start_oauth2(&dv, &auth.url("/introspect"), "OAUTHBEARER");
    for (i, (sink, mechanism)) in [(&both, "XOAUTH2"), (&only_standard, "OAUTHBEARER")]
        .into_iter()
        .enumerate()
    {
        let (d, _) = oauth_daemon(&dv, &auth, &smtp_block(sink, &dv, &auth, "smtp.refresh"));
        let smtp_file = d.dir.path().join("smtp.refresh");
        std::fs::write(&smtp_file, auth.seed(USER)).expect("refresh token");
        dv.imap().append(
            "INBOX",
            format!(
                "From: Ann <ann@customer.test>\r\nTo: {USER}\r\nSubject: Bearer {i}\r\nMessage-ID: <bearer{i}@customer.test>\r\n\r\nHello.\r\n"
            )
            .as_bytes(),
        );
        let (code, out, err) = d.once();
        assert_eq!(code, 0, "{out}{err}");
        let sent = auths(sink);
        assert!(
            !sent.is_empty(),
            "nothing sent over {mechanism}: {out}{err}"
        );
        assert!(
            sent.iter().all(|a| a == &format!("{mechanism} {USER}")),
            "{sent:?}"
        );
        assert_eq!(
            d.count("SELECT count(*) FROM outbox WHERE status <> 'sent'"),
            0,
            "{out}{err}"
        );
        assert_eq!(
            mode(&smtp_file),
            0o600,
            "the rotated SMTP token is kept too"
        );
    }

    // A revoked SMTP grant: the notifications wait, the run says why (78).
    let (d, _) = oauth_daemon(&dv, &auth, &smtp_block(&both, &dv, &auth, "smtp.refresh"));
    std::fs::write(d.dir.path().join("smtp.refresh"), "rt-revoked").expect("token");
    dv.imap().append("INBOX", &mail(9, "smtp revoked"));
    let (code, out, err) = d.once();
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        err.contains("smtp.oauth2.refresh_token_file") && err.contains("ticketd oauth login smtp"),
        "{err}"
    );

    // A grant for another account: the server refuses the token, once
    // more after a refresh, and the run says what to check (78).
    let grants = auth.count("refresh_grants");
    std::fs::write(
        d.dir.path().join("smtp.refresh"),
        auth.seed("ann@customer.test"),
    )
    .expect("token");
    let (code, out, err) = d.once();
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        err.contains("AUTH XOAUTH2 refused")
            && err.contains("535")
            && err.contains("ticketd oauth login smtp"),
        "{err}"
    );
    // IMAP's one, then SMTP's two.
    assert_eq!(auth.count("refresh_grants"), grants + 3);
}

#[test]
fn oauth_login_completes_a_device_flow_that_first_answers_authorization_pending() {
    let auth = AuthServer::start(30);
    let dv = Dovecot::start_oauth2(&[], &auth.url("/introspect"));
    let (d, file) = oauth_daemon(&dv, &auth, "");
    std::fs::remove_file(&file).expect("no token yet");

    // Without a sign-in, run says what to do.
    let (code, _, err) = d.once();
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("ticketd oauth login imap"), "{err}");

    let started = Instant::now();
    let out = d
        .cmd(&["oauth", "login", "imap"])
        .output()
        .expect("oauth login");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("WDJB-MJHT") && stdout.contains(&auth.url("/device")),
        "the code and where to enter it:\n{stdout}"
    );
    assert!(stdout.contains(&file.display().to_string()), "{stdout}");
    assert_eq!(mode(&file), 0o600);
    let token = token_in(&file);
    assert!(token.starts_with("rt-"));
    assert!(!stdout.contains(&token), "the token itself is not printed");

    // pending, slow_down, pending, granted: four polls, none too fast, and
    // after slow_down the interval grew by 5 s.
    let polls: Vec<f64> = auth
        .stat("device_polls")
        .as_array()
        .expect("polls")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(polls.len(), 4, "{polls:?}");
    assert_eq!(auth.count("too_fast"), 0);
    assert!(polls[2] - polls[1] >= 5.5, "slow_down honoured: {polls:?}");
    assert!(started.elapsed() < Duration::from_secs(30));

    dv.imap().append("INBOX", &mail(1, "after login"));
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 1);
}

#[test]
fn oauth_the_token_endpoint_over_https_with_a_private_ca() {
    let auth = AuthServer::start(30);
    let dv = Dovecot::start_oauth2(&[], &auth.url("/introspect"));
    // The same server, also over HTTPS with a certificate from Dovecot's private CA.
    let tls = dv.state().join("tls");
    let https = auth.call(
        "POST",
        "/admin/tls",
        &format!(
            "cert={}&key={}",
            tls.join("cert.pem").display(),
            tls.join("key.pem").display()
        ),
    )["port"]
        .as_u64()
        .expect("https port");
    let (d, file) = oauth_daemon(&dv, &auth, "");
    let text = std::fs::read_to_string(&d.config).expect("config").replace(
        &auth.url("/token"),
        &format!("https://127.0.0.1:{https}/token"),
    );
    std::fs::write(&d.config, &text).expect("config");
    dv.imap().append("INBOX", &mail(1, "https"));
    // Not trusted without the private CA: no token, nothing fetched, and
    // a certificate is the operator's to fix (78), not a network blip.
    let (code, out, err) = d.once();
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        err.contains("certificate") && err.contains("imap.oauth2.ca_file"),
        "{err}"
    );
    assert_eq!(d.tickets(), 0);
    let first = token_in(&file);

    std::fs::write(
        &d.config,
        format!("{text}ca_file = \"{}\"\n", dv.ca().display()),
    )
    .expect("config");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 1);
    assert_ne!(token_in(&file), first, "rotated over HTTPS too");
}

#[test]
fn oauth_a_refused_smtp_token_is_refreshed_once_and_sending_goes_on() {
    let auth = AuthServer::start(300);
    let dv = Dovecot::start_oauth2(PEOPLE, &auth.url("/introspect"));
    let sink = Sink::start_oauth2(&dv, &auth.url("/introspect"), "XOAUTH2");
    let (d, _) = oauth_daemon(&dv, &auth, &smtp_block(&sink, &dv, &auth, "smtp.refresh"));
    std::fs::write(d.dir.path().join("smtp.refresh"), auth.seed(USER)).expect("token");
    let mut child = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    let ann = |i: usize| {
        format!(
            "From: Ann <ann@customer.test>\r\nTo: {USER}\r\nSubject: Refused {i}\r\nMessage-ID: <refused{i}@customer.test>\r\n\r\nHello.\r\n"
        )
        .into_bytes()
    };
    dv.imap().append("INBOX", &ann(1));
    d.wait_for(30, "the first notifications", |d| {
        d.count("SELECT count(*) FROM outbox WHERE status = 'sent'") > 0
            && d.count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
    });
    let sent = auths(&sink).len();

    // The provider drops the access token early; a restarted server makes
    // the courier log in again with the one it holds.
    auth.call("POST", "/admin/forget", "");
    sink.down();
    sink.up();
    let grants = auth.count("refresh_grants");
    dv.imap().append("INBOX", &ann(2));
    d.wait_for(60, "the notifications after the refusal", |_| {
        auths(&sink).len() > sent
    });
    d.wait_for(30, "an empty outbox", |d| {
        d.count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
    });
    let log = d.log();
    assert!(
        log.contains("SMTP server refused the OAuth2 access token"),
        "{log}"
    );
    assert!(auth.count("refresh_grants") > grants, "{log}");
    assert_eq!(terminate(&mut child), 0, "{log}");
}
