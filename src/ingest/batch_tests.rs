//! A batch commits or fails as one, and one bad mail in it is quarantined
//! without spoiling the others (the savepoint-free first pass, then the
//! second pass with a savepoint per mail).

use std::time::Duration;

use super::*;
use crate::store::Durability;

const NOW: Timestamp = Timestamp(1_800_000_000);

fn setup() -> (tempfile::TempDir, Store, Ingestor) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::parse(
        "[store]\npath = \"t.db\"\n[support]\naddress = \"support@example.test\"\n\
         agents = [\"agent@example.test\"]\nportal_url = \"https://support.example.test\"\n",
        dir.path(),
    )
    .expect("config");
    let mut store = Store::open(
        &config.store.path,
        Duration::from_secs(5),
        Durability::Normal,
    )
    .expect("store");
    let ingestor = Ingestor::new(&config, &mut store).expect("ingestor");
    (dir, store, ingestor)
}

fn mail(n: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer {n} <c{n}@customer{n}.test>\r\nTo: support@example.test\r\n\
         Subject: {subject}\r\nMessage-ID: <m{n}@customer{n}.test>\r\n\
         Date: Thu, 15 Jan 2027 08:00:00 +0000\r\n\r\nHello, request {n}.\r\n"
    )
    .into_bytes()
}

fn count(store: &Store, sql: &str) -> i64 {
    store
        .conn()
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_clean_batch_commits_every_mail_once() {
    let (_dir, mut store, ingestor) = setup();
    let raws: Vec<Vec<u8>> = (0..5).map(|n| mail(n, &format!("Request {n}"))).collect();
    let reports = ingestor
        .ingest_batch(&mut store, &raws, NOW)
        .expect("batch");
    assert!(
        reports.iter().all(|r| r.outcome == Outcome::Created),
        "{reports:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tickets"), 5);
    // The search index follows the messages without savepoints in between:
    // every message's text is in it, once.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM search_index WHERE search_index MATCH 'body : hello'"
        ),
        5
    );
}

#[test]
fn one_failing_mail_is_quarantined_and_the_rest_of_its_batch_kept() {
    let (_dir, mut store, ingestor) = setup();
    // A failure of the mail's own (not busy, not disk full): the database
    // refuses this one ticket.
    store
        .conn()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON tickets WHEN NEW.subject = 'Refused' \
             BEGIN SELECT RAISE(ABORT, 'refused by test'); END;",
        )
        .expect("trigger");
    let raws = vec![mail(1, "First"), mail(2, "Refused"), mail(3, "Third")];
    let reports = ingestor
        .ingest_batch(&mut store, &raws, NOW)
        .expect("batch");
    let outcomes: Vec<Outcome> = reports.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Created, Outcome::Quarantined, Outcome::Created]
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tickets"), 2);
    // Nothing of the refused mail's first attempt is left but its quarantine
    // entry, which keeps the raw message whole.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM messages"), 2);
    let id = count(&store, "SELECT id FROM quarantine");
    let (_, raw) = crate::store::queries::quarantined(store.conn(), id).expect("quarantined");
    assert_eq!(raw, raws[1]);
    // The two good mails are each stored once, not once per pass.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM seen"), 2);
}
