//! One batch of deletes or anonymisations on a table, inside the caller's transaction.
//!
//! Batches walk the key in order (keyset pagination: `(keys) > (last)`, never OFFSET) and
//! return the affected keys in the database's own key order, so the last one is the next
//! batch's lower bound and the keys can be digested for the audit entry.

use super::catalog::Relation;
use super::dialect::SqlText;
use super::exec::{execute, fetch_int_array, fetch_text_array, fetch_texts};
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

/// The part of the key a keyset batch walks: the keys after `after` (all of them when it
/// is empty), up to and including `until` when there is one — a lane of keys that
/// other batches in flight do not share.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    pub after: &'a [String],
    pub until: Option<&'a [String]>,
}

/// The keys a window delete removed, in no particular order: plain integers when the key
/// is one integer column (no text conversion in the database, no parsing here), else text.
#[derive(Debug)]
pub enum Removed {
    Ints(Vec<i64>),
    Texts(Keys),
}

impl Removed {
    /// How many keys.
    pub fn len(&self) -> usize {
        match self {
            Removed::Ints(k) => k.len(),
            Removed::Texts(k) => k.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One selected row of a batch: its key columns as text, and where the statement that
/// acts on the batch finds it again — on PostgreSQL its physical address, unique in the
/// relation (`ctid` in a plain table, `(tableoid, ctid)` across partitions or inheritance
/// children), on SQLite its key as typed JSON; MySQL/MariaDB re-finds the locked key range.
struct Picked {
    key: Vec<String>,
    address: Option<Vec<String>>,
    /// Further columns the caller asked for (the values of in-tool strategies).
    extra: Vec<Option<String>>,
}

/// The columns that locate a selected row again, per dialect and relation.
fn address_columns(p: &PreparedTable) -> Vec<String> {
    match (p.dialect, p.relation) {
        (Dialect::Postgres, Relation::Table) => vec![format!("CAST({T}.ctid AS TEXT)")],
        (Dialect::Postgres, _) => vec![
            format!("CAST({T}.tableoid AS TEXT)"),
            format!("CAST({T}.ctid AS TEXT)"),
        ],
        (Dialect::Sqlite, _) => vec![format!("json_array({})", p.key_list())],
        (Dialect::MySql, _) => Vec::new(),
    }
}

/// Selects one batch — the actionable rows of `span`, in key order, at most `limit`
/// — and, with `lock`, locks them (SQLite's write lock is already held: batches begin
/// IMMEDIATE).
async fn pick(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    span: Span<'_>,
    limit: usize,
    extra: &[String],
    lock: bool,
) -> Result<Vec<Picked>> {
    let address = address_columns(p);
    let mut q = SqlText::new(p.dialect);
    q.push("SELECT ").push(&p.key_texts(Some(T)));
    for c in address.iter().chain(extra) {
        q.push(", ").push(c);
    }
    q.push(" FROM ").push(&p.keyset_from()).push(" WHERE ");
    p.actionable(sel, &mut q)?;
    p.after(span.after, &mut q);
    if let Some(until) = span.until {
        up_to(p, until, &mut q);
    }
    q.push(" ORDER BY ")
        .push(&p.key_list())
        .push(&format!(" LIMIT {limit}"));
    if lock && p.dialect != Dialect::Sqlite {
        q.push(" FOR UPDATE");
    }
    let (k, a) = (p.keys.len(), address.len());
    let rows = fetch_texts(conn, &q, k + a + extra.len()).await?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            let extra = r.split_off(k + a);
            let address = r.split_off(k);
            Picked {
                key: r.into_iter().map(Option::unwrap_or_default).collect(),
                address: (a > 0)
                    .then(|| address.into_iter().map(Option::unwrap_or_default).collect()),
                extra,
            }
        })
        .collect())
}

