//! The refresh token file: read it, and replace it atomically (a temporary
//! file beside it, 0600 from the start, fsynced, renamed over) so a crash
//! never leaves half a token and no other user ever can read one.

use std::path::Path;

use crate::config::Secret;

/// The token, without surrounding white space; `Err` says why there is none.
pub fn read_token(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(Secret(token.to_owned()))
}

/// Replaces the file's content with `token` (and a newline), mode 0600.
pub fn write_token(path: &Path, token: &Secret) -> Result<(), String> {
    if path.file_name().is_none() {
        return Err("the path names no file".into());
    }
    crate::private_file::write(
        path,
        &[token.0.as_bytes(), b"\n"],
        crate::private_file::Rename::Synced,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_rewritten_token_file_is_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imap.refresh");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_token(&path, &Secret("new-token".into())).unwrap();
        assert_eq!(read_token(&path).unwrap(), Secret("new-token".into()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        assert!(read_token(&dir.path().join("missing")).is_err());
        std::fs::write(&path, " \n").unwrap();
        assert_eq!(read_token(&path), Err("the file is empty".into()));
    }
}
