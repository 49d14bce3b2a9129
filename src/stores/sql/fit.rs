//! Whether a table target fits the live table it names: a relation the tool can delete
//! from by key, a key that names one row, columns that exist with types that suit their
//! role, filter values that convert to their column's type, and anonymisation strategies
//! whose output the column can hold.
//!
//! Pure: it reads the catalog facts gathered beforehand. `check --connect` reports every
//! misfit with the rule's file, line and field; preparing a target for a run refuses it
//! on the same misfits, before its first batch.

use super::catalog::{Column, ForeignKey, Relation, TableInfo};
use super::pool::Dialect;
use super::value::{literal, ColumnKind, Value};
use crate::rules::{ColumnStrategy, FilterOp, PartitionMode, SubjectColumn, TableTarget, TimeUnit};

/// One way a target does not fit: the field (relative to the target, e.g. `filter[0].eq`
/// or `anonymise.dob`) and what is wrong, with what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    pub field: String,
    pub message: String,
}

/// The characters an `hmac` pseudonym takes (SHA-256 in hex).
const HMAC_LENGTH: u32 = 64;

/// Key column types whose text form does not name and order rows as the column does, on
/// MySQL/MariaDB: binary strings and BLOBs (bytes that are not UTF-8 read as `?`), BIT,
/// ENUM and SET (sorted by their index, compared as text), and spatial types. On SQLite:
/// a column declared without a type or as a BLOB, which keeps `1` and `'1'` apart and
/// sorts every number before every text, so keyset pages bound by a key's text stop.
fn unkeyable(dialect: Dialect, type_name: &str) -> bool {
    let t = type_name.to_ascii_lowercase();
    if dialect == Dialect::Sqlite {
        return super::select::no_affinity(&t);
    }
    dialect == Dialect::MySql
        && (t.contains("binary")
            || t.contains("blob")
            || ["bit", "enum", "set"].contains(&t.as_str())
            || [
                "geometry",
                "point",
                "linestring",
                "polygon",
                "multipoint",
                "multilinestring",
                "multipolygon",
                "geometrycollection",
            ]
            .contains(&t.as_str()))
}

/// A marker that says "anonymised" by being true: a boolean, or MySQL's `BOOLEAN`
/// (`TINYINT`), written as 1.
fn is_boolean_marker(dialect: Dialect, c: &Column) -> bool {
    c.kind == ColumnKind::Bool
        || (dialect == Dialect::MySql && c.type_name.eq_ignore_ascii_case("tinyint"))
}

