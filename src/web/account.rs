//! Self-service for every signed-in user: password change and avatar.

use std::io::Cursor;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use image::{ImageFormat, ImageReader, Limits};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::extract::ClientIp;
use crate::fsutil::write_atomic;
use crate::password::check_password_rules;
use crate::provider::CurrentUser;
use crate::state::AuthState;
use crate::throttle::Throttled;
use crate::users::{now_secs, validate_username};
use crate::web::extract::Multipart;
use crate::web::json::JsonBody;
use crate::web::AVATAR_LIMIT;

/// The avatar's file name inside `user/<name>/`.
pub const AVATAR_FILE: &str = "avatar.png";

/// Longest side of a stored avatar.
pub const AVATAR_SIZE: u32 = 256;

/// Largest width and height of an uploaded image that is decoded at all.
pub const AVATAR_MAX_SIDE: u32 = 2048;

/// Most memory one decode may allocate.
pub const AVATAR_MAX_ALLOC: u64 = 32 * 1024 * 1024;

/// How many avatars are decoded at once (each may take [`AVATAR_MAX_ALLOC`]).
pub const AVATAR_DECODERS: usize = 2;

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
    // A small file can claim a huge picture: it is refused from its header, before any
    // pixel is allocated.
    limits.max_image_width = Some(AVATAR_MAX_SIDE);
    limits.max_image_height = Some(AVATAR_MAX_SIDE);
    limits.max_alloc = Some(AVATAR_MAX_ALLOC);
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

/// Runs avatar decoding on the blocking pool, at most a few at a time, so that a burst of
/// uploads cannot take [`AVATAR_MAX_ALLOC`] each at once. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AvatarDecoder {
    slots: Arc<Semaphore>,
}

impl AvatarDecoder {
    /// A decoder that runs at most `slots` jobs at once.
    pub fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// Runs `job` on the blocking pool once a slot is free. The slot is held by the job
    /// itself: an upload whose client went away keeps it until its decoding has ended.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("avatar decoder closed: {e}")))?;
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            job()
        })
        .await?)
    }
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
    fn images_larger_than_the_bound_are_not_decoded() {
        assert!(reencode_avatar(&png(AVATAR_MAX_SIDE, 8)).is_ok());
        for (width, height) in [(AVATAR_MAX_SIDE + 1, 1), (1, AVATAR_MAX_SIDE + 1)] {
            assert!(
                matches!(
                    reencode_avatar(&png(width, height)),
                    Err(Error::BadRequest(_))
                ),
                "{width}x{height}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_given_number_of_decodes_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let decoder = AvatarDecoder::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let (decoder, running, peak) = (decoder.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    decoder
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(40));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_upload_keeps_its_slot_until_its_decode_ends() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let decoder = AvatarDecoder::new(1);
        let first_done = Arc::new(AtomicBool::new(false));
        let done = first_done.clone();
        let first = tokio::spawn({
            let decoder = decoder.clone();
            async move {
                decoder
                    .run(move || {
                        std::thread::sleep(std::time::Duration::from_millis(150));
                        done.store(true, Ordering::SeqCst);
                    })
                    .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        // The client goes away: the request's future is dropped mid-decode.
        first.abort();
        let saw_first_done = decoder
            .run(move || first_done.load(Ordering::SeqCst))
            .await
            .unwrap();
        assert!(saw_first_done, "a second decode started beside the first");
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
