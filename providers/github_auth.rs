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

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use indexmap::IndexMap;
use maud::{html, Markup};
use rand::rngs::OsRng;
use rand::RngCore;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::audit::{AuditEvent, AuditRecord};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::json_store::JsonStore;
use crate::provider::{
    AccountChange, AccountChanged, AuthProvider, CurrentUser, Identity, LockChange, ProviderAccount,
};
use crate::session::SessionToken;
use crate::state::{session_key, AuthState};
use crate::time::now_secs;
use crate::users::{validate_username, ADMIN_ROLE};
use crate::web::auth::session_cookie;
use crate::web::extract::Query;
use crate::web::{safe_next, url_encode};

/// This provider's name.
pub const NAME: &str = "github_auth";

/// GitHub's OAuth endpoints: `{base}/authorize` and `{base}/access_token`.
pub const DEFAULT_OAUTH_URL: &str = "https://github.com/login/oauth";

/// GitHub's REST API: `{base}/user`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The scope asked for: the public profile only.
pub const SCOPE: &str = "read:user";

/// The cookie that binds a sign-in to the browser that started it (plain HTTP).
pub const STATE_COOKIE: &str = "llms-github-state";

/// The same cookie over HTTPS, with the `__Host-` prefix (Secure, `Path=/`, no Domain), so
/// a sibling subdomain cannot plant one.
pub const SECURE_STATE_COOKIE: &str = "__Host-llms-github-state";

/// How long a started sign-in may take.
pub const STATE_MAX_AGE: Duration = Duration::from_secs(600);

/// Connecting to GitHub may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One whole request to GitHub may take this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The largest answer read from GitHub.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Longest `code` / `state` accepted in the callback.
const MAX_PARAM_LEN: usize = 512;

/// Length of a state value: 32 random bytes in URL-safe base64.
const STATE_LEN: usize = 43;

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// The resolved GitHub OAuth settings.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubConfig {
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret (never shown in `Debug`).
    pub client_secret: String,
    /// The callback URL registered with GitHub; when unset, GitHub uses the app's own.
    pub redirect_uri: Option<String>,
    /// GitHub logins (any case) or numeric ids allowed in; empty means every GitHub user.
    pub restrict_to: Vec<String>,
    /// GitHub logins (any case) or numeric ids that get the Admin role.
    pub admins: Vec<String>,
    /// Base of the OAuth endpoints, without a trailing slash (default [`DEFAULT_OAUTH_URL`]).
    pub oauth_url: String,
    /// Base of the REST API, without a trailing slash (default [`DEFAULT_API_URL`]).
    pub api_url: String,
}

impl fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("restrict_to", &self.restrict_to)
            .field("admins", &self.admins)
            .field("oauth_url", &self.oauth_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// A list in config.json: `"alice, bob"` (as llms.py writes it) or `["alice", "bob"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NameList {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    restrict_to: Option<NameList>,
    #[serde(default)]
    admins: Option<NameList>,
    #[serde(default)]
    oauth_url: Option<String>,
    #[serde(default)]
    api_url: Option<String>,
}