/// Every misfit of `target` against `info` (and the `via` table's `parent`, when the
/// subject is found through one), in field order.
pub fn misfits(
    dialect: Dialect,
    target: &TableTarget,
    info: &TableInfo,
    parent: Option<&TableInfo>,
    fks: &[ForeignKey],
) -> Vec<Misfit> {
    let mut out = Vec::new();
    let mut bad = |field: &str, message: String| {
        out.push(Misfit {
            field: field.to_owned(),
            message,
        })
    };
    let table = &target.table;
    if let Relation::NotATable(what) = info.relation {
        bad(
            "table",
            format!(
                "`{table}` is {what}; name the table that holds the rows (a view cannot be deleted from by key)"
            ),
        );
        return out;
    }
    if let Some(engine) = info
        .engine
        .as_deref()
        .filter(|e| !e.eq_ignore_ascii_case("InnoDB"))
    {
        bad(
            "table",
            format!(
                "`{table}` uses the {engine} storage engine, which cannot roll back: a batch that fails halfway would leave rows deleted without their audit entry; convert it (`ALTER TABLE … ENGINE=InnoDB`) or leave it to another tool"
            ),
        );
        return out;
    }
    let missing = |col: &str| format!("table `{table}` has no column `{col}`");

    let key: Vec<&str> = target.key.iter().map(|k| k.as_str()).collect();
    let absent: Vec<&&str> = key.iter().filter(|k| info.column(k).is_none()).collect();
    if let Some(k) = absent.first() {
        bad("key", missing(k));
    } else if let Some(why) = info.key_problem(&key) {
        bad("key", why);
    } else if let Some((k, ty)) = key.iter().find_map(|k| {
        let c = info.column(k)?;
        unkeyable(dialect, &c.type_name).then_some((*k, c.type_name.as_str()))
    }) {
        bad(
            "key",
            format!(
                "key column `{k}` is {}: a batch reads its keys as text, which for it does not \
                 name each row (nor sort as the column does), so the audit digest and the batch \
                 ranges would be wrong; use a unique key of integer, text, decimal, date/time or \
                 uuid columns",
                match ty.trim() {
                    "" => "declared without a type",
                    ty => ty,
                }
            ),
        );
    }

    if let Some(ts) = &target.timestamp {
        match info.column(ts.column.as_str()) {
            None => bad("timestamp", missing(ts.column.as_str())),
            Some(c) => {
                let native = ts.unit == TimeUnit::Native;
                // Text holds times only on SQLite, which has no time type; elsewhere a
                // `varchar` column of times is read by no comparison the tool makes.
                let ok = match native {
                    true => match c.kind {
                        ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date => true,
                        ColumnKind::Text => dialect == Dialect::Sqlite,
                        _ => false,
                    },
                    // An epoch may be a float (Home Assistant's `*_ts`); on SQLite any
                    // column but a text one keeps numbers as numbers (a DATETIME of
                    // milliseconds, as Prisma writes them).
                    false => match c.kind {
                        ColumnKind::Int | ColumnKind::Float => true,
                        ColumnKind::Text => false,
                        _ => dialect == Dialect::Sqlite,
                    },
                };
                if !ok {
                    bad(
                        "timestamp",
                        format!(
                            "column `{}` ({}) is not {} column; {}",
                            ts.column,
                            c.type_name,
                            if native {
                                "a date/time"
                            } else {
                                "an integer epoch"
                            },
                            if native {
                                "write {column: …, unit: s|ms|us} for epoch numbers"
                            } else {
                                "drop `unit` for date/time columns"
                            }
                        ),
                    );
                }
            }
        }
    }

    match &target.subject {
        Some(SubjectColumn::Column(c)) if info.column(c.as_str()).is_none() => {
            bad("subject", missing(c.as_str()))
        }
        Some(SubjectColumn::Via {
            column,
            table: via,
            key,
            subject,
        }) => {
            if info.column(column.as_str()).is_none() {
                bad("subject.column", missing(column.as_str()));
            }
            match parent {
                None => bad("subject.via.table", format!("table `{via}` does not exist")),
                Some(p) => {
                    for (c, field) in [(key, "subject.via.key"), (subject, "subject.via.subject")] {
                        if p.column(c.as_str()).is_none() {
                            bad(field, format!("table `{via}` has no column `{c}`"));
                        }
                    }
                }
            }
        }
        _ => {}
    }

    if let Some(flag) = &target.erasure_flag {
        match info.column(flag.as_str()) {
            None => bad("erasure_flag", missing(flag.as_str())),
            Some(c) if !c.nullable && !matches!(c.kind, ColumnKind::Bool | ColumnKind::Int) => {
                bad("erasure_flag", format!(
                    "column `{flag}` is NOT NULL, so every row would look flagged for erasure; use a nullable column (or a boolean: true flags a row)"
                ));
            }
            Some(_) => {}
        }
    }

    if let Some(m) = &target.marker {
        match info.column(m.as_str()) {
            None => bad("marker", missing(m.as_str())),
            Some(c) => {
                let flag = is_boolean_marker(dialect, c);
                let ok = match c.kind {
                    ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Bool => true,
                    ColumnKind::Text => c.max_length.map_or(true, |n| n >= 20),
                    _ => flag,
                };
                if !ok {
                    bad("marker", format!(
                        "column `{m}` ({}) cannot hold the time a row was anonymised; use a nullable timestamp (or boolean) column",
                        c.type_name
                    ));
                } else if !c.nullable && !flag {
                    bad("marker", format!(
                        "column `{m}` is NOT NULL, so no row would ever look unanonymised; use a nullable column"
                    ));
                }
            }
        }
    }

    for (i, f) in target.filter.iter().enumerate() {
        let field = if target.filter.len() == 1 && !target.places.lines.contains_key("filter[0]") {
            "filter".to_owned()
        } else {
            format!("filter[{i}]")
        };
        let Some(c) = info.column(f.column.as_str()) else {
            bad(&format!("{field}.column"), missing(f.column.as_str()));
            continue;
        };
        let (op, values) = match &f.op {
            FilterOp::Eq(v) => ("eq", std::slice::from_ref(v)),
            FilterOp::NotEq(v) => ("ne", std::slice::from_ref(v)),
            FilterOp::In(vs) => ("in", vs.as_slice()),
            FilterOp::NotIn(vs) => ("not_in", vs.as_slice()),
            FilterOp::IsNull | FilterOp::IsNotNull => continue,
        };
        for v in values {
            if let Err(why) = literal(c.kind, &c.type_name, v) {
                bad(
                    &format!("{field}.{op}"),
                    format!(
                        "{why}: column `{}` compares as its own type, so this value can never match as meant",
                        f.column
                    ),
                );
            }
        }
    }

    if target.partitions.whole() {
        let mode = target.partitions.as_str();
        match (&info.partitioning, dialect) {
            (None, _) => bad(
                "partitions",
                format!(
                    "`partitions: {mode}` needs a partitioned table, and `{table}` is not one (PostgreSQL `PARTITION BY RANGE`, MySQL/MariaDB `PARTITION BY RANGE`); write `partitions: rows` or leave the field out"
                ),
            ),
            (Some(_), Dialect::MySql) if target.partitions == PartitionMode::Detach => bad(
                "partitions",
                "`partitions: detach` keeps the detached partition as a table, which only PostgreSQL does here; use `partitions: drop` on MySQL/MariaDB".to_owned(),
            ),
            _ => {}
        }
    }

    for (col, strategy) in &target.anonymise {
        let field = format!("anonymise.{col}");
        let Some(c) = info.column(col.as_str()) else {
            bad(&field, missing(col.as_str()));
            continue;
        };
        if let Some(why) = strategy_misfit(dialect, strategy, c) {
            bad(&field, why);
        } else if let Some(fk) = fks.iter().find(|fk| {
            fk.parent.eq_ignore_ascii_case(&info.name)
                && fk.parent_cols.iter().any(|p| p == col.as_str())
        }) {
            // Rewriting a referenced value cascades to (`ON UPDATE CASCADE`, `SET NULL`)
            // or is refused by the rows that reference it: rows no rule selected.
            bad(
                &field,
                format!(
                    "column `{col}` is referenced by a foreign key from `{}`: rewriting it would change (or be refused by) the rows that reference it, unaudited; anonymise their copy with a rule of their own, or reference another key",
                    fk.child
                ),
            );
        }
    }
    out
}

