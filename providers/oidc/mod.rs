//! `oidc`: sign in through any OpenID Connect provider (Kanidm, Authelia, Keycloak,
//! Authentik, Google, Entra ID...), found by discovery from its issuer URL (SPEC 13).
//!
//! ## Configuration
//!
//! `user/default/oidc/config.json` (`issuer`, `client_id`, `client_secret`, `redirect_uri`,
//! `scopes`, `username_claim`, `groups_claim`, `allowed_groups`, `admin_groups`, `name`,
//! `enabled`; a value `"$NAME"` is read from the environment) or the environment
//! (`OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_REDIRECT_URI`, `OIDC_SCOPES`,
//! `OIDC_USERNAME_CLAIM`, `OIDC_GROUPS_CLAIM`, `OIDC_ALLOWED_GROUPS`, `OIDC_ADMIN_GROUPS`,
//! `OIDC_NAME`). Selecting it without an issuer, client id and secret is an error that says
//! what to set; an issuer out of reach at start is an error that says so.
//!
//! ## The flow
//!
//! Authorization code with PKCE (S256): `GET /auth/oidc` keeps a fresh `state`, `nonce`
//! and code verifier in a short-lived cookie bound to the browser; the callback must carry
//! that state, the code is exchanged with the verifier, and the ID token's signature (the
//! provider's keys, fetched again when a token names a new one), issuer, audience, expiry
//! and nonce are checked. The username comes from the configured claim and is held to the
//! rules of new usernames; the groups give entry (`allowed_groups`) and the Admin role
//! (`admin_groups`), refreshed at every sign-in.
//!
//! ## Accounts
//!
//! Recorded in `LLMS_HOME/oidc/users.json` (or the database), keyed by username with the
//! issuer's subject; managed in Manage Users like GitHub's (lock, roles, delete; their
//! sessions end). A record is read on every request: locked, deleted, or its groups no
//! longer allowed ends its sessions at the next request.
//!
//! ## Files
//!
//! `config` (settings), `client` (discovery, the code exchange and the token's checks, on
//! the `openidconnect` crate), `state_cookie`, `store` (the records), `flow` (the two routes
//! and their refusal pages); this one is the provider and its accounts for Manage Users.

mod client;
mod config;
mod flow;
mod state_cookie;
mod store;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::Router;
use maud::{html, Markup};

pub use config::{
    OidcConfig, CALLBACK_PATH, DEFAULT_GROUPS_CLAIM, DEFAULT_SCOPES, DEFAULT_USERNAME_CLAIM,
};
pub use state_cookie::{SECURE_STATE_COOKIE, STATE_COOKIE, STATE_MAX_AGE};
pub use store::{records_file, OidcUser, OidcUserStore, OidcUsers};

use crate::accounts::{Account, AccountChange, AccountChanged, AccountDirectory};
use crate::config::Config;
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::{CurrentUser, Identity};
use crate::provider::AuthProvider;
use crate::providers::external::{change_record, remove_record};
use crate::request::paths::url_encode;
use crate::request::RequestFacts;
use crate::users::AccountRecord;

/// This provider's name.
pub const NAME: &str = "oidc";

/// Sign in through an OpenID Connect provider.
#[derive(Debug, Default)]
pub struct OidcProvider {
    inner: Arc<Oidc>,
}

/// What the provider's routes share with it.
#[derive(Debug, Default)]
struct Oidc {
    settings: OnceLock<OidcConfig>,
    issuer: OnceLock<client::Issuer>,
    /// The records, opened from the context at the first [`AuthProvider::requires_auth`].
    users: OnceLock<OidcUserStore>,
}

fn not_prepared() -> Error {
    Error::Internal(anyhow::anyhow!("oidc was not prepared"))
}

impl Oidc {
    fn settings(&self) -> Result<&OidcConfig> {
        self.settings.get().ok_or_else(not_prepared)
    }

    fn issuer(&self) -> Result<&client::Issuer> {
        self.issuer.get().ok_or_else(not_prepared)
    }

    fn store(&self) -> Result<&OidcUserStore> {
        self.users.get().ok_or_else(not_prepared)
    }

    /// The recorded users: no I/O while the store is known unchanged.
    async fn users(self: &Arc<Self>) -> Result<Arc<OidcUsers>> {
        if let Some(users) = self.store()?.cached_if_current() {
            return Ok(users);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.store()?.snapshot()).await?
    }
}

