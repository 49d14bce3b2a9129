//! Fresh, isolated databases for tests: one new PostgreSQL or MariaDB database (random
//! name) or SQLite file per test, on the real servers of the machine.
//!
//! Servers are found by [`super::server_url`] (env variable, local default, or a container).

use sqlx::{Connection, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    MySql,
    Sqlite,
}

impl Db {
    /// The usual column type for an instant: `timestamptz`, `datetime(6)`, SQLite text.
    pub fn timestamp_type(self) -> &'static str {
        match self {
            Db::Postgres => "TIMESTAMPTZ",
            Db::MySql => "DATETIME(6)",
            Db::Sqlite => "TEXT",
        }
    }

    /// A literal of that column type `days` before now (negative: after).
    pub fn days_ago(self, days: i64) -> String {
        let t = chrono::Utc::now() - chrono::Duration::days(days);
        match self {
            Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
            _ => format!("'{}'", t.to_rfc3339()),
        }
    }
}

/// A configuration with one SQL store, `app` (its URL from `APP_URL`), as the state store,
/// a fixed pseudonym key and the rules under `./rules`.
pub const APP_CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: test-pseudonym-key-0123456789abcdef0123456789
rules: ./rules
";

/// A database made for one test. Dropping it drops the database (`rt_…`) on its server,
/// also when the test fails: a panicking test unwinds through this drop.
pub struct TestDb {
    pub kind: Db,
    pub url: String,
    /// Keeps a SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// The server's admin URL and the database's name, for the drop.
    cleanup: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.cleanup.take() {
            drop_database(self.kind, admin, name);
        }
    }
}

/// Drops a server database a test made, now, also from a failing test's unwinding:
/// on a thread with a runtime of its own, since the test's runtime may be a
/// current-thread one that this call blocks, or be shutting down. SQLite: nothing to do
/// (the file goes with its directory).
pub fn drop_database(kind: Db, admin: String, name: String) {
    let label = name.clone();
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            match kind {
                Db::Postgres => {
                    let mut c = sqlx::PgConnection::connect(&admin).await?;
                    c.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                        .await
                        .map(drop)
                }
                Db::MySql => {
                    // The test's own pool may still be open (a `Drop` runs before its
                    // fields go), and DROP DATABASE waits for the metadata locks of its
                    // connections: end them first, as PostgreSQL's `WITH (FORCE)` does.
                    let mut c = sqlx::MySqlConnection::connect(&admin).await?;
                    let ids: Vec<(u64,)> = sqlx::query_as(
                        "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST WHERE DB = ?",
                    )
                    .bind(&name)
                    .fetch_all(&mut c)
                    .await?;
                    for (id,) in ids {
                        let _ = c.execute(format!("KILL CONNECTION {id}").as_str()).await;
                    }
                    c.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                        .await
                        .map(drop)
                }
                Db::Sqlite => Ok(()),
            }
        })
        .map_err(|e| e.to_string())
    })
    .join();
    if let Ok(Err(e)) = dropped {
        eprintln!("warning: the test database {label} was not dropped: {e}");
    }
}

async fn admin_url(kind: Db) -> String {
    match kind {
        Db::Postgres => super::server_url(retention::stores::sql::Dialect::Postgres).await,
        Db::MySql => super::server_url(retention::stores::sql::Dialect::MySql).await,
        Db::Sqlite => String::new(),
    }
}

fn random_name() -> String {
    format!("rt_{}", uuid::Uuid::now_v7().simple())
}

