//! `ticketd run` as systemd runs it: readiness, status and watchdog through
//! the test's own NOTIFY_SOCKET, journald-style log lines, SIGTERM in the
//! middle of a batch, SIGHUP, a broken config at start, and the metrics
//! endpoint.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::dovecot::{deliver, free_port, Dovecot};
use super::{mail, terminate, Daemon, Running};

/// Collects every datagram until `want` has arrived (or panics after 30 s).
fn until(sock: &UnixDatagram, got: &mut Vec<String>, want: &str, d: &Daemon) {
    let start = Instant::now();
    while !got.iter().any(|m| m.lines().any(|l| l.starts_with(want))) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {want} among {got:?}; log:\n{}",
            d.log()
        );
        let mut buf = [0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn readiness_status_watchdog_and_stopping_reach_notify_socket() {
    let dv = Dovecot::start();
    let d = Daemon::new(&dv, "");
    let socket_path = d.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // stderr to a file whose device:inode we announce as the journal's.
    let log_path = d.dir.path().join("run.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let meta = std::fs::metadata(&log_path).expect("stat");
    use std::os::unix::fs::MetadataExt;
    let mut running = Running(
        d.cmd(&["run"])
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "500000")
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn"),
    );
    let mut got = Vec::new();
    until(&sock, &mut got, "READY=1", &d);
    dv.imap().append("INBOX", &mail(1, "status"));
    d.wait_for(20, "the ticket", |d| d.tickets() == 1);
    until(&sock, &mut got, "WATCHDOG=1", &d);
    let start = Instant::now();
    loop {
        let status = got
            .iter()
            .flat_map(|m| m.lines())
            .filter_map(|l| l.strip_prefix("STATUS="))
            .next_back()
            .unwrap_or("")
            .to_owned();
        if status.contains("1 ticket today") {
            assert!(status.starts_with("last poll "), "{status}");
            assert!(
                status.contains("outbox 3 pending"),
                "setup link, acknowledgement, agent alert: {status}"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "status: {got:?}");
        let mut buf = [0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert_eq!(terminate(&mut running), 0, "{}", d.log());
    until(&sock, &mut got, "STOPPING=1", &d);
    // Journald-style lines: a syslog priority, no timestamp.
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("<6>ticketd::daemon::folder: connected to the mailbox")),
        "{log}"
    );
    assert!(
        !log.contains("Z  INFO"),
        "no timestamps under the journal: {log}"
    );
    // One line per message, with its outcome, ticket and Message-ID; never its text.
    assert!(
        log.lines().any(|l| l.starts_with("<6>")
            && l.contains("message ingested")
            && l.contains("outcome=created")
            && l.contains("ticket=1")
            && l.contains("message_id=")),
        "{log}"
    );
    assert!(
        !log.contains("this is request"),
        "no mail text at info: {log}"
    );
}

#[test]
fn sigterm_during_a_batch_exits_0_and_loses_nothing() {
    let dv = Dovecot::start();
    let total = 800;
    let raws: Vec<Vec<u8>> = (0..total).map(|i| mail(i, "term")).collect();
    deliver(&dv, &raws);
    let d = Daemon::new(&dv, "batch_size = 50");
    let mut child = d.spawn();
    d.wait_for(60, "progress", |d| d.tickets() >= 60);
    assert_eq!(terminate(&mut child), 0, "{}", d.log());
    let done = d.tickets();
    assert!(done < total as i64, "stopped before the end ({done})");
    let mut imap = dv.imap();
    assert_eq!(
        imap.count("Processed") as i64,
        done,
        "every committed message moved, no other; log:\n{}",
        d.log()
    );
    let (code, out, err) = d.once();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(d.tickets(), total as i64);
    assert_eq!(imap.count("INBOX"), 0);
    assert_eq!(
        d.count("SELECT count(DISTINCT message_id) FROM messages"),
        total as i64
    );
}

#[test]
fn sighup_applies_new_rules_and_keeps_running() {
    let dv = Dovecot::start();
    let d = Daemon::new(&dv, "");
    let mut running = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    let text = std::fs::read_to_string(&d.config).expect("config");
    std::fs::write(
        &d.config,
        format!("{text}\n[[rules]]\nfield = \"subject\"\npattern = \"(?i)fire\"\npriority = \"urgent\"\n"),
    )
    .expect("config");
    let pid = running.0.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    d.wait_for(20, "the reload", |d| d.log().contains("config reloaded"));
    dv.imap().append("INBOX", &mail(1, "fire"));
    d.wait_for(20, "the ticket", |d| d.tickets() == 1);
    assert_eq!(
        d.count("SELECT count(*) FROM tickets WHERE priority = 'urgent'"),
        1,
        "the reloaded rule applied; log:\n{}",
        d.log()
    );
    // A broken config on SIGHUP is refused; the daemon goes on.
    std::fs::write(&d.config, "[store]\npath = 1\n").expect("config");
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    d.wait_for(20, "the refusal", |d| d.log().contains("reload refused"));
    assert_eq!(terminate(&mut running), 0, "{}", d.log());
}

#[test]
fn a_config_error_at_start_exits_78_listing_every_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("ticketd.toml");
    std::fs::write(
        &config,
        "[support]\naddress = \"support@example.test\"\nportal_url = \"x\"\nreopen_dayz = 3\n[imap]\nhost = \"mail.example.test\"\nsecurity = \"none\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ticketd"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reopen_dayz") && err.contains("reopen_days"),
        "{err}"
    );
    assert!(err.contains("imap.security"), "both problems listed: {err}");
}

#[test]
fn metrics_and_healthz_over_http() {
    let dv = Dovecot::start();
    let port = free_port();
    let d = Daemon::new(
        &dv,
        &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut running = d.spawn();
    d.wait_for(20, "the daemon to connect", |d| {
        d.log().contains("connected to the mailbox")
    });
    dv.imap().append("INBOX", &mail(1, "metrics"));
    d.wait_for(20, "the ticket", |d| d.tickets() == 1);
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        body
    };
    let start = Instant::now();
    loop {
        let m = get("/metrics");
        if m.contains("ticketd_messages_total{outcome=\"created\"} 1")
            && m.contains("ticketd_outbox{status=\"pending\"} 3")
        {
            assert!(m.starts_with("HTTP/1.1 200 OK"), "{m}");
            for metric in [
                "ticketd_imap_connected 1",
                "ticketd_last_poll_timestamp_seconds ",
                "ticketd_ingest_seconds_bucket",
                "ticketd_outbox_oldest_pending_seconds ",
                "ticketd_tickets_created_today 1",
            ] {
                assert!(m.contains(metric), "{metric} in\n{m}");
            }
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(get("/healthz").starts_with("HTTP/1.1 200 OK"));
    // The IMAP server goes away: /healthz says so.
    dv.down();
    let start = Instant::now();
    while !get("/healthz").starts_with("HTTP/1.1 503") {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", d.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(terminate(&mut running), 0);
}
