//! The user store: `credentials/users.json` in the reference's format.
//!
//! Reads are cheap: [`UserStore::snapshot`] keeps the parsed file and re-reads it only when
//! the file's identity (inode, size, times) changes, so the server sees changes made by the
//! CLI on the very next request. Every change goes through [`UserStore::update`], which holds
//! an advisory lock for the whole read-modify-write and writes atomically.

use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil::{make_private, write_atomic, FileLock};
use crate::time::now_secs;

/// The only role with a meaning.
pub const ADMIN_ROLE: &str = "Admin";

/// The lock reason recorded when an admin gives none.
pub const DEFAULT_LOCK_REASON: &str = "Account suspended";

/// The longest username accepted for a new account.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The longest username the sign-in form accepts, in bytes: more than
/// [`MAX_USERNAME_CHARS`], because an account written by hand or by llms.py may have a
/// longer name, and it can still sign in. Longer names are refused before any lookup or
/// hashing.
pub const MAX_SIGN_IN_NAME_BYTES: usize = 256;

/// One account, as stored in users.json. Unknown fields are kept in `extra`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Argon2id PHC string or the reference's `salt:sha256hex`.
    #[serde(default)]
    pub password_hash: String,
    /// Unix seconds when the account was created.
    #[serde(default)]
    pub created: f64,
    /// Role names; `"Admin"` is the only one with a meaning.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The lock reason; absent when the account is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<String>,
    /// Client address of the last sign-in.
    #[serde(rename = "lastIp", default, skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    /// Unix seconds of the last sign-in.
    #[serde(rename = "lastLogin", default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<f64>,
    /// Fields this crate does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("password_hash", &"<redacted>")
            .field("created", &self.created)
            .field("roles", &self.roles)
            .field("locked", &self.locked)
            .field("last_ip", &self.last_ip)
            .field("last_login", &self.last_login)
            .finish_non_exhaustive()
    }
}

impl User {
    /// A new account with this password hash, created now.
    pub fn new(password_hash: String, roles: Vec<String>) -> Self {
        Self {
            password_hash,
            created: now_secs(),
            roles,
            locked: None,
            last_ip: None,
            last_login: None,
            extra: Map::new(),
        }
    }

    /// Whether the account has the Admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }

    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.locked.as_deref().filter(|r| !r.is_empty())
    }
}

/// All accounts, keyed by username, in file order.
pub type Users = IndexMap<String, User>;

/// Checks the name of a new account: 1 to 64 characters from letters, digits and
/// `. _ @ -`, not starting with `.` or `-`. (Accounts already in the store are found by
/// their name as it is.)
pub fn validate_username(name: &str) -> Result<()> {
    let count = name.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if name.is_empty() {
        return Err(Error::bad_request("Username is required"));
    }
    if count > MAX_USERNAME_CHARS || !name.chars().all(allowed) || name.starts_with(['.', '-']) {
        let shown: String = name.chars().take(MAX_USERNAME_CHARS).collect();
        return Err(Error::bad_request(format!(
            "Invalid username '{}': use 1 to {MAX_USERNAME_CHARS} letters, digits and . _ @ -, not starting with . or -",
            shown.escape_default()
        )));
    }
    Ok(())
}

/// The default roles of a new account: `admin` is an Admin.
pub fn default_roles(username: &str) -> Vec<String> {
    if username == "admin" {
        vec![ADMIN_ROLE.to_owned()]
    } else {
        Vec::new()
    }
}

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

/// How long [`UserStore::update`] waits after writing: longer than [`FRESHNESS_WINDOW`], so
/// that no look at the file taken before the write can still vouch for it once the writer
/// has returned (a commit wait).
pub const COMMIT_WAIT: Duration = Duration::from_millis(2);

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

/// A parsed version of the store: the signature it was read at (None: no file), the open
/// handle it was read from, when its path was last checked, and when the file was last
/// seen unchanged. Both instants are taken before the look they record.
#[derive(Debug, Clone)]
struct Cached {
    signature: Option<FileSignature>,
    users: Arc<Users>,
    handle: Option<Arc<fs::File>>,
    path_checked: Instant,
    checked: Instant,
}

/// The users.json file: locked, atomic, never overwritten when it does not parse.
#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    lock_path: PathBuf,
    cache: Mutex<Option<Cached>>,
    generation: AtomicU64,
    /// Set once a failure to make the store private was logged.
    permissions_warned: AtomicBool,
}

impl UserStore {
    /// The store of `config`: `credentials/users.json`, or llms.py's own
    /// `user/default/credentials/users.json` when only that one exists.
    pub fn open(config: &Config) -> Self {
        Self::at(Self::resolve_path(config))
    }

    /// A store at an explicit path.
    pub fn at(path: PathBuf) -> Self {
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        Self {
            path,
            lock_path,
            cache: Mutex::new(None),
            generation: AtomicU64::new(0),
            permissions_warned: AtomicBool::new(false),
        }
    }

