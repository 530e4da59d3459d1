//! Where the stores live: files under `LLMS_HOME`, or the shared database
//! (`LLMS_DATABASE_URL`), behind one API each, the file store's.
//!
//! - [`DocumentStore`]: a keyed document (`users.json`, `keys.json`, a provider's
//!   accounts): its JSON file ([`JsonStore`]) or rows ([`PgDocuments`]). A read answered
//!   from memory while nothing has changed ([`DocumentStore::cached_if_current`]), a
//!   read-modify-write that loses nothing to another writer ([`DocumentStore::update`]).
//! - [`Sessions`]: the session files ([`SessionStore`]) or rows ([`PgSessions`]).
//! - [`Audit`]: the audit log's file ([`AuditLog`]) or rows ([`PgAuditLog`]).
//!
//! Reads and writes that may wait (for the disk or the database) block, as the file store's
//! always did: callers run them on the blocking pool (or in the command line). On the
//! database, the change itself runs on the calling thread between two waits on the
//! runtime, so it may block too (end sessions, say) without holding the runtime.

use std::path::Path;
use std::sync::Arc;

use tokio::runtime::Handle;

use crate::audit::{AuditLog, AuditRecord};
use crate::config::Config;
use crate::database::{Entries, PgAuditLog, PgDocuments, PgSessions};
use crate::error::Result;
use crate::json_store::{Document, JsonStore};
use crate::session::{FoundSession, SessionKey, SessionRecord, SessionStore, SessionToken};

/// The name of `users.json`'s document in the database.
pub const USERS_DOCUMENT: &str = "users";

/// The name of `keys.json`'s document in the database.
pub const KEYS_DOCUMENT: &str = "keys";

/// A keyed document in a file or in the database.
#[derive(Debug)]
pub enum DocumentStore<V> {
    /// Its JSON file.
    Files(JsonStore<Entries<V>>),
    /// Rows of the shared database, waited for on `runtime`.
    Postgres {
        /// The document.
        documents: PgDocuments<V>,
        /// The runtime its queries run on.
        runtime: Handle,
    },
}

impl<V> DocumentStore<V>
where
    V: crate::database::Entry,
    Entries<V>: Document,
{
    /// The document in the database, its queries waited for on the database's runtime.
    pub fn postgres(documents: PgDocuments<V>) -> Self {
        let runtime = documents.database().runtime().clone();
        Self::Postgres { documents, runtime }
    }

    /// The file, when the document is one.
    pub fn file_path(&self) -> Option<&Path> {
        match self {
            Self::Files(store) => Some(store.path()),
            Self::Postgres { .. } => None,
        }
    }

    /// The file's lock (held by every writer of the file), when the document is a file.
    pub fn lock_path(&self) -> Option<&Path> {
        match self {
            Self::Files(store) => Some(store.lock_path()),
            Self::Postgres { .. } => None,
        }
    }

    /// Where the document lives, for messages: the file's path, or the database's table.
    pub fn describe(&self) -> String {
        match self {
            Self::Files(store) => store.path().display().to_string(),
            Self::Postgres { documents, .. } => {
                format!("the database's {} document", documents.store())
            }
        }
    }

    /// The document, from memory, when nothing can have changed it since it was read.
    pub fn cached_if_current(&self) -> Option<Arc<Entries<V>>> {
        match self {
            Self::Files(store) => store.cached_if_current(),
            Self::Postgres { documents, .. } => documents.cached_if_current(),
        }
    }

    /// The document now. Blocking.
    pub fn snapshot(&self) -> Result<Arc<Entries<V>>> {
        match self {
            Self::Files(store) => store.snapshot(),
            Self::Postgres { documents, runtime } => runtime.block_on(documents.snapshot()),
        }
    }

    /// The document now, as a value of its own. Blocking.
    pub fn load(&self) -> Result<Entries<V>> {
        match self {
            Self::Files(store) => store.load(),
            Self::Postgres { .. } => Ok((*self.snapshot()?).clone()),
        }
    }

    /// Changes the document with `change`, no other writer (of any process or instance)
    /// in between; nothing is written when `change` fails or changes nothing. Blocking.
    pub fn update<R>(&self, change: impl FnOnce(&mut Entries<V>) -> Result<R>) -> Result<R> {
        match self {
            Self::Files(store) => store.update(change),
            Self::Postgres { documents, runtime } => {
                let pending = runtime.block_on(documents.begin())?;
                let mut next = (**pending.current()).clone();
                // Off the runtime: the change may block (ending sessions, say).
                let result = change(&mut next)?;
                runtime.block_on(pending.commit(next))?;
                Ok(result)
            }
        }
    }

    /// How many times the file was seen changed (the sessions cache re-checks its sessions
    /// when this moves); 0 for the database, whose sessions say themselves when they end.
    pub fn generation(&self) -> u64 {
        match self {
            Self::Files(store) => store.generation(),
            Self::Postgres { .. } => 0,
        }
    }

    /// Makes a file llms.py wrote readable by its owner only; nothing for the database.
    pub fn make_private(&self) {
        if let Self::Files(store) = self {
            store.make_private();
        }
    }
}

/// The sessions, in files or in the database. The methods that wait block, as the file
/// store's always did (the blocking pool, or the command line); [`Sessions::find`] is the
/// hot path and does not.
#[derive(Debug)]
pub enum Sessions {
    /// One file per session under `credentials/sessions`.
    Files(Arc<SessionStore>),
    /// Rows of the shared database, waited for on `runtime`.
    Postgres {
        /// The sessions.
        sessions: Arc<PgSessions>,
        /// The runtime their queries run on.
        runtime: Handle,
    },
}

