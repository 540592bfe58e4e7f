//! Password links (DESIGN §4): a queued mail carries only a placeholder and
//! a reserved token row; the courier mints the token as it composes the mail,
//! so the token lives in that mail alone and the database keeps its SHA-256.

use regex::Regex;
use rusqlite::{params, Connection, OptionalExtension};

use super::apply::{event, random_hex};
use super::StoreError;
use crate::attachments::sha256_hex;
use crate::domain::time::{Timestamp, HOUR};

/// Stands in a queued body where the token will go. Not a secret; it starts
/// with a letter that is not a hex digit, so it never looks like a token.
pub const TOKEN_PLACEHOLDER: &str = "TICKETD-SETUP-TOKEN";

/// What precedes the token in every password link.
pub const LINK_PATH: &str = "/password/setup?token=";

/// What a sent mail's link becomes when old bodies are scrubbed.
const NOT_KEPT: &str = "(link not kept)";

/// The link as it is queued: `{portal_url}/password/setup?token=<placeholder>`.
pub fn placeholder_link(portal_url: &str) -> String {
    format!("{portal_url}{LINK_PATH}{TOKEN_PLACEHOLDER}")
}

/// Whether `body` still waits for a token.
pub fn has_placeholder(body: &str) -> bool {
    body.contains(&format!("{LINK_PATH}{TOKEN_PLACEHOLDER}"))
}

/// `body` with the placeholder after each link path replaced by `token`
/// (a placeholder anywhere else is left alone).
pub fn fill_placeholder(body: &str, token: &str) -> String {
    body.replace(
        &format!("{LINK_PATH}{TOKEN_PLACEHOLDER}"),
        &format!("{LINK_PATH}{token}"),
    )
}

/// A token hash no presented token can match (the column is `UNIQUE`).
fn reserved_hash() -> Result<String, StoreError> {
    Ok(format!("reserved:{}", random_hex(16)?))
}

fn user_id(conn: &Connection, email: &str) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([email], |r| r.get(0))
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no account for {email} any more: its password link cannot be made"
            ))
        })
}

/// Reserves the token row a queued password link will use: unused, expiring
/// `hours` from `now` (so the user counts as having a pending link), with a
/// hash that matches nothing until [`mint`]. Returns the row's id.
pub fn reserve(
    conn: &Connection,
    email: &str,
    now: Timestamp,
    hours: u32,
) -> Result<i64, StoreError> {
    let user = user_id(conn, email)?;
    conn.prepare_cached(
        "INSERT INTO password_tokens (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        user,
        reserved_hash()?,
        now.0,
        now.plus_secs(i64::from(hours) * HOUR).0
    ])?;
    let id = conn.last_insert_rowid();
    event(
        conn,
        now,
        None,
        "password_setup_issued",
        &format!("setup link for {email}, valid {hours} h"),
    )?;
    Ok(id)
}

/// Mints the token for a mail being composed: 256 random bits as 64 hex
/// digits; row `token_id` gets its SHA-256 and a lifetime of `hours` from
/// `now` (from sending, not queueing). A row that is gone, used, someone
/// else's, or `None` (queued before tokens were minted at sending) is
/// replaced by a fresh row. Returns the token, which must go into the mail
/// and nowhere else.
///
/// Each call overwrites the row's hash: a resend (a retry after a failed
/// attempt) carries a new token, and only the last mail's link works.
pub fn mint(
    conn: &Connection,
    token_id: Option<i64>,
    email: &str,
    now: Timestamp,
    hours: u32,
) -> Result<String, StoreError> {
    Ok(mint_row(conn, token_id, email, now, hours)?.1)
}

/// [`mint`] for outbox row `outbox_id`, which is pointed at the token row
/// used, so that a fresh row is made once and overwritten by later resends.
pub fn mint_for_outbox(
    conn: &Connection,
    outbox_id: i64,
    token_id: Option<i64>,
    email: &str,
    now: Timestamp,
    hours: u32,
) -> Result<String, StoreError> {
    let (id, token) = mint_row(conn, token_id, email, now, hours)?;
    if token_id != Some(id) {
        conn.prepare_cached("UPDATE outbox SET token_id = ?2 WHERE id = ?1")?
            .execute(params![outbox_id, id])?;
    }
    Ok(token)
}