    /// Where the store of `config` lives (see [`UserStore::open`]).
    pub fn resolve_path(config: &Config) -> PathBuf {
        let own = config.credentials_dir().join("users.json");
        let legacy = config
            .home
            .join("user")
            .join("default")
            .join("credentials")
            .join("users.json");
        if !own.exists() && legacy.exists() {
            legacy
        } else {
            own
        }
    }

    /// A one-line notice when the store is llms.py's own file, for start-up output.
    pub fn location_notice(&self, config: &Config) -> Option<String> {
        (self.path != config.credentials_dir().join("users.json"))
            .then(|| format!("Using llms.py's user store at {}", self.path.display()))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The advisory lock file held around every read-modify-write.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Reads and parses the file now. A missing file is an empty store; a file that does
    /// not parse is [`Error::Corrupt`].
    pub fn load(&self) -> Result<Users> {
        match fs::read(&self.path) {
            Ok(bytes) => parse_users(&self.path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Users::new()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    /// The current users, re-read only when the file changed since the last call.
    /// Blocking (a `stat`, and a read when changed).
    pub fn snapshot(&self) -> Result<Arc<Users>> {
        let started = Instant::now();
        let signature = match fs::metadata(&self.path) {
            Ok(meta) => Some(FileSignature::of(&meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = cache.as_mut().filter(|c| c.signature == signature) {
                cached.path_checked = started;
                cached.checked = started;
                return Ok(cached.users.clone());
            }
        }
        let (users, signature, handle) = self.read_version()?;
        let users = Arc::new(users);
        // The generation moves first: a request that sees the new users also sees that the
        // cached sessions must be checked against the disk again.
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            signature,
            users: users.clone(),
            handle: handle.map(Arc::new),
            path_checked: started,
            checked: started,
        });
        Ok(users)
    }

    /// Opens the file and reads it through that handle, so the signature taken from the
    /// handle describes exactly the bytes parsed.
    fn read_version(&self) -> Result<(Users, Option<FileSignature>, Option<fs::File>)> {
        let mut file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Users::new(), None, None))
            }
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let meta = file.metadata().map_err(|e| Error::io(&self.path, e))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| Error::io(&self.path, e))?;
        let users = parse_users(&self.path, &bytes)?;
        Ok((users, Some(FileSignature::of(&meta)), Some(file)))
    }

    /// How many times [`UserStore::snapshot`] has (re-)read the file: it changes whenever
    /// a change to the file has been seen.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the file changed since the last [`UserStore::snapshot`] (cheap: one `stat`).
    pub fn changed_since_snapshot(&self) -> bool {
        let signature = fs::metadata(&self.path)
            .ok()
            .map(|meta| FileSignature::of(&meta));
        self.cached().is_none_or(|c| c.signature != signature)
    }

    /// The cached users when the file has not changed since they were read; `None` when
    /// it changed, its path is due for a check, or nothing is cached yet (then call
    /// [`UserStore::snapshot`]). Costs at most one `fstat` of the handle the users were read
    /// from (a replaced or deleted file has lost its link, an edited one its size or
    /// times), and nothing when the last look is younger than [`FRESHNESS_WINDOW`].
    pub fn cached_if_current(&self) -> Option<Arc<Users>> {
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let cached = cache.as_mut()?;
        if now.saturating_duration_since(cached.path_checked) >= PATH_RECHECK {
            return None;
        }
        if now.saturating_duration_since(cached.checked) < FRESHNESS_WINDOW {
            return Some(cached.users.clone());
        }
        let current = match &cached.handle {
            Some(handle) => Some(FileSignature::of_stat(
                &rustix::fs::fstat(handle.as_ref()).ok()?,
            )),
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
        Some(cached.users.clone())
    }

    fn cached(&self) -> Option<Cached> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read-modify-write under the store's advisory lock. `change` sees the current users;
    /// when it returns `Ok` and changed something, the file is written atomically, and the
    /// call returns [`COMMIT_WAIT`] later, when every reader's next look will see the
    /// change. When it returns `Err`, nothing is written. Blocking.
    pub fn update<T>(&self, change: impl FnOnce(&mut Users) -> Result<T>) -> Result<T> {
        let lock = FileLock::acquire(&self.lock_path)?;
        self.remove_orphaned_temp_files();
        let before = self.load()?;
        let mut users = before.clone();
        let value = change(&mut users)?;
        if users != before {
            write_atomic(&self.path, &serialize_users(&users)?)?;
            self.make_private();
            // This process's own readers need not wait for their window to pass.
            *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
            drop(lock);
            std::thread::sleep(COMMIT_WAIT);
        }
        Ok(value)
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
                        tracing::warn!(error = %e, "cannot make the user store private; other local users may read the password hashes");
                    }
                }
            }
        }
    }
}

