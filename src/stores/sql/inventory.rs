//! Counting what a selection matches, for the plan and the guard: one scan per target.

use super::dialect::SqlText;
use super::exec::fetch_counts;
use super::pool::{Dialect, SqlPool};
use super::select::{Earlier, PreparedTable, TypedColumn, T};
use super::value::Value;
use crate::audit::Reason;
use crate::plan::{Inventory, Selection};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// Timestamps after this (9999-12-31T23:59:59Z) count as "in the future" for the unit
/// sanity check.
fn end_of_calendar() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default()
}

/// Timestamps before this (1971-01-01) count as "in 1970" for the unit sanity check.
fn epoch_1971() -> DateTime<Utc> {
    DateTime::from_timestamp(31_536_000, 0).unwrap_or_default()
}

pub fn cast_double(d: Dialect, expr: &str) -> String {
    match d {
        Dialect::MySql => format!("CAST({expr} AS DOUBLE)"),
        Dialect::Postgres => format!("CAST({expr} AS DOUBLE PRECISION)"),
        Dialect::Sqlite => format!("CAST({expr} AS REAL)"),
    }
}

/// Whether the counts can come from the timestamp's index: an expiry pass over an
/// indexed timestamp that the database compares directly (not SQLite text timestamps,
/// compared through `julianday()`). Then the matched rows are an index range and the
/// sanity counts are index probes, so only the total needs a pass over the table —
/// and `COUNT(*)` alone is the cheapest pass there is.
fn index_friendly(p: &PreparedTable, sel: &Selection) -> bool {
    let direct = match &p.timestamp {
        Some((_, per)) => per.is_some() || p.dialect != Dialect::Sqlite,
        None => false,
    };
    direct && p.timestamp_indexed && sel.reason == Reason::Expired
}

/// How exactly an inventory counts the table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Exactly: a plan reports it.
    Exact,
    /// At least: where an exact total would take a pass over the whole table, the rows
    /// the other counts saw stand in for it (the expired rows or those in 1970, whichever
    /// are more, plus those in the future and those without a timestamp — disjoint
    /// sets). The guard refuses no more readily on a larger total, so its verdict on
    /// this lower bound can only be stricter.
    AtLeast,
}

/// Counts, in one statement, the rows a selection would act on (once the `earlier` passes
/// of the same run have deleted theirs), the held and locked ones,
/// the oldest matched timestamp and the timestamp sanity figures. Also says how the total
/// was counted: a scan of the whole table counts it exactly whatever was asked.
pub async fn inventory(
    pool: &SqlPool,
    p: &PreparedTable,
    sel: &Selection,
    earlier: &[Earlier<'_>],
    total: Total,
) -> Result<(Inventory, Total)> {
    let d = p.dialect;
    let (mut q, counted) = if index_friendly(p, sel) {
        (indexed_counts(p, sel, earlier, total)?, total)
    } else {
        (one_scan(p, sel, earlier)?, Total::Exact)
    };
    let oldest = match &p.timestamp {
        Some((c, per)) => d.epoch_seconds("x.oldest", c.kind, *per),
        None => "NULL".to_owned(),
    };
    q.sql = format!(
        "SELECT c0, c1, c2, c3, c4, c5, c6, c7, {} FROM ({}) x",
        cast_double(d, &oldest),
        q.sql
    );
    let mut conn = pool.acquire().await?;
    let (c, oldest) = fetch_counts(&mut conn.conn(), &q, 8)
        .await
        .with_context(|| format!("counting rows of `{}`", p.target.table))?;
    let n = |i: usize| u64::try_from(c[i]).unwrap_or(0);
    let inv = Inventory {
        total: n(0),
        matched: n(1),
        held: n(2),
        locked: n(3),
        with_timestamp: n(4),
        in_future: n(5),
        in_1970: n(6),
        unreadable: n(7),
        oldest: oldest.and_then(|s| DateTime::from_timestamp(s.floor() as i64, 0)),
    };
    Ok((inv, counted))
}

/// Compares the timestamp column with instants: typed bounds, so the database converts
/// nothing per row (SQLite text timestamps excepted, which only compare as epoch seconds).
struct Bounds<'a> {
    d: Dialect,
    column: &'a TypedColumn,
    per_second: Option<i64>,
}