/// Expands a `"$NAME"` value from the environment; blank means unset.
fn expand(value: Option<String>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let value = value?.trim().to_owned();
    let value = match value.strip_prefix('$') {
        Some(name) => env(name)?,
        None => value,
    };
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

fn expand_list(value: Option<NameList>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    match value? {
        NameList::One(text) => expand(Some(text), env),
        NameList::Many(items) => Some(
            items
                .into_iter()
                .filter_map(|item| expand(Some(item), env))
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

fn split_names(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Checks a base URL: HTTPS, or plain HTTP to a loopback address (a test server).
fn base_url(value: Option<String>, setting: &str, default: &str) -> Result<String> {
    let text = value.unwrap_or_else(|| default.to_owned());
    let url = Url::parse(&text)
        .map_err(|e| Error::Config(format!("github_auth: {setting} '{text}' is not a URL: {e}")))?;
    let allowed = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_url(&url));
    if !allowed || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "github_auth: {setting} '{text}' must be an https:// URL without query (http:// only for a loopback address)"
        )));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

impl GithubConfig {
    /// Settings for this OAuth app against the real GitHub, admitting every GitHub user
    /// with no roles (set the other fields to change that).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: None,
            restrict_to: Vec::new(),
            admins: Vec::new(),
            oauth_url: DEFAULT_OAUTH_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
        }
    }

    /// Where the settings file of `config` lives.
    pub fn path(config: &Config) -> PathBuf {
        config
            .home
            .join("user")
            .join("default")
            .join("github_auth")
            .join("config.json")
    }

    /// Loads the settings of `config`'s home, reading the environment through `env`.
    pub fn load(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let path = Self::path(config);
        let file = read_config_file(&path)?;
        if file.enabled == Some(false) {
            return Err(Error::Config(format!(
                "github_auth is disabled in {} (\"enabled\": false)",
                path.display()
            )));
        }
        let from_env = |name: &str| expand(Some(format!("${name}")), env);
        let client_id = expand(file.client_id, env).or_else(|| from_env("GITHUB_CLIENT_ID"));
        let client_secret =
            expand(file.client_secret, env).or_else(|| from_env("GITHUB_CLIENT_SECRET"));
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(Error::Config(format!(
                "github_auth needs a GitHub OAuth client id and secret: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or client_id and client_secret in {}",
                path.display()
            )));
        };
        let redirect_uri = expand(file.redirect_uri, env);
        if let Some(uri) = &redirect_uri {
            let ok = Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(Error::Config(format!(
                    "github_auth: redirect_uri '{uri}' is not an http(s) URL (in {})",
                    path.display()
                )));
            }
        }
        Ok(Self {
            client_id,
            client_secret,
            redirect_uri,
            restrict_to: split_names(
                expand_list(file.restrict_to, env).or_else(|| from_env("GITHUB_USERS")),
            ),
            admins: split_names(
                expand_list(file.admins, env).or_else(|| from_env("GITHUB_ADMINS")),
            ),
            oauth_url: base_url(
                expand(file.oauth_url, env).or_else(|| from_env("LLMS_GITHUB_OAUTH_URL")),
                "oauth_url",
                DEFAULT_OAUTH_URL,
            )?,
            api_url: base_url(
                expand(file.api_url, env).or_else(|| from_env("LLMS_GITHUB_API_URL")),
                "api_url",
                DEFAULT_API_URL,
            )?,
        })
    }

    /// GitHub's authorize page.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.oauth_url)
    }

    /// GitHub's code-for-token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/access_token", self.oauth_url)
    }

    /// The API's "who am I" endpoint.
    pub fn user_url(&self) -> String {
        format!("{}/user", self.api_url)
    }

    /// Whether `restrict_to` lets this GitHub user in.
    pub fn allows(&self, login: &str, id: u64) -> bool {
        self.restrict_to.is_empty() || names_match(&self.restrict_to, login, id)
    }

    /// Whether `admins` names this GitHub user.
    pub fn is_admin(&self, login: &str, id: u64) -> bool {
        names_match(&self.admins, login, id)
    }
}

/// Whether `list` names the user: a login in any case (GitHub logins are
/// case-insensitive), or the numeric id.
fn names_match(list: &[String], login: &str, id: u64) -> bool {
    list.iter()
        .any(|entry| entry.eq_ignore_ascii_case(login) || entry.parse::<u64>() == Ok(id))
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

// ---------------------------------------------------------------------------------------
// The record of admitted GitHub users
// ---------------------------------------------------------------------------------------

/// A GitHub account this server admitted, as recorded in `github_auth/users.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GithubUser {
    /// GitHub's numeric user id: it stays when the login is renamed.
    pub id: u64,
    /// The login as GitHub last reported it.
    pub login: String,
    /// Unix seconds of the first sign-in.
    #[serde(default)]
    pub created: f64,
    /// Roles of this user (besides Admin from the `admins` setting).
    #[serde(default)]
    pub roles: Vec<String>,
    /// The lock reason; absent when the account may sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<String>,
    /// Client address of the last sign-in.
    #[serde(rename = "lastIp", default, skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    /// Unix seconds of the last sign-in.
    #[serde(rename = "lastLogin", default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<f64>,
    /// Fields this crate does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GithubUser {
    /// A record for a first sign-in, now.
    pub fn new(id: u64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            created: now_secs(),
            roles: Vec::new(),
            locked: None,
            last_ip: None,
            last_login: None,
            extra: Map::new(),
        }
    }

    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.locked.as_deref().filter(|r| !r.is_empty())
    }
}

/// Admitted GitHub users keyed by username (their login; `#ID` for an account whose login
/// now belongs to someone else).
pub type GithubUsers = IndexMap<String, GithubUser>;

/// `github_auth/users.json`: a [`JsonStore`] (locked read-modify-write, atomic writes,
/// re-read when changed, never overwritten when it does not parse).
pub type GithubUserStore = JsonStore<GithubUsers>;

/// The record store of `config`: `LLMS_HOME/github_auth/users.json`.
pub fn open_store(config: &Config) -> GithubUserStore {
    JsonStore::at(
        config.home.join("github_auth").join("users.json"),
        "GitHub user records",
    )
}

