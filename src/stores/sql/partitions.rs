//! Range partitions of a partitioned table, for `partitions: drop | detach` (SPEC §3):
//! how the table is partitioned, its leaf partitions with their bounds, and per partition
//! whether removing it whole is exactly the same as deleting its rows one by one.
//!
//! A partition may go whole only when every one of these holds, and the plan says which
//! one failed otherwise:
//! - the table is range-partitioned on the rule's timestamp column (one column; on
//!   PostgreSQL sub-partitions count when one of their ancestors is), and an upper bound
//!   of the partition lies at or before the cutoff, so no row it can ever hold is younger;
//! - it is not a default partition (which has no bounds);
//! - the pass is expiry with `delete`, the target has no filter and the run is not sharded;
//! - every row in it is selected by the pass (no held subject's row, no anonymised or
//!   flagged row the pass leaves out), counted in one statement;
//! - no row of another table (or of this one) references a row in it through a foreign
//!   key, whatever the key's `ON DELETE` action (dropping cascades nothing).
//!
//! Bounds are compared with the cutoff by the database, in the column's own type. The
//! statements that detach and drop live here too; `execute::partitions` orders them with
//! the audit entries.

use super::dialect::SqlText;
use super::exec::{execute, fetch_counts, fetch_ints, fetch_texts};
use super::pool::{Dialect, SqlConn, SqlPool};
use super::select::{PreparedTable, T};
use super::value::{ColumnKind, Value};
use crate::audit::Reason;
use crate::ident::Ident;
use crate::plan::Selection;
use crate::rules::Action;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

/// How a partitioned table is partitioned (its top level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitioning {
    /// `range`, `list`, `hash` (PostgreSQL) or MySQL's `RANGE COLUMNS`, `RANGE`, `LIST`, …
    pub method: String,
    pub range: bool,
    /// The key's columns in order; `None` for an expression.
    pub key: Vec<Option<String>>,
}

impl Partitioning {
    /// Whether the table is range-partitioned on `column` alone.
    pub fn by_range_of(&self, column: &str) -> bool {
        self.range && self.key.len() == 1 && self.key[0].as_deref() == Some(column)
    }

    /// The key as written, for messages: `range (created_at)`.
    pub fn describe(&self) -> String {
        let cols: Vec<&str> = self
            .key
            .iter()
            .map(|k| k.as_deref().unwrap_or("an expression"))
            .collect();
        format!("{} ({})", self.method, cols.join(", "))
    }
}

/// Reads how `table` is partitioned; `None` when it is not a partitioned table (a plain
/// table, a PostgreSQL inheritance parent, or SQLite).
pub async fn partitioning(pool: &SqlPool, table: &str) -> Result<Option<Partitioning>> {
    match pool {
        SqlPool::Pg(p) => {
            let row: Option<(String, Vec<Option<String>>)> = sqlx::query_as(
                "SELECT CASE pt.partstrat WHEN 'r' THEN 'range' WHEN 'l' THEN 'list'
                                          WHEN 'h' THEN 'hash' ELSE pt.partstrat::text END,
                        ARRAY(SELECT a.attname::text
                              FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(n, o)
                              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n
                              ORDER BY k.o)
                 FROM pg_partitioned_table pt
                 JOIN pg_class c ON c.oid = pt.partrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relname = $1",
            )
            .bind(table)
            .fetch_optional(p)
            .await?;
            Ok(row.map(|(method, key)| Partitioning {
                range: method == "range",
                method,
                key,
            }))
        }
        SqlPool::My(p) => {
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT CAST(PARTITION_METHOD AS CHAR), CAST(PARTITION_EXPRESSION AS CHAR)
                 FROM information_schema.PARTITIONS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL
                 ORDER BY PARTITION_ORDINAL_POSITION LIMIT 1",
            )
            .bind(table)
            .fetch_optional(p)
            .await?;
            Ok(row.and_then(|(method, expr)| {
                let method = method?;
                let key = expr
                    .unwrap_or_default()
                    .split(',')
                    .map(|part| {
                        let bare = part.trim().trim_matches('`');
                        Ident::parse(bare).ok().map(|_| bare.to_owned())
                    })
                    .collect();
                Some(Partitioning {
                    range: method.eq_ignore_ascii_case("RANGE")
                        || method.eq_ignore_ascii_case("RANGE COLUMNS"),
                    method,
                    key,
                })
            }))
        }
        SqlPool::Lite(_) => Ok(None),
    }
}

