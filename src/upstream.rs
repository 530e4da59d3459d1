//! The OpenAI-compatible server behind the gateway (`--upstream URL`): its base and the
//! HTTP client that talks to it, connections kept and reused, no redirect followed, and no
//! total time limit (a stream of tokens may last as long as it lasts; connecting may take
//! at most [`CONNECT_TIMEOUT`]).

use std::time::Duration;

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::{Config, Secret};
use crate::error::{Error, Result};

/// How long connecting to the upstream may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The header that names the user on whose behalf a request is forwarded.
pub const USER_HEADER: &str = "x-llms-user";

/// Headers that belong to one connection, never forwarded either way (RFC 9110 7.6.1),
/// with the caller's credentials (never the upstream's business) and the length, which
/// the client sets for what it sends.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "cookie",
];

/// The upstream server.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
    api_key: Option<Secret>,
    client: reqwest::Client,
}

impl Upstream {
    /// The upstream `config` names, if any.
    pub fn from_config(config: &Config) -> Result<Option<Self>> {
        let Some(base) = &config.upstream else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| Error::Internal(anyhow::anyhow!("building the upstream client: {e}")))?;
        Ok(Some(Self {
            base: base.clone(),
            api_key: config.upstream_api_key.clone(),
            client,
        }))
    }

    /// The upstream's base (with its `/v1`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The upstream address of `rest` (what follows `/v1/` here) with `query`.
    pub fn url(&self, rest: &str, query: Option<&str>) -> String {
        let mut url = format!("{}/{}", self.base, rest.trim_start_matches('/'));
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// The client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The headers sent upstream for a request with `incoming` headers made by
    /// `user_name`: the caller's, but for hop-by-hop ones (and those `Connection` names),
    /// `Authorization`, `Cookie` and `Host`; `Authorization: Bearer` of the upstream's own
    /// key when one is set; `X-LLMS-User`.
    pub fn request_headers(&self, incoming: &HeaderMap, user_name: &str) -> HeaderMap {
        let mut headers = without_hop_by_hop(incoming);
        headers.remove(USER_HEADER);
        if let Some(key) = &self.api_key {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", key.0)) {
                headers.insert(header::AUTHORIZATION, value);
            }
        }
        let user = HeaderValue::from_str(user_name).unwrap_or_else(|_| {
            HeaderValue::from_str(&crate::request::paths::url_encode(user_name))
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
        headers.insert(HeaderName::from_static(USER_HEADER), user);
        headers
    }
}

/// `headers` without the hop-by-hop ones, those `Connection` names, and the caller's
/// credentials.
pub fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name_text = name.as_str();
        if NOT_FORWARDED.contains(&name_text) || named.iter().any(|n| n == name_text) {
            continue;
        }
        kept.append(name.clone(), value.clone());
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(key: Option<&str>) -> Upstream {
        let mut config = Config::new("/tmp/h");
        config.upstream = Some("http://127.0.0.1:9/v1".into());
        config.upstream_api_key = key.map(|k| Secret(k.into()));
        Upstream::from_config(&config).unwrap().unwrap()
    }

    #[test]
    fn the_callers_credentials_and_hop_by_hop_headers_stay_behind() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer sk-llms-caller"),
            ("cookie", "llms-token=abc"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("host", "llms.example"),
            ("content-type", "application/json"),
            ("x-llms-user", "forged"),
            ("accept", "text/event-stream"),
        ] {
            incoming.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let sent = upstream(Some("sk-upstream")).request_headers(&incoming, "alice");
        assert_eq!(sent["authorization"], "Bearer sk-upstream");
        assert_eq!(sent["x-llms-user"], "alice");
        assert_eq!(sent["content-type"], "application/json");
        assert_eq!(sent["accept"], "text/event-stream");
        for gone in [
            "cookie",
            "connection",
            "x-private",
            "keep-alive",
            "transfer-encoding",
            "host",
        ] {
            assert!(sent.get(gone).is_none(), "{gone} forwarded");
        }
        assert_eq!(sent.get_all("x-llms-user").iter().count(), 1);
        let sent = upstream(None).request_headers(&incoming, "alice");
        assert!(
            sent.get("authorization").is_none(),
            "no key: no Authorization"
        );
    }

    #[test]
    fn addresses_keep_the_base_and_the_query() {
        let up = upstream(None);
        assert_eq!(
            up.url("chat/completions", None),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(
            up.url("/models", Some("a=1")),
            "http://127.0.0.1:9/v1/models?a=1"
        );
    }
}
