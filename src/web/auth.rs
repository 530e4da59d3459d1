//! Who is signed in, and signing out: `/config`, `/auth`, `/auth/logout`. (Signing in is
//! each provider's own route: `POST /auth/login` for passwords.)

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::error::Result;
use crate::request::cookies::cleared_cookie;
use crate::request::RequestFacts;
use crate::state::AuthState;
use crate::web::extract::signed_in_user;

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
///
/// The hottest authenticated answer: the user is read where the guard kept them, not
/// copied out as the [`CurrentUser`](crate::CurrentUser) extractor would, and the answer
/// is written straight from a struct, with what the provider read with the account,
/// building no map and looking nothing up again.
pub async fn show_session_user(State(state): State<AuthState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let user = match signed_in_user(&state, &mut parts).await {
        Ok(user) => user,
        Err(rejection) => return rejection.into_response(),
    };
    let body = SessionUser {
        user_id: &user.user_name,
        user_name: &user.user_name,
        display_name: &user.user_name,
        profile_url: "/avatar/user",
        roles: &user.roles,
        auth_provider: state.provider_name(),
        two_factor: user.two_factor,
        must_change_password: user.must_change_password.then_some(true),
    };
    // Written into a buffer that holds it at once (axum's `Json` starts at 128 bytes, and
    // this answer is longer: it would grow, and be copied, on every request).
    let names = 3 * user.user_name.len() + user.roles.iter().map(|r| r.len() + 3).sum::<usize>();
    let mut json = Vec::with_capacity(AUTH_BODY_FIXED_BYTES + names);
    match serde_json::to_writer(&mut json, &body) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => {
            crate::error::Error::Internal(anyhow::anyhow!("writing /auth: {e}")).into_response()
        }
    }
}

/// What `GET /auth`'s body takes besides the user's name (three times) and roles: its
/// field names, punctuation, the avatar's path, a provider's name and the two flags.
const AUTH_BODY_FIXED_BYTES: usize = 224;

/// The body of `GET /auth`: [`crate::identity::user_json`]'s fields, in its order, and
/// the provider, the second factor and a password to change.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser<'a> {
    user_id: &'a str,
    user_name: &'a str,
    display_name: &'a str,
    profile_url: &'a str,
    roles: &'a [String],
    auth_provider: &'a str,
    two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    must_change_password: Option<bool>,
}

/// `POST /auth/logout`: ends the session, if any, and clears the cookie.
pub async fn submit_sign_out(
    State(state): State<AuthState>,
    facts: RequestFacts,
) -> Result<Response> {
    let ctx = state.context();
    if let Some(key) = facts.session() {
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
