//! What the providers that sign people in elsewhere (GitHub, OpenID Connect) share: the
//! short-lived cookie that binds a sign-in to the browser that started it, the answer of
//! their callback (a session and a redirect, a refusal page, or a fault, and the cookie
//! spent either way), a tidy version of what the other side sent, and how Manage Users
//! changes and removes the accounts they record.

use std::fmt;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use indexmap::IndexMap;
use serde::Deserialize;

use crate::accounts::{apply_change, AccountChange, AccountChanged, AccountFields};
use crate::error::{Error, Result};
use crate::request::cookies::session_cookie;
use crate::session::SessionToken;
use crate::stores::Sessions;
use crate::users::AccountRecord;

/// The cookie that binds a sign-in to the browser that started it: `HttpOnly;
/// SameSite=Lax` (the provider's redirect back is a top-level GET), on the provider's own
/// path over plain HTTP, and `__Host-`-prefixed on `/` over HTTPS (so a sibling subdomain
/// cannot plant one).
#[derive(Debug, Clone, Copy)]
pub struct FlowCookie {
    /// The name over plain HTTP.
    pub name: &'static str,
    /// The name over HTTPS.
    pub secure_name: &'static str,
    /// The path over plain HTTP (the start and callback routes are under it).
    pub path: &'static str,
}

impl FlowCookie {
    /// The name for a request made over HTTPS (`secure`) or not.
    pub fn name(&self, secure: bool) -> &'static str {
        if secure {
            self.secure_name
        } else {
            self.name
        }
    }

    fn build(&self, value: String, max_age: Duration, secure: bool) -> HeaderValue {
        let cookie = Cookie::build((self.name(secure), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path(if secure { "/" } else { self.path })
            .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
            .secure(secure)
            .build();
        HeaderValue::from_str(&cookie.to_string()).expect("base64 text is a valid header value")
    }

    /// The cookie holding `value` (URL-safe base64 text) for `max_age`.
    pub fn set(&self, value: String, max_age: Duration, secure: bool) -> HeaderValue {
        self.build(value, max_age, secure)
    }

    /// The cookie removed.
    pub fn cleared(&self, secure: bool) -> HeaderValue {
        self.build(String::new(), Duration::ZERO, secure)
    }

    /// The value this browser sent, if any.
    pub fn read(&self, headers: &HeaderMap, secure: bool) -> Option<String> {
        let name = self.name(secure);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(|c| c.ok())
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }
}

/// Why a callback stopped: a refusal the visitor sees (`R` makes its page), or a fault.
pub enum Stop<R> {
    /// Refused, with a page that says why.
    Refused(R),
    /// A server fault.
    Fault(Error),
}

impl<R> Stop<R> {
    /// The same stop, its refusal turned into `S` (its page, say).
    pub fn map_refusal<S>(self, f: impl FnOnce(R) -> S) -> Stop<S> {
        match self {
            Self::Refused(refusal) => Stop::Refused(f(refusal)),
            Self::Fault(err) => Stop::Fault(err),
        }
    }
}

impl<R> From<Error> for Stop<R> {
    fn from(err: Error) -> Self {
        Self::Fault(err)
    }
}

/// The answer of a callback: to `next` with the new session's cookie, the refusal's page,
/// or the fault; and the flow's cookie spent (`cleared`), whatever happened.
pub fn callback_answer<R: IntoResponse>(
    outcome: std::result::Result<(SessionToken, String), Stop<R>>,
    secure: bool,
    cleared: HeaderValue,
) -> Response {
    let mut response = match outcome {
        Ok((token, next)) => {
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&token, secure));
            response
        }
        Err(Stop::Refused(refusal)) => refusal.into_response(),
        Err(Stop::Fault(err)) => err.into_response(),
    };
    response.headers_mut().append(header::SET_COOKIE, cleared);
    response
}

/// The query a provider sends the browser back with. `Debug` never shows the code (worth
/// a token) or the state (this browser's secret).
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("CallbackQuery")
            .field("code", &redacted(&self.code))
            .field("state", &redacted(&self.state))
            .field("error", &self.error)
            .finish()
    }
}

/// What a callback query does not carry.
#[derive(Debug, PartialEq, Eq)]
pub enum NoCode {
    /// The provider says why (tidied): the visitor declined, say.
    Declined(String),
    /// No code or state, or one longer than a provider sends.
    Incomplete,
}

