//! `check --connect`: the rules against the live databases and buckets. Every table,
//! column, key and index a rule names is looked up in the catalog and checked by
//! [`fit`] (the same check a run makes before its first batch); timestamps the tool
//! cannot read are counted; object stores are probed. Problems are collected, not
//! returned at the first one, and each names the rule file, line and field.

use crate::config::{Config, StoreConfig};
use crate::diagnostics::Diagnostic;
use crate::ident::Ident;
use crate::rules::{RuleSet, SubjectColumn, TableTarget, Target};
use crate::stores::sql::catalog::ForeignKey;
use crate::stores::sql::select::PreparedTable;
use crate::stores::sql::value::ColumnKind;
use crate::stores::sql::{catalog, fit, inventory, SqlPool};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::path::Path;

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
    type Store = (SqlPool, Result<Vec<ForeignKey>, String>);
    let mut pools: BTreeMap<String, Option<Store>> = BTreeMap::new();
    for (name, store) in &config.stores {
        match store {
            StoreConfig::Sql { url } => match SqlPool::connect(name, url.expose_secret()).await {
                Ok(p) => {
                    let fks = catalog::foreign_keys(&p)
                        .await
                        .map_err(|e| format!("{e:#}"));
                    pools.insert(name.clone(), Some((p, fks)));
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
        for target in &rule.targets {
            let Target::Table(t) = target else { continue };
            let Some(Some((pool, fks))) = pools.get(&t.store) else {
                continue;
            };
            check_table(pool, fks, t, &rule.file, &mut report).await;
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

/// One table target against the live catalog; `fks` are its store's foreign keys (read
/// once per store).
async fn check_table(
    pool: &SqlPool,
    fks: &Result<Vec<ForeignKey>, String>,
    t: &TableTarget,
    file: &Path,
    report: &mut LiveReport,
) {
    let place = |field: &str, message: String| {
        let (path, line) = t.places.locate(field);
        Diagnostic::new(file, line, path, message).to_string()
    };
    let info = match catalog::table(pool, t.table.as_str()).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            report.errors.push(place(
                "table",
                format!("table `{}` does not exist in store `{}`", t.table, t.store),
            ));
            return;
        }
        Err(e) => {
            report
                .errors
                .push(place("table", format!("reading the catalog: {e:#}")));
            return;
        }
    };
    let parent = match &t.subject {
        Some(SubjectColumn::Via { table, .. }) => {
            match catalog::table(pool, table.as_str()).await {
                Ok(p) => p,
                Err(e) => {
                    report.errors.push(place(
                        "subject.via.table",
                        format!("reading the catalog: {e:#}"),
                    ));
                    return;
                }
            }
        }
        _ => None,
    };
    let fks = match fks {
        Ok(fks) => fks,
        Err(e) => {
            report
                .errors
                .push(place("table", format!("reading the foreign keys: {e}")));
            return;
        }
    };
    let misfits = fit::misfits(pool.dialect(), t, &info, parent.as_ref(), fks);
    for m in &misfits {
        report.errors.push(place(&m.field, m.message.clone()));
    }
    if !misfits.is_empty() {
        return;
    }
    let d = pool.dialect();
    if t.partitions.whole() {
        if let (Some(k), Some(ts)) = (&info.partitioning, &t.timestamp) {
            if !k.by_range_of(ts.column.as_str()) {
                report.warnings.push(place(
                    "partitions",
                    format!(
                        "`{}` is partitioned by {}, not by range of the timestamp `{}`, so no partition can be removed whole: expiry deletes its rows in batches",
                        t.table,
                        k.describe(),
                        ts.column
                    ),
                ));
            }
        }
    }
    let index_advice = |table: &str, col: &str| {
        let (table, col) = match (Ident::parse(table), Ident::parse(col)) {
            (Ok(t), Ok(c)) => (d.quote(&t), d.quote(&c)),
            _ => (table.to_owned(), col.to_owned()),
        };
        format!("CREATE INDEX ON {table} ({col})")
    };
    match &t.subject {
        Some(SubjectColumn::Column(c)) if !info.is_indexed(c.as_str()) => {
            report.warnings.push(place(
                "subject",
                format!(
                    "column `{c}` has no index; erasure requests will scan the whole table ({})",
                    index_advice(t.table.as_str(), c.as_str())
                ),
            ));
        }
        Some(SubjectColumn::Via { table, subject, .. }) => {
            if let Some(p) = &parent {
                if !p.is_indexed(subject.as_str()) {
                    report.warnings.push(place(
                        "subject.via.subject",
                        format!(
                            "column `{table}.{subject}` has no index; erasure requests will scan it ({})",
                            index_advice(table.as_str(), subject.as_str())
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    let prepared = match PreparedTable::new(d, t, &info, parent.as_ref(), fks) {
        Ok(p) => p,
        Err(e) => {
            report.errors.push(place("", format!("{e:#}")));
            return;
        }
    };
    match inventory::unreadable(pool, &prepared).await {
        Ok(0) => {}
        Ok(n) => report.warnings.push(place(
            "timestamp",
            format!(
                "{n} row{} of `{}` hold a timestamp the tool cannot read as a time ({}); {} never expire",
                if n == 1 { "" } else { "s" },
                t.table,
                inventory::unreadable_kinds(d),
                if n == 1 { "it will" } else { "they will" }
            ),
        )),
        Err(e) => report
            .errors
            .push(place("timestamp", format!("counting unreadable timestamps: {e:#}"))),
    }
    let zone_less = t.timestamp.as_ref().and_then(|ts| {
        let c = info.column(ts.column.as_str())?;
        (ts.unit == crate::rules::TimeUnit::Native && c.kind == ColumnKind::Naive)
            .then_some(ts.column.as_str())
    });
    if let Some(column) = zone_less {
        if let Some(zone) = default_zone(pool).await {
            report.warnings.push(place(
                "timestamp",
                format!(
                    "column `{column}` holds times without a zone, which the tool reads as UTC, and the database's default time zone is `{zone}`: if the application writes local times there, its rows expire hours early or late — store the zone (timestamptz) or write UTC"
                ),
            ));
        }
    }
}

/// The time zone sessions get by default (the database's, the role's, the server's), when
/// it is not UTC: what an application writing `now()` into a zone-less column writes in.
async fn default_zone(pool: &SqlPool) -> Option<String> {
    let zone: String = match pool {
        // What `ALTER DATABASE|ROLE … SET timezone` gives the application's sessions (the
        // tool's own sessions ask for UTC at start-up, so their settings cannot tell):
        // the database-and-role setting first, then the database's, then the role's.
        SqlPool::Pg(p) => sqlx::query_scalar::<_, Option<String>>(
            "SELECT (SELECT substring(c FROM position('=' IN c) + 1)
                       FROM pg_db_role_setting s, unnest(s.setconfig) c
                      WHERE lower(c) LIKE 'timezone=%'
                        AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
                        AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))
                      ORDER BY (s.setdatabase <> 0 AND s.setrole <> 0) DESC, s.setdatabase <> 0 DESC
                      LIMIT 1)",
        )
        .fetch_one(p)
        .await
        .ok()??,
        SqlPool::My(p) => sqlx::query_scalar(
            "SELECT CAST(IF(@@global.time_zone = 'SYSTEM', @@system_time_zone, @@global.time_zone) AS CHAR)",
        )
        .fetch_one(p)
        .await
        .ok()?,
        SqlPool::Lite(_) => return None,
    };
    let utc = [
        "utc",
        "etc/utc",
        "uct",
        "etc/uct",
        "gmt",
        "etc/gmt",
        "universal",
        "zulu",
        "+00:00",
        "gmt0",
        "etc/gmt0",
        "etc/universal",
        "etc/zulu",
    ];
    (!utc.contains(&zone.trim().to_ascii_lowercase().as_str())).then_some(zone)
}
