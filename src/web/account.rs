//! Self-service for every signed-in user: password change and avatar.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::avatar::{avatar_path, reencode_avatar};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::providers::credentials;
use crate::request::extract::{JsonBody, Multipart};
use crate::request::RequestFacts;
use crate::text::printable;

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

/// `POST /account/change-password`: checks the current password (through the sign-in
/// throttle), sets the new one, keeps this session and ends the user's others
/// ([`credentials::change_password`]).
pub async fn change_password(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    JsonBody(form): JsonBody<ChangePasswordForm>,
) -> Result<Json<Value>> {
    let current = form.current_password.unwrap_or_default();
    let new = form.new_password.unwrap_or_default();
    credentials::change_password(&ctx, &user, current, new, &facts.client_ip()).await?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /user/avatar`: stores a new avatar from the multipart field `file`.
pub async fn upload_avatar(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    Multipart(mut multipart): Multipart,
) -> Result<Json<Value>> {
    // Refused before the upload is read when the name cannot hold one.
    if avatar_path(ctx.config(), &user.user_name).is_none() {
        return Err(Error::bad_request(
            "This account's name cannot hold an avatar",
        ));
    }
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
    let png = ctx.avatars().run(move || reencode_avatar(&bytes)).await??;
    ctx.avatar_store().put(&user.user_name, png).await?;
    tracing::info!(user = %printable(&user.user_name), "avatar changed");
    let record = AuditRecord::new(AuditEvent::AvatarChanged, &user.user_name, &user.user_name)
        .ip(&facts.client_ip());
    ctx.audit(record).await;
    Ok(Json(
        json!({ "success": true, "profileUrl": "/avatar/user" }),
    ))
}

/// `GET /avatar/user`: the user's avatar, or a generated one.
pub async fn show_avatar(State(ctx): State<AuthContext>, user: CurrentUser) -> Result<Response> {
    if let Some(png) = ctx.avatar_store().get(&user.user_name).await? {
        return Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response());
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
