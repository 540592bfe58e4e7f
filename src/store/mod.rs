//! The SQLite edge: opening (WAL, busy timeout, foreign keys, migrations),
//! the snapshot a decision needs, applying a decision, and the queries the
//! CLI shows. Every write happens inside a transaction the caller owns.

pub mod accounts;
pub mod apply;
pub mod assign;
pub mod console;
pub mod desk;
pub mod error;
pub mod housekeeping;
pub mod imap_state;
pub mod notify;
pub mod outbox;
pub mod portal;
pub mod queries;
pub mod search;
pub mod search_feed;
pub mod snapshot;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

pub use error::StoreError;

/// Numbered migrations, applied in order; `user_version` records the last.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_imap.sql"),
    include_str!("migrations/0003_delivery.sql"),
    include_str!("migrations/0004_indexes.sql"),
    include_str!("migrations/0005_trust.sql"),
    include_str!("migrations/0006_arrival.sql"),
    include_str!("migrations/0007_portal.sql"),
    include_str!("migrations/0008_assignee.sql"),
    include_str!("migrations/0009_search.sql"),
    include_str!("migrations/0010_facets.sql"),
    include_str!("migrations/0011_preview.sql"),
    include_str!("migrations/0012_search_deferred.sql"),
    include_str!("migrations/0013_outbox_layout.sql"),
];

/// A database of the real schema in memory, up to migration `upto`, with
/// one member, ann@acme.test (user 1), for the store's own tests.
#[cfg(test)]
pub(crate) fn memory_schema(upto: usize) -> Connection {
    let conn = Connection::open_in_memory().expect("memory db");
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .expect("foreign keys");
    for sql in &MIGRATIONS[..upto] {
        conn.execute_batch(sql).expect("migration");
    }
    conn.execute(
        "INSERT INTO users (email, role, created_at) VALUES ('ann@acme.test', 'member', 0)",
        [],
    )
    .expect("user");
    conn
}

/// [`memory_schema`] with every migration.
#[cfg(test)]
pub(crate) fn memory_db() -> Connection {
    memory_schema(MIGRATIONS.len())
}

/// Bytes of the database file a connection reads through a memory map:
/// address space, not memory (the kernel's page cache holds the pages,
/// shared by every connection); past it SQLite reads as usual.
const MMAP_BYTES: u64 = 1 << 30;

/// KiB of page cache per connection (SQLite's default is 2 MiB): the pages
/// that are not mapped (the WAL's, temporary b-trees) stay warm.
const CACHE_KIB: u64 = 16 * 1024;

/// WAL pages the mailbox worker lets gather before a checkpoint (see
/// [`Store::tune_for_batches`]).
pub const BATCH_CHECKPOINT_PAGES: u32 = 10_000;

/// KiB of page cache for the mailbox worker's connection (see
/// [`Store::tune_for_batches`]): bounded, so memory stays flat whatever
/// the size of the database.
const BATCH_CACHE_KIB: u64 = 8 * 1024;

