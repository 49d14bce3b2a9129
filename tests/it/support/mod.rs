//! Shared test helpers: a fresh, migrated state store per test on each real database.
//!
//! Server addresses come from `RETENTION_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `RETENTION_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`). Where a variable is unset and a Docker engine
//! answers, `testcontainers` starts the server instead; both paths end in the same
//! [`fresh_store`]. Each test gets its own database (or SQLite file) with a random name.
#![allow(dead_code)]

pub mod case;
pub mod cli;
pub mod db;
pub mod fixtures;
pub mod images;
pub mod objects;
pub mod s3;
pub mod sandbox;

pub use sandbox::*;

use retention::stores::sql::{Dialect, SqlPool};
use std::path::Path;
use tokio::sync::OnceCell;

/// One `#[tokio::test]` per database, in `mod postgres`, `mod mariadb` and `mod sqlite`:
/// `on_every_dialect!(Db: test_name => body, …)` calls the parent module's
/// `body(Db::Postgres)` and so on (`Dialect:` for bodies that take a
/// `retention::stores::sql::Dialect`); `on_every_dialect!(Db: name, …)` when the test
/// and its body share the name.
macro_rules! on_every_dialect {
    ($kind:ident: $($name:ident => $body:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$body(super::$kind::Postgres).await })*
        }
        mod mariadb {
            $(#[tokio::test] async fn $name() { super::$body(super::$kind::MySql).await })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$body(super::$kind::Sqlite).await })*
        }
    };
    ($kind:ident: $($name:ident),* $(,)?) => {
        crate::support::on_every_dialect!($kind: $($name => $name),*);
    };
}
pub(crate) use on_every_dialect;

/// A migrated state store that only this test uses.
pub struct TestStore {
    pub pool: SqlPool,
    pub url: String,
    /// Keeps a SQLite file's directory alive for the test's lifetime.
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(String, String)>,
}

impl TestStore {
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    /// Drops the test's database now (what dropping the store does anyway).
    pub async fn remove(self) {
        drop(self);
    }
}

impl Drop for TestStore {
    /// The database goes with the store, also when the test fails.
    fn drop(&mut self) {
        if let Some((admin, name)) = self.cleanup.take() {
            let kind = match self.pool.dialect() {
                Dialect::Postgres => db::Db::Postgres,
                Dialect::MySql => db::Db::MySql,
                Dialect::Sqlite => db::Db::Sqlite,
            };
            db::drop_database(kind, admin, name);
        }
    }
}

fn random_name() -> String {
    format!("retention_test_{:016x}", rand::random::<u64>())
}

fn docker_available() -> bool {
    std::env::var_os("DOCKER_HOST").is_some()
        || std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
}

/// The server URL for a dialect: the env variable, the local default, or a container.
pub async fn server_url(dialect: Dialect) -> String {
    static PG: OnceCell<String> = OnceCell::const_new();
    static MY: OnceCell<String> = OnceCell::const_new();
    let (var, default, cell) = match dialect {
        Dialect::Postgres => (
            "RETENTION_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
            &PG,
        ),
        Dialect::MySql => (
            "RETENTION_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
            &MY,
        ),
        Dialect::Sqlite => unreachable!("SQLite needs no server"),
    };
    if let Ok(url) = std::env::var(var) {
        return url;
    }
    if !docker_available() {
        return default.to_owned();
    }
    cell.get_or_init(|| start_container(dialect)).await.clone()
}

/// Starts a throwaway server; the container lives until the test binary exits (the
/// testcontainers reaper removes it).
async fn start_container(dialect: Dialect) -> String {
    use testcontainers::runners::AsyncRunner;
    match dialect {
        Dialect::Postgres => {
            let c = testcontainers_modules::postgres::Postgres::default()
                .start()
                .await
                .expect("start a PostgreSQL container");
            let port = c.get_host_port_ipv4(5432).await.expect("PostgreSQL port");
            Box::leak(Box::new(c));
            format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres")
        }
        Dialect::MySql => {
            let c = testcontainers_modules::mysql::Mysql::default()
                .start()
                .await
                .expect("start a MySQL container");
            let port = c.get_host_port_ipv4(3306).await.expect("MySQL port");
            Box::leak(Box::new(c));
            format!("mysql://root@127.0.0.1:{port}/test")
        }
        Dialect::Sqlite => unreachable!("SQLite needs no server"),
    }
}

/// Replaces the database name (the URL path) of a server URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh database of `dialect` with the tool's migrations applied.
pub async fn fresh_store(dialect: Dialect) -> TestStore {
    let (url, dir, cleanup) = match dialect {
        Dialect::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("state.db").display()
            );
            (url, Some(dir), None)
        }
        _ => {
            let admin_url = server_url(dialect).await;
            let admin = SqlPool::connect("admin", &admin_url)
                .await
                .unwrap_or_else(|e| panic!("connect to {}: {e:#}", dialect.name()));
            let name = random_name();
            let stmt = match dialect {
                Dialect::Postgres => format!("CREATE DATABASE \"{name}\""),
                _ => format!("CREATE DATABASE `{name}`"),
            };
            exec(&admin, &stmt, &[])
                .await
                .expect("create a test database");
            (
                with_database(&admin_url, &name),
                None,
                Some((admin_url, name)),
            )
        }
    };
    let pool = SqlPool::connect("state", &url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e:#}"));
    migrate(&pool).await;
    TestStore {
        pool,
        url,
        _dir: dir,
        cleanup,
    }
}

/// Applies `migrations/<dialect>/` with sqlx's migrator.
pub async fn migrate(pool: &SqlPool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(pool.dialect().name());
    let migrator = sqlx::migrate::Migrator::new(dir)
        .await
        .expect("read the migrations");
    let result = match pool {
        SqlPool::Pg(p) => migrator.run(p).await,
        SqlPool::My(p) => migrator.run(p).await,
        SqlPool::Lite(p) => migrator.run(p).await,
    };
    result.expect("apply the migrations");
}

/// A value bound to a statement in [`exec`].
#[derive(Debug, Clone)]
pub enum Val {
    I64(i64),
    Bytes(Vec<u8>),
    Text(String),
}

/// Rewrites `?` placeholders as `$n` for PostgreSQL.
pub fn placeholders(dialect: Dialect, sql: &str) -> String {
    if dialect != Dialect::Postgres {
        return sql.to_owned();
    }
    let mut n = 0;
    sql.chars()
        .map(|c| {
            if c == '?' {
                n += 1;
                format!("${n}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs one statement with `?` placeholders and returns the rows it affected.
pub async fn exec(pool: &SqlPool, sql: &str, vals: &[Val]) -> Result<u64, sqlx::Error> {
    let sql = placeholders(pool.dialect(), sql);
    macro_rules! run {
        ($p:expr) => {{
            let mut q = sqlx::query(&sql);
            for v in vals {
                q = match v {
                    Val::I64(i) => q.bind(*i),
                    Val::Bytes(b) => q.bind(b.clone()),
                    Val::Text(t) => q.bind(t.clone()),
                };
            }
            q.execute($p).await.map(|r| r.rows_affected())
        }};
    }
    match pool {
        SqlPool::Pg(p) => run!(p),
        SqlPool::My(p) => run!(p),
        SqlPool::Lite(p) => run!(p),
    }
}

/// Runs several statements without bound values (raw, multi-statement where the driver
/// allows it).
pub async fn exec_all(pool: &SqlPool, statements: &[&str]) -> Result<(), sqlx::Error> {
    for s in statements {
        exec(pool, s, &[]).await?;
    }
    Ok(())
}
