//! The [`AuthProvider`] trait, the identity it resolves, and the registry of providers.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::Router;
use maud::Markup;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::state::AuthState;
use crate::users::ADMIN_ROLE;

/// The user every request runs as while authentication is off.
pub const DEFAULT_USERNAME: &str = "default";

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// The username.
    pub user_name: String,
    /// Roles, read live from the provider's store.
    pub roles: Vec<String>,
    /// The provider that vouches for this user.
    pub provider: String,
    /// The session the request carries (`None` for the default user).
    pub session: Option<crate::session::SessionKey>,
    /// Whether this is the default user of an unauthenticated server.
    pub is_default: bool,
}

impl CurrentUser {
    /// The default user: treated as an admin, cannot sign out.
    pub fn default_user(provider: &str) -> Self {
        Self {
            user_name: DEFAULT_USERNAME.to_owned(),
            roles: vec![ADMIN_ROLE.to_owned()],
            provider: provider.to_owned(),
            session: None,
            is_default: true,
        }
    }

    /// The user a live session vouches for, with roles read live from the provider's store.
    pub fn from_session(found: crate::session::FoundSession, roles: Vec<String>) -> Self {
        Self {
            user_name: found.username,
            roles,
            provider: found.provider,
            session: Some(found.key),
            is_default: false,
        }
    }

    /// Whether the user holds the Admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// What a provider concludes about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Nobody is signed in and the provider requires it.
    Anonymous,
    /// This user (possibly the default user when authentication is off).
    User(CurrentUser),
}

/// An account a provider keeps in its own store (not in `users.json`), as listed by
/// `GET /admin/users` next to the user store's accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderAccount {
    /// The username sessions carry.
    pub user_name: String,
    /// Unix seconds when the account was first seen.
    pub created: f64,
    /// Roles in effect.
    pub roles: Vec<String>,
    /// The lock reason, if locked.
    pub locked: Option<String>,
    /// Client address of the last sign-in.
    pub last_ip: Option<String>,
    /// Unix seconds of the last sign-in.
    pub last_login: Option<f64>,
}

/// What `locked` asks for in an account change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LockChange {
    /// Leave the lock as it is.
    #[default]
    Keep,
    /// Lock with this reason (and end the account's sessions).
    Lock(String),
    /// Unlock (nothing to do when not locked).
    Unlock,
}

impl LockChange {
    /// Applies the change to an account's `locked` field and says what it did, if anything.
    pub fn apply(self, locked: &mut Option<String>) -> Option<AccountChanged> {
        match self {
            Self::Keep => None,
            Self::Lock(reason) => {
                *locked = Some(reason.clone());
                Some(AccountChanged::Locked(reason))
            }
            Self::Unlock => locked.take().map(|_| AccountChanged::Unlocked),
        }
    }
}

/// A change an admin asks for on one account (`PUT /admin/users`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// A new password, when one was given (never shown in `Debug`).
    pub password: Option<String>,
    /// The complete new list of roles, when given.
    pub roles: Option<Vec<String>>,
    /// Lock, unlock, or neither.
    pub lock: LockChange,
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountChange")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("roles", &self.roles)
            .field("lock", &self.lock)
            .finish()
    }
}

/// One thing an [`AccountChange`] actually changed, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChanged {
    /// The password was set.
    Password,
    /// The roles are now these.
    Roles(Vec<String>),
    /// The account was locked with this reason.
    Locked(String),
    /// The account was unlocked.
    Unlocked,
}

