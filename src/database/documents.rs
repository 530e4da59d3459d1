//! [`PgDocuments`]: a keyed document (`users.json`, `keys.json`, a provider's accounts) in
//! PostgreSQL, one row per entry, with the file store's way of working: read the whole
//! document (from a cache while nothing has changed), change it with a closure under a
//! lock that serializes every writer of every instance, and see the change on the very
//! next request (this instance) or as soon as the announcement arrives (the others).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Postgres, Transaction};

use super::changes::Announced;
use super::{db_error, Database, CHANGES_CHANNEL};
use crate::error::{Error, Result};

/// What a keyed document maps its names to (a user, a key, an account).
pub trait Entry: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static {}

impl<V> Entry for V where V: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static
{}

/// The document as the stores see it: names to entries, in the file's order.
pub type Entries<V> = IndexMap<String, V>;

/// One version of the document as read: its version, the listener's epoch it was checked
/// in, the entries, and each entry's stored position (same order).
struct Cached<V> {
    version: i64,
    epoch: Option<u64>,
    value: Arc<Entries<V>>,
    positions: Arc<Vec<i64>>,
}

impl<V> Clone for Cached<V> {
    fn clone(&self) -> Self {
        Self {
            version: self.version,
            epoch: self.epoch,
            value: self.value.clone(),
            positions: self.positions.clone(),
        }
    }
}

/// A keyed document in the `documents` table under the name `store`.
pub struct PgDocuments<V> {
    store: &'static str,
    /// Keeps the pool and the listener (which stops with the last clone).
    database: Database,
    announced: Announced,
    cache: Mutex<Option<Cached<V>>>,
    /// This instance's writers take turns ([`PgDocuments::begin`]).
    turn: tokio::sync::Mutex<()>,
}

impl<V> std::fmt::Debug for PgDocuments<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDocuments")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<V: Entry> PgDocuments<V> {
    /// The document named `store` in `database`.
    pub fn new(database: &Database, store: &'static str) -> Self {
        Self {
            store,
            database: database.clone(),
            announced: database.changes().announced(store),
            cache: Mutex::new(None),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// The database it lives in.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The document's name.
    pub fn store(&self) -> &'static str {
        self.store
    }

    fn cached(&self) -> Option<Cached<V>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn keep(&self, cached: Cached<V>) {
        let mut slot = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Never replace a newer version with an older one read concurrently.
        if slot
            .as_ref()
            .is_none_or(|old| old.version <= cached.version)
        {
            *slot = Some(cached);
        }
    }

    /// The cached document, when it can be used without asking the database: the
    /// listener is connected, the cache was checked in its current connection, and no newer
    /// version has been announced since.
    pub fn cached_if_current(&self) -> Option<Arc<Entries<V>>> {
        let cached = self.cached()?;
        let epoch = self.database.changes().epoch()?;
        (cached.epoch == Some(epoch) && cached.version >= self.announced.load(Ordering::Acquire))
            .then_some(cached.value)
    }

    /// The document now: the cache when it is current, else the database's version (one
    /// query for the version when the cache may still hold it, the whole document when it
    /// does not). [`Error::StoreUnavailable`] when the database cannot be reached.
    pub async fn snapshot(&self) -> Result<Arc<Entries<V>>> {
        if let Some(value) = self.cached_if_current() {
            return Ok(value);
        }
        // Taken before the database is asked: a reconnection meanwhile makes this check
        // count for the old epoch only, and the next look asks again.
        let epoch = self.database.changes().epoch();
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM document_versions WHERE store = $1",
        )
        .bind(self.store)
        .fetch_one(self.database.pool())
        .await
        .map_err(db_error)?;
        if let Some(mut cached) = self.cached().filter(|c| c.version == version) {
            cached.epoch = epoch;
            let value = cached.value.clone();
            self.keep(cached);
            return Ok(value);
        }
        let mut connection = self.database.pool().acquire().await.map_err(db_error)?;
        let cached = read(&mut connection, self.store, epoch).await?;
        let value = cached.value.clone();
        self.keep(cached);
        Ok(value)
    }

    /// Changes the document with `change`, under the lock of its version row, which every
    /// writer of every instance takes: no change is lost to another made at the same time.
    /// The entries that changed are written, the version raised and announced; the cache
    /// holds the result, so this instance's next look sees it. When `change` fails, or
    /// changes nothing, nothing is written.
    pub async fn update<R>(&self, change: impl FnOnce(&mut Entries<V>) -> Result<R>) -> Result<R> {
        let pending = self.begin().await?;
        let mut next = (**pending.current()).clone();
        let result = change(&mut next)?;
        pending.commit(next).await?;
        Ok(result)
    }

    /// Starts a change, for a caller whose change cannot run inside this future (one that
    /// blocks, say, on the blocking pool): the document's row is locked, for every
    /// instance, until the [`PendingChange`] is committed or dropped (dropped: nothing is
    /// written). Writers on this instance take turns before asking the database, so
    /// waiting writers do not each hold a connection.
    pub async fn begin(&self) -> Result<PendingChange<'_, V>> {
        let turn = self.turn.lock().await;
        let epoch = self.database.changes().epoch();
        let mut tx = self.database.pool().begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO document_versions (store, version) VALUES ($1, 0) ON CONFLICT DO NOTHING",
        )
        .bind(self.store)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM document_versions WHERE store = $1 FOR UPDATE")
                .bind(self.store)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        let current = match self.cached().filter(|c| c.version == version) {
            Some(cached) => cached,
            None => read(&mut tx, self.store, epoch).await?,
        };
        Ok(PendingChange {
            documents: self,
            _turn: turn,
            tx,
            version,
            epoch,
            current,
        })
    }
}

