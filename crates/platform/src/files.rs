//! Files only their owner may read: databases, the demo's registry and token, and the
//! directories the programs create for them (key files: [`crate::keyfile`]).
//!
//! Created with mode 0600 (directories 0700) from the start, never chmod-ed after
//! writing, so there is no moment at which another user could open them.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700. An existing directory is left
/// as it is (it may be shared on purpose).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `bytes` to `path`, mode 0600; an existing file is truncated and made 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)
}

/// Creates an empty `path` with mode 0600 when it does not exist (its directory 0700
/// when missing); an existing file is left alone. Used before SQLite opens a database,
/// which would create it with the umask's mode (SQLite gives its `-wal` and `-shm`
/// files the database's own mode).
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            create_private_dir(dir)?;
        }
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("data/sub/kakunin.db");
        ensure_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&tmp.path().join("data/sub")), 0o700);
        let token = tmp.path().join("token.txt");
        std::fs::write(&token, "old").unwrap();
        write_private(&token, b"new").unwrap();
        assert_eq!(mode(&token), 0o600);
        assert_eq!(std::fs::read(&token).unwrap(), b"new");
    }
}
