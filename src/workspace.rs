//! A loaded configuration with its rules and connected stores: what `plan`, `run` and
//! `erase` work against. Preparing targets reads each table's catalog once per command
//! (however many erasure requests are surveyed) and orders targets so children are
//! processed before their parents.

use crate::config::{Config, StoreConfig};
use crate::rules::{Rule, RuleSet, SubjectColumn, Target};
use crate::stores::objects::ObjectStore;
use crate::stores::sql::catalog::{self, ForeignKey, TableInfo};
use crate::stores::sql::select::PreparedTable;
use crate::stores::sql::SqlPool;
use anyhow::{anyhow, Context, Result};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Config, rules and connections.
pub struct Workspace {
    pub config: Config,
    pub rules: RuleSet,
    pub sql: BTreeMap<String, SqlPool>,
    /// S3 buckets and directories (connecting checks nothing yet; the first request does).
    pub objects: BTreeMap<String, ObjectStore>,
    catalogs: Mutex<Catalogs>,
}

/// Catalog facts read so far, by store (foreign keys) and by store and table (`None`: no
/// such table). Only successful reads are kept; a failed one is tried again.
#[derive(Default)]
struct Catalogs {
    foreign_keys: BTreeMap<String, Vec<ForeignKey>>,
    tables: BTreeMap<(String, String), Option<TableInfo>>,
}

/// One target of one rule, ready to query.
pub struct Prepared<'a> {
    pub rule: &'a Rule,
    pub target: &'a Target,
    /// `Ok` with the catalog facts for tables; `Err` when the target could not be
    /// prepared (missing table, unreachable store) — reported, and the others still run.
    pub table: Result<PreparedTable, String>,
}

impl Workspace {
    /// Connects to every SQL store the config names.
    pub async fn connect(config: Config, rules: RuleSet) -> Result<Workspace> {
        let mut sql = BTreeMap::new();
        let mut objects = BTreeMap::new();
        for (name, store) in &config.stores {
            match store {
                StoreConfig::Sql { url } => {
                    let pool = SqlPool::connect(name, url.expose_secret()).await?;
                    sql.insert(name.clone(), pool);
                }
                other => {
                    objects.insert(name.clone(), ObjectStore::connect(name, other).await?);
                }
            }
        }
        Ok(Workspace {
            config,
            rules,
            sql,
            objects,
            catalogs: Mutex::default(),
        })
    }

    /// The state store's pool.
    pub fn state(&self) -> Result<&SqlPool> {
        self.sql
            .get(&self.config.state)
            .ok_or_else(|| anyhow!("the state store `{}` is not a SQL store", self.config.state))
    }

    /// The rules selected by `--rule` (all when empty); an unknown name is an error.
    pub fn selected_rules(&self, names: &[String]) -> Result<Vec<&Rule>> {
        for n in names {
            if !self.rules.rules.iter().any(|r| &r.category == n) {
                let known: Vec<&str> = self
                    .rules
                    .rules
                    .iter()
                    .map(|r| r.category.as_str())
                    .collect();
                return Err(crate::exit::Refusal::Invalid(format!(
                    "--rule {n}: no rule has that category (known: {})",
                    known.join(", ")
                ))
                .into());
            }
        }
        Ok(self
            .rules
            .rules
            .iter()
            .filter(|r| names.is_empty() || names.contains(&r.category))
            .collect())
    }

