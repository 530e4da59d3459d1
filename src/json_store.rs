//! One JSON file as a store: `users.json`, the GitHub records, and any store like them.
//!
//! Reads are cheap: [`JsonStore::snapshot`] keeps the parsed file and re-reads it only when
//! the file's identity (inode, links, size, times) changes, and
//! [`JsonStore::cached_if_current`] answers from memory after one `fstat` of the handle the
//! value was read from (none within [`FRESHNESS_WINDOW`] of the last look). Every change
//! goes through [`JsonStore::update`]: an advisory lock for the whole read-modify-write,
//! temporary files of killed writers removed, an atomic write, and a commit wait, so that
//! the first look after the writer returns sees the change. A file that does not parse is
//! [`Error::Corrupt`] with its line, and is never overwritten.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil::{make_private, temp_prefix, write_atomic, FileLock};

/// How long the open handle alone vouches for the file before its path is checked again.
/// (A whole folder swapped for another leaves the old file linked, so only the path shows
/// it.)
const PATH_RECHECK: Duration = Duration::from_secs(1);

/// How long one look at the file vouches for it: requests within this window of the last
/// `fstat` reuse its answer, so a busy server checks the file about once a millisecond
/// rather than on every request. Changes are still seen on the very next request, because
/// every writer in this crate (the CLI, the API, another server on the same home) waits
/// [`COMMIT_WAIT`] after writing before it returns; edits by other programs (an editor,
/// llms.py) are seen within this window.
pub const FRESHNESS_WINDOW: Duration = Duration::from_millis(1);

/// How long [`JsonStore::update`] waits after writing: longer than [`FRESHNESS_WINDOW`],
/// so that no look at the file taken before the write can still vouch for it once the
/// writer has returned (a commit wait).
pub const COMMIT_WAIT: Duration = Duration::from_millis(2);

/// What a store may hold: a JSON value with an empty default (the missing file).
pub trait Document:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + Send + Sync + 'static
{
}

impl<T> Document for T where
    T: Serialize + DeserializeOwned + Default + Clone + PartialEq + Send + Sync + 'static
{
}

/// What identifies one version of the file on disk. `nlinks` drops when the file is
/// replaced (renamed over) or deleted, which is how an open handle notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileSignature {
    dev: u64,
    ino: u64,
    nlinks: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileSignature {
    fn of(meta: &fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            nlinks: meta.nlink(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }

    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    fn of_stat(st: &rustix::fs::Stat) -> Self {
        let ns = |secs: i64, nsec: u64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        Self {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlinks: st.st_nlink as u64,
            size: st.st_size as u64,
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as u64),
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as u64),
        }
    }
}

/// A parsed version of the file: the signature it was read at (None: no file), the open
/// handle it was read from, when its path was last checked, and when the file was last
/// seen unchanged. Both instants are taken before the look they record.
#[derive(Debug)]
struct Cached<T> {
    signature: Option<FileSignature>,
    value: Arc<T>,
    handle: Option<fs::File>,
    path_checked: Instant,
    checked: Instant,
}

/// A JSON file holding one `T`: locked, atomic, never overwritten when it does not parse.
#[derive(Debug)]
pub struct JsonStore<T> {
    path: PathBuf,
    lock_path: PathBuf,
    /// What the file is, for warnings ("user store").
    what: &'static str,
    cache: Mutex<Option<Cached<T>>>,
    generation: AtomicU64,
    /// Set once a failure to make the store private was logged.
    permissions_warned: AtomicBool,
}

