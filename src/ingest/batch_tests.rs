//! A batch commits or fails as one, and one bad mail in it is quarantined
//! without spoiling the others (the savepoint-free first pass, then the
//! second pass with a savepoint per mail).

use std::time::Duration;

use super::*;
use crate::store::Durability;

const NOW: Timestamp = Timestamp(1_800_000_000);

fn setup() -> (tempfile::TempDir, Store, Ingestor) {
    setup_in(tempfile::tempdir().expect("temp dir"), "")
}

/// A store and ingestor in `dir`, the config's `[support]` ending with
/// `support_extra`.
fn setup_in(dir: tempfile::TempDir, support_extra: &str) -> (tempfile::TempDir, Store, Ingestor) {
    let config = Config::parse(
        &format!(
            "[store]\npath = \"t.db\"\n[support]\naddress = \"support@example.test\"\n\
             agents = [\"agent@example.test\"]\nportal_url = \"https://support.example.test\"\n\
             {support_extra}"
        ),
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

/// Ingests three mails as one batch and checks that the first and the last
/// became tickets and the middle one was quarantined.
fn the_middle_one_is_quarantined(
    ingestor: &Ingestor,
    store: &mut Store,
    raws: &[Vec<u8>],
) -> Vec<Report> {
    let reports = ingestor.ingest_batch(store, raws, NOW).expect("batch");
    let outcomes: Vec<Outcome> = reports.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Created, Outcome::Quarantined, Outcome::Created]
    );
    reports
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
    the_middle_one_is_quarantined(&ingestor, &mut store, &raws);
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

/// `setup` with a `support.templates_dir` holding `agent_alert.txt`.
fn setup_with_agent_alert(template: &str) -> (tempfile::TempDir, Store, Ingestor) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
    std::fs::write(dir.path().join("templates/agent_alert.txt"), template).expect("template");
    setup_in(dir, "templates_dir = \"templates\"\n")
}

fn attachment_of(n: usize) -> String {
    format!("attachment of request {n}").repeat(50)
}

fn mail_with_attachment(n: usize) -> Vec<u8> {
    mail_with_file(n, &attachment_of(n))
}

fn mail_with_file(n: usize, data: &str) -> Vec<u8> {
    format!(
        "From: Customer {n} <c{n}@customer{n}.test>\r\nTo: support@example.test\r\n\
         Cc: colleague{n}@customer{n}.test\r\nSubject: Request {n}\r\n\
         Message-ID: <m{n}@customer{n}.test>\r\nDate: Thu, 15 Jan 2027 08:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nHello, request {n}.\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"log{n}.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
    )
    .into_bytes()
}

/// What a database holds of the notifications and files, in order: the
/// batch's helper thread must leave exactly what inline work leaves.
fn outbox_and_files(store: &Store) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT kind || ' ' || recipients || ' ' || subject || ' ' || body_text || ' ' || layout FROM outbox ORDER BY id",
        )
        .expect("outbox");
    let mut rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("read");
    let mut stmt = store
        .conn()
        .prepare("SELECT filename || ' ' || sha256 FROM attachments ORDER BY id")
        .expect("attachments");
    rows.extend(
        stmt.query_map([], |r| r.get::<_, String>(0))
            .expect("rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("read"),
    );
    rows
}

#[test]
fn a_batch_queues_and_stores_what_mail_by_mail_ingest_does() {
    let raws: Vec<Vec<u8>> = (0..12).map(mail_with_attachment).collect();
    let (dir, mut batch, ingestor) = setup();
    ingestor
        .ingest_batch(&mut batch, &raws, NOW)
        .expect("batch");
    let (_single_dir, mut single, ingestor1) = setup();
    for raw in &raws {
        ingestor1
            .ingest(&mut single, raw, NOW, Mode::Commit)
            .expect("one");
    }
    let batched = outbox_and_files(&batch);
    assert!(
        batched.len() > 3 * raws.len(),
        "notifications and attachments: {batched:?}"
    );
    assert_eq!(batched, outbox_and_files(&single));
    // Every file the batch's rows name was written by the helper, whole.
    for n in 0..raws.len() {
        let data = attachment_of(n);
        let sha = crate::attachments::sha256_hex(data.as_bytes());
        let path = ingestor.attachments_dir().path_of(&sha);
        assert_eq!(
            std::fs::read(&path).expect("attachment file"),
            data.as_bytes()
        );
        assert!(path.starts_with(dir.path()));
    }
}

