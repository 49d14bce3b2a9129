//! One batch of deletes or anonymisations on a table, inside the caller's transaction.
//!
//! Batches walk the key in order (keyset pagination: `(keys) > (last)`, never OFFSET) and
//! return the affected keys in the database's own key order, so the last one is the next
//! batch's lower bound and the keys can be digested for the audit entry.

use super::dialect::SqlText;
use super::exec::{execute, fetch_ints, fetch_texts};
use super::pool::{Dialect, SqlConn};
use super::select::{PreparedTable, TypedColumn, T};
use super::value::{ColumnKind, Value};
use crate::plan::Selection;
use crate::rules::{ColumnStrategy, DatePart};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;

/// What an anonymising batch needs besides the selection.
pub struct AnonymiseContext<'a> {
    /// The run's clock, written to the marker column.
    pub now: DateTime<Utc>,
    /// The pseudonym key, for the `hmac` strategy.
    pub hmac_key: &'a [u8],
}

/// The keys one batch touched, in key order; each row is the key columns as text.
pub type Keys = Vec<Vec<String>>;

/// The keys a window delete removed, in no particular order: plain integers when the key
/// is one integer column (no text conversion in the database, no parsing here), else text.
#[derive(Debug)]
pub enum Removed {
    Ints(Vec<i64>),
    Texts(Keys),
}

fn select_keys(
    p: &PreparedTable,
    sel: &Selection,
    after: &[String],
    limit: usize,
    extra: &str,
    lock: bool,
) -> Result<SqlText> {
    let mut q = SqlText::new(p.dialect);
    q.push("SELECT ")
        .push(&p.key_texts(Some(T)))
        .push(extra)
        .push(" FROM ")
        .push(&p.from())
        .push(" WHERE ");
    p.actionable(sel, &mut q)?;
    p.after(after, &mut q);
    q.push(" ORDER BY ")
        .push(&p.key_list())
        .push(&format!(" LIMIT {limit}"));
    if lock && p.dialect != Dialect::Sqlite {
        q.push(" FOR UPDATE");
    }
    Ok(q)
}

/// The subquery choosing the batch's rows, for statements that act on it in one go.
fn chosen(
    p: &PreparedTable,
    sel: &Selection,
    after: &[String],
    limit: usize,
    q: &mut SqlText,
) -> Result<()> {
    let what = match p.dialect {
        Dialect::Postgres => format!("{T}.ctid"),
        _ => p.key_list(),
    };
    q.push("SELECT ")
        .push(&what)
        .push(" FROM ")
        .push(&p.from())
        .push(" WHERE ");
    p.actionable(sel, q)?;
    p.after(after, q);
    q.push(" ORDER BY ")
        .push(&p.key_list())
        .push(&format!(" LIMIT {limit}"));
    Ok(())
}