// ---------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------

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
}

/// Set up by [`AuthProvider::prepare`].
#[derive(Debug)]
struct Ready {
    users: GithubUserStore,
    http: reqwest::Client,
}

impl Github {
    fn settings(&self) -> Result<&GithubConfig> {
        self.settings
            .get()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("github_auth was not prepared")))
    }

    fn ready(&self) -> Result<&Ready> {
        self.ready
            .get()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("github_auth was not prepared")))
    }

    /// The recorded users: one `stat` on the runtime, a re-read on the blocking pool.
    async fn users(self: &Arc<Self>) -> Result<Arc<GithubUsers>> {
        if let Some(users) = self.ready()?.users.cached_if_current() {
            return Ok(users);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.ready()?.users.snapshot()).await?
    }

    /// Roles in effect for a recorded user.
    fn roles(&self, user_name: &str, user: &GithubUser) -> Vec<String> {
        let mut roles = user.roles.clone();
        let is_admin = self
            .settings
            .get()
            .is_some_and(|s| s.is_admin(user_name, user.id));
        if is_admin && !roles.iter().any(|r| r == ADMIN_ROLE) {
            roles.push(ADMIN_ROLE.to_owned());
        }
        roles
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

fn http_client(settings: &GithubConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("llms-auth/", env!("CARGO_PKG_VERSION")));
    let loopback = |text: &str| Url::parse(text).is_ok_and(|u| is_loopback_url(&u));
    if loopback(&settings.oauth_url) && loopback(&settings.api_url) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the HTTP client: {e}")))
}

#[async_trait]
impl AuthProvider for GithubAuthProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn prepare(&self, config: &Config) -> Result<()> {
        let settings = match self.inner.settings.get() {
            Some(settings) => settings,
            None => {
                let loaded = GithubConfig::load(config, &|name| std::env::var(name).ok())?;
                self.inner.settings.get_or_init(|| loaded)
            }
        };
        let users = open_store(config);
        if let Some(ready) = self.inner.ready.get() {
            return if ready.users.path() == users.path() {
                Ok(())
            } else {
                Err(Error::Config(
                    "this github_auth provider already serves another LLMS_HOME".to_owned(),
                ))
            };
        }
        // A record file that does not parse stops the server now, not at the first request.
        let users = tokio::task::spawn_blocking(move || users.snapshot().map(|_| users)).await??;
        let http = http_client(settings)?;
        let _ = self.inner.ready.set(Ready { users, http });
        if settings.restrict_to.is_empty() {
            tracing::warn!("github_auth: restrict_to / GITHUB_USERS is empty, so every GitHub account can sign in");
        }
        Ok(())
    }

    async fn requires_auth(&self, _auth: &AuthState) -> Result<bool> {
        Ok(true)
    }

    async fn identify(&self, auth: &AuthState, request: &Parts) -> Result<Identity> {
        let Some(found) = auth.find_session(request).await? else {
            return Ok(Identity::Anonymous);
        };
        if found.provider != NAME {
            auth.end_session(found.key).await?;
            return Ok(Identity::Anonymous);
        }
        // Authority is live: the record must still exist and be unlocked, and the user must
        // still pass `restrict_to`; roles are computed now, never copied into the session.
        let settings = self.inner.settings()?;
        let users = self.inner.users().await?;
        let name = &found.username;
        match users.get(name) {
            Some(user) if user.lock_reason().is_none() && settings.allows(name, user.id) => {
                let roles = self.inner.roles(name, user);
                Ok(Identity::User(CurrentUser::from_session(found, roles)))
            }
            _ => {
                auth.end_session(found.key).await?;
                Ok(Identity::Anonymous)
            }
        }
    }

    fn routes(&self) -> Router<AuthState> {
        Router::new()
            .route("/auth/github", get(start_sign_in))
            .route("/auth/github/callback", get(finish_sign_in))
            .layer(Extension(self.inner.clone()))
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
            a.button.primary.github-sign-in href=(href) data-testid="github-sign-in" {
                "Sign in with GitHub"
            }
        })
    }

    async fn accounts(&self, _auth: &AuthState) -> Result<Vec<ProviderAccount>> {
        let users = self.inner.users().await?;
        Ok(users
            .iter()
            .map(|(name, user)| ProviderAccount {
                user_name: name.clone(),
                created: user.created,
                roles: self.inner.roles(name, user),
                locked: user.lock_reason().map(str::to_owned),
                last_ip: user.last_ip.clone(),
                last_login: user.last_login,
            })
            .collect())
    }

    fn label(&self) -> &str {
        "GitHub"
    }

    async fn update_account(
        &self,
        auth: &AuthState,
        name: &str,
        change: AccountChange,
    ) -> Result<Option<Vec<AccountChanged>>> {
        let github = self.inner.clone();
        let sessions = auth.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            github.ready()?.users.update(|users| {
                let Some(user) = users.get_mut(&name) else {
                    return Ok(None);
                };
                change_account(&github, &sessions, &name, user, change).map(Some)
            })
        })
        .await?
    }

    async fn remove_account(&self, auth: &AuthState, name: &str) -> Result<bool> {
        let github = self.inner.clone();
        let sessions = auth.sessions().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            github.ready()?.users.update(|users| {
                if users.shift_remove(&name).is_none() {
                    return Ok(false);
                }
                sessions.remove_user(&name, None)?;
                Ok(true)
            })
        })
        .await?
    }
}