impl Bounds<'_> {
    fn value(&self, t: DateTime<Utc>) -> Value {
        match self.per_second {
            Some(k) => Value::I64(t.timestamp_micros().div_euclid(1_000_000 / k)),
            None if self.d == Dialect::Sqlite => Value::F64(t.timestamp() as f64),
            None => self.column.kind.instant(t),
        }
    }

    /// The unit sanity check's "in the future": after the year 9999, where no calendar
    /// date is — for integer epochs only, as "in 1970": milliseconds read as seconds put
    /// today in the year 58,000. Timestamps merely ahead of the clock are no sign of a
    /// wrong unit: a sessions table dated by its expiry is mostly in the future once its
    /// expired rows are gone, and a native date or time has no unit.
    fn in_future(&self, q: &mut SqlText) {
        if self.per_second.is_none() {
            q.push("1 = 0");
            return;
        }
        q.push(&self.compare(">"))
            .bind(self.value(end_of_calendar()));
    }

    /// The unit sanity check's "in 1970": before 1971-01-01 — for integer epochs only,
    /// whose unit can be wrong (seconds read as milliseconds land in January 1970). A
    /// native date or time has no unit: a table of 1960s dates is not suspect.
    fn in_1970(&self, q: &mut SqlText) {
        if self.per_second.is_none() {
            q.push("1 = 0");
            return;
        }
        q.push(&self.compare("<")).bind(self.value(epoch_1971()));
    }

    /// `column OP ` (the bound follows).
    fn compare(&self, op: &str) -> String {
        let col = self.d.col(T, &self.column.name);
        match (self.d, self.per_second) {
            (Dialect::Sqlite, None) => format!(
                "{} {op} ",
                self.d.epoch_seconds(&col, self.column.kind, None)
            ),
            _ => format!("{col} {op} "),
        }
    }
}

