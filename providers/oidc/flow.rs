//! The sign-in flow: `GET /auth/oidc` sends the browser to the provider with a state, a
//! nonce and a PKCE challenge bound to it (a cookie), and `GET /auth/oidc/callback` checks
//! the state, exchanges the code with the PKCE verifier, checks the ID token, reads the
//! username and groups, applies the allowed groups, records the account and starts an
//! ordinary session. Refusals are pages that say why; none of them makes a session.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::Markup;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::client::{Rejected, Unavailable, Verified};
use super::config::{OidcConfig, CALLBACK_PATH};
use super::state_cookie::{cleared_state_cookie, read_state_cookie, state_cookie, SavedFlow};
use super::store::{admit, Person, Turned};
use super::{Oidc, NAME};
use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::providers::external::{callback_answer, CallbackQuery, NoCode, Stop};
use crate::request::extract::Query;
use crate::request::facts::user_agent;
use crate::request::paths::safe_next;
use crate::request::RequestFacts;
use crate::session::SessionToken;
use crate::text::printable;
use crate::users::validate_new_username;
use crate::views::sign_in_refused_page;

/// Longest `code` / `state` accepted in the callback.
const MAX_PARAM_LEN: usize = 2048;

/// The two routes of the flow, sharing `oidc` with the provider.
pub(super) fn routes(oidc: Arc<Oidc>) -> Router<AuthContext> {
    Router::new()
        .route("/auth/oidc", get(start_sign_in))
        .route(CALLBACK_PATH, get(finish_sign_in))
        .layer(Extension(oidc))
}

