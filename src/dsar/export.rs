//! `retention export`: everything the tool's targets hold about one subject, as one JSON
//! document (the portability right).
//!
//! The structure is fixed and documented (docs/requests.md):
//! `{subject, generated_at, categories: [{category, source, store, target, rows: [{col:
//! value}], excluded: [{column, reason, why}]}], objects: [{store, key, size,
//! last_modified}], incomplete: [{store, target, reason}]}`. Rows are found exactly as an
//! erasure would find them (the same `subject IN (…)` condition, through `via` hops), so
//! what is exported is what an erasure would touch. Targets that could not be read are
//! listed under `incomplete` rather than silently left out.
//!
//! Columns whose names look like credentials (`password_hash`, `api_token`, `totp_secret`,
//! see [`credential_like`]) and the columns a target lists in `export_exclude` are never
//! read: each table's `excluded` says which columns were left out and why.

use crate::config::StoreConfig;
use crate::coverage::names::credential_like;
use crate::ident::Ident;
use crate::rules::{ObjectTarget, ObjectTimestamp, Rule, Target};
use crate::stores::objects::ObjectFilter;
use crate::stores::sql::catalog;
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::fetch_texts;
use crate::stores::sql::select::{PreparedTable, T};
use crate::stores::sql::{Dialect, SqlPool};
use crate::workspace::Workspace;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The whole export.
#[derive(Debug, Serialize)]
pub struct Export {
    pub subject: String,
    pub generated_at: String,
    pub categories: Vec<CategoryRows>,
    pub objects: Vec<ObjectEntry>,
    pub incomplete: Vec<Incomplete>,
}

/// The subject's rows in one target of one category.
#[derive(Debug, Serialize)]
pub struct CategoryRows {
    pub category: String,
    pub source: String,
    pub store: String,
    pub target: String,
    pub rows: Vec<Map<String, Value>>,
    /// Columns left out of `rows`, and why.
    pub excluded: Vec<Excluded>,
}

/// A column the export leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    pub column: String,
    /// `credential` (its name looks like one) or `export_exclude` (the rule lists it).
    pub reason: &'static str,
    /// The same for a person: which word, or which rule file.
    pub why: String,
}

/// One object of the subject: enough to fetch it from its store.
#[derive(Debug, Serialize)]
pub struct ObjectEntry {
    pub store: String,
    pub key: String,
    pub size: u64,
    /// When the object was last written, where the target measures age by it.
    pub last_modified: Option<String>,
    /// Where to fetch it: `s3://bucket/key`, or the file's path for a directory store.
    pub location: String,
}

/// A target whose data could not be exported, and why.
#[derive(Debug, Serialize)]
pub struct Incomplete {
    pub store: String,
    pub target: String,
    pub reason: String,
}

impl Export {
    /// Whether every target with a subject was read.
    pub fn complete(&self) -> bool {
        self.incomplete.is_empty()
    }
}

/// Collects the subject's rows from every table target of every rule.
pub async fn export(ws: &Workspace, subject: &str, now: DateTime<Utc>) -> Result<Export> {
    let rules: Vec<&crate::rules::Rule> = ws.rules.rules.iter().collect();
    let prepared = ws.prepare(&rules).await?;
    let mut out = Export {
        subject: subject.to_owned(),
        generated_at: crate::time::rfc3339(now),
        categories: Vec::new(),
        objects: Vec::new(),
        incomplete: Vec::new(),
    };
    // Report in rule order, not in the children-first order deletes need.
    let mut prepared = prepared;
    prepared.sort_by_key(|p| {
        rules
            .iter()
            .position(|r| std::ptr::eq(*r, p.rule))
            .unwrap_or(usize::MAX)
    });
    for p in &prepared {
        if !p.target.has_subject() {
            continue;
        }
        let incomplete = |reason: String| Incomplete {
            store: p.target.store().to_owned(),
            target: p.target.name().to_owned(),
            reason,
        };
        match (p.target, &p.table) {
            (Target::Objects(o), _) => match objects(ws, o, subject).await {
                Ok((found, locked)) => {
                    out.objects.extend(found);
                    if locked > 0 {
                        out.incomplete.push(incomplete(format!(
                            "{locked} objects of the subject are under Object Lock and could not be listed"
                        )));
                    }
                }
                Err(e) => out.incomplete.push(incomplete(format!("{e:#}"))),
            },
            (Target::Table(_), Err(e)) => out.incomplete.push(incomplete(e.clone())),
            (Target::Table(t), Ok(table)) => {
                let Some(pool) = ws.sql.get(&t.store) else {
                    out.incomplete
                        .push(incomplete(format!("store `{}` is not connected", t.store)));
                    continue;
                };
                match rows(pool, table, p.rule, subject).await {
                    Ok((rows, excluded)) => out.categories.push(CategoryRows {
                        category: p.rule.category.clone(),
                        source: p.rule.source.clone(),
                        store: t.store.clone(),
                        target: t.table.to_string(),
                        rows,
                        excluded,
                    }),
                    Err(e) => out.incomplete.push(incomplete(format!("{e:#}"))),
                }
            }
        }
    }
    Ok(out)
}

