//! The session store: tokens in cookies, one file per session under
//! `credentials/sessions/`, named by the SHA-256 of the token (never the token itself).
//!
//! Files are read lazily: a session is loaded from disk the first time its token is seen, so
//! start-up reads nothing and lookups stay constant-time however many sessions exist. The
//! cache is re-checked against the disk whenever the user store changes (the CLI deletes the
//! files of the sessions it ends, then rewrites users.json).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsutil::{create_private_dir, make_private, write_atomic, FileLock};
use crate::time::now_secs;

mod cache;

use cache::SessionCache;

/// The cookie that carries the session token.
pub const COOKIE_NAME: &str = "llms-token";

/// Length of a token: 32 bytes in URL-safe base64 without padding.
pub const TOKEN_LEN: usize = 43;

/// How stale the last-seen time on disk may get before it is rewritten.
const LAST_SEEN_PERSIST_INTERVAL: f64 = 300.0;

/// A session token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    /// 32 fresh bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts exactly 43 characters of `[A-Za-z0-9_-]`; anything else is no token.
    pub fn parse(value: &str) -> Option<Self> {
        is_token_shaped(value).then(|| Self(value.to_owned()))
    }

    /// The key of the token `value`, if it is one: [`SessionToken::parse`] followed by
    /// [`SessionToken::key`], without keeping a copy of the token.
    pub fn key_of(value: &str) -> Option<SessionKey> {
        is_token_shaped(value).then(|| SessionKey::of(value))
    }

    /// The token text, for the `Set-Cookie` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the session is stored under.
    pub fn key(&self) -> SessionKey {
        SessionKey::of(&self.0)
    }
}

fn is_token_shaped(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SHA-256 of a token: names the session file and keys the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey([u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}..)", &self.hex()[..8])
    }
}

impl SessionKey {
    fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Lowercase hex, the file's name without extension.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    fn from_file_name(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".json")?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(stem, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

/// What a session file holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// The signed-in user.
    #[serde(rename = "userName")]
    pub username: String,
    /// The provider that signed the user in.
    #[serde(default)]
    pub provider: String,
    /// Unix seconds of the sign-in.
    pub created: f64,
    /// Unix seconds of the last request seen (persisted at most every few minutes).
    #[serde(rename = "lastSeen", default)]
    pub last_seen: f64,
    /// Client address at sign-in.
    #[serde(rename = "clientIp", default)]
    pub client_ip: String,
    /// User agent at sign-in.
    #[serde(rename = "userAgent", default)]
    pub user_agent: String,
}

/// A live session found for a token.
#[derive(Debug, Clone)]
pub struct FoundSession {
    /// The session's key.
    pub key: SessionKey,
    /// The signed-in user.
    pub username: String,
    /// The provider that signed the user in.
    pub provider: String,
}

/// Sessions in memory and on disk.
#[derive(Debug)]
pub struct SessionStore {
    dir: PathBuf,
    max_age: Duration,
    cache: RwLock<SessionCache>,
    /// The user store's lock file: every process ends sessions while holding it, so the
    /// last-seen rewrite takes it too and can never bring back a file just removed.
    store_lock: Option<PathBuf>,
    /// Serialises this process's changes to session files (rewrite versus removal).
    mutations: Mutex<()>,
    /// Last-seen times due to be written.
    due: Mutex<DueLastSeen>,
}

/// Last-seen times waiting to be written, and whether a writer is at work. One blocking
/// task writes them all: when many sessions come due at once (a busy server five minutes
/// after a restart), the rewrites take one thread, not every thread of the pool.
#[derive(Debug, Default)]
struct DueLastSeen {
    sessions: Vec<(SessionKey, f64)>,
    writing: bool,
}