/// One leaf partition (the one that holds rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub name: String,
    /// The partitioned table it is attached to (its direct parent; a sub-partition's
    /// parent is itself a partition).
    pub parent: String,
    /// Upper bounds (exclusive) on the timestamp column along its path from the root,
    /// as the catalog writes them (`'2024-02-01 00:00:00+00'`, `1706745600`).
    pub uppers: Vec<String>,
    /// It, or a partition above it, is a default partition.
    pub default: bool,
    /// PostgreSQL: a `DETACH PARTITION … CONCURRENTLY` of it was interrupted.
    pub detach_pending: bool,
    /// PostgreSQL: its own bound, as `pg_get_expr` writes it (to attach it back).
    pub bound: String,
    /// PostgreSQL: its schema (empty on MySQL/MariaDB, whose partitions have none).
    pub schema: String,
    /// PostgreSQL: it or its parent lives outside the connection's schema, where a bare
    /// name would find another table: it is counted by its qualified name and never
    /// detached or dropped.
    pub elsewhere: bool,
}

/// The leaf partitions of the target's table, in the catalog's order of their bounds.
pub async fn leaves(pool: &SqlPool, p: &PreparedTable) -> Result<Vec<Leaf>> {
    let ts = p
        .timestamp
        .as_ref()
        .map(|(c, _)| c.name.as_str().to_owned())
        .unwrap_or_default();
    let table = p.target.table.as_str();
    match pool {
        SqlPool::Pg(pg) => {
            // (relid, name, parent name, is leaf, bound text, parent range key column,
            //  detach pending), every node below the root.
            type Row = (
                i64,
                i64,
                String,
                String,
                bool,
                String,
                Option<String>,
                bool,
                String,
                bool,
            );
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT t.relid::oid::int8, t.parentrelid::oid::int8, c.relname::text, pc.relname::text,
                        t.isleaf, COALESCE(pg_get_expr(c.relpartbound, c.oid), ''),
                        (SELECT a.attname::text FROM pg_partitioned_table pt
                           JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
                          WHERE pt.partrelid = t.parentrelid AND pt.partstrat = 'r' AND pt.partnatts = 1),
                        COALESCE((SELECT i.inhdetachpending FROM pg_inherits i
                                   WHERE i.inhrelid = t.relid AND i.inhparent = t.parentrelid), false),
                        (SELECT n.nspname::text FROM pg_namespace n WHERE n.oid = c.relnamespace),
                        c.relnamespace <> (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                          OR pc.relnamespace <> (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                 FROM pg_partition_tree((
                        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = current_schema() AND c.relname = $1)) t
                 JOIN pg_class c ON c.oid = t.relid
                 JOIN pg_class pc ON pc.oid = t.parentrelid
                 WHERE t.level > 0
                 ORDER BY t.level, c.relname",
            )
            .bind(table)
            .fetch_all(pg)
            .await
            .with_context(|| format!("listing the partitions of `{table}`"))?;
            // Walk each leaf's path to the root, collecting bounds on the timestamp.
            let node = |oid: i64| rows.iter().find(|r| r.0 == oid);
            let mut out = Vec::new();
            for r in rows.iter().filter(|r| r.4) {
                let mut leaf = Leaf {
                    name: r.2.clone(),
                    parent: r.3.clone(),
                    uppers: Vec::new(),
                    default: false,
                    detach_pending: r.7,
                    bound: r.5.clone(),
                    schema: r.8.clone(),
                    elsewhere: r.9,
                };
                let mut at = Some(r);
                let mut hops = 0;
                while let Some(n) = at {
                    if n.5 == "DEFAULT" {
                        leaf.default = true;
                    } else if n.6.as_deref() == Some(ts.as_str()) {
                        if let Some(u) = pg_range_upper(&n.5) {
                            leaf.uppers.push(u);
                        }
                    }
                    hops += 1;
                    at = if hops > 64 { None } else { node(n.1) };
                }
                out.push(leaf);
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        }
        SqlPool::My(my) => {
            let rows: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT CAST(PARTITION_NAME AS CHAR), CAST(PARTITION_DESCRIPTION AS CHAR)
                 FROM information_schema.PARTITIONS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL
                   AND (SUBPARTITION_ORDINAL_POSITION IS NULL OR SUBPARTITION_ORDINAL_POSITION = 1)
                 ORDER BY PARTITION_ORDINAL_POSITION",
            )
            .bind(table)
            .fetch_all(my)
            .await
            .with_context(|| format!("listing the partitions of `{table}`"))?;
            Ok(rows
                .into_iter()
                .map(|(name, desc)| {
                    let desc = desc.unwrap_or_default();
                    let by_ts = p.partitioning.as_ref().is_some_and(|k| k.by_range_of(&ts));
                    let upper = my_range_upper(&desc).filter(|_| by_ts);
                    Leaf {
                        name,
                        parent: table.to_owned(),
                        uppers: upper.into_iter().collect(),
                        default: desc.eq_ignore_ascii_case("DEFAULT"),
                        detach_pending: false,
                        bound: desc,
                        schema: String::new(),
                        elsewhere: false,
                    }
                })
                .collect())
        }
        SqlPool::Lite(_) => Ok(Vec::new()),
    }
}

/// The upper bound of a one-column PostgreSQL range bound,
/// `FOR VALUES FROM ('a') TO ('b')` → `'b'`; `None` for MAXVALUE/MINVALUE or anything else.
fn pg_range_upper(bound: &str) -> Option<String> {
    let rest = bound.strip_prefix("FOR VALUES FROM (")?;
    let (_, upper) = split_literal_list(rest)?;
    let upper = upper.strip_prefix(" TO (")?;
    let (value, tail) = split_literal_list(upper)?;
    (tail.is_empty() && is_value(&value)).then_some(value)
}

/// Splits `'x', 1) rest` into the one item before the closing parenthesis and the rest;
/// `None` for several items (a multi-column key) or an unterminated literal.
fn split_literal_list(s: &str) -> Option<(String, &str)> {
    let mut in_quote = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if in_quote && chars.peek().map(|p| p.1) == Some('\'') => {
                chars.next();
            }
            '\'' => in_quote = !in_quote,
            ',' if !in_quote => return None,
            ')' if !in_quote => return Some((s[..i].trim().to_owned(), &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// A literal the database can cast: a quoted string or a number (not MINVALUE/MAXVALUE).
fn is_value(v: &str) -> bool {
    (v.len() >= 2 && v.starts_with('\'') && v.ends_with('\''))
        || (!v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '.'))
}

/// A MySQL/MariaDB `LESS THAN` description: `'2024-02-01 00:00:00'` or `738000`, not
/// `MAXVALUE`, and one value only.
fn my_range_upper(desc: &str) -> Option<String> {
    let d = desc.trim();
    let one_string = d.starts_with('\'') && d.matches('\'').count() == 2;
    let one_number = !d.contains(',') && !d.starts_with('\'');
    ((one_string || one_number) && is_value(d)).then(|| d.to_owned())
}

/// The text of a quoted literal (`'a''b'` → `a'b`) or a number as it is.
fn unquote(v: &str) -> String {
    match v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => v.to_owned(),
    }
}

/// Whether some upper bound of `leaf` lies at or before the cutoff, compared by the
/// database in the timestamp column's type; every row the partition can hold is then
/// expired.
pub async fn wholly_before(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    leaf: &Leaf,
    cutoff: DateTime<Utc>,
) -> Result<bool> {
    let Some((ts, per_second)) = &p.timestamp else {
        return Ok(false);
    };
    let cut = match per_second {
        Some(k) => Value::I64(cutoff.timestamp_micros().div_euclid(1_000_000 / k)),
        None => ts.kind.instant(cutoff),
    };
    let ty = match (p.dialect, ts.kind, per_second) {
        (Dialect::Postgres, _, _) if plain_word(&ts.type_name) => ts.type_name.clone(),
        (Dialect::MySql, ColumnKind::Int, _) => "SIGNED".into(),
        (Dialect::MySql, ColumnKind::Naive, None) => "DATETIME(6)".into(),
        (Dialect::MySql, ColumnKind::Date, None) => "DATE".into(),
        _ => return Ok(false),
    };
    for upper in &leaf.uppers {
        let mut q = SqlText::new(p.dialect);
        q.push("SELECT CASE WHEN CAST(")
            .bind(Value::Text(unquote(upper)))
            .push(&format!(" AS {ty}) <= "))
            .bind(cut.clone())
            .push(match p.dialect {
                Dialect::MySql => " THEN CAST(1 AS SIGNED) ELSE CAST(0 AS SIGNED) END",
                _ => " THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END",
            });
        let v = fetch_ints(conn, &q)
            .await
            .with_context(|| format!("comparing the bound of partition `{}`", leaf.name))?;
        if v.first() == Some(&1) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn plain_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What becomes of one partition in an expiry pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Removed whole.
    Drop,
    /// Its expired rows go by row batches; why it is not removed whole.
    Rows(String),
    /// Nothing of it changes; why.
    Kept(String),
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Drop => "drop",
            Verdict::Rows(_) => "rows",
            Verdict::Kept(_) => "kept",
        }
    }
    pub fn why(&self) -> &str {
        match self {
            Verdict::Drop => "",
            Verdict::Rows(w) | Verdict::Kept(w) => w,
        }
    }
}

/// One partition's figures and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPlan {
    pub leaf: Leaf,
    /// Rows in it.
    pub rows: u64,
    /// Rows the pass selects (held and locked ones included).
    pub matched: u64,
    pub held: u64,
    /// Rows some foreign key references (any `ON DELETE` action).
    pub referenced: u64,
    /// Rows the pass acts on (selected, not held, not locked).
    pub actionable: u64,
    pub verdict: Verdict,
}

