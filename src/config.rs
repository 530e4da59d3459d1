//! Plain configuration: where the files live, which provider is selected, and the limits.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::password::HashScheme;

/// How long a client may take to send a request's headers unless
/// `LLMS_HEADER_TIMEOUT_SECS` says otherwise.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's body unless `LLMS_BODY_TIMEOUT_SECS`
/// says otherwise (enough for a 2 MiB avatar at about 600 kbit/s).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections one client address may hold open unless
/// `LLMS_MAX_CONNECTIONS_PER_IP` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;

/// The shortest new password accepted unless `LLMS_MIN_PASSWORD_LENGTH` says otherwise.
pub const DEFAULT_MIN_PASSWORD_LENGTH: usize = 8;

/// The provider used when neither `--auth` nor `LLMS_AUTH` names one.
pub const DEFAULT_PROVIDER: &str = "credentials";

/// How long a session lives after it was created.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A secret setting (an upstream's API key): never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything the library needs to know, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `LLMS_HOME`, default `~/.llms`.
    pub home: PathBuf,
    /// The selected providers' names: one, or several separated by commas
    /// (`credentials,github_auth`); see [`Config::provider_names`].
    pub auth: String,
    /// The format new password hashes are written in.
    pub hash_scheme: HashScheme,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether the server listens only on loopback (controls the "auth off" warning).
    pub loopback_only: bool,
    /// How many password hashes may run at once.
    pub hash_concurrency: usize,
    /// The OpenAI-compatible server `/v1/*` is forwarded to (`--upstream` /
    /// `LLMS_UPSTREAM`), its base including its `/v1`, without a trailing slash; `None`:
    /// `/v1/*` answers 404.
    pub upstream: Option<String>,
    /// The API key sent to the upstream (`LLMS_UPSTREAM_API_KEY`), if it needs one.
    pub upstream_api_key: Option<Secret>,
    /// The shared PostgreSQL database (`LLMS_DATABASE_URL` / `--database-url`,
    /// `postgres://...`) that keeps every store instead of the files under `LLMS_HOME`, for
    /// several instances acting as one.
    pub database_url: Option<Secret>,
    /// The fewest characters a new password may have (`LLMS_MIN_PASSWORD_LENGTH`);
    /// existing passwords keep working whatever their length.
    pub min_password_length: usize,
    /// `LLMS_ALLOWED_HOSTS`: host names (lowercase, no port) requests may be addressed to,
    /// beyond `localhost` and IP addresses. While the server listens only on loopback, any
    /// other name is refused (a defence against DNS rebinding); otherwise, an empty list
    /// allows every name.
    pub allowed_hosts: Vec<String>,
    /// How long a client may take to send a request's headers, and how long an idle
    /// connection is kept (`LLMS_HEADER_TIMEOUT_SECS`).
    pub header_timeout: Duration,
    /// How many connections one client address may hold open at once
    /// (`LLMS_MAX_CONNECTIONS_PER_IP`); trusted proxies are not limited.
    pub max_connections_per_ip: usize,
    /// How long a client may take to send a request's body, counted from when the request
    /// reached the auth router (`LLMS_BODY_TIMEOUT_SECS`). A slower body is answered with
    /// 408 and the connection is closed.
    pub body_timeout: Duration,
}