impl UserStore {
    /// Removes temporary files left in the store's folder by a writer that was killed
    /// mid-write. Only called with the lock held, so no live writer owns one.
    fn remove_orphaned_temp_files(&self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Parses users.json, reporting the first problem with its line and column.
pub fn parse_users(path: &Path, bytes: &[u8]) -> Result<Users> {
    serde_json::from_slice::<Users>(bytes).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Writes users the way the reference does: 2-space indented JSON.
pub fn serialize_users(users: &Users) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(users)
        .map_err(|e| Error::Internal(anyhow::anyhow!("serializing users: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    const REFERENCE: &str = r#"{
  "admin": {
    "password_hash": "0123456789abcdef0123456789abcdef:00",
    "created": 1742034600.123456,
    "roles": [
      "Admin"
    ],
    "lastIp": "127.0.0.1",
    "lastLogin": 1742034700.5
  },
  "bob": {
    "password_hash": "fedcba9876543210fedcba9876543210:00",
    "created": 1742116500.0,
    "roles": [],
    "locked": "Account suspended",
    "theme": "dark"
  }
}"#;

    fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&Config::new(dir.path()));
        (dir, store)
    }

    /// Adds `name` (hash `x:y`) through `store`'s read-modify-write.
    fn write(store: &UserStore, name: &str) {
        store
            .update(|users| {
                users.insert(name.into(), User::new("x:y".into(), vec![]));
                Ok(())
            })
            .unwrap()
    }

    #[test]
    fn username_rules() {
        for ok in [
            "admin",
            "a",
            "alice.smith",
            "bob_2",
            "x@y.z",
            "A-b",
            &"a".repeat(64),
        ] {
            validate_username(ok).unwrap();
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a b",
            "../x",
            "a/b",
            "é",
            &"a".repeat(65),
            "a\n",
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn reference_file_round_trips_with_unknown_fields() {
        let (_dir, store) = store();
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        fs::write(store.path(), REFERENCE).unwrap();
        let users = store.load().unwrap();
        assert_eq!(users.keys().collect::<Vec<_>>(), ["admin", "bob"]);
        assert!(users["admin"].is_admin());
        assert_eq!(users["bob"].lock_reason(), Some("Account suspended"));
        assert_eq!(users["bob"].extra["theme"], "dark");

        store
            .update(|users| {
                users["admin"].last_ip = Some("10.0.0.1".into());
                Ok(())
            })
            .unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["bob"]["theme"], "dark");
        assert_eq!(value["admin"]["lastIp"], "10.0.0.1");
        assert_eq!(value["admin"]["created"], 1742034600.123456);
        assert!(
            value["admin"].get("locked").is_none(),
            "locked absent when active"
        );
        assert!(
            text.contains("\n  \"admin\": {\n    \"password_hash\""),
            "{text}"
        );
    }

    #[test]
    fn written_file_is_private() {
        let (_dir, store) = store();
        write(&store, "a");
        let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(store.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
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
        let result = store.update(|users| {
            users.clear();
            Ok(())
        });
        assert!(result.is_err());
        assert!(store.snapshot().is_err(), "never taken as 'no users'");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), broken);
    }

    #[test]
    fn failed_change_writes_nothing() {
        let (_dir, store) = store();
        let result: Result<()> = store.update(|users| {
            users.insert("a".into(), User::new("x:y".into(), vec![]));
            Err(Error::bad_request("no"))
        });
        assert!(result.is_err());
        assert!(!store.path().exists());
    }

    #[test]
    fn snapshot_sees_external_changes() {
        let (_dir, store) = store();
        assert!(store.snapshot().unwrap().is_empty());
        let other = UserStore::at(store.path().to_owned());
        write(&other, "a");
        assert!(store.changed_since_snapshot());
        assert_eq!(store.snapshot().unwrap().len(), 1);
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
        write(&UserStore::at(store.path().to_owned()), "b");
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
        write(&UserStore::at(store.path().to_owned()), "c");
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
        let writer = UserStore::at(store.path().to_owned());
        for i in 0..30 {
            let name = format!("user{i}");
            store.snapshot().unwrap();
            assert!(store.cached_if_current().is_some(), "just looked: cached");
            write(&writer, &name);
            match store.cached_if_current() {
                Some(users) => assert!(users.contains_key(&name), "round {i}: stale users"),
                None => assert!(store.snapshot().unwrap().contains_key(&name)),
            }
        }
    }

    /// Within the window, a look is reused without touching the file; the server's own
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
        if let Some(users) = within {
            assert_eq!(users.len(), 1);
        }
        write(&store, "b");
        assert!(store.cached_if_current().is_none(), "own write: reread");
        assert_eq!(store.snapshot().unwrap().len(), 1);
    }

    #[test]
    fn legacy_location_is_used_when_only_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let legacy = dir.path().join("user/default/credentials/users.json");
        fs::create_dir_all(legacy.parent().unwrap()).unwrap();
        fs::write(&legacy, "{}").unwrap();
        let store = UserStore::open(&config);
        assert_eq!(store.path(), legacy);
        assert!(store.location_notice(&config).unwrap().contains("llms.py"));
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = store.path().to_owned();
                std::thread::spawn(move || {
                    let store = UserStore::at(path);
                    for i in 0..10 {
                        store
                            .update(|users| {
                                users.insert(format!("u{t}_{i}"), User::new("x:y".into(), vec![]));
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load().unwrap().len(), 80);
    }

    #[test]
    fn debug_hides_the_hash() {
        let user = User::new("secret-hash".into(), vec![]);
        assert!(!format!("{user:?}").contains("secret-hash"));
    }
}
