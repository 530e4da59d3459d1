//! The OpenID Connect settings (SPEC 13): `user/default/oidc/config.json` or the environment
//! (`OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_REDIRECT_URI`,
//! `OIDC_SCOPES`, `OIDC_USERNAME_CLAIM`, `OIDC_GROUPS_CLAIM`, `OIDC_ALLOWED_GROUPS`,
//! `OIDC_ADMIN_GROUPS`, `OIDC_NAME`), a `"$NAME"` value read from the environment.

use std::fmt;
use std::path::PathBuf;

use reqwest::Url;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::providers::settings::{
    expand, expand_list, is_safe_scheme, read_settings_file, settings_path, split_names, NameList,
};

/// The scopes asked for when none are set.
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// The claim that names the user when none is set.
pub const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";

/// The claim that lists the user's groups when none is set.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// The callback path the redirect URI must end in.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// The resolved settings.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL, as the provider's discovery document states it.
    pub issuer: String,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The client secret (never shown in `Debug`).
    pub client_secret: String,
    /// The redirect URI registered with the provider (ends in [`CALLBACK_PATH`]); when
    /// unset, it is made from the request's own address.
    pub redirect_uri: Option<String>,
    /// The scopes asked for (`openid` always among them).
    pub scopes: Vec<String>,
    /// The ID token claim that names the user.
    pub username_claim: String,
    /// The ID token claim that lists the user's groups.
    pub groups_claim: String,
    /// Groups allowed in; empty means everyone the provider signs in.
    pub allowed_groups: Vec<String>,
    /// Groups whose members are Admins.
    pub admin_groups: Vec<String>,
    /// The button's label and Manage Users' badge ("Kanidm", "Authelia").
    pub name: String,
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("allowed_groups", &self.allowed_groups)
            .field("admin_groups", &self.admin_groups)
            .field("name", &self.name)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    scopes: Option<NameList>,
    #[serde(default)]
    username_claim: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    allowed_groups: Option<NameList>,
    #[serde(default)]
    admin_groups: Option<NameList>,
    #[serde(default)]
    name: Option<String>,
}

impl OidcConfig {
    /// Settings for this client of `issuer`, with the defaults for the rest.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: None,
            scopes: split_names(Some(DEFAULT_SCOPES.to_owned())),
            username_claim: DEFAULT_USERNAME_CLAIM.to_owned(),
            groups_claim: DEFAULT_GROUPS_CLAIM.to_owned(),
            allowed_groups: Vec::new(),
            admin_groups: Vec::new(),
            name: "Single sign-on".to_owned(),
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
                "oidc is disabled in {} (\"enabled\": false)",
                path.display()
            )));
        }
        let from_env = |name: &str| expand(Some(format!("${name}")), env);
        let issuer = expand(file.issuer, env).or_else(|| from_env("OIDC_ISSUER"));
        let client_id = expand(file.client_id, env).or_else(|| from_env("OIDC_CLIENT_ID"));
        let client_secret =
            expand(file.client_secret, env).or_else(|| from_env("OIDC_CLIENT_SECRET"));
        let (Some(issuer), Some(client_id), Some(client_secret)) =
            (issuer, client_id, client_secret)
        else {
            return Err(Error::Config(format!(
                "oidc needs the provider's issuer URL and a client id and secret: set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, or issuer, client_id and client_secret in {}",
                path.display()
            )));
        };
        let mut settings = Self::new(issuer, client_id, client_secret);
        check_issuer(&settings.issuer)?;
        settings.redirect_uri =
            expand(file.redirect_uri, env).or_else(|| from_env("OIDC_REDIRECT_URI"));
        if let Some(uri) = &settings.redirect_uri {
            check_redirect_uri(uri)?;
        }
        if let Some(scopes) = expand_list(file.scopes, env).or_else(|| from_env("OIDC_SCOPES")) {
            settings.scopes = split_names(Some(scopes));
        }
        if !settings.scopes.iter().any(|s| s == "openid") {
            settings.scopes.insert(0, "openid".to_owned());
        }
        if let Some(claim) =
            expand(file.username_claim, env).or_else(|| from_env("OIDC_USERNAME_CLAIM"))
        {
            settings.username_claim = claim;
        }
        if let Some(claim) =
            expand(file.groups_claim, env).or_else(|| from_env("OIDC_GROUPS_CLAIM"))
        {
            settings.groups_claim = claim;
        }
        settings.allowed_groups = split_names(
            expand_list(file.allowed_groups, env).or_else(|| from_env("OIDC_ALLOWED_GROUPS")),
        );
        settings.admin_groups = split_names(
            expand_list(file.admin_groups, env).or_else(|| from_env("OIDC_ADMIN_GROUPS")),
        );
        if let Some(name) = expand(file.name, env).or_else(|| from_env("OIDC_NAME")) {
            settings.name = name.chars().take(40).collect();
        }
        Ok(settings)
    }

    /// Whether the groups `groups` let the user in.
    pub fn allows(&self, groups: &[String]) -> bool {
        self.allowed_groups.is_empty() || groups.iter().any(|g| self.allowed_groups.contains(g))
    }

    /// Whether the groups `groups` make the user an Admin.
    pub fn is_admin(&self, groups: &[String]) -> bool {
        groups.iter().any(|g| self.admin_groups.contains(g))
    }
}

