//! The session cookie: finding the session's key in a request's cookies, and the
//! `Set-Cookie` values that start and clear it.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

use crate::config::SESSION_MAX_AGE;
use crate::session::{PresentedToken, SessionKey, SessionToken, COOKIE_NAME};

/// The key of the session token in the request's cookies, if any: the value of the first
/// `llms-token` cookie, when it is a well-formed token.
///
/// Cookies are split on `;` and trimmed the way the `cookie` crate does (a test holds the
/// two together); this scan runs on every request and allocates nothing.
pub fn session_key(headers: &HeaderMap) -> Option<SessionKey> {
    session_token(headers).map(|token| token.key())
}

/// The session token in the request's cookies, if any, as [`session_key`] finds it, not
/// yet hashed.
pub fn session_token(headers: &HeaderMap) -> Option<PresentedToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == COOKIE_NAME).then_some(value)
        })
        .and_then(|value| PresentedToken::parse(unquote(value.trim())))
}

/// A cookie value without the double quotes that may surround it.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The session cookie for `token`.
pub fn session_cookie(token: &SessionToken, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE_NAME, token.expose().to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(
            SESSION_MAX_AGE.as_secs() as i64
        ))
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a token is a valid header value")
}

/// A cookie that clears the session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE_NAME, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("static cookie is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header::COOKIE, line.parse().unwrap());
        }
        headers
    }

    /// What the `cookie` crate makes of the same headers: the reference for `session_key`.
    fn key_by_cookie_crate(headers: &HeaderMap) -> Option<SessionKey> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(|c| c.ok())
            .find(|c| c.name() == COOKIE_NAME)
            .and_then(|c| SessionToken::key_of(c.value()))
    }

    #[test]
    fn session_key_reads_the_first_llms_token_cookie() {
        let token = SessionToken::generate();
        let t = token.expose();
        let key = Some(token.key());
        for lines in [
            vec![format!("llms-token={t}")],
            vec![format!("a=1; llms-token={t}; b=2")],
            vec![format!("  llms-token = {t} ;")],
            vec![format!("llms-token=\"{t}\"")],
            vec!["a=1".to_owned(), format!("llms-token={t}")],
            vec![format!("llms-token={t}"), "llms-token=other".to_owned()],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(session_key(&cookie_headers(&lines)), key, "{lines:?}");
        }
        for lines in [
            vec![String::new()],
            vec![format!("xllms-token={t}")],
            vec![format!("llms-token={t}x")],
            vec![format!("llms-token=../{}", &t[3..])],
            // The first llms-token cookie counts, even when it is no token.
            vec![format!("llms-token=bad; llms-token={t}")],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(session_key(&cookie_headers(&lines)), None, "{lines:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the Cookie headers hold, the hand-written scan finds the same session
        /// as the `cookie` crate.
        #[test]
        fn session_key_agrees_with_the_cookie_crate(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[ \t;=,\"a-zé-]{0,12}").unwrap(),
                    proptest::strategy::Just("llms-token".to_owned()),
                    proptest::strategy::Just(
                        "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg".to_owned()
                    ),
                ],
                0..12,
            ),
            split in 0usize..3,
        ) {
            let text = parts.concat();
            let lines: Vec<&str> = match split {
                0 => vec![text.as_str()],
                _ => text.splitn(split + 1, ',').collect(),
            };
            let headers = cookie_headers(&lines);
            proptest::prop_assert_eq!(session_key(&headers), key_by_cookie_crate(&headers));
        }
    }
}
