//! The floor of the load test (issue 18): a bare axum 0.8 handler that answers `GET /auth`
//! with the JSON `llms` answers for the signed-in `bench` user of the load test's small
//! home, through `axum::serve` on the default multi-threaded runtime, with the axum this
//! package builds (its features as `Cargo.toml` chooses them), and nothing else: no
//! timeouts, limits, host or cross-site checks, security headers, guard or logging. What
//! the whole stack costs is its distance from this.
//!
//! ```sh
//! cargo run --release --example floor -- --serve 8001 --host 127.0.0.1
//! ```
//!
//! It takes the `--serve PORT --host ADDR` the load test passes to every server (other
//! flags are ignored) and prints `Listening on http://ADDR:PORT` as `llms` does.

use std::net::{IpAddr, SocketAddr};

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The body of `GET /auth` for the small home's user, built per request as a handler
/// would.
async fn show_session_user() -> Json<Value> {
    Json(json!({
        "userId": "bench",
        "userName": "bench",
        "displayName": "bench",
        "profileUrl": "/avatar/user",
        "roles": ["Admin"],
        "authProvider": "credentials",
        "twoFactor": false,
    }))
}

/// The value following `flag` among `args`, if any.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = flag_value(&args, "--serve")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let host: IpAddr = flag_value(&args, "--host")
        .and_then(|h| h.parse().ok())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/auth", get(show_session_user));
    axum::serve(listener, app).await
}