/// The issuer must be HTTPS (plain HTTP only to this machine), without query or fragment.
fn check_issuer(issuer: &str) -> Result<()> {
    let url = Url::parse(issuer)
        .map_err(|e| Error::Config(format!("oidc: the issuer '{issuer}' is not a URL: {e}")))?;
    if !is_safe_scheme(&url) || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "oidc: the issuer '{issuer}' must be an https:// URL without query (http:// only for this machine)"
        )));
    }
    Ok(())
}

/// The redirect URI must be an http(s) URL whose path is [`CALLBACK_PATH`].
fn check_redirect_uri(uri: &str) -> Result<()> {
    let ok = Url::parse(uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.path().ends_with(CALLBACK_PATH));
    if !ok {
        return Err(Error::Config(format!(
            "oidc: the redirect URI '{uri}' must be an http(s) URL ending in {CALLBACK_PATH}"
        )));
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

    const BASE: [(&str, &str); 3] = [
        ("OIDC_ISSUER", "https://idm.example.org/oauth2/openid/llms"),
        ("OIDC_CLIENT_ID", "llms"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
    ];

    #[test]
    fn missing_issuer_id_or_secret_says_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        for missing in 0..3 {
            let vars: Vec<_> = BASE
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, v)| *v)
                .collect();
            let err = OidcConfig::load(&config, &env(&vars))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("OIDC_ISSUER")
                    && err.contains("OIDC_CLIENT_ID")
                    && err.contains("OIDC_CLIENT_SECRET"),
                "{err}"
            );
        }
    }

    #[test]
    fn settings_come_from_the_environment_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let settings = OidcConfig::load(&config, &env(&BASE)).unwrap();
        assert_eq!(settings.scopes, ["openid", "profile", "email"]);
        assert_eq!(settings.username_claim, "preferred_username");
        assert_eq!(settings.groups_claim, "groups");
        assert!(settings.allows(&[]), "no allowed groups: everyone");
        assert!(!format!("{settings:?}").contains("s3cret"));

        let mut vars = BASE.to_vec();
        vars.extend([
            ("OIDC_SCOPES", "profile groups"),
            ("OIDC_ALLOWED_GROUPS", "staff, llms-users"),
            ("OIDC_ADMIN_GROUPS", "llms-admins"),
            ("OIDC_NAME", "Kanidm"),
            (
                "OIDC_REDIRECT_URI",
                "https://llms.example.org/auth/oidc/callback",
            ),
        ]);
        let settings = OidcConfig::load(&config, &env(&vars)).unwrap();
        assert_eq!(settings.scopes, ["openid", "profile", "groups"]);
        assert!(settings.allows(&["staff".into()]) && !settings.allows(&["other".into()]));
        assert!(settings.is_admin(&["llms-admins".into()]) && !settings.is_admin(&[]));
        assert_eq!(settings.name, "Kanidm");
    }

    #[test]
    fn the_file_wins_and_reads_secrets_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let path = OidcConfig::path(&config);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"issuer":"https://auth.example.org","client_id":"llms","client_secret":"$MY_SECRET","admin_groups":["admins"]}"#,
        )
        .unwrap();
        let settings = OidcConfig::load(&config, &env(&[("MY_SECRET", "from-env")])).unwrap();
        assert_eq!(settings.client_secret, "from-env");
        assert_eq!(settings.issuer, "https://auth.example.org");
        assert_eq!(settings.admin_groups, ["admins"]);
    }

    #[test]
    fn bad_issuers_and_redirect_uris_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        for (name, value) in [
            ("OIDC_ISSUER", "http://idm.example.org"),
            ("OIDC_ISSUER", "not a url"),
            ("OIDC_ISSUER", "https://idm.example.org/?x=1"),
            ("OIDC_REDIRECT_URI", "https://llms.example.org/elsewhere"),
            (
                "OIDC_REDIRECT_URI",
                "ftp://llms.example.org/auth/oidc/callback",
            ),
        ] {
            let mut vars = BASE.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = OidcConfig::load(&config, &env(&vars))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("oidc: "), "{name}={value}: {err}");
        }
        // Plain HTTP to this machine is fine (a local issuer, the tests').
        let mut vars = BASE.to_vec();
        vars[0] = ("OIDC_ISSUER", "http://127.0.0.1:9000");
        assert!(OidcConfig::load(&config, &env(&vars)).is_ok());
    }
}
