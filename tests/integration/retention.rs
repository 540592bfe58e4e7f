//! Housekeeping and backup: solved tickets close after `reopen_days`;
//! `retention_days` removes raw mail and attachment files of long-closed
//! tickets and logs it; `ticketd backup` copies a live database.

use std::time::Duration;

use ticketd::attachments::AttachmentDir;
use ticketd::config::Config;
use ticketd::domain::time::{Timestamp, DAY};
use ticketd::ingest::{Ingestor, Mode};
use ticketd::store::{housekeeping, Durability, Store};

use crate::desk::{mail, Desk};

const NOW: Timestamp = Timestamp(1_800_000_000);

#[test]
fn solved_tickets_close_and_retention_removes_raw_mail_and_files() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::parse(
        "[store]\npath = \"t.db\"\nretention_days = 30\n[support]\naddress = \"support@example.test\"\nportal_url = \"https://x.test\"\nreopen_days = 7\n",
        dir.path(),
    )
    .expect("config");
    let mut store =
        Store::open(&config.store.path, Duration::from_secs(5), Durability::Full).expect("store");
    let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
    let with_file = "From: ann@acme.test\r\nTo: support@example.test\r\nSubject: Logs\r\nMessage-ID: <ret-1@acme.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n--b\r\nContent-Type: text/plain; name=log.txt\r\nContent-Disposition: attachment; filename=log.txt\r\n\r\nline one\r\nline two\r\n--b--\r\n";
    ingestor
        .ingest(&mut store, with_file.as_bytes(), NOW, Mode::Commit)
        .expect("ingest");
    let files = AttachmentDir::new(&config.attachments_dir());
    let sha: String = store
        .conn()
        .query_row("SELECT sha256 FROM attachments", [], |r| r.get(0))
        .expect("attachment row");
    assert!(files.path_of(&sha).exists());

    // A mail budget untouched for two days is full: its row goes.
    store
        .conn()
        .execute(
            "INSERT INTO mail_budget (key, tokens, at) VALUES ('to:old@acme.test', 0.5, ?1)",
            [NOW.0 - 2 * DAY],
        )
        .expect("budget");
    // Solved eight days ago: closed by the next round, the files still kept.
    store
        .conn()
        .execute(
            "UPDATE tickets SET status = 'solved', solved_at = ?1",
            [NOW.0 - 8 * DAY],
        )
        .expect("solve");
    let (closed, pruned) = housekeeping::run(&mut store, &files, NOW, 7, Some(30)).expect("round");
    assert_eq!((closed, pruned.tickets), (1, 0));
    let budgets: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM mail_budget WHERE key = 'to:old@acme.test'",
            [],
            |r| r.get(0),
        )
        .expect("budgets");
    assert_eq!(budgets, 0, "a full bucket needs no row");
    let status: String = store
        .conn()
        .query_row("SELECT status FROM tickets", [], |r| r.get(0))
        .expect("status");
    assert_eq!(status, "closed");

    // Thirty-one days later: raw mail and the file go, the ticket stays.
    let later = NOW.plus_secs(31 * DAY);
    let (_, pruned) = housekeeping::run(&mut store, &files, later, 7, Some(30)).expect("round");
    assert_eq!(
        (pruned.tickets, pruned.raw_mails, pruned.files.len()),
        (1, 1, 1)
    );
    assert!(!files.path_of(&sha).exists(), "the file is deleted");
    let count = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT count(*) FROM raw_mail"), 0);
    assert_eq!(count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(
        count("SELECT count(*) FROM attachments WHERE refused LIKE 'removed by retention%'"),
        1,
        "the attachment's name and size stay listed"
    );
    assert_eq!(
        count("SELECT count(*) FROM events WHERE kind = 'retention_pruned'"),
        1
    );
    // Nothing left to do: the next round changes nothing.
    let (closed, pruned) =
        housekeeping::run(&mut store, &files, later, 7, Some(30)).expect("round");
    assert_eq!((closed, pruned.tickets), (0, 0));
}

#[test]
fn backup_copies_a_live_database_and_never_overwrites() {
    let desk = Desk::new();
    desk.ingest(&mail(
        "From: ann@acme.test\nTo: support@example.test\nSubject: s\nMessage-ID: <bk1@acme.test>",
        "x",
    ));
    let dest = desk.dir.path().join("backup.db");
    let dest_s = dest.to_str().expect("utf-8");
    let out = desk.run(&["backup", dest_s], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("integrity checked"), "{}", out.stdout);
    let copy = rusqlite::Connection::open(&dest).expect("open copy");
    let tickets: i64 = copy
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .expect("count");
    assert_eq!(tickets, 1);
    let again = desk.run(&["backup", dest_s], b"");
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}
