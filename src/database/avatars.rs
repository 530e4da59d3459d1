//! [`PgAvatars`]: each account's avatar (the PNG an upload was re-encoded to), by name,
//! as the file store keeps `user/NAME/avatar.png`.

use super::{db_error, Database};
use crate::error::Result;
use crate::time::now_secs;

/// The avatars of a database.
#[derive(Debug, Clone)]
pub struct PgAvatars {
    database: Database,
}

impl PgAvatars {
    /// The avatars of `database`.
    pub fn new(database: &Database) -> Self {
        Self {
            database: database.clone(),
        }
    }

    /// `username`'s avatar, if one was uploaded.
    pub async fn get(&self, username: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT image FROM avatars WHERE username = $1")
            .bind(username)
            .fetch_optional(self.database.pool())
            .await
            .map_err(db_error)
    }

    /// Sets `username`'s avatar to `png` (already checked and re-encoded).
    pub async fn put(&self, username: &str, png: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO avatars (username, image, updated) VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO UPDATE SET image = excluded.image, updated = excluded.updated",
        )
        .bind(username)
        .bind(png)
        .bind(now_secs())
        .execute(self.database.pool())
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// Removes `username`'s avatar (the account was deleted); whether there was one.
    pub async fn remove(&self, username: &str) -> Result<bool> {
        let removed = sqlx::query("DELETE FROM avatars WHERE username = $1")
            .bind(username)
            .execute(self.database.pool())
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(removed > 0)
    }
}
