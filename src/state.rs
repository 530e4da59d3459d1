//! [`AuthState`]: the [`AuthContext`] and the selected providers, shared by every handler.
//!
//! Who makes a request is decided here, the same way for one provider or several: while
//! no selected provider requires signing in, everyone is the default user; otherwise each
//! provider is asked in turn whether it vouches for the request, and a session none of them
//! vouches for ends.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::request::Parts;

use crate::accounts::{Account, AccountDirectory};
use crate::config::Config;
use crate::context::{AuthContext, NameRegistry};
use crate::error::{Error, Result};
use crate::identity::{CurrentUser, Identity};
use crate::keys::{KeyGrant, KeyVerdict};
use crate::provider::{AuthProvider, ProviderRegistry};
use crate::providers::credentials::PASSWORD_ACCOUNTS;
use crate::request::RequestFacts;
use crate::users::same_username;

/// Who an API key makes a request, or why it is refused.
#[derive(Debug)]
pub enum KeyIdentity {
    /// The key's owner (or the default user while authentication is off, with no grant),
    /// and what the key allows.
    User(CurrentUser, Option<KeyGrant>),
    /// Refused: unknown, expired, its owner gone ([`Error::KeyRefused`]) or locked
    /// ([`Error::Locked`]).
    Refused(Error),
}

/// Shared state of the auth extension. Cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    inner: Arc<Inner>,
}

struct Inner {
    context: AuthContext,
    /// The selected providers, in the order `--auth` lists them.
    providers: Vec<Arc<dyn AuthProvider>>,
    /// The providers' public paths, gathered once.
    public_paths: Vec<String>,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.providers.iter().map(|p| p.name()).collect();
        f.debug_struct("AuthState")
            .field("home", &self.config().home)
            .field("providers", &names)
            .finish_non_exhaustive()
    }
}

impl FromRef<AuthState> for AuthContext {
    fn from_ref(state: &AuthState) -> AuthContext {
        state.inner.context.clone()
    }
}

impl AuthState {
    /// Selects the providers `config.auth` names from `registry`, lets each check its
    /// configuration, and opens the stores. Fails on an unknown provider, a provider that
    /// is not configured, or a store that does not parse.
    pub async fn new(config: Config, registry: &ProviderRegistry) -> Result<Self> {
        let providers = registry.select_all(&config.provider_names())?;
        for provider in &providers {
            provider.prepare(&config).await?;
        }
        let context = AuthContext::open(config).await?;
        // Each provider reads its store now: a broken one stops the server here, and the
        // password provider notes whether users exist from the start.
        for provider in &providers {
            provider.requires_auth(&context).await?;
        }
        let public_paths = providers.iter().flat_map(|p| p.public_paths()).collect();
        let state = Self {
            inner: Arc::new(Inner {
                context,
                providers,
                public_paths,
            }),
        };
        // Providers admitting new accounts ask every provider's accounts for a name; the
        // context holds the state weakly (the state holds the context).
        state
            .inner
            .context
            .set_name_registry(Arc::new(Names(Arc::downgrade(&state.inner))));
        Ok(state)
    }

    /// The stores and services providers and handlers share.
    pub fn context(&self) -> &AuthContext {
        &self.inner.context
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.inner.context.config()
    }

    /// The selected providers, in the order `--auth` lists them.
    pub fn providers(&self) -> &[Arc<dyn AuthProvider>] {
        &self.inner.providers
    }

    /// The first selected provider's name: `authProvider` in `GET /config` and `GET /auth`,
    /// and the provider of the default user.
    pub fn provider_name(&self) -> &str {
        self.inner.providers.first().map_or("", |p| p.name())
    }

    /// Paths the selected providers declare public.
    pub fn provider_public_paths(&self) -> &[String] {
        &self.inner.public_paths
    }

