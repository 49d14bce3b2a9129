//! Legal holds as the run sees them: the subject ids under a hold in force at `as_of`.

use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// Subjects whose hold is in force at `as_of` (no expiry, or expiry after it).
pub async fn in_force(pool: &SqlPool, as_of: DateTime<Utc>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = match pool {
        SqlPool::Pg(p) => {
            sqlx::query_as("SELECT subject FROM retention_holds WHERE until_at IS NULL OR until_at > $1 ORDER BY subject")
                .bind(as_of)
                .fetch_all(p)
                .await
        }
        SqlPool::My(p) => {
            sqlx::query_as("SELECT subject FROM retention_holds WHERE until_at IS NULL OR until_at > ? ORDER BY subject")
                .bind(as_of)
                .fetch_all(p)
                .await
        }
        SqlPool::Lite(p) => {
            sqlx::query_as("SELECT subject FROM retention_holds WHERE until_at IS NULL OR until_at > ? ORDER BY subject")
                .bind(as_of)
                .fetch_all(p)
                .await
        }
    }
    .context("reading legal holds (run `retention migrate` first if the state store is new)")?;
    Ok(rows.into_iter().map(|(s,)| s).collect())
}
