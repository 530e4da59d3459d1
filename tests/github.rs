//! Sign in with GitHub, end to end against a fake GitHub that the test serves itself on
//! 127.0.0.1:0 (authorize page, token endpoint, `GET /user`). The app runs in-process with
//! `oneshot`; one test runs the real `llms` binary.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use llms_auth::providers::github_auth::{GithubAuthProvider, GithubConfig};
use llms_auth::{AuthState, Config, ProviderRegistry};
use serde_json::{json, Value};
use tower::ServiceExt;

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret-d41d8cd9";
const REDIRECT_URI: &str = "http://llms.test/auth/github/callback";

// ---------------------------------------------------------------------------------------
// The fake GitHub
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct FakeState {
    /// Who the authorize page signs in next: (login, id).
    next_user: Mutex<(String, u64)>,
    /// Codes minted by the authorize page.
    codes: Mutex<HashMap<String, (String, u64)>>,
    /// Every token request: its Accept header and form.
    token_requests: Mutex<Vec<(String, HashMap<String, String>)>>,
    /// Every `GET /user` Authorization header.
    user_requests: Mutex<Vec<String>>,
    /// Requests that reached `/steal` (where the token endpoint tries to redirect to).
    stolen: Mutex<usize>,
}

struct FakeGithub {
    base: String,
    state: Arc<FakeState>,
}

fn token_for(code: &str) -> String {
    format!("gho_faketoken_{code}")
}

async fn fake_authorize(
    State(fake): State<Arc<FakeState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let (Some(redirect_uri), Some(state)) = (query.get("redirect_uri"), query.get("state")) else {
        return (StatusCode::BAD_REQUEST, "missing redirect_uri or state").into_response();
    };
    let user = fake.next_user.lock().unwrap().clone();
    let code = format!("code{}", fake.codes.lock().unwrap().len() + 1);
    fake.codes.lock().unwrap().insert(code.clone(), user);
    Redirect::to(&format!("{redirect_uri}?code={code}&state={state}")).into_response()
}

async fn fake_token(
    State(fake): State<Arc<FakeState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    fake.token_requests
        .lock()
        .unwrap()
        .push((accept, form.clone()));
    if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return Json(json!({"error": "incorrect_client_credentials"})).into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    match code.as_str() {
        // A token endpoint that sends the client (and its secret) elsewhere.
        "redirect-me" => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/steal")],
        )
            .into_response(),
        "server-error" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "not-json" => "access_token=abc&token_type=bearer".into_response(),
        // A valid token whose /user call fails.
        "api-error" => Json(json!({"access_token": token_for("api-error")})).into_response(),
        _ if fake.codes.lock().unwrap().contains_key(&code) => Json(json!({
            "access_token": token_for(&code),
            "token_type": "bearer",
            "scope": "read:user",
        }))
        .into_response(),
        _ => Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
        }))
        .into_response(),
    }
}

