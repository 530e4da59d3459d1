//! The `llms` host server: the auth router, the host's own home page, logging, the session
//! sweeper and graceful shutdown.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::Markup;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::provider::{CurrentUser, ProviderRegistry};
use crate::state::AuthState;
use crate::web::pages::page_context;

/// How often expired session files are swept.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// How long after start-up the first sweep runs.
pub const FIRST_SWEEP_DELAY: Duration = Duration::from_secs(300);

async fn show_home(State(state): State<AuthState>, user: CurrentUser) -> Result<Markup> {
    let context = page_context(&state, Some(&user)).await?;
    Ok(crate::views::home_page(&context))
}

/// The host application: the auth routes, the home page, all behind the guard.
pub fn app(state: AuthState) -> Router {
    let host: Router = Router::new()
        .route("/", get(show_home))
        .with_state(state.clone());
    crate::web::protect(host.merge(crate::web::router(state.clone())), state)
}

/// Starts the server on `listener` and runs until Ctrl-C or SIGTERM.
pub async fn serve(state: AuthState, listener: TcpListener) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(anyhow::anyhow!("listener address: {e}")))?;
    if !state.requires_auth().await? && !addr.ip().is_loopback() {
        let line = "!".repeat(78);
        eprintln!("{line}\n!! WARNING: authentication is OFF and this server listens on {addr}.\n!! Anyone who can reach this address can use it. Add a user with\n!! `llms --adduser admin`, or listen on 127.0.0.1.\n{line}");
    }
    spawn_sweeper(state.clone());
    tracing::info!(%addr, provider = state.provider().name(), "listening");
    println!("Listening on http://{addr}");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("server error: {e}")))
}

fn spawn_sweeper(state: AuthState) {
    tokio::spawn(async move {
        // The first sweep waits a while, so that start-up is not spent reading old files.
        let first = tokio::time::Instant::now() + FIRST_SWEEP_DELAY;
        let mut interval = tokio::time::interval_at(first, SWEEP_INTERVAL);
        loop {
            interval.tick().await;
            let sessions = state.sessions().clone();
            match tokio::task::spawn_blocking(move || sessions.sweep()).await {
                Ok(Ok(removed)) if removed > 0 => tracing::info!(removed, "expired sessions swept"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "session sweep failed"),
                Err(e) => tracing::warn!(error = %e, "session sweep panicked"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Builds the runtime, the state and the listener, and serves on `host:port`.
pub fn run_blocking(
    mut config: Config,
    registry: ProviderRegistry,
    host: IpAddr,
    port: u16,
) -> Result<()> {
    config.loopback_only = host.is_loopback();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let state = AuthState::new(config, &registry).await?;
        if let Some(notice) = state.user_store().location_notice(state.config()) {
            eprintln!("{notice}");
        }
        state.sessions().ensure_dir()?;
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {host}:{port}: {e}")))?;
        serve(state, listener).await
    })
}
