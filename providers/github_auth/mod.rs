//! `github_auth`: sign in with GitHub (OAuth 2.0 authorization-code flow).
//!
//! ## Configuration
//!
//! `user/default/github_auth/config.json` (`client_id`, `client_secret`, `redirect_uri`,
//! `restrict_to`, `admins`, `oauth_url`, `api_url`, `enabled`; a value `"$NAME"` is read from
//! the environment variable NAME), or the environment variables `GITHUB_CLIENT_ID`,
//! `GITHUB_CLIENT_SECRET`, `GITHUB_USERS`, `GITHUB_ADMINS`, `LLMS_GITHUB_OAUTH_URL` and
//! `LLMS_GITHUB_API_URL`. Selecting it without a client id and secret is an error that says
//! what to set.
//!
//! ## The flow
//!
//! 1. `GET /auth/github?next=/path` draws a random `state`, keeps it (with `next`) in a
//!    short-lived `HttpOnly; SameSite=Lax` cookie, and redirects to GitHub's authorize page.
//! 2. GitHub sends the browser back to `GET /auth/github/callback?code=..&state=..`. The
//!    `state` must equal the cookie's, so a callback that was not started in this very browser
//!    (a forged link, a login-CSRF attempt) is refused. The code is exchanged for an access
//!    token (never stored, logged or put in a URL), the token reads the user, `restrict_to`
//!    is applied (logins case-insensitively, or numeric ids), and an ordinary session starts.
//!
//! ## Accounts and roles
//!
//! Admitted users are recorded in `LLMS_HOME/github_auth/users.json` (keyed by login, with
//! GitHub's numeric id, so a renamed account keeps its record and a login that changed hands
//! does not inherit one). The record is read on every request: setting `"locked"` to a reason,
//! deleting the entry, or dropping the user from `restrict_to` ends their session at the next
//! request. GitHub users have no roles unless the record lists some or `admins` names them
//! (then they are Admins).
//!
//! ## Files
//!
//! One file per job: `config` (settings), `store` (the records), `state_cookie`, `flow`
//! (the two routes and their refusal pages), `client` (the calls to GitHub); this one is
//! the provider and its accounts for Manage Users.

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

pub use client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
pub use config::{GithubConfig, DEFAULT_API_URL, DEFAULT_OAUTH_URL};
pub use flow::SCOPE;
pub use state_cookie::{SECURE_STATE_COOKIE, STATE_COOKIE, STATE_MAX_AGE};
pub use store::{open_store, records_file, GithubUser, GithubUserStore, GithubUsers};

use crate::accounts::{Account, AccountChange, AccountChanged, AccountDirectory};
use crate::config::Config;
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::{CurrentUser, Identity};
use crate::provider::AuthProvider;
use crate::providers::external::{change_record, remove_record};
use crate::request::paths::url_encode;
use crate::request::RequestFacts;
use crate::users::{AccountRecord, ADMIN_ROLE};

/// This provider's name.
pub const NAME: &str = "github_auth";

/// How Manage Users' badge names GitHub accounts.
const LABEL: &str = "GitHub";

/// Sign in with GitHub.
#[derive(Debug, Default)]
pub struct GithubAuthProvider {
    inner: Arc<Github>,
}

/// What the provider's routes share with it.
#[derive(Debug, Default)]
struct Github {
    settings: OnceLock<GithubConfig>,
    ready: OnceLock<Ready>,
    /// The records, opened from the context at the first [`AuthProvider::requires_auth`].
    users: OnceLock<GithubUserStore>,
}

/// Set up by [`AuthProvider::prepare`].
#[derive(Debug)]
struct Ready {
    /// Where the settings say the records live (the home), to refuse serving two.
    home: std::path::PathBuf,
    http: reqwest::Client,
}

impl Github {
    fn settings(&self) -> Result<&GithubConfig> {
        self.settings
            .get()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("github_auth was not prepared")))
    }

    fn store(&self) -> Result<&GithubUserStore> {
        self.users
            .get()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("github_auth was not prepared")))
    }

    fn ready(&self) -> Result<&Ready> {
        self.ready
            .get()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("github_auth was not prepared")))
    }

    /// The recorded users: no I/O while the file is known unchanged, a re-read on the
    /// blocking pool when it changed.
    async fn users(self: &Arc<Self>) -> Result<Arc<GithubUsers>> {
        if let Some(users) = self.store()?.cached_if_current() {
            return Ok(users);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.store()?.snapshot()).await?
    }

    /// Whether the `admins` setting makes a recorded user an Admin.
    fn admin_by_setting(&self, user_name: &str, user: &GithubUser) -> bool {
        self.settings
            .get()
            .is_some_and(|s| s.is_admin(user_name, user.id))
    }

    /// Roles in effect for a recorded user.
    fn roles(&self, user_name: &str, user: &GithubUser) -> Vec<String> {
        let mut roles = user.record.roles.clone();
        if self.admin_by_setting(user_name, user) && !roles.iter().any(|r| r == ADMIN_ROLE) {
            roles.push(ADMIN_ROLE.to_owned());
        }
        roles
    }

    /// A recorded user as Manage Users lists them.
    fn account(&self, user_name: &str, user: &GithubUser) -> Account {
        Account::of(user_name, &user.record, self.roles(user_name, user))
    }
}

