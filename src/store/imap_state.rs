//! Where the daemon stands in an IMAP folder: its UIDVALIDITY, the last UID
//! committed, and the moves it still owes.

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// What the database remembers of a folder, checked against the server's
/// UIDVALIDITY: under another one, old UIDs mean nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub last_uid: u32,
    /// The stored UIDVALIDITY differed (or the folder is new to us).
    pub reset_from: Option<u32>,
}

/// Reads the folder's state; when the server's UIDVALIDITY differs from
/// the stored one, forgets the old UIDs (owed moves too) and starts from 0:
/// messages seen before are then recognised as duplicates, never doubled.
pub fn open_folder(
    conn: &Connection,
    folder: &str,
    uid_validity: u32,
) -> Result<FolderState, StoreError> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT uid_validity, last_uid FROM imap_state WHERE folder = ?1",
            [folder],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((v, last)) if v == i64::from(uid_validity) => Ok(FolderState {
            last_uid: u32::try_from(last).unwrap_or(0),
            reset_from: None,
        }),
        other => {
            conn.execute(
                "INSERT INTO imap_state (folder, uid_validity, last_uid) VALUES (?1, ?2, 0)
                 ON CONFLICT(folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = 0",
                params![folder, uid_validity],
            )?;
            conn.execute(
                "DELETE FROM imap_moves WHERE folder = ?1 AND uid_validity <> ?2",
                params![folder, uid_validity],
            )?;
            Ok(FolderState {
                last_uid: 0,
                reset_from: other.and_then(|(v, _)| u32::try_from(v).ok()),
            })
        }
    }
}

/// Inside the batch's transaction: the messages are committed up to `last_uid`,
/// and each owes a move to its destination.
pub fn record_batch(
    conn: &Connection,
    folder: &str,
    uid_validity: u32,
    moves: &[(u32, &str)],
) -> Result<(), StoreError> {
    let mut ins = conn.prepare_cached(
        "INSERT OR REPLACE INTO imap_moves (folder, uid_validity, uid, destination) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (uid, dest) in moves {
        ins.execute(params![folder, uid_validity, uid, dest])?;
    }
    if let Some(max) = moves.iter().map(|(u, _)| *u).max() {
        conn.prepare_cached(
            "UPDATE imap_state SET last_uid = max(last_uid, ?3) WHERE folder = ?1 AND uid_validity = ?2",
        )?
        .execute(params![folder, uid_validity, max])?;
    }
    Ok(())
}

/// The moves still owed in a folder: (uid, destination), by UID.
pub fn owed_moves(
    conn: &Connection,
    folder: &str,
    uid_validity: u32,
) -> Result<Vec<(u32, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT uid, destination FROM imap_moves WHERE folder = ?1 AND uid_validity = ?2 ORDER BY uid",
    )?;
    let rows = stmt.query_map(params![folder, uid_validity], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The moves are done (or the messages are gone).
pub fn moves_done(
    conn: &Connection,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
) -> Result<(), StoreError> {
    let mut del = conn.prepare_cached(
        "DELETE FROM imap_moves WHERE folder = ?1 AND uid_validity = ?2 AND uid = ?3",
    )?;
    for uid in uids {
        del.execute(params![folder, uid_validity, uid])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("dir");
        let s = Store::open(
            &dir.path().join("t.db"),
            std::time::Duration::from_secs(1),
            Durability::Normal,
        )
        .expect("store");
        (dir, s)
    }

    #[test]
    fn a_changed_uidvalidity_forgets_old_uids_and_owed_moves() {
        let (_d, s) = store();
        let c = s.conn();
        assert_eq!(open_folder(c, "INBOX", 7).expect("open").last_uid, 0);
        record_batch(c, "INBOX", 7, &[(3, "Processed"), (4, "Failed")]).expect("record");
        let again = open_folder(c, "INBOX", 7).expect("open");
        assert_eq!(
            again,
            FolderState {
                last_uid: 4,
                reset_from: None
            }
        );
        assert_eq!(owed_moves(c, "INBOX", 7).expect("owed").len(), 2);
        moves_done(c, "INBOX", 7, &[3]).expect("done");
        assert_eq!(
            owed_moves(c, "INBOX", 7).expect("owed"),
            [(4, "Failed".to_string())]
        );

        let reset = open_folder(c, "INBOX", 9).expect("open");
        assert_eq!(
            reset,
            FolderState {
                last_uid: 0,
                reset_from: Some(7)
            }
        );
        assert!(owed_moves(c, "INBOX", 7).expect("owed").is_empty());
    }
}