    /// Whether any selected provider requires signing in right now.
    pub async fn requires_auth(&self) -> Result<bool> {
        let ctx = &self.inner.context;
        for provider in &self.inner.providers {
            let required = match provider.requires_auth_now(ctx) {
                Some(required) => required,
                None => provider.requires_auth(ctx).await?,
            };
            if required {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Who makes `request`: the default user while authentication is off, else the user a
    /// selected provider vouches for, else nobody. A session that no selected provider
    /// vouches for (say one started by a provider no longer selected) is ended.
    pub async fn identify(&self, request: &Parts) -> Result<Identity> {
        let ctx = &self.inner.context;
        if !self.requires_auth().await? {
            return Ok(Identity::User(CurrentUser::default_user(
                self.provider_name(),
            )));
        }
        for provider in &self.inner.providers {
            if let Identity::User(user) = provider.identify(ctx, request).await? {
                return Ok(Identity::User(user));
            }
        }
        let facts = RequestFacts::of(request, ctx.config());
        // Boxed: a session no provider vouches for is rare, and the lookup's future is
        // large; inline, it would be moved with every request's future.
        if let Some(found) = Box::pin(ctx.find_session(facts.session())).await? {
            ctx.end_session(found.key).await?;
        }
        Ok(Identity::Anonymous)
    }

    /// Who an API key (its SHA-256 `hash`) makes a request: its owner while the key is
    /// live and the owner exists, unlocked, in the directory of the provider that signs them
    /// in (roles read from there now). While authentication is off, everyone is the default
    /// user, key or not.
    pub async fn identify_key(&self, hash: [u8; 32]) -> Result<KeyIdentity> {
        if !self.requires_auth().await? {
            let user = CurrentUser::default_user(self.provider_name());
            return Ok(KeyIdentity::User(user, None));
        }
        let ctx = &self.inner.context;
        let valid = match ctx.keys().check_hash(hash).await? {
            KeyVerdict::Unknown => {
                return Ok(KeyIdentity::Refused(Error::KeyRefused(
                    "Incorrect API key provided.",
                )))
            }
            KeyVerdict::Expired => {
                return Ok(KeyIdentity::Refused(Error::KeyRefused(
                    "This API key has expired.",
                )))
            }
            KeyVerdict::Valid(valid) => valid,
        };
        let key = valid.key();
        let owner = match self.directory(&key.provider) {
            Ok(directory) => directory.get(ctx, &key.user_name).await?,
            Err(_) => None,
        };
        match owner {
            None => Ok(KeyIdentity::Refused(Error::KeyRefused(
                "This API key's user no longer exists here.",
            ))),
            Some(account) => match account.locked {
                Some(reason) => Ok(KeyIdentity::Refused(Error::Locked(reason))),
                None => Ok(KeyIdentity::User(
                    CurrentUser {
                        user_name: key.user_name.clone(),
                        roles: account.roles,
                        provider: key.provider.clone(),
                        session: None,
                        is_default: false,
                        must_change_password: account.must_change_password,
                        two_factor: account.two_factor,
                    },
                    Some(key.grant(valid.id())),
                )),
            },
        }
    }

    /// Every store of accounts Manage Users shows: the password store first (its accounts
    /// can be managed whichever providers are selected), then each selected provider's own.
    pub fn directories(&self) -> Vec<&dyn AccountDirectory> {
        let mut directories: Vec<&dyn AccountDirectory> = vec![&PASSWORD_ACCOUNTS];
        for provider in &self.inner.providers {
            if let Some(directory) = provider.accounts() {
                if directory.provider() != PASSWORD_ACCOUNTS.provider() {
                    directories.push(directory);
                }
            }
        }
        directories
    }

    /// The directory of `provider`'s accounts, or an error naming the ones there are.
    pub fn directory(&self, provider: &str) -> Result<&dyn AccountDirectory> {
        let directories = self.directories();
        if let Some(directory) = directories.iter().find(|d| d.provider() == provider) {
            return Ok(*directory);
        }
        let known: Vec<&str> = directories.iter().map(|d| d.provider()).collect();
        Err(Error::bad_request(format!(
            "Unknown provider '{provider}': accounts are kept by {}",
            known.join(", ")
        )))
    }

    /// The account that holds `name` in any directory, in whatever case (usernames are one
    /// namespace across providers, and ignore case), with the directory's provider.
    pub async fn account_named(&self, name: &str) -> Result<Option<(String, Account)>> {
        for directory in self.directories() {
            let found = directory
                .list(&self.inner.context)
                .await?
                .into_iter()
                .find(|account| same_username(&account.user_name, name));
            if let Some(account) = found {
                return Ok(Some((directory.provider().to_owned(), account)));
            }
        }
        Ok(None)
    }
}

/// The selected providers' accounts as one namespace, for [`AuthContext::holder_of`].
struct Names(std::sync::Weak<Inner>);

#[async_trait::async_trait]
impl NameRegistry for Names {
    async fn holder_of(&self, _ctx: &AuthContext, name: &str) -> Result<Option<(String, String)>> {
        let Some(inner) = self.0.upgrade() else {
            return Ok(None);
        };
        let held = AuthState { inner }.account_named(name).await?;
        Ok(held.map(|(provider, account)| (provider, account.user_name)))
    }

    fn label_of(&self, provider: &str) -> Option<String> {
        let inner = self.0.upgrade()?;
        let state = AuthState { inner };
        let label = state.directory(provider).ok()?.badge()?.to_owned();
        Some(label)
    }
}