/// Applies an admin's `change` to the record of `name`, inside the store's locked
/// read-modify-write. A lock ends the user's sessions at once.
fn change_account(
    github: &Github,
    sessions: &crate::session::SessionStore,
    name: &str,
    user: &mut GithubUser,
    change: AccountChange,
) -> Result<Vec<AccountChanged>> {
    if change.password.is_some() {
        return Err(Error::bad_request("GitHub users have no password here"));
    }
    let admin_by_setting = github
        .settings
        .get()
        .is_some_and(|s| s.is_admin(name, user.id));
    let has_admin = |roles: &[String]| roles.iter().any(|r| r == ADMIN_ROLE);
    if let Some(roles) = &change.roles {
        if admin_by_setting && !has_admin(roles) {
            return Err(Error::bad_request(format!(
                "The Admin role of '{name}' comes from the github_auth admins setting"
            )));
        }
    }
    if let LockChange::Lock(_) = change.lock {
        // Refused when an Admin now or after this very request.
        let will_be_admin = change.roles.as_deref().is_some_and(has_admin);
        if admin_by_setting || has_admin(&user.roles) || will_be_admin {
            return Err(Error::bad_request("Cannot lock an Admin user"));
        }
    }
    let mut changes = Vec::new();
    if let Some(roles) = change.roles {
        if roles != user.roles {
            changes.push(AccountChanged::Roles(roles.clone()));
        }
        user.roles = roles;
    }
    if matches!(change.lock, LockChange::Lock(_)) {
        sessions.remove_user(name, None)?;
    }
    changes.extend(change.lock.apply(&mut user.locked));
    Ok(changes)
}

// ---------------------------------------------------------------------------------------
// The state cookie
// ---------------------------------------------------------------------------------------

/// A fresh random state value (32 bytes, URL-safe base64).
fn new_state() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn state_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_STATE_COOKIE
    } else {
        STATE_COOKIE
    }
}

fn build_state_cookie(value: String, max_age: Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((state_cookie_name(secure), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(if secure { "/" } else { "/auth/github" })
        .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("base64 text is a valid header value")
}

/// The cookie holding `state` and the (already checked) path to return to.
fn state_cookie(state: &str, next: &str, secure: bool) -> HeaderValue {
    let value = format!("{state}.{}", URL_SAFE_NO_PAD.encode(next));
    build_state_cookie(value, STATE_MAX_AGE, secure)
}

fn cleared_state_cookie(secure: bool) -> HeaderValue {
    build_state_cookie(String::new(), Duration::ZERO, secure)
}

/// What the state cookie holds.
struct SavedState {
    state: String,
    next: String,
}

fn read_state_cookie(headers: &HeaderMap, secure: bool) -> Option<SavedState> {
    let name = state_cookie_name(secure);
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(|c| c.ok())
        .find(|c| c.name() == name)?
        .value()
        .to_owned();
    let (state, next) = value.split_once('.')?;
    if state.len() != STATE_LEN {
        return None;
    }
    let next = URL_SAFE_NO_PAD.decode(next).ok()?;
    let next = String::from_utf8(next).ok()?;
    Some(SavedState {
        state: state.to_owned(),
        next: safe_next(Some(&next)),
    })
}

// ---------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------

/// The `?next=` of `GET /auth/github`.
#[derive(Debug, Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/github`: binds a new state to this browser and sends it to GitHub.
async fn start_sign_in(
    State(auth): State<AuthState>,
    Extension(github): Extension<Arc<Github>>,
    Query(query): Query<StartQuery>,
    parts: Parts,
) -> Result<Response> {
    let settings = github.settings()?;
    let next = safe_next(query.next.as_deref());
    let state = new_state();
    let mut params = vec![("client_id", settings.client_id.as_str())];
    if let Some(uri) = &settings.redirect_uri {
        params.push(("redirect_uri", uri));
    }
    params.push(("state", &state));
    params.push(("scope", SCOPE));
    let url = Url::parse_with_params(&settings.authorize_url(), &params)
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the authorize URL: {e}")))?;
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state_cookie(&state, &next, auth.is_https(&parts)),
    );
    Ok(response)
}

/// The query GitHub sends the browser back with.
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The code (worth an access token) and the state (this browser's secret) are never shown.
impl fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("CallbackQuery")
            .field("code", &redacted(&self.code))
            .field("state", &redacted(&self.state))
            .field("error", &self.error)
            .finish()
    }
}

