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
            // A binary-collated column reads as VARBINARY in sqlx: read it as text.
            sqlx::query_as(&format!("SELECT {} FROM retention_holds WHERE until_at IS NULL OR until_at > ? ORDER BY subject", pool.dialect().as_text("subject")))
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

/// Holds in force at `as_of`, grouped by reason: how many subjects, and the latest
/// `until` (`None` when any of them is indefinite). For reports: no subject ids.
pub async fn reasons_in_force(
    pool: &SqlPool,
    as_of: DateTime<Utc>,
) -> Result<Vec<crate::report::HoldGroup>> {
    // COUNT(*) - COUNT(until_at) counts the indefinite holds; COUNT is a 64-bit integer
    // on every dialect, which a CASE expression is not.
    const SELECT: &str = "SELECT reason, COUNT(*), COUNT(*) - COUNT(until_at), MAX(until_at) \
         FROM retention_holds WHERE until_at IS NULL OR until_at > ";
    const GROUP: &str = " GROUP BY reason ORDER BY reason";
    type Row = (String, i64, i64, Option<DateTime<Utc>>);
    let rows: Vec<Row> = match pool {
        SqlPool::Pg(p) => {
            sqlx::query_as(&format!("{SELECT}$1{GROUP}"))
                .bind(as_of)
                .fetch_all(p)
                .await
        }
        SqlPool::My(p) => {
            sqlx::query_as(&format!("{SELECT}?{GROUP}"))
                .bind(as_of)
                .fetch_all(p)
                .await
        }
        SqlPool::Lite(p) => {
            sqlx::query_as(&format!("{SELECT}?{GROUP}"))
                .bind(as_of)
                .fetch_all(p)
                .await
        }
    }
    .context("reading the reasons of legal holds")?;
    Ok(rows
        .into_iter()
        .map(|(reason, n, indefinite, until)| crate::report::HoldGroup {
            reason,
            subjects: u64::try_from(n).unwrap_or(0),
            until: if indefinite > 0 { None } else { until },
        })
        .collect())
}
