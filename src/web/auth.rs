//! Who is signed in, and signing out: `/config`, `/auth`, `/auth/logout`. (Signing in is
//! each provider's own route: `POST /auth/login` for passwords.)

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::error::Result;
use crate::identity::CurrentUser;
use crate::providers::credentials;
use crate::request::cookies::cleared_cookie;
use crate::request::RequestFacts;
use crate::state::AuthState;
use crate::users::User;

/// `GET /config`: whether signing in is required, and the selected providers (the first
/// as `authProvider`, all of them in order as `authProviders`).
pub async fn show_config(State(state): State<AuthState>) -> Result<Json<Value>> {
    let providers: Vec<&str> = state.providers().iter().map(|p| p.name()).collect();
    Ok(Json(json!({
        "requiresAuth": state.requires_auth().await?,
        "authProvider": state.provider_name(),
        "authProviders": providers,
    })))
}

/// `GET /auth`: the signed-in user, with whether signing in asks them for a second factor
/// and whether they must choose a new password first.
pub async fn show_session_user(
    State(state): State<AuthState>,
    user: CurrentUser,
) -> Result<Json<Value>> {
    let two_factor = user.provider == credentials::NAME
        && !user.is_default
        && state
            .context()
            .users()
            .await?
            .get(&user.user_name)
            .is_some_and(User::has_two_factor);
    let mut body = user.to_json();
    body["authProvider"] = json!(state.provider_name());
    body["twoFactor"] = json!(two_factor);
    if user.must_change_password {
        body["mustChangePassword"] = json!(true);
    }
    Ok(Json(body))
}

/// `POST /auth/logout`: ends the session, if any, and clears the cookie.
pub async fn submit_sign_out(
    State(state): State<AuthState>,
    facts: RequestFacts,
) -> Result<Response> {
    let ctx = state.context();
    if let Some(key) = facts.session {
        if let Some(found) = ctx.find_session(Some(key)).await? {
            let name = found.username;
            let record = AuditRecord::new(AuditEvent::SignOut, &name, &name).ip(&facts.client_ip());
            ctx.audit(record).await;
        }
        ctx.end_session(key).await?;
    }
    let mut response = Json(json!({ "success": true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie(facts.https()));
    Ok(response)
}
