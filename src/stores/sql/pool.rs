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
