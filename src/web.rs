//! The HTTP surface: the auth router, the deny-by-default guard, and the request defences
//! (host check, cross-site refusal, JSON content type, body limits and deadline, response
//! headers).

pub mod account;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod deadline;
pub mod extract;
pub mod json;
pub mod pages;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use std::net::Ipv4Addr;
use tower::util::MapRequestLayer;

use crate::avatar::AVATAR_LIMIT;
use crate::config::{host_name, Config};
use crate::error::Error;
use crate::extract::{identity, AuthRejection};
use crate::provider::Identity;
use crate::state::AuthState;

/// Largest JSON body accepted.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Paths reachable without a session (exact, or prefixes ending in `/`).
const PUBLIC_PATHS: &[&str] = &[
    "/login",
    "/config",
    "/auth/login",
    "/auth/logout",
    "/assets/",
    "/favicon.ico",
];

/// The auth extension's routes (API, pages, assets and the selected provider's own
/// routes), ready to merge into a host app. Wrap the whole app with [`protect`] so that
/// every route is denied by default.
///
/// Request bodies are bounded in size ([`JSON_BODY_LIMIT`], [`AVATAR_LIMIT`]) and in time:
/// a body still arriving [`Config::body_timeout`] after the request reached these routes
/// is refused with 408 ([`deadline`]).
pub fn router<S>(state: AuthState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let avatar_upload =
        post(account::upload_avatar).layer(DefaultBodyLimit::max(AVATAR_LIMIT + 64 * 1024));
    let body_timeout = state.config().body_timeout;
    Router::new()
        .route("/config", get(auth::show_config))
        .route("/auth", get(auth::show_session_user))
        .route("/auth/logout", post(auth::submit_sign_out))
        .route(
            "/admin/users",
            get(admin::list_users)
                .post(admin::create_user)
                .put(admin::update_user),
        )
        .route("/admin/users/{name}", delete(admin::delete_user))
        .route("/account/change-password", post(account::change_password))
        .route("/user/avatar", avatar_upload)
        .route("/avatar/user", get(account::show_avatar))
        .route("/login", get(pages::show_sign_in))
        .route("/admin", get(pages::show_admin))
        .route("/admin/table", get(pages::show_admin_table))
        .route("/account", get(pages::show_account))
        .nest("/assets", assets::router())
        .merge(state.provider().routes())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(MapRequestLayer::new(move |request| {
            deadline::with_deadline(request, body_timeout)
        }))
        .with_state(state)
}

/// Wraps `app` in the guard: requests to anything not declared public need a session, and
/// state-changing requests from other sites are refused.
pub fn protect<S>(app: Router<S>, state: AuthState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(middleware::from_fn_with_state(state, guard))
}

fn is_public(path: &str, extra: &[String]) -> bool {
    let matches = |p: &str| {
        if p.ends_with('/') {
            path.starts_with(p)
        } else {
            path == p
        }
    };
    PUBLIC_PATHS.iter().any(|p| matches(p)) || extra.iter().any(|p| matches(p))
}

/// Whether a state-changing request comes from another site.
/// A same-site request's `Origin` names this server: the `Host` it was sent to or, behind
/// a trusted proxy, the `X-Forwarded-Host` the browser used.
fn is_cross_site(request: &axum::http::request::Parts, behind_trusted_proxy: bool) -> bool {
    let headers = &request.headers;
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(authority) = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    }) else {
        return true;
    };
    let named = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|host| authority.eq_ignore_ascii_case(host.trim()))
    };
    let forwarded =
        behind_trusted_proxy && named(header::HeaderName::from_static("x-forwarded-host"));
    !(named(header::HOST) || forwarded)
}

/// Whether a request addressed to `authority` may be served.
///
/// A page on `attacker.example` whose DNS name is re-pointed at 127.0.0.1 ("DNS rebinding")
/// reaches a loopback server as a same-origin page: its `Origin` and `Host` both say
/// `attacker.example`, so the cross-site check passes. While the server listens only on
/// loopback, it therefore answers only to `localhost`, to IP addresses, and to the names
/// in `LLMS_ALLOWED_HOSTS`. An IP address is safe: a browser sends one only when the page's
/// own URL names that address, so the page is this server's. When the server listens
/// beyond loopback, every name is served unless `LLMS_ALLOWED_HOSTS` lists some.
fn host_allowed(config: &Config, authority: &str) -> bool {
    if !config.loopback_only && config.allowed_hosts.is_empty() {
        return true;
    }
    let Some(name) = host_name(authority) else {
        return false;
    };
    name == "localhost"
        || name.starts_with('[')
        || name.parse::<Ipv4Addr>().is_ok()
        || config.allowed_hosts.contains(&name)
}