/// Why a sign-in with GitHub did not complete: shown to the visitor as a page.
#[derive(Debug)]
enum Refusal {
    /// The callback lacks `code` or `state`.
    Incomplete,
    /// The state does not match this browser's cookie, or the cookie is gone.
    StateMismatch,
    /// GitHub reports an error (the visitor declined, for example).
    Declined(String),
    /// GitHub could not be reached or gave an unusable answer.
    Upstream(String),
    /// The login is not usable as a username here.
    UnusableLogin(String),
    /// `restrict_to` does not name the user.
    NotAllowed(String),
    /// The recorded account is locked.
    Locked(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::Incomplete => StatusCode::BAD_REQUEST,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn page(&self) -> Markup {
        let (title, message): (&str, String) = match self {
            Self::Incomplete => (
                "Sign-in incomplete",
                "The answer from GitHub lacks the code or the state. Please start again.".into(),
            ),
            Self::StateMismatch => (
                "Sign-in refused",
                "This sign-in was not started in this browser, or it took longer than 10 minutes. Please start again.".into(),
            ),
            Self::Declined(error) => (
                "Sign-in cancelled",
                format!("GitHub did not sign you in ({error})."),
            ),
            Self::Upstream(detail) => (
                "GitHub sign-in failed",
                format!("GitHub could not confirm who you are: {detail}. Please try again later."),
            ),
            Self::UnusableLogin(login) => (
                "Sign-in refused",
                format!("The GitHub login '{login}' cannot be used as a username here."),
            ),
            Self::NotAllowed(login) => (
                "Access denied",
                format!("The GitHub user '{login}' is not allowed to sign in to this server."),
            ),
            Self::Locked(reason) => ("Account locked", format!("Your account is locked: {reason}")),
        };
        crate::views::layout(
            &crate::views::PageContext::default(),
            title,
            html! {
                section.card.narrow data-testid="github-refused" {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/login" { "Back to Sign In" } }
                }
            },
        )
    }
}

/// Why the callback stopped: a refusal the visitor sees, or a server fault.
enum Stop {
    Refused(Refusal),
    Fault(Error),
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<Error> for Stop {
    fn from(err: Error) -> Self {
        Self::Fault(err)
    }
}

/// Keeps only a short run of harmless characters of a value GitHub (or whoever crafted the
/// link) sent, for display and logs.
fn tidy(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect()
}

/// `GET /auth/github/callback`: checks the state, asks GitHub who this is, starts a session.
async fn finish_sign_in(
    State(auth): State<AuthState>,
    Extension(github): Extension<Arc<Github>>,
    Query(query): Query<CallbackQuery>,
    parts: Parts,
) -> Response {
    let secure = auth.is_https(&parts);
    let mut response = match complete(&auth, &github, query, &parts).await {
        Ok((token, next)) => {
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&token, secure));
            response
        }
        Err(Stop::Refused(refusal)) => (refusal.status(), refusal.page()).into_response(),
        Err(Stop::Fault(err)) => err.into_response(),
    };
    // The state is single-use, whatever happened.
    response
        .headers_mut()
        .append(header::SET_COOKIE, cleared_state_cookie(secure));
    response
}

