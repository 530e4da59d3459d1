//! [`PgSessions`]: sessions in PostgreSQL, by the SHA-256 of their token, valid on every
//! instance. A lookup is answered from this instance's cache while nothing has been
//! ended anywhere since the session was checked: every removal or rebinding, on any
//! instance, raises the `sessions` version and announces it, and an announcement (or a
//! lost listener) sends the next lookup of each cached session back to the database.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::{PgConnection, Postgres, Transaction};

use super::changes::Announced;
use super::{db_error, Database, CHANGES_CHANNEL};
use crate::error::Result;
use crate::session::{
    FoundSession, SessionKey, SessionRecord, SessionToken, LAST_SEEN_PERSIST_INTERVAL,
    MAX_SESSIONS_PER_ACCOUNT,
};
use crate::time::{now_secs, now_secs_coarse};

/// The name sessions' changes are announced under.
const STORE: &str = "sessions";

/// A session as this instance last checked it.
#[derive(Debug, Clone)]
struct Cached {
    found: FoundSession,
    created: f64,
    /// The listener's epoch and the `sessions` version it was checked at.
    epoch: Option<u64>,
    version: i64,
    /// The last-seen time the database holds (as far as this instance knows).
    last_seen: f64,
}

/// The sessions of a database.
pub struct PgSessions {
    /// Keeps the pool and the listener (which stops with the last clone).
    database: Database,
    announced: Announced,
    max_age: Duration,
    cache: RwLock<HashMap<[u8; 32], Cached>>,
}

impl std::fmt::Debug for PgSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessions").finish_non_exhaustive()
    }
}

impl PgSessions {
    /// The sessions of `database`, each valid for `max_age` after sign-in.
    pub fn new(database: &Database, max_age: Duration) -> Self {
        Self {
            database: database.clone(),
            announced: database.changes().announced(STORE),
            max_age,
            cache: RwLock::default(),
        }
    }

    /// The database they live in.
    pub fn database(&self) -> &Database {
        &self.database
    }

    fn is_expired(&self, created: f64, now: f64) -> bool {
        !(created.is_finite() && now - created < self.max_age.as_secs_f64())
            || created > now + 300.0
    }

    /// Commits `tx`, announcing a change first when it `ended` or rebound sessions; this
    /// instance takes its own announcement at once, without waiting for it to come back,
    /// so that its very next lookup checks its cached sessions again.
    async fn commit(&self, mut tx: Transaction<'_, Postgres>, ended: bool) -> Result<()> {
        let version = if ended {
            Some(announce(&mut tx).await?)
        } else {
            None
        };
        tx.commit().await.map_err(db_error)?;
        if let Some(version) = version {
            self.announced.fetch_max(version, Ordering::AcqRel);
        }
        Ok(())
    }

