//! A file written whole or not at all, readable by ticketd alone: a
//! temporary `.NAME.PID.tmp` beside it, created 0600 whatever the umask,
//! fsynced, then renamed over. Attachments and the OAuth2 refresh token are
//! written this way; a crash leaves either the old file or the new one,
//! never half of one (and at worst a stale `.tmp`, which the attachment
//! sweeper removes).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Whether the rename itself must survive a power cut (the folder fsynced
/// too), or a lost rename is recoverable (an attachment: the raw mail in
/// the database can rebuild it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rename {
    Synced,
    Unsynced,
}

/// Writes `parts`, in order, as the new content of `path`.
pub fn write(path: &Path, parts: &[&[u8]], rename: Rename) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // `mode` only applies to a new file: make sure of a stale one too.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if rename == Rename::Synced {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_content_replaces_the_old_whole_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"old content, longer").expect("old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("644");
        write(&path, &[b"new", b"\n"], Rename::Synced).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A path whose folder does not exist: nothing is written.
        let path = dir.path().join("missing").join("f");
        assert!(write(&path, &[b"x"], Rename::Unsynced).is_err());
        assert!(!path.exists());
    }
}
