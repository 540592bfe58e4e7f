-- ticketd schema v2: where the daemon is in each IMAP folder.

-- The folder's UIDVALIDITY and the highest UID whose message is committed.
CREATE TABLE imap_state (
    folder       TEXT PRIMARY KEY,
    uid_validity INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL
) WITHOUT ROWID;

-- Moves owed: messages committed in the same transaction as this row, not
-- yet moved out of the folder. A crash between commit and move leaves the
-- row; the next session moves the message instead of ingesting it again.
CREATE TABLE imap_moves (
    folder       TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    destination  TEXT NOT NULL,
    PRIMARY KEY (folder, uid_validity, uid)
) WITHOUT ROWID;
