//! Counting what a selection matches, for the plan and the guard: one scan per target.

use super::dialect::SqlText;
use super::exec::fetch_counts;
use super::pool::{Dialect, SqlPool};
use super::value::Value;
use super::select::PreparedTable;
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

/// Names the inner query's first seven columns `c0`…`c6`, so the outer query can refer to
/// them (the inner SELECT list is built as `COUNT(…), …`).
fn number_columns(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len() + 32);
    let mut depth = 0usize;
    let mut column = 0usize;
    let body = inner.strip_prefix("SELECT ").unwrap_or(inner);
    let from = top_level_from(body);
    let (list, rest) = body.split_at(from);
    for ch in list.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 && column < 6 => {
                out.push_str(&format!(" AS c{column}"));
                column += 1;
            }
            _ => {}
        }
        out.push(ch);
    }
    format!("SELECT {out}{rest}")
}

fn top_level_from(body: &str) -> usize {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && body[i..].starts_with(" FROM ") => return i,
            _ => {}
        }
    }
    body.len()
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
                (Dialect::Sqlite, None) => format!("{}", d.epoch_seconds(&col, c.kind, None) + " " + op + " "),
                _ => format!("{col} {op} "),
            };
            q.push(&format!(", COUNT({col}), COUNT(CASE WHEN {}", cmp(">")))
                .bind(bound(as_of + Duration::days(1)))
                .push(&format!(" THEN 1 END), COUNT(CASE WHEN {}", cmp("<")))
                .bind(bound(epoch_1971()))
                .push(" THEN 1 END), MIN(CASE WHEN ");
            p.actionable(sel, &mut q)?;
            q.push(&format!(" THEN {col} END) AS oldest"));
        }
        None => {
            q.push(", 0, 0, 0, NULL AS oldest");
        }
    }
    q.push(" FROM ").push(&p.from());
    let oldest = match &p.timestamp {
        Some((c, per)) => d.epoch_seconds("x.oldest", c.kind, *per),
        None => "NULL".to_owned(),
    };
    q.sql = format!(
        "SELECT c0, c1, c2, c3, c4, c5, c6, {} FROM ({}) x",
        cast_double(d, &oldest),
        number_columns(&q.sql)
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