/// How hard a commit tries to survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: an MTA pipe answers "delivered" right after.
    Full,
    /// fsync at checkpoints (WAL): safe against process crashes; batches use it
    /// together with an explicit checkpoint before acknowledging the mailbox.
    Normal,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(
        path: &Path,
        busy_timeout: Duration,
        durability: Durability,
    ) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                what: format!("create the database folder {}", dir.display()),
                source: e,
            })?;
        }
        if !path.exists() {
            // Customers' mail: readable by ticketd alone, whatever the umask
            // (SQLite gives its -wal and -shm files the same mode).
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => Ok(std::fs::File::open(path)?),
                    _ => Err(e),
                })
                .map_err(|e| StoreError::Io {
                    what: format!("create the database {}", path.display()),
                    source: e,
                })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
        conn.busy_timeout(busy_timeout)
            .map_err(|e| StoreError::open(path, e))?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
        ))
        .map_err(|e| StoreError::open(path, e))?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Tunes a connection that serves pages (the portal's and the desk's
    /// database threads): reads map the file (`mmap_size`, up to
    /// MMAP_BYTES) instead of copying each page with a `pread` into the
    /// connection's own cache — under the desk's load those copies, their
    /// system calls and the page cache's locks were a quarter of the
    /// database threads' time (docs/desk-bench.md) — and a larger cache
    /// keeps the rest warm. Not for the mailbox worker: a mapped page counts
    /// as the process's resident memory, which must stay flat whatever the
    /// size of the database. Writes go through the WAL either way.
    pub fn tune_for_pages(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(&format!(
            "PRAGMA mmap_size = {MMAP_BYTES}; PRAGMA cache_size = -{CACHE_KIB};"
        ))?;
        Ok(())
    }

    /// Tunes the mailbox worker's connection, which commits a batch of up to
    /// 8 MiB of mail at a time.
    ///
    /// SQLite copies the WAL into the database (a checkpoint, with an fsync)
    /// once the WAL passes [`BATCH_CHECKPOINT_PAGES`] rather than its
    /// default 1,000 (4 MiB). At the default nearly every batch paid for a
    /// checkpoint, and the pages every batch touches (the tickets' indexes)
    /// were copied each time; ten times fewer checkpoints copy each such
    /// page once where they copied it ten times. In `cargo bench --bench
    /// daemon` (10,000 messages) the commits took 1.3 s instead of 2.0 s.
    /// The WAL stays under about 40 MiB on disk.
    ///
    /// Its page cache is [`BATCH_CACHE_KIB`]: a batch's dirty pages (its
    /// raw mail, texts and index pages) fit, so few are spilled to the WAL
    /// before the commit and written again at the commit. At SQLite's
    /// default 2 MiB, spills took 9 % of the writer's time under perf at
    /// 10,000 messages, and reading back pages pushed out 8 %; at 8 MiB, 2 %
    /// and 6 %.
    pub fn tune_for_batches(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {BATCH_CHECKPOINT_PAGES}; PRAGMA cache_size = -{BATCH_CACHE_KIB};"
        ))?;
        Ok(())
    }

    /// Opens the database a config names, with its busy timeout.
    pub fn from_config(
        cfg: &crate::config::StoreConfig,
        durability: Durability,
    ) -> Result<Store, StoreError> {
        Store::open(
            &cfg.path,
            Duration::from_millis(cfg.busy_timeout_ms),
            durability,
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        // Two processes may start at once: take the write lock, then re-check.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        // Schema 5 keeps password tokens out of outbox bodies: scrub older ones.
        let scrubbed = if version < 5 {
            tokens::scrub_outbox_tokens(&tx)?
        } else {
            0
        };
        tx.commit()?;
        if scrubbed > 0 {
            tokens::flush_scrubbed(&self.conn);
        }
        Ok(())
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a write transaction that holds the write lock from the start,
    /// so the snapshot a decision reads cannot change before it is applied.
    pub fn write(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Writes a consistent copy of the live database to `dest` (`VACUUM
    /// INTO`: one read transaction, so writers carry on meanwhile), then
    /// checks the copy. `dest` must not exist.
    pub fn backup(&self, dest: &Path) -> Result<u64, StoreError> {
        if dest.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists: choose a new file name (a backup never overwrites)",
                dest.display()
            )));
        }
        let target = dest.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("{} is not a UTF-8 path", dest.display()))
        })?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        {
            use std::os::unix::fs::PermissionsExt;
            // A copy of customers' mail: as private as the original.
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| StoreError::Io {
                    what: format!("make the backup {} private (0600)", dest.display()),
                    source: e,
                },
            )?;
        }
        let copy = Connection::open_with_flags(dest, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::open(dest, e))?;
        let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Invalid(format!(
                "the copy at {} fails its integrity check: {check}",
                dest.display()
            )));
        }
        let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        Ok(size)
    }

    /// The secret behind reply-address MACs, generated on first use.
    pub fn hmac_secret(&mut self) -> Result<Vec<u8>, StoreError> {
        let tx = self.write()?;
        let existing: Option<Vec<u8>> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'hmac_secret'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let secret = match existing {
            Some(s) => s,
            None => {
                let mut s = vec![0u8; 32];
                getrandom::fill(&mut s).map_err(|e| StoreError::Random(e.to_string()))?;
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('hmac_secret', ?1)",
                    [&s],
                )?;
                s
            }
        };
        tx.commit()?;
        Ok(secret)
    }

    /// Makes the configured agents agents (creating their accounts).
    pub fn sync_agents(&mut self, agents: &[String], now: i64) -> Result<(), StoreError> {
        if agents.is_empty() {
            return Ok(());
        }
        let tx = self.write()?;
        for a in agents {
            tx.execute(
                "INSERT INTO users (email, role, created_at, base_email) VALUES (?1, 'agent', ?2, ?3)
                 ON CONFLICT(email) DO UPDATE SET role = 'agent' WHERE role <> 'agent'",
                rusqlite::params![a, now, crate::domain::address::base_address(a)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
