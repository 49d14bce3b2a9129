//! One run at a time per state store (SPEC §6): a row in `retention_lock`.
//!
//! A second run finds the row and exits 4 naming the holder. A holder that died (same
//! host, process gone) or stopped heart-beating for ten minutes is replaced, so a run
//! killed with SIGKILL does not block the next one forever.

use crate::exit::Refusal;
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::is_unique_violation;
use crate::stores::sql::value::Value;
use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

/// A held run lock; release it with [`RunLock::release`].
pub struct RunLock {
    pool: SqlPool,
    name: String,
    run_id: String,
}

/// How long a lock may go without a heartbeat before another run may take it.
const STALE_AFTER_MINUTES: i64 = 10;

fn holder() -> String {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host}:{}", std::process::id())
}

/// Whether `holder` (host:pid) names a process on this host that no longer exists.
fn holder_is_dead(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let this_host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    host == this_host && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl RunLock {
    /// Takes the lock named `name` for `run_id`, or fails with exit 4 naming the holder.
    pub async fn acquire(pool: &SqlPool, name: &str, run_id: &str) -> Result<RunLock> {
        let now = Utc::now();
        for _ in 0..2 {
            if insert(pool, name, run_id, &holder(), now).await? {
                return Ok(RunLock {
                    pool: pool.clone(),
                    name: name.into(),
                    run_id: run_id.into(),
                });
            }
            let Some((other_run, other_holder, heartbeat)) = current(pool, name).await? else {
                continue;
            };
            let stale = heartbeat < now - Duration::minutes(STALE_AFTER_MINUTES);
            if stale || holder_is_dead(&other_holder) {
                tracing::warn!(lock = name, run = %other_run, "Taking over a lock whose run has died.");
                remove(pool, name, &other_run).await?;
                continue;
            }
            return Err(Refusal::Locked(format!(
                "another run holds the lock `{name}`: run {other_run} on {other_holder}, last seen {}; \
                 wait for it to finish (or, if it is gone, for its lock to go stale after {STALE_AFTER_MINUTES} minutes)",
                crate::time::rfc3339(heartbeat)
            ))
            .into());
        }
        Err(Refusal::Locked(format!(
            "could not take the lock `{name}`: it changed hands twice"
        ))
        .into())
    }

    /// Records that the run is alive.
    pub async fn heartbeat(&self) -> Result<()> {
        let q = SqlText::statement(
            self.pool.dialect(),
            "UPDATE retention_lock SET heartbeat_at = ? WHERE name = ? AND run_id = ?",
            vec![
                Value::Instant(Utc::now()),
                Value::Text(self.name.clone()),
                Value::Text(self.run_id.clone()),
            ],
        );
        self.pool
            .execute(&q)
            .await
            .map(drop)
            .context("updating the run lock's heartbeat")
    }

    pub async fn release(self) -> Result<()> {
        remove(&self.pool, &self.name, &self.run_id).await
    }
}

async fn insert(
    pool: &SqlPool,
    name: &str,
    run_id: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let q = SqlText::statement(
        pool.dialect(),
        "INSERT INTO retention_lock (name, run_id, holder, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
        vec![
            Value::Text(name.to_owned()),
            Value::Text(run_id.to_owned()),
            Value::Text(holder.to_owned()),
            Value::Instant(now),
            Value::Instant(now),
        ],
    );
    match pool.execute(&q).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.context(
            "taking the run lock (run `retention migrate` first if the state store is new)",
        )),
    }
}

/// The runs holding a lock now (their heartbeat within the stale window), by id.
pub async fn runs_in_progress(pool: &SqlPool) -> Result<Vec<String>> {
    let q = "SELECT run_id, holder, heartbeat_at FROM retention_lock";
    let rows: Vec<(String, String, DateTime<Utc>)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(q).fetch_all(p).await,
        SqlPool::My(p) => sqlx::query_as(q).fetch_all(p).await,
        SqlPool::Lite(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .context("reading the run lock")?;
    let fresh = Utc::now() - Duration::minutes(STALE_AFTER_MINUTES);
    Ok(rows
        .into_iter()
        .filter(|(_, holder, beat)| *beat >= fresh && !holder_is_dead(holder))
        .map(|(run, _, _)| run)
        .collect())
}

async fn current(pool: &SqlPool, name: &str) -> Result<Option<(String, String, DateTime<Utc>)>> {
    let q = "SELECT run_id, holder, heartbeat_at FROM retention_lock WHERE name = $1";
    match pool {
        SqlPool::Pg(p) => sqlx::query_as(q).bind(name).fetch_optional(p).await,
        SqlPool::My(p) => {
            sqlx::query_as(&q.replace("$1", "?"))
                .bind(name)
                .fetch_optional(p)
                .await
        }
        SqlPool::Lite(p) => sqlx::query_as(q).bind(name).fetch_optional(p).await,
    }
    .context("reading the run lock")
}

async fn remove(pool: &SqlPool, name: &str, run_id: &str) -> Result<()> {
    let q = SqlText::statement(
        pool.dialect(),
        "DELETE FROM retention_lock WHERE name = ? AND run_id = ?",
        vec![Value::Text(name.to_owned()), Value::Text(run_id.to_owned())],
    );
    pool.execute(&q)
        .await
        .map(drop)
        .context("releasing the run lock")
}