async fn complete(
    auth: &AuthState,
    github: &Arc<Github>,
    query: CallbackQuery,
    parts: &Parts,
) -> std::result::Result<(SessionToken, String), Stop> {
    let settings = github.settings()?;
    let nonblank = |v: Option<String>| v.filter(|v| !v.is_empty());
    let (Some(code), Some(state)) = (nonblank(query.code), nonblank(query.state)) else {
        return Err(match nonblank(query.error) {
            Some(error) => Refusal::Declined(tidy(&error)),
            None => Refusal::Incomplete,
        }
        .into());
    };
    if code.len() > MAX_PARAM_LEN || state.len() > MAX_PARAM_LEN {
        return Err(Refusal::Incomplete.into());
    }
    let Some(saved) = read_state_cookie(&parts.headers, auth.is_https(parts)) else {
        tracing::info!("GitHub callback without this browser's state cookie refused");
        return Err(Refusal::StateMismatch.into());
    };
    if !bool::from(saved.state.as_bytes().ct_eq(state.as_bytes())) {
        tracing::info!("GitHub callback with a state that is not this browser's refused");
        return Err(Refusal::StateMismatch.into());
    }
    let http = &github.ready()?.http;
    let token = exchange_code(http, settings, &code).await?;
    let profile = fetch_profile(http, settings, &token).await?;
    drop(token);
    if validate_username(&profile.login).is_err() {
        tracing::info!(login = %tidy(&profile.login), "GitHub login unusable as a username");
        return Err(Refusal::UnusableLogin(tidy(&profile.login)).into());
    }
    let ip = auth.client_ip(parts);
    let audit = |event, result: &str| {
        AuditRecord::new(event, &profile.login, &profile.login)
            .ip(&ip)
            .result(result)
            .detail(NAME)
    };
    if !settings.allows(&profile.login, profile.id) {
        tracing::info!(login = %profile.login, id = profile.id, "GitHub user not in restrict_to refused");
        auth.audit(audit(AuditEvent::SignInFailed, "not in restrict_to"))
            .await;
        return Err(Refusal::NotAllowed(profile.login).into());
    }
    let agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let admitted = {
        let github = github.clone();
        let sessions = auth.sessions().clone();
        let profile = profile.clone();
        let ip = ip.clone();
        tokio::task::spawn_blocking(move || {
            github
                .ready()?
                .users
                .update(|users| admit(users, &sessions, &profile, &ip, &agent))
        })
        .await
        .map_err(Error::from)??
    };
    let token = match admitted {
        Ok(token) => token,
        Err(reason) => {
            tracing::info!(login = %profile.login, "locked GitHub user refused");
            auth.audit(audit(AuditEvent::SignInLocked, "locked")).await;
            return Err(Refusal::Locked(reason).into());
        }
    };
    // A sign-in always replaces the browser's previous session.
    if let Some(previous) = session_key(&parts.headers) {
        auth.end_session(previous).await?;
    }
    tracing::info!(user = %profile.login, %ip, provider = NAME, "signed in");
    auth.audit(audit(AuditEvent::SignIn, "ok")).await;
    Ok((token, saved.next))
}

/// Records the sign-in of `profile` and starts its session, or returns the lock reason.
/// Runs inside the store's locked read-modify-write.
fn admit(
    users: &mut GithubUsers,
    sessions: &crate::session::SessionStore,
    profile: &Profile,
    ip: &str,
    agent: &str,
) -> Result<std::result::Result<SessionToken, String>> {
    let login = profile.login.as_str();
    // A record under this login (in any case) that belongs to another GitHub account: the
    // login changed hands. That record (and its lock) moves aside to `#ID`, where its owner
    // finds it again by id, and its sessions end.
    let taken: Vec<String> = users
        .iter()
        .filter(|(key, user)| user.id != profile.id && key.eq_ignore_ascii_case(login))
        .map(|(key, _)| key.clone())
        .collect();
    for key in taken {
        if let Some(user) = users.shift_remove(&key) {
            sessions.remove_user(&key, None)?;
            users.insert(format!("#{}", user.id), user);
        }
    }
    // This account's own record, wherever it is: renamed accounts keep their record.
    let own = users
        .iter()
        .find(|(_, user)| user.id == profile.id)
        .map(|(key, _)| key.clone());
    if let Some(old) = own.filter(|key| key != login) {
        if let Some(user) = users.shift_remove(&old) {
            sessions.remove_user(&old, None)?;
            users.insert(login.to_owned(), user);
        }
    }
    let user = users
        .entry(login.to_owned())
        .or_insert_with(|| GithubUser::new(profile.id, login));
    if let Some(reason) = user.lock_reason() {
        return Ok(Err(reason.to_owned()));
    }
    user.login = login.to_owned();
    user.last_ip = Some(ip.to_owned());
    user.last_login = Some(now_secs());
    Ok(Ok(sessions.create(login, NAME, ip, agent)?))
}

/// An access token: never shown in `Debug`.
#[derive(Deserialize)]
#[serde(transparent)]
struct AccessToken(String);

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<AccessToken>,
    #[serde(default)]
    error: Option<String>,
}

/// The fields of `GET /user` this provider uses.
#[derive(Debug, Clone, Deserialize)]
struct Profile {
    login: String,
    id: u64,
}

