//! [`SessionStore`]: sessions in memory and on disk.
//!
//! Files are read lazily: a session is loaded from disk the first time its token is seen, so
//! start-up reads nothing and lookups stay constant-time however many sessions exist. The
//! cache is re-checked against the disk whenever the user store changes (the CLI deletes the
//! files of the sessions it ends, then rewrites users.json). Each account's sessions are
//! found through the index (`by-user/`), never by reading the whole folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::cache::SessionCache;
use super::index::{remove_file_if_present, Index};
use super::{FoundSession, SessionKey, SessionRecord, SessionToken, MAX_SESSIONS_PER_ACCOUNT};
use crate::error::{Error, Result};
use crate::fsutil::{create_private_dir, make_private, write_atomic, FileLock};
use crate::time::{now_secs, now_secs_coarse};

/// Sessions in memory and on disk.
#[derive(Debug)]
pub struct SessionStore {
    dir: PathBuf,
    max_age: Duration,
    cache: RwLock<SessionCache>,
    index: Index,
    /// Set once the index is known to hold every session of the folder.
    indexed: AtomicBool,
    /// The user store's lock file: every process ends password accounts' sessions while
    /// holding it, so the last-seen rewrite takes it too and can never bring back a file
    /// just removed.
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
pub(super) struct DueLastSeen {
    sessions: Vec<(SessionKey, f64)>,
    pub(super) writing: bool,
}

impl SessionStore {
    /// The sessions kept in `dir`, each valid for `max_age` after sign-in.
    pub fn new(dir: PathBuf, max_age: Duration) -> Self {
        Self {
            index: Index::of(&dir),
            dir,
            max_age,
            cache: RwLock::new(SessionCache::default()),
            indexed: AtomicBool::new(false),
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

    pub(super) fn due(&self) -> std::sync::MutexGuard<'_, DueLastSeen> {
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The folder the session files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn path_of(&self, key: &SessionKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    /// Whether a session created at `created` (Unix seconds) is over at `now`; a time
    /// more than five minutes ahead is taken as forged.
    fn is_expired(&self, created: f64, now: f64) -> bool {
        !(created.is_finite() && now - created < self.max_age.as_secs_f64())
            || created > now + 300.0
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, SessionCache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, SessionCache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure every session file has its marker in the index: a folder written before
    /// the index existed is indexed once (one read of every file), then marked ready.
    /// Blocking; the server calls it at start, off the runtime.
    pub fn ensure_index(&self) -> Result<()> {
        if self.indexed.load(Ordering::Acquire) {
            return Ok(());
        }
        let _mutations = self.mutations();
        if self.indexed.load(Ordering::Acquire) {
            return Ok(());
        }
        if !self.index.is_ready() {
            let mut indexed = 0usize;
            self.for_each_file(|key, _, record| {
                if let Some(record) = record {
                    self.index.add(&record.provider, &record.username, &key)?;
                    indexed += 1;
                }
                Ok(())
            })?;
            self.index.mark_ready()?;
            if indexed > 0 {
                tracing::info!(sessions = indexed, "indexed the sessions of each account");
            }
        }
        self.indexed.store(true, Ordering::Release);
        Ok(())
    }

    /// Starts a session for `username`, signed in by `provider`, bound to the account's
    /// `binding`, and writes its file. An account already holding
    /// [`MAX_SESSIONS_PER_ACCOUNT`] sessions loses its oldest. Blocking.
    pub fn create(
        &self,
        username: &str,
        provider: &str,
        client_ip: &str,
        user_agent: &str,
        binding: u64,
    ) -> Result<SessionToken> {
        self.ensure_index()?;
        let token = SessionToken::generate();
        let now = now_secs();
        let record = SessionRecord {
            username: username.to_owned(),
            provider: provider.to_owned(),
            created: now,
            last_seen: now,
            client_ip: client_ip.to_owned(),
            user_agent: user_agent.chars().take(512).collect(),
            binding: Some(binding),
        };
        let key = token.key();
        let _mutations = self.mutations();
        self.end_oldest_beyond(provider, username, MAX_SESSIONS_PER_ACCOUNT - 1)?;
        // The marker first: a crash before the file leaves a marker the sweep removes,
        // never a session the index does not know.
        self.index.add(provider, username, &key)?;
        write_atomic(&self.path_of(&key), &to_json(&record)?)?;
        self.write_cache().insert(key, &record, 0, now);
        Ok(token)
    }

    /// Ends the oldest sessions of the account until at most `keep` remain. Called with
    /// the mutations lock held.
    fn end_oldest_beyond(&self, provider: &str, username: &str, keep: usize) -> Result<()> {
        let mut sessions = self.read_account(provider, username)?;
        if sessions.len() <= keep {
            return Ok(());
        }
        sessions.sort_by(|a, b| a.1.created.total_cmp(&b.1.created));
        let excess = sessions.len() - keep;
        for (key, _) in sessions.into_iter().take(excess) {
            self.remove_locked(&key, Some((provider, username)))?;
        }
        Ok(())
    }

    /// The account's live sessions as their files have them (files gone or unreadable are
    /// left out). Blocking.
    fn read_account(
        &self,
        provider: &str,
        username: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>> {
        let mut sessions = Vec::new();
        for key in self.index.keys(provider, username)? {
            if let Some(record) = self.read_record(&key)? {
                if record.username == username && record.provider == provider {
                    sessions.push((key, record));
                }
            }
        }
        Ok(sessions)
    }

    /// The live sessions of `username` signed in by `provider`, with what their files
    /// record. Blocking: one small folder and the account's files.
    pub fn sessions_of(
        &self,
        provider: &str,
        username: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>> {
        self.ensure_index()?;
        let now = now_secs();
        Ok(self
            .read_account(provider, username)?
            .into_iter()
            .filter(|(_, record)| !self.is_expired(record.created, now))
            .collect())
    }

    /// The live session stored under `key`, or `None`. `generation` is the user store's
    /// reload count: a cached session verified at an older generation is checked against
    /// the disk again. Expired sessions are removed. Does blocking I/O only on a cache miss
    /// or after a store change, on the blocking pool.
    pub async fn find(
        self: &Arc<Self>,
        key: SessionKey,
        generation: u64,
    ) -> Result<Option<FoundSession>> {
        let now = now_secs_coarse();
        let cached = self.read_cache().get(&key, now, generation);
        let hit = match cached {
            Some(hit) if hit.verified => hit,
            Some(mut hit) => {
                // The user store changed: the session may have been ended, or rebound, by
                // another process. Its file says which.
                let store = self.clone();
                let record = tokio::task::spawn_blocking(move || store.read_record(&key)).await??;
                let Some(record) = record else {
                    self.write_cache().remove(&key);
                    return Ok(None);
                };
                let binding = record.binding.unwrap_or(0);
                let cache = self.read_cache();
                cache.set_binding(&key, binding);
                cache.mark_verified(&key, generation);
                hit.found.binding = binding;
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
            // What is written is the precise time (the coarse one only decides).
            self.queue_last_seen(key, now_secs());
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

    /// Reads a session file as it is: `None` when missing or not a session.
    fn read_record(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let path = self.path_of(key);
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice::<SessionRecord>(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Reads a session file for a lookup: `None` when missing, unreadable as a session, or
    /// expired (an expired or broken file is removed).
    fn read_file(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let path = self.path_of(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        match serde_json::from_slice::<SessionRecord>(&bytes) {
            Ok(record) if !self.is_expired(record.created, now_secs()) => Ok(Some(record)),
            Ok(record) => {
                let _mutations = self.mutations();
                let _ = fs::remove_file(&path);
                self.index.remove(&record.provider, &record.username, key)?;
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
    pub(super) fn persist_last_seen(&self, key: &SessionKey, now: f64) {
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
        let written = self.rewrite_fields(key, |fields| {
            fields.insert("lastSeen".to_owned(), Value::from(now));
        });
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record a session's last-seen time");
        }
    }

    /// Rewrites `key`'s file with `change` applied to its fields, keeping every other field
    /// as it is. A file gone or no longer a session is left to the next lookup or sweep.
    fn rewrite_fields(
        &self,
        key: &SessionKey,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<()> {
        let path = self.path_of(key);
        let Ok(bytes) = fs::read(&path) else {
            return Ok(());
        };
        let Ok(mut fields) = serde_json::from_slice::<Map<String, Value>>(&bytes) else {
            return Ok(());
        };
        change(&mut fields);
        write_atomic(&path, &to_json(&fields)?)
    }

    /// Moves the sessions of `username` (signed in by `provider`) that are bound to `from`
    /// over to `to`: the account's secret changed in a way that must not end them (its
    /// password hash upgraded at sign-in). Blocking.
    pub fn rebind(&self, provider: &str, username: &str, from: u64, to: u64) -> Result<()> {
        self.ensure_index()?;
        let _mutations = self.mutations();
        for (key, record) in self.read_account(provider, username)? {
            if record.binding == Some(from) {
                self.rewrite_fields(&key, |fields| {
                    fields.insert("binding".to_owned(), Value::from(format!("{to:016x}")));
                })?;
                self.read_cache().set_binding(&key, to);
            }
        }
        Ok(())
    }

    /// Ends one session. Blocking.
    pub fn remove(&self, key: &SessionKey) -> Result<()> {
        let _mutations = self.mutations();
        self.remove_locked(key, None)
    }

    /// Ends `key`'s session (of `account` when the caller knows it), file and marker.
    /// Called with the mutations lock held.
    fn remove_locked(&self, key: &SessionKey, account: Option<(&str, &str)>) -> Result<()> {
        let account = match account {
            Some((provider, user)) => Some((provider.to_owned(), user.to_owned())),
            None => self.read_cache().account_of(key).or_else(|| {
                self.read_record(key)
                    .ok()
                    .flatten()
                    .map(|r| (r.provider, r.username))
            }),
        };
        self.write_cache().remove(key);
        remove_file_if_present(&self.path_of(key))?;
        if let Some((provider, user)) = account {
            self.index.remove(&provider, &user, key)?;
        }
        Ok(())
    }

    /// Ends every session of `username` signed in by `provider` except `keep`, in memory
    /// and on disk; returns how many ended. Blocking: reads the account's folder of the
    /// index, not the session folder.
    pub fn remove_user(
        &self,
        provider: &str,
        username: &str,
        keep: Option<SessionKey>,
    ) -> Result<usize> {
        self.ensure_index()?;
        let _mutations = self.mutations();
        let mut removed = 0;
        for key in self.index.keys(provider, username)? {
            if Some(key) != keep {
                self.remove_locked(&key, Some((provider, username)))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes expired (and unreadable) session files and cached entries, and markers left
    /// without a session; returns how many session files were removed. Blocking: scans the
    /// session folder.
    pub fn sweep(&self) -> Result<usize> {
        let now = now_secs();
        self.write_cache()
            .retain(|_, created| !self.is_expired(created, now));
        let mut removed = 0;
        self.for_each_file(|key, path, record| {
            let dead = record
                .as_ref()
                .is_none_or(|r| self.is_expired(r.created, now));
            if dead {
                let _mutations = self.mutations();
                self.write_cache().remove(&key);
                remove_file_if_present(path)?;
                removed += 1;
            }
            Ok(())
        })?;
        let _mutations = self.mutations();
        self.index.sweep(|key| self.path_of(key).exists())?;
        Ok(removed)
    }

    /// How many sessions are held in memory.
    pub fn cached_len(&self) -> usize {
        self.read_cache().len()
    }

    /// Every session of the folder that reads as one, with its key, expired ones included.
    /// Blocking: reads the whole folder (`llms --import-files`).
    pub fn all(&self) -> Result<Vec<(SessionKey, SessionRecord)>> {
        let mut sessions = Vec::new();
        self.for_each_file(|key, _, record| {
            sessions.extend(record.map(|record| (key, record)));
            Ok(())
        })?;
        Ok(sessions)
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
            // Only regular files are sessions (reading anything else could block).
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::write_atomic;
    use crate::session::TOKEN_LEN;

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
            .create("alice", "credentials", "127.0.0.1", "test", 1)
            .unwrap();
        let mut files: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        // The session's file, and the index of each account's sessions beside it.
        let mut expected = [format!("{}.json", token.key().hex()), "by-user".into()];
        expected.sort();
        assert_eq!(files, expected);
        assert!(!files.iter().any(|f| f.contains(token.expose())));
        assert_eq!(
            store.index.keys("credentials", "alice").unwrap(),
            [token.key()]
        );

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
            binding: Some(1),
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
            binding: Some(1),
        };
        write_atomic(&store.path_of(&token.key()), &to_json(&record).unwrap()).unwrap();
        assert!(store.find(token.key(), 0).await.unwrap().is_none());
        assert!(!store.path_of(&token.key()).exists());
    }

    #[tokio::test]
    async fn external_deletion_is_seen_after_a_generation_change() {
        let (_dir, store) = store();
        let token = store.create("bob", "credentials", "", "", 1).unwrap();
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
        let a = store.create("carol", "credentials", "", "", 1).unwrap();
        let b = store.create("carol", "credentials", "", "", 1).unwrap();
        let other = store.create("dave", "credentials", "", "", 1).unwrap();
        assert_eq!(
            store
                .remove_user("credentials", "carol", Some(a.key()))
                .unwrap(),
            1
        );
        assert!(store.find(a.key(), 0).await.unwrap().is_some());
        assert!(store.find(b.key(), 0).await.unwrap().is_none());
        assert!(store.find(other.key(), 0).await.unwrap().is_some());
    }

    #[test]
    fn a_last_seen_rewrite_never_brings_back_a_removed_session() {
        for round in 0..40u64 {
            let (_dir, store) = store();
            let token = store.create("alice", "credentials", "", "", 1).unwrap();
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
            store.remove_user("credentials", "alice", None).unwrap();
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
        let live = store.create("erin", "credentials", "", "", 1).unwrap();
        let dead = SessionToken::generate();
        fs::write(store.path_of(&dead.key()), b"not json").unwrap();
        fs::write(store.dir().join("README"), b"not a session").unwrap();
        assert_eq!(store.sweep().unwrap(), 1);
        assert!(store.find(live.key(), 0).await.unwrap().is_some());
        assert!(store.dir().join("README").exists());
    }

    #[test]
    fn an_account_keeps_at_most_the_newest_sessions() {
        let (_dir, store) = store();
        let first = store.create("alice", "credentials", "", "", 1).unwrap();
        let other = store.create("bob", "credentials", "", "", 1).unwrap();
        let mut last = None;
        for _ in 1..MAX_SESSIONS_PER_ACCOUNT {
            last = Some(store.create("alice", "credentials", "", "", 1).unwrap());
        }
        assert_eq!(
            store.sessions_of("credentials", "alice").unwrap().len(),
            100
        );
        assert!(
            store.path_of(&first.key()).exists(),
            "100 sessions: all kept"
        );
        let newest = store.create("alice", "credentials", "", "", 1).unwrap();
        let sessions = store.sessions_of("credentials", "alice").unwrap();
        assert_eq!(sessions.len(), 100);
        assert!(!store.path_of(&first.key()).exists(), "the oldest ended");
        assert!(sessions.iter().any(|(k, _)| *k == newest.key()));
        assert!(sessions
            .iter()
            .any(|(k, _)| *k == last.as_ref().unwrap().key()));
        assert!(
            store.path_of(&other.key()).exists(),
            "another account's untouched"
        );
    }

    #[tokio::test]
    async fn rebinding_moves_only_the_sessions_bound_to_the_old_binding() {
        let (_dir, store) = store();
        let old = store.create("alice", "credentials", "", "", 1).unwrap();
        let stale = store.create("alice", "credentials", "", "", 5).unwrap();
        let bob = store.create("bob", "credentials", "", "", 1).unwrap();
        store.rebind("credentials", "alice", 1, 2).unwrap();
        let binding = |key| {
            let store = store.clone();
            async move { store.find(key, 0).await.unwrap().unwrap().binding }
        };
        assert_eq!(binding(old.key()).await, 2);
        assert_eq!(binding(stale.key()).await, 5);
        assert_eq!(binding(bob.key()).await, 1);
        // On disk too: a fresh store reads the new binding.
        let fresh = Arc::new(SessionStore::new(
            store.dir().to_owned(),
            Duration::from_secs(86400),
        ));
        assert_eq!(fresh.find(old.key(), 0).await.unwrap().unwrap().binding, 2);
    }

    #[tokio::test]
    async fn a_session_folder_from_before_the_index_is_indexed_once() {
        let (_dir, store) = store();
        store.ensure_dir().unwrap();
        // Two sessions of carol written as an older version wrote them: no index.
        let keys: Vec<SessionKey> = (0..2)
            .map(|_| {
                let key = SessionToken::generate().key();
                let record = SessionRecord {
                    username: "carol".into(),
                    provider: "credentials".into(),
                    created: now_secs(),
                    last_seen: now_secs(),
                    client_ip: String::new(),
                    user_agent: String::new(),
                    binding: None,
                };
                write_atomic(&store.path_of(&key), &to_json(&record).unwrap()).unwrap();
                key
            })
            .collect();
        assert!(!store.index.is_ready());
        assert_eq!(store.remove_user("credentials", "carol", None).unwrap(), 2);
        for key in &keys {
            assert!(!store.path_of(key).exists());
        }
        assert!(store.index.is_ready());
    }
}
