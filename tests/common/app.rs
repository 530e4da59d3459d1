//! The app in process: `llms_auth::app` on a temporary home, driven with `oneshot`, and
//! its replies read whole.
//!
//! Suites that must hold whatever store keeps the accounts take a [`Store`] and are
//! instantiated once per store by [`store_suite!`](crate::store_suite): a new store is one
//! line there, and every suite runs against it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use llms_auth::audit::AuditRecord;
use llms_auth::password::HashScheme;
use llms_auth::{AuthProvider, AuthState, Config, ProviderRegistry};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::home::Home;

/// Where the accounts, sessions and records of an app under test are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// JSON files under `LLMS_HOME`: the embedded default.
    Files,
}

/// Runs each named `async fn name(store: Store)` of the calling suite once per store, as
/// `files::name` (and so on for every store).
#[macro_export]
macro_rules! store_suite {
    ($($test:ident),* $(,)?) => {
        mod files {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::common::Store::Files).await
                }
            )*
        }
    };
}

/// The socket peer of every request unless a test says otherwise.
pub const PEER: [u8; 4] = [127, 0, 0, 1];

/// How long one request may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The app under test, on its own temporary home.
pub struct TestApp {
    /// Its `LLMS_HOME`.
    pub home: Home,
    /// Its state, for tests that reach past HTTP (a provider's own store, say).
    pub state: AuthState,
    router: Router,
}

type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

/// How a [`TestApp`] is made: the store, the home and its users, the socket peer, the
/// configuration and extra providers.
pub struct AppBuilder {
    store: Store,
    home: Option<Home>,
    peer: IpAddr,
    tweaks: Vec<Tweak>,
    registry: ProviderRegistry,
}

impl AppBuilder {
    /// Runs on `home` (with whatever it already holds) instead of a fresh one.
    pub fn home(mut self, home: Home) -> Self {
        self.home = Some(home);
        self
    }

    /// Requests come from this socket peer.
    pub fn peer(mut self, peer: impl Into<IpAddr>) -> Self {
        self.peer = peer.into();
        self
    }

    /// Changes the configuration (after the test defaults: fast reference-format hashes,
    /// two at a time).
    pub fn config(mut self, tweak: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// Registers `provider` beside the built-ins (replacing one of the same name).
    pub fn provider(mut self, provider: Arc<dyn AuthProvider>) -> Self {
        self.registry.register(provider);
        self
    }

    /// The app, or why it did not start.
    pub async fn try_build(self) -> llms_auth::Result<TestApp> {
        let Store::Files = self.store;
        let home = self.home.unwrap_or_default();
        let mut config = Config::new(home.path());
        config.hash_scheme = HashScheme::Sha256;
        config.hash_concurrency = 2;
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        let state = AuthState::new(config, &self.registry).await?;
        let router =
            llms_auth::app(state.clone()).layer(MockConnectInfo(SocketAddr::new(self.peer, 50123)));
        Ok(TestApp {
            home,
            state,
            router,
        })
    }

    /// The app; panics when it does not start.
    pub async fn build(self) -> TestApp {
        self.try_build().await.expect("the app starts")
    }
}

impl TestApp {
    /// A builder for an app on `store`.
    pub fn builder(store: Store) -> AppBuilder {
        AppBuilder {
            store,
            home: None,
            peer: PEER.into(),
            tweaks: Vec::new(),
            registry: ProviderRegistry::builtin(),
        }
    }

    /// An app on an empty home (authentication off until a user is added).
    pub async fn new(store: Store) -> Self {
        Self::builder(store).build().await
    }

    /// `admin` (Admin), `admin2` (Admin), `alice` and `bob`; passwords `pw-<name>`.
    pub async fn with_users(store: Store) -> Self {
        Self::builder(store).home(home_with_users()).build().await
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.router.clone().oneshot(request))
            .await
            .expect("the request finished in time")
            .expect("infallible");
        Reply::read(response).await
    }