/// Reads at most [`MAX_ANSWER_BYTES`] of a successful answer.
async fn read_answer(mut response: reqwest::Response, what: &str) -> Result<Vec<u8>, Refusal> {
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, "GitHub {what} answered with an unexpected status");
        return Err(Refusal::Upstream(format!(
            "the {what} answered with status {}",
            status.as_u16()
        )));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => {
                tracing::warn!("GitHub {what} answer is too large");
                return Err(Refusal::Upstream(format!("the {what} answer is too large")));
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "reading the GitHub {what} answer failed");
                return Err(Refusal::Upstream(format!("the {what} answer was cut off")));
            }
        }
    }
}

fn unreachable_github(what: &str, e: reqwest::Error) -> Refusal {
    let why = if e.is_timeout() {
        "timed out"
    } else {
        "could not be reached"
    };
    tracing::warn!(error = %e.without_url(), "GitHub {what} {why}");
    Refusal::Upstream(format!("the {what} {why}"))
}

/// Exchanges the authorization code for an access token.
async fn exchange_code(
    http: &reqwest::Client,
    settings: &GithubConfig,
    code: &str,
) -> Result<AccessToken, Refusal> {
    const WHAT: &str = "token endpoint";
    let mut form = vec![
        ("client_id", settings.client_id.as_str()),
        ("client_secret", settings.client_secret.as_str()),
        ("code", code),
    ];
    if let Some(uri) = &settings.redirect_uri {
        form.push(("redirect_uri", uri));
    }
    let response = http
        .post(settings.token_url())
        .header(header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable_github(WHAT, e))?;
    let body = read_answer(response, WHAT).await?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
        tracing::warn!("GitHub {WHAT} answer is not the expected JSON");
        Refusal::Upstream(format!("the {WHAT} answer is not JSON"))
    })?;
    match answer.access_token {
        Some(token) if !token.0.is_empty() => Ok(token),
        _ => {
            let error = tidy(answer.error.as_deref().unwrap_or("no access token"));
            tracing::warn!(%error, "GitHub did not accept the sign-in code");
            Err(Refusal::Upstream(format!(
                "GitHub did not accept the sign-in code ({error})"
            )))
        }
    }
}

