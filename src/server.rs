//! The `llms` host server: the auth router, the host's own home page, logging, the session
//! sweeper, the connection loop (header timeout, connection limit) and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::future::Either;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use maud::Markup;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use header_deadline::{ConnectionTimer, HeaderDeadline, Watchdog};
use per_client::PerClient;

mod header_deadline;
mod per_client;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::provider::ProviderRegistry;
use crate::request::RequestFacts;
use crate::state::AuthState;
use crate::web::gateway::is_gateway_path;
use crate::web::pages::page_context;
use crate::web::{serve_gateway, serve_guarded, ServerApp};

/// How often expired session files are swept.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// How long after start-up the first sweep runs.
pub const FIRST_SWEEP_DELAY: Duration = Duration::from_secs(300);

/// Most connections served at once; further clients wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

/// Threads for blocking work: reading and writing the stores' small files, and password
/// hashing (itself bounded by [`crate::password::PasswordHasher`]). Tokio's default of 512
/// let a burst of first requests from 100,000 sessions start over 200 threads, each
/// keeping its own allocator pages; more work waits in the pool's queue instead.
const MAX_BLOCKING_THREADS: usize = 16;

/// How long shutdown waits for requests in flight before the server exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn show_home(State(state): State<AuthState>, user: CurrentUser) -> Result<Markup> {
    let context = page_context(&state, Some(&user)).await?;
    Ok(crate::views::home_page(&context))
}

/// The host application: the auth routes, the home page, all behind the guard's
/// middleware. (The server itself serves the same routes as a [`ServerApp`] and calls the
/// guard around them: [`front`].)
pub fn app(state: AuthState) -> Router {
    crate::web::protect(home(&state).merge(crate::web::router(state.clone())), state)
}

/// The host's own routes: its home page.
fn home(state: &AuthState) -> Router {
    Router::new()
        .route("/", get(show_home))
        .with_state(state.clone())
}

/// Starts the server on `listener` and runs until Ctrl-C or SIGTERM.
///
/// Every connection must send a request's headers within the configured header timeout
/// ([`Config::header_timeout`]), and an idle keep-alive connection is closed after as long,
/// so slow or silent clients cannot hold connections; a request's body must then arrive
/// within [`Config::body_timeout`] (enforced by the auth router). At most
/// [`MAX_CONNECTIONS`] connections are served at once, and at most
/// [`Config::max_connections_per_ip`] of them from one client address (a further one is
/// closed at once), so one client cannot keep the others out. Handlers see the client in
/// the request's [`RequestFacts`], read from the peer. On shutdown the listener closes,
/// idle connections close at once, and requests in flight get [`SHUTDOWN_GRACE`].
pub async fn serve(state: AuthState, listener: TcpListener) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(anyhow::anyhow!("listener address: {e}")))?;
    if !state.requires_auth().await? && !addr.ip().is_loopback() {
        let line = "!".repeat(78);
        eprintln!("{line}\n!! WARNING: authentication is OFF and this server listens on {addr}.\n!! Anyone who can reach this address can use it. Add a user with\n!! `llms --adduser admin`, or listen on 127.0.0.1.\n{line}");
    }
    spawn_sweeper(state.clone());
    // Installed before the address is announced: a supervisor may signal at once.
    let shutdown = shutdown_signal()?;
    tracing::info!(%addr, providers = %state.config().auth, "listening");
    println!("Listening on http://{addr}");

    // axum::serve gives hyper no timer, so no header timeout ever applies. `http1_only`
    // matters too: otherwise the builder first sniffs for the HTTP/2 preface, and that read
    // has no timeout at all, so a client that connects and sends nothing is kept forever.
    // Each connection gets its own timer (`header_deadline`): hyper's timeout, without a
    // tokio timer made and dropped for every request.
    let header_timeout = state.config().header_timeout;
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let per_client = PerClient::new(
        state.config().max_connections_per_ip,
        state.config().trusted_proxies.clone(),
    );
    let app = ServerApp::new(&state, home(&state));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer, slot) = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted?,
        };
        let Some(client_slot) = per_client.try_take(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: this client holds its limit");
            continue;
        };
        let deadline = HeaderDeadline::new();
        let mut connection_builder = builder.clone();
        connection_builder
            .http1()
            .timer(ConnectionTimer(Arc::clone(&deadline)));
        let connection = connection_builder
            .serve_connection(TokioIo::new(stream), front(&state, &app, peer))
            .into_owned();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let _slots = (slot, client_slot);
            let mut connection = pin!(connection);
            let mut watchdog = Watchdog::new(deadline, header_timeout);
            let mut stopping = false;
            let result = loop {
                tokio::select! {
                    biased;
                    result = connection.as_mut() => break result,
                    _ = stop_rx.changed(), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    // The connection is polled again with this: hyper sees its sleep over.
                    () = watchdog.fired() => {}
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    // Every open connection holds a slot: all slots free means all connections closed.
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still running at shutdown were cut off");
    }
    Ok(())
}

