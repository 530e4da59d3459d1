//! [`AuthContext`]: what providers and handlers share: the configuration, the password
//! store, the sessions, the hasher, the throttle, the audit log and the avatar decoder.
//!
//! Providers get this, not the whole [`AuthState`](crate::AuthState): the state holds the
//! providers, the context holds what they work with.

use std::sync::Arc;

use crate::audit::{AuditLog, AuditRecord};
use crate::avatar::{AvatarDecoder, Avatars, AVATAR_DECODERS};
use crate::config::{Config, SESSION_MAX_AGE};
use crate::database::{
    Database, Entries, Entry, PgAuditLog, PgAvatars, PgDocuments, PgSessions, PgThrottle,
};
use crate::error::Result;
use crate::json_store::JsonStore;
use crate::keys::{KeyRing, RateLimiter};
use crate::password::PasswordHasher;
use crate::session::{FoundSession, SessionKey, SessionStore, SessionToken};
use crate::stores::{Audit, DocumentStore, Sessions, KEYS_DOCUMENT, USERS_DOCUMENT};
use crate::throttle::Throttle;
use crate::upstream::Upstream;
use crate::users::{open_store, UserStore, Users};

/// Who holds a username, among every selected provider's accounts: usernames are one
/// namespace, so a provider admitting a new external account asks this first
/// ([`AuthContext::holder_of`]). Set by the state that knows the selected providers.
#[async_trait::async_trait]
pub trait NameRegistry: Send + Sync {
    /// The provider holding `name` in any case, and the name as it holds it, if any.
    async fn holder_of(&self, ctx: &AuthContext, name: &str) -> Result<Option<(String, String)>>;

    /// How the pages name `provider`'s accounts ("GitHub", an OIDC provider's name), if
    /// it is selected and names them.
    fn label_of(&self, provider: &str) -> Option<String>;
}

/// The stores and services of one home (`LLMS_HOME`). Cheap to clone.
#[derive(Clone)]
pub struct AuthContext {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    users: UserStore,
    keys: Arc<KeyRing>,
    limiter: RateLimiter,
    upstream: Option<Upstream>,
    sessions: Arc<Sessions>,
    hasher: PasswordHasher,
    throttle: Throttle,
    audit: Audit,
    /// The shared database, when the stores live there.
    database: Option<Database>,
    avatar_store: Avatars,
    avatars: AvatarDecoder,
    /// Who holds a username across the selected providers, once they are known.
    names: std::sync::OnceLock<Arc<dyn NameRegistry>>,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("home", &self.inner.config.home)
            .finish_non_exhaustive()
    }
}

impl AuthContext {
    /// Opens the stores of `config`: makes a store or session folder written by llms.py
    /// private, and fails now, not on the first request, when the user store is broken.
    pub async fn open(config: Config) -> Result<Self> {
        let database = match &config.database_url {
            Some(url) => Some(Database::connect(&url.0).await?),
            None => None,
        };
        let (users, keys, sessions, audit, avatar_store) = match &database {
            Some(database) => (
                DocumentStore::postgres(PgDocuments::new(database, USERS_DOCUMENT)),
                DocumentStore::postgres(PgDocuments::new(database, KEYS_DOCUMENT)),
                Sessions::postgres(PgSessions::new(database, SESSION_MAX_AGE)),
                Audit::Postgres(PgAuditLog::new(database)),
                Avatars::Postgres(PgAvatars::new(database)),
            ),
            None => {
                let users = open_store(&config);
                let mut sessions = SessionStore::new(config.sessions_dir(), SESSION_MAX_AGE);
                if let Some(lock) = users.lock_path() {
                    sessions = sessions.with_store_lock(lock.to_owned());
                }
                let keys = crate::keys::open_store(&config);
                let audit = Audit::Files(AuditLog::new(config.audit_log()));
                let avatars = Avatars::Files(Box::new(config.clone()));
                (
                    users,
                    keys,
                    Sessions::Files(Arc::new(sessions)),
                    audit,
                    avatars,
                )
            }
        };
        let sessions = Arc::new(sessions);
        let throttle = match &database {
            Some(database) => Throttle::shared(PgThrottle::new(database)),
            None => Throttle::new(),
        };
        let context = Self {
            inner: Arc::new(Inner {
                hasher: PasswordHasher::new(config.hash_scheme, config.hash_concurrency),
                audit,
                database,
                avatar_store,
                keys: Arc::new(KeyRing::new(keys)),
                limiter: RateLimiter::new(),
                upstream: Upstream::from_config(&config)?,
                config,
                users,
                sessions,
                throttle,
                avatars: AvatarDecoder::new(AVATAR_DECODERS),
                names: std::sync::OnceLock::new(),
            }),
        };
        let ctx = context.clone();
        tokio::task::spawn_blocking(move || {
            ctx.inner.users.make_private();
            ctx.inner.sessions.make_private();
            ctx.inner.keys.store().make_private();
        })
        .await?;
        context.users().await?;
        context.keys().keys().await?;
        Ok(context)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The password store (`users.json`).
    pub(crate) fn user_store(&self) -> &UserStore {
        &self.inner.users
    }

    /// The API keys.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.inner.keys
    }

    /// The requests-per-minute limits of the keys.
    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// The OpenAI-compatible server `/v1/*` is forwarded to, if one is configured.
    pub fn upstream(&self) -> Option<&Upstream> {
        self.inner.upstream.as_ref()
    }

    /// The session store.
    pub(crate) fn sessions(&self) -> &Arc<Sessions> {
        &self.inner.sessions
    }

