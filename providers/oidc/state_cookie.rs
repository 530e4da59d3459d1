//! The cookie that binds a sign-in through the OpenID Connect provider to the browser that
//! started it: the `state` (compared with the callback's), the `nonce` (compared with the ID
//! token's), the PKCE verifier (sent with the code, proving this browser started the flow)
//! and the local path to return to. `HttpOnly; SameSite=Lax`, ten minutes, one use.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::providers::external::FlowCookie;
use crate::request::paths::safe_next;

/// The cookie's name over plain HTTP.
pub const STATE_COOKIE: &str = "llms-oidc-state";

/// The cookie's name over HTTPS, with the `__Host-` prefix (Secure, `Path=/`, no Domain).
pub const SECURE_STATE_COOKIE: &str = "__Host-llms-oidc-state";

/// How long a started sign-in may take.
pub const STATE_MAX_AGE: Duration = Duration::from_secs(600);

/// Longest cookie value read back (the four fields are short).
const MAX_VALUE_LEN: usize = 4096;

/// What a started sign-in keeps in the browser.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct SavedFlow {
    /// The `state` sent to the issuer.
    pub(super) state: String,
    /// The `nonce` the ID token must carry.
    pub(super) nonce: String,
    /// The PKCE code verifier.
    pub(super) verifier: String,
    /// The local path to return to (checked again when read).
    pub(super) next: String,
}

impl std::fmt::Debug for SavedFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedFlow")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The flow's cookie.
const COOKIE: FlowCookie = FlowCookie {
    name: STATE_COOKIE,
    secure_name: SECURE_STATE_COOKIE,
    path: "/auth/oidc",
};

/// The cookie holding `flow`.
pub(super) fn state_cookie(flow: &SavedFlow, secure: bool) -> HeaderValue {
    let value = [&flow.state, &flow.nonce, &flow.verifier, &flow.next]
        .iter()
        .map(|field| URL_SAFE_NO_PAD.encode(field.as_bytes()))
        .collect::<Vec<_>>()
        .join(".");
    COOKIE.set(value, STATE_MAX_AGE, secure)
}

/// The cookie removed.
pub(super) fn cleared_state_cookie(secure: bool) -> HeaderValue {
    COOKIE.cleared(secure)
}

/// The flow this browser started, if its cookie is there and well-formed.
pub(super) fn read_state_cookie(headers: &HeaderMap, secure: bool) -> Option<SavedFlow> {
    let value = COOKIE.read(headers, secure)?;
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    let fields: Vec<String> = value
        .split('.')
        .map(|part| {
            let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
            String::from_utf8(bytes).ok()
        })
        .collect::<Option<_>>()?;
    let [state, nonce, verifier, next]: [String; 4] = fields.try_into().ok()?;
    if state.is_empty() || nonce.is_empty() || verifier.is_empty() {
        return None;
    }
    Some(SavedFlow {
        state,
        nonce,
        verifier,
        next: safe_next(Some(&next)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn flow(next: &str) -> SavedFlow {
        SavedFlow {
            state: "s".repeat(43),
            nonce: "n".repeat(43),
            verifier: "v".repeat(43),
            next: next.to_owned(),
        }
    }

    fn sent(set: &HeaderValue) -> HeaderMap {
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        headers
    }

    #[test]
    fn the_flow_round_trips_and_next_is_checked_again() {
        for secure in [false, true] {
            let set = state_cookie(&flow("/admin?x=1"), secure);
            let text = set.to_str().unwrap();
            assert!(
                text.contains("HttpOnly") && text.contains("SameSite=Lax"),
                "{text}"
            );
            assert_eq!(text.contains("Secure"), secure, "{text}");
            let read = read_state_cookie(&sent(&set), secure).unwrap();
            assert_eq!(read, flow("/admin?x=1"));
            assert!(read_state_cookie(&sent(&set), !secure).is_none());
            assert!(
                !format!("{read:?}").contains("sss"),
                "Debug hides the secrets"
            );
        }
        let forged = state_cookie(&flow("//evil.example"), false);
        assert_eq!(read_state_cookie(&sent(&forged), false).unwrap().next, "/");
    }

    #[test]
    fn malformed_cookies_are_no_flow() {
        for value in [
            "",
            "a.b.c",
            "!!!.a.b.c",
            "YQ.YQ.YQ.YQ.YQ",
            &"A".repeat(5000),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("{STATE_COOKIE}={value}")).unwrap(),
            );
            assert!(read_state_cookie(&headers, false).is_none(), "{value}");
        }
    }
}