/// Refuses a request addressed to a host this server does not answer to ([`host_allowed`]).
///
/// Both the request target's authority (HTTP/1.1 absolute form, HTTP/2 `:authority`) and
/// the `Host` header are checked when present. A request with neither is served: browsers
/// always send `Host` (scripts cannot remove it), so such a request is not from a web page,
/// and a program that talks to the socket directly could name any host anyway. The
/// in-process tests, whose requests carry no `Host`, rely on this.
fn check_host(config: &Config, request: &axum::http::request::Parts) -> Result<(), Error> {
    let headers: Vec<&HeaderValue> = request.headers.get_all(header::HOST).iter().collect();
    let authority = request.uri.authority().map(|a| a.as_str());
    let allowed = match headers.as_slice() {
        [] => true,
        // Not text: no host this server answers to.
        [value] => value.to_str().is_ok_and(|host| host_allowed(config, host)),
        // Two `Host` headers are ambiguous: refused whenever names are checked at all.
        _ => host_allowed(config, ""),
    } && authority.is_none_or(|host| host_allowed(config, host));
    if allowed {
        return Ok(());
    }
    tracing::debug!(?headers, ?authority, "request for an unknown host refused");
    Err(Error::MisdirectedRequest(
        "This server does not answer to that host name; list it in LLMS_ALLOWED_HOSTS to allow it"
            .into(),
    ))
}

async fn guard(State(state): State<AuthState>, request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = check_and_run(state, request, next).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn check_and_run(state: AuthState, request: Request, next: Next) -> Response {
    let safe_method = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let (mut parts, body) = request.into_parts();
    if let Err(refused) = check_host(state.config(), &parts) {
        return refused.into_response();
    }
    if !safe_method && is_cross_site(&parts, state.is_from_trusted_proxy(&parts)) {
        return Error::Forbidden("Cross-site request refused".into()).into_response();
    }
    let public = is_public(parts.uri.path(), &state.provider().public_paths());
    if !public {
        match identity(&state, &mut parts).await {
            Ok(Identity::User(_)) => {}
            Ok(Identity::Anonymous) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_else(|| "/".into());
                return AuthRejection::SignInRequired {
                    wants_html: crate::extract::wants_html(&parts),
                    next,
                }
                .into_response();
            }
            Err(err) => return err.into_response(),
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// A local path to return to after signing in: same-site absolute paths only.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `/login?next=...` for a path to come back to.
pub fn sign_in_url(next: &str) -> String {
    let next = safe_next(Some(next));
    if next == "/" {
        "/login".to_owned()
    } else {
        let encoded: String = url_encode(&next);
        format!("/login?next={encoded}")
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_same_site_only() {
        assert_eq!(safe_next(Some("/admin?x=1")), "/admin?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn sign_in_url_encodes_next() {
        assert_eq!(sign_in_url("/"), "/login");
        assert_eq!(
            sign_in_url("/admin?a=1&b=2"),
            "/login?next=/admin%3Fa%3D1%26b%3D2"
        );
        assert_eq!(sign_in_url("//evil"), "/login");
    }

    #[test]
    fn loopback_servers_answer_to_loopback_names_addresses_and_the_list() {
        let mut config = Config::new("/tmp/h");
        config.allowed_hosts = vec!["llms.example.com".into()];
        for ok in [
            "localhost:8000",
            "127.0.0.1",
            "127.0.0.2:1",
            "[::1]:8000",
            "192.0.2.7",
            "LLMS.example.com:443",
        ] {
            assert!(host_allowed(&config, ok), "{ok}");
        }
        for refused in [
            "attacker.example",
            "attacker.example:8000",
            "localhost.attacker.example",
            "1.2.3.4.nip.io",
            "llms.example.com.evil",
            "a b",
        ] {
            assert!(!host_allowed(&config, refused), "{refused}");
        }
        config.loopback_only = false;
        assert!(!host_allowed(&config, "attacker.example"));
        config.allowed_hosts.clear();
        assert!(host_allowed(&config, "attacker.example"));
    }

    #[test]
    fn public_paths() {
        assert!(is_public("/login", &[]));
        assert!(is_public("/assets/app.css", &[]));
        assert!(!is_public("/login/x", &[]));
        assert!(!is_public("/admin", &[]));
        assert!(is_public("/auth/github", &["/auth/github".into()]));
    }
}