/// The `?next=` of `GET /auth/oidc`.
#[derive(Debug, Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// The redirect URI: the configured one, or this server's own callback as the request
/// reached it (its `Host` was checked by the guard).
fn redirect_uri(settings: &OidcConfig, facts: &RequestFacts, headers: &HeaderMap) -> String {
    if let Some(uri) = &settings.redirect_uri {
        return uri.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = if facts.https() { "https" } else { "http" };
    format!("{scheme}://{host}{CALLBACK_PATH}")
}

/// `GET /auth/oidc`: binds a new state, nonce and PKCE verifier to this browser and sends
/// it to the provider.
async fn start_sign_in(
    Extension(oidc): Extension<Arc<Oidc>>,
    facts: RequestFacts,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Result<Response> {
    let settings = oidc.settings()?;
    let issuer = oidc.issuer()?;
    let next = safe_next(query.next.as_deref());
    let redirect = redirect_uri(settings, &facts, &headers);
    let started = issuer.start(&redirect, &settings.scopes).await?;
    let flow = SavedFlow {
        state: started.state,
        nonce: started.nonce,
        verifier: started.verifier,
        next,
    };
    let mut response = Redirect::to(started.url.as_str()).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie(&flow, facts.https()));
    Ok(response)
}

/// Why a sign-in did not complete: shown to the visitor as a page.
#[derive(Debug)]
enum Refusal {
    /// The callback lacks `code` or `state`.
    Incomplete,
    /// The state does not match this browser's cookie, or the cookie is gone.
    StateMismatch,
    /// The provider reports an error (the visitor declined, for example).
    Declined(String),
    /// The provider could not be reached or did not accept the code.
    Upstream(String),
    /// The ID token was refused.
    BadToken(String),
    /// The username claim is missing or not usable as a username here.
    UnusableName(String),
    /// The user is in none of the allowed groups.
    NotAllowed(String),
    /// The recorded account is locked.
    Locked(String),
    /// Another account (a password account, or another person of the provider) holds this
    /// name.
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

    fn page(&self, provider: &str) -> Markup {
        let (title, message): (&str, String) = match self {
            Self::Incomplete => (
                "Sign-in incomplete",
                format!("The answer from {provider} lacks the code or the state. Please start again."),
            ),
            Self::StateMismatch => (
                "Sign-in refused",
                "This sign-in was not started in this browser, or it took longer than 10 minutes. Please start again.".into(),
            ),
            Self::Declined(error) => (
                "Sign-in cancelled",
                format!("{provider} did not sign you in ({error})."),
            ),
            Self::Upstream(detail) => (
                "Sign-in failed",
                format!("{provider} could not confirm who you are: {detail}. Please try again later."),
            ),
            Self::BadToken(detail) => (
                "Sign-in refused",
                format!("{provider}'s answer could not be trusted: {detail}. Please start again."),
            ),
            Self::UnusableName(name) => (
                "Sign-in refused",
                format!("The name '{name}' that {provider} gives cannot be used as a username here. Ask an administrator."),
            ),
            Self::NotAllowed(name) => (
                "Access denied",
                format!("'{name}' is not in a group allowed to sign in to this server."),
            ),
            Self::Locked(reason) => ("Account locked", format!("Your account is locked: {reason}")),
            Self::NameTaken(name) => (
                "Sign-in refused",
                format!("The name '{name}' belongs to another account on this server (usernames ignore case), so you cannot sign in with it through {provider}. Ask an administrator."),
            ),
        };
        sign_in_refused_page(title, &message)
    }
}

impl From<Refusal> for Stop<Refusal> {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// `GET /auth/oidc/callback`: checks the state, the code and the ID token, starts a session.
async fn finish_sign_in(
    State(ctx): State<AuthContext>,
    Extension(oidc): Extension<Arc<Oidc>>,
    facts: RequestFacts,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let secure = facts.https();
    let provider = oidc
        .settings()
        .map(|s| s.name.clone())
        .unwrap_or_else(|_| "the provider".into());
    let outcome = complete(&ctx, &oidc, query, &facts, &headers)
        .await
        .map_err(|stop| stop.map_refusal(|refusal| (refusal.status(), refusal.page(&provider))));
    // The state is single-use, whatever happened.
    callback_answer(outcome, secure, cleared_state_cookie(secure))
}

/// The strings of a claim that is a string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

async fn complete(
    ctx: &AuthContext,
    oidc: &Arc<Oidc>,
    query: CallbackQuery,
    facts: &RequestFacts,
    headers: &HeaderMap,
) -> std::result::Result<(SessionToken, String), Stop<Refusal>> {
    let settings = oidc.settings()?;
    let (code, state) = query.code_and_state(MAX_PARAM_LEN).map_err(|no| match no {
        NoCode::Declined(error) => Refusal::Declined(error),
        NoCode::Incomplete => Refusal::Incomplete,
    })?;
    let Some(saved) = read_state_cookie(headers, facts.https()) else {
        tracing::info!("OpenID Connect callback without this browser's state cookie refused");
        return Err(Refusal::StateMismatch.into());
    };
    if !bool::from(saved.state.as_bytes().ct_eq(state.as_bytes())) {
        tracing::info!("OpenID Connect callback with a state that is not this browser's refused");
        return Err(Refusal::StateMismatch.into());
    }
    let redirect = redirect_uri(settings, facts, headers);
    let issuer = oidc.issuer()?;
    let verified = match issuer
        .finish(&code, &saved.verifier, &redirect, &saved.nonce)
        .await
    {
        Ok(Ok(verified)) => verified,
        Ok(Err(Rejected(why))) => return Err(Refusal::BadToken(why).into()),
        Err(Unavailable(why)) => return Err(Refusal::Upstream(why).into()),
    };
    let ip = facts.client_ip();
    let person = match person_of(settings, verified) {
        Ok(person) => person,
        Err(refusal) => {
            let record = AuditRecord::new(AuditEvent::SignInFailed, "(oidc)", "(oidc)")
                .ip(&ip)
                .result("unusable username")
                .detail(NAME);
            ctx.audit(record).await;
            return Err(refusal.into());
        }
    };
    let name = person.username.clone();
    let audit = |event, result: &str| {
        AuditRecord::new(event, &name, &name)
            .ip(&ip)
            .result(result)
            .detail(NAME)
    };
    if !settings.allows(&person.groups) {
        tracing::info!(user = %name, "OpenID Connect user in none of the allowed groups refused");
        ctx.audit(audit(AuditEvent::SignInFailed, "not in an allowed group"))
            .await;
        return Err(Refusal::NotAllowed(name.clone()).into());
    }
    // Usernames are one namespace: a name another provider's account holds, in any case,
    // is not this person's to take. (A record of this provider's own is for `admit`, which
    // knows the subject.)
    let holder = ctx.holder_of(&name).await?;
    if holder.is_some_and(|(provider, _)| provider != NAME) {
        tracing::info!(user = %name, "OpenID Connect name held by another provider's account refused");
        ctx.audit(audit(
            AuditEvent::SignInFailed,
            "name held by another account",
        ))
        .await;
        return Err(Refusal::NameTaken(name.clone()).into());
    }
    let agent = user_agent(headers).to_owned();
    let admitted = {
        let oidc = oidc.clone();
        let sessions = ctx.sessions().clone();
        let person = person.clone();
        let ip = ip.clone();
        tokio::task::spawn_blocking(move || {
            oidc.store()?
                .update(|users| admit(users, &sessions, &person, &ip, &agent))
        })
        .await
        .map_err(Error::from)??
    };
    let token = match admitted {
        Ok(token) => token,
        Err(Turned::Locked(reason)) => {
            tracing::info!(user = %name, "locked OpenID Connect user refused");
            ctx.audit(audit(AuditEvent::SignInLocked, "locked")).await;
            return Err(Refusal::Locked(reason).into());
        }
        Err(Turned::NameTaken) => {
            ctx.audit(audit(
                AuditEvent::SignInFailed,
                "name held by another account",
            ))
            .await;
            return Err(Refusal::NameTaken(name.clone()).into());
        }
    };
    // A sign-in always replaces the browser's previous session.
    if let Some(previous) = facts.session() {
        ctx.end_session(previous).await?;
    }
    tracing::info!(user = %name, %ip, provider = NAME, "signed in");
    ctx.audit(audit(AuditEvent::SignIn, "ok")).await;
    Ok((token, saved.next))
}

/// The person an accepted ID token names: the username from the configured claim (held to
/// the rules of new usernames), the groups from theirs.
fn person_of(settings: &OidcConfig, verified: Verified) -> std::result::Result<Person, Refusal> {
    let username = verified
        .claims
        .get(&settings.username_claim)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if validate_new_username(&username).is_err() {
        tracing::info!(name = %printable(&username), claim = %settings.username_claim, "OpenID Connect username unusable");
        return Err(Refusal::UnusableName(printable(&username)));
    }
    let groups = strings(verified.claims.get(&settings.groups_claim));
    Ok(Person {
        admin: settings.is_admin(&groups),
        username,
        subject: verified.subject,
        issuer: verified.issuer,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_a_string_or_a_list_of_strings() {
        assert_eq!(strings(Some(&serde_json::json!("a"))), ["a"]);
        assert_eq!(strings(Some(&serde_json::json!(["a", 1, "b"]))), ["a", "b"]);
        assert!(strings(Some(&serde_json::json!({"a": 1}))).is_empty());
        assert!(strings(None).is_empty());
    }
}