/// Why no partition of this pass can go whole (the same reason for all of them), or
/// `None` when each is to be judged on its own.
pub fn pass_reason(p: &PreparedTable, sel: &Selection) -> Option<String> {
    if sel.reason != Reason::Expired || sel.action != Action::Delete {
        return Some(format!(
            "only expiry with `delete` removes partitions whole (this pass: {} {})",
            sel.reason.as_str(),
            sel.action.as_str()
        ));
    }
    if !p.filters.is_empty() {
        return Some("the rule has a filter, which may keep rows in it".into());
    }
    if sel.shard.is_some() {
        return Some("a sharded run deletes only its shard's rows".into());
    }
    if p.delete_hooked {
        return Some(
            "a DELETE trigger or rule on the table would not run for a dropped partition".into(),
        );
    }
    if !matches!(p.dialect, Dialect::Postgres | Dialect::MySql) {
        return Some("only PostgreSQL and MySQL/MariaDB partitions are removed whole".into());
    }
    match (&p.partitioning, &p.timestamp) {
        (Some(k), Some((ts, _))) if k.by_range_of(ts.name.as_str()) => None,
        (Some(k), Some((ts, _))) => Some(format!(
            "the table is partitioned by {}, not by range of the timestamp `{}`",
            k.describe(),
            ts.name
        )),
        _ => Some("the table is not range-partitioned on the timestamp".into()),
    }
}

