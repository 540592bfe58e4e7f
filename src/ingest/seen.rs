//! How a processed mail is remembered: by Message-ID (or raw hash), with a
//! digest of its body, so a redelivery is a duplicate and a different mail
//! reusing the id is not.

use rusqlite::Connection;

use crate::attachments::sha256_hex;
use crate::store::apply::SeenKey;
use crate::store::{snapshot, StoreError};

/// Whether a mail was processed already, and the key it is remembered by.
pub(super) enum Recall {
    /// Not seen: process it. `true` when its Message-ID was seen on a
    /// different mail (then the key carries the body digest too).
    Fresh(SeenKey, bool),
    /// Processed before under this key.
    Duplicate(snapshot::Seen, String),
}

/// Looks the mail up by its key. The same Message-ID with a different body
/// is another mail: it gets a key of its own. A replay forgets the earlier
/// record (the entry it replays was that record's outcome).
pub(super) fn recall(
    conn: &Connection,
    key: String,
    digest: Option<String>,
    replay: bool,
) -> Result<Recall, StoreError> {
    let mut key = SeenKey { key, digest };
    let mut reused = false;
    if let Some(seen) = snapshot::seen(conn, &key.key)? {
        match (&seen.digest, &key.digest) {
            (Some(theirs), Some(ours)) if theirs != ours => {
                reused = true;
                key.key = format!("{}#{}", key.key, &ours[..16.min(ours.len())]);
                if let Some(again) = snapshot::seen(conn, &key.key)? {
                    if !replay {
                        return Ok(Recall::Duplicate(again, key.key));
                    }
                }
            }
            _ if !replay => return Ok(Recall::Duplicate(seen, key.key)),
            _ => {}
        }
    }
    if replay {
        conn.prepare_cached("DELETE FROM seen WHERE key = ?1")?
            .execute([&key.key])?;
    }
    Ok(Recall::Fresh(key, reused))
}

/// SHA-256 of the body (what follows the header block): the same mail
/// delivered twice has the same body, whatever headers relays added.
pub(super) fn body_digest(text: &[u8]) -> String {
    let start = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(0);
    sha256_hex(&text[start..])
}
