//! Review findings, in process: rejections in the `responseStatus` shape, the lock signal of
//! the sign-in refusal, the `Host` check against DNS rebinding, the avatar decoder's bounds,
//! and the permissions of an existing store.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::Home;
use http_body_util::BodyExt;
use llms_auth::password::HashScheme;
use llms_auth::providers::github_auth::{GithubAuthProvider, GithubConfig};
use llms_auth::{AuthState, Config, ProviderRegistry};
use serde_json::Value;
use tower::ServiceExt;

/// The app on `home`, with `configure` applied to its configuration.
async fn app_with(home: &Home, configure: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config::new(home.path());
    config.hash_scheme = HashScheme::Sha256;
    configure(&mut config);
    let state = AuthState::new(config, &ProviderRegistry::builtin())
        .await
        .expect("state");
    with_peer(llms_auth::server::app(state))
}

fn with_peer(app: Router) -> Router {
    app.layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50123))))
}

/// A home with `admin` (Admin, password `pw-admin`) and `bob` (`pw-bob`).
fn home_with_users() -> Home {
    let home = Home::new();
    home.write_users(&[("admin", "pw-admin", &["Admin"]), ("bob", "pw-bob", &[])]);
    home
}

/// A response, read to the end.
struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a 400 in the `responseStatus` shape and returns its message.
    fn assert_bad_request(&self) -> String {
        assert_eq!(self.status, StatusCode::BAD_REQUEST);
        let body = self.json();
        assert_eq!(body["responseStatus"]["errorCode"], "Error", "{body}");
        body["responseStatus"]["message"]
            .as_str()
            .expect("a message")
            .to_owned()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, body }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Rejections of Path, Query and Multipart are `responseStatus` JSON.

#[tokio::test]
async fn a_repeated_next_on_the_sign_in_page_is_a_json_400() {
    let home = home_with_users();
    let app = app_with(&home, |_| {}).await;
    let reply = send(&app, get("/login?next=/a&next=/b", None)).await;
    assert_eq!(reply.assert_bad_request(), "Invalid query string");
}

#[tokio::test]
async fn an_undecodable_user_name_in_the_path_is_a_json_400() {
    let home = home_with_users();
    let admin = home.write_session("admin", "credentials", 0.0);
    let app = app_with(&home, |_| {}).await;
    let request = Request::delete("/admin/users/%FF")
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.assert_bad_request(), "Invalid path");
    assert!(home.users_json().get("bob").is_some());

    let reply = send(&app, get("/assets/%FF", None)).await;
    assert_eq!(reply.assert_bad_request(), "Invalid path");
}

#[tokio::test]
async fn an_avatar_upload_that_is_not_multipart_is_a_json_400() {
    let home = home_with_users();
    let bob = home.write_session("bob", "credentials", 0.0);
    let app = app_with(&home, |_| {}).await;
    for content_type in [None, Some("text/plain"), Some("multipart/form-data")] {
        let mut builder = Request::post("/user/avatar").header(header::COOKIE, &bob);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let reply = send(&app, builder.body(Body::from("not an upload")).unwrap()).await;
        assert_eq!(
            reply.assert_bad_request(),
            "Invalid upload: expected a multipart/form-data body",
            "{content_type:?}"
        );
    }
}

#[tokio::test]
async fn malformed_github_start_and_callback_queries_are_json_400s() {
    let home = Home::new();
    let mut config = Config::new(home.path());
    config.auth = "github_auth".to_owned();
    let mut registry = ProviderRegistry::builtin();
    registry.register(Arc::new(GithubAuthProvider::new(GithubConfig::new(
        "client-id",
        "client-secret",
    ))));
    let state = AuthState::new(config, &registry).await.expect("state");
    let app = with_peer(llms_auth::server::app(state));
    for path in [
        "/auth/github?next=/a&next=/b",
        "/auth/github/callback?code=a&code=b&state=s",
    ] {
        let reply = send(&app, get(path, None)).await;
        assert_eq!(reply.assert_bad_request(), "Invalid query string", "{path}");
    }
}
