//! Signing in and out: `/config`, `/auth/login`, `/auth/logout`, `/auth`.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::password::{Verification, MAX_PASSWORD_BYTES};
use crate::provider::CurrentUser;
use crate::session::{SessionToken, COOKIE_NAME};
use crate::state::AuthState;
use crate::throttle::Throttled;
use crate::time::now_secs;
use crate::users::MAX_SIGN_IN_NAME_BYTES;

/// `GET /config`: whether signing in is required and which provider is active.
pub async fn show_config(State(state): State<AuthState>) -> Result<Json<Value>> {
    Ok(Json(json!({
        "requiresAuth": state.requires_auth().await?,
        "authProvider": state.provider().name(),
    })))
}

/// The public description of a user, as the reference returns it.
pub fn user_json(user_name: &str, roles: &[String]) -> Value {
    json!({
        "userId": user_name,
        "userName": user_name,
        "displayName": user_name,
        "profileUrl": "/avatar/user",
        "roles": roles,
    })
}

/// `GET /auth`: the signed-in user.
pub async fn show_session_user(State(state): State<AuthState>, user: CurrentUser) -> Json<Value> {
    let mut body = user_json(&user.user_name, &user.roles);
    body["authProvider"] = json!(state.provider().name());
    Json(body)
}

/// The `POST /auth/login` body.
#[derive(Deserialize)]
pub struct SignInForm {
    username: Option<String>,
    password: Option<String>,
}

/// Shows the username, never the password.
impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The session cookie for `token`.
pub fn session_cookie(token: &SessionToken, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE_NAME, token.expose().to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(
            crate::config::SESSION_MAX_AGE.as_secs() as i64,
        ))
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a token is a valid header value")
}

/// A cookie that clears the session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE_NAME, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("static cookie is a valid header value")
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// `POST /auth/login`: checks a username and password and starts a session.
pub async fn submit_sign_in(
    State(state): State<AuthState>,
    parts: Parts,
    crate::web::json::JsonBody(form): crate::web::json::JsonBody<SignInForm>,
) -> Result<Response> {
    let username = form.username.as_deref().map(str::trim).unwrap_or("");
    let password = form.password.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return Err(Error::bad_request("Username and password are required"));
    }
    // Both bounds hold before any lookup or hashing. Names are not held to the rules for
    // new accounts: an account in the store signs in with its name as it is.
    if username.len() > MAX_SIGN_IN_NAME_BYTES {
        return Err(Error::bad_request(format!(
            "Username is too long (at most {MAX_SIGN_IN_NAME_BYTES} bytes)."
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_request(format!(
            "Password is too long (at most {MAX_PASSWORD_BYTES} bytes)."
        )));
    }
    let client_ip = state.client_ip(&parts);
    let users = state.users().await?;
    let stored = users.get(username).map(|u| u.password_hash.clone());
    // Attempts at unknown names are audited without the name: it may be a mistyped password.
    let audit_target = if stored.is_some() {
        username
    } else {
        "(unknown)"
    };
    let attempt = |event, result: &str| {
        AuditRecord::new(event, audit_target, audit_target)
            .ip(&client_ip)
            .result(result)
    };
    // Throttled attempts are refused before the password is looked at, right or wrong.
    let attempt_guard = match state.throttle().begin(username, &client_ip, now_secs()) {
        Ok(guard) => guard,
        Err(Throttled { retry_after, first }) => {
            // Once per wait: the refusals that follow add nothing but length to the log.
            if first {
                state
                    .audit(attempt(AuditEvent::SignInThrottled, "throttled"))
                    .await;
            }
            return Err(Error::TooManyRequests { retry_after });
        }
    };
    let verification = state
        .hasher()
        .verify(password.clone(), stored.clone())
        .await?;
    let Verification::Match { needs_upgrade } = verification else {
        attempt_guard.failed(now_secs());
        let why = if stored.is_some() {
            "wrong password"
        } else {
            "unknown user"
        };
        state.audit(attempt(AuditEvent::SignInFailed, why)).await;
        return Err(Error::InvalidCredentials);
    };
    attempt_guard.succeeded();
    if let Some(reason) = users.get(username).and_then(|u| u.lock_reason()) {
        state
            .audit(attempt(AuditEvent::SignInLocked, "locked"))
            .await;
        return Err(Error::Locked(reason.to_owned()));
    }
    let upgraded = if needs_upgrade {
        Some(state.hasher().hash(password).await?)
    } else {
        None
    };
    let name = username.to_owned();
    let ip = client_ip.clone();
    let agent = user_agent(&parts.headers);
    let verified_hash = stored.unwrap_or_default();
    let (token, roles) = state
        .update_users(move |state, users| {
            // The account may have changed while the password was being checked.
            let user = users.get_mut(&name).ok_or(Error::InvalidCredentials)?;
            if user.password_hash != verified_hash {
                return Err(Error::InvalidCredentials);
            }
            if let Some(reason) = user.lock_reason() {
                return Err(Error::Locked(reason.to_owned()));
            }
            if let Some(hash) = upgraded {
                user.password_hash = hash;
            }
            user.last_ip = Some(ip.clone());
            user.last_login = Some(now_secs());
            let provider = state.provider().name().to_owned();
            let token = state.sessions().create(&name, &provider, &ip, &agent)?;
            Ok((token, user.roles.clone()))
        })
        .await?;
    tracing::info!(user = %username, ip = %client_ip, "signed in");
    state.audit(attempt(AuditEvent::SignIn, "ok")).await;
    let mut response = Json(user_json(username, &roles)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, state.is_https(&parts)),
    );
    Ok(response)
}

/// `POST /auth/logout`: ends the session, if any, and clears the cookie.
pub async fn submit_sign_out(State(state): State<AuthState>, parts: Parts) -> Result<Response> {
    if let Some(key) = crate::state::session_key(&parts.headers) {
        if let Some(found) = state.find_session(&parts).await? {
            let name = found.username;
            let record =
                AuditRecord::new(AuditEvent::SignOut, &name, &name).ip(&state.client_ip(&parts));
            state.audit(record).await;
        }
        state.end_session(key).await?;
    }
    let mut response = Json(json!({ "success": true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie(state.is_https(&parts)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let form: SignInForm =
            serde_json::from_str(r#"{"username":"alice","password":"hunter2-secret"}"#).unwrap();
        let shown = format!("{form:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
