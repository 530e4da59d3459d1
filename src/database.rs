//! The PostgreSQL store's connection (`LLMS_DATABASE_URL`): the pool, the schema (embedded,
//! versioned migrations in `migrations/`, run at start; a database whose schema is newer
//! than this binary knows is refused), and the changes other instances announce
//! ([`Changes`]), which keep each instance's caches honest.
//!
//! The stores built on it: [`PgDocuments`], a keyed document (`users.json`, `keys.json`,
//! a provider's accounts) as rows, and [`PgSessions`], the sessions by their token's
//! SHA-256; both read through a cache that the announcements invalidate. Besides them the
//! audit log ([`PgAuditLog`]) and the avatars ([`PgAvatars`]), which need no cache.

mod audit;
mod avatars;
mod changes;
mod documents;
mod sessions;
mod throttle;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub use audit::PgAuditLog;
pub use avatars::PgAvatars;
pub use changes::{Changes, CHANGES_CHANNEL};
pub use documents::{Entries, Entry, PendingChange, PgDocuments};
pub use sessions::PgSessions;
pub use throttle::{Counted, PgThrottle};

use crate::error::{Error, Result};

/// The schema's migrations, embedded at compile time from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How long a request waits for a connection before it is answered 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connections each instance keeps at most (besides the one that listens for changes).
pub const MAX_CONNECTIONS: u32 = 16;

/// A connection to the shared database: the pool and the listener for changes. Cheap to
/// clone; the listener stops when the last clone is dropped.
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    /// The runtime the pool and the listener were started on (blocking callers wait on it).
    runtime: tokio::runtime::Handle,
    changes: Changes,
    _listener: Arc<changes::Listening>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").finish_non_exhaustive()
    }
}

impl Database {
    /// Connects to `url`, brings the schema up to date (or refuses a newer one), and starts
    /// listening for changes. Every failure is a [`Error::Config`] that says what to fix,
    /// without the URL's password.
    pub async fn connect(url: &str) -> Result<Self> {
        let not_postgres = |why: String| {
            Error::Config(format!(
                "LLMS_DATABASE_URL is not a PostgreSQL URL (postgres://user:password@host:port/database): {why}"
            ))
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            return Err(not_postgres(format!("its scheme is {scheme}")));
        }
        let options = PgConnectOptions::from_str(url).map_err(|e| not_postgres(e.to_string()))?;
        let place = describe(&options);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| Error::Config(format!("cannot reach the database {place}: {e}")))?;
        migrate(&pool, &place).await?;
        let (changes, listening) = changes::listen(pool.clone());
        Ok(Self {
            pool,
            runtime: tokio::runtime::Handle::current(),
            changes,
            _listener: Arc::new(listening),
        })
    }

    /// The runtime the database's connections belong to: callers that block wait on it.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The pool, for the stores.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// What other instances have announced.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Waits until the listener for changes is connected (start-up, tests).
    pub async fn listening(&self, within: Duration) -> bool {
        self.changes.wait_connected(within).await
    }
}

/// The newest schema version this binary knows.
pub fn known_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies the migrations this database lacks, after refusing a schema newer than this
/// binary knows (another instance was upgraded first: running on would misread it). The
/// migrator's own advisory lock keeps instances starting together from migrating twice.
async fn migrate(pool: &PgPool, place: &str) -> Result<()> {
    let read = |e: sqlx::Error| {
        Error::Config(format!(
            "cannot read the schema of the database {place}: {e}"
        ))
    };
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(read)?;
    let applied: Option<i64> = if migrated {
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(read)?
    } else {
        None
    };
    let known = known_schema_version();
    if let Some(applied) = applied.filter(|&applied| applied > known) {
        return Err(Error::Config(format!(
            "the database {place} has schema version {applied}, newer than this llms knows ({known}): upgrade llms on this machine, or use another database"
        )));
    }
    MIGRATOR.run(pool).await.map_err(|e| {
        Error::Config(format!(
            "cannot bring the schema of the database {place} up to date: {e}"
        ))
    })
}

/// Where `options` point, for messages: user, host, port and database, never a password.
fn describe(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// A failed statement as the crate's error: the database out of reach (the pool timed
/// out, the connection broke) is [`Error::StoreUnavailable`] (503), logged here with its
/// cause; anything else is internal.
pub fn db_error(error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => {
            tracing::warn!(error = %error, "the database cannot be reached");
            Error::StoreUnavailable
        }
        sqlx::Error::Database(ref db) if is_unavailable_state(db.code().as_deref()) => {
            tracing::warn!(error = %error, "the database is not accepting requests");
            Error::StoreUnavailable
        }
        other => Error::Internal(anyhow::anyhow!("database: {other}")),
    }
}

/// SQLSTATEs of a server going away or not taking work: class 08 (connection), 57P01-57P03
/// (shutting down, cannot connect now), 53300 (too many connections).
fn is_unavailable_state(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_database_without_its_password() {
        let options =
            PgConnectOptions::from_str("postgres://llms:s3cret@db.example:6432/auth").unwrap();
        let place = describe(&options);
        assert_eq!(place, "postgres://llms@db.example:6432/auth");
        assert!(!place.contains("s3cret"));
    }

    #[test]
    fn the_schema_version_is_the_newest_migration() {
        assert!(known_schema_version() >= 1);
    }

    #[test]
    fn a_server_going_away_is_unavailable_not_internal() {
        assert!(is_unavailable_state(Some("08006")));
        assert!(is_unavailable_state(Some("57P01")));
        assert!(!is_unavailable_state(Some("23505")));
        assert!(!is_unavailable_state(None));
        assert!(matches!(
            db_error(sqlx::Error::PoolTimedOut),
            Error::StoreUnavailable
        ));
        assert!(matches!(
            db_error(sqlx::Error::RowNotFound),
            Error::Internal(_)
        ));
    }
}
