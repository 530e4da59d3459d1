//! The sign-in flow: `GET /auth/github` sends the browser to GitHub with a state bound to
//! it, and `GET /auth/github/callback` checks that state, asks GitHub who this is, applies
//! `restrict_to`, records the account and starts an ordinary session. Refusals are pages
//! that say why.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::Markup;
use reqwest::Url;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::client::{exchange_code, fetch_profile, Unavailable};
use super::state_cookie::{cleared_state_cookie, new_state, read_state_cookie, state_cookie};
use super::store::admit;
use super::{Github, NAME};
use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::providers::external::{callback_answer, tidy, CallbackQuery, NoCode, Stop};
use crate::request::extract::Query;
use crate::request::facts::user_agent;
use crate::request::paths::safe_next;
use crate::request::RequestFacts;
use crate::session::SessionToken;
use crate::users::validate_new_username;
use crate::views::sign_in_refused_page;

/// The scope asked for: the public profile only.
pub const SCOPE: &str = "read:user";

/// Longest `code` / `state` accepted in the callback.
const MAX_PARAM_LEN: usize = 512;

/// The two routes of the flow, sharing `github` with the provider.
pub(super) fn routes(github: Arc<Github>) -> Router<AuthContext> {
    Router::new()
        .route("/auth/github", get(start_sign_in))
        .route("/auth/github/callback", get(finish_sign_in))
        .layer(Extension(github))
}

/// The `?next=` of `GET /auth/github`.
#[derive(Debug, Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/github`: binds a new state to this browser and sends it to GitHub.
async fn start_sign_in(
    Extension(github): Extension<Arc<Github>>,
    facts: RequestFacts,
    Query(query): Query<StartQuery>,
) -> Result<Response> {
    let settings = github.settings()?;
    let next = safe_next(query.next.as_deref());
    let state = new_state();
    let mut params = vec![("client_id", settings.client_id.as_str())];
    if let Some(uri) = &settings.redirect_uri {
        params.push(("redirect_uri", uri));
    }
    params.push(("state", &state));
    params.push(("scope", SCOPE));
    let url = Url::parse_with_params(&settings.authorize_url(), &params)
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the authorize URL: {e}")))?;
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state_cookie(&state, &next, facts.https()),
    );
    Ok(response)
}

/// Why a sign-in with GitHub did not complete: shown to the visitor as a page.
#[derive(Debug)]
enum Refusal {
    /// The callback lacks `code` or `state`.
    Incomplete,
    /// The state does not match this browser's cookie, or the cookie is gone.
    StateMismatch,
    /// GitHub reports an error (the visitor declined, for example).
    Declined(String),
    /// GitHub could not be reached or gave an unusable answer.
    Upstream(String),
    /// The login is not usable as a username here.
    UnusableLogin(String),
    /// `restrict_to` does not name the user.
    NotAllowed(String),
    /// The recorded account is locked.
    Locked(String),
    /// Another provider's account (a password account) holds this name.
    NameTaken(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::Incomplete => StatusCode::BAD_REQUEST,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn page(&self) -> Markup {
        let (title, message): (&str, String) = match self {
            Self::Incomplete => (
                "Sign-in incomplete",
                "The answer from GitHub lacks the code or the state. Please start again.".into(),
            ),
            Self::StateMismatch => (
                "Sign-in refused",
                "This sign-in was not started in this browser, or it took longer than 10 minutes. Please start again.".into(),
            ),
            Self::Declined(error) => (
                "Sign-in cancelled",
                format!("GitHub did not sign you in ({error})."),
            ),
            Self::Upstream(detail) => (
                "GitHub sign-in failed",
                format!("GitHub could not confirm who you are: {detail}. Please try again later."),
            ),
            Self::UnusableLogin(login) => (
                "Sign-in refused",
                format!("The GitHub login '{login}' cannot be used as a username here."),
            ),
            Self::NotAllowed(login) => (
                "Access denied",
                format!("The GitHub user '{login}' is not allowed to sign in to this server."),
            ),
            Self::Locked(reason) => ("Account locked", format!("Your account is locked: {reason}")),
            Self::NameTaken(login) => (
                "Sign-in refused",
                format!("The name '{login}' belongs to another account on this server (usernames ignore case), so the GitHub user '{login}' cannot sign in with it. Ask an administrator."),
            ),
        };
        sign_in_refused_page(title, &message)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status(), self.page()).into_response()
    }
}

