//! GitHub's settings: `user/default/github_auth/config.json` (llms.py's file) or the
//! environment, `"$NAME"` values read from the environment, and who `restrict_to` and
//! `admins` name.

use std::fmt;
use std::path::PathBuf;

use reqwest::Url;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::providers::settings::{
    expand, expand_list, is_safe_scheme, read_settings_file, settings_path, split_names, NameList,
};

/// GitHub's OAuth endpoints: `{base}/authorize` and `{base}/access_token`.
pub const DEFAULT_OAUTH_URL: &str = "https://github.com/login/oauth";

/// GitHub's REST API: `{base}/user`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The resolved GitHub OAuth settings.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubConfig {
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret (never shown in `Debug`).
    pub client_secret: String,
    /// The callback URL registered with GitHub; when unset, GitHub uses the app's own.
    pub redirect_uri: Option<String>,
    /// GitHub logins (any case), or `id:NUMBER` for a numeric user id, allowed in; empty
    /// means every GitHub user.
    pub restrict_to: Vec<String>,
    /// GitHub logins (any case), or `id:NUMBER`, that get the Admin role.
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

/// Checks a base URL: HTTPS, or plain HTTP to a loopback address (a test server).
fn base_url(value: Option<String>, setting: &str, default: &str) -> Result<String> {
    let text = value.unwrap_or_else(|| default.to_owned());
    let url = Url::parse(&text)
        .map_err(|e| Error::Config(format!("github_auth: {setting} '{text}' is not a URL: {e}")))?;
    if !is_safe_scheme(&url) || url.query().is_some() || url.fragment().is_some() {
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
        settings_path(config, super::NAME)
    }

    /// Loads the settings of `config`'s home, reading the environment through `env`.
    pub fn load(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let path = Self::path(config);
        let file: ConfigFile = read_settings_file(&path)?;
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
        let restrict_to =
            split_names(expand_list(file.restrict_to, env).or_else(|| from_env("GITHUB_USERS")));
        let admins =
            split_names(expand_list(file.admins, env).or_else(|| from_env("GITHUB_ADMINS")));
        check_entries(&restrict_to, "restrict_to")?;
        check_entries(&admins, "admins")?;
        Ok(Self {
            client_id,
            client_secret,
            redirect_uri,
            restrict_to,
            admins,
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

    /// Entries of `restrict_to` and `admins` made of digits only: they name logins (GitHub
    /// allows such logins), which may not be what was meant; `id:NUMBER` names an id.
    pub fn all_digit_entries(&self) -> Vec<&str> {
        self.restrict_to
            .iter()
            .chain(&self.admins)
            .map(String::as_str)
            .filter(|entry| !entry.is_empty() && entry.bytes().all(|b| b.is_ascii_digit()))
            .collect()
    }
}

/// The prefix of an entry that names GitHub's numeric user id instead of a login.
pub const ID_PREFIX: &str = "id:";

/// Whether `list` names the user: an entry is a login, in any case (GitHub logins are
/// case-insensitive), even when it is all digits (logins may be); only `id:NUMBER` names
/// the numeric id.
fn names_match(list: &[String], login: &str, id: u64) -> bool {
    list.iter()
        .any(|entry| match entry.strip_prefix(ID_PREFIX) {
            Some(number) => number.parse::<u64>() == Ok(id),
            None => entry.eq_ignore_ascii_case(login),
        })
}

/// Refuses an `id:` entry that is no number, naming the `setting` it is in.
fn check_entries(list: &[String], setting: &str) -> Result<()> {
    for entry in list {
        if let Some(number) = entry.strip_prefix(ID_PREFIX) {
            if number.parse::<u64>().is_err() {
                return Err(Error::Config(format!(
                    "github_auth: {setting} entry '{entry}' is not id: followed by GitHub's numeric user id"
                )));
            }
        }
    }
    Ok(())
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
    fn an_id_entry_that_is_no_number_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in [("GITHUB_USERS", "alice id:x"), ("GITHUB_ADMINS", "id:")] {
            let vars = env(&[
                ("GITHUB_CLIENT_ID", "id"),
                ("GITHUB_CLIENT_SECRET", "s"),
                (name, value),
            ]);
            let err = GithubConfig::load(&Config::new(dir.path()), &vars).unwrap_err();
            assert!(err.to_string().contains("numeric user id"), "{err}");
        }
    }

    #[test]
    fn entries_match_logins_in_any_case_and_ids_only_with_the_prefix() {
        let mut config = GithubConfig::new("id", "secret");
        assert!(config.allows("anyone", 1), "empty restrict_to admits all");
        config.restrict_to = vec!["Alice".into(), "id:4242".into(), "583231".into()];
        assert!(config.allows("alice", 1));
        assert!(config.allows("ALICE", 1));
        assert!(config.allows("someone-else", 4242));
        assert!(!config.allows("bob", 7));
        assert!(!config.allows("alice2", 7));
        // A bare number is a login (GitHub logins may be all digits), never an id.
        assert!(config.allows("583231", 9));
        assert!(!config.allows("octocat", 583231));
        // An id entry names the id, not a login made of the same digits.
        assert!(!config.allows("4242", 7));
        assert_eq!(config.all_digit_entries(), ["583231"]);
        assert!(!config.is_admin("alice", 1));
    }
}