impl CallbackQuery {
    /// The code and the state, each non-empty and at most `max_len` bytes.
    pub fn code_and_state(self, max_len: usize) -> std::result::Result<(String, String), NoCode> {
        let nonblank = |v: Option<String>| v.filter(|v| !v.is_empty());
        let (Some(code), Some(state)) = (nonblank(self.code), nonblank(self.state)) else {
            return Err(match nonblank(self.error) {
                Some(error) => NoCode::Declined(tidy(&error)),
                None => NoCode::Incomplete,
            });
        };
        if code.len() > max_len || state.len() > max_len {
            return Err(NoCode::Incomplete);
        }
        Ok((code, state))
    }
}

/// Keeps only a short run of harmless characters of a value the other side (or whoever
/// crafted the link) sent, for pages and logs.
pub fn tidy(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
        .take(64)
        .collect()
}

/// Applies an admin's `change` to the recorded account `name` of `provider` (inside its
/// store's locked write): no password here; `admin_setting` names the setting that makes
/// the account an Admin, if one does. Its sessions end when the change says so.
/// `Ok(None)`: no such account.
pub fn change_record<V>(
    records: &mut IndexMap<String, V>,
    sessions: &Sessions,
    provider: &str,
    name: &str,
    change: AccountChange,
    record: fn(&mut V) -> &mut AccountRecord,
    admin_setting: Option<&str>,
) -> Result<Option<Vec<AccountChanged>>> {
    let Some(entry) = records.get_mut(name) else {
        return Ok(None);
    };
    let fields = AccountFields::of(record(entry), None, admin_setting);
    let applied = apply_change(name, fields, None, change.roles, change.lock)?;
    if applied.ends_sessions {
        sessions.remove_user(provider, name, None)?;
    }
    Ok(Some(applied.changes))
}

/// Removes the recorded account `name` of `provider` and ends its sessions (inside its
/// store's locked write). `Ok(false)`: no such account.
pub fn remove_record<V>(
    records: &mut IndexMap<String, V>,
    sessions: &Sessions,
    provider: &str,
    name: &str,
) -> Result<bool> {
    if records.shift_remove(name).is_none() {
        return Ok(false);
    }
    sessions.remove_user(provider, name, None)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOKIE: FlowCookie = FlowCookie {
        name: "llms-test-state",
        secure_name: "__Host-llms-test-state",
        path: "/auth/test",
    };

    #[test]
    fn the_cookie_is_bound_to_its_scheme_and_path() {
        for secure in [false, true] {
            let set = COOKIE.set("abc".into(), Duration::from_secs(600), secure);
            let text = set.to_str().unwrap();
            assert!(
                text.contains("HttpOnly") && text.contains("SameSite=Lax"),
                "{text}"
            );
            assert!(text.contains("Max-Age=600"), "{text}");
            assert_eq!(text.contains("Secure"), secure, "{text}");
            assert!(
                text.contains(if secure { "Path=/;" } else { "Path=/auth/test" }),
                "{text}"
            );
            let pair = text.split(';').next().unwrap();
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
            assert_eq!(COOKIE.read(&headers, secure).as_deref(), Some("abc"));
            assert_eq!(
                COOKIE.read(&headers, !secure),
                None,
                "the other scheme's name"
            );
            assert!(COOKIE
                .cleared(secure)
                .to_str()
                .unwrap()
                .contains("Max-Age=0"));
        }
    }

    fn query(code: Option<&str>, state: Option<&str>, error: Option<&str>) -> CallbackQuery {
        CallbackQuery {
            code: code.map(str::to_owned),
            state: state.map(str::to_owned),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_callback_carries_a_code_and_a_state_or_says_why_not() {
        assert_eq!(
            query(Some("c"), Some("s"), None).code_and_state(8),
            Ok(("c".into(), "s".into()))
        );
        assert_eq!(
            query(None, Some("s"), Some("access_denied<b>")).code_and_state(8),
            Err(NoCode::Declined("access_deniedb".into()))
        );
        assert_eq!(
            query(Some(""), Some("s"), None).code_and_state(8),
            Err(NoCode::Incomplete)
        );
        assert_eq!(
            query(Some(&"c".repeat(9)), Some("s"), None).code_and_state(8),
            Err(NoCode::Incomplete)
        );
        let shown = format!("{:?}", query(Some("code-0123"), Some("state-9876"), None));
        assert!(
            !shown.contains("code-0123") && !shown.contains("state-9876"),
            "{shown}"
        );
    }

    #[test]
    fn tidy_keeps_harmless_characters() {
        assert_eq!(tidy("access_denied<script>"), "access_deniedscript");
        assert_eq!(tidy(&"x".repeat(100)).len(), 64);
    }
}