    fn forget(&self, key: &SessionKey) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key.as_bytes());
    }

    /// Starts a session for `username`, signed in by `provider`, bound to the account's
    /// `binding`. An account already holding [`MAX_SESSIONS_PER_ACCOUNT`] sessions loses
    /// its oldest (under a lock of the account, so that sign-ins on several instances at
    /// once cannot go past the limit).
    pub async fn create(
        &self,
        username: &str,
        provider: &str,
        client_ip: &str,
        user_agent: &str,
        binding: u64,
    ) -> Result<SessionToken> {
        let token = SessionToken::generate();
        let key = token.key();
        let now = now_secs();
        let user_agent: String = user_agent.chars().take(512).collect();
        let mut tx = self.database.pool().begin().await.map_err(db_error)?;
        lock_account(&mut tx, provider, username).await?;
        let ended = sqlx::query(
            "DELETE FROM sessions WHERE key IN (SELECT key FROM sessions \
             WHERE provider = $1 AND username = $2 ORDER BY created DESC OFFSET $3)",
        )
        .bind(provider)
        .bind(username)
        .bind(i64::try_from(MAX_SESSIONS_PER_ACCOUNT - 1).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        sqlx::query(
            "INSERT INTO sessions (key, provider, username, created, last_seen, expires, \
             client_ip, user_agent, binding) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
        )
        .bind(&key.as_bytes()[..])
        .bind(provider)
        .bind(username)
        .bind(now)
        .bind(now + self.max_age.as_secs_f64())
        .bind(client_ip)
        .bind(&user_agent)
        .bind(binding as i64)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx, ended > 0).await?;
        Ok(token)
    }

    /// The live session stored under `key`, or `None`: from the cache while nothing was
    /// ended anywhere since it was checked, else from the database. An expired session is
    /// removed. The last-seen time is written back at most every few minutes.
    pub async fn find(self: &Arc<Self>, key: SessionKey) -> Result<Option<FoundSession>> {
        let now = now_secs_coarse();
        let epoch = self.database.changes().epoch();
        let announced = self.announced.load(Ordering::Acquire);
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key.as_bytes())
            .cloned();
        // Whether the cache must take this entry back: read anew, or its last-seen moved.
        let (mut hit, mut changed) = match cached {
            Some(hit) if epoch.is_some() && hit.epoch == epoch && hit.version >= announced => {
                (hit, false)
            }
            _ => match self.load(key, epoch).await? {
                Some(hit) => (hit, true),
                None => {
                    self.forget(&key);
                    return Ok(None);
                }
            },
        };
        if self.is_expired(hit.created, now) {
            self.remove(key).await?;
            return Ok(None);
        }
        if now - hit.last_seen > LAST_SEEN_PERSIST_INTERVAL {
            // What is written is the precise time (the coarse one only decides).
            let now = now_secs();
            hit.last_seen = now;
            changed = true;
            let sessions = self.clone();
            tokio::spawn(async move {
                let written = sqlx::query("UPDATE sessions SET last_seen = $2 WHERE key = $1")
                    .bind(&key.as_bytes()[..])
                    .bind(now)
                    .execute(sessions.database.pool())
                    .await;
                if let Err(e) = written {
                    tracing::debug!(error = %e, "a session's last-seen time was not written");
                }
            });
        }
        let found = hit.found.clone();
        if changed {
            self.cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*key.as_bytes(), hit);
        }
        Ok(Some(found))
    }

    /// Reads `key`'s session from the database, with the `sessions` version it was read at.
    async fn load(&self, key: SessionKey, epoch: Option<u64>) -> Result<Option<Cached>> {
        let row: Option<(i64, String, String, f64, f64, Option<i64>)> = sqlx::query_as(
            "SELECT (SELECT coalesce(max(version), 0) FROM document_versions WHERE store = $2), \
             provider, username, created, last_seen, binding FROM sessions WHERE key = $1",
        )
        .bind(&key.as_bytes()[..])
        .bind(STORE)
        .fetch_optional(self.database.pool())
        .await
        .map_err(db_error)?;
        Ok(row.map(
            |(version, provider, username, created, last_seen, binding)| Cached {
                found: FoundSession {
                    key,
                    username,
                    provider,
                    binding: binding.map_or(0, |b| b as u64),
                },
                created,
                epoch,
                version,
                last_seen,
            },
        ))
    }

    /// The live sessions of `username` signed in by `provider`, as stored.
    pub async fn sessions_of(
        &self,
        provider: &str,
        username: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT key, created, last_seen, client_ip, user_agent, binding FROM sessions \
             WHERE provider = $1 AND username = $2 AND expires > $3 ORDER BY created",
        )
        .bind(provider)
        .bind(username)
        .bind(now_secs())
        .fetch_all(self.database.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(key, created, last_seen, client_ip, user_agent, binding)| {
                    let record = SessionRecord {
                        username: username.to_owned(),
                        provider: provider.to_owned(),
                        created,
                        last_seen,
                        client_ip,
                        user_agent,
                        binding: binding.map(|b| b as u64),
                    };
                    Some((SessionKey::from_bytes(&key)?, record))
                },
            )
            .collect())
    }

    /// Moves the sessions of `username` (signed in by `provider`) bound to `from` over to
    /// `to` (the account's secret changed in a way that must not end them).
    pub async fn rebind(&self, provider: &str, username: &str, from: u64, to: u64) -> Result<()> {
        let mut tx = self.database.pool().begin().await.map_err(db_error)?;
        let moved = sqlx::query(
            "UPDATE sessions SET binding = $4 WHERE provider = $1 AND username = $2 AND binding = $3",
        )
        .bind(provider)
        .bind(username)
        .bind(from as i64)
        .bind(to as i64)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        self.commit(tx, moved > 0).await?;
        Ok(())
    }

    /// Ends one session, everywhere.
    pub async fn remove(&self, key: SessionKey) -> Result<()> {
        self.forget(&key);
        let mut tx = self.database.pool().begin().await.map_err(db_error)?;
        let ended = sqlx::query("DELETE FROM sessions WHERE key = $1")
            .bind(&key.as_bytes()[..])
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        self.commit(tx, ended > 0).await?;
        Ok(())
    }

    /// Ends every session of `username` signed in by `provider` but `keep`, everywhere;
    /// how many ended.
    pub async fn remove_user(
        &self,
        provider: &str,
        username: &str,
        keep: Option<SessionKey>,
    ) -> Result<usize> {
        let mut tx = self.database.pool().begin().await.map_err(db_error)?;
        let keep = keep.map(|key| key.as_bytes().to_vec());
        let ended: Vec<Vec<u8>> = sqlx::query_scalar(
            "DELETE FROM sessions WHERE provider = $1 AND username = $2 \
             AND key IS DISTINCT FROM $3 RETURNING key",
        )
        .bind(provider)
        .bind(username)
        .bind(keep)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx, !ended.is_empty()).await?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        for key in &ended {
            if let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) {
                cache.remove(&key);
            }
        }
        Ok(ended.len())
    }

    /// Adds sessions kept elsewhere (the session files, by `llms --import-files`) under
    /// their own keys, but those already there and the expired ones; how many were added.
    /// Written a few thousand to a statement.
    pub async fn import(&self, sessions: &[(SessionKey, SessionRecord)]) -> Result<usize> {
        let now = now_secs();
        let live: Vec<&(SessionKey, SessionRecord)> = sessions
            .iter()
            .filter(|(_, record)| !self.is_expired(record.created, now))
            .collect();
        let mut added = 0;
        for chunk in live.chunks(5_000) {
            let column = |f: fn(&SessionRecord) -> String| -> Vec<String> {
                chunk.iter().map(|(_, record)| f(record)).collect()
            };
            let keys: Vec<Vec<u8>> = chunk
                .iter()
                .map(|(key, _)| key.as_bytes().to_vec())
                .collect();
            let created: Vec<f64> = chunk.iter().map(|(_, r)| r.created).collect();
            let last_seen: Vec<f64> = chunk
                .iter()
                .map(|(_, r)| r.last_seen.max(r.created))
                .collect();
            let expires: Vec<f64> = created
                .iter()
                .map(|created| created + self.max_age.as_secs_f64())
                .collect();
            let bindings: Vec<Option<i64>> = chunk
                .iter()
                .map(|(_, r)| r.binding.map(|b| b as i64))
                .collect();
            added += sqlx::query(
                "INSERT INTO sessions (key, provider, username, created, last_seen, expires, \
                 client_ip, user_agent, binding) \
                 SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::float8[], \
                 $5::float8[], $6::float8[], $7::text[], $8::text[], $9::int8[]) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&keys)
            .bind(column(|r| r.provider.clone()))
            .bind(column(|r| r.username.clone()))
            .bind(&created)
            .bind(&last_seen)
            .bind(&expires)
            .bind(column(|r| r.client_ip.clone()))
            .bind(column(|r| r.user_agent.clone()))
            .bind(&bindings)
            .execute(self.database.pool())
            .await
            .map_err(db_error)?
            .rows_affected();
        }
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    /// Removes expired sessions; how many.
    pub async fn sweep(&self) -> Result<usize> {
        let now = now_secs();
        let swept = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(now)
            .execute(self.database.pool())
            .await
            .map_err(db_error)?
            .rows_affected();
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, hit| !self.is_expired(hit.created, now));
        Ok(usize::try_from(swept).unwrap_or(usize::MAX))
    }

    /// How many sessions this instance holds in its cache.
    pub fn cached_len(&self) -> usize {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A row of [`PgSessions::sessions_of`].
type SessionRow = (Vec<u8>, f64, f64, String, String, Option<i64>);

/// Serializes changes to one account's sessions across instances, until the transaction
/// ends.
async fn lock_account(tx: &mut PgConnection, provider: &str, username: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
        .bind(provider)
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Raises the `sessions` version and announces it when the transaction commits: every
/// instance then checks its cached sessions again before using them. Returns the new
/// version, which the instance that made the change takes at once ([`PgSessions::heard`]).
async fn announce(tx: &mut PgConnection) -> Result<i64> {
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO document_versions (store, version) VALUES ($1, 1) \
         ON CONFLICT (store) DO UPDATE SET version = document_versions.version + 1 \
         RETURNING version",
    )
    .bind(STORE)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(format!("{STORE}:{version}"))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    Ok(version)
}
