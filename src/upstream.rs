//! The OpenAI-compatible server behind the gateway (`--upstream URL`): its base and the
//! HTTP client that talks to it (hyper's, HTTP/1.1 over TCP or TLS), connections kept and
//! reused, no redirect followed, and no total time limit (a stream of tokens may last as
//! long as it lasts; connecting may take at most [`CONNECT_TIMEOUT`]).
//!
//! The gateway hands the client the caller's request as it came, headers edited in place
//! and body unread, and hands the caller the upstream's answer the same way: nothing is
//! parsed twice and no body is collected.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::Config;
use crate::error::{Error, Result};

/// How long connecting to the upstream may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an unused connection to the upstream is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The header that names the user on whose behalf a request is forwarded.
pub const USER_HEADER: &str = "x-llms-user";

/// Headers that belong to one connection, never forwarded either way (RFC 9110 7.6.1),
/// with the caller's credentials (never the upstream's business) and `Host`, which the
/// client sets for the upstream.
const NOT_FORWARDED: [HeaderName; 12] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::AUTHORIZATION,
    header::COOKIE,
];

/// What is sent upstream: the caller's body as it arrives, or one read whole.
pub type OutgoingBody = UnsyncBoxBody<Bytes, axum::BoxError>;

/// The upstream's answer, its body unread.
pub type Answer = Response<hyper::body::Incoming>;

/// Why a request to the upstream failed.
pub type SendError = hyper_util::client::legacy::Error;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The upstream server.
#[derive(Clone)]
pub struct Upstream {
    base: Arc<str>,
    authorization: Option<HeaderValue>,
    client: Client<Connector, OutgoingBody>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// The upstream `config` names, if any.
    pub fn from_config(config: &Config) -> Result<Option<Self>> {
        let Some(base) = &config.upstream else {
            return Ok(None);
        };
        let authorization = match &config.upstream_api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.0)).map_err(|_| {
                    Error::Config(
                        "LLMS_UPSTREAM_API_KEY: not a key that fits in a header (no line breaks or control characters)".into(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Ok(Some(Self {
            base: base.as_str().into(),
            authorization,
            client,
        }))
    }

    /// The upstream's base (with its `/v1`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The upstream address of `rest` (what follows `/v1/` here) with `query`.
    pub fn uri(&self, rest: &str, query: Option<&str>) -> Result<Uri> {
        let rest = rest.trim_start_matches('/');
        let mut uri =
            String::with_capacity(self.base.len() + rest.len() + 2 + query.map_or(0, str::len));
        uri.push_str(&self.base);
        uri.push('/');
        uri.push_str(rest);
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(query);
        }
        Uri::try_from(uri).map_err(|_| Error::bad_request("This path cannot be forwarded."))
    }

    /// Edits the caller's `headers` into those sent upstream for `user_name`: hop-by-hop
    /// ones (and those `Connection` names), `Authorization`, `Cookie` and `Host` removed;
    /// `Authorization: Bearer` of the upstream's own key when one is set; `X-LLMS-User`.
    pub fn prepare_headers(&self, headers: &mut HeaderMap, user_name: &str) {
        remove_hop_by_hop(headers);
        if let Some(value) = &self.authorization {
            headers.insert(header::AUTHORIZATION, value.clone());
        }
        let user = HeaderValue::from_str(user_name).unwrap_or_else(|_| {
            HeaderValue::from_str(&crate::request::paths::url_encode(user_name))
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
        headers.insert(HeaderName::from_static(USER_HEADER), user);
    }

    /// Sends `request` upstream; the answer arrives as soon as its head does.
    pub async fn send(
        &self,
        request: Request<OutgoingBody>,
    ) -> std::result::Result<Answer, SendError> {
        self.client.request(request).await
    }
}

/// The roots and protocol versions of TLS to an `https://` upstream: the Mozilla roots
/// (webpki-roots), ring as the provider, TLS 1.2 and 1.3.
fn tls_config() -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(anyhow::anyhow!("TLS for the upstream: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Removes from `headers` the hop-by-hop ones, those `Connection` names, the caller's
/// credentials and `Host`. Only the headers present are looked at (a request or an answer
/// has a handful, and two or three of them go), with no allocation unless `Connection`
/// names some.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in &named {
        headers.remove(name);
    }
    while let Some(name) = headers
        .keys()
        .find(|name| NOT_FORWARDED.contains(name))
        .cloned()
    {
        headers.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn upstream(key: Option<&str>) -> Upstream {
        let mut config = Config::new("/tmp/h");
        config.upstream = Some("http://127.0.0.1:9/v1".into());
        config.upstream_api_key = key.map(|k| Secret(k.into()));
        Upstream::from_config(&config).unwrap().unwrap()
    }

    fn incoming() -> HeaderMap {
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
        incoming
    }

    #[tokio::test]
    async fn the_callers_credentials_and_hop_by_hop_headers_stay_behind() {
        let mut sent = incoming();
        upstream(Some("sk-upstream")).prepare_headers(&mut sent, "alice");
        assert_eq!(sent["authorization"], "Bearer sk-upstream");
        assert!(sent["authorization"].is_sensitive());
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
        let mut sent = incoming();
        upstream(None).prepare_headers(&mut sent, "alice");
        assert!(
            sent.get("authorization").is_none(),
            "no key: no Authorization"
        );
        assert!(!format!("{:?}", upstream(Some("sk-upstream"))).contains("sk-upstream"));
    }

    #[tokio::test]
    async fn addresses_keep_the_base_and_the_query() {
        let up = upstream(None);
        assert_eq!(
            up.uri("chat/completions", None).unwrap(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(
            up.uri("/models", Some("a=1")).unwrap(),
            "http://127.0.0.1:9/v1/models?a=1"
        );
    }

    #[test]
    fn an_upstream_key_that_is_no_header_is_a_configuration_error() {
        let mut config = Config::new("/tmp/h");
        config.upstream = Some("http://127.0.0.1:9/v1".into());
        config.upstream_api_key = Some(Secret("sk-a\nb".into()));
        let err = Upstream::from_config(&config).unwrap_err().to_string();
        assert!(err.starts_with("LLMS_UPSTREAM_API_KEY: "), "{err}");
        assert!(!err.contains("sk-a"));
    }
}
