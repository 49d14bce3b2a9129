//! The `retention_runs` table: one row per real run, and the clock check made at its start.

use crate::stores::sql::dialect::{placeholder_or_null, SqlText};
use crate::stores::sql::value::Value;
use crate::stores::sql::SqlPool;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};

/// Records a run's start.
pub async fn start(
    pool: &SqlPool,
    id: &str,
    as_of: DateTime<Utc>,
    command: &str,
    shard: Option<String>,
) -> Result<()> {
    let (shard_sql, shard) = placeholder_or_null(shard.map(Value::Text));
    let mut values = vec![
        Value::Text(id.to_owned()),
        Value::Instant(Utc::now()),
        Value::Instant(as_of),
        Value::Text(command.to_owned()),
    ];
    values.extend(shard);
    let q = SqlText::statement(
        pool.dialect(),
        &format!("INSERT INTO retention_runs (id, started_at, as_of, status, command, shard) VALUES (?, ?, ?, 'running', ?, {shard_sql})"),
        values,
    );
    pool.execute(&q)
        .await
        .map(drop)
        .context("recording the run's start")
}

/// Records a run's end and status (`done`, `failed`, `refused`, `interrupted`).
pub async fn finish(pool: &SqlPool, id: &str, status: &str) -> Result<()> {
    let q = SqlText::statement(
        pool.dialect(),
        "UPDATE retention_runs SET finished_at = ?, status = ? WHERE id = ?",
        vec![
            Value::Instant(Utc::now()),
            Value::Text(status.to_owned()),
            Value::Text(id.to_owned()),
        ],
    );
    pool.execute(&q)
        .await
        .map(drop)
        .context("recording the run's end")
}

/// The largest clock difference a run accepts between itself and a database (SPEC §6).
pub const MAX_SKEW_SECONDS: i64 = 60;

/// Refuses to start when a database's clock and ours disagree by more than a minute.
/// SQLite shares our clock and is not asked.
pub async fn check_clock(store: &str, pool: &SqlPool, ours: DateTime<Utc>) -> Result<()> {
    let theirs: DateTime<Utc> = match pool {
        SqlPool::Pg(p) => sqlx::query_scalar("SELECT now()").fetch_one(p).await?,
        SqlPool::My(p) => {
            let n: NaiveDateTime = sqlx::query_scalar("SELECT UTC_TIMESTAMP(6)")
                .fetch_one(p)
                .await?;
            n.and_utc()
        }
        SqlPool::Lite(_) => return Ok(()),
    };
    let skew = (theirs - ours).num_seconds().abs();
    if skew > MAX_SKEW_SECONDS {
        bail!(
            "store `{store}`: the database clock and this host's clock differ by {skew} s (more than {MAX_SKEW_SECONDS} s); \
             fix NTP on one of them before running, or cutoffs would be wrong"
        );
    }
    Ok(())
}