/// The table expression for one leaf: `ONLY "schema"."leaf" t` (PostgreSQL, by its
/// qualified name, whatever the name), `` `parent` PARTITION (`p`) t ``. Names come from
/// the catalog and are quoted with their quote characters doubled.
fn leaf_from(p: &PreparedTable, leaf: &Leaf) -> Result<String> {
    let quote = |q: char, s: &str| format!("{q}{}{q}", s.replace(q, &format!("{q}{q}")));
    if leaf.name.contains('\0') || leaf.schema.contains('\0') {
        bail!(
            "partition name `{}` holds a NUL",
            leaf.name.escape_default()
        );
    }
    Ok(match p.dialect {
        Dialect::MySql => format!(
            "{} PARTITION ({}) {T}",
            p.dialect.quote(&p.target.table),
            quote('`', &leaf.name)
        ),
        _ if leaf.schema.is_empty() => format!("ONLY {} {T}", quote('"', &leaf.name)),
        _ => format!(
            "ONLY {}.{} {T}",
            quote('"', &leaf.schema),
            quote('"', &leaf.name)
        ),
    })
}

/// `EXISTS (…)`: some row of some table references this row through a foreign key.
fn referenced(p: &PreparedTable, out: &mut SqlText) {
    out.push("(1 = 0");
    for fk in &p.referencing {
        let (Some(child), Some(joined)) = (
            fk.child_sql(p.dialect),
            fk.join_condition(p.dialect, "c", T),
        ) else {
            // A key the tool cannot name: assume it references the row.
            out.push(" OR 1 = 1");
            continue;
        };
        out.push(&format!(
            " OR EXISTS (SELECT 1 FROM {child} c WHERE {joined})"
        ));
    }
    out.push(")");
}

/// Counts one leaf: rows, selected, held, referenced, actionable — one statement.
pub async fn count_leaf(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    leaf: &Leaf,
) -> Result<[u64; 5]> {
    let mut q = SqlText::new(p.dialect);
    let count = |q: &mut SqlText, f: &dyn Fn(&mut SqlText) -> Result<()>| -> Result<()> {
        q.push(", COUNT(CASE WHEN ");
        f(q)?;
        q.push(" THEN 1 END)");
        Ok(())
    };
    q.push("SELECT COUNT(*)");
    count(&mut q, &|q| p.base(sel, q))?;
    count(&mut q, &|q| {
        p.base(sel, q)?;
        q.push(" AND ");
        p.held(&sel.held, q)
    })?;
    count(&mut q, &|q| {
        referenced(p, q);
        Ok(())
    })?;
    count(&mut q, &|q| p.actionable(sel, q))?;
    let n = leaf_counts(conn, p, leaf, q, 5).await?;
    Ok([n(0), n(1), n(2), n(3), n(4)])
}

