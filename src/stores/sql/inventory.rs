//! Counting what a selection matches, for the plan and the guard: one scan per target.

use super::dialect::SqlText;
use super::exec::fetch_counts;
use super::pool::{Dialect, SqlPool};
use super::select::PreparedTable;
use super::value::Value;
use crate::audit::Reason;
use crate::plan::{Inventory, Selection};
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

/// Timestamps before this (1971-01-01) count as "in 1970" for the unit sanity check.
fn epoch_1971() -> DateTime<Utc> {
    DateTime::from_timestamp(31_536_000, 0).unwrap_or_default()
}

fn cast_double(d: Dialect, expr: &str) -> String {
    match d {
        Dialect::MySql => format!("CAST({expr} AS DOUBLE)"),
        Dialect::Postgres => format!("CAST({expr} AS DOUBLE PRECISION)"),
        Dialect::Sqlite => format!("CAST({expr} AS REAL)"),
    }
}

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
    q.push("SELECT COUNT(*) AS c0, COUNT(CASE WHEN ");
    p.actionable(sel, &mut q)?;
    q.push(" THEN 1 END) AS c1, COUNT(CASE WHEN ");
    p.base(sel, &mut q)?;
    q.push(" AND ");
    p.held(&sel.held, &mut q)?;
    q.push(" THEN 1 END) AS c2, COUNT(CASE WHEN ");
    p.base(sel, &mut q)?;
    q.push(" AND NOT ");
    p.held(&sel.held, &mut q)?;
    q.push(" AND NOT ");
    p.free(sel, &mut q);
    q.push(" THEN 1 END) AS c3");
    // Sanity counts compare the column with typed bounds (no per-row conversion); only
    // the oldest matched value is converted to epoch seconds, once, outside the scan.
    match &p.timestamp {
        Some((c, per)) => {
            let col = d.col("t", &c.name);
            let bound = |t: DateTime<Utc>| match per {
                Some(k) => Value::I64(t.timestamp_micros().div_euclid(1_000_000 / k)),
                None if d == Dialect::Sqlite => Value::F64(t.timestamp() as f64),
                None => c.kind.instant(t),
            };
            let cmp = |op: &str| match (d, per) {
                (Dialect::Sqlite, None) => format!("{} {op} ", d.epoch_seconds(&col, c.kind, None)),
                _ => format!("{col} {op} "),
            };
            q.push(&format!(
                ", COUNT({col}) AS c4, COUNT(CASE WHEN {}",
                cmp(">")
            ))
            .bind(bound(as_of + Duration::days(1)))
            .push(&format!(" THEN 1 END) AS c5, COUNT(CASE WHEN {}", cmp("<")))
            .bind(bound(epoch_1971()))
            .push(" THEN 1 END) AS c6, MIN(CASE WHEN ");
            p.actionable(sel, &mut q)?;
            q.push(&format!(" THEN {col} END) AS oldest"));
        }
        None => {
            // COUNT(NULL) rather than a literal 0: the counts decode as 64-bit integers on
            // every dialect, and PostgreSQL types a bare 0 as a 32-bit one.
            q.push(", COUNT(NULL) AS c4, COUNT(NULL) AS c5, COUNT(NULL) AS c6, NULL AS oldest");
        }
    }
    q.push(" FROM ").push(&p.from());
    if sel.reason == Reason::Request {
        // An erasure request counts only the subject's rows, through the subject index:
        // the guard does not judge requests by their share of the table, so a full scan
        // for the total would only make one erasure cost as much as the table is large.
        q.push(" WHERE ");
        p.base(sel, &mut q)?;
    }
    let oldest = match &p.timestamp {
        Some((c, per)) => d.epoch_seconds("x.oldest", c.kind, *per),
        None => "NULL".to_owned(),
    };
    q.sql = format!(
        "SELECT c0, c1, c2, c3, c4, c5, c6, {} FROM ({}) x",
        cast_double(d, &oldest),
        q.sql
    );
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