fn bare_keys(p: &PreparedTable) -> String {
    p.keys
        .iter()
        .map(|k| p.dialect.quote(&k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ordered_keys(p: &PreparedTable) -> String {
    (0..p.keys.len())
        .map(|i| format!("o{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn returning_pg(p: &PreparedTable) -> String {
    let order: Vec<String> = p
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} AS o{i}", p.dialect.col(T, &k.name)))
        .collect();
    format!(" RETURNING {}, {}", p.key_texts(Some(T)), order.join(", "))
}

fn rk_list(p: &PreparedTable) -> String {
    (0..p.keys.len())
        .map(|i| format!("rk{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes one batch; returns the deleted keys in key order.
pub async fn delete(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    after: &[String],
    limit: usize,
) -> Result<Keys> {
    let table = p.dialect.quote(&p.target.table);
    match p.dialect {
        Dialect::Postgres if p.integer_keys() => {
            // Integer keys are ordered by the tool, so the database need not sort them.
            let mut q = SqlText::new(p.dialect);
            q.push("DELETE FROM ")
                .push(&table)
                .push(&format!(" AS {T} WHERE {T}.ctid = ANY(ARRAY("));
            chosen(p, sel, after, limit, &mut q)?;
            q.push(")) RETURNING ").push(&p.key_texts(Some(T)));
            let mut keys = texts(conn, &q, p.keys.len()).await?;
            sort_keys(p, &mut keys);
            Ok(keys)
        }
        Dialect::Postgres => {
            let mut q = SqlText::new(p.dialect);
            q.push("WITH d AS (DELETE FROM ")
                .push(&table)
                .push(&format!(" AS {T} WHERE {T}.ctid = ANY(ARRAY("));
            chosen(p, sel, after, limit, &mut q)?;
            q.push("))").push(&returning_pg(p)).push(&format!(
                ") SELECT {} FROM d ORDER BY {}",
                rk_list(p),
                ordered_keys(p)
            ));
            texts(conn, &q, p.keys.len()).await
        }
        Dialect::Sqlite => {
            let mut q = SqlText::new(p.dialect);
            q.push("DELETE FROM ")
                .push(&table)
                .push(&format!(" WHERE ({}) IN (", bare_keys(p)));
            chosen(p, sel, after, limit, &mut q)?;
            q.push(") RETURNING ").push(&p.key_texts(None));
            let mut keys = texts(conn, &q, p.keys.len()).await?;
            sort_keys(p, &mut keys);
            Ok(keys)
        }
        Dialect::MySql => {
            // MySQL cannot DELETE … RETURNING nor LIMIT a subquery on the same table: lock
            // the batch's rows, then delete exactly that key range under the same conditions.
            let keys = texts(
                conn,
                &select_keys(p, sel, after, limit, "", true)?,
                p.keys.len(),
            )
            .await?;
            let Some(last) = keys.last() else {
                return Ok(keys);
            };
            let mut q = SqlText::new(p.dialect);
            q.push(&format!("DELETE {T} FROM "))
                .push(&p.from())
                .push(" WHERE ");
            p.actionable(sel, &mut q)?;
            p.after(after, &mut q);
            up_to(p, last, &mut q);
            let n = execute(conn, &q).await?;
            if n != keys.len() as u64 {
                bail!(
                    "the batch changed under the tool: {} rows locked, {n} deleted; rolled back",
                    keys.len()
                );
            }
            Ok(keys)
        }
    }
}

/// PostgreSQL, expired rows with an indexed timestamp: deletes the matching rows whose
/// timestamp lies in `[lo, hi)` — at most `limit` of them when a limit is given. The
/// window, not the key, makes progress, so the database reads only the timestamp index's
/// slice and sorts nothing; without a limit the statement is as cheap as a raw DELETE.
pub async fn delete_window(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    limit: Option<usize>,
) -> Result<Removed> {
    let mut q = SqlText::new(p.dialect);
    q.push("DELETE FROM ").push(&p.from()).push(" WHERE ");
    if let Some(limit) = limit {
        q.push(&format!("{T}.ctid = ANY(ARRAY(SELECT {T}.ctid FROM "))
            .push(&p.from())
            .push(" WHERE ");
        p.actionable(sel, &mut q)?;
        p.window(lo, hi, &mut q)?;
        q.push(&format!(" LIMIT {limit}))"));
    } else {
        p.actionable(sel, &mut q)?;
        p.window(lo, hi, &mut q)?;
    }
    q.push(" RETURNING ");
    if let [key] = p.keys.as_slice() {
        if key.kind == ColumnKind::Int {
            q.push(&format!("CAST({} AS BIGINT)", p.dialect.col(T, &key.name)));
            return Ok(Removed::Ints(fetch_ints(conn, &q).await?));
        }
    }
    q.push(&p.key_texts(Some(T)));
    Ok(Removed::Texts(texts(conn, &q, p.keys.len()).await?))
}

/// Anonymises one batch; returns the anonymised keys in key order.
pub async fn anonymise(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    after: &[String],
    limit: usize,
    ctx: &AnonymiseContext<'_>,
) -> Result<Keys> {
    let in_tool = p.target.anonymise.iter().any(|(_, s)| is_in_tool(s));
    if in_tool {
        return anonymise_row_by_row(conn, p, sel, after, limit, ctx).await;
    }
    let table = p.dialect.quote(&p.target.table);
    match p.dialect {
        Dialect::Postgres => {
            let mut q = SqlText::new(p.dialect);
            q.push("WITH u AS (UPDATE ")
                .push(&table)
                .push(&format!(" AS {T} SET "));
            set_list(p, ctx, Some(T), false, &mut q);
            q.push(&format!(" WHERE {T}.ctid = ANY(ARRAY("));
            chosen(p, sel, after, limit, &mut q)?;
            q.push("))").push(&returning_pg(p)).push(&format!(
                ") SELECT {} FROM u ORDER BY {}",
                rk_list(p),
                ordered_keys(p)
            ));
            texts(conn, &q, p.keys.len()).await
        }
        Dialect::Sqlite => {
            let mut q = SqlText::new(p.dialect);
            q.push("UPDATE ").push(&table).push(" SET ");
            set_list(p, ctx, None, false, &mut q);
            q.push(&format!(" WHERE ({}) IN (", bare_keys(p)));
            chosen(p, sel, after, limit, &mut q)?;
            q.push(") RETURNING ").push(&p.key_texts(None));
            let mut keys = texts(conn, &q, p.keys.len()).await?;
            sort_keys(p, &mut keys);
            Ok(keys)
        }
        Dialect::MySql => {
            let keys = texts(
                conn,
                &select_keys(p, sel, after, limit, "", true)?,
                p.keys.len(),
            )
            .await?;
            let Some(last) = keys.last() else {
                return Ok(keys);
            };
            let mut q = SqlText::new(p.dialect);
            q.push("UPDATE ").push(&p.from()).push(" SET ");
            set_list(p, ctx, Some(T), true, &mut q);
            q.push(" WHERE ");
            p.actionable(sel, &mut q)?;
            p.after(after, &mut q);
            up_to(p, last, &mut q);
            let n = execute(conn, &q).await?;
            if n > keys.len() as u64 {
                bail!(
                    "the batch changed under the tool: {} rows locked, {n} updated; rolled back",
                    keys.len()
                );
            }
            Ok(keys)
        }
    }
}

/// Strategies computed by the tool rather than in SQL.
fn is_in_tool(s: &ColumnStrategy) -> bool {
    matches!(
        s,
        ColumnStrategy::Hmac | ColumnStrategy::TruncateIp | ColumnStrategy::MaskKeepLast(_)
    )
}

/// Reads the rows (locked), computes the in-tool strategies, and updates each row by key.
async fn anonymise_row_by_row(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    after: &[String],
    limit: usize,
    ctx: &AnonymiseContext<'_>,
) -> Result<Keys> {
    let tool_cols: Vec<(&TypedColumn, &ColumnStrategy)> = p
        .anonymised
        .iter()
        .zip(&p.target.anonymise)
        .filter(|(_, (_, s))| is_in_tool(s))
        .map(|(c, (_, s))| (c, s))
        .collect();
    let extra: String = tool_cols
        .iter()
        .map(|(c, _)| format!(", {}", p.dialect.as_text(&p.dialect.col(T, &c.name))))
        .collect();
    let width = p.keys.len() + tool_cols.len();
    let q = select_keys(p, sel, after, limit, &extra, true)?;
    let rows = fetch_texts(conn, &q, width).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let key: Vec<String> = row[..p.keys.len()]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect();
        let mut u = SqlText::new(p.dialect);
        u.push("UPDATE ")
            .push(&p.dialect.quote(&p.target.table))
            .push(" SET ");
        let any_sql = set_list(p, ctx, None, true, &mut u);
        for (i, (c, s)) in tool_cols.iter().enumerate() {
            if any_sql || i > 0 {
                u.push(", ");
            }
            let new = row[p.keys.len() + i]
                .as_deref()
                .and_then(|v| in_tool_value(s, v, ctx));
            u.push(&p.dialect.quote(&c.name)).push(" = ");
            match new {
                Some(v) => {
                    u.bind_for(c.kind, &c.type_name, Value::Text(v));
                }
                None => {
                    u.push("NULL");
                }
            }
        }
        u.push(" WHERE ");
        for (i, (k, v)) in p.keys.iter().zip(&key).enumerate() {
            if i > 0 {
                u.push(" AND ");
            }
            u.push(&p.dialect.quote(&k.name)).push(" = ");
            u.bind_for(
                k.kind,
                &k.type_name,
                k.kind.value_of(v).unwrap_or_else(|| Value::Text(v.clone())),
            );
        }
        execute(conn, &u)
            .await
            .with_context(|| format!("anonymising a row of `{}`", p.target.table))?;
        keys.push(key);
    }
    Ok(keys)
}

fn in_tool_value(s: &ColumnStrategy, v: &str, ctx: &AnonymiseContext<'_>) -> Option<String> {
    match s {
        ColumnStrategy::Hmac => Some(crate::anonymise::hmac_hex(ctx.hmac_key, v)),
        ColumnStrategy::TruncateIp => crate::anonymise::truncate_ip(v),
        ColumnStrategy::MaskKeepLast(n) => Some(crate::anonymise::mask(v, *n as usize)),
        _ => None,
    }
}

/// Renders `col = expr, …` for the SQL-side strategies and the marker. With `skip_tool`
/// the in-tool strategies are left out (their values come row by row). Returns whether
/// anything was written.
fn set_list(
    p: &PreparedTable,
    ctx: &AnonymiseContext<'_>,
    alias: Option<&str>,
    qualify_target: bool,
    q: &mut SqlText,
) -> bool {
    let d = p.dialect;
    let mut first = true;
    let mut sep = |q: &mut SqlText| {
        if !first {
            q.push(", ");
        }
        first = false;
    };
    let name = |c: &crate::ident::Ident| match (alias, qualify_target) {
        (Some(a), true) => d.col(a, c),
        _ => d.quote(c),
    };
    let colref = |c: &crate::ident::Ident| match alias {
        Some(a) => d.col(a, c),
        None => d.quote(c),
    };
    for (col, (ident, strategy)) in p.anonymised.iter().zip(&p.target.anonymise) {
        if is_in_tool(strategy) {
            continue;
        }
        sep(q);
        q.push(&name(ident)).push(" = ");
        let c = colref(ident);
        match strategy {
            ColumnStrategy::Null => {
                q.push("NULL");
            }
            ColumnStrategy::Replace(v) => {
                q.bind(super::select::scalar(v));
            }
            ColumnStrategy::Round(n) => {
                q.push(&match d {
                    Dialect::Postgres => format!("round(CAST({c} AS numeric), {n})"),
                    _ => format!("ROUND({c}, {n})"),
                });
            }
            ColumnStrategy::TruncateDate(part) => {
                q.push(&truncate_date(d, col.kind, &c, *part));
            }
            _ => {}
        }
    }
    if let Some(m) = &p.marker {
        sep(q);
        q.push(&name(&m.name)).push(" = ");
        let v = match m.kind {
            ColumnKind::Bool => Value::Bool(true),
            k => k.instant(ctx.now),
        };
        q.bind(v);
    }
    !first
}

fn truncate_date(d: Dialect, kind: ColumnKind, c: &str, part: DatePart) -> String {
    let unit = match part {
        DatePart::Day => "day",
        DatePart::Month => "month",
        DatePart::Year => "year",
    };
    match (d, part) {
        (Dialect::Postgres, _) if kind == ColumnKind::Instant => {
            format!("date_trunc('{unit}', {c}, 'UTC')")
        }
        (Dialect::Postgres, _) => format!("date_trunc('{unit}', {c})"),
        (Dialect::MySql, DatePart::Day) => format!("DATE({c})"),
        (Dialect::MySql, DatePart::Month) => format!("DATE_FORMAT({c}, '%Y-%m-01')"),
        (Dialect::MySql, DatePart::Year) => format!("DATE_FORMAT({c}, '%Y-01-01')"),
        (Dialect::Sqlite, DatePart::Day) => format!("strftime('%Y-%m-%dT00:00:00Z', {c})"),
        (Dialect::Sqlite, DatePart::Month) => format!("strftime('%Y-%m-01T00:00:00Z', {c})"),
        (Dialect::Sqlite, DatePart::Year) => format!("strftime('%Y-01-01T00:00:00Z', {c})"),
    }
}

/// ` AND (keys) <= (last)`.
fn up_to(p: &PreparedTable, last: &[String], q: &mut SqlText) {
    q.push(" AND (").push(&p.key_list()).push(") <= (");
    for (i, (k, v)) in p.keys.iter().zip(last).enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind_for(
            k.kind,
            &k.type_name,
            k.kind.value_of(v).unwrap_or_else(|| Value::Text(v.clone())),
        );
    }
    q.push(")");
}

async fn texts(conn: &mut SqlConn<'_>, q: &SqlText, width: usize) -> Result<Keys> {
    Ok(fetch_texts(conn, q, width)
        .await?
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect())
}

/// Sorts keys the way SQLite orders them: integers numerically, text bytewise (BINARY).
pub fn sort_keys(p: &PreparedTable, keys: &mut Keys) {
    if p.integer_keys() {
        // Parse once, not once per comparison.
        keys.sort_by_cached_key(|k| {
            k.iter()
                .map(|v| v.parse::<i64>().unwrap_or(i64::MAX))
                .collect::<Vec<_>>()
        });
        return;
    }
    keys.sort_by(|a, b| {
        for ((x, y), k) in a.iter().zip(b).zip(&p.keys) {
            let o = match (k.kind, x.parse::<i64>(), y.parse::<i64>()) {
                (ColumnKind::Int, Ok(x), Ok(y)) => x.cmp(&y),
                _ => x.as_bytes().cmp(y.as_bytes()),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}