    /// The password hasher.
    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The sign-in throttle.
    pub(crate) fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// Where uploaded avatars are decoded, a few at a time.
    pub(crate) fn avatars(&self) -> &AvatarDecoder {
        &self.inner.avatars
    }

    /// A provider's keyed document (its accounts, say) where this home keeps its stores:
    /// the file `file` makes, or the database's document `name`.
    pub fn documents<V: Entry>(
        &self,
        name: &'static str,
        file: impl FnOnce() -> JsonStore<Entries<V>>,
    ) -> DocumentStore<V> {
        match &self.inner.database {
            Some(database) => DocumentStore::postgres(PgDocuments::new(database, name)),
            None => DocumentStore::Files(file()),
        }
    }

    /// Where the avatars are kept.
    pub(crate) fn avatar_store(&self) -> &Avatars {
        &self.inner.avatar_store
    }

    /// Appends to the audit log; a failure is logged, never fatal.
    pub async fn audit(&self, record: AuditRecord) {
        self.inner.audit.append_or_warn(record).await;
    }

    /// The current password accounts: no I/O while the file is known unchanged; a
    /// re-read on the blocking pool when it changed.
    pub async fn users(&self) -> Result<Arc<Users>> {
        if let Some(users) = self.users_if_current() {
            return Ok(users);
        }
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || ctx.inner.users.snapshot()).await?
    }

    /// The user store, when what is in memory is known to be current (what
    /// [`AuthContext::users`] answers without waiting), else `None`.
    pub fn users_if_current(&self) -> Option<Arc<Users>> {
        self.inner.users.cached_if_current()
    }

    /// Sets who answers [`AuthContext::holder_of`] (the state that knows the selected
    /// providers); the first setting stays.
    pub fn set_name_registry(&self, names: Arc<dyn NameRegistry>) {
        let _ = self.inner.names.set(names);
    }

    /// The provider holding `name` in any case, and the name as it holds it, among every
    /// selected provider's accounts. An error before the providers are known (it never
    /// admits a name unchecked).
    pub async fn holder_of(&self, name: &str) -> Result<Option<(String, String)>> {
        match self.inner.names.get() {
            Some(names) => names.holder_of(self, name).await,
            None => Err(crate::error::Error::Internal(anyhow::anyhow!(
                "no provider list to check the name against"
            ))),
        }
    }

    /// How to name `provider` to a person: its badge ("GitHub", an OIDC provider's own
    /// name) when it is selected and has one, else its name.
    pub fn provider_label(&self, provider: &str) -> String {
        self.inner
            .names
            .get()
            .and_then(|names| names.label_of(provider))
            .unwrap_or_else(|| provider.to_owned())
    }

    /// Runs a read-modify-write of the password store on the blocking pool.
    pub async fn update_users<T: Send + 'static>(
        &self,
        change: impl FnOnce(&AuthContext, &mut Users) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || ctx.inner.users.update(|users| change(&ctx, users)))
            .await?
    }

    /// The live session stored under `key`, if any. A session is checked against the
    /// disk again whenever the password store changed since it was cached.
    pub async fn find_session(&self, key: Option<SessionKey>) -> Result<Option<FoundSession>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let generation = self.inner.users.generation();
        self.inner.sessions.find(key, generation).await
    }

    /// Starts a session for `user_name`, signed in by `provider`, bound to the account's
    /// `binding` ([`crate::session::binding`]: the provider accepts the session only while
    /// the account's binding is the same). Blocking: call it from inside a store's
    /// read-modify-write or the blocking pool.
    pub fn start_session(
        &self,
        user_name: &str,
        provider: &str,
        client_ip: &str,
        user_agent: &str,
        binding: u64,
    ) -> Result<SessionToken> {
        self.inner
            .sessions
            .create(user_name, provider, client_ip, user_agent, binding)
    }

    /// Ends every session of `user_name` signed in by `provider` but `keep` (memory and
    /// disk); returns how many ended. For a provider whose account was locked or removed.
    pub async fn end_sessions_of(
        &self,
        provider: &str,
        user_name: &str,
        keep: Option<SessionKey>,
    ) -> Result<usize> {
        let sessions = self.inner.sessions.clone();
        let (provider, user_name) = (provider.to_owned(), user_name.to_owned());
        tokio::task::spawn_blocking(move || sessions.remove_user(&provider, &user_name, keep))
            .await?
    }

    /// Ends one session (memory and disk).
    pub async fn end_session(&self, key: SessionKey) -> Result<()> {
        let sessions = self.inner.sessions.clone();
        tokio::task::spawn_blocking(move || sessions.remove(&key)).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_start_end_and_end_by_user() {
        let home = tempfile::tempdir().unwrap();
        let ctx = AuthContext::open(Config::new(home.path())).await.unwrap();
        let start = |name: &str| {
            ctx.start_session(name, "test", "127.0.0.1", "ua", 1)
                .unwrap()
        };
        let (kept, ended, other) = (start("bob"), start("bob"), start("carol"));
        let live = |token: &SessionToken| {
            let ctx = ctx.clone();
            let key = token.key();
            async move { ctx.find_session(Some(key)).await.unwrap().is_some() }
        };
        assert!(live(&ended).await);
        assert_eq!(
            ctx.end_sessions_of("test", "bob", Some(kept.key()))
                .await
                .unwrap(),
            1
        );
        assert!(live(&kept).await && live(&other).await);
        assert!(!live(&ended).await);
        ctx.end_session(kept.key()).await.unwrap();
        assert!(!live(&kept).await);
        assert!(ctx.find_session(None).await.unwrap().is_none());
    }
}
