//! Turning a [`Selection`] over a table target into SQL conditions. Pure: the catalog
//! facts it needs were read beforehand into a [`PreparedTable`].
//!
//! Three condition groups make every query: the *base* (filters, the reason, not yet
//! anonymised, the shard), *held* (the row's subject is under legal hold) and *free*
//! (no child row still references it). A batch acts on `base AND NOT held AND free`;
//! the plan counts the other combinations.

use super::catalog::{ForeignKey, Relation, TableInfo};
use super::dialect::{sqlite_date_only, sqlite_julianday, SqlText};
use super::pool::Dialect;
use super::value::{literal, ColumnKind, Value};
use crate::audit::Reason;
use crate::ident::Ident;
use crate::plan::Selection;
use crate::rules::{Action, ColumnStrategy, FilterOp, Scalar, SubjectColumn, TableTarget};
use anyhow::{anyhow, bail, Result};
use chrono::{DateTime, Utc};

/// The alias every statement gives the target table.
pub const T: &str = "t";

/// A column with what the catalog says about it.
#[derive(Debug, Clone)]
pub struct TypedColumn {
    pub name: Ident,
    pub kind: ColumnKind,
    pub type_name: String,
    pub nullable: bool,
}

/// A pass that runs before another in the same run, on the same store: its selection
/// over its table. Plans use these to predict which child rows will be gone.
#[derive(Debug, Clone)]
pub struct Earlier<'a> {
    pub table: &'a PreparedTable,
    pub selection: &'a Selection,
    /// The passes before that one, whose deletions it counts on in turn (shared: every
    /// pass's list is built once).
    pub before: std::sync::Arc<[Earlier<'a>]>,
}

/// A filter with its values already converted to the column's type.
#[derive(Debug, Clone)]
pub struct TypedFilter {
    pub column: TypedColumn,
    pub op: TypedOp,
}

