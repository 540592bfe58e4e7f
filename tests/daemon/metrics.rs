//! `/metrics` of a running daemon counts every message taken from the
//! mailbox, mail moved unread for its size included.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::dovecot::{free_port, Dovecot};
use super::{mail, terminate, Daemon};

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
}

#[test]
fn mail_over_max_message_bytes_is_counted_as_too_large() {
    let dv = Dovecot::start();
    let port = free_port();
    let d = Daemon::new(
        &dv,
        &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let text = std::fs::read_to_string(&d.config).expect("config");
    std::fs::write(
        &d.config,
        text.replacen("[store]\n", "[store]\nmax_message_bytes = 65536\n", 1),
    )
    .expect("config");
    let mut imap = dv.imap();
    imap.append("INBOX", &mail(1, "small"));
    let mut big = mail(2, "big");
    big.extend(std::iter::repeat_n(b'x', 100_000));
    big.extend_from_slice(b"\r\n");
    imap.append("INBOX", &big);
    let mut running = d.spawn();
    d.wait_for(20, "the ticket", |d| d.tickets() == 1);
    let want = [
        "ticketd_messages_total{outcome=\"created\"} 1",
        "ticketd_messages_total{outcome=\"too_large\"} 1",
    ];
    let start = Instant::now();
    let mut metrics = get(port, "/metrics");
    while !want.iter().all(|w| metrics.contains(w)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{want:?} in\n{metrics}\nlog:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
        metrics = get(port, "/metrics");
    }
    assert!(
        metrics.contains("too_large: over store.max_message_bytes"),
        "the help text says what it counts:\n{metrics}"
    );
    assert_eq!(terminate(&mut running), 0, "{}", d.log());
    assert_eq!((imap.count("INBOX"), imap.count("Failed")), (0, 1));
}