async fn fake_user(State(fake): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    fake.user_requests.lock().unwrap().push(auth.clone());
    let codes = fake.codes.lock().unwrap().clone();
    let found = codes
        .iter()
        .find(|(code, _)| auth == format!("Bearer {}", token_for(code)));
    match found {
        Some((_, (login, id))) => Json(json!({
            "login": login,
            "id": id,
            "name": "Test User",
            "avatar_url": "http://127.0.0.1:9/avatar.png",
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response(),
    }
}

async fn fake_steal(State(fake): State<Arc<FakeState>>) -> &'static str {
    *fake.stolen.lock().unwrap() += 1;
    "stolen"
}

impl FakeGithub {
    async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        *state.next_user.lock().unwrap() = ("alice".to_owned(), 1001);
        let app = Router::new()
            .route("/login/oauth/authorize", get(fake_authorize))
            .route("/login/oauth/access_token", post(fake_token))
            .route("/api/user", get(fake_user))
            .route("/steal", any(fake_steal))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    fn oauth_url(&self) -> String {
        format!("{}/login/oauth", self.base)
    }

    fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    fn sign_in_next_as(&self, login: &str, id: u64) {
        *self.state.next_user.lock().unwrap() = (login.to_owned(), id);
    }

    fn token_requests(&self) -> Vec<(String, HashMap<String, String>)> {
        self.state.token_requests.lock().unwrap().clone()
    }

    fn user_requests(&self) -> Vec<String> {
        self.state.user_requests.lock().unwrap().clone()
    }

    fn stolen(&self) -> usize {
        *self.state.stolen.lock().unwrap()
    }

    /// Follows the authorize redirect over real HTTP, as the browser would: GitHub's answer
    /// is a redirect to our callback carrying `code` and `state`.
    async fn authorize(&self, location: &str) -> String {
        assert!(
            location.starts_with(&format!("{}/authorize?", self.oauth_url())),
            "{location}"
        );
        let response = common::http().get(location).send().await.unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------

struct Setup {
    home: tempfile::TempDir,
    state: AuthState,
    app: Router,
    fake: FakeGithub,
}

fn settings(fake: &FakeGithub) -> GithubConfig {
    let mut settings = GithubConfig::new(CLIENT_ID, CLIENT_SECRET);
    settings.redirect_uri = Some(REDIRECT_URI.to_owned());
    settings.oauth_url = fake.oauth_url();
    settings.api_url = fake.api_url();
    settings
}

async fn setup_with(tweak: impl FnOnce(&mut GithubConfig)) -> Setup {
    setup_full(tweak, |_| {}).await
}

async fn setup_full(
    tweak: impl FnOnce(&mut GithubConfig),
    tweak_config: impl FnOnce(&mut Config),
) -> Setup {
    let fake = FakeGithub::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut config = Config::new(home.path());
    config.auth = "github_auth".to_owned();
    tweak_config(&mut config);
    let mut settings = settings(&fake);
    tweak(&mut settings);
    let mut registry = ProviderRegistry::builtin();
    registry.register(Arc::new(GithubAuthProvider::new(settings)));
    let state = AuthState::new(config, &registry).await.unwrap();
    let app = llms_auth::server::app(state.clone());
    Setup {
        home,
        state,
        app,
        fake,
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// What a response says, with its body read.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `name=value` pair of a cookie this response sets (not clears).
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")) && !c.starts_with(&format!("{name}=;")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    /// Nothing this answer carries contains `secret`.
    fn assert_hides(&self, secret: &str) {
        assert!(!self.body.contains(secret), "body leaks a secret");
        for (name, value) in &self.headers {
            assert!(
                !value.to_str().unwrap_or("").contains(secret),
                "header {name} leaks a secret"
            );
        }
    }
}

impl Setup {
    async fn send(&self, path: &str, cookie: Option<&str>, accept: &str) -> Answer {
        self.send_with(path, cookie, accept, &[]).await
    }

    async fn send_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        accept: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::get(path).header(header::ACCEPT, accept);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.run(request.body(Body::empty()).unwrap()).await
    }

    /// A JSON API call (`PUT`, `DELETE`, ...) as the Manage Users page makes it.
    async fn call(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.run(request.unwrap()).await
    }

    async fn run(&self, mut request: Request<Body>) -> Answer {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response =
            tokio::time::timeout(Duration::from_secs(30), self.app.clone().oneshot(request))
                .await
                .expect("request finished in time")
                .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        self.send(path, cookie, "text/html").await
    }

    async fn api(&self, path: &str, cookie: Option<&str>) -> Answer {
        self.send(path, cookie, "application/json").await
    }

    /// `GET /auth/github?next=..`: returns the authorize URL, the state it carries and the
    /// state cookie pair.
    async fn start(&self, next: Option<&str>) -> (String, String, String) {
        let path = match next {
            Some(next) => format!(
                "/auth/github?next={}",
                llms_auth::request::paths::url_encode(next)
            ),
            None => "/auth/github".to_owned(),
        };
        let answer = self.get(&path, None).await;
        assert!(answer.status.is_redirection(), "{}", answer.status);
        let location = answer.location().to_owned();
        let url = reqwest::Url::parse(&location).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("state param");
        let cookie = answer.cookie("llms-github-state").expect("state cookie");
        (location, state, cookie)
    }

    /// The whole browser round trip; returns the callback's answer.
    async fn round_trip(&self, next: Option<&str>) -> Answer {
        let (location, _, state_cookie) = self.start(next).await;
        let back = self.fake.authorize(&location).await;
        let callback = back.strip_prefix("http://llms.test").expect("our callback");
        self.get(callback, Some(&state_cookie)).await
    }

    /// Signs in as `login` and returns the session cookie pair.
    async fn sign_in_as(&self, login: &str, id: u64) -> String {
        self.fake.sign_in_next_as(login, id);
        let answer = self.round_trip(None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer.cookie("llms-token").expect("session cookie")
    }

    fn records_path(&self) -> std::path::PathBuf {
        self.home.path().join("github_auth/users.json")
    }

    fn records(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.records_path()).unwrap()).unwrap()
    }

    fn edit_records(&self, change: impl FnOnce(&mut Value)) {
        let mut records = self.records();
        change(&mut records);
        std::fs::write(
            self.records_path(),
            serde_json::to_vec_pretty(&records).unwrap(),
        )
        .unwrap();
        // Another program's edit is seen within the store's freshness window.
        std::thread::sleep(llms_auth::json_store::COMMIT_WAIT);
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn assert_refused(answer: &Answer, status: StatusCode, text: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer.body.contains(text),
        "page should say {text:?}: {}",
        answer.body
    );
    assert!(
        answer.body.contains("<html"),
        "a page, not a bare error: {}",
        answer.body
    );
    assert!(
        answer.cookie("llms-token").is_none(),
        "no session on refusal"
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn full_flow_signs_in_with_a_state_bound_to_the_browser() {
    let s = setup().await;
    let config = s.api("/config", None).await.json();
    assert_eq!(config["authProvider"], "github_auth");
    assert_eq!(config["requiresAuth"], true);

    // Start: a redirect to the authorize page carrying a fresh state, which the browser
    // also keeps in a short-lived HttpOnly cookie.
    let answer = s.get("/auth/github?next=/account", None).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let location = answer.location().to_owned();
    let params = query_of(&location);
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["scope"], "read:user");
    let state = &params["state"];
    assert_eq!(state.len(), 43, "32 random bytes");
    answer.assert_hides(CLIENT_SECRET);
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-github-state="))
        .expect("state cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth/github",
        "Max-Age=600",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(set.contains(state.as_str()), "the cookie holds the state");
    let state_cookie = answer.cookie("llms-github-state").unwrap();
    // Two starts draw two different states.
    let (_, other_state, _) = s.start(None).await;
    assert_ne!(&other_state, state);

    // GitHub sends the browser back; the callback exchanges the code and starts a session.
    let back = s.fake.authorize(&location).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    let answer = s.get(callback, Some(&state_cookie)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), "/account");
    let token = answer.cookie("llms-token").expect("session cookie");
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-token="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("llms-github-state=;") && c.contains("Max-Age=0")),
        "the state cookie is cleared: {:?}",
        answer.set_cookies()
    );
    assert!(!answer
        .location()
        .contains(token.trim_start_matches("llms-token=")));
    answer.assert_hides(&format!("gho_faketoken_{}", query_of(&back)["code"]));

    // The token request: POST with Accept: application/json and the app's credentials.
    let requests = s.fake.token_requests();
    assert_eq!(requests.len(), 1);
    let (accept, form) = &requests[0];
    assert_eq!(accept, "application/json");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert!(s.fake.user_requests()[0].starts_with("Bearer gho_faketoken_"));

    // The session is an ordinary one.
    let me = s.api("/auth", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["userName"], "alice");
    assert_eq!(me["authProvider"], "github_auth");
    assert_eq!(me["roles"], json!([]), "no roles by default");
    let home = s.get("/", Some(&token)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("alice"));

    // The admitted user is recorded.
    let records = s.records();
    let alice = &records["alice"];
    assert_eq!(alice["id"], 1001);
    assert_eq!(alice["login"], "alice");
    assert_eq!(alice["lastIp"], "127.0.0.1");
    assert!(alice["lastLogin"].as_f64().unwrap() > 0.0);
    assert!(alice["created"].as_f64().unwrap() > 0.0);

    // Signing out ends it.
    let mut request = Request::post("/auth/logout")
        .header(header::COOKIE, &token)
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        s.api("/auth", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_in_page_offers_the_github_button_and_no_password_form() {
    let s = setup().await;
    let page = s.get("/login?next=/admin", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign in with GitHub"), "{}", page.body);
    assert!(
        page.body.contains(r#"href="/auth/github?next=/admin""#),
        "{}",
        page.body
    );
    assert!(!page.body.contains(r#"type="password""#), "{}", page.body);
    // Protected pages send anonymous visitors to that page.
    let admin = s.get("/admin", None).await;
    assert!(admin.status.is_redirection());
    assert_eq!(admin.location(), "/login?next=/admin");
    // The password endpoint is not there for this provider.
    let mut request = Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"username":"alice","password":"x"}"#))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_ne!(response.status(), StatusCode::OK);
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap_or("").starts_with("llms-token="));
    assert!(!sets_session, "no session from a password");
}

#[tokio::test]
async fn wrong_or_missing_state_is_refused() {
    let s = setup().await;
    let (location, state, cookie) = s.start(None).await;
    let back = s.fake.authorize(&location).await;
    let code = query_of(&back)["code"].clone();

    // A state from another browser's flow (the attacker's own, say).
    let (_, attackers_state, _) = s.start(None).await;
    let forged = format!("/auth/github/callback?code={code}&state={attackers_state}");
    assert_refused(
        &s.get(&forged, Some(&cookie)).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // The right state but no cookie (a link opened in another browser).
    let no_cookie = format!("/auth/github/callback?code={code}&state={state}");
    assert_refused(
        &s.get(&no_cookie, None).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // A cookie that was tampered with.
    let value = &cookie["llms-github-state=".len()..];
    let flipped = if value.starts_with('x') { 'y' } else { 'x' };
    let tampered = format!("llms-github-state={flipped}{}", &value[1..]);
    assert_refused(
        &s.get(&no_cookie, Some(&tampered)).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // No state or no code at all.
    assert_refused(
        &s.get(&format!("/auth/github/callback?code={code}"), Some(&cookie))
            .await,
        StatusCode::BAD_REQUEST,
        "lacks the code or the state",
    );
    assert_refused(
        &s.get(
            &format!("/auth/github/callback?state={state}"),
            Some(&cookie),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "lacks the code or the state",
    );
    // The visitor declined on GitHub.
    let declined = s
        .get(
            &format!("/auth/github/callback?error=access_denied&state={state}"),
            Some(&cookie),
        )
        .await;
    assert_refused(&declined, StatusCode::FORBIDDEN, "access_denied");
    // None of these reached GitHub's token endpoint.
    assert!(s.fake.token_requests().is_empty());
    assert!(!s.records_path().exists(), "nobody was recorded");
    // The genuine callback still works, once.
    let answer = s.get(&no_cookie, Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert!(answer.cookie("llms-token").is_some());
}

#[tokio::test]
async fn restrict_to_matches_logins_in_any_case_and_numeric_ids() {
    let s = setup_with(|settings| {
        settings.restrict_to = vec!["ALICE".into(), "4242".into()];
    })
    .await;
    // Case-insensitive login match.
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.api("/auth", Some(&alice)).await.json()["userName"],
        "alice"
    );
    // Numeric id match, whatever the login.
    let bob = s.sign_in_as("bob-renamed", 4242).await;
    assert_eq!(
        s.api("/auth", Some(&bob)).await.json()["userName"],
        "bob-renamed"
    );
    // Anyone else is refused with a clear page and not recorded.
    s.fake.sign_in_next_as("mallory", 666);
    let refused = s.round_trip(None).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not allowed to sign in");
    assert!(refused.body.contains("mallory"));
    assert!(s.records().get("mallory").is_none());
    // Both outcomes are in the audit log, without any secret.
    let events: Vec<(String, String)> = s
        .state
        .context()
        .audit_log()
        .tail(10)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                serde_json::to_value(r.event)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r.target,
            )
        })
        .collect();
    assert!(
        events.contains(&("sign_in".into(), "alice".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("sign_in_failed".into(), "mallory".into())),
        "{events:?}"
    );
    let log = std::fs::read_to_string(s.state.context().audit_log().path()).unwrap();
    assert!(
        !log.contains(CLIENT_SECRET) && !log.contains("gho_"),
        "{log}"
    );
}

#[tokio::test]
async fn github_errors_give_a_clear_page_and_no_session() {
    let s = setup().await;
    for (code, says) in [
        ("bad-code", "bad_verification_code"),
        ("server-error", "status 500"),
        ("not-json", "not JSON"),
        ("api-error", "status 401"),
    ] {
        let (_, state, cookie) = s.start(None).await;
        let answer = s
            .get(
                &format!("/auth/github/callback?code={code}&state={state}"),
                Some(&cookie),
            )
            .await;
        assert_refused(&answer, StatusCode::BAD_GATEWAY, says);
        answer.assert_hides(CLIENT_SECRET);
        answer.assert_hides("gho_faketoken");
    }
    assert!(!s.records_path().exists());
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let s = setup().await;
    let (_, state, cookie) = s.start(None).await;
    let answer = s
        .get(
            &format!("/auth/github/callback?code=redirect-me&state={state}"),
            Some(&cookie),
        )
        .await;
    assert_refused(&answer, StatusCode::BAD_GATEWAY, "status 307");
    assert_eq!(
        s.fake.stolen(),
        0,
        "the client secret was not re-posted elsewhere"
    );
}

#[tokio::test]
async fn next_stays_on_this_site() {
    let s = setup().await;
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let answer = s.round_trip(Some(evil)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/", "next={evil}");
    }
    let answer = s.round_trip(Some("/account?tab=1")).await;
    assert_eq!(answer.location(), "/account?tab=1");
}

#[tokio::test]
async fn unusable_logins_are_refused() {
    let s = setup().await;
    s.fake.sign_in_next_as("-leading-hyphen", 5);
    assert_refused(
        &s.round_trip(None).await,
        StatusCode::FORBIDDEN,
        "cannot be used as a username",
    );
}

#[tokio::test]
async fn record_changes_take_effect_on_the_next_request() {
    let s = setup().await;
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(s.api("/auth", Some(&alice)).await.status, StatusCode::OK);

    // Locked in the record: the session ends at once, and signing in again is refused.
    s.edit_records(|r| r["alice"]["locked"] = json!("Left the team"));
    assert_eq!(
        s.api("/auth", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED
    );
    s.fake.sign_in_next_as("alice", 1001);
    assert_refused(
        &s.round_trip(None).await,
        StatusCode::FORBIDDEN,
        "Left the team",
    );

    // Unlocked: in again. Removed: out again.
    s.edit_records(|r| {
        r["alice"].as_object_mut().unwrap().remove("locked");
    });
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(s.api("/auth", Some(&alice)).await.status, StatusCode::OK);
    s.edit_records(|r| {
        r.as_object_mut().unwrap().remove("alice");
    });
    assert_eq!(
        s.api("/auth", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A role granted in the record applies at once.
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.api("/admin/users", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
    s.edit_records(|r| r["alice"]["roles"] = json!(["Admin"]));
    assert_eq!(
        s.api("/admin/users", Some(&alice)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_session_of_another_provider_is_not_accepted() {
    let s = setup().await;
    let token = s
        .state
        .context()
        .sessions()
        .create("alice", "credentials", "127.0.0.1", "test")
        .unwrap();
    let cookie = format!("llms-token={}", token.expose());
    assert_eq!(
        s.api("/auth", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admins_setting_and_admin_listing_with_providers() {
    let s = setup_with(|settings| settings.admins = vec!["Alice".into()]).await;
    // A credentials account in the user store, listed next to the GitHub users.
    s.state
        .context()
        .update_users(|_, users| {
            users.insert(
                "carol".into(),
                llms_auth::users::User::new("x:y".into(), vec![]),
            );
            Ok(())
        })
        .await
        .unwrap();
    let bob = s.sign_in_as("bob", 2002).await;
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.api("/auth", Some(&alice)).await.json()["roles"],
        json!(["Admin"])
    );
    assert_eq!(
        s.api("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );

    let listing = s.api("/admin/users", Some(&alice)).await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    let users = listing.json()["users"].as_array().unwrap().clone();
    let find = |name: &str| {
        users
            .iter()
            .find(|u| u["userName"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {users:?}"))
            .clone()
    };
    assert_eq!(find("carol")["provider"], "credentials");
    let listed_alice = find("alice");
    assert_eq!(listed_alice["provider"], "github_auth");
    assert_eq!(listed_alice["roles"], json!(["Admin"]));
    assert_eq!(listed_alice["lastIp"], "127.0.0.1");
    assert_eq!(find("bob")["provider"], "github_auth");
    assert_eq!(find("bob")["roles"], json!([]));
    listing.assert_hides(CLIENT_SECRET);
    listing.assert_hides("gho_faketoken");
    listing.assert_hides(alice.trim_start_matches("llms-token="));
}

#[tokio::test]
async fn signing_in_again_replaces_the_previous_session() {
    let s = setup().await;
    let first = s.sign_in_as("alice", 1001).await;
    let (location, _, state_cookie) = s.start(None).await;
    let back = s.fake.authorize(&location).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    let answer = s
        .get(callback, Some(&format!("{state_cookie}; {first}")))
        .await;
    let second = answer.cookie("llms-token").expect("new session");
    assert_ne!(first, second);
    assert_eq!(
        s.api("/auth", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.api("/auth", Some(&second)).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Managing GitHub users from Manage Users
// ---------------------------------------------------------------------------------------

/// A setup where `alice` (1001) is an Admin through the `admins` setting and the user store
/// holds the credentials account `carol`; returns it with alice's and bob's (2002) sessions.
async fn managed() -> (Setup, String, String) {
    let s = setup_with(|settings| settings.admins = vec!["alice".into()]).await;
    s.state
        .context()
        .update_users(|_, users| {
            users.insert(
                "carol".into(),
                llms_auth::users::User::new("x:y".into(), vec![]),
            );
            Ok(())
        })
        .await
        .unwrap();
    let bob = s.sign_in_as("bob", 2002).await;
    let alice = s.sign_in_as("alice", 1001).await;
    (s, alice, bob)
}

/// The `<tr>` of `name` in a users table.
fn table_row<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-user=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name}: {html}"));
    let end = start + html[start..].find("</tr>").expect("row end");
    &html[start..end]
}

/// The message of a `responseStatus` error body, after checking the status.
fn refusal(answer: &Answer, status: StatusCode) -> String {
    assert_eq!(answer.status, status, "{}", answer.body);
    answer.json()["responseStatus"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {}", answer.body))
        .to_owned()
}

impl Setup {
    async fn put_user(&self, cookie: &str, body: Value) -> Answer {
        self.call(Method::PUT, "/admin/users", Some(cookie), Some(body))
            .await
    }

    async fn delete_user(&self, cookie: &str, name: &str) -> Answer {
        let path = format!(
            "/admin/users/{}",
            llms_auth::request::paths::url_encode(name)
        );
        self.call(Method::DELETE, &path, Some(cookie), None).await
    }

    /// Whether the session of this cookie pair is still in the session store (memory and
    /// disk), without making a request as its user.
    async fn session_alive(&self, cookie: &str) -> bool {
        let token = llms_auth::session::SessionToken::parse(
            cookie
                .strip_prefix("llms-token=")
                .expect("a session cookie"),
        )
        .expect("a well-formed token");
        // The newest generation there can be: the disk is checked, not only the cache.
        self.state
            .context()
            .sessions()
            .find(token.key(), u64::MAX)
            .await
            .unwrap()
            .is_some()
    }

    fn audit(&self) -> Vec<(String, String, String, Option<String>)> {
        self.state
            .context()
            .audit_log()
            .tail(100)
            .unwrap()
            .into_iter()
            .map(|r| (r.event.as_str().to_owned(), r.actor, r.target, r.detail))
            .collect()
    }
}

#[tokio::test]
async fn manage_users_lists_github_users_with_a_badge_and_no_change_password() {
    let (s, alice, _bob) = managed().await;
    s.edit_records(|r| r["bob"]["locked"] = json!("Spam <b>"));

    for path in ["/admin", "/admin/table"] {
        let page = s.get(path, Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let bob = table_row(&page.body, "bob");
        assert!(
            bob.contains("data-testid=\"provider-badge\">GitHub<"),
            "{bob}"
        );
        assert!(bob.contains("data-testid=\"status-locked\""));
        assert!(bob.contains("Spam &lt;b&gt;"));
        assert!(bob.contains("data-action=\"unlock\""));
        assert!(bob.contains("data-action=\"delete\""));
        assert!(!bob.contains("data-action=\"password\""));

        // The signed-in GitHub admin: no action on yourself.
        let me = table_row(&page.body, "alice");
        assert!(me.contains("provider-badge") && me.contains("badge-you"));
        assert!(me.contains("badge-admin"));
        assert!(!me.contains("data-action="), "{me}");

        // The user store's account, as before.
        let carol = table_row(&page.body, "carol");
        assert!(!carol.contains("provider-badge"));
        assert!(carol.contains("data-action=\"password\""));
        assert!(carol.contains("data-action=\"lock\""));
    }
    let fragment = s.get("/admin/table", Some(&alice)).await;
    assert!(!fragment.body.contains("<html"), "a fragment, not a page");
}

#[tokio::test]
async fn locking_unlocking_and_deleting_a_github_user_through_the_api() {
    let (s, alice, bob) = managed().await;
    assert_eq!(s.api("/auth", Some(&bob)).await.status, StatusCode::OK);

    // Lock: recorded, and bob's session ends (it is removed, not merely refused).
    let answer = s
        .put_user(&alice, json!({"userName": "bob", "locked": "Spam"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json(), json!({"success": true, "userName": "bob"}));
    assert_eq!(s.records()["bob"]["locked"], "Spam");
    assert_eq!(
        s.records()["bob"]["id"],
        2002,
        "the rest of the record stays"
    );
    assert!(!s.session_alive(&bob).await, "ended by the lock itself");
    assert_eq!(
        s.api("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let table = s.get("/admin/table", Some(&alice)).await.body;
    assert!(table_row(&table, "bob").contains("data-testid=\"status-locked\""));
    s.fake.sign_in_next_as("bob", 2002);
    assert_refused(&s.round_trip(None).await, StatusCode::FORBIDDEN, "Spam");

    // Unlock (as the page does): bob can sign in again, but the old session stays ended.
    let answer = s
        .put_user(&alice, json!({"userName": "bob", "locked": false}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(s.records()["bob"].get("locked").is_none());
    assert_eq!(
        s.api("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bob = s.sign_in_as("bob", 2002).await;
    assert_eq!(s.api("/auth", Some(&bob)).await.status, StatusCode::OK);

    // Delete: the record goes and the session ends on the next request.
    let answer = s.delete_user(&alice, "bob").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(s.records().get("bob").is_none());
    assert!(!s.session_alive(&bob).await, "ended by the deletion itself");
    assert_eq!(
        s.api("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let listing = s.api("/admin/users", Some(&alice)).await.json();
    assert!(!listing["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userName"] == "bob"));
    assert!(!s
        .get("/admin/table", Some(&alice))
        .await
        .body
        .contains("data-user=\"bob\""));
    let again = s.delete_user(&alice, "bob").await;
    assert_eq!(
        refusal(&again, StatusCode::NOT_FOUND),
        "User 'bob' not found"
    );

    // Every change is in the audit log, by alice on bob.
    let audit = s.audit();
    for (event, detail) in [
        ("user_locked", Some("Spam")),
        ("user_unlocked", None),
        ("user_deleted", None),
    ] {
        assert!(
            audit.iter().any(|(e, actor, target, d)| e == event
                && actor == "alice"
                && target == "bob"
                && d.as_deref() == detail),
            "{event} missing: {audit:?}"
        );
    }
    // The admin's own session was never touched.
    assert!(s.session_alive(&alice).await);
    assert_eq!(s.api("/auth", Some(&alice)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn roles_of_a_github_user_are_set_through_the_api() {
    let (s, alice, bob) = managed().await;
    assert_eq!(
        s.api("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );
    let answer = s
        .put_user(&alice, json!({"userName": "bob", "roles": ["Admin"]}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(s.records()["bob"]["roles"], json!(["Admin"]));
    // In effect on bob's next request, and bob is now an Admin nobody can lock.
    assert_eq!(
        s.api("/admin/users", Some(&bob)).await.status,
        StatusCode::OK
    );
    let lock = s
        .put_user(&alice, json!({"userName": "bob", "locked": true}))
        .await;
    assert_eq!(
        refusal(&lock, StatusCode::BAD_REQUEST),
        "Cannot lock an Admin user"
    );
    assert!(s.records()["bob"].get("locked").is_none());
    assert!(s.audit().iter().any(|(e, _, t, d)| e == "roles_changed"
        && t == "bob"
        && d.as_deref() == Some("roles: Admin")));

    // Taken away again: bob loses access at once.
    let answer = s
        .put_user(&alice, json!({"userName": "bob", "roles": []}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        s.api("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn github_users_are_guarded_like_store_users() {
    let (s, alice, bob) = managed().await;
    let dave = s.sign_in_as("dave", 4004).await;
    let before = s.records();
    let cases = [
        (
            json!({"userName": "alice", "locked": "x"}),
            StatusCode::BAD_REQUEST,
            "Cannot lock your own account",
        ),
        (
            json!({"userName": "alice", "roles": []}),
            StatusCode::BAD_REQUEST,
            "Cannot remove your own Admin role",
        ),
        (
            json!({"userName": "bob", "password": "new-secret-1"}),
            StatusCode::BAD_REQUEST,
            "GitHub users have no password here",
        ),
        (
            json!({"userName": "bob", "password": "new-secret-1", "locked": "x"}),
            StatusCode::BAD_REQUEST,
            "GitHub users have no password here",
        ),
        (
            json!({"userName": "nobody", "locked": "x"}),
            StatusCode::NOT_FOUND,
            "User 'nobody' not found",
        ),
    ];
    for (body, status, message) in cases {
        let answer = s.put_user(&alice, body.clone()).await;
        assert_eq!(refusal(&answer, status), message, "{body}");
    }
    let answer = s.delete_user(&alice, "alice").await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST),
        "Cannot delete your own account"
    );
    // Not an admin: no management at all.
    let answer = s
        .put_user(&bob, json!({"userName": "dave", "locked": "x"}))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(
        s.delete_user(&bob, "dave").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.records(), before, "nothing was written");
    for cookie in [&alice, &bob, &dave] {
        assert!(s.session_alive(cookie).await);
    }
    for cookie in [&alice, &bob, &dave] {
        assert_eq!(s.api("/auth", Some(cookie)).await.status, StatusCode::OK);
    }

    // An Admin through the `admins` setting cannot be locked, nor lose the role here, by
    // another admin either.
    let answer = s
        .put_user(&alice, json!({"userName": "dave", "roles": ["Admin"]}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    for body in [
        json!({"userName": "alice", "locked": "x"}),
        json!({"userName": "alice", "roles": []}),
    ] {
        let answer = s.put_user(&dave, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
    }
    let answer = s
        .put_user(&dave, json!({"userName": "alice", "locked": "x"}))
        .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST),
        "Cannot lock an Admin user"
    );
    assert!(s.records()["alice"].get("locked").is_none());
    assert_eq!(s.api("/auth", Some(&alice)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn store_users_are_managed_as_before_next_to_github_users() {
    let (s, alice, _bob) = managed().await;
    let github_before = s.records();
    let carol = || s.state.context().user_store().load().unwrap()["carol"].clone();

    let answer = s
        .put_user(&alice, json!({"userName": "carol", "locked": "Away"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(carol().lock_reason(), Some("Away"));
    let answer = s
        .put_user(&alice, json!({"userName": "carol", "locked": false}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(carol().lock_reason(), None);

    // A password is still accepted for a store user.
    let answer = s
        .put_user(
            &alice,
            json!({"userName": "carol", "password": "new-secret-1"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_ne!(carol().password_hash, "x:y");

    let answer = s.delete_user(&alice, "carol").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(!s
        .state
        .context()
        .user_store()
        .load()
        .unwrap()
        .contains_key("carol"));
    assert_eq!(s.records(), github_before, "GitHub records untouched");
    assert!(s
        .audit()
        .iter()
        .any(|(e, _, t, _)| e == "password_changed" && t == "carol"));
}

// ---------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------

fn clear_github_env(cmd: &mut std::process::Command) {
    for name in [
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
        "GITHUB_USERS",
        "GITHUB_ADMINS",
        "LLMS_GITHUB_OAUTH_URL",
        "LLMS_GITHUB_API_URL",
    ] {
        cmd.env_remove(name);
    }
}

/// Runs `cmd` to completion within 30 seconds.
fn run_bounded(mut cmd: std::process::Command) -> std::process::Output {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("llms did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn selecting_github_auth_without_configuration_exits_1_naming_the_variables() {
    let home = common::Home::new();
    for selection in [&["--auth", "github_auth"][..], &["--serve", "0"][..]] {
        let mut cmd = home.llms();
        clear_github_env(&mut cmd);
        cmd.args(selection);
        if selection[0] == "--serve" {
            cmd.env("LLMS_AUTH", "github_auth");
        }
        let out = run_bounded(cmd);
        assert_eq!(out.status.code(), Some(1), "{selection:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for name in ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "config.json"] {
            assert!(stderr.contains(name), "{selection:?}: {stderr}");
        }
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Listening"));
    }
}

#[tokio::test]
async fn real_server_signs_in_with_github_from_environment_settings() {
    let fake = FakeGithub::start().await;
    fake.sign_in_next_as("Octo-Cat", 583231);
    let home = common::Home::new();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("stderr.log");
    let mut cmd = home.llms();
    clear_github_env(&mut cmd);
    cmd.args([
        "--auth",
        "github_auth",
        "--serve",
        "0",
        "--host",
        "127.0.0.1",
    ])
    .env("GITHUB_CLIENT_ID", CLIENT_ID)
    .env("GITHUB_CLIENT_SECRET", CLIENT_SECRET)
    .env("GITHUB_USERS", "octo-cat")
    .env("LLMS_GITHUB_OAUTH_URL", fake.oauth_url())
    .env("LLMS_GITHUB_API_URL", fake.api_url())
    .env("LLMS_LOG", "debug")
    .stderr(std::fs::File::create(&log_path).unwrap());
    let server = common::Server::launch(cmd);
    let client = common::http();
    // The Sign In page links to the start of the flow.
    let page = client
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with GitHub"));
    let start = client
        .get(server.url("/auth/github?next=/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let state_cookie = cookie_pair(&start, "llms-github-state").expect("state cookie");
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    // No redirect_uri configured: GitHub uses the app's registered one; the fake needs one.
    assert!(!query_of(&location).contains_key("redirect_uri"));
    let location = format!(
        "{location}&redirect_uri={}",
        llms_auth::request::paths::url_encode(&server.url("/auth/github/callback"))
    );
    let back = fake.authorize(&location).await;
    let done = client
        .get(&back)
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/account");
    let session = common::session_cookie(&done).expect("session cookie");
    let me: Value = client
        .get(server.url("/auth"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "Octo-Cat");
    assert_eq!(me["authProvider"], "github_auth");
    // The same callback cannot be replayed without the (now cleared) cookie.
    let replay = client.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), 403);
    // A code GitHub refuses: logged as such, without secrets.
    let start = client.get(server.url("/auth/github")).send().await.unwrap();
    let state_cookie = cookie_pair(&start, "llms-github-state").unwrap();
    let state = query_of(start.headers()["location"].to_str().unwrap())["state"].clone();
    let refused = client
        .get(server.url(&format!(
            "/auth/github/callback?code=bad-code&state={state}"
        )))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 502);

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("signed in"), "{log}");
    assert!(log.contains("bad_verification_code"), "{log}");
    let token = session.trim_start_matches("llms-token=");
    for secret in [CLIENT_SECRET, "gho_faketoken", token] {
        assert!(!log.contains(secret), "the log shows a secret: {log}");
    }
}

/// The `name=value` pair of a cookie a real response sets.
fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

#[tokio::test]
async fn behind_an_https_proxy_the_cookies_are_secure_and_host_prefixed() {
    let s = setup_full(
        |_| {},
        |config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    let https = [("x-forwarded-proto", "https")];
    let start = s.send_with("/auth/github", None, "text/html", &https).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let set = start
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-llms-github-state="))
        .expect("__Host- state cookie");
    assert!(set.contains("Secure") && set.contains("Path=/;"), "{set}");
    let cookie = start.cookie("__Host-llms-github-state").unwrap();
    let back = s.fake.authorize(start.location()).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    // The plain-HTTP cookie name is not accepted over HTTPS.
    let plain = cookie.replacen("__Host-", "", 1);
    let refused = s
        .send_with(callback, Some(&plain), "text/html", &https)
        .await;
    assert_refused(
        &refused,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    let done = s
        .send_with(callback, Some(&cookie), "text/html", &https)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let session = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-token="))
        .unwrap();
    assert!(session.contains("Secure"), "{session}");
}