/// Runs `q` — a `SELECT` of `counts` counts — over the leaf; the counts by position.
async fn leaf_counts(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    leaf: &Leaf,
    mut q: SqlText,
    counts: usize,
) -> Result<impl Fn(usize) -> u64> {
    q.push(match p.dialect {
        Dialect::MySql => ", CAST(NULL AS DOUBLE)",
        _ => ", CAST(NULL AS DOUBLE PRECISION)",
    });
    q.push(" FROM ").push(&leaf_from(p, leaf)?);
    let (c, _) = fetch_counts(conn, &q, counts)
        .await
        .with_context(|| format!("counting the rows of partition `{}`", leaf.name))?;
    Ok(move |i: usize| c.get(i).copied().unwrap_or(0).max(0) as u64)
}

/// A leaf's rows, and how many of them the pass acts on: the recount under lock before a
/// drop, which needs no more than these two.
pub async fn count_actionable(
    conn: &mut SqlConn<'_>,
    p: &PreparedTable,
    sel: &Selection,
    leaf: &Leaf,
) -> Result<(u64, u64)> {
    let mut q = SqlText::new(p.dialect);
    q.push("SELECT COUNT(*), COUNT(CASE WHEN ");
    p.actionable(sel, &mut q)?;
    q.push(" THEN 1 END)");
    let n = leaf_counts(conn, p, leaf, q, 2).await?;
    Ok((n(0), n(1)))
}

/// Judges one leaf from its figures (pure).
pub fn judge(
    leaf: &Leaf,
    pass_reason: Option<&str>,
    before_cutoff: bool,
    [rows, matched, held, referenced, actionable]: [u64; 5],
) -> Verdict {
    let rows_or_kept = |why: String| {
        if matched > 0 {
            Verdict::Rows(why)
        } else {
            Verdict::Kept(why)
        }
    };
    if let Some(why) = pass_reason {
        return rows_or_kept(why.to_owned());
    }
    if leaf.default {
        return rows_or_kept("the default partition has no bounds".into());
    }
    if !before_cutoff {
        return rows_or_kept(if matched > 0 {
            "its upper bound lies after the cutoff".into()
        } else {
            "nothing in it has expired".into()
        });
    }
    if leaf.elsewhere {
        return rows_or_kept(format!(
            "it lives in schema `{}`, outside the connection's schema",
            leaf.schema
        ));
    }
    if Ident::parse(&leaf.name).is_err() || Ident::parse(&leaf.parent).is_err() {
        return rows_or_kept("its name is not a plain identifier".into());
    }
    if held > 0 {
        return rows_or_kept(format!("{held} row(s) of held subjects are in it"));
    }
    if referenced > 0 {
        return rows_or_kept(format!(
            "{referenced} row(s) in it are referenced by a foreign key"
        ));
    }
    if actionable != rows {
        return rows_or_kept(format!(
            "{} row(s) in it are not selected by the pass",
            rows - actionable.min(rows)
        ));
    }
    Verdict::Drop
}

/// Every leaf of the target with its figures and verdict for one expiry pass; with
/// `candidates_only` (a run) only the leaves that may go whole are counted and returned.
pub async fn plan(
    pool: &SqlPool,
    p: &PreparedTable,
    sel: &Selection,
    candidates_only: bool,
) -> Result<Vec<PartitionPlan>> {
    let leaves = leaves(pool, p).await?;
    let reason = pass_reason(p, sel);
    let mut c = pool.acquire().await?;
    let mut out = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let before = match (reason.is_none(), sel.cutoff) {
            (true, Some(cutoff)) => wholly_before(&mut c.conn(), p, &leaf, cutoff).await?,
            _ => false,
        };
        if candidates_only && (!before || leaf.default) {
            continue;
        }
        let counts = count_leaf(&mut c.conn(), p, sel, &leaf).await?;
        let mut verdict = judge(&leaf, reason.as_deref(), before, counts);
        let [rows, matched, held, referenced, actionable] = counts;
        if verdict == Verdict::Drop {
            if let Some(why) = dependents(&mut c.conn(), &leaf).await? {
                verdict = if matched > 0 {
                    Verdict::Rows(why)
                } else {
                    Verdict::Kept(why)
                };
            }
        }
        out.push(PartitionPlan {
            leaf,
            rows,
            matched,
            held,
            referenced,
            actionable,
            verdict,
        });
    }
    Ok(out)
}