impl Sessions {
    /// The sessions in the database, their queries waited for on the database's runtime.
    pub fn postgres(sessions: PgSessions) -> Self {
        let runtime = sessions.database().runtime().clone();
        Self::Postgres {
            sessions: Arc::new(sessions),
            runtime,
        }
    }

    /// The live session stored under `key`, or `None`. `generation` is the user store's
    /// ([`DocumentStore::generation`]): a cached session file is checked again when it
    /// moved.
    pub async fn find(&self, key: SessionKey, generation: u64) -> Result<Option<FoundSession>> {
        match self {
            Self::Files(store) => store.find(key, generation).await,
            // Boxed: the query's future is large, and every request's future would carry
            // it inline, files or not.
            Self::Postgres { sessions, .. } => Box::pin(sessions.find(key)).await,
        }
    }

    /// Starts a session (see [`SessionStore::create`]). Blocking.
    pub fn create(
        &self,
        username: &str,
        provider: &str,
        client_ip: &str,
        user_agent: &str,
        binding: u64,
    ) -> Result<SessionToken> {
        match self {
            Self::Files(store) => store.create(username, provider, client_ip, user_agent, binding),
            Self::Postgres { sessions, runtime } => runtime
                .block_on(sessions.create(username, provider, client_ip, user_agent, binding)),
        }
    }

    /// The live sessions of `username` signed in by `provider`. Blocking.
    pub fn sessions_of(
        &self,
        provider: &str,
        username: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>> {
        match self {
            Self::Files(store) => store.sessions_of(provider, username),
            Self::Postgres { sessions, runtime } => {
                runtime.block_on(sessions.sessions_of(provider, username))
            }
        }
    }

    /// Moves `username`'s sessions bound to `from` over to `to`. Blocking.
    pub fn rebind(&self, provider: &str, username: &str, from: u64, to: u64) -> Result<()> {
        match self {
            Self::Files(store) => store.rebind(provider, username, from, to),
            Self::Postgres { sessions, runtime } => {
                runtime.block_on(sessions.rebind(provider, username, from, to))
            }
        }
    }

    /// Ends one session. Blocking.
    pub fn remove(&self, key: &SessionKey) -> Result<()> {
        match self {
            Self::Files(store) => store.remove(key),
            Self::Postgres { sessions, runtime } => runtime.block_on(sessions.remove(*key)),
        }
    }

    /// Ends every session of `username` signed in by `provider` but `keep`; how many.
    /// Blocking.
    pub fn remove_user(
        &self,
        provider: &str,
        username: &str,
        keep: Option<SessionKey>,
    ) -> Result<usize> {
        match self {
            Self::Files(store) => store.remove_user(provider, username, keep),
            Self::Postgres { sessions, runtime } => {
                runtime.block_on(sessions.remove_user(provider, username, keep))
            }
        }
    }

    /// Removes expired sessions; how many. Blocking.
    pub fn sweep(&self) -> Result<usize> {
        match self {
            Self::Files(store) => store.sweep(),
            Self::Postgres { sessions, runtime } => runtime.block_on(sessions.sweep()),
        }
    }

    /// Makes sure every session file is in the index (files only). Blocking.
    pub fn ensure_index(&self) -> Result<()> {
        match self {
            Self::Files(store) => store.ensure_index(),
            Self::Postgres { .. } => Ok(()),
        }
    }

    /// Creates the session folder (files only).
    pub fn ensure_dir(&self) -> Result<()> {
        match self {
            Self::Files(store) => store.ensure_dir(),
            Self::Postgres { .. } => Ok(()),
        }
    }

    /// Makes a session folder llms.py wrote private (files only). Blocking.
    pub fn make_private(&self) {
        if let Self::Files(store) = self {
            store.make_private();
        }
    }
}

/// The audit log, in its file or in the database.
#[derive(Debug, Clone)]
pub enum Audit {
    /// `credentials/audit.log`, one JSON line per event.
    Files(AuditLog),
    /// The `audit_log` table, rows from every instance.
    Postgres(PgAuditLog),
}

impl Audit {
    /// The audit log of `config`'s home: its file, or the database's table.
    pub async fn open(config: &Config) -> Result<Self> {
        Ok(match &config.database_url {
            Some(url) => {
                let database = crate::database::Database::connect(&url.0).await?;
                Self::Postgres(PgAuditLog::new(&database))
            }
            None => Self::Files(AuditLog::new(config.audit_log())),
        })
    }

    /// The last `count` records, oldest first.
    pub async fn tail(&self, count: usize) -> Result<Vec<AuditRecord>> {
        match self {
            Self::Files(log) => {
                let log = log.clone();
                tokio::task::spawn_blocking(move || log.tail(count)).await?
            }
            Self::Postgres(log) => log.tail(count).await,
        }
    }

    /// Appends `record`; a failure is logged, never fatal (auditing never blocks the
    /// action itself). The file is written on the blocking pool.
    pub async fn append_or_warn(&self, record: AuditRecord) {
        match self {
            Self::Files(log) => {
                let log = log.clone();
                let written =
                    tokio::task::spawn_blocking(move || log.append_or_warn(&record)).await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "audit task failed");
                }
            }
            Self::Postgres(log) => log.append_or_warn(&record).await,
        }
    }
}
