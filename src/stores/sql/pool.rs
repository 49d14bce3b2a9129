//! Connecting to a SQL store and borrowing a connection of whichever dialect it is.

use anyhow::{anyhow, bail, Context, Result};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};
use sqlx::{MySqlConnection, MySqlPool, PgConnection, PgPool, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// sqlx logs a statement slower than [`SLOW`] with its whole SQL text, at warn by
/// default: fifteen lines in the middle of a run's terminal for a batch that took a
/// second. Batches are sized to take about that long, so it is debug detail
/// (`RETENTION_LOG=sqlx=debug` shows it).
const SLOW_STATEMENTS: log::LevelFilter = log::LevelFilter::Debug;
const SLOW: Duration = Duration::from_secs(1);

/// Every PostgreSQL session's settings: times in UTC, and the text forms of key types
/// fixed whatever the server, database or role says, since keys are read as text, bound
/// back and digested (sqlx already asks for `DateStyle` ISO when it connects).
const PG_SESSION: &str =
    "SET TIME ZONE 'UTC'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'";

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

    /// The database product, for messages.
    pub fn product(&self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
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
    /// Connects to an existing database (a SQLite file that does not exist is an error:
    /// only `migrate` and `demo` create one, through [`SqlPool::create`]).
    pub async fn connect(store: &str, url: &str) -> Result<SqlPool> {
        Self::open(store, url, false).await
    }

    /// Connects, creating a SQLite file that does not exist yet.
    pub async fn create(store: &str, url: &str) -> Result<SqlPool> {
        Self::open(store, url, true).await
    }

    /// Connects with short timeouts. A first connection is made once, without the pool's
    /// retries, so an unreachable server is reported at once with the store, the host and
    /// the cause. Every session is pinned to UTC, whatever the URL or the server's default
    /// says: cutoffs are bound as UTC, and zone-less columns are read as UTC wall clock.
    /// The URL is never included in a message (it may carry a password).
    async fn open(store: &str, url: &str, create: bool) -> Result<SqlPool> {
        let dialect = Dialect::of_url(url).with_context(|| format!("store `{store}`"))?;
        let acquire = Duration::from_secs(10);
        let place = || {
            format!(
                "store `{store}` ({} at {})",
                dialect.product(),
                endpoint(url)
            )
        };
        let pool = match dialect {
            Dialect::Postgres => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|_| anyhow!("store `{store}`: the PostgreSQL URL is malformed"))?
                    .application_name("retention")
                    .log_slow_statements(SLOW_STATEMENTS, SLOW);
                first_connection::<sqlx::PgConnection>(&opts, &place).await?;
                SqlPool::Pg(
                    PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .after_connect(|conn, _| {
                            Box::pin(async move { conn.execute(PG_SESSION).await.map(drop) })
                        })
                        .connect_with(opts)
                        .await
                        .map_err(|e| anyhow!("{}: cannot connect: {}", place(), cause(&e)))?,
                )
            }
            Dialect::MySql => {
                let opts = MySqlConnectOptions::from_str(url)
                    .map_err(|_| anyhow!("store `{store}`: the MySQL URL is malformed"))?
                    .log_slow_statements(SLOW_STATEMENTS, SLOW);
                first_connection::<sqlx::MySqlConnection>(&opts, &place).await?;
                SqlPool::My(
                    MySqlPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                conn.execute("SET time_zone = '+00:00'").await.map(drop)
                            })
                        })
                        .connect_with(opts)
                        .await
                        .map_err(|e| anyhow!("{}: cannot connect: {}", place(), cause(&e)))?,
                )
            }
            Dialect::Sqlite => {
                // The journal mode is the file's: a file the tool creates is put in WAL, an
                // existing one is opened as it is (switching it would change the user's
                // database, and `plan` changes nothing).
                let mut opts = SqliteConnectOptions::from_str(url)
                    .map_err(|_| anyhow!("store `{store}`: the SQLite URL is malformed"))?
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    .log_slow_statements(SLOW_STATEMENTS, SLOW);
                let file = opts.get_filename().to_path_buf();
                let in_memory = file.as_os_str().is_empty() || file.as_os_str() == ":memory:";
                if create && !in_memory && !file.exists() {
                    opts = opts
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal);
                } else if create {
                    opts = opts.create_if_missing(true);
                } else if !in_memory && !url.contains("mode=rwc") && !file.exists() {
                    bail!(
                        "store `{store}`: the SQLite file {} does not exist; check the path (relative paths are relative to the config file), or run `retention migrate` to create a new state store",
                        file.display()
                    );
                }
                SqlPool::Lite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(acquire)
                        .connect_with(opts)
                        .await
                        .map_err(|e| {
                            anyhow!(
                                "store `{store}`: cannot open the SQLite database {}: {}",
                                file.display(),
                                cause(&e)
                            )
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

/// Makes one connection, once, with a short timeout, and closes it: a refused port or an
/// unknown host is reported at once, naming the store, the host and the cause, rather
/// than after the pool's retries.
async fn first_connection<C: Connection>(
    opts: &C::Options,
    place: &dyn Fn() -> String,
) -> Result<()>
where
    C::Options: ConnectOptions<Connection = C>,
{
    let attempt = tokio::time::timeout(Duration::from_secs(10), opts.connect()).await;
    match attempt {
        Err(_) => bail!("{}: cannot connect: no answer within 10 s", place()),
        Ok(Err(e)) => bail!("{}: cannot connect: {}", place(), cause(&e)),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// The innermost cause of a driver error, said once (sqlx wraps I/O errors in its own).
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

/// `host:port` of a server URL, without credentials, path or parameters; "a local socket"
/// when no host is given.
pub fn endpoint(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return "a local socket".to_owned();
    }
    let default_port = match url.split(':').next() {
        Some("mysql" | "mariadb") => 3306,
        _ => 5432,
    };
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()));
    if has_port {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_shows_host_and_port_but_never_a_password() {
        assert_eq!(
            endpoint("postgres://u:secret@db.example:6543/app"),
            "db.example:6543"
        );
        assert_eq!(
            endpoint("postgres://db.example/app?sslmode=require"),
            "db.example:5432"
        );
        assert_eq!(endpoint("mysql://root@127.0.0.1/test"), "127.0.0.1:3306");
        assert_eq!(endpoint("postgres:///app"), "a local socket");
        assert_eq!(endpoint("postgres://u:p@[::1]:5433/x"), "[::1]:5433");
    }
}