/// PostgreSQL: what would make removing the partition whole fail — a view (or rule)
/// reading it or a foreign key referencing the partition itself (its `DROP` would fail
/// after the detach, leaving it detached, its rows gone from the table without being
/// deleted), or a job role that owns neither it nor its table (`COMMENT`, `DETACH` and
/// `DROP` need the owner; row batches need only `DELETE`).
async fn dependents(conn: &mut SqlConn<'_>, leaf: &Leaf) -> Result<Option<String>> {
    let SqlConn::Pg(c) = conn else {
        return Ok(None);
    };
    let (view, key, owned): (bool, bool, bool) = sqlx::query_as(
        "WITH leaf AS (
           SELECT c.oid, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = COALESCE(NULLIF($1, ''), current_schema()) AND c.relname = $2)
         SELECT
           EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid, leaf
                    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                      AND d.refobjid = leaf.oid AND r.ev_class <> leaf.oid),
           EXISTS (SELECT 1 FROM pg_constraint k, leaf
                    WHERE k.contype = 'f' AND k.confrelid = leaf.oid AND k.conparentid = 0),
           COALESCE((SELECT pg_has_role(leaf.relowner, 'USAGE')
                       AND pg_has_role(p.relowner, 'USAGE')
                       FROM leaf JOIN pg_inherits i ON i.inhrelid = leaf.oid
                       JOIN pg_class p ON p.oid = i.inhparent), false)",
    )
    .bind(&leaf.schema)
    .bind(&leaf.name)
    .fetch_one(&mut **c)
    .await
    .context("reading what depends on a partition")?;
    Ok(if view {
        Some("a view or rule reads it, so it cannot be dropped".to_owned())
    } else if key {
        Some("a foreign key references the partition itself, so it cannot be dropped".to_owned())
    } else if !owned {
        Some(
            "the job's role does not own it and its table (detaching and dropping need the owner)"
                .to_owned(),
        )
    } else {
        None
    })
}

/// The leaf's keys, read under the lock the caller holds, in key order as text (or, for
/// one integer key column, as integers).
pub enum LeafKeys {
    Ints(Vec<i64>),
    Texts(Vec<Vec<String>>),
}

pub async fn leaf_keys(conn: &mut SqlConn<'_>, p: &PreparedTable, leaf: &Leaf) -> Result<LeafKeys> {
    let mut q = SqlText::new(p.dialect);
    if p.keys.len() == 1 && p.integer_keys() {
        let int = match p.dialect {
            Dialect::MySql => "SIGNED",
            _ => "BIGINT",
        };
        q.push(&format!("SELECT CAST({} AS {int})", p.key_list()))
            .push(" FROM ")
            .push(&leaf_from(p, leaf)?);
        return Ok(LeafKeys::Ints(fetch_ints(conn, &q).await?));
    }
    q.push("SELECT ")
        .push(&p.key_texts(Some(T)))
        .push(" FROM ")
        .push(&leaf_from(p, leaf)?);
    let rows = fetch_texts(conn, &q, p.keys.len()).await?;
    let mut keys: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    super::batch::sort_keys(p, &mut keys);
    Ok(LeafKeys::Texts(keys))
}

/// The leaf partitions of a PostgreSQL partitioned table when every one is an ordinary
/// table in the current schema with a plain name (a row's `ctid` is unique within each),
/// or `None` (a foreign table, another schema, or not a partitioned table).
pub async fn pg_plain_leaves(pool: &SqlPool, p: &PreparedTable) -> Result<Option<Vec<Ident>>> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(None);
    };
    let table = p.target.table.as_str();
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relkind = 'r' AND n.nspname = current_schema()
           FROM pg_partition_tree((
                  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = current_schema() AND c.relname = $1)) t
           JOIN pg_class c ON c.oid = t.relid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE t.isleaf
          ORDER BY c.relname",
    )
    .bind(table)
    .fetch_all(pg)
    .await
    .with_context(|| format!("listing the partitions of `{table}`"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (name, plain) in rows {
        match Ident::parse(&name) {
            Ok(ident) if plain => out.push(ident),
            _ => return Ok(None),
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// A partition's row count and keys digest on PostgreSQL, hashed as its keys stream from
/// the server: the same digest as `execute::keys_digest` over [`leaf_keys`]
/// (`stores::sql::copy_digest`).
pub async fn pg_leaf_digest(
    conn: &mut sqlx::PgConnection,
    p: &PreparedTable,
    leaf: &Leaf,
) -> Result<(u64, String)> {
    super::copy_digest::pg_keys_digest(conn, p, &leaf_from(p, leaf)?).await
}

/// The comment a partition carries once the tool has started to detach it for good,
/// so that a rerun after a crash finds it and finishes the job.
pub fn detach_comment(parent: &str, drop: bool) -> String {
    format!(
        "retention: detached from {parent} as expired; {}",
        if drop { "to drop" } else { "kept" }
    )
}

/// PostgreSQL: the tables of the connection's schema that carry the tool's mark for one
/// of `parents` — (name, its parent, whether it is a partition still attached and not
/// pending detach, whether it is a detached plain table, whether its mark says kept) —
/// from one catalog read.
async fn marked(
    pool: &SqlPool,
    parents: &[String],
) -> Result<Vec<(String, String, bool, bool, bool)>> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(Vec::new());
    };
    let rows: Vec<(String, String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, obj_description(c.oid, 'pg_class'),
                c.relispartition AND NOT COALESCE(i.inhdetachpending, false),
                c.relkind = 'r' AND NOT c.relispartition
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
         WHERE n.nspname = current_schema()
           AND obj_description(c.oid, 'pg_class') LIKE 'retention: detached from %'
         ORDER BY 1",
    )
    .fetch_all(pg)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, comment, attached, detached)| {
            let parent = parents.iter().find(|parent| {
                comment == detach_comment(parent, true) || comment == detach_comment(parent, false)
            })?;
            let kept = comment == detach_comment(parent, false);
            Some((name, parent.clone(), attached, detached, kept))
        })
        .collect())
}

