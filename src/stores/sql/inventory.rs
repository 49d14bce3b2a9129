//! Counting what a selection matches, for the plan and the guard: one scan per target.

use super::dialect::SqlText;
use super::exec::fetch_counts;
use super::pool::SqlPool;
use super::select::PreparedTable;
use crate::plan::{Inventory, Selection};
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

/// Timestamps before this (1971-01-01) count as "in 1970" for the unit sanity check.
const EPOCH_1971: f64 = 31_536_000.0;

/// Counts, in one statement, the rows a selection would act on, the held and blocked ones,
/// the oldest matched timestamp and the timestamp sanity figures.
pub async fn inventory(
    pool: &SqlPool,
    p: &PreparedTable,
    sel: &Selection,
    as_of: DateTime<Utc>,
) -> Result<Inventory> {
    let d = p.dialect;
    let mut q = SqlText::new(d);
    q.push("SELECT COUNT(*), COUNT(CASE WHEN ");
    p.actionable(sel, &mut q)?;
    q.push(" THEN 1 END), COUNT(CASE WHEN ");
    p.base(sel, &mut q)?;
    q.push(" AND ");
    p.held(&sel.held, &mut q)?;
    q.push(" THEN 1 END), COUNT(CASE WHEN ");
    p.base(sel, &mut q)?;
    q.push(" AND NOT ");
    p.held(&sel.held, &mut q)?;
    q.push(" AND NOT ");
    p.free(sel, &mut q);
    q.push(" THEN 1 END)");
    let epoch = p
        .timestamp
        .as_ref()
        .map(|(c, per)| d.epoch_seconds(&d.col("t", &c.name), c.kind, *per));
    match &epoch {
        Some(e) => {
            let future = (as_of + Duration::days(1)).timestamp() as f64;
            q.push(&format!(", COUNT({e}), COUNT(CASE WHEN {e} > "))
                .bind(super::value::Value::F64(future))
                .push(&format!(" THEN 1 END), COUNT(CASE WHEN {e} < "))
                .bind(super::value::Value::F64(EPOCH_1971))
                .push(" THEN 1 END), MIN(CASE WHEN ");
            p.actionable(sel, &mut q)?;
            q.push(&format!(" THEN {e} END)"));
        }
        None => {
            q.push(", 0, 0, 0, CAST(NULL AS ");
            q.push(match d {
                super::Dialect::MySql => "DOUBLE)",
                super::Dialect::Postgres => "DOUBLE PRECISION)",
                super::Dialect::Sqlite => "REAL)",
            });
        }
    }
    q.push(" FROM ").push(&p.from());
    let mut conn = pool.acquire().await?;
    let (c, oldest) = fetch_counts(&mut conn.conn(), &q, 7)
        .await
        .with_context(|| format!("counting rows of `{}`", p.target.table))?;
    let n = |i: usize| u64::try_from(c[i]).unwrap_or(0);
    Ok(Inventory {
        total: n(0),
        matched: n(1),
        held: n(2),
        blocked: n(3),
        with_timestamp: n(4),
        in_future: n(5),
        in_1970: n(6),
        oldest: oldest.and_then(|s| DateTime::from_timestamp(s.floor() as i64, 0)),
    })
}
