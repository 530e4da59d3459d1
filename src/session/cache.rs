//! The sessions held in memory: only what every request reads, packed so that a lookup
//! among 100,000 sessions touches two cache lines, the table's control bytes and one slot.
//!
//! A session's slot is exactly one 64-byte cache line: the key, a 4-byte id of the
//! interned account (provider and username), the sign-in second, and three atomics. An
//! account's name is shared by all its sessions, so a server with 100,000 sessions among a
//! few thousand users keeps a few thousand strings, and a slot costs no allocation of its
//! own.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use indexmap::IndexSet;

use super::{FoundSession, SessionKey, SessionRecord, LAST_SEEN_PERSIST_INTERVAL};

/// One cached session, one cache line.
#[repr(C, align(64))]
struct Slot {
    key: SessionKey,
    account: NameId,
    /// Unix seconds of the sign-in, whole (sessions last 30 days: a second is plenty).
    created: u32,
    /// The user-store generation at which the file was last known to exist.
    verified_generation: AtomicU64,
    /// `f64` bits of the last-seen time last written to disk.
    last_seen_on_disk: AtomicU64,
    /// The account binding the session was made with (see [`super::binding`]).
    binding: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

/// The index of an account in [`SessionCache::names`].
#[derive(Clone, Copy)]
struct NameId(u32);

/// What a lookup at some moment sees of a cached session, copied out of the cache.
pub(super) struct Hit {
    pub found: FoundSession,
    pub created: f64,
    /// Whether the file was known to exist at the generation asked about.
    pub verified: bool,
    /// Whether this lookup claimed the due rewrite of the file's last-seen time.
    pub rewrite: bool,
}

/// The cached sessions, by key.
#[derive(Default)]
pub(super) struct SessionCache {
    slots: HashTable<Slot>,
    /// Every account (`provider`, NUL, `username`) a cached session has had. Never shrinks
    /// while the process runs: a name is a few bytes, and only accounts that signed in are
    /// added.
    names: IndexSet<Box<str>>,
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache")
            .field("sessions", &self.slots.len())
            .field("names", &self.names.len())
            .finish()
    }
}

/// The table's hash of a key. Keys are SHA-256 digests, uniformly distributed already, so
/// their first eight bytes serve. Hash flooding needs no keyed hash here: only keys of
/// sessions the server created (from 32 random bytes) are ever inserted, and a lookup of
/// a key an attacker chose costs one probe like any other.
fn hash(key: &SessionKey) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key.0[..8]);
    u64::from_le_bytes(first)
}

impl SessionCache {
    fn slot(&self, key: &SessionKey) -> Option<&Slot> {
        self.slots.find(hash(key), |slot| slot.key == *key)
    }

    /// The provider and username of an account id.
    fn account(&self, id: NameId) -> (&str, &str) {
        // Ids are only made by `intern`, and names are never removed; a provider's name
        // holds no NUL, so the first one ends it.
        self.names[id.0 as usize]
            .split_once('\0')
            .unwrap_or(("", ""))
    }

    fn intern(&mut self, provider: &str, user_name: &str) -> NameId {
        let name = format!("{provider}\0{user_name}");
        let index = match self.names.get_index_of(name.as_str()) {
            Some(index) => index,
            None => self.names.insert_full(name.into()).0,
        };
        // Four billion distinct names would need more memory than the machine has.
        NameId(u32::try_from(index).expect("fewer than 2^32 names"))
    }

    /// What a lookup at `now` sees of `key`'s session, if cached; claims the last-seen
    /// rewrite when it is due, so that one request of many does it.
    pub fn get(&self, key: &SessionKey, now: f64, generation: u64) -> Option<Hit> {
        self.slot(key).map(|slot| self.hit(slot, now, generation))
    }

