//! One run at a time per state store (SPEC §6): a row in `retention_lock`.
//!
//! A second run finds the row and exits 4 naming the holder. A holder that died (same
//! host, process gone) or stopped heart-beating for ten minutes is replaced, so a run
//! killed with SIGKILL does not block the next one forever.

use crate::exit::Refusal;
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
        let now = Utc::now();
        let pg = "UPDATE retention_lock SET heartbeat_at = $1 WHERE name = $2 AND run_id = $3";
        let my = "UPDATE retention_lock SET heartbeat_at = ? WHERE name = ? AND run_id = ?";
        let (name, run) = (&self.name, &self.run_id);
        match &self.pool {
            SqlPool::Pg(p) => sqlx::query(pg)
                .bind(now)
                .bind(name)
                .bind(run)
                .execute(p)
                .await
                .map(drop),
            SqlPool::My(p) => sqlx::query(my)
                .bind(now)
                .bind(name)
                .bind(run)
                .execute(p)
                .await
                .map(drop),
            SqlPool::Lite(p) => sqlx::query(pg)
                .bind(now)
                .bind(name)
                .bind(run)
                .execute(p)
                .await
                .map(drop),
        }
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
    let q = "INSERT INTO retention_lock (name, run_id, holder, acquired_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)";
    let qm = "INSERT INTO retention_lock (name, run_id, holder, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)";
    let r = match pool {
        SqlPool::Pg(p) => sqlx::query(q)
            .bind(name)
            .bind(run_id)
            .bind(holder)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
        SqlPool::My(p) => sqlx::query(qm)
            .bind(name)
            .bind(run_id)
            .bind(holder)
            .bind(now)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
        SqlPool::Lite(p) => sqlx::query(q)
            .bind(name)
            .bind(run_id)
            .bind(holder)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
    };
    match r {
        Ok(()) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(
            "taking the run lock (run `retention migrate` first if the state store is new)",
        )),
    }
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
    let pg = "DELETE FROM retention_lock WHERE name = $1 AND run_id = $2";
    let my = "DELETE FROM retention_lock WHERE name = ? AND run_id = ?";
    match pool {
        SqlPool::Pg(p) => sqlx::query(pg)
            .bind(name)
            .bind(run_id)
            .execute(p)
            .await
            .map(drop),
        SqlPool::My(p) => sqlx::query(my)
            .bind(name)
            .bind(run_id)
            .execute(p)
            .await
            .map(drop),
        SqlPool::Lite(p) => sqlx::query(pg)
            .bind(name)
            .bind(run_id)
            .execute(p)
            .await
            .map(drop),
    }
    .context("releasing the run lock")
}
