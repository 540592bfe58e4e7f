//! What can go wrong at the SQLite edge, and whether trying again can help.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this ticketd knows ({known}): run the newer ticketd or restore a backup")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database is busy: another process held the write lock longer than store.busy_timeout_ms; the mail was not taken and can be retried")]
    Busy,
    #[error("disk or database full ({0}): free space, then retry; the mail was not taken")]
    Full(String),
    /// The work was interrupted (shutdown): rolled back, to be done again.
    #[error("interrupted: ticketd is stopping; the work was rolled back and is done again at the next start")]
    Interrupted,
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A password link's token is unknown, used or expired (the portal
    /// answers "this link has expired or was used; ask for a new one").
    #[error("this link has expired or was used; ask for a new one")]
    TokenInvalid,
}

impl StoreError {
    pub fn open(path: &Path, source: rusqlite::Error) -> StoreError {
        match StoreError::from(source) {
            StoreError::Sqlite(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            other => other,
        }
    }

    /// Whether the same work may succeed later (the MTA should retry: exit 75).
    pub fn is_temporary(&self) -> bool {
        match self {
            StoreError::Busy | StoreError::Full(_) | StoreError::Interrupted => true,
            StoreError::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput
            ),
            StoreError::Open { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::DatabaseBusy)
            ),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
            Some(rusqlite::ErrorCode::OperationInterrupted) => StoreError::Interrupted,
            _ => StoreError::Sqlite(e),
        }
    }
}
