//! `github_auth`: sign in with GitHub (OAuth).
//!
//! Configured from `user/default/github_auth/config.json` (`client_id`, `client_secret`,
//! `redirect_uri`, `restrict_to`; a value `"$NAME"` is read from the environment variable
//! NAME) or from `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET` and `GITHUB_USERS`. Selecting it
//! without a client id and secret is an error.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use async_trait::async_trait;
use axum::http::request::Parts;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::provider::{AuthProvider, CurrentUser, Identity};
use crate::state::AuthState;

/// This provider's name.
pub const NAME: &str = "github_auth";

/// The resolved GitHub OAuth settings.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubConfig {
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret (never shown in `Debug`).
    pub client_secret: String,
    /// The callback URL registered with GitHub, if set.
    pub redirect_uri: Option<String>,
    /// GitHub logins or numeric ids allowed in; empty means everyone.
    pub restrict_to: Vec<String>,
}

impl fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("restrict_to", &self.restrict_to)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    restrict_to: Option<String>,
}

/// Expands a `"$NAME"` value from the environment.
fn expand(value: Option<String>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let value = value?.trim().to_owned();
    let value = match value.strip_prefix('$') {
        Some(name) => env(name)?,
        None => value,
    };
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

impl GithubConfig {
    /// Loads the settings of `config`'s home, reading the environment through `env`.
    pub fn load(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let path = config
            .home
            .join("user")
            .join("default")
            .join("github_auth")
            .join("config.json");
        let file = read_config_file(&path)?;
        let client_id =
            expand(file.client_id, env).or_else(|| expand(Some("$GITHUB_CLIENT_ID".into()), env));
        let client_secret = expand(file.client_secret, env)
            .or_else(|| expand(Some("$GITHUB_CLIENT_SECRET".into()), env));
        let restrict_to = expand(file.restrict_to, env)
            .or_else(|| expand(Some("$GITHUB_USERS".into()), env))
            .unwrap_or_default();
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(Error::Config(format!(
                "github_auth needs a GitHub OAuth client id and secret: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or client_id and client_secret in {}",
                path.display()
            )));
        };
        Ok(Self {
            client_id,
            client_secret,
            redirect_uri: expand(file.redirect_uri, env),
            restrict_to: restrict_to
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
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

/// Sign in with GitHub.
#[derive(Debug, Default)]
pub struct GithubAuthProvider {
    settings: OnceLock<GithubConfig>,
}

impl GithubAuthProvider {
    /// The settings loaded by [`AuthProvider::prepare`].
    pub fn settings(&self) -> Option<&GithubConfig> {
        self.settings.get()
    }
}

#[async_trait]
impl AuthProvider for GithubAuthProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn prepare(&self, config: &Config) -> Result<()> {
        let loaded = GithubConfig::load(config, &|name| std::env::var(name).ok())?;
        let _ = self.settings.set(loaded);
        Ok(())
    }

    async fn requires_auth(&self, _auth: &AuthState) -> Result<bool> {
        Ok(true)
    }

    async fn identify(&self, auth: &AuthState, request: &Parts) -> Result<Identity> {
        let Some(found) = auth.find_session(request).await? else {
            return Ok(Identity::Anonymous);
        };
        if found.record.provider != NAME {
            auth.end_session(found.key).await?;
            return Ok(Identity::Anonymous);
        }
        Ok(Identity::User(CurrentUser {
            user_name: found.record.username,
            roles: Vec::new(),
            provider: NAME.to_owned(),
            session: Some(found.key),
            is_default: false,
        }))
    }
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
        ]);
        let config = GithubConfig::load(&Config::new(dir.path()), &vars).unwrap();
        assert_eq!(config.client_id, "id");
        assert_eq!(config.restrict_to, ["alice", "Bob", "42"]);
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn config_file_with_dollar_indirection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user/default/github_auth/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"client_id":"cid","client_secret":"$MY_SECRET","redirect_uri":"http://localhost:8000/auth/github/callback","restrict_to":"$ALLOWED"}"#,
        )
        .unwrap();
        let vars = env(&[("MY_SECRET", "xyz"), ("ALLOWED", "carol")]);
        let config = GithubConfig::load(&Config::new(dir.path()), &vars).unwrap();
        assert_eq!(config.client_secret, "xyz");
        assert_eq!(config.restrict_to, ["carol"]);
        // The indirection names a variable that is not set: not configured.
        let err = GithubConfig::load(&Config::new(dir.path()), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("client id and secret"), "{err}");
    }
}