impl From<Refusal> for Stop<Refusal> {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<Unavailable> for Stop<Refusal> {
    fn from(Unavailable(detail): Unavailable) -> Self {
        Self::Refused(Refusal::Upstream(detail))
    }
}

/// `GET /auth/github/callback`: checks the state, asks GitHub who this is, starts a session.
async fn finish_sign_in(
    State(ctx): State<AuthContext>,
    Extension(github): Extension<Arc<Github>>,
    facts: RequestFacts,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let secure = facts.https();
    let outcome = complete(&ctx, &github, query, &facts, &headers).await;
    // The state is single-use, whatever happened.
    callback_answer(outcome, secure, cleared_state_cookie(secure))
}

async fn complete(
    ctx: &AuthContext,
    github: &Arc<Github>,
    query: CallbackQuery,
    facts: &RequestFacts,
    headers: &HeaderMap,
) -> std::result::Result<(SessionToken, String), Stop<Refusal>> {
    let settings = github.settings()?;
    let (code, state) = query.code_and_state(MAX_PARAM_LEN).map_err(|no| match no {
        NoCode::Declined(error) => Refusal::Declined(error),
        NoCode::Incomplete => Refusal::Incomplete,
    })?;
    let Some(saved) = read_state_cookie(headers, facts.https()) else {
        tracing::info!("GitHub callback without this browser's state cookie refused");
        return Err(Refusal::StateMismatch.into());
    };
    if !bool::from(saved.state.as_bytes().ct_eq(state.as_bytes())) {
        tracing::info!("GitHub callback with a state that is not this browser's refused");
        return Err(Refusal::StateMismatch.into());
    }
    let http = &github.ready()?.http;
    let token = exchange_code(http, settings, &code).await?;
    let profile = fetch_profile(http, settings, &token).await?;
    drop(token);
    if validate_new_username(&profile.login).is_err() {
        tracing::info!(login = %tidy(&profile.login), "GitHub login unusable as a username");
        return Err(Refusal::UnusableLogin(tidy(&profile.login)).into());
    }
    let ip = facts.client_ip();
    let audit = |event, result: &str| {
        AuditRecord::new(event, &profile.login, &profile.login)
            .ip(&ip)
            .result(result)
            .detail(NAME)
    };
    if !settings.allows(&profile.login, profile.id) {
        tracing::info!(login = %profile.login, id = profile.id, "GitHub user not in restrict_to refused");
        ctx.audit(audit(AuditEvent::SignInFailed, "not in restrict_to"))
            .await;
        return Err(Refusal::NotAllowed(profile.login).into());
    }
    // Usernames are one namespace: a name another provider's account holds, in any case,
    // is not the GitHub user's to take.
    let holder = ctx.holder_of(&profile.login).await?;
    if holder.is_some_and(|(provider, _)| provider != NAME) {
        tracing::info!(login = %profile.login, "GitHub login held by a password account refused");
        ctx.audit(audit(
            AuditEvent::SignInFailed,
            "name held by another account",
        ))
        .await;
        return Err(Refusal::NameTaken(profile.login).into());
    }
    let agent = user_agent(headers).to_owned();
    let admitted = {
        let github = github.clone();
        let sessions = ctx.sessions().clone();
        let profile = profile.clone();
        let ip = ip.clone();
        tokio::task::spawn_blocking(move || {
            github
                .store()?
                .update(|users| admit(users, &sessions, &profile, &ip, &agent))
        })
        .await
        .map_err(Error::from)??
    };
    let token = match admitted {
        Ok(token) => token,
        Err(reason) => {
            tracing::info!(login = %profile.login, "locked GitHub user refused");
            ctx.audit(audit(AuditEvent::SignInLocked, "locked")).await;
            return Err(Refusal::Locked(reason).into());
        }
    };
    // A sign-in always replaces the browser's previous session.
    if let Some(previous) = facts.session() {
        ctx.end_session(previous).await?;
    }
    tracing::info!(user = %profile.login, %ip, provider = NAME, "signed in");
    ctx.audit(audit(AuditEvent::SignIn, "ok")).await;
    Ok((token, saved.next))
}
