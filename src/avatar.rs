//! Avatars: uploaded images decoded by content, bounded in size, re-encoded as a small
//! PNG, a few at a time; where they live (`LLMS_HOME/user/<name>/avatar.png`, or the
//! database's `avatars` table: [`Avatars`]).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use image::{ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::database::PgAvatars;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::users::validate_username;

/// Largest avatar image accepted.
pub const AVATAR_LIMIT: usize = 2 * 1024 * 1024;

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

/// Where the avatar of `user_name` lives, when the name can be a folder's (names that
/// cannot, written into the store by hand, have no avatar).
pub fn avatar_path(config: &Config, user_name: &str) -> Option<PathBuf> {
    validate_username(user_name)
        .is_ok()
        .then(|| config.user_dir(user_name).join(AVATAR_FILE))
}

/// Removes the avatar of `user_name`, if any: a later account of the same name must not
/// inherit the picture. Blocking.
pub fn remove_avatar(config: &Config, user_name: &str) {
    if let Some(path) = avatar_path(config, user_name) {
        let _ = std::fs::remove_file(path);
    }
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

/// The avatars (the PNGs uploads were re-encoded to), by account name, in their files or
/// in the database. Names that cannot be a folder's (written into a store by hand) hold
/// none, wherever the avatars live.
#[derive(Debug, Clone)]
pub enum Avatars {
    /// `user/NAME/avatar.png` under the home of this configuration.
    Files(Box<Config>),
    /// The `avatars` table.
    Postgres(PgAvatars),
}

impl Avatars {
    /// The avatar of `user_name`, if one was uploaded.
    pub async fn get(&self, user_name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Self::Files(config) => {
                let Some(path) = avatar_path(config, user_name) else {
                    return Ok(None);
                };
                match tokio::fs::read(&path).await {
                    Ok(png) => Ok(Some(png)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(path, e)),
                }
            }
            Self::Postgres(avatars) => {
                if validate_username(user_name).is_err() {
                    return Ok(None);
                }
                avatars.get(user_name).await
            }
        }
    }

    /// Sets the avatar of `user_name` to `png` (checked and re-encoded already).
    pub async fn put(&self, user_name: &str, png: Vec<u8>) -> Result<()> {
        let cannot = || Error::bad_request("This account's name cannot hold an avatar");
        match self {
            Self::Files(config) => {
                let path = avatar_path(config, user_name).ok_or_else(cannot)?;
                tokio::task::spawn_blocking(move || write_atomic(&path, &png)).await?
            }
            Self::Postgres(avatars) => {
                validate_username(user_name).map_err(|_| cannot())?;
                avatars.put(user_name, &png).await
            }
        }
    }

    /// Removes the avatar of `user_name`, if any: a later account of the same name must
    /// not inherit the picture. A failure is logged.
    pub async fn remove(&self, user_name: &str) {
        let removed = match self {
            Self::Files(config) => {
                let (config, name) = (config.clone(), user_name.to_owned());
                tokio::task::spawn_blocking(move || remove_avatar(&config, &name))
                    .await
                    .map_err(Error::from)
            }
            Self::Postgres(avatars) => avatars.remove(user_name).await.map(|_| ()),
        };
        if let Err(e) = removed {
            tracing::warn!(error = %e, "an avatar could not be removed");
        }
    }
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
