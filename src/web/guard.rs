//! The guard around every route: the host check, the facts of the request read once, the
//! cross-site refusal, deny by default (a session unless the path is public), and the
//! response headers every answer carries.

use std::future::Future;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::extract::{resolved_identity, AuthRejection};
use super::gateway::{is_gateway_path, openai_response};
use super::origin::{check_host, is_cross_site};
use crate::error::{Error, ErrorPage};
use crate::identity::Identity;
use crate::request::facts::wants_html;
use crate::request::paths::sign_in_url;
use crate::request::RequestFacts;
use crate::state::{AuthState, KeyIdentity};
use crate::views::error_page;

/// Paths reachable without a session (exact, or prefixes ending in `/`), besides the ones
/// the selected providers declare.
const PUBLIC_PATHS: &[&str] = &[
    "/login",
    "/config",
    "/auth/login",
    "/auth/logout",
    "/auth/reset",
    "/reset",
    "/assets/",
    "/favicon.ico",
];

/// Whether `path` is reachable without a session: listed in [`PUBLIC_PATHS`] or in
/// `extra`, exactly, or under a listed prefix that ends in `/`.
pub(super) fn is_public(path: &str, extra: &[String]) -> bool {
    let matches = |p: &str| {
        if p.ends_with('/') {
            path.starts_with(p)
        } else {
            path == p
        }
    };
    PUBLIC_PATHS.iter().any(|p| matches(p)) || extra.iter().any(|p| matches(p))
}

/// Whether a user who must change their password may make this request (SPEC 12): who
/// they are, signing out, and changing the password. (The sign-in page, public, shows
/// them the form.)
fn open_before_password_change(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => path == "/auth",
        Method::POST => path == "/account/change-password" || path == "/auth/logout",
        _ => false,
    }
}

/// The refusal of a request by a user who must change their password first: a page
/// request goes to the sign-in page, which shows the change-password form; the API says
/// 403 `Password change required`.
fn password_change_first(parts: &Parts, refuse: impl Fn(Error) -> Response) -> Option<Response> {
    if open_before_password_change(&parts.method, parts.uri.path()) {
        return None;
    }
    if wants_html(&parts.method, &parts.headers) {
        let next = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        return Some(Redirect::to(&sign_in_url(next)).into_response());
    }
    Some(refuse(Error::PasswordChangeRequired))
}

/// The guard middleware (see [`crate::protect`]).
pub(super) async fn guard(
    State(state): State<AuthState>,
    request: Request,
    next: Next,
) -> Response {
    guarded(state, request, |request| next.run(request)).await
}

/// Runs `inner` on `request` when the guard admits it ([`admit`]), and gives the answer,
/// admitted or refused, the headers every answer carries. The middleware around the
/// router, and the server's way to the gateway that skips the router, are both this.
pub(super) fn guarded<F, Fut>(
    state: AuthState,
    request: Request,
    inner: F,
) -> impl Future<Output = Response>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let is_asset = request.uri().path().starts_with("/assets/");
    let page_wanted = wants_html(request.method(), request.headers());
    // Taken apart before the future is made, which then holds the head and the body, not
    // the request besides. The checks borrow the head: their future holds no copy of it.
    let (mut parts, body) = request.into_parts();
    async move {
        let mut response = match admit(&state, &mut parts).await {
            Ok(()) => inner(Request::from_parts(parts, body)).await,
            Err(refusal) => refusal,
        };
        if page_wanted {
            response = as_page(response);
        }
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
}

/// A browser asking for a page gets an error as a styled page, never the API's JSON: the
/// status and headers stay (a `Retry-After`, say), the body becomes the page.
fn as_page(response: Response) -> Response {
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let body = error_page(page.title, &page.message).into_string();
    Response::from_parts(parts, body.into())
}

/// The guard's checks: the host, the request's facts (kept in its extensions), the
/// cross-site refusal, and who it is: an API key where keys are taken, else a session
/// unless the path is public. The request goes on, or its refusal comes back.
async fn admit(state: &AuthState, parts: &mut Parts) -> Result<(), Response> {
    let safe_method = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // The gateway's refusals are in OpenAI's shape, for SDKs to show; the rest in ours.
    let gateway = is_gateway_path(parts.uri.path());
    let refuse = |error: Error| {
        if gateway {
            openai_response(error)
        } else {
            error.into_response()
        }
    };
    if let Err(refused) = check_host(state.config(), parts) {
        return Err(refuse(refused));
    }
    let facts = RequestFacts::keep(parts, state.config());
    if !safe_method && is_cross_site(parts, &facts) {
        return Err(refuse(Error::Forbidden(
            "Cross-site request refused".into(),
        )));
    }
    // An API key is taken by the gateway and `GET /auth` only: everywhere else it is
    // ignored, so a leaked key cannot manage users or keys.
    let takes_keys = gateway || (parts.method == Method::GET && parts.uri.path() == "/auth");
    if let (true, Some(hash)) = (takes_keys, facts.bearer) {
        match state.identify_key(hash).await {
            Ok(KeyIdentity::User(user, grant)) => {
                if let Some(refusal) = user
                    .must_change_password
                    .then(|| password_change_first(parts, refuse))
                    .flatten()
                {
                    return Err(refusal);
                }
                parts.extensions.insert(Identity::User(user));
                if let Some(grant) = grant {
                    parts.extensions.insert(grant);
                }
            }
            Ok(KeyIdentity::Refused(error)) | Err(error) => return Err(refuse(error)),
        }
    } else if !is_public(parts.uri.path(), state.provider_public_paths()) {
        let must_change = match resolved_identity(state, parts).await {
            Ok(Identity::User(user)) => Ok(Some(user.must_change_password)),
            Ok(Identity::Anonymous) => Ok(None),
            Err(err) => Err(err),
        };
        match must_change {
            Ok(Some(true)) => {
                if let Some(refusal) = password_change_first(parts, refuse) {
                    return Err(refusal);
                }
            }
            Ok(Some(false)) => {}
            // A cookie that names no live session: say so, not "send a key".
            Ok(None) if gateway && facts.session_token.is_some() => {
                return Err(refuse(Error::KeyRefused(
                    "Your session has ended: sign in again, or send an API key.",
                )))
            }
            Ok(None) if gateway => return Err(refuse(Error::Unauthorized)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_else(|| "/".into());
                return Err(AuthRejection::SignInRequired {
                    wants_html: wants_html(&parts.method, &parts.headers),
                    next,
                }
                .into_response());
            }
            Err(err) => return Err(refuse(err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        assert!(is_public("/login", &[]));
        assert!(is_public("/assets/app.css", &[]));
        assert!(!is_public("/login/x", &[]));
        assert!(!is_public("/admin", &[]));
        assert!(is_public("/auth/github", &["/auth/github".into()]));
    }
}