/// A way of signing people in. Registered by name in a [`ProviderRegistry`] and selected
/// with `--auth NAME` / `LLMS_AUTH`.
///
/// Object safe: the registry holds `Arc<dyn AuthProvider>`, so a host program can add its
/// own and select it with `--auth NAME` through [`crate::cli::run_with`] (see
/// `examples/proxy_header.rs`). A complete provider that signs everyone in as one fixed user:
///
/// ```
/// use async_trait::async_trait;
/// use axum::http::request::Parts;
/// use llms_auth::{AuthProvider, AuthState, CurrentUser, Identity, ProviderRegistry, Result};
/// use std::sync::Arc;
///
/// struct Kiosk;
///
/// #[async_trait]
/// impl AuthProvider for Kiosk {
///     fn name(&self) -> &str {
///         "kiosk"
///     }
///     async fn requires_auth(&self, _auth: &AuthState) -> Result<bool> {
///         Ok(true)
///     }
///     async fn identify(&self, _auth: &AuthState, _request: &Parts) -> Result<Identity> {
///         Ok(Identity::User(CurrentUser {
///             user_name: "kiosk".into(),
///             roles: vec![],
///             provider: "kiosk".into(),
///             session: None,
///             is_default: false,
///         }))
///     }
/// }
///
/// let mut registry = ProviderRegistry::builtin();
/// registry.register(Arc::new(Kiosk));
/// assert!(registry.select("kiosk").is_ok());
/// ```
#[async_trait]
pub trait AuthProvider: Send + Sync + 'static {
    /// The name `--auth` selects.
    fn name(&self) -> &str;

    /// Called once when the provider is selected, before the server starts: check the
    /// configuration here and fail with a message that says what to set.
    async fn prepare(&self, _config: &Config) -> Result<()> {
        Ok(())
    }

    /// Whether requests must be signed in right now (re-evaluated on every request).
    async fn requires_auth(&self, auth: &AuthState) -> Result<bool>;

    /// Resolves who makes the request. A broken store is `Err`, not "nobody".
    async fn identify(&self, auth: &AuthState, request: &Parts) -> Result<Identity>;

    /// Routes this provider adds (sign-in endpoints and the like).
    fn routes(&self) -> Router<AuthState> {
        Router::new()
    }

    /// Paths (exact, or prefixes ending in `/`) of [`AuthProvider::routes`] that must be
    /// reachable without a session.
    fn public_paths(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether this provider signs people in with a username and password form.
    fn uses_password_form(&self) -> bool {
        false
    }

    /// Extra content for the Sign In page (for example a "Sign in with ..." button).
    /// `next` is the already-checked local path to return to.
    fn sign_in_section(&self, _next: &str) -> Option<Markup> {
        None
    }

    /// Accounts this provider records itself (for example the GitHub users it admitted),
    /// listed by `GET /admin/users` with `"provider"` set to [`AuthProvider::name`].
    async fn accounts(&self, _auth: &AuthState) -> Result<Vec<ProviderAccount>> {
        Ok(Vec::new())
    }

    /// How the pages name this provider next to its [`AuthProvider::accounts`] (a badge in
    /// Manage Users, for example "GitHub").
    fn label(&self) -> &str {
        self.name()
    }

    /// Applies `change` to the account `name` of [`AuthProvider::accounts`], atomically, for
    /// `PUT /admin/users`. `Ok(None)`: no such account (the default: this provider keeps
    /// none). A lock ends the account's sessions at once. Refuse what the account cannot do
    /// (a password for an account that has none, locking an Admin) with
    /// [`Error::BadRequest`]. The caller has already refused locking yourself and removing
    /// your own Admin role.
    async fn update_account(
        &self,
        _auth: &AuthState,
        _name: &str,
        _change: AccountChange,
    ) -> Result<Option<Vec<AccountChanged>>> {
        Ok(None)
    }

    /// Removes the account `name` of [`AuthProvider::accounts`] and ends its sessions, for
    /// `DELETE /admin/users/{name}`. `Ok(false)`: no such account (the default). The caller
    /// has already refused deleting yourself.
    async fn remove_account(&self, _auth: &AuthState, _name: &str) -> Result<bool> {
        Ok(false)
    }
}

/// Providers by name.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<dyn AuthProvider>>,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in providers: `credentials`, `github_auth` and `none`.
    pub fn builtin() -> Self {
        let mut registry = Self::new();
        registry.register(Arc::new(crate::providers::credentials::CredentialsProvider));
        registry.register(Arc::new(
            crate::providers::github_auth::GithubAuthProvider::default(),
        ));
        registry.register(Arc::new(crate::providers::none::NoneProvider));
        registry
    }

    /// Adds (or replaces) a provider under its own name.
    pub fn register(&mut self, provider: Arc<dyn AuthProvider>) -> &mut Self {
        self.providers.insert(provider.name().to_owned(), provider);
        self
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.providers.keys().cloned().collect()
    }

    /// The provider called `name`, or an error listing the known ones.
    pub fn select(&self, name: &str) -> Result<Arc<dyn AuthProvider>> {
        self.providers
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownProvider {
                name: name.to_owned(),
                known: self.names(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_and_unknown_error() {
        let registry = ProviderRegistry::builtin();
        assert_eq!(registry.names(), ["credentials", "github_auth", "none"]);
        let err = registry.select("nope").err().unwrap().to_string();
        assert!(
            err.contains("'nope'") && err.contains("credentials, github_auth, none"),
            "{err}"
        );
        assert_eq!(registry.select("none").unwrap().name(), "none");
    }

    #[test]
    fn default_user_is_admin() {
        let user = CurrentUser::default_user("none");
        assert!(user.is_admin() && user.is_default);
        assert_eq!(user.user_name, "default");
    }
}
