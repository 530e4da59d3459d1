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
use llms_auth::cli::import::import_files;
use llms_auth::database::{Database, PgDocuments};
use llms_auth::password::HashScheme;
use llms_auth::{AuthProvider, AuthState, Config, ProviderRegistry, Secret};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tower::ServiceExt;

use super::home::Home;

/// Where the accounts, sessions and records of an app under test are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// JSON files under `LLMS_HOME`: the embedded default.
    Files,
    /// A fresh database of the tests' own PostgreSQL (`tests/common/postgres.rs`) for each
    /// app, holding the users, API keys and sessions; what the app's home holds when it is
    /// built is copied in first (`--import-files`). The rest still lives in the home.
    Postgres,
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
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if $crate::common::postgres::fresh_database().await.is_some() {
                        super::$test($crate::common::Store::Postgres).await
                    }
                }
            )*
        }
    };
}

/// Runs each named `async fn name(store: Store)` on the file store only, as
/// `files_only::name`: for what only files have (their permissions, a FIFO in a folder).
#[macro_export]
macro_rules! files_only {
    ($($test:ident),* $(,)?) => {
        mod files_only {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::common::Store::Files).await
                }
            )*
        }
    };
}

/// A session as the database keeps it: user, provider, created, last seen, client address,
/// user agent, binding.
type SessionRow = (String, String, f64, f64, String, String, Option<i64>);

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
    /// The database's URL, on [`Store::Postgres`].
    database_url: Option<String>,
}

type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

/// How a [`TestApp`] is made: the store, the home and its users, the socket peer, the
/// configuration and extra providers.
pub struct AppBuilder {
    store: Store,
    /// On [`Store::Postgres`]: this database instead of a fresh one (another instance).
    database: Option<String>,
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