impl OidcProvider {
    /// A provider with these settings (instead of reading them from the environment and
    /// config.json in [`AuthProvider::prepare`]).
    pub fn new(settings: OidcConfig) -> Self {
        let inner = Oidc::default();
        let _ = inner.settings.set(settings);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The settings in use, once loaded.
    pub fn settings(&self) -> Option<&OidcConfig> {
        self.inner.settings.get()
    }
}

#[async_trait]
impl AuthProvider for OidcProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn prepare(&self, config: &Config) -> Result<()> {
        // The settings file may hold the client secret: no one else may read it.
        let file = OidcConfig::path(config);
        for path in [file.parent().unwrap_or(&file), &file] {
            if let Err(e) = crate::fsutil::make_private(path) {
                tracing::warn!(error = %e, "cannot make the oidc settings private; other local users may read the client secret");
            }
        }
        let settings = match self.inner.settings.get() {
            Some(settings) => settings,
            None => {
                let loaded = OidcConfig::load(config, &|name| std::env::var(name).ok())?;
                self.inner.settings.get_or_init(|| loaded)
            }
        };
        if self.inner.issuer.get().is_none() {
            let issuer = client::Issuer::discover(settings).await?;
            let _ = self.inner.issuer.set(issuer);
            tracing::info!(issuer = %settings.issuer, "OpenID Connect provider discovered");
        }
        if settings.allowed_groups.is_empty() {
            tracing::warn!("oidc: OIDC_ALLOWED_GROUPS is empty, so everyone the provider signs in can use this server");
        }
        Ok(())
    }

    async fn requires_auth(&self, ctx: &AuthContext) -> Result<bool> {
        if self.inner.users.get().is_none() {
            let users = ctx.documents(NAME, || records_file(ctx.config()));
            let users =
                tokio::task::spawn_blocking(move || users.snapshot().map(|_| users)).await??;
            let _ = self.inner.users.set(users);
        }
        Ok(true)
    }

    fn requires_auth_now(&self, _ctx: &AuthContext) -> Option<bool> {
        // Once its records are open, signing in is always required.
        self.inner.users.get().map(|_| true)
    }

    async fn identify(&self, ctx: &AuthContext, request: &Parts) -> Result<Identity> {
        let facts = RequestFacts::of(request, ctx.config());
        let Some(found) = ctx.find_session(facts.session()).await? else {
            return Ok(Identity::Anonymous);
        };
        if found.provider != NAME {
            return Ok(Identity::Anonymous);
        }
        // Authority is live: the record must still exist, be unlocked and its groups still
        // allowed; roles are the record's, never the session's.
        let settings = self.inner.settings()?;
        let users = self.inner.users().await?;
        match users.get(&found.username) {
            Some(user)
                if user.lock_reason().is_none()
                    && settings.allows(&user.groups)
                    && found.binding == user.binding() =>
            {
                let roles = user.record.roles.clone();
                Ok(Identity::User(CurrentUser::from_session(found, roles)))
            }
            _ => {
                ctx.end_session(found.key).await?;
                Ok(Identity::Anonymous)
            }
        }
    }

    fn routes(&self) -> Router<AuthContext> {
        flow::routes(self.inner.clone())
    }

    fn public_paths(&self) -> Vec<String> {
        vec!["/auth/oidc".to_owned(), CALLBACK_PATH.to_owned()]
    }

    fn sign_in_section(&self, next: &str) -> Option<Markup> {
        let href = if next == "/" {
            "/auth/oidc".to_owned()
        } else {
            format!("/auth/oidc?next={}", url_encode(next))
        };
        let label = self
            .inner
            .settings
            .get()
            .map_or("single sign-on", |s| s.name.as_str());
        Some(html! {
            a.btn.btn-block.oidc-sign-in href=(href) data-testid="oidc-sign-in" {
                "Sign in with " (label)
            }
        })
    }

    fn accounts(&self) -> Option<&dyn AccountDirectory> {
        Some(self)
    }
}

/// The accounts the provider signed in, for Manage Users: they can be locked, unlocked,
/// given roles and deleted, but have no password here.
#[async_trait]
impl AccountDirectory for OidcProvider {
    fn provider(&self) -> &str {
        NAME
    }

    fn badge(&self) -> Option<&str> {
        Some(self.inner.settings.get().map_or("SSO", |s| s.name.as_str()))
    }

    async fn list(&self, _ctx: &AuthContext) -> Result<Vec<Account>> {
        let users = self.inner.users().await?;
        Ok(users
            .iter()
            .map(|(name, user)| Account::of(name, &user.record, user.record.roles.clone()))
            .collect())
    }

    async fn update(
        &self,
        ctx: &AuthContext,
        name: &str,
        change: AccountChange,
    ) -> Result<Option<Vec<AccountChanged>>> {
        if !self.inner.users().await?.contains_key(name) {
            return Ok(None);
        }
        if change.password.is_some() {
            return Err(Error::bad_request(
                "Accounts of single sign-on have no password here",
            ));
        }
        let oidc = self.inner.clone();
        let sessions = ctx.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            oidc.store()?.update(|users| {
                let record: fn(&mut OidcUser) -> &mut AccountRecord = |user| &mut user.record;
                change_record(users, &sessions, NAME, &name, change, record, None)
            })
        })
        .await?
    }

    async fn remove(&self, ctx: &AuthContext, name: &str) -> Result<bool> {
        let oidc = self.inner.clone();
        let sessions = ctx.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            oidc.store()?
                .update(|users| remove_record(users, &sessions, NAME, &name))
        })
        .await?
    }
}
