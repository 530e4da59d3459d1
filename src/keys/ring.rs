//! [`KeyRing`]: the keys in memory, found by their hash in one lookup, with their last use
//! written back at most once a minute per key by one background writer.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use subtle::ConstantTimeEq;

use super::{key_hash, ApiKey, KeyStore, Keys};
use crate::error::Result;
use crate::time::now_secs;

/// How often a key's last use is written to `keys.json`, at most.
const LAST_USED_INTERVAL: f64 = 60.0;

/// What a presented key turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyVerdict {
    /// No key has this text (or the text is no key).
    Unknown,
    /// A key that has expired.
    Expired,
    /// A live key. Whether its owner may still use it is the caller's to check.
    Valid(ValidKey),
}

/// A live key: its place in the keys as they were read (nothing copied).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidKey {
    keys: Arc<Keys>,
    index: usize,
}

impl ValidKey {
    /// The key's public id.
    pub fn id(&self) -> &str {
        self.entry().0
    }

    /// Its record.
    pub fn key(&self) -> &ApiKey {
        self.entry().1
    }

    fn entry(&self) -> (&str, &ApiKey) {
        let (id, key) = self
            .keys
            .get_index(self.index)
            .expect("an index taken from these very keys");
        (id, key)
    }
}

/// The keys of `keys.json` as last read, indexed by hash.
#[derive(Debug)]
struct Index {
    keys: Arc<Keys>,
    by_hash: HashMap<[u8; 32], usize, BuildHasherDefault<DigestHasher>>,
}

/// Hashes a SHA-256 digest by folding its bytes: a digest is already uniform, so SipHash's
/// protection buys nothing here. The table holds only the stored keys' digests; what a
/// caller sends is only looked up, so a crafted digest cannot crowd the table.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

/// Last-use times: when each key's was last written, and those due to be.
#[derive(Debug, Default)]
struct LastUsed {
    written: HashMap<String, f64>,
    due: Vec<(String, f64)>,
    writing: bool,
}

/// The keys, their lookup and their last-use writer. Shared through an `Arc`.
#[derive(Debug)]
pub struct KeyRing {
    store: KeyStore,
    index: Mutex<Option<Index>>,
    last_used: Mutex<LastUsed>,
}

impl KeyRing {
    /// The keys of `store`.
    pub fn new(store: KeyStore) -> Self {
        Self {
            store,
            index: Mutex::new(None),
            last_used: Mutex::new(LastUsed::default()),
        }
    }

    /// The store (`keys.json`).
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// The current keys: no I/O while the file is known unchanged; a re-read on the
    /// blocking pool when it changed.
    pub async fn keys(self: &Arc<Self>) -> Result<Arc<Keys>> {
        if let Some(keys) = self.store.cached_if_current() {
            return Ok(keys);
        }
        let ring = self.clone();
        tokio::task::spawn_blocking(move || ring.store.snapshot()).await?
    }

    /// What `presented` (the text after `Bearer `) is: [`KeyRing::check_hash`] of its
    /// SHA-256.
    pub async fn check(self: &Arc<Self>, presented: &str) -> Result<KeyVerdict> {
        self.check_hash(key_hash(presented)).await
    }

    /// What the key whose SHA-256 is `hash` is. The presented text was hashed whatever it
    /// was, so an unknown or malformed key costs what a known one does; the stored hash is
    /// compared in constant time. A valid key's use is noted for `lastUsed`.
    pub async fn check_hash(self: &Arc<Self>, hash: [u8; 32]) -> Result<KeyVerdict> {
        let keys = self.keys().await?;
        let found = {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            if index.as_ref().is_none_or(|i| !Arc::ptr_eq(&i.keys, &keys)) {
                *index = Some(Index::of(keys.clone()));
            }
            index.as_ref().and_then(|i| i.by_hash.get(&hash).copied())
        };
        let Some((index, (id, key))) = found.and_then(|i| Some((i, keys.get_index(i)?))) else {
            return Ok(KeyVerdict::Unknown);
        };
        let mut stored = [0u8; 32];
        if hex::decode_to_slice(&key.hash, &mut stored).is_err() || !bool::from(stored.ct_eq(&hash))
        {
            return Ok(KeyVerdict::Unknown);
        }
        let now = now_secs();
        if key.is_expired(now) {
            return Ok(KeyVerdict::Expired);
        }
        self.note_use(id, key.last_used, now);
        Ok(KeyVerdict::Valid(ValidKey {
            keys: keys.clone(),
            index,
        }))
    }