    /// Prepares the targets of `rules`, ordered so that within each SQL store child tables
    /// come before the tables they reference.
    pub async fn prepare<'a>(&self, rules: &[&'a Rule]) -> Result<Vec<Prepared<'a>>> {
        let mut fks: BTreeMap<String, Vec<ForeignKey>> = BTreeMap::new();
        for (name, pool) in &self.sql {
            fks.insert(name.clone(), self.foreign_keys(name, pool).await?);
        }
        let mut out = Vec::new();
        for rule in rules {
            for target in &rule.targets {
                let table = match target {
                    Target::Table(t) => {
                        let pool = self
                            .sql
                            .get(&t.store)
                            .ok_or_else(|| anyhow!("store `{}` is not a SQL store", t.store))?;
                        let fk = fks.get(&t.store).map(Vec::as_slice).unwrap_or(&[]);
                        self.prepare_table(pool, t, fk).await
                    }
                    Target::Objects(_) => Err("object stores are handled separately".to_owned()),
                };
                out.push(Prepared {
                    rule,
                    target,
                    table,
                });
            }
        }
        // Children first: a stable sort by each table's position in the FK order of its
        // store. A `via` subject is a reference too, declared or not: the child's rows are
        // found through the parent's, so the parent must still be there when they are
        // (an erasure that deleted the orders first would find none of their lines).
        for p in &out {
            if let Target::Table(t) = p.target {
                if let Some(SubjectColumn::Via {
                    column, table, key, ..
                }) = &t.subject
                {
                    if let Some(list) = fks.get_mut(&t.store) {
                        list.push(ForeignKey {
                            child: t.table.to_string(),
                            child_cols: vec![column.to_string()],
                            parent: table.to_string(),
                            parent_cols: vec![key.to_string()],
                            child_schema: None,
                            changes_children: false,
                        });
                    }
                }
            }
        }
        let mut rank: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (store, list) in &fks {
            let tables: Vec<String> = out
                .iter()
                .filter(|p| p.target.store() == store)
                .filter_map(|p| match p.target {
                    Target::Table(t) => Some(t.table.to_string()),
                    _ => None,
                })
                .collect();
            for (i, t) in catalog::children_first(&tables, list)
                .into_iter()
                .enumerate()
            {
                rank.entry((store.clone(), t)).or_insert(i);
            }
        }
        out.sort_by_key(|p| {
            rank.get(&(p.target.store().to_owned(), p.target.name().to_owned()))
                .copied()
                .unwrap_or(usize::MAX)
        });
        Ok(out)
    }
}

impl Workspace {
    async fn foreign_keys(&self, store: &str, pool: &SqlPool) -> Result<Vec<ForeignKey>> {
        if let Some(list) = self.cached(|c| c.foreign_keys.get(store).cloned()) {
            return Ok(list);
        }
        let list = catalog::foreign_keys(pool)
            .await
            .with_context(|| format!("store `{store}`: reading foreign keys"))?;
        self.cached(|c| c.foreign_keys.insert(store.to_owned(), list.clone()));
        Ok(list)
    }

    async fn table_info(
        &self,
        store: &str,
        pool: &SqlPool,
        table: &str,
    ) -> Result<Option<TableInfo>> {
        let key = (store.to_owned(), table.to_owned());
        if let Some(info) = self.cached(|c| c.tables.get(&key).cloned()) {
            return Ok(info);
        }
        let info = catalog::table(pool, table).await?;
        self.cached(|c| c.tables.insert(key, info.clone()));
        Ok(info)
    }

    /// Runs `f` on the cache; never held across an await.
    fn cached<T>(&self, f: impl FnOnce(&mut Catalogs) -> T) -> T {
        let mut guard = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    async fn prepare_table(
        &self,
        pool: &SqlPool,
        t: &crate::rules::TableTarget,
        fks: &[ForeignKey],
    ) -> Result<PreparedTable, String> {
        let info = self
            .table_info(&t.store, pool, t.table.as_str())
            .await
            .map_err(|e| format!("reading the catalog: {e:#}"))?
            .ok_or_else(|| format!("table `{}` does not exist in store `{}`", t.table, t.store))?;
        let parent = match &t.subject {
            Some(crate::rules::SubjectColumn::Via { table, .. }) => self
                .table_info(&t.store, pool, table.as_str())
                .await
                .map_err(|e| format!("reading the catalog: {e:#}"))?,
            _ => None,
        };
        PreparedTable::new(pool.dialect(), t, &info, parent.as_ref(), fks)
            .map_err(|e| format!("{e:#}"))
    }
}
