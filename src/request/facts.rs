//! [`RequestFacts`]: what the guard reads off a request once (the client, HTTPS, the
//! session cookie), for every handler and provider after it.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};

use crate::config::Config;
use crate::context::AuthContext;
use crate::request::client::{Client, ClientAddr};
use crate::request::cookies::session_key;
use crate::session::SessionKey;

/// The facts of one request, read once by the guard and kept in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts {
    /// Who is on the other end, and whether over HTTPS.
    pub client: Client,
    /// The key of the session the request's cookie names, when it holds a well-formed
    /// token (whether the session is live is the session store's to say).
    pub session: Option<SessionKey>,
}

impl RequestFacts {
    /// Reads the facts of `request` under `config`.
    pub fn read(request: &Parts, config: &Config) -> Self {
        Self {
            client: Client::of(request, config),
            session: session_key(&request.headers),
        }
    }

    /// The facts the guard kept for `request`, or read now when it did not run.
    pub fn of(request: &Parts, config: &Config) -> Self {
        request
            .extensions
            .get::<Self>()
            .copied()
            .unwrap_or_else(|| Self::read(request, config))
    }

    /// The client's address.
    pub fn client_addr(&self) -> ClientAddr {
        self.client.addr
    }

    /// The client's address as text, as `lastIp`, sessions, the throttle and the audit
    /// log keep it.
    pub fn client_ip(&self) -> String {
        self.client.addr.to_string()
    }

    /// Whether the request reached us over HTTPS (cookies get `Secure`).
    pub fn https(&self) -> bool {
        self.client.https
    }
}

impl<S> FromRequestParts<S> for RequestFacts
where
    AuthContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, AuthContext::from_ref(state).config()))
    }
}

/// Whether a request with this method and these headers is a browser asking for a page.
pub fn wants_html(method: &Method, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

/// The request's `User-Agent`, as sessions record it (empty when absent or not text).
pub fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
