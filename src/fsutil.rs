//! Private folders and atomic file writes: the only way this crate puts bytes on disk.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Creates `dir` and any missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

/// Takes the group's and others' permissions away from an existing file or folder (a
/// `users.json` written by llms.py is 0644 in a 0755 folder: 0600 and 0700 here). Returns
/// whether the mode changed; a missing `path` is left alone.
pub fn make_private(path: &Path) -> Result<bool> {
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o077))
        .map_err(|e| Error::io(path, e))?;
    Ok(true)
}

/// How the temporary files of [`write_atomic`] to `path` begin: `.tmp-<file name>-`, so
/// that a store can tell its own leftovers from another file's in the same folder.
pub fn temp_prefix(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    Some(format!(".tmp-{name}-"))
}

/// Writes `bytes` to `path` so that readers see either the old file or the new one, never
/// a part: a temporary file in the same folder (mode 0600, named by [`temp_prefix`]),
/// fsync, rename, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Config(format!("{} has no parent folder", path.display())))?;
    let prefix = temp_prefix(path)
        .ok_or_else(|| Error::Config(format!("{} has no file name", path.display())))?;
    create_private_dir(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    temp.write_all(bytes)
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Opens (creating if needed, mode 0600) a file for appending.
pub fn open_append_private(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Holds an exclusive advisory lock on a lock file for as long as it lives.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until the exclusive lock on `path` (created 0600 if missing) is held.
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(Self { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn make_private_takes_group_and_other_permissions_away() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("credentials");
        let file = folder.join("users.json");
        fs::create_dir(&folder).unwrap();
        fs::write(&file, "{}").unwrap();
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();

        assert!(make_private(&file).unwrap());
        assert!(make_private(&folder).unwrap());
        assert_eq!((mode(&folder), mode(&file)), (0o700, 0o600));
        // Already private, or missing: nothing to do.
        assert!(!make_private(&file).unwrap());
        assert!(!make_private(&folder.join("missing")).unwrap());
        // Owner bits are kept as they are.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
        assert!(make_private(&file).unwrap());
        assert_eq!(mode(&file), 0o400);
    }
}