/// Reads the signed-in GitHub user with the access token.
async fn fetch_profile(
    http: &reqwest::Client,
    settings: &GithubConfig,
    token: &AccessToken,
) -> Result<Profile, Refusal> {
    const WHAT: &str = "user API";
    let response = http
        .get(settings.user_url())
        .bearer_auth(&token.0)
        .header(header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|e| unreachable_github(WHAT, e))?;
    let body = read_answer(response, WHAT).await?;
    serde_json::from_slice(&body).map_err(|_| {
        tracing::warn!("GitHub {WHAT} answer lacks login and id");
        Refusal::Upstream(format!("the {WHAT} answer lacks the login"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn callback_debug_hides_the_code_and_the_state() {
        let query = CallbackQuery {
            code: Some("code-0123456789abcdef".into()),
            state: Some("state-fedcba9876543210".into()),
            error: None,
        };
        let shown = format!("{query:?}");
        assert!(
            !shown.contains("code-0123456789abcdef") && !shown.contains("state-fedcba9876543210"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn missing_id_and_secret_is_an_error_that_says_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let err = GithubConfig::load(&Config::new(dir.path()), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("GITHUB_CLIENT_ID"), "{err}");
    }

    #[test]
    fn environment_variables_configure_it() {
        let dir = tempfile::tempdir().unwrap();
        let vars = env(&[
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "s3cret"),
            ("GITHUB_USERS", "alice, Bob 42"),
            ("GITHUB_ADMINS", "alice"),
        ]);
        let config = GithubConfig::load(&Config::new(dir.path()), &vars).unwrap();
        assert_eq!(config.client_id, "id");
        assert_eq!(config.restrict_to, ["alice", "Bob", "42"]);
        assert_eq!(config.admins, ["alice"]);
        assert_eq!(config.oauth_url, DEFAULT_OAUTH_URL);
        assert_eq!(config.user_url(), "https://api.github.com/user");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn config_file_with_dollar_indirection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user/default/github_auth/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"client_id":"cid","client_secret":"$MY_SECRET","redirect_uri":"http://localhost:8000/auth/github/callback","restrict_to":"$ALLOWED","admins":["carol"]}"#,
        )
        .unwrap();
        let vars = env(&[("MY_SECRET", "xyz"), ("ALLOWED", "carol dave")]);
        let config = GithubConfig::load(&Config::new(dir.path()), &vars).unwrap();
        assert_eq!(config.client_secret, "xyz");
        assert_eq!(config.restrict_to, ["carol", "dave"]);
        assert_eq!(config.admins, ["carol"]);
        // The indirection names a variable that is not set: not configured.
        let err = GithubConfig::load(&Config::new(dir.path()), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("client id and secret"), "{err}");
    }

    #[test]
    fn disabled_in_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = GithubConfig::path(&Config::new(dir.path()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"enabled":false,"client_id":"a","client_secret":"b"}"#,
        )
        .unwrap();
        let err = GithubConfig::load(&Config::new(dir.path()), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("disabled"), "{err}");
    }

    #[test]
    fn base_urls_are_https_or_loopback_http() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let base = [("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "s")];
        let with = |name: &'static str, value: &'static str| {
            let mut vars = base.to_vec();
            vars.push((name, value));
            GithubConfig::load(&config, &env(&vars))
        };
        let local = with("LLMS_GITHUB_OAUTH_URL", "http://127.0.0.1:9/login/oauth/").unwrap();
        assert_eq!(
            local.token_url(),
            "http://127.0.0.1:9/login/oauth/access_token"
        );
        assert!(with("LLMS_GITHUB_API_URL", "http://[::1]:9").is_ok());
        assert!(with("LLMS_GITHUB_API_URL", "https://ghe.example/api/v3").is_ok());
        for bad in ["http://github.example", "ftp://127.0.0.1", "not a url"] {
            assert!(with("LLMS_GITHUB_API_URL", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_match_logins_in_any_case_and_ids() {
        let mut config = GithubConfig::new("id", "secret");
        assert!(config.allows("anyone", 1), "empty restrict_to admits all");
        config.restrict_to = vec!["Alice".into(), "4242".into()];
        assert!(config.allows("alice", 1));
        assert!(config.allows("ALICE", 1));
        assert!(config.allows("someone-else", 4242));
        assert!(!config.allows("bob", 7));
        assert!(!config.allows("alice2", 7));
        assert!(!config.is_admin("alice", 1));
    }

    #[test]
    fn state_cookie_round_trips_and_rechecks_next() {
        let state = new_state();
        assert_eq!(state.len(), STATE_LEN);
        for secure in [false, true] {
            let set = state_cookie(&state, "/admin?x=1", secure);
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            assert_eq!(set.contains("Secure"), secure, "{set}");
            let pair = set.split(';').next().unwrap();
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
            let saved = read_state_cookie(&headers, secure).unwrap();
            assert_eq!(saved.state, state);
            assert_eq!(saved.next, "/admin?x=1");
            // The other scheme's cookie name is not accepted.
            assert!(read_state_cookie(&headers, !secure).is_none());
        }
        // A tampered next is checked again.
        let forged = format!(
            "{STATE_COOKIE}={state}.{}",
            URL_SAFE_NO_PAD.encode("//evil")
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&forged).unwrap());
        assert_eq!(read_state_cookie(&headers, false).unwrap().next, "/");
    }

    #[test]
    fn records_follow_renames_and_logins_that_change_hands() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = crate::session::SessionStore::new(
            dir.path().join("sessions"),
            crate::config::SESSION_MAX_AGE,
        );
        let mut users = GithubUsers::new();
        let alice = Profile {
            login: "alice".into(),
            id: 1,
        };
        assert!(admit(&mut users, &sessions, &alice, "10.0.0.1", "ua")
            .unwrap()
            .is_ok());
        users.get_mut("alice").unwrap().locked = Some("spam".into());
        // Renamed: the record (and its lock) follows the id.
        let renamed = Profile {
            login: "alice2".into(),
            id: 1,
        };
        assert_eq!(
            admit(&mut users, &sessions, &renamed, "ip", "ua")
                .unwrap()
                .err(),
            Some("spam".to_owned())
        );
        assert!(users.get("alice").is_none());
        assert_eq!(users["alice2"].id, 1);
        // Someone else now holds "alice2" (in another case): a fresh record for them, and
        // the old one waits under its id.
        let newcomer = Profile {
            login: "Alice2".into(),
            id: 2,
        };
        assert!(admit(&mut users, &sessions, &newcomer, "ip", "ua")
            .unwrap()
            .is_ok());
        assert_eq!(users["Alice2"].id, 2);
        assert_eq!(users["#1"].lock_reason(), Some("spam"));
        // The first account, under yet another login, is still locked.
        let back = Profile {
            login: "alice3".into(),
            id: 1,
        };
        assert!(admit(&mut users, &sessions, &back, "ip", "ua")
            .unwrap()
            .is_err());
        assert!(users.get("#1").is_none());
    }

    #[test]
    fn tidy_keeps_harmless_characters() {
        assert_eq!(tidy("access_denied<script>"), "access_deniedscript");
        assert_eq!(tidy(&"x".repeat(100)).len(), 64);
    }
}
