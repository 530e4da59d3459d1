//! Talking to GitHub: the code-for-token exchange and the "who am I" call, over a client
//! that follows no redirects, times out, and reads at most a small answer. The access
//! token is never stored, logged or put in a URL.

use std::fmt;
use std::time::Duration;

use axum::http::header;
use reqwest::Url;
use serde::Deserialize;

use super::config::GithubConfig;
use crate::error::{Error, Result};
use crate::providers::external::tidy;
use crate::providers::settings::is_loopback_url;

/// Connecting to GitHub may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One whole request to GitHub may take this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The largest answer read from GitHub.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// GitHub could not confirm who the visitor is: what went wrong, for the refusal page
/// (never with the token, the code or GitHub's own error text beyond a tidy code).
#[derive(Debug)]
pub(super) struct Unavailable(pub(super) String);

pub(super) fn http_client(settings: &GithubConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("llms-auth/", env!("CARGO_PKG_VERSION")));
    let loopback = |text: &str| Url::parse(text).is_ok_and(|u| is_loopback_url(&u));
    if loopback(&settings.oauth_url) && loopback(&settings.api_url) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the HTTP client: {e}")))
}

/// An access token: never shown in `Debug`.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AccessToken(String);

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<AccessToken>,
    #[serde(default)]
    error: Option<String>,
}

/// The fields of `GET /user` this provider uses.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Profile {
    /// The login, as GitHub reports it now.
    pub(super) login: String,
    /// GitHub's numeric user id.
    pub(super) id: u64,
}

/// Reads at most [`MAX_ANSWER_BYTES`] of a successful answer.
async fn read_answer(mut response: reqwest::Response, what: &str) -> Result<Vec<u8>, Unavailable> {
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, "GitHub {what} answered with an unexpected status");
        return Err(Unavailable(format!(
            "the {what} answered with status {}",
            status.as_u16()
        )));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => {
                tracing::warn!("GitHub {what} answer is too large");
                return Err(Unavailable(format!("the {what} answer is too large")));
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "reading the GitHub {what} answer failed");
                return Err(Unavailable(format!("the {what} answer was cut off")));
            }
        }
    }
}

fn unreachable_github(what: &str, e: reqwest::Error) -> Unavailable {
    let why = if e.is_timeout() {
        "timed out"
    } else {
        "could not be reached"
    };
    tracing::warn!(error = %e.without_url(), "GitHub {what} {why}");
    Unavailable(format!("the {what} {why}"))
}

/// Exchanges the authorization code for an access token.
pub(super) async fn exchange_code(
    http: &reqwest::Client,
    settings: &GithubConfig,
    code: &str,
) -> Result<AccessToken, Unavailable> {
    const WHAT: &str = "token endpoint";
    let mut form = vec![
        ("client_id", settings.client_id.as_str()),
        ("client_secret", settings.client_secret.as_str()),
        ("code", code),
    ];
    if let Some(uri) = &settings.redirect_uri {
        form.push(("redirect_uri", uri));
    }
    let response = http
        .post(settings.token_url())
        .header(header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable_github(WHAT, e))?;
    let body = read_answer(response, WHAT).await?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
        tracing::warn!("GitHub {WHAT} answer is not the expected JSON");
        Unavailable(format!("the {WHAT} answer is not JSON"))
    })?;
    match answer.access_token {
        Some(token) if !token.0.is_empty() => Ok(token),
        _ => {
            let error = tidy(answer.error.as_deref().unwrap_or("no access token"));
            tracing::warn!(%error, "GitHub did not accept the sign-in code");
            Err(Unavailable(format!(
                "GitHub did not accept the sign-in code ({error})"
            )))
        }
    }
}

/// Reads the signed-in GitHub user with the access token.
pub(super) async fn fetch_profile(
    http: &reqwest::Client,
    settings: &GithubConfig,
    token: &AccessToken,
) -> Result<Profile, Unavailable> {
    const WHAT: &str = "user API";
    let response = http
        .get(settings.user_url())
        .bearer_auth(&token.0)
        .header(header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|e| unreachable_github(WHAT, e))?;
    let body = read_answer(response, WHAT).await?;
    serde_json::from_slice(&body).map_err(|_| {
        tracing::warn!("GitHub {WHAT} answer lacks login and id");
        Unavailable(format!("the {WHAT} answer lacks the login"))
    })
}
