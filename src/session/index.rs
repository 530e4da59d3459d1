//! The index of each account's sessions: `sessions/by-user/<account>/<key>`, one empty
//! marker per session, so that ending, counting and listing an account's sessions reads
//! one small folder instead of every session file.
//!
//! `<account>` is 32 hex digits of the SHA-256 of the provider's name, NUL, and the
//! username; `<key>` is the session's key in hex. A marker is written before its session
//! file and removed after it, so a crash in between leaves a marker without a session
//! (which the sweep removes), never a session the index does not know. A session folder
//! from before the index is indexed once, on first need; `by-user/.ready` says it was.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SessionKey;
use crate::error::{Error, Result};
use crate::fsutil::create_private_dir;

/// The file that says every session of the folder has its marker.
const READY: &str = ".ready";

/// The `by-user` folder of one session folder.
#[derive(Debug)]
pub(super) struct Index {
    root: PathBuf,
}

impl Index {
    /// The index of the session folder `sessions`.
    pub fn of(sessions: &Path) -> Self {
        Self {
            root: sessions.join("by-user"),
        }
    }

    fn account_dir(&self, provider: &str, user_name: &str) -> PathBuf {
        let digest = Sha256::new()
            .chain_update(provider.as_bytes())
            .chain_update([0])
            .chain_update(user_name.as_bytes())
            .finalize();
        self.root.join(hex::encode(&digest[..16]))
    }

    /// Whether every session of the folder is indexed.
    pub fn is_ready(&self) -> bool {
        self.root.join(READY).exists()
    }

    /// Records that every session of the folder is indexed.
    pub fn mark_ready(&self) -> Result<()> {
        create_private_dir(&self.root)?;
        let path = self.root.join(READY);
        fs::write(&path, b"").map_err(|e| Error::io(path, e))
    }

    /// Adds the marker of `key` to the account's folder.
    pub fn add(&self, provider: &str, user_name: &str, key: &SessionKey) -> Result<()> {
        let dir = self.account_dir(provider, user_name);
        create_private_dir(&dir)?;
        let path = dir.join(key.hex());
        fs::write(&path, b"").map_err(|e| Error::io(path, e))
    }

    /// Removes the marker of `key`, and the account's folder once it is empty.
    pub fn remove(&self, provider: &str, user_name: &str, key: &SessionKey) -> Result<()> {
        let dir = self.account_dir(provider, user_name);
        remove_file_if_present(&dir.join(key.hex()))?;
        // Fails while other markers remain, which is what it should do.
        let _ = fs::remove_dir(&dir);
        Ok(())
    }

    /// The keys of the account's sessions (some may have ended since: a marker outlives
    /// its session only until the sweep).
    pub fn keys(&self, provider: &str, user_name: &str) -> Result<Vec<SessionKey>> {
        read_keys(&self.account_dir(provider, user_name))
    }

    /// Removes the markers whose session is gone (`live` says which are not), and empty
    /// account folders; returns how many markers were removed.
    pub fn sweep(&self, live: impl Fn(&SessionKey) -> bool) -> Result<usize> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            for key in read_keys(&dir)? {
                if !live(&key) {
                    remove_file_if_present(&dir.join(key.hex()))?;
                    removed += 1;
                }
            }
            let _ = fs::remove_dir(&dir);
        }
        Ok(removed)
    }
}

fn read_keys(dir: &Path) -> Result<Vec<SessionKey>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some(key) = entry.file_name().to_str().and_then(SessionKey::from_hex) {
            keys.push(key);
        }
    }
    Ok(keys)
}

pub(super) fn remove_file_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SessionKey {
        SessionKey([n; 32])
    }

    #[test]
    fn markers_are_kept_per_account_and_swept_when_their_session_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::of(dir.path());
        assert!(!index.is_ready());
        index.add("credentials", "alice", &key(1)).unwrap();
        index.add("credentials", "alice", &key(2)).unwrap();
        index.add("github_auth", "alice", &key(3)).unwrap();
        let mut keys = index.keys("credentials", "alice").unwrap();
        keys.sort_by_key(|k| k.0);
        assert_eq!(keys, [key(1), key(2)]);
        assert_eq!(index.keys("github_auth", "alice").unwrap(), [key(3)]);
        assert!(index.keys("credentials", "bob").unwrap().is_empty());
        index.remove("credentials", "alice", &key(1)).unwrap();
        assert_eq!(index.keys("credentials", "alice").unwrap(), [key(2)]);
        assert_eq!(index.sweep(|k| *k != key(2)).unwrap(), 1);
        assert!(index.keys("credentials", "alice").unwrap().is_empty());
        assert_eq!(index.keys("github_auth", "alice").unwrap(), [key(3)]);
        index.mark_ready().unwrap();
        assert!(index.is_ready());
    }
}