impl GithubAuthProvider {
    /// A provider with these settings (instead of reading them from the environment and
    /// config.json in [`AuthProvider::prepare`]): for host programs that configure it in
    /// code, and for tests against a fake GitHub.
    pub fn new(settings: GithubConfig) -> Self {
        let inner = Github::default();
        let _ = inner.settings.set(settings);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The settings in use, once loaded.
    pub fn settings(&self) -> Option<&GithubConfig> {
        self.inner.settings.get()
    }
}

#[async_trait]
impl AuthProvider for GithubAuthProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn prepare(&self, config: &Config) -> Result<()> {
        // The settings file may hold the client secret: no one else may read it or its
        // folder (llms.py leaves them 0644 and 0755). A failure is logged, never fatal.
        let file = GithubConfig::path(config);
        for path in [file.parent().unwrap_or(&file), &file] {
            match crate::fsutil::make_private(path) {
                Ok(true) => {
                    tracing::info!(path = %path.display(), "permissions tightened: no access for group and others")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot make the github_auth settings private; other local users may read the client secret")
                }
            }
        }
        let settings = match self.inner.settings.get() {
            Some(settings) => settings,
            None => {
                let loaded = GithubConfig::load(config, &|name| std::env::var(name).ok())?;
                self.inner.settings.get_or_init(|| loaded)
            }
        };
        if let Some(ready) = self.inner.ready.get() {
            return if ready.home == config.home {
                Ok(())
            } else {
                Err(Error::Config(
                    "this github_auth provider already serves another LLMS_HOME".to_owned(),
                ))
            };
        }
        let http = client::http_client(settings)?;
        let _ = self.inner.ready.set(Ready {
            home: config.home.clone(),
            http,
        });
        if settings.restrict_to.is_empty() {
            tracing::warn!("github_auth: restrict_to / GITHUB_USERS is empty, so every GitHub account can sign in");
        }
        for entry in settings.all_digit_entries() {
            tracing::warn!("github_auth: '{entry}' in restrict_to or admins names the GitHub login '{entry}'; write id:{entry} to name the account whose numeric id is {entry}");
        }
        Ok(())
    }

    async fn requires_auth(&self, ctx: &AuthContext) -> Result<bool> {
        if self.inner.users.get().is_none() {
            // The records where the home keeps its stores; ones that do not parse stop the
            // server now (this runs as it starts), not at the first request.
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
        // Authority is live: the record must still exist and be unlocked, and the user must
        // still pass `restrict_to`; roles are computed now, never copied into the session.
        let settings = self.inner.settings()?;
        let users = self.inner.users().await?;
        let name = &found.username;
        match users.get(name) {
            Some(user)
                if user.lock_reason().is_none()
                    && settings.allows(name, user.id)
                    && found.binding == user.binding() =>
            {
                let roles = self.inner.roles(name, user);
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
        vec![
            "/auth/github".to_owned(),
            "/auth/github/callback".to_owned(),
        ]
    }

    fn sign_in_section(&self, next: &str) -> Option<Markup> {
        let href = if next == "/" {
            "/auth/github".to_owned()
        } else {
            format!("/auth/github?next={}", url_encode(next))
        };
        Some(html! {
            a.btn.btn-block.github-sign-in href=(href) data-testid="github-sign-in" {
                "Sign in with GitHub"
            }
        })
    }

    fn accounts(&self) -> Option<&dyn AccountDirectory> {
        Some(self)
    }
}

/// The GitHub users this server admitted, for Manage Users: they can be locked, unlocked,
/// given roles and deleted, but have no password here.
#[async_trait]
impl AccountDirectory for GithubAuthProvider {
    fn provider(&self) -> &str {
        NAME
    }

    fn badge(&self) -> Option<&str> {
        Some(LABEL)
    }

    async fn list(&self, _ctx: &AuthContext) -> Result<Vec<Account>> {
        let users = self.inner.users().await?;
        Ok(users
            .iter()
            .map(|(name, user)| self.inner.account(name, user))
            .collect())
    }

    async fn get(&self, _ctx: &AuthContext, name: &str) -> Result<Option<Account>> {
        let users = self.inner.users().await?;
        Ok(users.get(name).map(|user| self.inner.account(name, user)))
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
            return Err(Error::bad_request("GitHub users have no password here"));
        }
        let github = self.inner.clone();
        let sessions = ctx.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            github.store()?.update(|users| {
                let setting = users
                    .get(&name)
                    .filter(|user| github.admin_by_setting(&name, user))
                    .map(|_| "the github_auth admins setting");
                let record: fn(&mut GithubUser) -> &mut AccountRecord = |user| &mut user.record;
                change_record(users, &sessions, NAME, &name, change, record, setting)
            })
        })
        .await?
    }

    async fn remove(&self, ctx: &AuthContext, name: &str) -> Result<bool> {
        let github = self.inner.clone();
        let sessions = ctx.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            github
                .store()?
                .update(|users| remove_record(users, &sessions, NAME, &name))
        })
        .await?
    }
}
