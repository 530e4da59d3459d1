//! An existing axum app, with routes and state of its own, that adds sign-in and user
//! management by mounting the auth router.
//!
//! - `llms_auth::router(auth)` brings `/login`, `/auth/*`, `/admin`, `/account` and the
//!   assets; it is generic over the app's state, so it merges into any router.
//! - `llms_auth::protect(app, auth)` puts every route merged so far behind the guard:
//!   denied without a session unless the auth extension declares it public. Routes merged
//!   after it stay outside, public on purpose (`/healthz`, `/hello`).
//! - Handlers name the user with the `CurrentUser` / `Option<CurrentUser>` extractors, which
//!   work with the app's own state because it implements `FromRef<AppState> for AuthState`.
//!
//! Users come from `LLMS_HOME/credentials/users.json` (add one with `llms --adduser NAME`).
//!
//! ```sh
//! cargo run --example host_app -- 3000
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use llms_auth::{AuthState, Config, CurrentUser, ProviderRegistry};
use serde_json::{json, Value};

/// The host app's own state, with the auth extension's inside.
#[derive(Clone)]
struct AppState {
    auth: AuthState,
    name: &'static str,
    visits: Arc<AtomicU64>,
}

impl FromRef<AppState> for AuthState {
    fn from_ref(app: &AppState) -> AuthState {
        app.auth.clone()
    }
}

/// Behind the guard: only signed-in users get here.
async fn show_dashboard(State(app): State<AppState>, user: CurrentUser) -> Json<Value> {
    let visits = app.visits.fetch_add(1, Ordering::Relaxed) + 1;
    Json(json!({
        "app": app.name,
        "user": user.user_name,
        "admin": user.is_admin(),
        "visits": visits,
    }))
}

/// Public: greets whoever is signed in, if anyone.
async fn show_hello(user: Option<CurrentUser>) -> String {
    match user {
        Some(user) => format!("Hello, {}!", user.user_name),
        None => "Hello, stranger!".to_owned(),
    }
}

async fn show_health() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse().map_err(|_| format!("not a port: {port}"))?,
        None => 3000,
    };
    let auth = AuthState::new(Config::from_env(None)?, &ProviderRegistry::builtin()).await?;
    let state = AppState {
        auth: auth.clone(),
        name: "notes",
        visits: Arc::new(AtomicU64::new(0)),
    };
    let private = Router::new()
        .route("/", get(show_dashboard))
        .route("/api/dashboard", get(show_dashboard))
        .with_state(state.clone())
        .merge(llms_auth::router(auth.clone()));
    let public = Router::new()
        .route("/healthz", get(show_health))
        .route("/hello", get(show_hello))
        .with_state(state);
    let app = llms_auth::protect(private, auth).merge(public);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