    /// On [`Store::Postgres`], runs on the database at `url` (another app's: two instances
    /// of one deployment) instead of a fresh one.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(url.to_owned());
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
        let home = self.home.unwrap_or_default();
        let mut config = Config::new(home.path());
        config.hash_scheme = HashScheme::Sha256;
        config.hash_concurrency = 2;
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        if self.store == Store::Postgres {
            let url = match self.database {
                Some(url) => url,
                None => {
                    super::postgres::fresh_database()
                        .await
                        .expect("the tests' PostgreSQL")
                        .url
                }
            };
            let connected = Database::connect(&url).await?;
            import_files(&config, &connected).await?;
            config.database_url = Some(Secret(url));
        }
        let state = AuthState::new(config, &self.registry).await?;
        let router =
            llms_auth::app(state.clone()).layer(MockConnectInfo(SocketAddr::new(self.peer, 50123)));
        let database_url = state
            .context()
            .config()
            .database_url
            .as_ref()
            .map(|url| url.0.clone());
        Ok(TestApp {
            home,
            state,
            router,
            database_url,
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
            database: None,
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

    /// Makes an API key (`POST /account/keys` with `body`) for the user signed in with
    /// `cookie`; the whole answer.
    pub async fn make_key(&self, cookie: &str, body: Value) -> Value {
        let reply = self
            .json(Method::POST, "/account/keys", Some(cookie), body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    /// Makes an API key named `name` for the user signed in with `cookie`; the key.
    pub async fn new_key(&self, cookie: &str, name: &str) -> String {
        let made = self.make_key(cookie, json!({ "name": name })).await;
        made["key"].as_str().expect("the key").to_owned()
    }

    /// `method path` with `Authorization: Bearer key`.
    pub async fn with_key(&self, method: Method, path: &str, key: &str) -> Reply {
        self.send(
            request(method, path, None)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .expect("a request"),
        )
        .await
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

    /// The users as the store holds them, in users.json's shape.
    pub fn users_json(&self) -> Value {
        if self.state.context().config().database_url.is_none() {
            return self.home.users_json();
        }
        let context = self.state.context().clone();
        // The store's reads block (on the database here): off the runtime's worker.
        let users = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(context.users())
        })
        .expect("the users");
        serde_json::to_value(&*users).unwrap()
    }

    /// The session of `token` as the store keeps it: the session file's JSON, or the
    /// database's row in the same shape.
    pub async fn stored_session(&self, token: &str) -> Option<Value> {
        let Some(url) = &self.database_url else {
            let bytes = std::fs::read(self.home.session_file(token)).ok()?;
            return Some(serde_json::from_slice(&bytes).expect("a session file"));
        };
        let key = llms_auth::session::SessionToken::key_of(token)?;
        let mut connection = PgConnection::connect(url).await.unwrap();
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT username, provider, created, last_seen, client_ip, user_agent, binding \
                 FROM sessions WHERE key = $1",
        )
        .bind(&key.as_bytes()[..])
        .fetch_optional(&mut connection)
        .await
        .unwrap();
        row.map(|(user, provider, created, last_seen, ip, agent, binding)| {
            json!({
                "userName": user, "provider": provider, "created": created,
                "lastSeen": last_seen, "clientIp": ip, "userAgent": agent,
                "binding": binding.map(|b| format!("{:016x}", b as u64)),
            })
        })
    }

    /// A session of `user` (signed in by `provider`, a minute ago) put in the store by
    /// hand, as the server would have made it; its cookie pair.
    pub async fn forge_session(&self, user: &str, provider: &str) -> String {
        let Some(url) = &self.database_url else {
            return self.home.write_session(user, provider, 60.0);
        };
        let token = super::home::random_token();
        let key = llms_auth::session::SessionToken::key_of(&token).unwrap();
        let created = super::home::now_secs() - 60.0;
        let binding = self.stored_binding(user, provider).await as i64;
        let mut connection = PgConnection::connect(url).await.unwrap();
        sqlx::query(
            "INSERT INTO sessions (key, provider, username, created, last_seen, expires, \
             client_ip, user_agent, binding) VALUES ($1, $2, $3, $4, $4, $4 + 86400, \
             '127.0.0.1', 'test', $5)",
        )
        .bind(&key.as_bytes()[..])
        .bind(provider)
        .bind(user)
        .bind(created)
        .bind(binding)
        .execute(&mut connection)
        .await
        .unwrap();
        format!("llms-token={token}")
    }

    /// The API keys as the store holds them, in keys.json's shape.
    pub fn keys_json(&self) -> Value {
        if self.database_url.is_none() {
            let path = self.home.path().join("credentials/keys.json");
            let text = std::fs::read_to_string(path).unwrap_or_else(|_| "{}".into());
            return serde_json::from_str(&text).unwrap();
        }
        let ring = self.state.context().keys().clone();
        let keys =
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(ring.keys()))
                .expect("the keys");
        serde_json::to_value(&*keys).unwrap()
    }

    /// A keyed document as stored: the JSON file `file` under the home ({} when absent), or
    /// the database's document `name` read afresh.
    pub async fn stored_document(&self, name: &str, file: &str) -> Value {
        let Some(url) = &self.database_url else {
            return std::fs::read(self.home.path().join(file))
                .map(|bytes| serde_json::from_slice(&bytes).unwrap())
                .unwrap_or_else(|_| json!({}));
        };
        let mut connection = PgConnection::connect(url).await.unwrap();
        let rows: Vec<(String, Value)> =
            sqlx::query_as("SELECT key, value FROM documents WHERE store = $1 ORDER BY position")
                .bind(name)
                .fetch_all(&mut connection)
                .await
                .unwrap();
        Value::Object(rows.into_iter().collect())
    }

    /// Writes a keyed document as another program would (the file `file` under the home)
    /// or another instance (the database's document `name`), then waits as long as SPEC 11
    /// gives the others to honour it: the file store's freshness window, or a second.
    pub async fn write_document_elsewhere(&self, name: &'static str, file: &str, value: &Value) {
        let Some(url) = &self.database_url else {
            let path = self.home.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
            std::thread::sleep(super::home::EDIT_SEEN_WITHIN);
            return;
        };
        let other = Database::connect(url).await.expect("another instance");
        let entries: indexmap::IndexMap<String, Value> =
            serde_json::from_value(value.clone()).unwrap();
        PgDocuments::<Value>::new(&other, name)
            .update(move |all| {
                *all = entries;
                Ok(())
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// The avatar stored for `user` (its file, or its row).
    pub async fn stored_avatar(&self, user: &str) -> Option<Vec<u8>> {
        let Some(url) = &self.database_url else {
            return std::fs::read(self.home.avatar_file(user)).ok();
        };
        let mut connection = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT image FROM avatars WHERE username = $1")
            .bind(user)
            .fetch_optional(&mut connection)
            .await
            .unwrap()
    }

    /// The binding a session of `user` (of `provider`) needs to be accepted now, from the
    /// account as the database stores it (see [`Home::binding_of`] for the files).
    async fn stored_binding(&self, user: &str, provider: &str) -> u64 {
        match provider {
            "credentials" => {
                let record = &self.users_json()[user];
                match (record["password_hash"].as_str(), record["created"].as_f64()) {
                    (Some(hash), Some(created)) => llms_auth::session::binding(hash, created),
                    _ => 0,
                }
            }
            "github_auth" => {
                let records = self
                    .stored_document("github_auth", "github_auth/users.json")
                    .await;
                let record = &records[user];
                match (record["id"].as_u64(), record["created"].as_f64()) {
                    (Some(id), Some(created)) => {
                        llms_auth::session::binding(&format!("github:{id}"), created)
                    }
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// How many sessions the store keeps (files in the folder, or rows).
    pub async fn stored_sessions(&self) -> usize {
        let Some(url) = &self.database_url else {
            return self.home.session_files().len();
        };
        let mut connection = PgConnection::connect(url).await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        usize::try_from(count).unwrap()
    }

    /// Replaces the users with `users` (users.json's shape) the way something else would:
    /// another program writing the file, or another instance on the database, whose
    /// change this app must see within a second (SPEC 11). Returns once it does.
    pub async fn write_users_elsewhere(&self, users: &Value) {
        if self.database_url.is_none() {
            self.home.write_users_json(users);
            return;
        }
        self.write_elsewhere(llms_auth::cli::import::USERS, users, |app| app.users_json())
            .await;
    }

    /// Replaces the API keys with `keys` (keys.json's shape) as another program or
    /// instance would (see [`TestApp::write_users_elsewhere`]).
    pub async fn write_keys_elsewhere(&self, keys: &Value) {
        if self.database_url.is_none() {
            let path = self.home.path().join("credentials/keys.json");
            std::fs::write(&path, serde_json::to_string_pretty(keys).unwrap()).unwrap();
            std::thread::sleep(super::home::EDIT_SEEN_WITHIN);
            return;
        }
        self.write_elsewhere(llms_auth::cli::import::KEYS, keys, |app| app.keys_json())
            .await;
    }

    /// Writes `value` as the database's `document` from another instance, then waits until
    /// `seen` shows it here (within a second).
    async fn write_elsewhere(
        &self,
        document: &'static str,
        value: &Value,
        seen: fn(&Self) -> Value,
    ) {
        let url = self.database_url.as_ref().expect("a database");
        let other = Database::connect(url).await.expect("another instance");
        let entries: indexmap::IndexMap<String, Value> =
            serde_json::from_value(value.clone()).unwrap();
        PgDocuments::<Value>::new(&other, document)
            .update(move |all| {
                *all = entries;
                Ok(())
            })
            .await
            .unwrap();
        let start = std::time::Instant::now();
        while seen(self) != *value {
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "another instance's change was not seen within a second"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The audit log as text, one JSON record a line (the file, or the rows as such).
    pub fn audit_text(&self) -> String {
        if self.database_url.is_none() {
            let path = self.home.path().join("credentials/audit.log");
            return std::fs::read_to_string(path).unwrap_or_default();
        }
        self.audit()
            .iter()
            .map(|record| serde_json::to_string(record).unwrap() + "\n")
            .collect()
    }

    /// Every record of the audit log, oldest first (the file's lines, or the rows).
    pub fn audit(&self) -> Vec<AuditRecord> {
        if let Some(url) = &self.database_url {
            let url = url.clone();
            return tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async move {
                    let mut connection = PgConnection::connect(&url).await.unwrap();
                    let rows: Vec<Value> =
                        sqlx::query_scalar("SELECT record FROM audit_log ORDER BY id")
                            .fetch_all(&mut connection)
                            .await
                            .unwrap();
                    rows.into_iter()
                        .map(|row| serde_json::from_value(row).expect("an audit record"))
                        .collect()
                })
            });
        }
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