    fn hit(&self, slot: &Slot, now: f64, generation: u64) -> Hit {
        let on_disk = f64::from_bits(slot.last_seen_on_disk.load(Ordering::Relaxed));
        let rewrite = now - on_disk > LAST_SEEN_PERSIST_INTERVAL
            && slot
                .last_seen_on_disk
                .compare_exchange(
                    on_disk.to_bits(),
                    now.to_bits(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        let (provider, username) = self.account(slot.account);
        Hit {
            found: FoundSession {
                key: slot.key,
                username: username.to_owned(),
                provider: provider.to_owned(),
                binding: slot.binding.load(Ordering::Relaxed),
            },
            created: f64::from(slot.created),
            verified: slot.verified_generation.load(Ordering::Acquire) >= generation,
            rewrite,
        }
    }

    /// Caches `record` under `key` (replacing what was there), known to exist on disk at
    /// `generation`, and returns what a lookup at `now` sees of it.
    pub fn insert(
        &mut self,
        key: SessionKey,
        record: &SessionRecord,
        generation: u64,
        now: f64,
    ) -> Hit {
        let slot = Slot {
            key,
            account: self.intern(&record.provider, &record.username),
            // Saturating: a time outside the range is expired, and was refused before.
            created: record.created as u32,
            verified_generation: AtomicU64::new(generation),
            last_seen_on_disk: AtomicU64::new(record.last_seen.to_bits()),
            binding: AtomicU64::new(record.binding.unwrap_or(0)),
        };
        let hit = self.hit(&slot, now, generation);
        match self
            .slots
            .entry(hash(&key), |slot| slot.key == key, |slot| hash(&slot.key))
        {
            Entry::Occupied(mut cached) => *cached.get_mut() = slot,
            Entry::Vacant(free) => {
                free.insert(slot);
            }
        }
        hit
    }

    /// Records that `key`'s file existed at `generation`.
    pub fn mark_verified(&self, key: &SessionKey, generation: u64) {
        if let Some(slot) = self.slot(key) {
            slot.verified_generation
                .fetch_max(generation, Ordering::AcqRel);
        }
    }

    pub fn contains(&self, key: &SessionKey) -> bool {
        self.slot(key).is_some()
    }

    /// The provider and username of `key`'s session, if cached.
    pub fn account_of(&self, key: &SessionKey) -> Option<(String, String)> {
        let (provider, user_name) = self.account(self.slot(key)?.account);
        Some((provider.to_owned(), user_name.to_owned()))
    }

    /// Records that `key`'s session is now bound to `binding`.
    pub fn set_binding(&self, key: &SessionKey, binding: u64) {
        if let Some(slot) = self.slot(key) {
            slot.binding.store(binding, Ordering::Relaxed);
        }
    }

    pub fn remove(&mut self, key: &SessionKey) {
        if let Ok(entry) = self.slots.find_entry(hash(key), |slot| slot.key == *key) {
            entry.remove();
        }
    }

    /// Keeps only the sessions for which `keep(key, created)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&SessionKey, f64) -> bool) {
        self.slots
            .retain(|slot| keep(&slot.key, f64::from(slot.created)));
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(username: &str, created: f64, last_seen: f64) -> SessionRecord {
        SessionRecord {
            username: username.into(),
            provider: "credentials".into(),
            created,
            last_seen,
            client_ip: String::new(),
            user_agent: String::new(),
            binding: Some(7),
        }
    }

    fn key(n: u8) -> SessionKey {
        SessionKey([n; 32])
    }

    #[test]
    fn sessions_share_interned_names_and_keep_their_own() {
        let mut cache = SessionCache::default();
        for n in 0..100 {
            let user = if n % 2 == 0 { "alice" } else { "bob" };
            cache.insert(key(n), &record(user, f64::from(n), 0.0), 0, 1e9);
        }
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.names.len(), 2, "alice's account and bob's");
        let hit = cache.get(&key(7), 1e9, 0).unwrap();
        assert_eq!(hit.found.username, "bob");
        assert_eq!(hit.found.provider, "credentials");
        assert_eq!(hit.found.binding, 7);
        assert_eq!(hit.created, 7.0);
        assert_eq!(
            cache.account_of(&key(7)),
            Some(("credentials".to_owned(), "bob".to_owned()))
        );
        cache.set_binding(&key(7), 9);
        assert_eq!(cache.get(&key(7), 1e9, 0).unwrap().found.binding, 9);
        assert!(cache.get(&key(200), 1e9, 0).is_none());
    }

    #[test]
    fn insert_replaces_and_remove_and_retain_forget() {
        let mut cache = SessionCache::default();
        cache.insert(key(1), &record("alice", 1.0, 0.0), 0, 1e9);
        cache.insert(key(1), &record("carol", 2.0, 0.0), 0, 1e9);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&key(1), 1e9, 0).unwrap().found.username, "carol");
        cache.insert(key(2), &record("dave", 3.0, 0.0), 0, 1e9);
        cache.insert(key(3), &record("dave", 4.0, 0.0), 0, 1e9);
        cache.retain(|k, _| *k != key(2));
        assert!(cache.contains(&key(1)) && cache.contains(&key(3)));
        assert!(!cache.contains(&key(2)));
        cache.remove(&key(1));
        assert!(!cache.contains(&key(1)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn verification_is_per_generation() {
        let mut cache = SessionCache::default();
        cache.insert(key(1), &record("alice", 1.0, 0.0), 3, 1e9);
        assert!(cache.get(&key(1), 1e9, 3).unwrap().verified);
        assert!(!cache.get(&key(1), 1e9, 4).unwrap().verified);
        cache.mark_verified(&key(1), 4);
        assert!(cache.get(&key(1), 1e9, 4).unwrap().verified);
        cache.mark_verified(&key(1), 2);
        assert!(
            cache.get(&key(1), 1e9, 4).unwrap().verified,
            "never goes back"
        );
    }

    #[test]
    fn one_lookup_of_many_claims_a_due_rewrite() {
        let mut cache = SessionCache::default();
        let now = 1e9;
        let hit = cache.insert(key(1), &record("alice", now - 10.0, now - 10.0), 0, now);
        assert!(!hit.rewrite, "seen on disk ten seconds ago");
        cache.insert(
            key(2),
            &record("alice", now - 900.0, now - 900.0),
            0,
            now - 1.0,
        );
        let later = now + 1.0;
        let claims = (0..10)
            .filter(|_| cache.get(&key(2), later, 0).unwrap().rewrite)
            .count();
        assert_eq!(claims, 0, "claimed by the insert at now - 1");
        let much_later = now + LAST_SEEN_PERSIST_INTERVAL + 1.0;
        let claims = (0..10)
            .filter(|_| cache.get(&key(2), much_later, 0).unwrap().rewrite)
            .count();
        assert_eq!(claims, 1);
    }
}