    /// `GET path` as an API client (no `Accept`).
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(
            request(Method::GET, path, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// `GET path` as a browser asking for a page.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> Reply {
        let request = request(Method::GET, path, cookie)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// `method path` with a JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> Reply {
        self.send(json_request(method, path, cookie, &body)).await
    }

    /// `POST /auth/login`.
    pub async fn login(&self, user: &str, password: &str) -> Reply {
        let body = json!({ "username": user, "password": password });
        self.json(Method::POST, "/auth/login", None, body).await
    }

    /// Signs in and returns the `llms-token=...` cookie pair.
    pub async fn sign_in(&self, user: &str, password: &str) -> String {
        let reply = self.login(user, password).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "sign in {user}: {}",
            reply.text()
        );
        reply.session_cookie().expect("session cookie")
    }

    /// Whether `cookie` still carries a live session.
    pub async fn is_signed_in(&self, cookie: &str) -> bool {
        let reply = self.get("/auth", Some(cookie)).await;
        match reply.status {
            StatusCode::OK => true,
            StatusCode::UNAUTHORIZED => false,
            other => panic!("unexpected /auth answer {other}: {}", reply.text()),
        }
    }

    /// The parsed users.json.
    pub fn users_json(&self) -> Value {
        self.home.users_json()
    }

    /// Every record of the audit log, oldest first.
    pub fn audit(&self) -> Vec<AuditRecord> {
        let path = self.home.path().join("credentials/audit.log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an audit record"))
            .collect()
    }
}

/// A home with `admin` (Admin), `admin2` (Admin), `alice` and `bob`; passwords
/// `pw-<name>`.
pub fn home_with_users() -> Home {
    let home = Home::new();
    home.write_users(&[
        ("admin", "pw-admin", &["Admin"]),
        ("admin2", "pw-admin2", &["Admin"]),
        ("alice", "pw-alice", &[]),
        ("bob", "pw-bob", &[]),
    ]);
    home
}

/// A response, read to the end.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// Reads `response` whole.
    pub async fn read(response: axum::response::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points (empty when it is none).
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `name=value` pair of a cookie this response sets (not clears).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")) && !c.starts_with(&format!("{name}=;")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    /// The `llms-token=...` pair this response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("llms-token")
    }

    /// The `responseStatus` error of the body: `(errorCode, message)`.
    pub fn error(&self) -> (String, String) {
        let body = self.json();
        let status = &body["responseStatus"];
        (
            status["errorCode"].as_str().unwrap_or_default().to_owned(),
            status["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// The `responseStatus` message of the body.
    pub fn message(&self) -> String {
        self.error().1
    }

    /// Nothing this answer carries contains `secret`.
    pub fn assert_hides(&self, secret: &str) {
        assert!(!self.text().contains(secret), "the body leaks a secret");
        for (name, value) in &self.headers {
            assert!(
                !value.to_str().unwrap_or("").contains(secret),
                "header {name} leaks a secret"
            );
        }
    }
}

/// A request builder for `method path`, with the `llms-token=...` pair when given.
pub fn request(method: Method, path: &str, cookie: Option<&str>) -> axum::http::request::Builder {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder
}

/// `method path` with `body` as JSON.
pub fn json_request(
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: &Value,
) -> Request<Body> {
    request(method, path, cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Asserts the status and the exact `responseStatus` error of `reply`.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.error(),
        (code.to_owned(), message.to_owned()),
        "{}",
        reply.text()
    );
}

/// `request` as a trusted proxy passes it on for `client` (its `X-Forwarded-For`).
pub fn forwarded(mut request: Request<Body>, client: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-forwarded-for", client.parse().expect("a header value"));
    request
}

/// `POST /auth/login` with this username and password.
pub fn login_request(user: &str, password: &str) -> Request<Body> {
    let body = json!({ "username": user, "password": password });
    json_request(Method::POST, "/auth/login", None, &body)
}

/// `POST /user/avatar` with `bytes` as the multipart field `file`, named `file_name` and
/// declared as `content_type`, with the session cookie pair when given.
pub fn avatar_upload(
    cookie: Option<&str>,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Request<Body> {
    let boundary = "----llms-test-boundary-7d93";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    request(Method::POST, "/user/avatar", cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}
