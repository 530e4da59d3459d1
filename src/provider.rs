//! The [`AuthProvider`] trait and the registry of providers by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::Router;
use maud::Markup;

use crate::accounts::AccountDirectory;
use crate::config::Config;
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::Identity;

/// A way of signing people in. Registered by name in a [`ProviderRegistry`] and selected
/// with `--auth NAME` / `LLMS_AUTH` (several at once: `--auth credentials,github_auth`).
///
/// Object safe: the registry holds `Arc<dyn AuthProvider>`, so a host program can add its
/// own and select it with `--auth NAME` through [`crate::cli::run_with`] (see
/// `examples/proxy_header.rs`). A provider works with the [`AuthContext`] (the stores,
/// sessions, audit log and configuration) and knows nothing of the other providers. A
/// complete provider that signs everyone in as one fixed user:
///
/// ```
/// use async_trait::async_trait;
/// use axum::http::request::Parts;
/// use llms_auth::{AuthContext, AuthProvider, CurrentUser, Identity, ProviderRegistry, Result};
/// use std::sync::Arc;
///
/// struct Kiosk;
///
/// #[async_trait]
/// impl AuthProvider for Kiosk {
///     fn name(&self) -> &str {
///         "kiosk"
///     }
///     async fn requires_auth(&self, _ctx: &AuthContext) -> Result<bool> {
///         Ok(true)
///     }
///     async fn identify(&self, _ctx: &AuthContext, _request: &Parts) -> Result<Identity> {
///         Ok(Identity::User(CurrentUser {
///             user_name: "kiosk".into(),
///             roles: vec![],
///             provider: "kiosk".into(),
///             session: None,
///             is_default: false,
///             must_change_password: false,
///             two_factor: false,
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
    /// While no selected provider requires it, every request runs as the default user.
    async fn requires_auth(&self, ctx: &AuthContext) -> Result<bool>;

    /// What [`requires_auth`](Self::requires_auth) would answer, when it can be told
    /// without waiting (from what is in memory), else `None`, and the caller awaits
    /// `requires_auth`. Asked first on every request: an answer here saves the boxed
    /// future of `requires_auth`. It must never differ from `requires_auth`'s.
    fn requires_auth_now(&self, _ctx: &AuthContext) -> Option<bool> {
        None
    }

    /// Whether this provider vouches for the request: [`Identity::User`] for a live session
    /// it started (roles read from its store now), else [`Identity::Anonymous`]. A session
    /// it started that no longer stands (a locked or removed account) is ended here. A
    /// broken store is `Err`, never "nobody". The session's key is in
    /// [`RequestFacts`](crate::request::RequestFacts).
    async fn identify(&self, ctx: &AuthContext, request: &Parts) -> Result<Identity>;

    /// Routes this provider adds (sign-in endpoints and the like).
    fn routes(&self) -> Router<AuthContext> {
        Router::new()
    }

    /// Paths (exact, or prefixes ending in `/`) of [`AuthProvider::routes`] that must be
    /// reachable without a session.
    fn public_paths(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether this provider signs people in with the username and password form.
    fn uses_password_form(&self) -> bool {
        false
    }

    /// Extra content for the Sign In page (for example a "Sign in with ..." button).
    /// `next` is the already-checked local path to return to.
    fn sign_in_section(&self, _next: &str) -> Option<Markup> {
        None
    }

    /// The accounts this provider records (the password store, the GitHub users it
    /// admitted), so that Manage Users lists them and can lock, unlock, change and delete
    /// them. `None`: it records none.
    fn accounts(&self) -> Option<&dyn AccountDirectory> {
        None
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

    /// The providers `names` lists, in its order: unknown names are an error that lists
    /// the known ones, and so is an empty list or a name given twice.
    pub fn select_all(&self, names: &[&str]) -> Result<Vec<Arc<dyn AuthProvider>>> {
        if names.is_empty() {
            return Err(Error::Config(format!(
                "no auth provider selected; known providers: {}",
                self.names().join(", ")
            )));
        }
        let mut selected: Vec<Arc<dyn AuthProvider>> = Vec::with_capacity(names.len());
        for name in names {
            if selected.iter().any(|p| p.name() == *name) {
                return Err(Error::Config(format!(
                    "auth provider '{name}' is listed twice"
                )));
            }
            selected.push(self.select(name)?);
        }
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_and_unknown_error() {
        let registry = ProviderRegistry::builtin();
        assert_eq!(
            registry.names(),
            ["credentials", "github_auth", "none", "oidc"]
        );
        let err = registry.select("nope").err().unwrap().to_string();
        assert!(
            err.contains("'nope'") && err.contains("credentials, github_auth, none, oidc"),
            "{err}"
        );
        assert_eq!(registry.select("none").unwrap().name(), "none");
    }

    #[test]
    fn lists_select_in_order_and_refuse_unknown_twice_and_nothing() {
        let registry = ProviderRegistry::builtin();
        let names: Vec<String> = registry
            .select_all(&["none", "credentials"])
            .unwrap()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        assert_eq!(names, ["none", "credentials"]);
        let err = registry.select_all(&["credentials", "nope"]).err().unwrap();
        assert!(err.to_string().contains("known providers"), "{err}");
        let err = registry.select_all(&["none", "none"]).err().unwrap();
        assert!(err.to_string().contains("twice"), "{err}");
        assert!(registry.select_all(&[]).is_err());
    }
}
