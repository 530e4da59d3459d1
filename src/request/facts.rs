//! [`RequestFacts`]: what the guard reads off a request once (the client, HTTPS, the
//! session cookie), for every handler and provider after it.

use std::net::IpAddr;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};

use crate::config::Config;
use crate::context::AuthContext;
use crate::request::client::{Client, ClientAddr};
use crate::request::cookies::session_token;
use crate::session::{PresentedToken, SessionKey};

/// The facts of one request, read once by the guard and kept in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts {
    /// Who is on the other end, and whether over HTTPS.
    pub client: Client,
    /// The session token the request's cookie holds, when it is well-formed (whether its
    /// session is live is the session store's to say). [`RequestFacts::session`] gives its
    /// key.
    pub session_token: Option<PresentedToken>,
    /// The SHA-256 of what `Authorization: Bearer ...` presents, when it does: an API key,
    /// or something else (an unknown or malformed key costs what a known one does). Only
    /// the routes that take keys look at it.
    pub bearer: Option<[u8; 32]>,
}

impl RequestFacts {
    /// Reads the facts of `request` under `config`.
    pub fn read(request: &Parts, config: &Config) -> Self {
        Self::from_peer(&request.headers, Client::peer_of(request), config)
    }

    /// The facts of a request with these `headers` from the socket peer `peer`, under
    /// `config`: what a server that knows its peer reads before the request goes on.
    pub fn from_peer(headers: &HeaderMap, peer: Option<IpAddr>, config: &Config) -> Self {
        Self {
            client: Client::from_peer(headers, peer, config),
            session_token: session_token(headers),
            bearer: bearer_hash(headers),
        }
    }

    /// The key of the session the request's cookie names, if it holds a well-formed token
    /// (hashed now: ask once).
    pub fn session(&self) -> Option<SessionKey> {
        self.session_token.map(|token| token.key())
    }

    /// The facts kept in `request`'s extensions (the server reads them as a request comes
    /// in), or read now and kept there (a host app's router): what the guard starts from.
    pub(crate) fn keep(request: &mut Parts, config: &Config) -> Self {
        if let Some(facts) = request.extensions.get::<Self>() {
            return *facts;
        }
        let facts = Self::read(request, config);
        request.extensions.insert(facts);
        facts
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

/// The SHA-256 of the credential of an `Authorization: Bearer ...` header (the scheme in
/// any case; the first such header).
fn bearer_hash(headers: &HeaderMap) -> Option<[u8; 32]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, credential) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let credential = std::str::from_utf8(credential).ok()?.trim();
    Some(crate::keys::key_hash(credential))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_credential_is_hashed_whatever_it_is() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        let key = "sk-llms-0123456789012345678901234567890123456789012";
        assert_eq!(
            bearer_hash(&headers(&format!("Bearer {key}"))),
            Some(crate::keys::key_hash(key))
        );
        assert_eq!(
            bearer_hash(&headers(&format!("bearer  {key} "))),
            Some(crate::keys::key_hash(key))
        );
        assert_eq!(
            bearer_hash(&headers("Bearer x")),
            Some(crate::keys::key_hash("x"))
        );
        assert_eq!(bearer_hash(&headers(&format!("Basic {key}"))), None);
        assert_eq!(bearer_hash(&headers("Bearer")), None);
        assert_eq!(bearer_hash(&HeaderMap::new()), None);
    }
}
