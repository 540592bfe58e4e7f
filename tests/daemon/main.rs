//! `ticketd run` against a real, private Dovecot: the fetch loop, IDLE,
//! reconnects, UIDVALIDITY, TLS, and a SIGKILL in the middle of a batch.
//! (Heavy and hostile mail: `heavy.rs`.)

mod courier;
mod delivery;
mod dovecot;
mod heavy;
mod metrics;
mod oauth;
mod service;
mod smtp_sink;
mod tokens;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dovecot::{deliver, Dovecot};

struct Daemon {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Daemon {
    fn new(dovecot: &Dovecot, imap_extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("dir");
        let config = dir.path().join("ticketd.toml");
        let text = format!(
            "[store]\npath = \"ticketd.db\"\n\n[support]\naddress = \"support@example.test\"\nagents = [\"agent@example.test\"]\nportal_url = \"https://support.example.test\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"support@example.test\"\npassword = \"secret\"\npoll_interval_secs = 1\ntimeout_secs = 10\n{imap_extra}\n",
            dovecot.port
        );
        std::fs::write(&config, text).expect("config");
        Daemon { dir, config }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ticketd"));
        c.arg("--config").arg(&self.config).args(args);
        c
    }

    /// `run --once`; returns (exit code, stdout, stderr).
    fn once(&self) -> (i32, String, String) {
        let out = self.cmd(&["run", "--once"]).output().expect("run --once");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn spawn(&self) -> Running {
        let log = std::fs::File::create(self.dir.path().join("run.log")).expect("log");
        Running(
            self.cmd(&["run"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn ticketd run"),
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("run.log")).unwrap_or_default()
    }

    fn count(&self, sql: &str) -> i64 {
        let db = self.dir.path().join("ticketd.db");
        let Ok(conn) =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return 0;
        };
        conn.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    }

    fn query_text(&self, sql: &str) -> String {
        let db = self.dir.path().join("ticketd.db");
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn tickets(&self) -> i64 {
        self.count("SELECT count(*) FROM tickets")
    }

    /// Waits until `cond` holds, for at most `secs`.
    fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&Daemon) -> bool) {
        let start = Instant::now();
        while !cond(self) {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running `ticketd run`, killed if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn terminate(running: &mut Running) -> i32 {
    let child = &mut running.0;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ticketd did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mail(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer {i} <c{i}@acme.test>\r\nTo: support@example.test\r\nSubject: {subject} {i}\r\nMessage-ID: <d{i}-{}@acme.test>\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\n\r\nHello, this is request {i}.\r\n",
        subject.len()
    )
    .into_bytes()
}

fn walkthrough() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/walkthrough");
    [
        "1-new.eml",
        "2-agent-reply.eml",
        "3-customer-reply-cc.eml",
        "4-out-of-office.eml",
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).expect("fixture"))
    .collect()
}

#[test]
fn once_ingests_commits_and_moves_everything_waiting() {
    let dv = Dovecot::start();
    let mut imap = dv.imap();
    for raw in walkthrough() {
        imap.append("INBOX", &raw);
    }
    imap.append("INBOX", b"no headers at all, just words\r\n");
    let d = Daemon::new(&dv, "");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("fetched 5 message(s): created 1, updated 2, ignored 1, quarantined 1"),
        "{out}"
    );
    assert_eq!(
        (
            imap.count("INBOX"),
            imap.count("Processed"),
            imap.count("Failed")
        ),
        (0, 4, 1)
    );
    assert_eq!(d.tickets(), 1);
    assert_eq!(d.count("SELECT count(*) FROM messages"), 3);
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 1);
    assert_eq!(
        d.count("SELECT count(*) FROM imap_moves"),
        0,
        "no moves owed after a clean run"
    );
    // Nothing left: a second pass fetches nothing.
    let (code, out, _) = d.once();
    assert_eq!(code, 0);
    assert!(out.contains("fetched 0 message(s)"), "{out}");
}

#[test]
fn idle_turns_new_mail_into_tickets_and_sigterm_stops_cleanly() {
    let dv = Dovecot::start();
    let d = Daemon::new(&dv, "");
    let mut child = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    let mut imap = dv.imap();
    // One at a time, each waited for: every arrival must wake the daemon,
    // including one announced while it was still moving the previous batch.
    for i in 0..8 {
        imap.append("INBOX", &mail(i, "idle"));
        d.wait_for(20, "the ticket", |d| d.tickets() == i as i64 + 1);
    }
    d.wait_for(20, "the move", |d| {
        d.count("SELECT count(*) FROM imap_moves") == 0
    });
    assert_eq!(imap.count("INBOX"), 0);
    assert!(d.log().contains("idle=true"), "{}", d.log());
    assert_eq!(terminate(&mut child), 0, "{}", d.log());
    assert!(d.log().contains("shutdown requested"), "{}", d.log());
}

#[test]
fn a_server_restart_is_survived_and_nothing_is_lost() {
    let dv = Dovecot::start();
    let d = Daemon::new(&dv, "");
    let mut child = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    dv.imap().append("INBOX", &mail(1, "before"));
    d.wait_for(20, "ticket 1", |d| d.tickets() == 1);

    dv.down();
    std::thread::sleep(Duration::from_millis(1500));
    dv.up();
    let mut imap = dv.imap();
    imap.append("INBOX", &mail(2, "after"));
    d.wait_for(60, "ticket 2 after the restart", |d| d.tickets() == 2);
    // Committed first, moved right after.
    d.wait_for(20, "the move", |d| {
        d.count("SELECT count(*) FROM imap_moves") == 0
    });
    assert_eq!(imap.count("INBOX"), 0);
    let log = d.log();
    assert!(
        log.contains("mailbox unavailable"),
        "the outage is logged:\n{log}"
    );
    assert!(
        log.matches("connected to the mailbox").count() >= 2,
        "{log}"
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn a_changed_uidvalidity_is_handled_not_ignored() {
    let dv = Dovecot::start();
    let d = Daemon::new(&dv, "");
    let mut imap = dv.imap();
    for i in 0..3 {
        imap.append("INBOX", &mail(i, "first"));
    }
    drop(imap);
    assert_eq!(d.once().0, 0);
    assert_eq!(d.tickets(), 3);
    assert_eq!(d.count("SELECT last_uid FROM imap_state"), 3);

    // Rebuild the INBOX's UID list: a new UIDVALIDITY, UIDs from 1 again.
    dv.down();
    let md = dv.maildir();
    for entry in std::fs::read_dir(&md).expect("maildir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("dovecot-uidlist")
            || name.starts_with("dovecot.index")
            || name.starts_with("dovecot-uidvalidity")
        {
            std::fs::remove_file(entry.path()).expect("remove");
        }
    }
    std::thread::sleep(Duration::from_millis(1100)); // UIDVALIDITY comes from the clock
    dv.up();
    let mut imap = dv.imap();
    imap.append("INBOX", &mail(1, "first")); // seen before: a duplicate
    imap.append("INBOX", &mail(10, "new")); // UID 2 under the new validity
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created 1") && out.contains("duplicate 1"),
        "{out}"
    );
    assert_eq!(d.tickets(), 4);
    assert_eq!(imap.count("INBOX"), 0);
    assert_eq!(
        d.count("SELECT count(*) FROM events WHERE kind = 'imap_uidvalidity_changed'"),
        1
    );
}

#[test]
fn sigkill_in_the_middle_of_a_large_batch_loses_and_doubles_nothing() {
    let dv = Dovecot::start();
    let total = 1500;
    let raws: Vec<Vec<u8>> = (0..total).map(|i| mail(i, "crash")).collect();
    deliver(&dv, &raws);
    let d = Daemon::new(&dv, "batch_size = 100");
    // Kill it three times at different points, then let it finish.
    for threshold in [1, 400, 900] {
        let mut child = d.spawn();
        d.wait_for(60, "progress", |d| d.tickets() >= threshold);
        child.0.kill().expect("SIGKILL");
        let _ = child.0.wait();
    }
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    let mut imap = dv.imap();
    assert_eq!(imap.count("INBOX"), 0, "the inbox is empty");
    assert_eq!(imap.count("Processed"), total, "every message moved once");
    assert_eq!(d.tickets(), total as i64, "one ticket per message");
    assert_eq!(
        d.count("SELECT count(*) FROM messages"),
        total as i64,
        "no message stored twice"
    );
    assert_eq!(
        d.count("SELECT count(DISTINCT message_id) FROM messages"),
        total as i64
    );
    assert_eq!(d.count("SELECT count(*) FROM imap_moves"), 0);
}

#[test]
fn tls_and_starttls_with_a_private_ca_and_a_clear_error_for_a_wrong_password() {
    let dv = Dovecot::start();
    dv.imap().append("INBOX", &mail(1, "tls"));
    let cert = dv.ca();
    let tls = Daemon::new(&dv, "");
    let text = std::fs::read_to_string(&tls.config)
        .expect("config")
        .replace(
            &format!("port = {}", dv.port),
            &format!("port = {}", dv.tls_port),
        )
        .replace(
            "security = \"none\"",
            &format!("security = \"tls\"\nca_file = \"{}\"", cert.display()),
        );
    std::fs::write(&tls.config, text).expect("config");
    let (code, out, err) = tls.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tls.tickets(), 1);

    dv.imap().append("INBOX", &mail(2, "starttls"));
    let st = Daemon::new(&dv, "");
    let text = std::fs::read_to_string(&st.config)
        .expect("config")
        .replace(
            "security = \"none\"",
            &format!("security = \"starttls\"\nca_file = \"{}\"", cert.display()),
        );
    std::fs::write(&st.config, text).expect("config");
    let (code, out, err) = st.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(st.tickets(), 1);

    // TLS without trusting the private CA: refused, never plaintext.
    let untrusted = Daemon::new(&dv, "");
    let text = std::fs::read_to_string(&untrusted.config)
        .expect("config")
        .replace(
            &format!("port = {}", dv.port),
            &format!("port = {}", dv.tls_port),
        )
        .replace("security = \"none\"", "security = \"tls\"");
    std::fs::write(&untrusted.config, text).expect("config");
    let (code, _, err) = untrusted.once();
    assert_ne!(code, 0);
    assert!(err.contains("TLS"), "{err}");

    let wrong = Daemon::new(&dv, "");
    let text = std::fs::read_to_string(&wrong.config)
        .expect("config")
        .replace("password = \"secret\"", "password = \"wrong\"");
    std::fs::write(&wrong.config, text).expect("config");
    let (code, _, err) = wrong.once();
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("support@example.test") && err.contains("refused the login"),
        "{err}"
    );
}