/// ` WHERE …` naming exactly the picked rows by their addresses (PostgreSQL, SQLite).
fn where_picked(p: &PreparedTable, picked: &[Picked], q: &mut SqlText) {
    let column = |i: usize| -> Vec<String> {
        picked
            .iter()
            .map(|r| {
                r.address
                    .as_ref()
                    .and_then(|a| a.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    match (p.dialect, p.relation) {
        (Dialect::Postgres, Relation::Table) => {
            q.push(&format!(" WHERE {T}.ctid = ANY(CAST("))
                .bind(Value::TextArray(column(0)))
                .push(" AS tid[]))");
        }
        (Dialect::Postgres, _) => {
            q.push(&format!(
                " WHERE ({T}.tableoid, {T}.ctid) IN (SELECT CAST(a.o AS oid), CAST(a.c AS tid) FROM unnest(CAST("
            ))
            .bind(Value::TextArray(column(0)))
            .push(" AS text[]), CAST(")
            .bind(Value::TextArray(column(1)))
            .push(" AS text[])) AS a(o, c))");
        }
        _ => {
            let json = format!("[{}]", column(0).join(","));
            let cols: Vec<String> = (0..p.keys.len())
                .map(|i| format!("json_extract(value, '$[{i}]')"))
                .collect();
            q.push(&format!(
                " WHERE ({}) IN (SELECT {} FROM json_each(",
                bare_keys(p),
                cols.join(", ")
            ))
            .bind(Value::Text(json))
            .push("))");
        }
    }
}

/// Fails (the caller's transaction then rolls back) unless the statement changed exactly
/// the rows the batch selected.
fn exactly(selected: usize, changed: u64, verb: &str) -> Result<()> {
    if changed != selected as u64 {
        bail!(
            "a batch selected {selected} rows but the statement {verb} {changed}; rolled back, nothing changed (the target fails so the difference can be examined)"
        );
    }
    Ok(())
}

fn bare_keys(p: &PreparedTable) -> String {
    p.keys
        .iter()
        .map(|k| p.dialect.quote(&k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes one batch; returns the deleted keys in key order.
pub async fn delete(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    span: Span<'_>,
    limit: usize,
) -> Result<Keys> {
    // PostgreSQL: `FOR UPDATE` needs the UPDATE privilege, which a delete-only role (SELECT,
    // DELETE) lacks. The delete instead re-checks the conditions and returns the keys it
    // removed, which must be exactly the picked keys: a row changed in between (a new
    // address) or an address reused by another row fails the batch, never a wrong row.
    let lock = p.dialect != Dialect::Postgres;
    let picked = pick(conn, p, sel, span, limit, &[], lock).await?;
    let Some(last) = picked.last() else {
        return Ok(Vec::new());
    };
    let mut q = SqlText::new(p.dialect);
    match p.dialect {
        Dialect::Postgres => {
            q.push("DELETE FROM ")
                .push(&p.dialect.quote(&p.target.table))
                .push(&format!(" AS {T}"));
            where_picked(p, &picked, &mut q);
            q.push(" AND ");
            p.actionable(sel, &mut q)?;
            q.push(" RETURNING ").push(&p.key_texts(Some(T)));
            let mut removed = texts(conn, &q, p.keys.len()).await?;
            let keys: Keys = picked.into_iter().map(|r| r.key).collect();
            if removed.len() != keys.len() {
                exactly(keys.len(), removed.len() as u64, "deleted")?;
            }
            removed.sort();
            let mut sorted = keys.clone();
            sorted.sort();
            if removed != sorted {
                bail!(
                    "a batch selected {} rows but the statement deleted other rows with the same count; rolled back, nothing changed (the target fails so the difference can be examined)",
                    keys.len()
                );
            }
            return Ok(keys);
        }
        Dialect::MySql => {
            // MySQL cannot bind a batch's keys as one array: delete the locked key range
            // under the same conditions, and count that it is exactly the locked rows.
            q.push(&format!("DELETE {T} FROM "))
                .push(&p.keyset_from())
                .push(" WHERE ");
            p.actionable(sel, &mut q)?;
            p.after(span.after, &mut q);
            up_to(p, &last.key, &mut q);
        }
        _ => {
            q.push("DELETE FROM ")
                .push(&p.dialect.quote(&p.target.table))
                .push(&format!(" AS {T}"));
            where_picked(p, &picked, &mut q);
        }
    }
    let n = execute(conn, &q).await?;
    exactly(picked.len(), n, "deleted")?;
    Ok(picked.into_iter().map(|r| r.key).collect())
}

/// PostgreSQL, expired rows with an indexed timestamp: deletes the matching rows whose
/// timestamp lies in `[lo, hi)` — at most `limit` of them when a limit is given — and
/// returns their keys (`RETURNING`). The window, not the key, makes progress, so the
/// database reads only the timestamp index's slice and sorts nothing.
pub async fn delete_window(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    limit: Option<usize>,
) -> Result<Removed> {
    // One key column comes back as one array (`array_agg` over the deleted rows) rather
    // than a row per key: the client then decodes one value instead of tens of thousands
    // of rows, which on the benchmark's 45,000-row windows was most of the tool's CPU.
    let single = single_key(p);
    let mut q = SqlText::new(p.dialect);
    if single.is_some() {
        q.push("WITH removed AS (");
    }
    q.push("DELETE FROM ").push(&p.from()).push(" WHERE ");
    if let Some(limit) = limit {
        // A ctid names one row only in a plain table; time windows run on those alone.
        if p.relation != Relation::Table {
            bail!("a limited time window needs a plain table");
        }
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
    if single.is_some() {
        q.push(&format!(
            "{} AS rk) SELECT array_agg(rk) FROM removed",
            single_key_read(p)
        ));
    } else {
        q.push(&p.key_texts(Some(T)));
    }
    read_keys(conn, p, &q).await
}

/// PostgreSQL, inside a `REPEATABLE READ` transaction: reads the keys of the matching
/// rows whose timestamp lies in `[lo, hi)`, which [`delete_window_read`] then deletes by
/// the same condition. Both statements see the transaction's one snapshot, so the DELETE
/// changes exactly the rows read: a row another transaction changes or deletes meanwhile
/// makes it fail with a serialization error (which the caller retries), a row inserted
/// meanwhile is invisible to both. On this project's benchmark reading the keys first
/// costs about what the plain DELETE does, where `RETURNING` costs 40% more.
pub async fn read_window(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Removed> {
    let mut q = SqlText::new(p.dialect);
    q.push("SELECT ");
    match single_key(p) {
        Some(_) => q.push(&format!("array_agg({})", single_key_read(p))),
        None => q.push(&p.key_texts(Some(T))),
    };
    q.push(" FROM ").push(&p.from()).push(" WHERE ");
    p.actionable(sel, &mut q)?;
    p.window(lo, hi, &mut q)?;
    read_keys(conn, p, &q).await
}

/// Deletes the `read` rows [`read_window`] found in the same window and snapshot, and
/// checks that the DELETE changed exactly that many.
pub async fn delete_window_read(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    read: usize,
) -> Result<()> {
    let mut q = SqlText::new(p.dialect);
    q.push("DELETE FROM ").push(&p.from()).push(" WHERE ");
    p.actionable(sel, &mut q)?;
    p.window(lo, hi, &mut q)?;
    let n = execute(conn, &q).await?;
    exactly(read, n, "deleted")
}

/// PostgreSQL, under `READ COMMITTED`: deletes the rows of the window `[lo, hi)` whose
/// one-integer-column key is among `keys` (read by [`read_window`] in the same
/// transaction) and that the selection still takes, and checks that exactly that many
/// went. The keys are unique, so a count equal to theirs means exactly the rows read were
/// deleted: a row changed meanwhile so that it no longer qualifies, or deleted by another
/// session, fails the attempt with [`WindowChanged`] (the caller takes it again), and a
/// row that entered the window meanwhile is not among the keys. Unlike a snapshot window
/// this holds no snapshot across the two statements, so the audit head need not be
/// locked before the read: windows beside the log run in parallel.
pub async fn delete_window_keys(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    (lo, hi): (DateTime<Utc>, DateTime<Utc>),
    keys: Vec<i64>,
) -> Result<()> {
    if !single_key(p).is_some_and(|k| k.kind == ColumnKind::Int) {
        bail!("a window deleted by its keys needs a key of one integer column");
    }
    let read = keys.len();
    let mut q = SqlText::new(p.dialect);
    q.push("DELETE FROM ").push(&p.from()).push(" WHERE ");
    p.actionable(sel, &mut q)?;
    p.window(lo, hi, &mut q)?;
    // Inside a CASE the planner estimates the test as one opaque boolean; bare, it
    // estimates `= ANY` once per key in the array (0.2 µs a key: 10 ms of planning for a
    // 45,000-key window, as much as its DELETE's execution). The executor still tests
    // each row against a hash table of the keys.
    // The column is compared as BIGINT, as its keys were read: `int4 = ANY(int8[])` is a
    // cross-type test the executor cannot hash, and would compare each row with every key.
    q.push(" AND CASE WHEN ")
        .push(&single_key_read(p))
        .push(" = ANY(")
        .bind(Value::IntArray(keys))
        .push(") THEN TRUE ELSE FALSE END");
    let n = execute(conn, &q).await?;
    if n != read as u64 {
        return Err(WindowChanged { read, deleted: n }.into());
    }
    Ok(())
}

/// A window whose rows changed between reading its keys and deleting them: the attempt
/// is rolled back and taken again.
#[derive(Debug, thiserror::Error)]
#[error("a time window read {read} keys but {deleted} of those rows still qualified when it deleted them; rolled back, to be taken again")]
pub struct WindowChanged {
    pub read: usize,
    pub deleted: u64,
}

/// Whether windows of this table can be deleted by their keys ([`delete_window_keys`]):
/// PostgreSQL 14 or later (an earlier server would test each row against every key of
/// the window in turn), a key of one integer column.
pub fn keyed_windows(p: &PreparedTable) -> bool {
    p.dialect == Dialect::Postgres
        && p.hashes_arrays
        && single_key(p).is_some_and(|k| k.kind == ColumnKind::Int)
}

/// The key column when the table's key is one column.
fn single_key(p: &PreparedTable) -> Option<&TypedColumn> {
    match p.keys.as_slice() {
        [key] => Some(key),
        _ => None,
    }
}

/// A one-column key as it is read back: integers as BIGINT (into an `i64` array),
/// anything else as its text.
fn single_key_read(p: &PreparedTable) -> String {
    let key = &p.keys[0];
    let col = p.dialect.col(T, &key.name);
    match key.kind {
        ColumnKind::Int => format!("CAST({col} AS BIGINT)"),
        _ => p.dialect.as_text(&col),
    }
}

/// Runs a statement that returns keys — one array when the key is one column (see
/// [`single_key_read`]), else a row of texts per key — and reads them.
async fn read_keys(conn: &mut SqlConn<'_>, p: &PreparedTable, q: &SqlText) -> Result<Removed> {
    match single_key(p) {
        Some(key) if key.kind == ColumnKind::Int => {
            Ok(Removed::Ints(fetch_int_array(conn, q).await?))
        }
        Some(_) => Ok(Removed::Texts(
            fetch_text_array(conn, q)
                .await?
                .into_iter()
                .map(|t| vec![t.unwrap_or_default()])
                .collect(),
        )),
        None => Ok(Removed::Texts(texts(conn, q, p.keys.len()).await?)),
    }
}

/// Splits a table whose key is one integer column into at most `lanes` spans of about
/// equal width between its smallest and largest key (the key index's two ends, read
/// without a scan), each at least `min_width` keys wide: the bounds between them, in
/// order. Span `i` walks the keys after bound `i - 1` up to and including bound `i`; the
/// first starts at the beginning, the last has no end, so together they cover every key,
/// rows written meanwhile included. Empty (one span, the whole key) for any other key.
pub async fn lane_bounds(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    lanes: usize,
    min_width: u64,
) -> Result<Vec<String>> {
    let Some(key) = single_key(p).filter(|k| k.kind == ColumnKind::Int) else {
        return Ok(Vec::new());
    };
    if lanes < 2 {
        return Ok(Vec::new());
    }
    let col = p.dialect.col(T, &key.name);
    let mut q = SqlText::new(p.dialect);
    q.push(&format!(
        "SELECT {}, {} FROM {}",
        p.dialect.as_text(&format!("MIN({col})")),
        p.dialect.as_text(&format!("MAX({col})")),
        p.from()
    ));
    let row = fetch_texts(conn, &q, 2).await?;
    let parse = |i: usize| -> Option<i128> { row.first()?.get(i)?.as_deref()?.parse().ok() };
    let (Some(min), Some(max)) = (parse(0), parse(1)) else {
        return Ok(Vec::new());
    };
    Ok(spans(min, max, lanes, min_width))
}

/// The bounds [`lane_bounds`] puts between `lanes` equal spans of `min..=max`.
fn spans(min: i128, max: i128, lanes: usize, min_width: u64) -> Vec<String> {
    let width = max - min + 1;
    let lanes = (lanes as i128).min(width / i128::from(min_width.max(1)));
    (1..lanes.max(1))
        .map(|i| (min - 1 + width * i / lanes).to_string())
        .collect()
}

/// Anonymises one batch; returns the anonymised keys in key order.
pub async fn anonymise(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    span: Span<'_>,
    limit: usize,
    ctx: &AnonymiseContext<'_>,
) -> Result<Keys> {
    let in_tool = p.target.anonymise.iter().any(|(_, s)| is_in_tool(s));
    if in_tool {
        return anonymise_row_by_row(conn, p, sel, span, limit, ctx).await;
    }
    let picked = pick(conn, p, sel, span, limit, &[], true).await?;
    let Some(last) = picked.last() else {
        return Ok(Vec::new());
    };
    let mut q = SqlText::new(p.dialect);
    match p.dialect {
        Dialect::MySql => {
            q.push("UPDATE ").push(&p.keyset_from()).push(" SET ");
            set_list(p, ctx, Some(T), true, &mut q);
            q.push(" WHERE ");
            p.actionable(sel, &mut q)?;
            p.after(span.after, &mut q);
            up_to(p, &last.key, &mut q);
        }
        Dialect::Postgres => {
            q = update(p);
            set_list(p, ctx, Some(T), false, &mut q);
            where_picked(p, &picked, &mut q);
        }
        Dialect::Sqlite => {
            q = update(p);
            set_list(p, ctx, None, false, &mut q);
            where_picked(p, &picked, &mut q);
        }
    }
    let n = execute(conn, &q).await?;
    exactly(picked.len(), n, "updated")?;
    Ok(picked.into_iter().map(|r| r.key).collect())
}

/// `UPDATE <table> SET ` — aliased `t` on PostgreSQL, whose row addresses are written
/// `t.ctid`; the others name rows by their bare key columns.
fn update(p: &PreparedTable) -> SqlText {
    let mut u = SqlText::new(p.dialect);
    u.push("UPDATE ").push(&p.dialect.quote(&p.target.table));
    if p.dialect == Dialect::Postgres {
        u.push(&format!(" AS {T}"));
    }
    u.push(" SET ");
    u
}

/// Strategies computed by the tool rather than in SQL.
fn is_in_tool(s: &ColumnStrategy) -> bool {
    matches!(
        s,
        ColumnStrategy::Hmac | ColumnStrategy::TruncateIp | ColumnStrategy::MaskKeepLast(_)
    )
}

/// Reads the rows (locked), computes the in-tool strategies, and updates each row by its
/// address (or key), checking that each update changed exactly that row.
async fn anonymise_row_by_row(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    span: Span<'_>,
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
    let extra: Vec<String> = tool_cols
        .iter()
        .map(|(c, _)| p.dialect.as_text(&p.dialect.col(T, &c.name)))
        .collect();
    let picked = pick(conn, p, sel, span, limit, &extra, true).await?;
    let mut keys = Vec::with_capacity(picked.len());
    for row in picked {
        let mut u = update(p);
        let any_sql = set_list(p, ctx, None, true, &mut u);
        for (i, (c, s)) in tool_cols.iter().enumerate() {
            if any_sql || i > 0 {
                u.push(", ");
            }
            let new = row.extra[i]
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
        match p.dialect {
            Dialect::MySql => {
                u.push(" WHERE ");
                for (i, (k, v)) in p.keys.iter().zip(&row.key).enumerate() {
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
            }
            _ => where_picked(p, std::slice::from_ref(&row), &mut u),
        }
        let n = execute(conn, &u)
            .await
            .with_context(|| format!("anonymising a row of `{}`", p.target.table))?;
        exactly(1, n, "updated")?;
        keys.push(row.key);
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
            ColumnStrategy::Replace(_) => {
                let typed = p
                    .anonymised
                    .iter()
                    .zip(&p.replacements)
                    .find(|(a, _)| a.name == *ident);
                match typed {
                    Some((a, Some(v))) => {
                        q.bind_for(a.kind, &a.type_name, v.clone());
                    }
                    _ => {
                        q.push("NULL");
                    }
                }
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
        // A boolean marker (MySQL's a TINYINT) says "anonymised" by being true.
        let v = match m.kind {
            ColumnKind::Bool => Value::Bool(true),
            ColumnKind::Int if m.type_name.eq_ignore_ascii_case("tinyint") => Value::I64(1),
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
        // SQLite keeps dates as text: the truncated value keeps the column's shape (a
        // DATE column `2026-05-01`, a DATETIME `2026-05-01 00:00:00`, other text RFC 3339).
        (Dialect::Sqlite, _) => {
            let day = match part {
                DatePart::Day => "%d",
                _ => "01",
            };
            let month = match part {
                DatePart::Year => "01",
                _ => "%m",
            };
            let time = match kind {
                ColumnKind::Date => "",
                ColumnKind::Naive => " 00:00:00",
                _ => "T00:00:00Z",
            };
            format!("strftime('%Y-{month}-{day}{time}', {c})")
        }
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

#[cfg(test)]
mod tests {
    use super::spans;

    #[test]
    fn lanes_split_the_key_range_evenly_and_only_when_wide_enough() {
        assert_eq!(spans(1, 400_000, 2, 1000), vec!["200000"]);
        assert_eq!(spans(1, 9, 3, 1), vec!["3", "6"]);
        assert_eq!(spans(-5, 4, 2, 1), vec!["-1"]);
        // Too narrow for two lanes of `min_width` keys: one lane, no bound.
        assert!(spans(1, 1500, 2, 1000).is_empty());
        assert!(spans(7, 7, 4, 1).is_empty());
        // The widest keys there are do not overflow.
        let b = spans(i128::from(i64::MIN), i128::from(u64::MAX), 2, 1);
        assert_eq!(b.len(), 1);
    }
}