/// A change begun with [`PgDocuments::begin`]: the document as it is, locked.
pub struct PendingChange<'a, V> {
    documents: &'a PgDocuments<V>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
    tx: Transaction<'static, Postgres>,
    version: i64,
    epoch: Option<u64>,
    current: Cached<V>,
}

impl<V: Entry> PendingChange<'_, V> {
    /// The document as it is (no other writer can change it until this one ends).
    pub fn current(&self) -> &Arc<Entries<V>> {
        &self.current.value
    }

    /// Writes `next` in place of the document: the entries that differ, the version raised
    /// and announced when the transaction commits. Nothing is written when nothing
    /// changed.
    pub async fn commit(mut self, next: Entries<V>) -> Result<()> {
        let store = self.documents.store;
        if next == *self.current.value {
            return self.tx.commit().await.map_err(db_error);
        }
        let positions = write_changes(&mut self.tx, store, &self.current, &next).await?;
        let version = self.version + 1;
        sqlx::query("UPDATE document_versions SET version = $2 WHERE store = $1")
            .bind(store)
            .bind(version)
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(format!("{store}:{version}"))
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        self.tx.commit().await.map_err(db_error)?;
        self.documents.keep(Cached {
            version,
            epoch: self.epoch,
            value: Arc::new(next),
            positions: Arc::new(positions),
        });
        Ok(())
    }
}

/// A row of [`read`]: the document's version, then an entry's name, position and value
/// (all absent for a document with no entries).
type Row = (i64, Option<String>, Option<i64>, Option<Value>);

impl<V: Entry> PgDocuments<V> {
    /// Adds the entries of `entries` whose names the document does not hold yet (a file
    /// store being copied in: running it again adds nothing); how many were added and how
    /// many were there already.
    pub async fn insert_missing(&self, entries: Entries<V>) -> Result<(usize, usize)> {
        self.update(move |all| {
            let before = all.len();
            let offered = entries.len();
            for (name, entry) in entries {
                all.entry(name).or_insert(entry);
            }
            let added = all.len() - before;
            Ok((added, offered - added))
        })
        .await
    }
}

/// Reads the whole document `store` and its version in one statement (one snapshot of the
/// database).
async fn read<V: Entry>(
    connection: &mut sqlx::PgConnection,
    store: &str,
    epoch: Option<u64>,
) -> Result<Cached<V>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT v.version, d.key, d.position, d.value \
         FROM (SELECT coalesce(max(version), 0) AS version FROM document_versions WHERE store = $1) v \
         LEFT JOIN documents d ON d.store = $1 \
         ORDER BY d.position",
    )
    .bind(store)
    .fetch_all(&mut *connection)
    .await
    .map_err(db_error)?;
    let version = rows.first().map_or(0, |row| row.0);
    let mut value = Entries::with_capacity(rows.len());
    let mut positions = Vec::with_capacity(rows.len());
    for (_, key, position, entry) in rows {
        let (Some(key), Some(position), Some(entry)) = (key, position, entry) else {
            continue;
        };
        let entry = serde_json::from_value(entry).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "the database's {store} entry {key:?} does not read: {e}"
            ))
        })?;
        value.insert(key, entry);
        positions.push(position);
    }
    Ok(Cached {
        version,
        epoch,
        value: Arc::new(value),
        positions: Arc::new(positions),
    })
}

/// Writes what differs between `current` and `next`: entries added or changed (upserted),
/// entries gone (deleted). Entries kept keep their positions and new ones go after the
/// last, unless that would not give `next`'s order; then every entry is renumbered.
/// Returns `next`'s positions.
async fn write_changes<V: Entry>(
    tx: &mut Transaction<'_, Postgres>,
    store: &str,
    current: &Cached<V>,
    next: &Entries<V>,
) -> Result<Vec<i64>> {
    let old_position: HashMap<&str, i64> = current
        .value
        .keys()
        .map(String::as_str)
        .zip(current.positions.iter().copied())
        .collect();
    let mut after = current.positions.iter().copied().max().unwrap_or(-1);
    let mut positions: Vec<i64> = next
        .keys()
        .map(|key| {
            old_position.get(key.as_str()).copied().unwrap_or_else(|| {
                after += 1;
                after
            })
        })
        .collect();
    let in_order = positions.windows(2).all(|pair| pair[0] < pair[1]);
    if !in_order {
        positions = (0..).take(next.len()).collect();
    }
    let (mut keys, mut places, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for ((key, entry), &position) in next.iter().zip(&positions) {
        let unchanged = in_order
            && current.value.get(key) == Some(entry)
            && old_position.get(key.as_str()) == Some(&position);
        if unchanged {
            continue;
        }
        let json = serde_json::to_value(entry)
            .map_err(|e| Error::Internal(anyhow::anyhow!("{store} entry {key:?}: {e}")))?;
        keys.push(key.clone());
        places.push(position);
        values.push(json);
    }
    let gone: Vec<String> = current
        .value
        .keys()
        .filter(|key| !next.contains_key(*key))
        .cloned()
        .collect();
    if !gone.is_empty() {
        sqlx::query("DELETE FROM documents WHERE store = $1 AND key = ANY($2)")
            .bind(store)
            .bind(&gone)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    if !keys.is_empty() {
        sqlx::query(
            "INSERT INTO documents (store, key, position, value) \
             SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::jsonb[]) \
             ON CONFLICT (store, key) DO UPDATE SET position = excluded.position, value = excluded.value",
        )
        .bind(store)
        .bind(&keys)
        .bind(&places)
        .bind(&values)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(positions)
}