#[test]
fn plain_and_xoauth2_mechanisms_reach_the_server() {
    let dv = Dovecot::start();
    dv.imap().append("INBOX", &mail(1, "plain"));
    let d = Daemon::new(&dv, "auth = \"plain\"");
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), 1);
    // This Dovecot offers no XOAUTH2: the attempt must fail as an auth error
    // naming the mechanism's refusal, not hang or crash.
    let token = d.dir.path().join("token");
    std::fs::write(&token, "ya29.token").expect("token");
    let x = Daemon::new(
        &dv,
        &format!(
            "auth = \"xoauth2\"\noauth_token_file = \"{}\"",
            token.display()
        ),
    );
    let text = std::fs::read_to_string(&x.config)
        .expect("config")
        .replace("password = \"secret\"\n", "");
    std::fs::write(&x.config, text).expect("config");
    let (code, _, err) = x.once();
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("refused the login"), "{err}");
}

/// A server without IDLE and MOVE: the daemon polls, and moves by COPY,
/// `\Deleted` and UID EXPUNGE.
#[test]
fn without_idle_and_move_it_polls_and_copies() {
    let dv = Dovecot::start_with(Some("IMAP4rev1 LITERAL+ UIDPLUS"));
    let d = Daemon::new(&dv, "");
    let mut child = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    assert!(
        d.log().contains("idle=false") && d.log().contains("move=false"),
        "{}",
        d.log()
    );
    let mut imap = dv.imap();
    imap.append("INBOX", &mail(1, "polled"));
    imap.append("INBOX", b"not a mail at all\r\n");
    d.wait_for(20, "the ticket", |d| d.tickets() == 1);
    d.wait_for(20, "the quarantine", |d| {
        d.count("SELECT count(*) FROM quarantine") == 1
    });
    d.wait_for(20, "the moves", |d| {
        d.count("SELECT count(*) FROM imap_moves") == 0
    });
    assert_eq!(
        (
            imap.count("INBOX"),
            imap.count("Processed"),
            imap.count("Failed")
        ),
        (0, 1, 1)
    );
    assert_eq!(terminate(&mut child), 0);
}