fn mint_row(
    conn: &Connection,
    token_id: Option<i64>,
    email: &str,
    now: Timestamp,
    hours: u32,
) -> Result<(i64, String), StoreError> {
    let user = user_id(conn, email)?;
    let token = random_hex(32)?;
    let hash = sha256_hex(token.as_bytes());
    let expires = now.plus_secs(i64::from(hours) * HOUR).0;
    if let Some(id) = token_id {
        let updated = conn
            .prepare_cached(
                "UPDATE password_tokens SET token_hash = ?3, created_at = ?4, expires_at = ?5
                 WHERE id = ?1 AND user_id = ?2 AND used_at IS NULL",
            )?
            .execute(params![id, user, hash, now.0, expires])?;
        if updated == 1 {
            return Ok((id, token));
        }
    }
    conn.prepare_cached(
        "INSERT INTO password_tokens (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![user, hash, now.0, expires])?;
    Ok((conn.last_insert_rowid(), token))
}

/// Removes the tokens that outbox rows queued before schema 5 hold in clear.
/// A pending or failed row gets the placeholder back, and the token row its
/// old token hashed to gets a reserved hash (the old link, kept in backups
/// and the WAL, stops working; the courier mints a new one when it sends the
/// row, or on `outbox retry`). A sent row's link is replaced by a note; its
/// token row stays valid, since the user has that mail. Runs with
/// `secure_delete` on, so the old bodies are zeroed, not just freed; the
/// caller commits, then calls [`flush_scrubbed`]. Returns how many rows
/// changed.
pub fn scrub_outbox_tokens(conn: &Connection) -> Result<usize, StoreError> {
    // A connection-level flag, read as each page is changed: it may be turned
    // on inside the caller's transaction and restored before its commit.
    let before: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA secure_delete = ON")?;
    let scrubbed = scrub(conn);
    let restored = conn.pragma_update(None, "secure_delete", before);
    let n = scrubbed?;
    restored?;
    Ok(n)
}

fn scrub(conn: &Connection) -> Result<usize, StoreError> {
    let link = Regex::new(r"(/password/setup\?token=)[0-9A-Fa-f]+")
        .map_err(|e| StoreError::Invalid(format!("cannot build the token pattern: {e}")))?;
    let rows: Vec<(i64, String, String, Option<String>)> = conn
        .prepare(
            "SELECT id, status, body_text, body_html FROM outbox
             WHERE kind = 'password_setup' AND (body_text LIKE '%/password/setup?token=%'
                OR body_html LIKE '%/password/setup?token=%')",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for (id, status, text, html) in rows {
        let sent = status == "sent";
        let mut old_tokens = Vec::new();
        let mut replace = |body: &str| {
            link.replace_all(body, |c: &regex::Captures<'_>| {
                if let Some(t) = c.get(0).and_then(|m| m.as_str().strip_prefix(LINK_PATH)) {
                    old_tokens.push(t.to_owned());
                }
                let with = if sent { NOT_KEPT } else { TOKEN_PLACEHOLDER };
                format!("{}{with}", &c[1])
            })
            .into_owned()
        };
        let new_text = replace(&text);
        let new_html = html.as_deref().map(&mut replace);
        if new_text == text && new_html == html {
            continue;
        }
        let mut token_id: Option<i64> = None;
        if !sent {
            for t in &old_tokens {
                let found: Option<i64> = conn
                    .prepare_cached(
                        "UPDATE password_tokens SET token_hash = ?2
                         WHERE token_hash = ?1 AND used_at IS NULL RETURNING id",
                    )?
                    .query_row(params![sha256_hex(t.as_bytes()), reserved_hash()?], |r| {
                        r.get(0)
                    })
                    .optional()?;
                token_id = token_id.or(found);
            }
        }
        conn.prepare_cached(
            "UPDATE outbox SET body_text = ?2, body_html = ?3,
             token_id = coalesce(?4, token_id) WHERE id = ?1",
        )?
        .execute(params![id, new_text, new_html, token_id])?;
        n += 1;
    }
    Ok(n)
}