/// What a connection's requests go to, as seen from `peer`: the gateway's path straight to
/// [`serve_gateway`] (the guard and the gateway without the router around them), every
/// other path to the guard around `app`, the routes ([`serve_guarded`]: the guard
/// [`app`]'s middleware is made of, without the middleware's boxing). Either way the
/// request's [`RequestFacts`] are read here, from the peer, and kept in its extensions
/// (where the guard finds them), so no `ConnectInfo` is stored to be looked up again.
fn front(
    state: &AuthState,
    app: &ServerApp,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    let (state, app) = (state.clone(), app.clone());
    service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        let facts = RequestFacts::from_peer(request.headers(), Some(peer.ip()), state.config());
        request.extensions_mut().insert(facts);
        let (state, app) = (state.clone(), app.clone());
        // hyper moves this future into its connection's slot for every request, so the
        // future is a box: no `async` block around it (that would store the inner future
        // once more), and the guard's and the gateway's futures each on the heap, where
        // the one copy goes to memory just freed instead of a slot gone cold.
        if is_gateway_path(request.uri().path()) {
            Either::Left(Box::pin(serve_gateway(state, request)).map(Ok))
        } else {
            Either::Right(Box::pin(serve_guarded(state, app, request)).map(Ok))
        }
    })
}

/// Waits for a free connection slot, then for a client. Per-connection failures (a client
/// that reset before being accepted) are skipped; others (out of file descriptors) are
/// logged and retried after a pause.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Result<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("connection slots closed: {e}")))?;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, peer, slot));
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

fn spawn_sweeper(state: AuthState) {
    // A session folder from before the index gets it now, off the requests' way.
    let sessions = state.context().sessions().clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = sessions.ensure_index() {
            tracing::warn!(error = %e, "indexing the sessions failed; it is tried again when needed");
        }
    });
    tokio::spawn(async move {
        // The first sweep waits a while, so that start-up is not spent reading old files.
        let first = tokio::time::Instant::now() + FIRST_SWEEP_DELAY;
        let mut interval = tokio::time::interval_at(first, SWEEP_INTERVAL);
        loop {
            interval.tick().await;
            let sessions = state.context().sessions().clone();
            match tokio::task::spawn_blocking(move || sessions.sweep()).await {
                Ok(Ok(removed)) if removed > 0 => tracing::info!(removed, "expired sessions swept"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "session sweep failed"),
                Err(e) => tracing::warn!(error = %e, "session sweep panicked"),
            }
        }
    });
}

/// Installs the SIGINT and SIGTERM handlers now, so that a signal sent as soon as the
/// server says it listens shuts it down gracefully instead of killing it, and returns the
/// future that waits for either.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    let install = |kind| {
        signal(kind)
            .map_err(|e| Error::Internal(anyhow::anyhow!("installing a signal handler: {e}")))
    };
    let mut interrupt = install(SignalKind::interrupt())?;
    let mut terminate = install(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
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
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let state = AuthState::new(config, &registry).await?;
        let ctx = state.context();
        if let Some(notice) = crate::users::location_notice(ctx.user_store(), ctx.config()) {
            eprintln!("{notice}");
        }
        ctx.sessions().ensure_dir()?;
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {host}:{port}: {e}")))?;
        serve(state, listener).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handlers must be in place when `shutdown_signal` returns, before its future is
    /// first polled: the server announces its address in between, and a supervisor may
    /// signal at once. Were they not, this SIGTERM would kill the test process.
    #[tokio::test]
    async fn signals_are_caught_from_the_moment_the_shutdown_future_exists() {
        let shutdown = shutdown_signal().unwrap();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(5), shutdown)
            .await
            .expect("the SIGTERM was seen");
    }
}