impl Config {
    /// A configuration rooted at `home` with every other setting at its default.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self {
            home: home.into(),
            auth: DEFAULT_PROVIDER.to_owned(),
            hash_scheme: HashScheme::Argon2id,
            trusted_proxies: Vec::new(),
            loopback_only: true,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            allowed_hosts: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            min_password_length: DEFAULT_MIN_PASSWORD_LENGTH,
            upstream: None,
            upstream_api_key: None,
            database_url: None,
        }
    }

    /// Reads `LLMS_HOME`, `LLMS_AUTH`, `LLMS_PASSWORD_HASH`, `LLMS_TRUSTED_PROXIES`,
    /// `LLMS_ALLOWED_HOSTS`, `LLMS_HEADER_TIMEOUT_SECS`, `LLMS_BODY_TIMEOUT_SECS`,
    /// `LLMS_MAX_CONNECTIONS_PER_IP` and `LLMS_MIN_PASSWORD_LENGTH`;
    /// `auth_flag` (from `--auth`) wins over `LLMS_AUTH`.
    pub fn from_env(auth_flag: Option<&str>) -> Result<Self> {
        let home = match std::env::var_os("LLMS_HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::Config("neither LLMS_HOME nor HOME is set".to_owned()))?;
                Path::new(&home).join(".llms")
            }
        };
        let mut config = Self::new(home);
        let env_auth = std::env::var("LLMS_AUTH")
            .ok()
            .filter(|v| !v.trim().is_empty());
        if let Some(auth) = auth_flag.map(str::to_owned).or(env_auth) {
            config.auth = auth.trim().to_owned();
        }
        if let Ok(value) = std::env::var("LLMS_PASSWORD_HASH") {
            config.hash_scheme = HashScheme::parse(&value)?;
        }
        if let Ok(value) = std::env::var("LLMS_TRUSTED_PROXIES") {
            config.trusted_proxies = parse_proxies(&value)?;
        }
        if let Ok(value) = std::env::var("LLMS_ALLOWED_HOSTS") {
            config.allowed_hosts = parse_allowed_hosts(&value)?;
        }
        if let Ok(value) = std::env::var("LLMS_HEADER_TIMEOUT_SECS") {
            config.header_timeout = parse_seconds("LLMS_HEADER_TIMEOUT_SECS", &value)?;
        }
        if let Ok(value) = std::env::var("LLMS_BODY_TIMEOUT_SECS") {
            config.body_timeout = parse_seconds("LLMS_BODY_TIMEOUT_SECS", &value)?;
        }
        if let Ok(value) = std::env::var("LLMS_UPSTREAM") {
            if !value.trim().is_empty() {
                config.upstream = Some(parse_upstream("LLMS_UPSTREAM", &value)?);
            }
        }
        if let Ok(value) = std::env::var("LLMS_DATABASE_URL") {
            let value = value.trim();
            if !value.is_empty() {
                config.database_url = Some(Secret(value.to_owned()));
            }
        }
        if let Ok(value) = std::env::var("LLMS_UPSTREAM_API_KEY") {
            if !value.trim().is_empty() {
                config.upstream_api_key = Some(Secret(value.trim().to_owned()));
            }
        }
        if let Ok(value) = std::env::var("LLMS_MIN_PASSWORD_LENGTH") {
            config.min_password_length = parse_count("LLMS_MIN_PASSWORD_LENGTH", &value)?;
        }
        if let Ok(value) = std::env::var("LLMS_MAX_CONNECTIONS_PER_IP") {
            config.max_connections_per_ip = parse_count("LLMS_MAX_CONNECTIONS_PER_IP", &value)?;
        }
        Ok(config)
    }

    /// The names in [`Config::auth`], in order, without blanks.
    pub fn provider_names(&self) -> Vec<&str> {
        self.auth
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// `LLMS_HOME/credentials`.
    pub fn credentials_dir(&self) -> PathBuf {
        self.home.join("credentials")
    }

    /// `LLMS_HOME/credentials/sessions`.
    pub fn sessions_dir(&self) -> PathBuf {
        self.credentials_dir().join("sessions")
    }

    /// `LLMS_HOME/credentials/audit.log`.
    pub fn audit_log(&self) -> PathBuf {
        self.credentials_dir().join("audit.log")
    }

    /// `LLMS_HOME/user/<name>`: a user's own folder (avatars).
    pub fn user_dir(&self, username: &str) -> PathBuf {
        self.home.join("user").join(username)
    }
}

/// Parses a comma- or space-separated list of IP addresses.
pub fn parse_proxies(value: &str) -> Result<Vec<IpAddr>> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>().map_err(|_| {
                Error::Config(format!("LLMS_TRUSTED_PROXIES: '{s}' is not an IP address"))
            })
        })
        .collect()
}

/// Parses `LLMS_ALLOWED_HOSTS`: comma- or space-separated host names (a port, if given, is
/// not compared), normalized to lowercase without a trailing dot.
pub fn parse_allowed_hosts(value: &str) -> Result<Vec<String>> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            host_name(s).map(Cow::into_owned).ok_or_else(|| {
                Error::Config(format!("LLMS_ALLOWED_HOSTS: '{s}' is not a host name"))
            })
        })
        .collect()
}

/// The lowercase host name of an authority (`Host` header value or URI authority) without
/// its port and trailing dot: `Example.COM.:8080` is `example.com`, `[::1]:80` is `[::1]`.
/// `None` when it is not a well-formed host with an optional numeric port.
///
/// Borrowed from `authority` when it is already in that form, as every request's `Host`
/// usually is: the check runs on each request.
pub fn host_name(authority: &str) -> Option<Cow<'_, str>> {
    let (name, port): (Cow<'_, str>, &str) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (ip, port) = rest.split_once(']')?;
            (format!("[{}]", ip.parse::<Ipv6Addr>().ok()?).into(), port)
        }
        None => {
            let colon = authority.bytes().position(|b| b == b':');
            let (name, port) = authority.split_at(colon.unwrap_or(authority.len()));
            let name = name.strip_suffix('.').unwrap_or(name);
            let name_ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if !name_ok {
                return None;
            }
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                name.to_ascii_lowercase().into()
            } else {
                name.into()
            };
            (name, port)
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
    port_ok.then_some(name)
}

