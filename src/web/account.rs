//! Self-service for every signed-in user: password change and avatar.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::avatar::{avatar_path, reencode_avatar};
use crate::error::{Error, Result};
use crate::extract::ClientIp;
use crate::fsutil::write_atomic;
use crate::password::check_password_rules;
use crate::provider::CurrentUser;
use crate::state::AuthState;
use crate::throttle::Throttled;
use crate::time::now_secs;
use crate::web::extract::Multipart;
use crate::web::json::JsonBody;

/// The `POST /account/change-password` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// Shows which fields were sent, never their values.
impl std::fmt::Debug for ChangePasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("ChangePasswordForm")
            .field("current_password", &redacted(&self.current_password))
            .field("new_password", &redacted(&self.new_password))
            .finish()
    }
}

/// `POST /account/change-password`: checks the current password, sets the new one, keeps
/// this session and ends the user's others.
///
/// Checking the current password goes through the sign-in throttle (the same counters, by
/// username and client address): a stolen cookie must not buy an unthrottled way to guess
/// the real password, nor a way to keep the hashing pool busy. A throttled attempt gets 429
/// and `Retry-After` without the password being checked.
pub async fn change_password(
    State(state): State<AuthState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    JsonBody(form): JsonBody<ChangePasswordForm>,
) -> Result<Json<Value>> {
    let current = form.current_password.unwrap_or_default();
    let new = form.new_password.unwrap_or_default();
    if current.is_empty() || new.is_empty() {
        return Err(Error::bad_request(
            "Current password and new password are required",
        ));
    }
    check_password_rules(&new)?;
    if user.is_default {
        return Err(Error::bad_request(
            "Authentication is off: there is no password to change",
        ));
    }
    let users = state.users().await?;
    let stored = users
        .get(&user.user_name)
        .map(|u| u.password_hash.clone())
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let attempt = state
        .throttle()
        .begin(&user.user_name, &ip, now_secs())
        .map_err(|Throttled { retry_after, .. }| Error::TooManyRequests { retry_after })?;
    let verified = state.hasher().verify(current, Some(stored.clone())).await?;
    if !verified.is_match() {
        attempt.failed(now_secs());
        // Someone holding this session guessed at the account's password.
        let record = AuditRecord::new(
            AuditEvent::PasswordChangeFailed,
            &user.user_name,
            &user.user_name,
        )
        .ip(&ip)
        .result("wrong current password");
        state.audit(record).await;
        return Err(Error::bad_request("Current password is incorrect"));
    }
    attempt.succeeded();
    let hash = state.hasher().hash(new).await?;
    let name = user.user_name.clone();
    let keep = user.session;
    state
        .update_users(move |state, users| {
            let record = users
                .get_mut(&name)
                .ok_or_else(|| Error::NotFound("User not found".into()))?;
            if record.password_hash != stored {
                return Err(Error::bad_request(
                    "The password was changed meanwhile; try again",
                ));
            }
            state.sessions().remove_user(&name, keep)?;
            record.password_hash = hash;
            Ok(())
        })
        .await?;
    tracing::info!(user = %user.user_name, "password changed");
    let record = AuditRecord::new(
        AuditEvent::PasswordChanged,
        &user.user_name,
        &user.user_name,
    )
    .ip(&ip);
    state.audit(record).await;
    Ok(Json(json!({ "success": true })))
}

/// `POST /user/avatar`: stores a new avatar from the multipart field `file`.
pub async fn upload_avatar(
    State(state): State<AuthState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    Multipart(mut multipart): Multipart,
) -> Result<Json<Value>> {
    let path = avatar_path(state.config(), &user.user_name)
        .ok_or_else(|| Error::bad_request("This account's name cannot hold an avatar"))?;
    let mut upload = None;
    loop {
        let field = multipart.next_field().await?;
        let Some(field) = field else { break };
        if field.name() == Some("file") {
            upload = Some(field.bytes().await?);
            break;
        }
    }
    let bytes = upload.ok_or_else(|| Error::bad_request("No file was uploaded (field 'file')"))?;
    let png = state
        .avatar_decoder()
        .run(move || reencode_avatar(&bytes))
        .await??;
    tokio::task::spawn_blocking(move || write_atomic(&path, &png)).await??;
    tracing::info!(user = %user.user_name, "avatar changed");
    let record =
        AuditRecord::new(AuditEvent::AvatarChanged, &user.user_name, &user.user_name).ip(&ip);
    state.audit(record).await;
    Ok(Json(
        json!({ "success": true, "profileUrl": "/avatar/user" }),
    ))
}

/// `GET /avatar/user`: the user's avatar, or a generated one.
pub async fn show_avatar(State(state): State<AuthState>, user: CurrentUser) -> Result<Response> {
    if let Some(path) = avatar_path(state.config(), &user.user_name) {
        match tokio::fs::read(&path).await {
            Ok(png) => {
                return Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        crate::views::default_avatar(&user.user_name).into_string(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_passwords() {
        let form: ChangePasswordForm = serde_json::from_str(
            r#"{"currentPassword":"old-secret-1","newPassword":"new-secret-2"}"#,
        )
        .unwrap();
        let shown = format!("{form:?}");
        assert!(
            !shown.contains("old-secret-1") && !shown.contains("new-secret-2"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