/// PostgreSQL: tables of the schema a run detached from one of `parents` to drop and did
/// not drop yet (a crash between detach and drop), and with `kept` also those a
/// `partitions: detach` run kept (a rule that now says `drop` drops them).
pub async fn detached_to_drop(
    pool: &SqlPool,
    parents: &[String],
    kept: bool,
) -> Result<Vec<(String, String)>> {
    Ok(marked(pool, parents)
        .await?
        .into_iter()
        .filter(|(_, _, _, detached, was_kept)| *detached && (kept || !was_kept))
        .map(|(name, parent, ..)| (name, parent))
        .collect())
}

/// PostgreSQL: partitions of one of `parents` still attached (and not pending detach)
/// that carry the tool's mark — left by a run that stopped between marking and
/// detaching, or a kept table attached again by hand. The mark must go: it would make a
/// later run take the table for one it detached, once someone detaches it.
pub async fn stale_marks(pool: &SqlPool, parents: &[String]) -> Result<Vec<String>> {
    Ok(marked(pool, parents)
        .await?
        .into_iter()
        .filter(|(_, _, attached, ..)| *attached)
        .map(|(name, ..)| name)
        .collect())
}

/// Runs one PostgreSQL DDL statement on `conn` outside a transaction, with a short
/// `lock_timeout`, trying again (with a growing pause) while the lock is not granted.
/// Runs a DDL statement under a 2 s `lock_timeout`, trying again (with a growing pause)
/// while the lock is not granted, `attempts` times in all.
pub async fn ddl_with_retries(
    conn: &mut SqlConn<'_>,
    sql: &str,
    what: &str,
    attempts: u32,
) -> Result<()> {
    let mut q = SqlText::new(Dialect::Postgres);
    q.push("SET lock_timeout = '2s'");
    execute(conn, &q).await?;
    let mut attempt = 0u32;
    loop {
        let mut q = SqlText::new(Dialect::Postgres);
        q.push(sql);
        match execute(conn, &q).await {
            Ok(_) => break,
            Err(e) if attempt + 1 < attempts && lock_not_available(&e) => {
                attempt += 1;
                tracing::warn!(
                    attempt,
                    statement = what,
                    "Lock not granted within 2 s; trying again."
                );
                tokio::time::sleep(std::time::Duration::from_millis(250 * u64::from(attempt)))
                    .await;
            }
            Err(e) => {
                let mut reset = SqlText::new(Dialect::Postgres);
                reset.push("RESET lock_timeout");
                let _ = execute(conn, &reset).await;
                return Err(e.context(what.to_owned()));
            }
        }
    }
    let mut q = SqlText::new(Dialect::Postgres);
    q.push("RESET lock_timeout");
    execute(conn, &q).await?;
    Ok(())
}

