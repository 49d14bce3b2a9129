//! `check --connect`: the rules against the live databases and buckets. Every table,
//! column, key and index a rule names is looked up in the catalog; object stores are
//! probed. Problems are collected, not returned at the first one.

use crate::config::{Config, StoreConfig};
use crate::rules::{ColumnStrategy, RuleSet, SubjectColumn, TableTarget, Target, TimeUnit};
use crate::stores::sql::catalog;
use crate::stores::sql::value::ColumnKind;
use crate::stores::sql::SqlPool;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;

/// What the live check found.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// The rules do not fit the live schema: `check --connect` exits 2.
    pub errors: Vec<String>,
    /// Worth fixing, not wrong: a subject column without an index, say.
    pub warnings: Vec<String>,
}

/// Checks every target of `rules` against its live store.
pub async fn check_live(config: &Config, rules: &RuleSet) -> LiveReport {
    let mut report = LiveReport::default();
    let mut pools: BTreeMap<String, Option<SqlPool>> = BTreeMap::new();
    for (name, store) in &config.stores {
        match store {
            StoreConfig::Sql { url } => match SqlPool::connect(name, url.expose_secret()).await {
                Ok(p) => {
                    pools.insert(name.clone(), Some(p));
                }
                Err(e) => {
                    report.errors.push(format!("{e:#}"));
                    pools.insert(name.clone(), None);
                }
            },
            other => {
                if let Err(e) = probe_objects(name, other).await {
                    report.errors.push(e);
                }
            }
        }
    }
    for rule in &rules.rules {
        for (i, target) in rule.targets.iter().enumerate() {
            let Target::Table(t) = target else { continue };
            let Some(Some(pool)) = pools.get(&t.store) else {
                continue;
            };
            let place = format!(
                "{}: targets[{i}] ({}/{})",
                rule.file.display(),
                t.store,
                t.table
            );
            check_table(pool, t, &place, &mut report).await;
        }
    }
    report
}

async fn probe_objects(name: &str, store: &StoreConfig) -> Result<(), String> {
    let s = crate::stores::objects::ObjectStore::connect(name, store)
        .await
        .map_err(|e| format!("{e:#}"))?;
    s.probe().await.map(drop).map_err(|e| format!("{e:#}"))
}

async fn check_table(pool: &SqlPool, t: &TableTarget, place: &str, report: &mut LiveReport) {
    let info = match catalog::table(pool, t.table.as_str()).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            report
                .errors
                .push(format!("{place}: table `{}` does not exist", t.table));
            return;
        }
        Err(e) => {
            report
                .errors
                .push(format!("{place}: reading the catalog: {e:#}"));
            return;
        }
    };
    let need = |col: &str, what: &str, report: &mut LiveReport| -> Option<ColumnKind> {
        match info.column(col) {
            Some(c) => Some(c.kind),
            None => {
                report.errors.push(format!(
                    "{place}: {what}: table `{}` has no column `{col}`",
                    t.table
                ));
                None
            }
        }
    };
    for k in &t.key {
        need(k.as_str(), "key", report);
    }
    let pk: Vec<&str> = info.primary_key.iter().map(String::as_str).collect();
    let key: Vec<&str> = t.key.iter().map(|k| k.as_str()).collect();
    if !pk.is_empty() && pk != key {
        report.warnings.push(format!(
            "{place}: key: the rule says [{}] but the primary key is [{}]",
            key.join(", "),
            pk.join(", ")
        ));
    }
    if let Some(ts) = &t.timestamp {
        if let Some(kind) = need(ts.column.as_str(), "timestamp", report) {
            let ok = match ts.unit {
                TimeUnit::Native => matches!(
                    kind,
                    ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date | ColumnKind::Text
                ),
                _ => kind == ColumnKind::Int,
            };
            if !ok {
                report.errors.push(format!(
                    "{place}: timestamp: column `{}` is not a {} column; {}",
                    ts.column,
                    if ts.unit == TimeUnit::Native {
                        "date/time"
                    } else {
                        "integer epoch"
                    },
                    if ts.unit == TimeUnit::Native {
                        "write {column: …, unit: s|ms|us} for epoch integers"
                    } else {
                        "drop `unit` for date/time columns"
                    }
                ));
            }
        }
    }
    if let Some(flag) = &t.erasure_flag {
        need(flag.as_str(), "erasure_flag", report);
    }
    if let Some(m) = &t.marker {
        need(m.as_str(), "marker", report);
    }
    match &t.subject {
        Some(SubjectColumn::Column(c)) => {
            if need(c.as_str(), "subject", report).is_some() && !info.is_indexed(c.as_str()) {
                report.warnings.push(format!(
                    "{place}: subject: column `{c}` has no index; erasure requests will scan the whole table (CREATE INDEX ON {} ({c}))",
                    t.table
                ));
            }
        }
        Some(SubjectColumn::Via {
            column,
            table,
            key,
            subject,
        }) => {
            need(column.as_str(), "subject.column", report);
            check_via(
                pool,
                place,
                table.as_str(),
                key.as_str(),
                subject.as_str(),
                report,
            )
            .await;
        }
        None => {}
    }
    for (col, strategy) in &t.anonymise {
        let Some(c) = info.column(col.as_str()) else {
            report.errors.push(format!(
                "{place}: anonymise.{col}: table `{}` has no column `{col}`",
                t.table
            ));
            continue;
        };
        if let Some(why) = misfit(strategy, c.kind, c.nullable) {
            report
                .errors
                .push(format!("{place}: anonymise.{col}: {why}"));
        }
    }
}

async fn check_via(
    pool: &SqlPool,
    place: &str,
    table: &str,
    key: &str,
    subject: &str,
    report: &mut LiveReport,
) {
    match catalog::table(pool, table).await {
        Ok(Some(p)) => {
            for (c, what) in [(key, "subject.via.key"), (subject, "subject.via.subject")] {
                if p.column(c).is_none() {
                    report.errors.push(format!(
                        "{place}: {what}: table `{table}` has no column `{c}`"
                    ));
                }
            }
            if p.column(subject).is_some() && !p.is_indexed(subject) {
                report.warnings.push(format!(
                    "{place}: subject.via.subject: column `{table}.{subject}` has no index; erasure requests will scan it"
                ));
            }
        }
        Ok(None) => report.errors.push(format!(
            "{place}: subject.via.table: table `{table}` does not exist"
        )),
        Err(e) => report
            .errors
            .push(format!("{place}: reading the catalog: {e:#}")),
    }
}

/// Why a strategy does not fit a column, if it does not.
fn misfit(strategy: &ColumnStrategy, kind: ColumnKind, nullable: bool) -> Option<String> {
    let ok = match strategy {
        ColumnStrategy::Null => nullable,
        ColumnStrategy::Replace(_) => true,
        ColumnStrategy::Hmac | ColumnStrategy::MaskKeepLast(_) => kind == ColumnKind::Text,
        ColumnStrategy::Round(_) => matches!(kind, ColumnKind::Float | ColumnKind::Int),
        ColumnStrategy::TruncateIp => matches!(kind, ColumnKind::Text | ColumnKind::Inet),
        ColumnStrategy::TruncateDate(_) => matches!(
            kind,
            ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date | ColumnKind::Text
        ),
    };
    if ok {
        return None;
    }
    Some(match strategy {
        ColumnStrategy::Null => {
            "`null` needs a nullable column; this one is NOT NULL (use {replace: …})".into()
        }
        _ => format!("this strategy does not fit a column of kind {kind:?}"),
    })
}