/// Replaces the database part of a server URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > base.find("//").map(|j| j + 1).unwrap_or(0) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    pub async fn fresh(kind: Db) -> TestDb {
        let name = random_name();
        match kind {
            Db::Postgres => {
                let mut c = sqlx::PgConnection::connect(&admin_url(kind).await)
                    .await
                    .expect("PostgreSQL is running");
                c.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create database");
                TestDb {
                    kind,
                    url: with_database(&admin_url(kind).await, &name),
                    _dir: None,
                    cleanup: Some((admin_url(kind).await, name)),
                }
            }
            Db::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&admin_url(kind).await)
                    .await
                    .expect("MariaDB is running");
                c.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create database");
                TestDb {
                    kind,
                    url: with_database(&admin_url(kind).await, &name),
                    _dir: None,
                    cleanup: Some((admin_url(kind).await, name)),
                }
            }
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
                TestDb {
                    kind,
                    url,
                    _dir: Some(dir),
                    cleanup: None,
                }
            }
        }
    }

    /// Runs statements separated by `;` (no `;` inside them).
    pub async fn exec(&self, sql: &str) {
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let r = match self.kind {
                Db::Postgres => sqlx::PgConnection::connect(&self.url)
                    .await
                    .unwrap()
                    .execute(stmt)
                    .await
                    .map(drop),
                Db::MySql => sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .unwrap()
                    .execute(stmt)
                    .await
                    .map(drop),
                Db::Sqlite => sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .unwrap()
                    .execute(stmt)
                    .await
                    .map(drop),
            };
            r.unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
    }

    /// One integer from a query (`SELECT COUNT(*) …`).
    pub async fn count(&self, sql: &str) -> i64 {
        match self.kind {
            Db::Postgres => {
                sqlx::query_scalar(sql)
                    .fetch_one(&mut sqlx::PgConnection::connect(&self.url).await.unwrap())
                    .await
            }
            Db::MySql => {
                sqlx::query_scalar(sql)
                    .fetch_one(&mut sqlx::MySqlConnection::connect(&self.url).await.unwrap())
                    .await
            }
            Db::Sqlite => {
                sqlx::query_scalar(sql)
                    .fetch_one(&mut sqlx::SqliteConnection::connect(&self.url).await.unwrap())
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Texts of the first column of a query, in order.
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        match self.kind {
            Db::Postgres => {
                sqlx::query_scalar(sql)
                    .fetch_all(&mut sqlx::PgConnection::connect(&self.url).await.unwrap())
                    .await
            }
            Db::MySql => {
                sqlx::query_scalar(sql)
                    .fetch_all(&mut sqlx::MySqlConnection::connect(&self.url).await.unwrap())
                    .await
            }
            Db::Sqlite => {
                sqlx::query_scalar(sql)
                    .fetch_all(&mut sqlx::SqliteConnection::connect(&self.url).await.unwrap())
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The audit log's entries, in `seq` order, parsed from their stored lines.
    pub async fn audit_entries(&self) -> Vec<serde_json::Value> {
        let line = match self.kind {
            Db::Postgres => "convert_from(line, 'UTF8')",
            Db::MySql => "CAST(line AS CHAR)",
            Db::Sqlite => "CAST(line AS TEXT)",
        };
        self.texts(&format!("SELECT {line} FROM retention_audit ORDER BY seq"))
            .await
            .into_iter()
            .flatten()
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }

    /// A checksum of every row of every table (the tool's own included), to prove that
    /// something changed nothing.
    pub async fn checksum(&self) -> String {
        let tables: Vec<Option<String>> = match self.kind {
            Db::Postgres => self.texts("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1").await,
            Db::MySql => self.texts("SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1").await,
            Db::Sqlite => self.texts("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1").await,
        };
        let tables: Vec<String> = tables.into_iter().flatten().collect();
        let names: Vec<&str> = tables.iter().map(String::as_str).collect();
        self.checksum_of(&names).await
    }

    /// A checksum of every row of the named tables only (the data tables of a test, say,
    /// leaving out the audit log that every real run appends to).
    pub async fn checksum_of(&self, tables: &[&str]) -> String {
        let mut all = String::new();
        for &t in tables {
            let rows = match self.kind {
                Db::Postgres => {
                    self.texts(&format!("SELECT CAST(x AS TEXT) FROM \"{t}\" x ORDER BY 1"))
                        .await
                }
                Db::MySql => {
                    let cols = self.texts(&format!("SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}' ORDER BY ORDINAL_POSITION")).await;
                    let list: Vec<String> = cols
                        .into_iter()
                        .flatten()
                        // HEX: binary columns (the audit log's hashes) are no text.
                        .map(|c| format!("COALESCE(HEX(`{c}`), '<null>')"))
                        .collect();
                    self.texts(&format!(
                        "SELECT CONCAT_WS('|', {}) FROM `{t}` ORDER BY 1",
                        list.join(", ")
                    ))
                    .await
                }
                Db::Sqlite => {
                    let cols = self
                        .texts(&format!("SELECT name FROM pragma_table_info('{t}')"))
                        .await;
                    let list: Vec<String> = cols
                        .into_iter()
                        .flatten()
                        .map(|c| format!("quote(\"{c}\")"))
                        .collect();
                    self.texts(&format!(
                        "SELECT {} FROM \"{t}\" ORDER BY 1",
                        list.join(" || '|' || ")
                    ))
                    .await
                }
            };
            all.push_str(t);
            for r in rows {
                all.push_str(&r.unwrap_or_default());
                all.push('\n');
            }
        }
        format!("{:x}", sha2_digest(all.as_bytes()))
    }
}

fn sha2_digest(b: &[u8]) -> impl std::fmt::LowerHex {
    use sha2::Digest;
    let d = sha2::Sha256::digest(b);
    u128::from_be_bytes(d[..16].try_into().unwrap())
}
