//! An authenticator app, for the tests: the RFC 6238 code of a base32 secret at a time,
//! computed by `totp-rs` with its own 30-second step (not through the server's code).

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;
use totp_rs::{Algorithm, Builder, Secret};

use super::app::{request, TestApp};

/// The 6-digit code an authenticator app shows for `secret` (base32) at Unix time `at`.
pub fn totp_at(secret: &str, at: f64) -> String {
    let bytes = Secret::try_from_base32(secret).expect("a base32 secret");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(0)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("a TOTP generator")
        .generate(at as u64)
        .to_string()
}

/// The code of the step after the current one: accepted for clock drift, and never the
/// code of a step already used by the current one.
pub fn next_totp(secret: &str) -> String {
    totp_at(secret, super::now_secs() + 30.0)
}

/// The code of the current step.
pub fn current_totp(secret: &str) -> String {
    totp_at(secret, super::now_secs())
}

/// Turns two-factor sign-in on for the user of `cookie` (`POST /account/2fa`, then a
/// current code to confirm it); the secret and the recovery codes shown.
pub async fn turn_on(app: &TestApp, cookie: &str) -> (String, Vec<String>) {
    let started = request(Method::POST, "/account/2fa", Some(cookie))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(started).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let secret = reply.json()["secret"].as_str().unwrap().to_owned();
    let code = json!({ "code": current_totp(&secret) });
    let reply = app
        .json(Method::POST, "/account/2fa/confirm", Some(cookie), code)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let codes = reply.json()["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}
