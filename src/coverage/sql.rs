//! Reading what `coverage` needs from one SQL store: the catalog (every base table and
//! its columns, the foreign keys) and a small sample of the text columns whose name and
//! type say nothing. Sampling reads the first [`SAMPLE_ROWS`] rows of a table with one
//! `SELECT … LIMIT`, on PostgreSQL inside a `READ ONLY` transaction; the values are
//! classified on the spot and dropped, so no sampled value outlives this module.

use super::tables::{analyse, sample_candidates, StoreFacts, TablesOutcome};
use super::values::{classify, SampleMatch, SAMPLE_ROWS};
use crate::ident::Ident;
use crate::rules::Rule;
use crate::stores::sql::catalog;
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::{execute, fetch_texts};
use crate::stores::sql::{Dialect, SqlConn, SqlPool};
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// What one SQL store holds that no rule covers.
pub struct SqlSurvey {
    pub outcome: TablesOutcome,
    pub tables: usize,
    pub sampled_columns: usize,
    /// Tables whose values could not be sampled, and why (the catalog findings stand).
    pub problems: Vec<String>,
}

/// Surveys one SQL store against the rules.
pub async fn survey(store: &str, pool: &SqlPool, rules: &[Rule]) -> Result<SqlSurvey> {
    let tables = catalog::schema(pool)
        .await
        .with_context(|| format!("store `{store}`: reading the catalog"))?;
    let foreign_keys = catalog::foreign_keys(pool)
        .await
        .with_context(|| format!("store `{store}`: reading foreign keys"))?;
    let candidates = sample_candidates(&tables);
    let mut samples = BTreeMap::new();
    let mut problems = Vec::new();
    let mut sampled_columns = 0;
    let mut session = Session::open(pool).await?;
    for (table, columns) in &candidates {
        match sample(&mut session.conn(), pool.dialect(), table, columns).await {
            Ok((found, n)) => {
                sampled_columns += n;
                samples.extend(found);
            }
            Err(e) => {
                problems.push(format!(
                    "store `{store}`, table `{table}`: its values could not be sampled ({e:#}); only names and types were checked"
                ));
                // A failed statement aborts a PostgreSQL transaction: start a new one.
                session.close().await;
                session = Session::open(pool).await?;
            }
        }
    }
    session.close().await;
    let facts = StoreFacts {
        store,
        tables: &tables,
        foreign_keys: &foreign_keys,
        samples: &samples,
    };
    Ok(SqlSurvey {
        outcome: analyse(&facts, rules),
        tables: tables
            .iter()
            .filter(|t| !super::tables::is_own_table(&t.name))
            .count(),
        sampled_columns,
        problems,
    })
}

/// Where samples are read: a read-only transaction on PostgreSQL, a plain connection
/// elsewhere (MySQL refuses `SET TRANSACTION` inside a transaction, and a SQLite
/// transaction of this crate takes the write lock; a `SELECT` writes nothing either way).
enum Session {
    Tx(crate::stores::sql::SqlTx),
    Conn(crate::stores::sql::pool::SqlPooled),
}

impl Session {
    async fn open(pool: &SqlPool) -> Result<Session> {
        if pool.dialect() == Dialect::Postgres {
            let mut tx = pool.begin().await?;
            execute(
                &mut tx.conn(),
                &SqlText::statement(Dialect::Postgres, "SET TRANSACTION READ ONLY", vec![]),
            )
            .await?;
            Ok(Session::Tx(tx))
        } else {
            Ok(Session::Conn(pool.acquire().await?))
        }
    }

    fn conn(&mut self) -> SqlConn<'_> {
        match self {
            Session::Tx(t) => t.conn(),
            Session::Conn(c) => c.conn(),
        }
    }

    /// Ends the session. The transaction only read, so it is rolled back (dropped).
    async fn close(self) {
        drop(self);
    }
}

/// Samples `columns` of `table` and classifies each column's values. Columns whose
/// names are not plain identifiers are left to the catalog checks. Returns the columns
/// whose sample matched a kind and how many columns were sampled.
async fn sample(
    conn: &mut SqlConn<'_>,
    dialect: Dialect,
    table: &str,
    columns: &[String],
) -> Result<(Vec<((String, String), SampleMatch)>, usize)> {
    let Ok(table_ident) = Ident::parse(table) else {
        return Ok((Vec::new(), 0));
    };
    let idents: Vec<Ident> = columns
        .iter()
        .filter_map(|c| Ident::parse(c).ok())
        .collect();
    if idents.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let list: Vec<String> = idents
        .iter()
        .map(|c| dialect.as_text(&dialect.quote(c)))
        .collect();
    let mut q = SqlText::new(dialect);
    q.push("SELECT ")
        .push(&list.join(", "))
        .push(" FROM ")
        .push(&dialect.quote(&table_ident))
        .push(&format!(" LIMIT {SAMPLE_ROWS}"));
    let rows = fetch_texts(conn, &q, idents.len()).await?;
    let mut found = Vec::new();
    for (i, column) in idents.iter().enumerate() {
        let values = rows.iter().filter_map(|r| r[i].as_deref());
        if let Some(m) = classify(values) {
            found.push(((table.to_owned(), column.to_string()), m));
        }
    }
    Ok((found, idents.len()))
}
