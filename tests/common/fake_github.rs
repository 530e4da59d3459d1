//! A fake GitHub served by the test itself on 127.0.0.1:0: the authorize page, the token
//! endpoint and `GET /user`, recording what they were sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use llms_auth::providers::github_auth::GithubConfig;
use serde_json::json;

pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "test-client-secret-d41d8cd9";
pub const REDIRECT_URI: &str = "http://llms.test/auth/github/callback";

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

pub struct FakeGithub {
    pub base: String,
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
    pub async fn start() -> Self {
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

    pub fn oauth_url(&self) -> String {
        format!("{}/login/oauth", self.base)
    }

    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    pub fn sign_in_next_as(&self, login: &str, id: u64) {
        *self.state.next_user.lock().unwrap() = (login.to_owned(), id);
    }

    pub fn token_requests(&self) -> Vec<(String, HashMap<String, String>)> {
        self.state.token_requests.lock().unwrap().clone()
    }

    pub fn user_requests(&self) -> Vec<String> {
        self.state.user_requests.lock().unwrap().clone()
    }

    pub fn stolen(&self) -> usize {
        *self.state.stolen.lock().unwrap()
    }

    /// Follows the authorize redirect over real HTTP, as the browser would: GitHub's answer
    /// is a redirect to our callback carrying `code` and `state`.
    pub async fn authorize(&self, location: &str) -> String {
        assert!(
            location.starts_with(&format!("{}/authorize?", self.oauth_url())),
            "{location}"
        );
        let response = super::server::http().get(location).send().await.unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    }
}

/// Settings for the OAuth app of the fake GitHub `fake`.
pub fn settings(fake: &FakeGithub) -> GithubConfig {
    let mut settings = GithubConfig::new(CLIENT_ID, CLIENT_SECRET);
    settings.redirect_uri = Some(REDIRECT_URI.to_owned());
    settings.oauth_url = fake.oauth_url();
    settings.api_url = fake.api_url();
    settings
}