/// The partitions below the target's table, in the connection's schema as their parents
/// are, whose `DETACH … CONCURRENTLY` did its first step only: `(name, parent)`. They are
/// read from `pg_inherits`, since `pg_partition_tree` no longer lists them.
pub async fn pending_detaches(pool: &SqlPool, p: &PreparedTable) -> Result<Vec<(String, String)>> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(Vec::new());
    };
    let table = p.target.table.as_str();
    sqlx::query_as(
        "WITH RECURSIVE here AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
         tree(relid) AS (
           SELECT c.oid FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM here) AND c.relname = $1
           UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid)
         SELECT c.relname::text, pc.relname::text
           FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid
           JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class pc ON pc.oid = i.inhparent
          WHERE i.inhdetachpending
            AND c.relnamespace = (SELECT oid FROM here) AND pc.relnamespace = (SELECT oid FROM here)
          ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pg)
    .await
    .with_context(|| format!("listing the partitions of `{table}` pending detach"))
}

/// Whether `name`, a partition in the connection's schema, is pending detach (a
/// `DETACH … CONCURRENTLY` did its first step only).
pub async fn pending_detach(pool: &SqlPool, name: &str) -> Result<bool> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(false);
    };
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relname = $1 AND i.inhdetachpending)",
    )
    .bind(name)
    .fetch_one(pg)
    .await?)
}

/// Whether the error is PostgreSQL's "lock not available" (a `lock_timeout` ran out).
pub fn lock_not_available(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<sqlx::Error>(),
        Some(sqlx::Error::Database(d)) if d.code().as_deref() == Some("55P03")
    )
}

/// A quoted identifier for a catalog name, or an error naming it.
pub fn quoted(d: Dialect, name: &str) -> Result<String> {
    match Ident::parse(name) {
        Ok(i) => Ok(d.quote(&i)),
        Err(e) => bail!("`{}`: {e}", name.escape_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_are_read_from_the_catalog_text() {
        assert_eq!(
            pg_range_upper(
                "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')"
            )
            .as_deref(),
            Some("'2024-02-01 00:00:00+00'")
        );
        assert_eq!(
            pg_range_upper("FOR VALUES FROM (0) TO (1706745600)").as_deref(),
            Some("1706745600")
        );
        assert_eq!(pg_range_upper("FOR VALUES FROM ('a') TO (MAXVALUE)"), None);
        assert_eq!(pg_range_upper("FOR VALUES FROM ('a', 1) TO ('b', 2)"), None);
        assert_eq!(pg_range_upper("DEFAULT"), None);
        assert_eq!(pg_range_upper("FOR VALUES IN ('x')"), None);
        assert_eq!(
            pg_range_upper("FOR VALUES FROM ('it''s)') TO ('x''y')").as_deref(),
            Some("'x''y'")
        );
        assert_eq!(unquote("'x''y'"), "x'y");
        assert_eq!(my_range_upper("MAXVALUE"), None);
        assert_eq!(
            my_range_upper("'2024-02-01 00:00:00'").as_deref(),
            Some("'2024-02-01 00:00:00'")
        );
        assert_eq!(my_range_upper("738000").as_deref(), Some("738000"));
    }

    fn leaf() -> Leaf {
        Leaf {
            name: "ev_2024_01".into(),
            parent: "ev".into(),
            uppers: vec!["'2024-02-01'".into()],
            default: false,
            detach_pending: false,
            bound: String::new(),
            schema: "public".into(),
            elsewhere: false,
        }
    }

    #[test]
    fn a_partition_goes_whole_only_when_every_row_is_acted_on() {
        let l = leaf();
        assert_eq!(judge(&l, None, true, [10, 10, 0, 0, 10]), Verdict::Drop);
        assert_eq!(judge(&l, None, true, [0, 0, 0, 0, 0]), Verdict::Drop);
        assert_eq!(judge(&l, None, true, [10, 10, 1, 0, 9]).as_str(), "rows");
        assert_eq!(judge(&l, None, true, [10, 10, 0, 2, 8]).as_str(), "rows");
        assert_eq!(judge(&l, None, true, [10, 9, 0, 0, 9]).as_str(), "rows");
        assert_eq!(judge(&l, None, false, [10, 4, 0, 0, 4]).as_str(), "rows");
        assert_eq!(judge(&l, None, false, [10, 0, 0, 0, 0]).as_str(), "kept");
        assert_eq!(
            judge(&l, Some("filter"), true, [10, 10, 0, 0, 10]).as_str(),
            "rows"
        );
        let d = Leaf {
            default: true,
            ..leaf()
        };
        assert_eq!(judge(&d, None, true, [3, 3, 0, 0, 3]).as_str(), "rows");
        let elsewhere = Leaf {
            schema: "archive".into(),
            elsewhere: true,
            ..leaf()
        };
        let v = judge(&elsewhere, None, true, [3, 3, 0, 0, 3]);
        assert_eq!(v.as_str(), "rows");
        assert!(v.why().contains("archive"), "{}", v.why());
    }
}