impl<T: Document> JsonStore<T> {
    /// The store in the file `path`, locked through `path.lock` beside it; `what` names it
    /// in warnings.
    pub fn at(path: PathBuf, what: &'static str) -> Self {
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        Self {
            path,
            lock_path,
            what,
            cache: Mutex::new(None),
            generation: AtomicU64::new(0),
            permissions_warned: AtomicBool::new(false),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The advisory lock file held around every read-modify-write.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<Cached<T>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads and parses the file now. A missing file is the empty default; a file that
    /// does not parse is [`Error::Corrupt`]. Blocking.
    pub fn load(&self) -> Result<T> {
        match fs::read(&self.path) {
            Ok(bytes) => parse_json(&self.path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    /// The current value, re-read only when the file changed since the last call.
    /// Blocking (a `stat`, and a read when changed).
    pub fn snapshot(&self) -> Result<Arc<T>> {
        let started = Instant::now();
        let signature = match fs::metadata(&self.path) {
            Ok(meta) => Some(FileSignature::of(&meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        if let Some(cached) = self.cache().as_mut().filter(|c| c.signature == signature) {
            cached.path_checked = started;
            cached.checked = started;
            return Ok(cached.value.clone());
        }
        let (value, signature, handle) = self.read_version()?;
        let value = Arc::new(value);
        // The generation moves first: a reader that sees the new value also sees that what
        // it derived from the old one must be checked again.
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.cache() = Some(Cached {
            signature,
            value: value.clone(),
            handle,
            path_checked: started,
            checked: started,
        });
        Ok(value)
    }

    /// Opens the file and reads it through that handle, so the signature taken from the
    /// handle describes exactly the bytes parsed.
    fn read_version(&self) -> Result<(T, Option<FileSignature>, Option<fs::File>)> {
        let mut file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((T::default(), None, None))
            }
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let meta = file.metadata().map_err(|e| Error::io(&self.path, e))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| Error::io(&self.path, e))?;
        let value = parse_json(&self.path, &bytes)?;
        Ok((value, Some(FileSignature::of(&meta)), Some(file)))
    }

    /// How many times [`JsonStore::snapshot`] has (re-)read the file: it changes whenever
    /// a change to the file has been seen.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the file changed since the last [`JsonStore::snapshot`] (one `stat`).
    pub fn changed_since_snapshot(&self) -> bool {
        let signature = fs::metadata(&self.path)
            .ok()
            .map(|meta| FileSignature::of(&meta));
        self.cache()
            .as_ref()
            .is_none_or(|c| c.signature != signature)
    }

    /// The cached value when the file has not changed since it was read; `None` when it
    /// changed, its path is due for a check, or nothing is cached yet (then call
    /// [`JsonStore::snapshot`]). Costs at most one `fstat` of the handle the value was read
    /// from (a replaced or deleted file has lost its link, an edited one its size or
    /// times), and nothing when the last look is younger than [`FRESHNESS_WINDOW`].
    pub fn cached_if_current(&self) -> Option<Arc<T>> {
        let now = Instant::now();
        let mut cache = self.cache();
        let cached = cache.as_mut()?;
        if now.saturating_duration_since(cached.path_checked) >= PATH_RECHECK {
            return None;
        }
        if now.saturating_duration_since(cached.checked) < FRESHNESS_WINDOW {
            return Some(cached.value.clone());
        }
        let current = match &cached.handle {
            Some(handle) => Some(FileSignature::of_stat(&rustix::fs::fstat(handle).ok()?)),
            // No file yet: only its path can show it appearing.
            None => match fs::metadata(&self.path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                _ => return None,
            },
        };
        if current != cached.signature {
            return None;
        }
        cached.checked = now;
        Some(cached.value.clone())
    }

    /// Read-modify-write under the store's advisory lock. `change` sees the current value;
    /// when it returns `Ok` and changed something, the file is written atomically and made
    /// private, and the call returns [`COMMIT_WAIT`] later, when every reader's next look
    /// will see the change. When it returns `Err`, nothing is written. Blocking.
    pub fn update<R>(&self, change: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
        let lock = FileLock::acquire(&self.lock_path)?;
        self.remove_orphaned_temp_files();
        let before = self.load()?;
        let mut value = before.clone();
        let result = change(&mut value)?;
        if value != before {
            write_atomic(&self.path, &to_pretty_json(&value)?)?;
            self.make_private();
            // This process's own readers need not wait for their window to pass.
            *self.cache() = None;
            drop(lock);
            std::thread::sleep(COMMIT_WAIT);
        }
        Ok(result)
    }

    /// Makes the store's folder 0700 and the file 0600 when they are open to others (files
    /// written by llms.py are 0644 in a 0755 folder). Called when the server starts and
    /// after every write; a failure (a folder owned by someone else, say) is logged once,
    /// never fatal. Blocking.
    pub fn make_private(&self) {
        let folder = self.path.parent().unwrap_or(Path::new("."));
        for path in [folder, self.path.as_path()] {
            match make_private(path) {
                Ok(true) => {
                    tracing::info!(path = %path.display(), "permissions tightened: no access for group and others")
                }
                Ok(false) => {}
                Err(e) => {
                    if !self.permissions_warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, store = self.what, "cannot make the store private; other local users may read it");
                    }
                }
            }
        }
    }

    /// Removes this file's temporary files left by a writer that was killed mid-write.
    /// Only called with the lock held, so no live writer owns one; other files' temporary
    /// files in the same folder are theirs, and left alone.
    fn remove_orphaned_temp_files(&self) {
        let (Some(dir), Some(prefix)) = (self.path.parent(), temp_prefix(&self.path)) else {
            return;
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Parses a store's bytes, reporting the first problem with its line and column.
pub fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        // The position is said once, by the error itself, not again by the parser's text.
        let text = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        Error::Corrupt {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: text.strip_suffix(&position).unwrap_or(&text).to_owned(),
        }
    })
}

/// A store's bytes as the reference writes them: 2-space indented JSON and a newline.
pub fn to_pretty_json(value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Internal(anyhow::anyhow!("serializing a store: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use indexmap::IndexMap;
    use serde_json::Value;

    type Doc = IndexMap<String, Value>;

    fn store() -> (tempfile::TempDir, JsonStore<Doc>) {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::at(dir.path().join("credentials/users.json"), "test store");
        (dir, store)
    }

    fn other(store: &JsonStore<Doc>) -> JsonStore<Doc> {
        JsonStore::at(store.path().to_owned(), "test store")
    }

    /// Adds the key `name` through `store`'s read-modify-write.
    fn write(store: &JsonStore<Doc>, name: &str) {
        store
            .update(|doc| {
                doc.insert(name.into(), Value::from(1));
                Ok(())
            })
            .unwrap()
    }

    #[test]
    fn written_file_is_private_and_indented() {
        let (_dir, store) = store();
        write(&store, "a");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(store.path().parent().unwrap()), 0o700);
        assert_eq!(
            fs::read_to_string(store.path()).unwrap(),
            "{\n  \"a\": 1\n}\n"
        );
    }

    #[test]
    fn corrupt_file_is_reported_and_left_alone() {
        let (_dir, store) = store();
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        let broken = "{\n  \"admin\": {\n    \"password_hash\": \"x\",,\n  }\n}";
        fs::write(store.path(), broken).unwrap();
        let err = store.load().unwrap_err();
        match &err {
            Error::Corrupt { line, .. } => assert_eq!(*line, 3),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(err.to_string().contains("users.json"), "{err}");
        // The position is said once.
        assert_eq!(err.to_string().matches("line 3").count(), 1, "{err}");
        assert!(!err.to_string().contains(" at line "), "{err}");
        let result = store.update(|doc| {
            doc.clear();
            Ok(())
        });
        assert!(result.is_err());
        assert!(store.snapshot().is_err(), "never taken as empty");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), broken);
    }

    #[test]
    fn failed_change_writes_nothing() {
        let (_dir, store) = store();
        let result: Result<()> = store.update(|doc| {
            doc.insert("a".into(), Value::Null);
            Err(Error::bad_request("no"))
        });
        assert!(result.is_err());
        assert!(!store.path().exists());
    }

    #[test]
    fn an_unchanged_value_is_not_written() {
        let (_dir, store) = store();
        write(&store, "a");
        let before = fs::metadata(store.path()).unwrap().ino();
        store.update(|_| Ok(())).unwrap();
        assert_eq!(fs::metadata(store.path()).unwrap().ino(), before);
    }

    #[test]
    fn orphaned_temp_files_of_this_store_only_are_removed() {
        let (_dir, store) = store();
        write(&store, "a");
        let dir = store.path().parent().unwrap();
        let mine = dir.join(format!("{}abc123", temp_prefix(store.path()).unwrap()));
        let theirs = dir.join(format!(
            "{}abc123",
            temp_prefix(&dir.join("keys.json")).unwrap()
        ));
        fs::write(&mine, "half").unwrap();
        fs::write(&theirs, "in flight").unwrap();
        write(&store, "b");
        assert!(!mine.exists(), "a killed writer's temporary file stays");
        assert!(
            theirs.exists(),
            "another store's temporary file was removed"
        );
    }

    #[test]
    fn snapshot_sees_external_changes_and_counts_generations() {
        let (_dir, store) = store();
        assert!(store.snapshot().unwrap().is_empty());
        let generation = store.generation();
        write(&other(&store), "a");
        assert!(store.changed_since_snapshot());
        assert_eq!(store.snapshot().unwrap().len(), 1);
        assert!(store.generation() > generation);
        assert!(!store.changed_since_snapshot());
    }

    #[test]
    fn the_open_handle_notices_replacement_edits_and_deletion() {
        let (_dir, store) = store();
        write(&store, "a");
        assert_eq!(store.snapshot().unwrap().len(), 1);
        assert!(
            store.cached_if_current().is_some(),
            "unchanged file: cached"
        );
        // Replaced by another writer (rename over it).
        write(&other(&store), "b");
        assert!(store.cached_if_current().is_none(), "replacement seen");
        assert_eq!(store.snapshot().unwrap().len(), 2);
        // Edited in place (same inode).
        let mut text = fs::read_to_string(store.path()).unwrap();
        text.push('\n');
        fs::OpenOptions::new()
            .write(true)
            .open(store.path())
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        // Other programs' edits are seen once the last look is older than the window.
        std::thread::sleep(FRESHNESS_WINDOW);
        assert!(store.cached_if_current().is_none(), "in-place edit seen");
        store.snapshot().unwrap();
        // A second name for the file (a backup's hard link), then a replacement.
        fs::hard_link(store.path(), store.path().with_extension("bak")).unwrap();
        std::thread::sleep(FRESHNESS_WINDOW);
        assert!(
            store.cached_if_current().is_none(),
            "link count change seen"
        );
        store.snapshot().unwrap();
        write(&other(&store), "c");
        assert!(
            store.cached_if_current().is_none(),
            "replacement of a linked file seen"
        );
        assert_eq!(store.snapshot().unwrap().len(), 3);
        // Deleted.
        fs::remove_file(store.path()).unwrap();
        std::thread::sleep(FRESHNESS_WINDOW);
        assert!(store.cached_if_current().is_none(), "deletion seen");
        assert!(store.snapshot().unwrap().is_empty());
        assert!(store.cached_if_current().is_some(), "still absent: cached");
    }

    /// The commit wait: whatever another writer changes is seen by the first look after
    /// its `update` returned, even when this reader looked just before the write.
    #[test]
    fn a_change_is_seen_by_the_first_look_after_the_writer_returns() {
        let (_dir, store) = store();
        let writer = other(&store);
        for i in 0..30 {
            let name = format!("user{i}");
            store.snapshot().unwrap();
            assert!(store.cached_if_current().is_some(), "just looked: cached");
            write(&writer, &name);
            match store.cached_if_current() {
                Some(doc) => assert!(doc.contains_key(&name), "round {i}: stale value"),
                None => assert!(store.snapshot().unwrap().contains_key(&name)),
            }
        }
    }

    /// Within the window, a look is reused without touching the file; the store's own
    /// writes are seen at once.
    #[test]
    fn a_recent_look_vouches_for_the_file_and_own_writes_are_seen_at_once() {
        let (_dir, store) = store();
        write(&store, "a");
        assert_eq!(store.snapshot().unwrap().len(), 1);
        // Deleted behind the store's back, and looked at again at once: still vouched for
        // by the look just taken (an editor's change is seen within the window).
        fs::remove_file(store.path()).unwrap();
        let within = store.cached_if_current();
        std::thread::sleep(FRESHNESS_WINDOW);
        assert!(store.cached_if_current().is_none(), "deletion seen");
        if let Some(doc) = within {
            assert_eq!(doc.len(), 1);
        }
        write(&store, "b");
        assert!(store.cached_if_current().is_none(), "own write: reread");
        assert_eq!(store.snapshot().unwrap().len(), 1);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (_dir, store) = store();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = store.path().to_owned();
                std::thread::spawn(move || {
                    let store: JsonStore<Doc> = JsonStore::at(path, "test store");
                    for i in 0..10 {
                        write(&store, &format!("u{t}_{i}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load().unwrap().len(), 80);
    }
}
