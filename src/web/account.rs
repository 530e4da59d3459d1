//! Self-service for every signed-in user: password change and avatar.

use std::io::Cursor;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use image::{ImageFormat, ImageReader, Limits};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::extract::ClientIp;
use crate::fsutil::write_atomic;
use crate::password::check_password_rules;
use crate::provider::CurrentUser;
use crate::state::AuthState;
use crate::users::validate_username;
use crate::web::extract::Multipart;
use crate::web::json::JsonBody;
use crate::web::AVATAR_LIMIT;

/// The avatar's file name inside `user/<name>/`.
pub const AVATAR_FILE: &str = "avatar.png";

/// Longest side of a stored avatar.
pub const AVATAR_SIZE: u32 = 256;

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
    let verified = state.hasher().verify(current, Some(stored.clone())).await?;
    if !verified.is_match() {
        return Err(Error::bad_request("Current password is incorrect"));
    }
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

/// Decodes an uploaded image (PNG, JPEG, GIF or WebP by content), bounded in size, and
/// re-encodes it as a PNG that fits in [`AVATAR_SIZE`] pixels.
pub fn reencode_avatar(bytes: &[u8]) -> Result<Vec<u8>> {
    const NOT_AN_IMAGE: &str = "The avatar must be a PNG, JPEG, GIF or WebP image";
    if bytes.len() > AVATAR_LIMIT {
        return Err(Error::PayloadTooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| Error::bad_request(NOT_AN_IMAGE))?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(Error::bad_request(NOT_AN_IMAGE));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // A small file can claim a huge picture: decoding is bounded to 4096 x 4096 pixels.
    limits.max_image_width = Some(4096);
    limits.max_image_height = Some(4096);
    limits.max_alloc = Some(80 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|_| Error::bad_request("The image could not be read (damaged or too large)"))?;
    let image = if image.width() > AVATAR_SIZE || image.height() > AVATAR_SIZE {
        image.resize(
            AVATAR_SIZE,
            AVATAR_SIZE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding avatar: {e}")))?;
    Ok(png)
}

/// `POST /user/avatar`: stores a new avatar from the multipart field `file`.
pub async fn upload_avatar(
    State(state): State<AuthState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    Multipart(mut multipart): Multipart,
) -> Result<Json<Value>> {
    validate_username(&user.user_name)
        .map_err(|_| Error::bad_request("This account's name cannot hold an avatar"))?;
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
    let path = state.config().user_dir(&user.user_name).join(AVATAR_FILE);
    tokio::task::spawn_blocking(move || {
        let png = reencode_avatar(&bytes)?;
        write_atomic(&path, &png)
    })
    .await??;
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
    if validate_username(&user.user_name).is_ok() {
        let path = state.config().user_dir(&user.user_name).join(AVATAR_FILE);
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

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

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

    #[test]
    fn large_images_are_scaled_into_bounds() {
        let out = reencode_avatar(&png(1024, 512)).unwrap();
        let decoded = image::load_from_memory(&out).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }

    #[test]
    fn non_images_are_refused() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(matches!(reencode_avatar(svg), Err(Error::BadRequest(_))));
        assert!(matches!(
            reencode_avatar(b"hello"),
            Err(Error::BadRequest(_))
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(40);
        assert!(matches!(
            reencode_avatar(&truncated),
            Err(Error::BadRequest(_))
        ));
    }
}