impl SessionStore {
    /// The sessions kept in `dir`, each valid for `max_age` after sign-in.
    pub fn new(dir: PathBuf, max_age: Duration) -> Self {
        Self {
            dir,
            max_age,
            cache: RwLock::new(SessionCache::default()),
            store_lock: None,
            mutations: Mutex::new(()),
            due: Mutex::default(),
        }
    }

    /// Takes `lock_path` (the user store's lock file) around last-seen rewrites.
    pub fn with_store_lock(mut self, lock_path: PathBuf) -> Self {
        self.store_lock = Some(lock_path);
        self
    }

    fn mutations(&self) -> std::sync::MutexGuard<'_, ()> {
        self.mutations.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn due(&self) -> std::sync::MutexGuard<'_, DueLastSeen> {
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The folder the session files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, key: &SessionKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    /// Whether a session created at `created` (Unix seconds) is over at `now`; a time
    /// more than five minutes ahead is taken as forged.
    fn is_expired(&self, created: f64, now: f64) -> bool {
        !(created.is_finite() && now - created < self.max_age.as_secs_f64())
            || created > now + 300.0
    }

    /// Starts a session for `username` and writes its file. Blocking.
    pub fn create(
        &self,
        username: &str,
        provider: &str,
        client_ip: &str,
        user_agent: &str,
    ) -> Result<SessionToken> {
        let token = SessionToken::generate();
        let now = now_secs();
        let record = SessionRecord {
            username: username.to_owned(),
            provider: provider.to_owned(),
            created: now,
            last_seen: now,
            client_ip: client_ip.to_owned(),
            user_agent: user_agent.chars().take(512).collect(),
        };
        let key = token.key();
        write_atomic(&self.path_of(&key), &to_json(&record)?)?;
        self.write_cache().insert(key, &record, 0, now);
        Ok(token)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, SessionCache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, SessionCache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The live session of `token`, or `None`. `generation` is the user store's reload
    /// count: a cached session verified at an older generation is checked against the disk
    /// again. Expired sessions are removed. Does blocking I/O only on a cache miss or after
    /// a store change, on the blocking pool.
    pub async fn find(
        self: &Arc<Self>,
        key: SessionKey,
        generation: u64,
    ) -> Result<Option<FoundSession>> {
        let now = now_secs();
        let cached = self.read_cache().get(&key, now, generation);
        let hit = match cached {
            Some(hit) if hit.verified => hit,
            Some(hit) => {
                let path = self.path_of(&key);
                let exists = tokio::task::spawn_blocking(move || path.exists()).await?;
                if !exists {
                    self.write_cache().remove(&key);
                    return Ok(None);
                }
                self.read_cache().mark_verified(&key, generation);
                hit
            }
            None => {
                let store = self.clone();
                let loaded = tokio::task::spawn_blocking(move || store.read_file(&key)).await??;
                match loaded {
                    Some(record) => self.write_cache().insert(key, &record, generation, now),
                    None => return Ok(None),
                }
            }
        };
        if self.is_expired(hit.created, now) {
            let store = self.clone();
            tokio::task::spawn_blocking(move || store.remove(&key)).await??;
            return Ok(None);
        }
        if hit.rewrite {
            self.queue_last_seen(key, now);
        }
        Ok(Some(hit.found))
    }

    /// Queues the rewrite of `key`'s last-seen time as `now`, and starts the writer unless
    /// one is at work.
    fn queue_last_seen(self: &Arc<Self>, key: SessionKey, now: f64) {
        let mut due = self.due();
        due.sessions.push((key, now));
        if !due.writing {
            due.writing = true;
            let store = self.clone();
            tokio::task::spawn_blocking(move || store.write_due_last_seen());
        }
    }

    /// Writes queued last-seen times until none is left. Blocking.
    fn write_due_last_seen(&self) {
        loop {
            let batch = {
                let mut due = self.due();
                if due.sessions.is_empty() {
                    due.writing = false;
                    return;
                }
                std::mem::take(&mut due.sessions)
            };
            for (key, now) in batch {
                self.persist_last_seen(&key, now);
            }
        }
    }

    /// Reads a session file: `None` when missing, unreadable as a session, or expired (an
    /// expired or broken file is removed).
    fn read_file(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let path = self.path_of(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        match serde_json::from_slice::<SessionRecord>(&bytes) {
            Ok(record) if !self.is_expired(record.created, now_secs()) => Ok(Some(record)),
            Ok(_) => {
                let _ = fs::remove_file(&path);
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "removing an unreadable session file");
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    /// Rewrites the session file with the last-seen time `now`, unless the session ended in
    /// the meantime (never resurrects a deleted file from this process's view). Every other
    /// field of the file, ones this crate does not know included, is kept as it is.
    fn persist_last_seen(&self, key: &SessionKey, now: f64) {
        let _store_lock = match &self.store_lock {
            Some(path) => match FileLock::acquire(path) {
                Ok(lock) => Some(lock),
                Err(e) => {
                    tracing::warn!(error = %e, "could not record a session's last-seen time");
                    return;
                }
            },
            None => None,
        };
        let _mutations = self.mutations();
        if !self.read_cache().contains(key) {
            return;
        }
        let path = self.path_of(key);
        // A file gone or no longer a session is left to the next lookup or sweep.
        let Ok(bytes) = fs::read(&path) else {
            return;
        };
        let Ok(mut fields) = serde_json::from_slice::<Map<String, Value>>(&bytes) else {
            return;
        };
        fields.insert("lastSeen".to_owned(), Value::from(now));
        let written = to_json(&fields).and_then(|bytes| write_atomic(&path, &bytes));
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record a session's last-seen time");
        }
    }

    /// Ends one session. Blocking.
    pub fn remove(&self, key: &SessionKey) -> Result<()> {
        let _mutations = self.mutations();
        self.write_cache().remove(key);
        remove_if_present(&self.path_of(key))
    }

    /// Ends every session of `username` except `keep`, in memory and on disk; returns how
    /// many files were removed. Blocking: scans the session folder.
    pub fn remove_user(&self, username: &str, keep: Option<SessionKey>) -> Result<usize> {
        let _mutations = self.mutations();
        self.write_cache()
            .retain(|key, user, _| user != username || Some(*key) == keep);
        let mut removed = 0;
        self.for_each_file(|key, path, record| {
            if Some(key) != keep && record.is_some_and(|r| r.username == username) {
                remove_if_present(path)?;
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    /// Removes expired (and unreadable) session files and cached entries; returns how many
    /// files were removed. Blocking: scans the session folder.
    pub fn sweep(&self) -> Result<usize> {
        let now = now_secs();
        self.write_cache()
            .retain(|_, _, created| !self.is_expired(created, now));
        let mut removed = 0;
        self.for_each_file(|key, path, record| {
            let dead = record.is_none_or(|r| self.is_expired(r.created, now));
            if dead {
                let _mutations = self.mutations();
                self.write_cache().remove(&key);
                remove_if_present(path)?;
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    /// How many sessions are held in memory.
    pub fn cached_len(&self) -> usize {
        self.read_cache().len()
    }

    fn for_each_file(
        &self,
        mut visit: impl FnMut(SessionKey, &Path, Option<SessionRecord>) -> Result<()>,
    ) -> Result<()> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(SessionKey::from_file_name) else {
                continue;
            };
            let path = entry.path();
            let record = match fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes).ok(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            visit(key, &path, record)?;
        }
        Ok(())
    }

    /// Creates the session folder (0700).
    pub fn ensure_dir(&self) -> Result<()> {
        create_private_dir(&self.dir)
    }

    /// Makes an existing session folder 0700 when it is open to others (llms.py leaves
    /// it 0755), as [`crate::json_store::JsonStore::make_private`] does for the user store.
    /// Called when the server starts; a failure is logged, never fatal. Blocking.
    pub fn make_private(&self) {
        match make_private(&self.dir) {
            Ok(true) => {
                tracing::info!(path = %self.dir.display(), "permissions tightened: no access for group and others")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot make the session folder private; other local users may see who has sessions")
            }
        }
    }
}

fn to_json(session: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(session)
        .map_err(|e| Error::Internal(anyhow::anyhow!("serializing a session: {e}")))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Arc<SessionStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SessionStore::new(
            dir.path().join("sessions"),
            Duration::from_secs(30 * 86400),
        ));
        (dir, store)
    }

    #[test]
    fn token_shape() {
        let token = SessionToken::generate();
        assert_eq!(token.expose().len(), TOKEN_LEN);
        assert!(SessionToken::parse(token.expose()).is_some());
        for bad in [
            "",
            "../users",
            &"a".repeat(42),
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &format!("{}/", "a".repeat(42)),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[tokio::test]
    async fn file_is_named_by_hash_and_survives_a_new_store() {
        let (dir, store) = store();
        let token = store
            .create("alice", "credentials", "127.0.0.1", "test")
            .unwrap();
        let files: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, [format!("{}.json", token.key().hex())]);
        assert!(!files[0].contains(token.expose()));

        let fresh = Arc::new(SessionStore::new(
            dir.path().join("sessions"),
            Duration::from_secs(30 * 86400),
        ));
        let found = fresh.find(token.key(), 0).await.unwrap().unwrap();
        assert_eq!(found.username, "alice");
        assert!(fresh
            .find(SessionToken::generate().key(), 0)
            .await
            .unwrap()
            .is_none());
    }

    /// Reads the last-seen time from the session's file.
    fn last_seen_on_disk(store: &SessionStore, key: &SessionKey) -> f64 {
        let bytes = fs::read(store.path_of(key)).unwrap();
        serde_json::from_slice::<SessionRecord>(&bytes)
            .unwrap()
            .last_seen
    }

    #[tokio::test]
    async fn a_stale_last_seen_time_is_rewritten_once() {
        let (_dir, store) = store();
        store.ensure_dir().unwrap();
        let key = hour_old_session(&store);
        let file = |store: &SessionStore| -> Value {
            serde_json::from_slice(&fs::read(store.path_of(&key)).unwrap()).unwrap()
        };
        let written = file(&store);
        let before = now_secs();
        assert_eq!(store.find(key, 0).await.unwrap().unwrap().username, "erin");
        // The rewrite runs on the blocking pool; wait for it.
        wait_for_last_seen(&store, &key, before).await;
        let rewritten = file(&store);
        for field in ["userName", "created", "theme"] {
            assert_eq!(rewritten[field], written[field], "{field} changed");
        }
        // Within the interval, further requests leave the file alone.
        for _ in 0..20 {
            store.find(key, 0).await.unwrap().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(file(&store), rewritten);
    }

    /// Writes a session file of "erin" signed in and last seen an hour ago, with a field
    /// this crate does not know (a rewrite must keep it).
    fn hour_old_session(store: &SessionStore) -> SessionKey {
        let key = SessionToken::generate().key();
        let hour_ago = now_secs() - 3600.0;
        let record = SessionRecord {
            username: "erin".into(),
            provider: "credentials".into(),
            created: hour_ago,
            last_seen: hour_ago,
            client_ip: String::new(),
            user_agent: String::new(),
        };
        let mut file = serde_json::to_value(&record).unwrap();
        file["theme"] = "dark".into();
        write_atomic(&store.path_of(&key), &to_json(&file).unwrap()).unwrap();
        key
    }

    /// Waits (up to 10 s) until `key`'s file says it was last seen at `since` or later.
    async fn wait_for_last_seen(store: &SessionStore, key: &SessionKey, since: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while last_seen_on_disk(store, key) < since {
            assert!(
                std::time::Instant::now() < deadline,
                "a due last-seen time was never written"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_sessions_due_at_once_are_all_rewritten_and_the_writer_comes_back() {
        let (_dir, store) = store();
        store.ensure_dir().unwrap();
        let keys: Vec<SessionKey> = (0..60).map(|_| hour_old_session(&store)).collect();
        let before = now_secs();
        let lookups: Vec<_> = keys
            .iter()
            .map(|&key| {
                let store = store.clone();
                tokio::spawn(async move { store.find(key, 0).await.unwrap().unwrap() })
            })
            .collect();
        for lookup in lookups {
            lookup.await.unwrap();
        }
        for key in &keys {
            wait_for_last_seen(&store, key, before).await;
        }
        // Once the writer has run dry, the next due session starts it again.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.due.lock().unwrap().writing {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never stopped"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let late = hour_old_session(&store);
        let before = now_secs();
        store.find(late, 0).await.unwrap().unwrap();
        wait_for_last_seen(&store, &late, before).await;
    }

    #[tokio::test]
    async fn expired_sessions_are_refused_and_removed() {
        let (_dir, store) = store();
        let token = SessionToken::generate();
        let record = SessionRecord {
            username: "old".into(),
            provider: "credentials".into(),
            created: now_secs() - 31.0 * 86400.0,
            last_seen: 0.0,
            client_ip: String::new(),
            user_agent: String::new(),
        };
        write_atomic(&store.path_of(&token.key()), &to_json(&record).unwrap()).unwrap();
        assert!(store.find(token.key(), 0).await.unwrap().is_none());
        assert!(!store.path_of(&token.key()).exists());
    }

    #[tokio::test]
    async fn external_deletion_is_seen_after_a_generation_change() {
        let (_dir, store) = store();
        let token = store.create("bob", "credentials", "", "").unwrap();
        assert!(store.find(token.key(), 1).await.unwrap().is_some());
        fs::remove_file(store.path_of(&token.key())).unwrap();
        assert!(
            store.find(token.key(), 1).await.unwrap().is_some(),
            "cached until the store changes"
        );
        assert!(store.find(token.key(), 2).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn remove_user_keeps_the_chosen_session() {
        let (_dir, store) = store();
        let a = store.create("carol", "credentials", "", "").unwrap();
        let b = store.create("carol", "credentials", "", "").unwrap();
        let other = store.create("dave", "credentials", "", "").unwrap();
        assert_eq!(store.remove_user("carol", Some(a.key())).unwrap(), 1);
        assert!(store.find(a.key(), 0).await.unwrap().is_some());
        assert!(store.find(b.key(), 0).await.unwrap().is_none());
        assert!(store.find(other.key(), 0).await.unwrap().is_some());
    }

    #[test]
    fn a_last_seen_rewrite_never_brings_back_a_removed_session() {
        for round in 0..40u64 {
            let (_dir, store) = store();
            let token = store.create("alice", "credentials", "", "").unwrap();
            let key = token.key();
            let writer = {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store.persist_last_seen(&key, now_secs());
                    }
                })
            };
            // Land the removal at a different moment of the rewrites each round.
            std::thread::sleep(Duration::from_micros(round * 97 % 3000));
            store.remove_user("alice", None).unwrap();
            writer.join().unwrap();
            assert!(
                !store.path_of(&key).exists(),
                "the removed session came back"
            );
        }
    }

    #[tokio::test]
    async fn sweep_removes_only_dead_files() {
        let (_dir, store) = store();
        let live = store.create("erin", "credentials", "", "").unwrap();
        let dead = SessionToken::generate();
        fs::write(store.path_of(&dead.key()), b"not json").unwrap();
        fs::write(store.dir().join("README"), b"not a session").unwrap();
        assert_eq!(store.sweep().unwrap(), 1);
        assert!(store.find(live.key(), 0).await.unwrap().is_some());
        assert!(store.dir().join("README").exists());
    }
}
