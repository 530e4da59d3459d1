//! The HTTP surface: the auth router with its API, pages and assets and the selected
//! providers' own routes, and the deny-by-default guard ([`protect`]).
//!
//! A request's path from the socket: the guard ([`guard`]: host check, request facts,
//! cross-site refusal, identity unless public), then the body limits and deadline, then a
//! handler that names the user with [`extract`]'s extractors.

pub mod account;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod extract;
pub mod gateway;
mod guard;
pub mod keys;
mod origin;
pub mod pages;
pub mod sessions;
pub mod two_factor;

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use futures_util::FutureExt;
use tower::util::MapRequestLayer;
use tower::{Layer, ServiceExt};

use crate::avatar::AVATAR_LIMIT;
use crate::request::deadline;
use crate::state::AuthState;

/// Largest JSON body accepted.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The auth extension's routes (API, pages, assets and the selected providers' own
/// routes), ready to merge into a host app. Wrap the whole app with [`protect`] so that
/// every route is denied by default.
///
/// Request bodies are bounded in size ([`JSON_BODY_LIMIT`], [`AVATAR_LIMIT`]) and in time:
/// a body still arriving [`Config::body_timeout`](crate::Config::body_timeout) after the
/// request reached these routes is refused with 408.
pub fn router<S>(state: AuthState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let body_timeout = state.config().body_timeout;
    let body_deadline =
        MapRequestLayer::new(move |request| deadline::with_deadline(request, body_timeout));
    routes(&state)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(body_deadline.clone())
        // The gateway bounds its bodies' size itself, as in [`serve_gateway`].
        .merge(gateway::router().route_layer(body_deadline))
        .with_state(state)
}

/// The routes of [`router`] but the gateway's, without the body limit and deadline that
/// [`router`] gives each of them and [`ServerApp`] gives all of them at once.
fn routes(state: &AuthState) -> Router<AuthState> {
    let avatar_upload =
        post(account::upload_avatar).layer(DefaultBodyLimit::max(AVATAR_LIMIT + 64 * 1024));
    let providers = state
        .providers()
        .iter()
        .fold(Router::new(), |routes, provider| {
            routes.merge(provider.routes())
        })
        .with_state(state.context().clone());
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
        .route(
            "/account/2fa",
            post(two_factor::begin).delete(two_factor::disable),
        )
        .route("/account/2fa/confirm", post(two_factor::confirm))
        .route("/admin/users/{name}/2fa", delete(two_factor::reset))
        .route(
            "/admin/users/{name}/reset-link",
            post(admin::create_reset_link),
        )
        .route(
            "/account/keys",
            get(keys::list_own_keys).post(keys::create_key),
        )
        .route("/account/keys/{id}", delete(keys::remove_key))
        .route("/account/sessions", get(sessions::list_own_sessions))
        .route(
            "/account/sessions/revoke-others",
            post(sessions::revoke_other_sessions),
        )
        .route(
            "/account/sessions/{id}",
            delete(sessions::remove_own_session),
        )
        .route(
            "/admin/users/{name}/sessions",
            get(sessions::list_user_sessions).delete(sessions::remove_user_sessions),
        )
        .route(
            "/admin/users/{name}/sessions/{id}",
            delete(sessions::remove_user_session),
        )
        .route("/admin/keys", get(keys::list_all_keys))
        .route("/user/avatar", avatar_upload)
        .route("/avatar/user", get(account::show_avatar))
        .route("/login", get(pages::show_sign_in))
        .route("/reset", get(pages::show_reset))
        .route("/admin", get(pages::show_admin))
        .route("/admin/table", get(pages::show_admin_table))
        .route("/account", get(pages::show_account))
        .nest("/assets", assets::router())
        .merge(providers)
}

/// What the server serves behind the guard ([`serve_guarded`]): a host's own routes and
/// the auth routes but the gateway's (the server sends the gateway's path to
/// [`serve_gateway`]), each request body bounded as [`router`] bounds it.
///
/// The limit is set once around all the routes, and the deadline put on the body before
/// the routes see it: [`router`]'s per-route layers are each a boxed service with a boxed
/// future on every request, about a tenth of what a request costs the server.
#[derive(Clone)]
pub struct ServerApp {
    routes: <DefaultBodyLimit as Layer<Router>>::Service,
    body_timeout: Duration,
}

impl ServerApp {
    /// The auth routes beside `host`'s.
    pub fn new(state: &AuthState, host: Router) -> Self {
        let routes = host.merge(routes(state).with_state(state.clone()));
        Self {
            routes: DefaultBodyLimit::max(JSON_BODY_LIMIT).layer(routes),
            body_timeout: state.config().body_timeout,
        }
    }
}

/// A request to the gateway's path (`/v1`, `/v1/*`) served as the router would serve it
/// (the guard, the body deadline, the gateway), without the routing and the per-route
/// layers around it: the server sends such requests here, since they are the hot ones.
pub async fn serve_gateway(state: AuthState, request: Request) -> Response {
    let body_timeout = state.config().body_timeout;
    let gateway_state = state.clone();
    guard::guarded(state, request, move |request| {
        gateway::serve(
            gateway_state,
            deadline::with_deadline(request, body_timeout),
        )
    })
    .await
}

/// `request` through the guard to `app`: what `protect(router)` answers, without the
/// middleware layer's boxing of the inner service and its future on every request. The
/// server calls this; host apps use [`protect`].
///
/// Not an `async fn` but the guard's own future: every `async` layer around a future
/// stores it again, and a request's future is moved (copied whole) as it is handed on.
pub fn serve_guarded(
    state: AuthState,
    app: ServerApp,
    request: Request,
) -> impl Future<Output = Response> + Send {
    guard::guarded(state, request, move |request| {
        let request = deadline::with_deadline(request, app.body_timeout);
        app.routes.oneshot(request).map(|answer| match answer {
            Ok(response) => response,
            Err(never) => match never {},
        })
    })
}

/// Wraps `app` in the guard: requests to anything not declared public need a session, and
/// state-changing requests from other sites are refused.
pub fn protect<S>(app: Router<S>, state: AuthState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(middleware::from_fn_with_state(state, guard::guard))
}
