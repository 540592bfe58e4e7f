//! Attachment files on disk, named by the SHA-256 of their content
//! (`ab/cdef…`): the same file mailed twice is stored once, and no name a
//! customer chose ever reaches the filesystem.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use crate::domain::digest::sha256_hex;

#[derive(Debug, Clone)]
pub struct AttachmentDir {
    root: PathBuf,
}

impl AttachmentDir {
    pub fn new(root: &Path) -> AttachmentDir {
        AttachmentDir {
            root: root.to_owned(),
        }
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let (a, rest) = sha256.split_at(sha256.len().min(2));
        self.root.join(a).join(rest)
    }

    /// Deletes a file retention no longer keeps (already gone is fine).
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path_of(sha256)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Stores `data` under its hash (already computed by the caller). The
    /// raw mail in the database stays the source of truth, so a file lost to
    /// a power cut can be rebuilt from it.
    pub fn store(&self, sha256: &str, data: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.path_of(sha256);
        if path.exists() {
            return Ok(path);
        }
        let dir = path.parent().unwrap_or(&self.root);
        // Customers' files: readable by ticketd alone, whatever the umask.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // On disk before the transaction that names it commits; a lost
        // rename is rebuilt from the raw mail in the database.
        crate::private_file::write(&path, &[data], crate::private_file::Rename::Unsynced)?;
        Ok(path)
    }
}

impl AttachmentDir {
    /// Removes half-written files (`.NAME.PID.tmp`) older than `age`: what a
    /// process killed between write and rename leaves (the mail itself is
    /// safe: its transaction never committed, so it is fetched again).
    /// Returns how many went.
    pub fn remove_stale_tmp(&self, age: Duration) -> std::io::Result<usize> {
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return Ok(0); // no attachments yet
        };
        let cutoff = SystemTime::now() - age;
        let mut removed = 0;
        for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
            for entry in std::fs::read_dir(dir.path())?.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !(name.starts_with('.') && name.ends_with(".tmp")) {
                    continue;
                }
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < cutoff);
                if old && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = AttachmentDir::new(dir.path());
        let h = sha256_hex(b"hello");
        assert_eq!(
            h,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let p1 = a.store(&h, b"hello").expect("stored");
        let p2 = a.store(&h, b"hello").expect("stored again");
        assert_eq!(p1, p2);
        assert_eq!(p1, dir.path().join("2c").join(&h[2..]));
        assert_eq!(std::fs::read(p1).expect("read"), b"hello");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p2).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn half_written_files_are_cleaned_up_once_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = AttachmentDir::new(dir.path());
        a.store(&sha256_hex(b"x"), b"x").expect("stored");
        let sub = dir.path().join("2d");
        std::fs::create_dir_all(&sub).expect("dir");
        std::fs::write(sub.join(".abc.123.tmp"), b"half").expect("tmp");
        assert_eq!(
            a.remove_stale_tmp(Duration::from_secs(3600)).expect("ok"),
            0,
            "too young"
        );
        assert_eq!(a.remove_stale_tmp(Duration::ZERO).expect("ok"), 1);
        assert!(a.path_of(&sha256_hex(b"x")).exists(), "real files stay");
    }
}