/// Parses the upstream's base URL (named by `setting` in the error): `http://` or
/// `https://`, no query or fragment; the trailing slash is dropped.
pub fn parse_upstream(setting: &str, value: &str) -> Result<String> {
    let text = value.trim();
    // `http:///v1` parses as host `v1`: the authority must be written, not inferred.
    let written_host = text
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    let ok = written_host
        && reqwest::Url::parse(text).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
                && url.query().is_none()
                && url.fragment().is_none()
        });
    if !ok {
        return Err(Error::Config(format!(
            "{setting}: '{text}' is not the http:// or https:// address of an OpenAI-compatible server (its base, with its /v1, e.g. http://127.0.0.1:11434/v1; a key for it goes in LLMS_UPSTREAM_API_KEY, not the address)"
        )));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Parses a count setting such as `LLMS_MAX_CONNECTIONS_PER_IP` (named by `variable` in
/// the error): a whole number, at least 1.
pub fn parse_count(variable: &str, value: &str) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(Error::Config(format!(
            "{variable}: '{value}' is not a positive whole number"
        ))),
    }
}

/// Parses a timeout setting such as `LLMS_HEADER_TIMEOUT_SECS` (named by `variable` in
/// the error): a whole number of seconds, at least 1.
pub fn parse_seconds(variable: &str, value: &str) -> Result<Duration> {
    match value.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(Error::Config(format!(
            "{variable}: '{value}' is not a positive number of seconds"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_and_reject_garbage() {
        let list = parse_proxies("127.0.0.1, ::1  10.0.0.2").unwrap();
        assert_eq!(list.len(), 3);
        assert!(parse_proxies("10.0.0.0/8").is_err());
        assert!(parse_proxies("").unwrap().is_empty());
    }

    #[test]
    fn allowed_hosts_are_normalized_names() {
        assert_eq!(
            parse_allowed_hosts("LLMS.Example.com., gw.internal:8443  [::1]").unwrap(),
            ["llms.example.com", "gw.internal", "[::1]"]
        );
        assert!(parse_allowed_hosts("").unwrap().is_empty());
        for bad in ["http://x.example", "a/b", "x.example:port", "::1"] {
            assert!(parse_allowed_hosts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_names() {
        assert_eq!(
            host_name("Example.COM.:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_name("localhost").as_deref(), Some("localhost"));
        assert_eq!(host_name("127.0.0.1:8000").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8000").as_deref(), Some("[::1]"));
        assert_eq!(host_name("[0:0::1]").as_deref(), Some("[::1]"));
        for bad in [
            "", ":80", "a b", "::1", "[::1", "[nope]", "x:", "x:123456", "x:8o", "a/b", "a@b",
            "\\0",
        ] {
            assert_eq!(host_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        let parse = |value| parse_seconds("LLMS_BODY_TIMEOUT_SECS", value);
        assert_eq!(parse(" 3 ").unwrap(), Duration::from_secs(3));
        for bad in ["0", "-1", "1.5", "soon", ""] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("LLMS_BODY_TIMEOUT_SECS: "), "{bad}: {err}");
        }
    }

    #[test]
    fn provider_names_are_a_comma_separated_list() {
        let mut config = Config::new("/tmp/h");
        assert_eq!(config.provider_names(), ["credentials"]);
        config.auth = " credentials , github_auth,".into();
        assert_eq!(config.provider_names(), ["credentials", "github_auth"]);
    }

    #[test]
    fn upstreams_are_http_bases() {
        assert_eq!(
            parse_upstream("LLMS_UPSTREAM", " http://127.0.0.1:11434/v1/ ").unwrap(),
            "http://127.0.0.1:11434/v1"
        );
        assert!(parse_upstream("x", "https://api.example/v1").is_ok());
        for bad in [
            "",
            "127.0.0.1:11434",
            "ftp://h/v1",
            "http://h/v1?x=1",
            "http:///v1",
            "http://u:p@h/v1",
        ] {
            let err = parse_upstream("LLMS_UPSTREAM", bad)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("LLMS_UPSTREAM: "), "{bad}: {err}");
        }
        assert!(!format!("{:?}", Secret("sk-up".into())).contains("sk-up"));
    }

    #[test]
    fn counts_are_positive_whole_numbers() {
        assert_eq!(
            parse_count("LLMS_MAX_CONNECTIONS_PER_IP", " 8 ").unwrap(),
            8
        );
        for bad in ["0", "-1", "1.5", "many", ""] {
            let err = parse_count("LLMS_MAX_CONNECTIONS_PER_IP", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("LLMS_MAX_CONNECTIONS_PER_IP: "),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn paths_hang_off_home() {
        let config = Config::new("/tmp/h");
        assert_eq!(
            config.sessions_dir(),
            Path::new("/tmp/h/credentials/sessions")
        );
        assert_eq!(config.user_dir("bob"), Path::new("/tmp/h/user/bob"));
    }
}