#[test]
fn a_notification_that_cannot_be_rendered_quarantines_its_mail_alone() {
    // `int` fails on a subject that is not a number: only mail 2's agent
    // alert cannot be rendered, and it is rendered on the helper thread.
    let (_dir, mut store, ingestor) =
        setup_with_agent_alert("Subject: New ticket {{ ticket.subject | int }}\n\nNew.\n");
    let raws = vec![mail(1, "101"), mail(2, "Not a number"), mail(3, "103")];
    let reports = the_middle_one_is_quarantined(&ingestor, &mut store, &raws);
    assert!(
        reports[1]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("agent_alert")),
        "{:?}",
        reports[1].reason
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM tickets"), 2);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'agent_alert' AND subject LIKE 'New ticket 10_'"
        ),
        2
    );
    // No row of the failed first pass is left.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%number%'"
        ),
        0
    );
}

#[test]
fn a_large_attachment_in_a_batch_is_stored_by_the_writer_itself() {
    // Over the helper's hand-over size: not copied, written at once.
    let large = "0123456789abcdef".repeat(100_000);
    let raws = vec![mail_with_attachment(1), mail_with_file(2, &large)];
    let (_dir, mut store, ingestor) = setup();
    let reports = ingestor
        .ingest_batch(&mut store, &raws, NOW)
        .expect("batch");
    assert!(reports.iter().all(|r| r.outcome == Outcome::Created));
    for data in [attachment_of(1), large] {
        let path = ingestor
            .attachments_dir()
            .path_of(&crate::attachments::sha256_hex(data.as_bytes()));
        assert_eq!(std::fs::read(&path).expect("file"), data.as_bytes());
    }
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attachments WHERE refused IS NULL"
        ),
        2
    );
}

/// Customer `n`'s reply to their request `mail(n, "10{n}")`.
fn reply(n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <c{n}@customer{n}.test>\r\nTo: support@example.test\r\n\
         Subject: Re: 10{n}\r\nMessage-ID: <r{n}@customer{n}.test>\r\n\
         In-Reply-To: <m{n}@customer{n}.test>\r\n\
         Date: Thu, 15 Jan 2027 09:00:00 +0000\r\n\r\nStill jammed, code e-{n}04{n}.\r\n"
    )
    .into_bytes()
}

#[test]
fn a_batch_indexes_for_search_what_mail_by_mail_ingest_does() {
    // Numbers for subjects: the agent alert's template fails on any other.
    let first: Vec<Vec<u8>> = (0..4).map(|n| mail(n, &format!("10{n}"))).collect();
    // Replies to older tickets between new requests (rowids going down and
    // up), and a mail that fails, so that the batch is done again with a
    // savepoint per mail.
    let mut second: Vec<Vec<u8>> = Vec::new();
    for n in 0..4 {
        second.push(reply(n));
        second.push(mail(10 + n, &format!("20{n}")));
    }
    second.insert(3, mail(20, "Not a number"));
    let (_dir, mut batch, ingestor) =
        setup_with_agent_alert("Subject: New ticket {{ ticket.subject | int }}\n\nNew.\n");
    let (_single_dir, mut single, ingestor1) =
        setup_with_agent_alert("Subject: New ticket {{ ticket.subject | int }}\n\nNew.\n");
    let mut outcomes = Vec::new();
    for raws in [&first, &second] {
        let reports = ingestor.ingest_batch(&mut batch, raws, NOW).expect("batch");
        outcomes.extend(reports.iter().map(|r| r.outcome));
        for raw in raws.iter() {
            ingestor1
                .ingest(&mut single, raw, NOW, Mode::Commit)
                .expect("one");
        }
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Updated).count(),
        4,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Outcome::Quarantined), "{outcomes:?}");
    let indexed = crate::store::search_feed::index_instances(batch.conn());
    // Each reply's code is found on its own request's ticket.
    for n in 0..4i64 {
        let code = format!("{n}04{n}");
        let ticket = indexed
            .iter()
            .find(|(t, _, _, _)| *t == code)
            .map(|(_, doc, _, _)| doc >> 32);
        assert_eq!(ticket, Some(n + 1), "{code}");
    }
    assert_eq!(
        indexed,
        crate::store::search_feed::index_instances(single.conn())
    );
}
