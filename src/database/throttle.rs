//! [`PgThrottle`]: the sign-in throttle's failure counters in the `throttle` table, so that
//! failed sign-ins count toward one throttle whichever instance receives them. Subjects
//! are the throttle's own keys (SHA-256, as hex), never a name or an address.

use super::{db_error, Database};
use crate::error::Result;

/// A counter as the database holds it: failures, and the time of the last one.
pub type Counted = (u32, f64);

/// The shared failure counters of a database.
#[derive(Debug, Clone)]
pub struct PgThrottle {
    database: Database,
}

impl PgThrottle {
    /// The counters of `database`.
    pub fn new(database: &Database) -> Self {
        Self {
            database: database.clone(),
        }
    }

    /// The username's and the address's counters, when they exist.
    pub async fn read(
        &self,
        user: &str,
        address: &str,
    ) -> Result<(Option<Counted>, Option<Counted>)> {
        let rows: Vec<(String, i32, f64)> = sqlx::query_as(
            "SELECT kind, failures, last_failure FROM throttle \
             WHERE (kind = 'user' AND subject = $1) OR (kind = 'address' AND subject = $2)",
        )
        .bind(user)
        .bind(address)
        .fetch_all(self.database.pool())
        .await
        .map_err(db_error)?;
        let mut counts = (None, None);
        for (kind, failures, last) in rows {
            let counted = Some((u32::try_from(failures).unwrap_or(0), last));
            if kind == "user" {
                counts.0 = counted;
            } else {
                counts.1 = counted;
            }
        }
        Ok(counts)
    }

    /// Counts one failure at `now` for the username and the address; a counter gone stale
    /// (a day without failures, or a blocked address on a new day) starts again at one.
    pub async fn add_failure(&self, user: &str, address: &str, now: f64) -> Result<()> {
        sqlx::query(
            "INSERT INTO throttle (kind, subject, failures, last_failure) \
             VALUES ('user', $1, 1, $3), ('address', $2, 1, $3) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
               failures = CASE WHEN $3 - throttle.last_failure > 86400 \
                   OR (throttle.failures >= $4 AND floor($3 / 86400) > floor(throttle.last_failure / 86400)) \
                 THEN 1 ELSE throttle.failures + 1 END, \
               last_failure = $3",
        )
        .bind(user)
        .bind(address)
        .bind(now)
        .bind(i32::try_from(crate::throttle::DAY_BLOCK_FAILURES).unwrap_or(i32::MAX))
        .execute(self.database.pool())
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// Forgets the username's counter (a right password, or an admin unlocking it).
    pub async fn clear_user(&self, user: &str) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE kind = 'user' AND subject = $1")
            .bind(user)
            .execute(self.database.pool())
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
