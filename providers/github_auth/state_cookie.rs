//! The state cookie: binds a sign-in with GitHub to the browser that started it, and
//! carries the local path to return to.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::providers::external::FlowCookie;
use crate::request::paths::safe_next;

/// The cookie that binds a sign-in to the browser that started it (plain HTTP).
pub const STATE_COOKIE: &str = "llms-github-state";

/// The same cookie over HTTPS, with the `__Host-` prefix (Secure, `Path=/`, no Domain), so
/// a sibling subdomain cannot plant one.
pub const SECURE_STATE_COOKIE: &str = "__Host-llms-github-state";

/// How long a started sign-in may take.
pub const STATE_MAX_AGE: Duration = Duration::from_secs(600);

/// Length of a state value: 32 random bytes in URL-safe base64.
const STATE_LEN: usize = 43;

/// A fresh random state value (32 bytes, URL-safe base64).
pub(super) fn new_state() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The flow's cookie.
const COOKIE: FlowCookie = FlowCookie {
    name: STATE_COOKIE,
    secure_name: SECURE_STATE_COOKIE,
    path: "/auth/github",
};

/// The cookie holding `state` and the (already checked) path to return to.
pub(super) fn state_cookie(state: &str, next: &str, secure: bool) -> HeaderValue {
    let value = format!("{state}.{}", URL_SAFE_NO_PAD.encode(next));
    COOKIE.set(value, STATE_MAX_AGE, secure)
}

pub(super) fn cleared_state_cookie(secure: bool) -> HeaderValue {
    COOKIE.cleared(secure)
}

/// What the state cookie holds.
pub(super) struct SavedState {
    pub(super) state: String,
    pub(super) next: String,
}

pub(super) fn read_state_cookie(headers: &HeaderMap, secure: bool) -> Option<SavedState> {
    let value = COOKIE.read(headers, secure)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

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
}