/// The general case: one scan of the table computing every count at once.
fn one_scan(p: &PreparedTable, sel: &Selection, earlier: &[Earlier<'_>]) -> Result<SqlText> {
    let d = p.dialect;
    let mut q = SqlText::new(d);
    q.push("SELECT COUNT(*) AS c0, ");
    selection_counts(p, sel, earlier, &mut q)?;
    // Sanity counts compare the column with typed bounds (no per-row conversion); only
    // the oldest matched value is converted to epoch seconds, once, outside the scan.
    match &p.timestamp {
        Some((c, per)) => {
            let b = Bounds {
                d,
                column: c,
                per_second: *per,
            };
            // The unit check judges readable timestamps only: an unreadable one (never
            // expires, counted in c7) says nothing about the unit.
            let col = d.col(T, &c.name);
            q.push(&format!(", COUNT(CASE WHEN {col} IS NOT NULL AND "));
            readable(p, &mut q);
            q.push(" THEN 1 END) AS c4, COUNT(CASE WHEN ");
            b.in_future(&mut q);
            q.push(" AND ");
            readable(p, &mut q);
            q.push(" THEN 1 END) AS c5, COUNT(CASE WHEN ");
            b.in_1970(&mut q);
            q.push(" AND ");
            readable(p, &mut q);
            q.push(" THEN 1 END) AS c6, COUNT(CASE WHEN ");
            p.unreadable(&mut q);
            q.push(" THEN 1 END) AS c7");
        }
        None => {
            // COUNT(NULL) rather than a literal 0: the counts decode as 64-bit integers on
            // every dialect, and PostgreSQL types a bare 0 as a 32-bit one.
            q.push(", COUNT(NULL) AS c4, COUNT(NULL) AS c5, COUNT(NULL) AS c6, COUNT(NULL) AS c7");
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
    Ok(q)
}

/// `NOT ((unreadable) IS TRUE)`: the row's timestamp reads as a time (or is NULL).
fn readable(p: &PreparedTable, q: &mut SqlText) {
    q.push("NOT ((");
    p.unreadable(q);
    q.push(") IS TRUE)");
}

/// What the selection finds, over whichever rows the caller's `FROM … WHERE` reads:
/// `c1` the rows to act on, `c2` the held ones, `c3` the locked ones, and `oldest` the
/// oldest timestamp among the rows to act on (NULL without a timestamp column).
fn selection_counts(
    p: &PreparedTable,
    sel: &Selection,
    earlier: &[Earlier<'_>],
    q: &mut SqlText,
) -> Result<()> {
    q.push("COUNT(CASE WHEN ");
    p.actionable_after(sel, earlier, q)?;
    q.push(" THEN 1 END) AS c1, COUNT(CASE WHEN ");
    p.base(sel, q)?;
    q.push(" AND ");
    p.held(&sel.held, q)?;
    q.push(" THEN 1 END) AS c2, COUNT(CASE WHEN ");
    p.base(sel, q)?;
    q.push(" AND NOT ");
    p.held(&sel.held, q)?;
    q.push(" AND NOT ");
    p.free_after(sel, earlier, q);
    q.push(" THEN 1 END) AS c3, ");
    match &p.timestamp {
        Some((c, _)) => {
            q.push("MIN(CASE WHEN ");
            p.actionable_after(sel, earlier, q)?;
            q.push(&format!(
                " THEN {} END) AS oldest",
                p.dialect.col(T, &c.name)
            ));
        }
        None => {
            q.push("NULL AS oldest");
        }
    }
    Ok(())
}

/// Whether no row of the selection can be held (no holds, or no subject column) or kept
/// by a foreign key (not a delete, or no foreign key references the table): the
/// rows to act on are then exactly the rows the base conditions read.
fn nothing_held_or_locked(p: &PreparedTable, sel: &Selection) -> bool {
    (sel.held.is_empty() || p.subject.is_none())
        && (sel.action != crate::rules::Action::Delete || p.referencing.is_empty())
}

/// The indexed case: the same figures as [`one_scan`], each from the cheapest source —
/// the matched, held and locked counts from the index range of expired rows, the
/// sanity counts from index probes, the total from a bare `COUNT(*)` (or, for
/// [`Total::AtLeast`], from the other counts). Scalar subqueries of one statement, so
/// every figure comes from the same snapshot.
fn indexed_counts(
    p: &PreparedTable,
    sel: &Selection,
    earlier: &[Earlier<'_>],
    total: Total,
) -> Result<SqlText> {
    let d = p.dialect;
    let (c, per) = p
        .timestamp
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("an expiry pass needs a timestamp column"))?;
    let col = d.col(T, &c.name);
    let from = p.from();
    let b = Bounds {
        d,
        column: c,
        per_second: *per,
    };
    let mut q = SqlText::new(d);
    let scanned = match total {
        Total::Exact => format!("(SELECT COUNT(*) FROM {from})"),
        Total::AtLeast => "NULL".to_owned(),
    };
    // A NOT NULL column has no NULLs to count — and MySQL/MariaDB would answer `IS NULL`
    // on a NOT NULL date column with its zero dates, which the single scan counts as
    // dated (and in 1970), as they are.
    let nulls = match c.nullable {
        true => format!("(SELECT COUNT(*) FROM {from} WHERE {col} IS NULL)"),
        false => "0".to_owned(),
    };
    q.push(&format!(
        "SELECT {scanned} AS c0, m.c1, m.c2, m.c3, {nulls} AS nulls, \
         (SELECT COUNT(*) FROM {from} WHERE "
    ));
    b.in_future(&mut q);
    q.push(" AND ");
    readable(p, &mut q);
    q.push(&format!(") AS c5, (SELECT COUNT(*) FROM {from} WHERE "));
    b.in_1970(&mut q);
    q.push(" AND ");
    readable(p, &mut q);
    q.push(&format!(") AS c6, (SELECT COUNT(*) FROM {from} WHERE "));
    p.unreadable(&mut q);
    q.push(") AS c7, m.oldest FROM (SELECT ");
    if nothing_held_or_locked(p, sel) {
        // Every row the range reads is one to act on: count the range, no per-row test.
        let zero = match d {
            Dialect::MySql => "CAST(0 AS SIGNED)",
            _ => "CAST(0 AS BIGINT)",
        };
        q.push(&format!(
            "COUNT(*) AS c1, {zero} AS c2, {zero} AS c3, MIN({col}) AS oldest"
        ));
    } else {
        selection_counts(p, sel, earlier, &mut q)?;
    }
    q.push(&format!(" FROM {from} WHERE "));
    p.base(sel, &mut q)?;
    q.push(") m");
    // The outer statement reads `c4`: rows with a timestamp are the total less the NULLs.
    // At least: the expired rows (those in 1970 among them, which may outnumber the ones
    // the selection's filters keep) and, disjoint from them, those in the future and the
    // NULLs.
    let dated = "(CASE WHEN c6 > c1 + c2 + c3 THEN c6 ELSE c1 + c2 + c3 END) + c5";
    let (c0, c4) = match total {
        Total::Exact => ("c0".to_owned(), "c0 - nulls - c7".to_owned()),
        Total::AtLeast => (format!("{dated} + nulls"), dated.to_owned()),
    };
    q.sql = format!(
        "SELECT {c0} AS c0, c1, c2, c3, {c4} AS c4, c5, c6, c7, oldest FROM ({}) y",
        q.sql
    );
    Ok(q)
}

/// How many rows of the table hold a timestamp the tool cannot read as a time (they never
/// expire); 0 without a native timestamp column. For `check --connect`.
pub async fn unreadable(pool: &SqlPool, p: &PreparedTable) -> Result<u64> {
    let mut q = SqlText::new(p.dialect);
    q.push(&format!(
        "SELECT COUNT(*) AS c0, {} AS oldest FROM ",
        cast_double(p.dialect, "NULL")
    ))
    .push(&p.from())
    .push(" WHERE ");
    p.unreadable(&mut q);
    let mut conn = pool.acquire().await?;
    let (c, _) = fetch_counts(&mut conn.conn(), &q, 1)
        .await
        .with_context(|| format!("counting unreadable timestamps of `{}`", p.target.table))?;
    Ok(u64::try_from(c[0]).unwrap_or(0))
}

/// What "a timestamp the tool cannot read" means on a dialect, for messages.
pub fn unreadable_kinds(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "-infinity or infinity",
        Dialect::MySql => "zero dates such as 0000-00-00 or 2025-00-00",
        Dialect::Sqlite => "text that is no date, such as 'yesterday'",
    }
}