/// Which of `columns` the export leaves out: those the target lists in `export_exclude`,
/// and those whose names look like credentials. A listed column the table does not have
/// is an error: the rule has a typo, and the column it meant may be exported.
pub fn excluded_columns(
    columns: &[String],
    target: &crate::rules::TableTarget,
    rule: &Rule,
) -> Result<Vec<Excluded>> {
    if let Some(missing) = target
        .export_exclude
        .iter()
        .find(|c| !columns.iter().any(|x| x == c.as_str()))
    {
        return Err(anyhow!(
            "{}: export_exclude names column `{missing}`, which table `{}` does not have; fix the rule so the column it means is left out",
            rule.file.display(),
            target.table
        ));
    }
    Ok(columns
        .iter()
        .filter_map(|c| {
            if target.export_exclude.iter().any(|x| x.as_str() == c) {
                Some(Excluded {
                    column: c.clone(),
                    reason: "export_exclude",
                    why: format!("listed in export_exclude in {}", rule.file.display()),
                })
            } else {
                credential_like(c).map(|word| Excluded {
                    column: c.clone(),
                    reason: "credential",
                    why: format!("its name looks like a credential ({word})"),
                })
            }
        })
        .collect())
}

/// The subject's rows of one table, each as a JSON object built by the database itself
/// (so numbers stay numbers and every type has the database's own JSON form), without
/// the excluded columns, which are not even read.
async fn rows(
    pool: &SqlPool,
    table: &PreparedTable,
    rule: &Rule,
    subject: &str,
) -> Result<(Vec<Map<String, Value>>, Vec<Excluded>)> {
    let d = table.dialect;
    let info = catalog::table(pool, table.target.table.as_str())
        .await?
        .ok_or_else(|| anyhow!("table `{}` does not exist", table.target.table))?;
    let columns: Vec<String> = info.columns.keys().cloned().collect();
    let excluded = excluded_columns(&columns, &table.target, rule)?;
    let mut included = Vec::new();
    for name in columns
        .iter()
        .filter(|c| !excluded.iter().any(|e| &e.column == *c))
    {
        // Column names reach SQL text only as validated identifiers; one that is not (a
        // space, a quote) cannot be exported safely.
        included.push(Ident::parse(name).map_err(|_| {
            anyhow!(
                "column `{name}` of `{}` is not a plain identifier and cannot be exported",
                table.target.table
            )
        })?);
    }
    let object = match d {
        // A scalar subquery over the row's own columns keeps PostgreSQL's JSON form of
        // every type (json_build_object takes at most 50 pairs).
        Dialect::Postgres => {
            let cols: Vec<String> = included.iter().map(|c| d.col(T, c)).collect();
            format!(
                "(SELECT CAST(row_to_json(r) AS TEXT) FROM (SELECT {}) AS r)",
                if cols.is_empty() {
                    "1 AS none".to_owned()
                } else {
                    cols.join(", ")
                }
            )
        }
        Dialect::MySql | Dialect::Sqlite => {
            let pairs: Vec<String> = included
                .iter()
                .map(|c| format!("'{}', {}", c.as_str(), d.col(T, c)))
                .collect();
            let f = if d == Dialect::MySql {
                "JSON_OBJECT"
            } else {
                "json_object"
            };
            d.as_text(&format!("{f}({})", pairs.join(", ")))
        }
    };
    let mut q = SqlText::new(d);
    q.push("SELECT ")
        .push(&object)
        .push(" FROM ")
        .push(&table.from())
        .push(" WHERE ");
    table.subject_is(&[subject.to_owned()], &mut q)?;
    q.push(" ORDER BY ").push(&table.key_list());
    let mut conn = pool.acquire().await?;
    let texts = fetch_texts(&mut conn.conn(), &q, 1)
        .await
        .with_context(|| format!("reading the subject's rows of `{}`", table.target.table))?;
    let rows = texts
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|s| match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(mut m)) => {
                if included.is_empty() {
                    m.clear();
                }
                Ok(m)
            }
            _ => Err(anyhow!(
                "the database returned a row of `{}` that is not a JSON object",
                table.target.table
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, excluded))
}

/// The subject's objects under one object target, and how many of theirs are locked.
async fn objects(
    ws: &Workspace,
    o: &ObjectTarget,
    subject: &str,
) -> Result<(Vec<ObjectEntry>, u64)> {
    let store = ws
        .objects
        .get(&o.store)
        .ok_or_else(|| anyhow!("store `{}` is not an object store", o.store))?;
    // Every object of the subject, held ones included: holds stop erasure, not access.
    let filter = ObjectFilter {
        subjects: Some(BTreeSet::from([subject.to_owned()])),
        ..Default::default()
    };
    let location = |key: &str| match ws.config.stores.get(&o.store) {
        Some(StoreConfig::S3(s3)) => format!("s3://{}/{key}", s3.bucket),
        Some(StoreConfig::Dir { path }) => path.join(key).display().to_string(),
        _ => key.to_owned(),
    };
    let mut found = Vec::new();
    let mut locked = 0;
    let mut token = None;
    loop {
        let page = store.scan_page(o, &filter, token).await?;
        locked += page.locked;
        for r in page.matched {
            found.push(ObjectEntry {
                store: o.store.clone(),
                last_modified: match o.timestamp {
                    Some(ObjectTimestamp::LastModified) => r.timestamp.map(crate::time::rfc3339),
                    _ => None,
                },
                location: location(&r.key),
                key: r.key,
                size: r.size,
            });
        }
        match page.next {
            Some(t) => token = Some(t),
            None => return Ok((found, locked)),
        }
    }
}