/// After a committed scrub: moves the WAL into the database file and
/// truncates it, so the old bodies' pages are overwritten there and left in
/// no WAL frame. Best effort: a reader elsewhere may hold the WAL for now.
pub fn flush_scrubbed(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(0) => {}
        Ok(_) => tracing::warn!(
            "another process holds the database's WAL: old password links are scrubbed but stay in its file until the next checkpoint"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot checkpoint the database after scrubbing old password links"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::store::{Durability, Store};

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn store(dir: &Path) -> Store {
        let store = Store::open(
            &dir.join("t.db"),
            Duration::from_secs(5),
            Durability::Normal,
        )
        .expect("store");
        store
            .conn()
            .execute(
                "INSERT INTO users (email, role, created_at) VALUES ('ann@acme.test', 'member', 0)",
                [],
            )
            .expect("user");
        store
    }

    fn hash_of(conn: &Connection, id: i64) -> String {
        conn.query_row(
            "SELECT token_hash FROM password_tokens WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("row")
    }

    fn outbox_row(conn: &Connection, kind: &str, status: &str, body: &str) -> i64 {
        conn.execute(
            "INSERT INTO outbox (kind, recipients, subject, body_text, message_id, status, next_attempt_at, created_at)
             VALUES (?1, '[\"ann@acme.test\"]', 's', ?3, ?4, ?2, 0, 0)",
            params![kind, status, body, random_hex(8).expect("random")],
        )
        .expect("outbox row");
        conn.last_insert_rowid()
    }

    fn body_of(conn: &Connection, id: i64) -> String {
        conn.query_row("SELECT body_text FROM outbox WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("body")
    }

    fn link(token: &str) -> String {
        format!("Choose it here:\n\nhttps://p.test/password/setup?token={token}\n\nBye")
    }

    fn links(token: &str) -> String {
        format!("https://p.test/password/setup?token={token}\n").repeat(6)
    }

    #[test]
    fn reserve_then_mint_stores_only_the_hash_and_a_second_mint_overwrites_it() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(dir.path());
        let conn = store.conn();
        let id = reserve(conn, "ann@acme.test", NOW, 72).expect("reserve");
        let reserved = hash_of(conn, id);
        assert!(reserved.starts_with("reserved:"), "{reserved}");
        let expires: i64 = conn
            .query_row(
                "SELECT expires_at FROM password_tokens WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("expires");
        assert_eq!(expires, NOW.0 + 72 * HOUR, "a pending link from the start");

        let later = NOW.plus_secs(600);
        let token = mint(conn, Some(id), "ann@acme.test", later, 72).expect("mint");
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        assert_eq!(hash_of(conn, id), sha256_hex(token.as_bytes()));
        let (created, expires): (i64, i64) = conn
            .query_row(
                "SELECT created_at, expires_at FROM password_tokens WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("times");
        assert_eq!(
            (created, expires),
            (later.0, later.0 + 72 * HOUR),
            "from sending"
        );

        let again = mint(conn, Some(id), "ann@acme.test", later, 72).expect("mint");
        assert_ne!(again, token);
        assert_eq!(
            hash_of(conn, id),
            sha256_hex(again.as_bytes()),
            "only the last link works"
        );
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM password_tokens", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 1);
    }

    #[test]
    fn mint_makes_a_fresh_row_for_a_used_missing_or_unknown_one() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(dir.path());
        let conn = store.conn();
        let id = reserve(conn, "ann@acme.test", NOW, 72).expect("reserve");
        conn.execute("UPDATE password_tokens SET used_at = 1 WHERE id = ?1", [id])
            .expect("use");
        let row = outbox_row(conn, "password_setup", "pending", &link(TOKEN_PLACEHOLDER));
        let t1 = mint_for_outbox(conn, row, Some(id), "ann@acme.test", NOW, 72).expect("mint");
        let fresh: i64 = conn
            .query_row("SELECT token_id FROM outbox WHERE id = ?1", [row], |r| {
                r.get(0)
            })
            .expect("token_id");
        assert_ne!(fresh, id, "a used row is never reused");
        assert_eq!(hash_of(conn, fresh), sha256_hex(t1.as_bytes()));
        // The resend of that row overwrites the fresh row, makes no third.
        let t2 = mint_for_outbox(conn, row, Some(fresh), "ann@acme.test", NOW, 72).expect("mint");
        assert_eq!(hash_of(conn, fresh), sha256_hex(t2.as_bytes()));
        let t3 = mint(conn, None, "ann@acme.test", NOW, 72).expect("mint");
        assert_ne!(t3, t2);
        let t4 = mint(conn, Some(9999), "ann@acme.test", NOW, 72).expect("mint");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM password_tokens", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 4, "used, fresh, and one each for None and a gone row");
        assert!(!t4.is_empty());
        assert!(matches!(
            mint(conn, None, "nobody@acme.test", NOW, 72),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn the_placeholder_is_filled_only_after_the_link_path() {
        let body = format!(
            "{TOKEN_PLACEHOLDER} stays\n{}\n",
            placeholder_link("https://p.test")
        );
        assert!(has_placeholder(&body));
        let filled = fill_placeholder(&body, "abc123");
        assert_eq!(
            filled,
            format!("{TOKEN_PLACEHOLDER} stays\nhttps://p.test/password/setup?token=abc123\n")
        );
        assert!(!has_placeholder(&filled));
        assert!(!has_placeholder("no link here"));
    }

    #[test]
    fn scrub_replaces_tokens_in_pending_and_sent_rows_and_leaves_other_kinds() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = store(dir.path());
        let (pending_token, sent_token, other_token) =
            ("ab".repeat(32), "cd".repeat(32), "ef".repeat(32));
        let tx = store.write().expect("tx");
        let old = mint(&tx, None, "ann@acme.test", NOW, 72).expect("mint");
        // The pending row's token is the one that row's token row hashes.
        let pending = outbox_row(&tx, "password_setup", "pending", &link(&old));
        let failed = outbox_row(&tx, "password_setup", "failed", &link(&pending_token));
        let sent = outbox_row(&tx, "password_setup", "sent", &link(&sent_token));
        let other = outbox_row(&tx, "ticket_updated", "pending", &link(&other_token));
        let queued = outbox_row(&tx, "password_setup", "pending", &link(TOKEN_PLACEHOLDER));
        assert_eq!(scrub_outbox_tokens(&tx).expect("scrub"), 3);
        assert_eq!(body_of(&tx, pending), link(TOKEN_PLACEHOLDER));
        assert_eq!(body_of(&tx, failed), link(TOKEN_PLACEHOLDER));
        assert_eq!(body_of(&tx, sent), link(NOT_KEPT));
        assert_eq!(body_of(&tx, other), link(&other_token), "not a setup mail");
        assert_eq!(body_of(&tx, queued), link(TOKEN_PLACEHOLDER));
        // The old token no longer opens anything; the row waits for a mint.
        let (token_id, hash): (i64, String) = tx
            .query_row(
                "SELECT o.token_id, p.token_hash FROM outbox o JOIN password_tokens p ON p.id = o.token_id WHERE o.id = ?1",
                [pending],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("linked");
        assert!(hash.starts_with("reserved:"), "{hash}");
        let gone: i64 = tx
            .query_row(
                "SELECT count(*) FROM password_tokens WHERE token_hash = ?1",
                [sha256_hex(old.as_bytes())],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(gone, 0);
        let secure: i64 = tx
            .query_row("PRAGMA secure_delete", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(secure, 0, "restored");
        assert_eq!(scrub_outbox_tokens(&tx).expect("again"), 0, "idempotent");
        tx.commit().expect("commit");
        assert!(token_id > 0);
    }

    #[test]
    fn opening_a_version_4_database_scrubs_old_links_out_of_its_files() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let (pending_token, sent_token) = ("0a".repeat(32), "1b".repeat(32));
        {
            let conn = Connection::open(&path).expect("db");
            conn.execute_batch("PRAGMA journal_mode = WAL;")
                .expect("wal");
            for sql in [
                include_str!("migrations/0001_init.sql"),
                include_str!("migrations/0002_imap.sql"),
                include_str!("migrations/0003_delivery.sql"),
                include_str!("migrations/0004_indexes.sql"),
            ] {
                conn.execute_batch(sql).expect("migration");
            }
            conn.pragma_update(None, "user_version", 4)
                .expect("version");
            conn.execute(
                "INSERT INTO users (email, role, created_at) VALUES ('ann@acme.test', 'member', 0)",
                [],
            )
            .expect("user");
            conn.execute(
                "INSERT INTO password_tokens (user_id, token_hash, created_at, expires_at) VALUES (1, ?1, 0, 9999999999)",
                [sha256_hex(pending_token.as_bytes())],
            )
            .expect("token");
            // Links early in long bodies that shrink a lot: without
            // secure_delete, the start of each old record would stay on its page.
            outbox_row(&conn, "password_setup", "pending", &links(&pending_token));
            outbox_row(&conn, "password_setup", "sent", &links(&sent_token));
        }
        let before = std::fs::read(&path).expect("bytes");
        let find =
            |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(find(&before, &pending_token), "the test would see a token");

        let store = Store::open(&path, Duration::from_secs(5), Durability::Normal).expect("open");
        assert_eq!(body_of(store.conn(), 1), links(TOKEN_PLACEHOLDER));
        assert_eq!(body_of(store.conn(), 2), links(NOT_KEPT));
        for file in ["t.db", "t.db-wal", "t.db-shm"] {
            let Ok(bytes) = std::fs::read(dir.path().join(file)) else {
                continue;
            };
            for t in [&pending_token, &sent_token] {
                assert!(!find(&bytes, t), "{file} still holds {t}");
            }
        }
    }
}