/// A filter's condition, its values typed to the column.
#[derive(Debug, Clone)]
pub enum TypedOp {
    Eq(Value),
    NotEq(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    IsNull,
    IsNotNull,
}

/// A table target resolved against the live catalog.
#[derive(Debug, Clone)]
pub struct PreparedTable {
    pub dialect: Dialect,
    /// A plain table, or rows spread over partitions or inheritance children.
    pub relation: Relation,
    pub target: TableTarget,
    /// The target's filters, typed to their columns.
    pub filters: Vec<TypedFilter>,
    /// The `{replace: …}` value of each anonymised column typed to it, in
    /// `target.anonymise` order (`None` for the other strategies).
    pub replacements: Vec<Option<Value>>,
    pub keys: Vec<TypedColumn>,
    pub timestamp: Option<(TypedColumn, Option<i64>)>,
    /// The column holding the subject id: the table's own, or the parent's for a `via` hop.
    pub subject: Option<TypedColumn>,
    pub marker: Option<TypedColumn>,
    /// The erasure flag column, typed: a boolean or integer flag counts when true / not 0.
    pub erasure_flag: Option<TypedColumn>,
    /// Kinds of the anonymised columns, in `target.anonymise` order.
    pub anonymised: Vec<TypedColumn>,
    /// Some index starts with the timestamp column, so time windows are cheap to scan.
    pub timestamp_indexed: bool,
    /// A `BEFORE DELETE` row trigger or a `DELETE` rule may change what a delete does
    /// (`catalog::TableInfo::delete_rewritten`): no time windows, which cannot count.
    pub delete_rewritten: bool,
    /// Any row-level `DELETE` trigger or rule: no partition is dropped whole.
    pub delete_hooked: bool,
    /// The key is the primary key, column for column in its order: keyset batches can
    /// walk its index (see [`PreparedTable::keyset_from`]).
    pub key_is_primary: bool,
    /// Keyset batches walk the primary key's index whatever the optimizer would choose:
    /// set by a pass that takes a large share of the table (see
    /// `execute::table::TablePass::walks_primary`).
    pub walk_primary: bool,
    /// The server hashes constant arrays ([`super::catalog::TableInfo::hashes_arrays`]).
    pub hashes_arrays: bool,
    /// How the table is partitioned, when it is a partitioned table.
    pub partitioning: Option<super::partitions::Partitioning>,
    /// Every foreign key that references this table, whatever its `ON DELETE` action. A
    /// row some child row references is not deleted (it counts as locked) until its
    /// children are gone, as under `RESTRICT`: a cascade or `SET NULL` would delete or
    /// change rows no rule selected — a held subject's, a record kept by law, a fresh
    /// one — with no audit entry. A partition none of whose rows they reference may be
    /// dropped whole.
    pub referencing: Vec<ForeignKey>,
}

fn typed(info: &TableInfo, name: &Ident, what: &str) -> Result<TypedColumn> {
    let c = info.column(name.as_str()).ok_or_else(|| {
        anyhow!(
            "table `{}` has no column `{}` (named as {what})",
            info.name,
            name
        )
    })?;
    Ok(TypedColumn {
        name: name.clone(),
        kind: c.kind,
        type_name: c.type_name.clone(),
        nullable: c.nullable,
    })
}

impl PreparedTable {
    /// Checks the target against the catalog and keeps the facts later queries need.
    pub fn new(
        dialect: Dialect,
        target: &TableTarget,
        info: &TableInfo,
        parent: Option<&TableInfo>,
        fks: &[ForeignKey],
    ) -> Result<PreparedTable> {
        let misfits = super::fit::misfits(dialect, target, info, parent, fks);
        if !misfits.is_empty() {
            let lines: Vec<String> = misfits
                .iter()
                .map(|m| format!("{}: {}", m.field, m.message))
                .collect();
            bail!(
                "the rule does not fit the table (`retention check --connect` shows where): {}",
                lines.join("; ")
            );
        }
        let keys = target
            .key
            .iter()
            .map(|k| typed(info, k, "a key column"))
            .collect::<Result<Vec<_>>>()?;
        let timestamp = match &target.timestamp {
            Some(ts) => Some((
                typed(info, &ts.column, "the timestamp")?,
                ts.unit.per_second(),
            )),
            None => None,
        };
        let subject = match &target.subject {
            None => None,
            Some(SubjectColumn::Column(c)) => Some(typed(info, c, "the subject")?),
            Some(SubjectColumn::Via {
                column,
                table,
                key,
                subject,
            }) => {
                typed(info, column, "the subject's `via` column")?;
                let p =
                    parent.ok_or_else(|| anyhow!("the `via` table `{table}` does not exist"))?;
                typed(p, key, "the `via` key")?;
                Some(typed(p, subject, "the `via` subject")?)
            }
        };
        let erasure_flag = match &target.erasure_flag {
            Some(f) => Some(typed(info, f, "the erasure flag")?),
            None => None,
        };
        let marker = match &target.marker {
            Some(m) => Some(typed(info, m, "the marker")?),
            None => None,
        };
        let anonymised = target
            .anonymise
            .iter()
            .map(|(c, _)| typed(info, c, "an anonymised column"))
            .collect::<Result<Vec<_>>>()?;
        let replacements = target
            .anonymise
            .iter()
            .zip(&anonymised)
            .map(|((_, s), c)| match s {
                ColumnStrategy::Replace(v) => literal(c.kind, &c.type_name, v)
                    .map(Some)
                    .map_err(|e| anyhow!("anonymise.{}: {e}", c.name)),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let filters = target
            .filter
            .iter()
            .map(|f| {
                let column = typed(info, &f.column, "a filter column")?;
                let one = |v: &Scalar| {
                    literal(column.kind, &column.type_name, v)
                        .map_err(|e| anyhow!("filter on `{}`: {e}", f.column))
                };
                let many = |vs: &[Scalar]| vs.iter().map(one).collect::<Result<Vec<_>>>();
                let op = match &f.op {
                    FilterOp::Eq(v) => TypedOp::Eq(one(v)?),
                    FilterOp::NotEq(v) => TypedOp::NotEq(one(v)?),
                    FilterOp::In(vs) => TypedOp::In(many(vs)?),
                    FilterOp::NotIn(vs) => TypedOp::NotIn(many(vs)?),
                    FilterOp::IsNull => TypedOp::IsNull,
                    FilterOp::IsNotNull => TypedOp::IsNotNull,
                };
                Ok(TypedFilter { column, op })
            })
            .collect::<Result<Vec<_>>>()?;
        let referencing: Vec<ForeignKey> = fks
            .iter()
            // SQLite names tables case-insensitively (`REFERENCES Accounts(id)`).
            .filter(|fk| match dialect {
                Dialect::Sqlite => fk.parent.eq_ignore_ascii_case(&info.name),
                _ => fk.parent == info.name,
            })
            .cloned()
            .collect();
        let timestamp_indexed = timestamp
            .as_ref()
            .is_some_and(|(c, _)| info.is_indexed(c.name.as_str()));
        let key_is_primary = !info.primary_key.is_empty()
            && keys.len() == info.primary_key.len()
            && keys
                .iter()
                .zip(&info.primary_key)
                .all(|(k, pk)| k.name.as_str() == pk.as_str());
        Ok(PreparedTable {
            timestamp_indexed,
            key_is_primary,
            walk_primary: false,
            delete_rewritten: info.delete_rewritten,
            delete_hooked: info.delete_hooked,
            hashes_arrays: info.hashes_arrays,
            partitioning: info.partitioning.clone(),
            referencing,
            dialect,
            relation: info.relation,
            filters,
            replacements,
            target: target.clone(),
            keys,
            timestamp,
            subject,
            marker,
            erasure_flag,
            anonymised,
        })
    }

    fn q(&self, i: &Ident) -> String {
        self.dialect.quote(i)
    }

    /// `FROM <table> t`.
    pub fn from(&self) -> String {
        format!("{} {T}", self.q(&self.target.table))
    }

    /// [`Self::from`] for a keyset batch's statements: on MySQL/MariaDB with
    /// [`Self::walk_primary`], walking the primary key's own index (`FORCE INDEX
    /// (PRIMARY)`). Left to itself the optimizer may pick the timestamp's index and sort,
    /// which under `REPEATABLE READ` locks every expired row it reads rather than the
    /// batch's — for each batch again, and in other lanes' key ranges, where parallel
    /// lanes then deadlock.
    pub fn keyset_from(&self) -> String {
        match (self.dialect, self.key_is_primary && self.walk_primary) {
            (Dialect::MySql, true) => format!("{} FORCE INDEX (PRIMARY)", self.from()),
            _ => self.from(),
        }
    }

    /// `t.k1, t.k2`.
    pub fn key_list(&self) -> String {
        self.keys
            .iter()
            .map(|k| self.dialect.col(T, &k.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key columns, each rendered as text (`CAST(t.k AS TEXT) AS k0, …`), read back
    /// for the batch's digest and the next keyset bound.
    pub fn key_texts(&self, alias: Option<&str>) -> String {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let c = match alias {
                    Some(a) => self.dialect.col(a, &k.name),
                    None => self.q(&k.name),
                };
                format!("{} AS rk{i}", self.dialect.as_text(&c))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `col` as a value of `c` is compared with a literal or a subject id. A SQLite column
    /// declared without a type or as a BLOB has no affinity: it keeps `1` an integer and
    /// `'1'` text, which `=` holds unequal, so such a column is compared as its text (an
    /// id `1` or a filter `ne: 1` then means both).
    fn compared(&self, c: &TypedColumn, col: String) -> String {
        if self.dialect == Dialect::Sqlite && no_affinity(&c.type_name) {
            format!("CAST({col} AS TEXT)")
        } else {
            col
        }
    }

    /// The base conditions: filters, the reason, not yet anonymised, the shard.
    pub fn base(&self, sel: &Selection, out: &mut SqlText) -> Result<()> {
        out.push("(1 = 1");
        for f in &self.filters {
            let col = self.compared(&f.column, self.dialect.col(T, &f.column.name));
            let (kind, ty) = (f.column.kind, f.column.type_name.as_str());
            match &f.op {
                TypedOp::Eq(v) => {
                    out.push(" AND ")
                        .push(&col)
                        .push(" = ")
                        .bind_for(kind, ty, v.clone());
                }
                TypedOp::NotEq(v) => {
                    out.push(" AND ")
                        .push(&col)
                        .push(" <> ")
                        .bind_for(kind, ty, v.clone());
                }
                TypedOp::In(vs) | TypedOp::NotIn(vs) => {
                    let not = matches!(f.op, TypedOp::NotIn(_));
                    if vs.is_empty() {
                        out.push(if not { " AND 1 = 1" } else { " AND 1 = 0" });
                        continue;
                    }
                    out.push(" AND ")
                        .push(&col)
                        .push(if not { " NOT IN (" } else { " IN (" });
                    out.list(vs, |out, v| {
                        out.bind_for(kind, ty, v.clone());
                    });
                    out.push(")");
                }
                TypedOp::IsNull => {
                    out.push(" AND ").push(&col).push(" IS NULL");
                }
                TypedOp::IsNotNull => {
                    out.push(" AND ").push(&col).push(" IS NOT NULL");
                }
            }
        }
        match sel.reason {
            Reason::Expired => {
                let (ts, per_second) = self
                    .timestamp
                    .as_ref()
                    .ok_or_else(|| anyhow!("an expiry pass needs a timestamp column"))?;
                let cutoff = sel
                    .cutoff
                    .ok_or_else(|| anyhow!("an expiry pass needs a cutoff"))?;
                out.push(" AND ");
                self.expired(ts, *per_second, cutoff, out);
                if sel.exclude_flagged {
                    if let Some(flag) = &self.erasure_flag {
                        out.push(" AND ").push(&self.is_set(flag, false));
                    }
                }
            }
            Reason::Flagged => {
                let flag = self
                    .erasure_flag
                    .as_ref()
                    .ok_or_else(|| anyhow!("a flagged pass needs an erasure_flag column"))?;
                out.push(" AND ").push(&self.is_set(flag, true));
            }
            Reason::Request => {
                out.push(" AND ");
                self.subject_is(&sel.subjects, out)?;
            }
        }
        if sel.action == Action::Anonymise {
            self.not_yet_anonymised(out);
        }
        if let Some(shard) = sel.shard {
            self.shard(shard.index, shard.count, out)?;
        }
        out.push(")");
        Ok(())
    }

    /// The record's timestamp lies wholly before `cutoff`. Integer epochs expire when
    /// their whole unit does (the cutoff rounds down); a date when its whole day does, on
    /// every dialect. Values the tool cannot read as a time — PostgreSQL's `-infinity`,
    /// MySQL's zero date, SQLite text that is no date — never expire: they are counted
    /// as unreadable instead (see [`PreparedTable::unreadable`]).
    fn expired(
        &self,
        ts: &TypedColumn,
        per_second: Option<i64>,
        cutoff: DateTime<Utc>,
        out: &mut SqlText,
    ) {
        let col = self.dialect.col(T, &ts.name);
        if let Some(k) = per_second {
            let v = cutoff.timestamp_micros().div_euclid(1_000_000 / k);
            out.push(&col).push(" < ").bind(Value::I64(v));
            return;
        }
        match self.dialect {
            Dialect::Sqlite => {
                // julianday() reads a bare date as its midnight: such a value expires only
                // once the day after it has begun by the cutoff. A value that is no time
                // (`sqlite_julianday` is NULL) never expires.
                let c = Value::Text(crate::time::rfc3339(cutoff));
                let day = sqlite_julianday(&col);
                out.push(&format!(
                    "(CASE WHEN {} THEN {day} + 1 <= julianday(",
                    sqlite_date_only(&col)
                ))
                .bind(c.clone())
                .push(&format!(") ELSE {day} < julianday("))
                .bind(c)
                .push(") END)");
            }
            Dialect::Postgres => {
                out.push(&col)
                    .push(" < ")
                    .bind(ts.kind.instant(cutoff))
                    .push(" AND ")
                    .push(&col)
                    .push(" > '-infinity'");
            }
            Dialect::MySql => {
                // Zero dates and zero-in-date values ('2025-00-00') are no time.
                out.push(&col)
                    .push(" < ")
                    .bind(ts.kind.instant(cutoff))
                    .push(" AND ")
                    .push(&col)
                    .push(&format!(
                        " >= '0001-01-01' AND MONTH({col}) <> 0 AND DAYOFMONTH({col}) <> 0"
                    ));
            }
        }
    }

    /// True for records whose timestamp is there but cannot be read as a time: they never
    /// expire, and plans count them. False without a native timestamp column.
    pub fn unreadable(&self, out: &mut SqlText) {
        let Some((ts, None)) = &self.timestamp else {
            out.push("1 = 0");
            return;
        };
        let col = self.dialect.col(T, &ts.name);
        match (self.dialect, ts.kind) {
            (Dialect::Sqlite, _) => {
                out.push(&format!(
                    "({col} IS NOT NULL AND {} IS NULL)",
                    sqlite_julianday(&col)
                ));
            }
            (Dialect::Postgres, ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date) => {
                out.push(&format!("({col} = '-infinity' OR {col} = 'infinity')"));
            }
            (Dialect::MySql, ColumnKind::Naive | ColumnKind::Date) => {
                out.push(&mysql_zero_date(&col));
            }
            _ => {
                out.push("1 = 0");
            }
        }
    }

    /// `subject IN (…)`, typed to the subject column, as the column's collation compares
    /// (holds: a case-insensitive column holds `ABC` for a hold on `abc`); false when no id
    /// can match.
    pub fn subject_in(&self, subjects: &[String], out: &mut SqlText) -> Result<()> {
        self.subject_match(subjects, false, out)
    }

    /// `subject IN (…)` for what a request erases or exports: a text subject must also be
    /// the same bytes ([`Dialect::exact_text`]), so a case- or accent-insensitive collation
    /// (`utf8mb4_general_ci`, `NOCASE`, a nondeterministic ICU collation, `citext`) never
    /// hands `José`'s rows to a request for `jose`, nor `abc `'s (PAD SPACE) to one for `abc`.
    pub fn subject_is(&self, subjects: &[String], out: &mut SqlText) -> Result<()> {
        self.subject_match(subjects, true, out)
    }

    fn subject_match(&self, subjects: &[String], exact: bool, out: &mut SqlText) -> Result<()> {
        let subj = self
            .subject
            .as_ref()
            .ok_or_else(|| anyhow!("the target has no subject column"))?;
        let values: Vec<Value> = subjects
            .iter()
            .filter_map(|s| subj.kind.value_of(s))
            // An integer past 2^63 fits only MySQL's BIGINT UNSIGNED: no PostgreSQL or
            // SQLite integer equals it.
            .filter(|v| {
                self.dialect == Dialect::MySql
                    || subj.kind != ColumnKind::Int
                    || !matches!(v, Value::Text(_))
            })
            .collect();
        if values.is_empty() {
            out.push("1 = 0");
            return Ok(());
        }
        // A PostgreSQL column of a type the tool does not know (an enum, a domain over
        // one …) meets the id as its text: a cast of the id to the type could fail, and
        // the database's error would carry the id into the log.
        let as_text = self.dialect == Dialect::Postgres && subj.kind == ColumnKind::Other;
        let kind = if as_text { ColumnKind::Text } else { subj.kind };
        // A request's or an export's text subject must also be the id's own bytes, on
        // every dialect (a PostgreSQL column can have a nondeterministic collation too).
        let bytes = exact && kind == ColumnKind::Text;
        let list = |out: &mut SqlText, col: &str| {
            let col = &match as_text {
                true => format!("CAST({col} AS TEXT)"),
                false => self.compared(subj, col.to_owned()),
            };
            out.push("(").push(col).push(" IN (");
            out.list(&values, |out, v| {
                out.bind_for(kind, &subj.type_name, v.clone());
            });
            out.push(")");
            if bytes {
                let (before, after) = self.dialect.exact_param();
                out.push(" AND ")
                    .push(&self.dialect.exact_text(col))
                    .push(" IN (");
                out.list(&values, |out, v| {
                    out.push(before).bind(v.clone()).push(after);
                });
                out.push(")");
            }
            out.push(")");
        };
        match &self.target.subject {
            Some(SubjectColumn::Column(c)) => list(out, &self.dialect.col(T, c)),
            Some(SubjectColumn::Via {
                column,
                table,
                key,
                subject,
            }) => {
                out.push(&self.dialect.col(T, column))
                    .push(" IN (SELECT ")
                    .push(&self.dialect.col("p", key))
                    .push(" FROM ")
                    .push(&self.q(table))
                    .push(" p WHERE ");
                list(out, &self.dialect.col("p", subject));
                out.push(")");
            }
            None => bail!("the target has no subject column"),
        }
        Ok(())
    }

    /// True for rows of held subjects, and false — never NULL — for every other row: a
    /// row whose subject is NULL (or whose `via` parent is missing) belongs to nobody, and
    /// no hold covers it.
    pub fn held(&self, held: &[String], out: &mut SqlText) -> Result<()> {
        if held.is_empty() || self.subject.is_none() {
            out.push("(1 = 0)");
            return Ok(());
        }
        out.push("((");
        self.subject_in(held, out)?;
        out.push(") IS TRUE)");
        Ok(())
    }

    /// True for rows no child row references (only relevant to deletes).
    pub fn free(&self, sel: &Selection, out: &mut SqlText) {
        self.free_after(sel, &[], out);
    }

    /// True for rows no child row will still reference when this pass runs: `earlier`
    /// are the delete passes that run before it in the same run, so their rows will be
    /// gone (a plan predicts the run in its order; a run counts the data as it is).
    pub fn free_after(&self, sel: &Selection, earlier: &[Earlier<'_>], out: &mut SqlText) {
        out.push("(1 = 1");
        if sel.action == Action::Delete {
            for fk in &self.referencing {
                // Names the SQL cannot carry (a NUL): the delete then meets the key in
                // the database, which refuses it, and the target fails.
                let (Some(child), Some(joined), Some(child_cols)) = (
                    fk.child_sql(self.dialect),
                    fk.join_condition(self.dialect, "c", T),
                    fk.child_cols
                        .iter()
                        .map(|c| self.dialect.quote_catalog_name(c))
                        .collect::<Option<Vec<_>>>(),
                ) else {
                    continue;
                };
                // A key from the table to itself (a reply to a comment): a row another
                // row refers to stays; a row that refers only to itself does not keep
                // itself (PostgreSQL, SQLite).
                let itself = fk.child_is(self.target.table.as_str());
                let source = match (itself, self.dialect) {
                    // MySQL/MariaDB refuse a DELETE whose condition reads the table it
                    // deletes from, except through a derived table (materialised).
                    (true, Dialect::MySql) => {
                        let read: Vec<String> = child_cols
                            .into_iter()
                            .chain(self.keys.iter().map(|k| self.dialect.quote(&k.name)))
                            .collect();
                        format!("(SELECT {} FROM {child})", read.join(", "))
                    }
                    _ => child.clone(),
                };
                out.push(&format!(
                    " AND NOT EXISTS (SELECT 1 FROM {source} c WHERE {joined}"
                ));
                // InnoDB refuses to delete a row that refers to itself: on MySQL/MariaDB
                // such a row stays, locked, like any other referenced row.
                if itself && self.dialect != Dialect::MySql {
                    out.push(" AND NOT (1 = 1");
                    for k in &self.keys {
                        out.push(" AND ")
                            .push(&self.dialect.col("c", &k.name))
                            .push(" = ")
                            .push(&self.dialect.col(T, &k.name));
                    }
                    out.push(")");
                }
                // Counting on earlier passes of the same table is left out for a key to
                // itself on MySQL/MariaDB (the derived table holds only the key columns).
                let going: Vec<&Earlier<'_>> = earlier
                    .iter()
                    .filter(|e| {
                        fk.child_is(e.table.target.table.as_str())
                            && e.selection.action == Action::Delete
                            && !(itself && self.dialect == Dialect::MySql)
                    })
                    .collect();
                if let Some(first) = going.first() {
                    // …and that no earlier pass of this run deletes (the inner `t` is
                    // the child table, as every selection renders it).
                    out.push(" AND NOT EXISTS (SELECT 1 FROM ")
                        .push(&child)
                        .push(&format!(" {T} WHERE "));
                    for (i, k) in first.table.keys.iter().enumerate() {
                        if i > 0 {
                            out.push(" AND ");
                        }
                        out.push(&self.dialect.col(T, &k.name))
                            .push(" = ")
                            .push(&self.dialect.col("c", &k.name));
                    }
                    out.push(" AND (1 = 0");
                    for e in &going {
                        out.push(" OR (");
                        // A pass that cannot render is not counted on: the row stays.
                        let mut part = SqlText::new(self.dialect);
                        if e.table
                            .actionable_after(e.selection, &e.before, &mut part)
                            .is_ok()
                        {
                            out.append(part);
                        } else {
                            out.push("1 = 0");
                        }
                        out.push(")");
                    }
                    out.push("))");
                }
                out.push(")");
            }
        }
        out.push(")");
    }

    /// The full batch condition: `base AND NOT held AND free`.
    pub fn actionable(&self, sel: &Selection, out: &mut SqlText) -> Result<()> {
        self.actionable_after(sel, &[], out)
    }

    /// [`PreparedTable::actionable`] as it will be once the `earlier` passes have run.
    pub fn actionable_after(
        &self,
        sel: &Selection,
        earlier: &[Earlier<'_>],
        out: &mut SqlText,
    ) -> Result<()> {
        self.base(sel, out)?;
        out.push(" AND NOT ");
        self.held(&sel.held, out)?;
        out.push(" AND ");
        self.free_after(sel, earlier, out);
        Ok(())
    }

    /// Whether a flag or marker column is set (`set`) or not: a boolean is set when
    /// true, a number when not 0 (MySQL's and SQLite's booleans are integers), anything
    /// else when not NULL. Both forms are true or false, never unknown, for every value
    /// NULL included: `IS TRUE`, `IS NOT TRUE`, and the NULL test written out for numbers
    /// (`x = 0` is never unknown once `x` is not NULL).
    fn is_set(&self, c: &TypedColumn, set: bool) -> String {
        let col = self.dialect.col(T, &c.name);
        // A SQLite column without affinity may hold 0, '0' or a time: zero either way is
        // not set.
        let zero = match (self.dialect, c.kind) {
            (_, ColumnKind::Bool) => None,
            // Any SQLite column may hold a number whatever its declared type (`BIT`).
            (Dialect::Sqlite, _) => Some(format!("({col} = 0 OR {col} = '0')")),
            (_, ColumnKind::Int | ColumnKind::Float) => Some(format!("{col} = 0")),
            // A zero date (`DEFAULT '0000-00-00'`) is no time a row was flagged at.
            (Dialect::MySql, ColumnKind::Naive | ColumnKind::Date) => Some(mysql_zero_date(&col)),
            (Dialect::Postgres, ColumnKind::Other)
                if matches!(c.type_name.as_str(), "bit" | "varbit") =>
            {
                Some(format!("position(B'1' IN {col}) = 0"))
            }
            _ => None,
        };
        match (c.kind, zero, set) {
            (ColumnKind::Bool, _, true) => format!("{col} IS TRUE"),
            (ColumnKind::Bool, _, false) => format!("{col} IS NOT TRUE"),
            (_, Some(zero), true) => format!("({col} IS NOT NULL AND NOT {zero})"),
            (_, Some(zero), false) => format!("({col} IS NULL OR {zero})"),
            (_, None, true) => format!("{col} IS NOT NULL"),
            (_, None, false) => format!("{col} IS NULL"),
        }
    }

    /// Rows already anonymised are never selected again: the marker is set, or every
    /// column already holds its recognisable anonymised value.
    fn not_yet_anonymised(&self, out: &mut SqlText) {
        if let Some(m) = &self.marker {
            out.push(" AND ").push(&self.is_set(m, false));
            return;
        }
        out.push(" AND NOT (1 = 1");
        for (col, strategy) in &self.target.anonymise {
            let c = self.dialect.col(T, col);
            match strategy {
                ColumnStrategy::Null => {
                    out.push(" AND ").push(&c).push(" IS NULL");
                }
                ColumnStrategy::Replace(_) => {
                    let typed = self
                        .anonymised
                        .iter()
                        .zip(&self.replacements)
                        .find(|(a, _)| a.name == *col);
                    match typed {
                        Some((a, Some(v))) => {
                            out.push(" AND (")
                                .push(&c)
                                .push(" IS NOT NULL AND ")
                                .push(&c)
                                .push(" = ")
                                .bind_for(a.kind, &a.type_name, v.clone())
                                .push(")");
                        }
                        _ => {
                            out.push(" AND 1 = 0");
                        }
                    }
                }
                // Validation refuses targets without a marker whose strategies are not
                // recognisable; treat one as never anonymised rather than guess.
                _ => {
                    out.push(" AND 1 = 0");
                }
            }
        }
        out.push(")");
    }

    fn shard(&self, index: u32, count: u32, out: &mut SqlText) -> Result<()> {
        let key = &self.keys[0];
        let col = self.dialect.col(T, &key.name);
        let hashed = match (self.dialect, key.kind) {
            // The remainder first: `ABS` of the smallest BIGINT overflows, of a remainder
            // never (and it is `ABS(col) % count` all the same).
            (_, ColumnKind::Int) => format!("ABS({col} % {count})"),
            (Dialect::Postgres, _) => format!("ABS(CAST(hashtext(CAST({col} AS TEXT)) AS BIGINT))"),
            (Dialect::MySql, _) => format!("CRC32({col})"),
            (Dialect::Sqlite, _) => bail!(
                "sharding a SQLite table needs an integer first key column; `{}` is not one",
                key.name
            ),
        };
        // `%` rather than MOD(): SQLite has no MOD function unless built with math functions.
        out.push(" AND ")
            .push(&format!("({hashed}) % {count} = {index}"));
        Ok(())
    }

    /// ` AND ts >= lo AND ts < hi`, typed to the timestamp column (not for SQLite text
    /// timestamps, which are compared through `julianday()` and would not use an index).
    pub fn window(&self, lo: DateTime<Utc>, hi: DateTime<Utc>, out: &mut SqlText) -> Result<()> {
        let (ts, per_second) = self
            .timestamp
            .as_ref()
            .ok_or_else(|| anyhow!("a time window needs a timestamp column"))?;
        let col = self.dialect.col(T, &ts.name);
        let value = |t: DateTime<Utc>| match per_second {
            Some(k) => Value::I64(t.timestamp_micros().div_euclid(1_000_000 / k)),
            None => ts.kind.instant(t),
        };
        out.push(" AND ").push(&col).push(" >= ").bind(value(lo));
        out.push(" AND ").push(&col).push(" < ").bind(value(hi));
        Ok(())
    }

    /// Whether every key column is an integer (keys can then be ordered by the tool).
    pub fn integer_keys(&self) -> bool {
        self.keys.iter().all(|k| k.kind == ColumnKind::Int)
    }

    /// `(t.k1, t.k2) > (v1, v2)` for keyset pagination, typed to the key columns.
    pub fn after(&self, last: &[String], out: &mut SqlText) {
        if last.len() != self.keys.len() {
            return;
        }
        out.push(" AND (").push(&self.key_list()).push(") > (");
        for (i, (k, v)) in self.keys.iter().zip(last).enumerate() {
            if i > 0 {
                out.push(", ");
            }
            let value = k.kind.value_of(v).unwrap_or_else(|| Value::Text(v.clone()));
            out.bind_for(k.kind, &k.type_name, value);
        }
        out.push(")");
    }
}

/// MySQL/MariaDB: a zero date (`0000-00-00`) or zero-in-date value (`2025-00-00`) — no
/// time at all, never NULL for a non-NULL `col`.
fn mysql_zero_date(col: &str) -> String {
    format!("({col} < '0001-01-01' OR MONTH({col}) = 0 OR DAYOFMONTH({col}) = 0)")
}

/// A SQLite column without type affinity: declared without a type, as a BLOB, or as
/// `ANY` (in a STRICT table), which keeps `1` and `'1'` apart.
pub fn no_affinity(type_name: &str) -> bool {
    let t = type_name.trim().to_ascii_lowercase();
    t.is_empty() || t.contains("blob") || t == "any"
}