/// Why a strategy's output cannot be stored in the column, if it cannot.
fn strategy_misfit(dialect: Dialect, strategy: &ColumnStrategy, c: &Column) -> Option<String> {
    let kind = c.kind;
    let too_long = |n: u32, what: &str| {
        c.max_length.filter(|max| *max < n).map(|max| {
            format!("{what} takes {n} characters and the column (`{}`) holds at most {max}; widen it or choose another strategy", c.type_name)
        })
    };
    let wrong_kind = |wants: &str| {
        Some(format!(
            "this strategy needs {wants}, and the column is `{}`",
            c.type_name
        ))
    };
    // A PostgreSQL array (`_text`): only `null` writes a value the column takes.
    if dialect == Dialect::Postgres
        && c.type_name.starts_with('_')
        && !matches!(strategy, ColumnStrategy::Null)
    {
        return Some(format!(
            "the column is an array (`{}`); only `null` anonymises an array column",
            c.type_name
        ));
    }
    match strategy {
        ColumnStrategy::Null if !c.nullable => {
            Some("`null` needs a nullable column; this one is NOT NULL (use {replace: …})".into())
        }
        ColumnStrategy::Null => None,
        ColumnStrategy::Replace(v) => match literal(kind, &c.type_name, v) {
            Err(why) => Some(format!("{{replace: …}}: {why}")),
            Ok(value) => match kind {
                ColumnKind::Text => {
                    too_long(v.text().chars().count() as u32, "the replacement value")
                }
                _ => out_of_range(dialect, c, &value),
            },
        },
        ColumnStrategy::Hmac if kind == ColumnKind::Text => {
            too_long(HMAC_LENGTH, "an hmac pseudonym (64 hex characters)")
        }
        ColumnStrategy::Hmac => wrong_kind("a text column"),
        ColumnStrategy::MaskKeepLast(_) if kind == ColumnKind::Text => None,
        ColumnStrategy::MaskKeepLast(_) => wrong_kind("a text column"),
        ColumnStrategy::Round(_) if matches!(kind, ColumnKind::Float | ColumnKind::Int) => None,
        ColumnStrategy::Round(_) => wrong_kind("a numeric column"),
        ColumnStrategy::TruncateIp if matches!(kind, ColumnKind::Text | ColumnKind::Inet) => None,
        ColumnStrategy::TruncateIp => wrong_kind("a text or inet column"),
        ColumnStrategy::TruncateDate(_) => match kind {
            ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date => None,
            // Only SQLite keeps dates as text; elsewhere a text column holds no date.
            ColumnKind::Text if dialect == Dialect::Sqlite => {
                too_long(20, "a truncated date (2026-01-01T00:00:00Z)")
            }
            _ => wrong_kind("a date or timestamp column"),
        },
    }
}

/// A replacement the column cannot hold: an integer past its type's range (signed, as
/// the catalog names it), or a time outside a MySQL/MariaDB `TIMESTAMP` (1970-01-01
/// 00:00:01 to 2038-01-19 03:14:07 UTC).
fn out_of_range(dialect: Dialect, c: &Column, value: &Value) -> Option<String> {
    if let Value::I64(i) = value {
        let t = c.type_name.to_ascii_lowercase();
        let bits = match t.as_str() {
            "tinyint" if dialect == Dialect::MySql => 8,
            "int2" | "smallint" => 16,
            "mediumint" if dialect == Dialect::MySql => 24,
            "int4" | "int" | "integer" if dialect != Dialect::Sqlite => 32,
            _ => 64,
        };
        if bits == 64 {
            return None;
        }
        let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        if !(lo..=hi).contains(i) {
            return Some(format!(
                "{{replace: {i}}}: the column (`{}`) holds {lo} to {hi} only",
                c.type_name
            ));
        }
        return None;
    }
    if dialect != Dialect::MySql || !c.type_name.eq_ignore_ascii_case("timestamp") {
        return None;
    }
    let t = match value {
        Value::Naive(n) => n.and_utc(),
        Value::Instant(t) => *t,
        _ => return None,
    };
    let (lo, hi) = (1, 2_147_483_647);
    (t.timestamp() < lo || t.timestamp() > hi).then(|| {
        "{replace: …}: a MySQL/MariaDB TIMESTAMP holds 1970-01-01 00:00:01 to 2038-01-19 03:14:07 only; use a value in that range or a DATETIME column".to_owned()
    })
}