    /// Queues the write of key `id`'s last use at `now` when the last one written (or the
    /// file's `stored`) is more than a minute old, and starts the writer unless at work.
    fn note_use(self: &Arc<Self>, id: &str, stored: Option<f64>, now: f64) {
        // The file's own time is recent: nothing to write, nothing to look up.
        if stored.is_some_and(|at| now - at < LAST_USED_INTERVAL) {
            return;
        }
        let mut last = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        let written = last.written.get(id).copied().or(stored).unwrap_or(0.0);
        if now - written < LAST_USED_INTERVAL {
            return;
        }
        last.written.insert(id.to_owned(), now);
        last.due.push((id.to_owned(), now));
        if !last.writing {
            last.writing = true;
            let ring = self.clone();
            tokio::task::spawn_blocking(move || ring.write_due());
        }
    }

    /// Writes the queued last-use times until none is left, one store write per batch.
    /// A failure is logged, never fatal. Blocking.
    fn write_due(&self) {
        loop {
            let batch = {
                let mut last = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
                if last.due.is_empty() {
                    last.writing = false;
                    return;
                }
                std::mem::take(&mut last.due)
            };
            let written = self.store.update(|keys| {
                for (id, at) in &batch {
                    // A key revoked meanwhile stays revoked.
                    if let Some(key) = keys.get_mut(id) {
                        key.last_used = Some(*at);
                    }
                }
                Ok(())
            });
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not record when API keys were last used");
            }
        }
    }

    /// Waits (bounded) until no last-use write is queued or under way: for tests.
    #[cfg(test)]
    async fn settled(&self) {
        for _ in 0..500 {
            {
                let last = self.last_used.lock().unwrap();
                if !last.writing && last.due.is_empty() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the last-use writer never finished");
    }
}

impl Index {
    fn of(keys: Arc<Keys>) -> Self {
        let by_hash = keys
            .values()
            .enumerate()
            .filter_map(|(index, key)| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&key.hash, &mut hash).ok()?;
                Some((hash, index))
            })
            .collect();
        Self { keys, by_hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_store::JsonStore;
    use crate::keys::{add_key, NewKey};
    use crate::stores::DocumentStore;

    fn ring() -> (tempfile::TempDir, Arc<KeyRing>) {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::at(dir.path().join("keys.json"), "keys");
        (dir, Arc::new(KeyRing::new(DocumentStore::Files(store))))
    }

    fn make(ring: &KeyRing, expires_days: Option<u32>) -> crate::keys::MadeKey {
        ring.store()
            .update(|keys| {
                Ok(add_key(
                    keys,
                    "alice",
                    "credentials",
                    &NewKey {
                        name: "k".into(),
                        expires_days,
                        ..NewKey::default()
                    },
                ))
            })
            .unwrap()
    }

    #[tokio::test]
    async fn keys_are_found_by_their_text_and_nothing_else() {
        let (_dir, ring) = ring();
        let made = make(&ring, None);
        match ring.check(made.secret.expose()).await.unwrap() {
            KeyVerdict::Valid(valid) => {
                assert_eq!(valid.id(), made.id);
                assert_eq!(valid.key().user_name, "alice");
            }
            other => panic!("{other:?}"),
        }
        let mut wrong = made.secret.expose().to_owned();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        for text in [wrong.as_str(), "", "sk-llms-x", made.record.hash.as_str()] {
            assert_eq!(
                ring.check(text).await.unwrap(),
                KeyVerdict::Unknown,
                "{text}"
            );
        }
        // Revoked: unknown at once.
        ring.store()
            .update(|keys| Ok(keys.shift_remove(&made.id)))
            .unwrap();
        assert_eq!(
            ring.check(made.secret.expose()).await.unwrap(),
            KeyVerdict::Unknown
        );
    }

    #[tokio::test]
    async fn an_expired_key_is_refused() {
        let (_dir, ring) = ring();
        let made = make(&ring, Some(1));
        ring.store()
            .update(|keys| {
                keys[&made.id].expires = Some(now_secs() - 1.0);
                Ok(())
            })
            .unwrap();
        assert_eq!(
            ring.check(made.secret.expose()).await.unwrap(),
            KeyVerdict::Expired
        );
    }

    #[tokio::test]
    async fn the_last_use_is_written_at_most_once_a_minute() {
        let (_dir, ring) = ring();
        let made = make(&ring, None);
        let before = now_secs();
        for _ in 0..20 {
            ring.check(made.secret.expose()).await.unwrap();
        }
        ring.settled().await;
        let keys = ring.store().load().unwrap();
        let first = keys[&made.id].last_used.expect("written");
        assert!(first >= before);
        for _ in 0..20 {
            ring.check(made.secret.expose()).await.unwrap();
        }
        ring.settled().await;
        assert_eq!(
            ring.store().load().unwrap()[&made.id].last_used,
            Some(first)
        );
    }
}
