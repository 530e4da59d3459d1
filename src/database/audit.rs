//! [`PgAuditLog`]: the audit log as rows of the `audit_log` table, one per event, from
//! every instance; the newest read back for Manage Users as the file's tail is.

use super::{db_error, Database};
use crate::audit::AuditRecord;
use crate::error::{Error, Result};

/// The audit log of a database.
#[derive(Debug, Clone)]
pub struct PgAuditLog {
    database: Database,
}

impl PgAuditLog {
    /// The log of `database`.
    pub fn new(database: &Database) -> Self {
        Self {
            database: database.clone(),
        }
    }

    /// Appends one record.
    pub async fn append(&self, record: &AuditRecord) -> Result<()> {
        let json = serde_json::to_value(record)
            .map_err(|e| Error::Internal(anyhow::anyhow!("serializing an audit record: {e}")))?;
        sqlx::query("INSERT INTO audit_log (time, record) VALUES ($1, $2)")
            .bind(record.time)
            .bind(json)
            .execute(self.database.pool())
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Appends, logging (not failing) on error: auditing never blocks the action itself.
    pub async fn append_or_warn(&self, record: &AuditRecord) {
        if let Err(e) = self.append(record).await {
            tracing::warn!(error = %e, "could not write the audit log");
        }
    }

    /// The last `count` records, oldest first (rows that no longer read are skipped).
    pub async fn tail(&self, count: usize) -> Result<Vec<AuditRecord>> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT record FROM (SELECT id, record FROM audit_log ORDER BY id DESC LIMIT $1) last \
             ORDER BY id",
        )
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .fetch_all(self.database.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect())
    }
}
