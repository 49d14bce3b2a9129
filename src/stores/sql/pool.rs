//! Connecting to a SQL store and borrowing a connection of whichever dialect it is.

use anyhow::{bail, Context, Result};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{MySqlConnection, MySqlPool, PgConnection, PgPool, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// The SQL dialects the tool speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    /// Which dialect a connection URL names, or an error that says what is accepted.
    pub fn of_url(url: &str) -> Result<Dialect> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            "sqlite" => Ok(Dialect::Sqlite),
            _ => bail!(
                "the URL scheme `{scheme}` is not a SQL store: use postgres://, mysql:// or sqlite://"
            ),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }
}

/// A connection pool to one SQL store.
#[derive(Debug, Clone)]
pub enum SqlPool {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool),
}

/// A borrowed connection (often a transaction) of the pool's dialect.
pub enum SqlConn<'a> {
    Pg(&'a mut PgConnection),
    My(&'a mut MySqlConnection),
    Lite(&'a mut SqliteConnection),
}

impl SqlPool {
    /// Connects lazily-checked pools with short timeouts. The URL is never included in an
    /// error message (it may carry a password); `store` names the store instead.
    pub async fn connect(store: &str, url: &str) -> Result<SqlPool> {
        let dialect = Dialect::of_url(url).with_context(|| format!("store `{store}`"))?;
        let acquire = Duration::from_secs(10);
        let pool = match dialect {
            Dialect::Postgres => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|_| {
                        anyhow::anyhow!("store `{store}`: the PostgreSQL URL is malformed")
                    })?
                    .application_name("retention");
                SqlPool::Pg(
                    PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .connect_with(opts)
                        .await
                        .with_context(|| {
                            format!("store `{store}`: cannot connect to PostgreSQL")
                        })?,
                )
            }
            Dialect::MySql => {
                let opts = MySqlConnectOptions::from_str(url)
                    .map_err(|_| anyhow::anyhow!("store `{store}`: the MySQL URL is malformed"))?;
                SqlPool::My(
                    MySqlPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .connect_with(opts)
                        .await
                        .with_context(|| {
                            format!("store `{store}`: cannot connect to MySQL/MariaDB")
                        })?,
                )
            }
            Dialect::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|_| anyhow::anyhow!("store `{store}`: the SQLite URL is malformed"))?
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true);
                SqlPool::Lite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .connect_with(opts)
                        .await
                        .with_context(|| {
                            format!("store `{store}`: cannot open the SQLite database")
                        })?,
                )
            }
        };
        Ok(pool)
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            SqlPool::Pg(_) => Dialect::Postgres,
            SqlPool::My(_) => Dialect::MySql,
            SqlPool::Lite(_) => Dialect::Sqlite,
        }
    }
}

/// An open transaction of the pool's dialect.
pub enum SqlTx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    My(sqlx::Transaction<'static, sqlx::MySql>),
    Lite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl SqlPool {
    /// Begins a transaction. SQLite transactions begin IMMEDIATE, taking the write lock at
    /// once, so a batch never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<SqlTx> {
        Ok(match self {
            SqlPool::Pg(p) => SqlTx::Pg(p.begin().await?),
            SqlPool::My(p) => SqlTx::My(p.begin().await?),
            SqlPool::Lite(p) => SqlTx::Lite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }
}

impl SqlTx {
    /// Borrows the transaction's connection.
    pub fn conn(&mut self) -> SqlConn<'_> {
        match self {
            SqlTx::Pg(t) => SqlConn::Pg(t),
            SqlTx::My(t) => SqlConn::My(t),
            SqlTx::Lite(t) => SqlConn::Lite(t),
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            SqlTx::Pg(t) => t.commit().await?,
            SqlTx::My(t) => t.commit().await?,
            SqlTx::Lite(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// A pooled connection of the pool's dialect.
pub enum SqlPooled {
    Pg(sqlx::pool::PoolConnection<sqlx::Postgres>),
    My(sqlx::pool::PoolConnection<sqlx::MySql>),
    Lite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

impl SqlPool {
    /// Takes a connection from the pool (for statements outside a transaction).
    pub async fn acquire(&self) -> Result<SqlPooled> {
        Ok(match self {
            SqlPool::Pg(p) => SqlPooled::Pg(p.acquire().await?),
            SqlPool::My(p) => SqlPooled::My(p.acquire().await?),
            SqlPool::Lite(p) => SqlPooled::Lite(p.acquire().await?),
        })
    }
}

impl SqlPooled {
    pub fn conn(&mut self) -> SqlConn<'_> {
        match self {
            SqlPooled::Pg(c) => SqlConn::Pg(c),
            SqlPooled::My(c) => SqlConn::My(c),
            SqlPooled::Lite(c) => SqlConn::Lite(c),
        }
    }
}
