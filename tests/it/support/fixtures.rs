//! Public sample databases with their own schemas and data (`tests/fixtures/pagila`,
//! `sakila-mariadb`, `chinook-sqlite`), loaded into a test's fresh database the way their
//! authors load them: Pagila with `psql` (COPY blocks), Sakila with the `mysql` client
//! (`DELIMITER` blocks of its procedures and triggers), Chinook through sqlx.
//!
//! Also what tests on such data need: the tables a rule set leaves alone (to checksum),
//! a split instant that falls in a gap of the data (so that a run's cutoff, taken from
//! the clock a moment later, selects the same rows as the oracle), and dropping the
//! database afterwards.

use super::db::{Db, TestDb};
use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One of the sample databases in `tests/fixtures/`.
#[derive(Debug, Clone, Copy)]
pub enum Sample {
    /// PostgreSQL: Pagila (`tests/fixtures/pagila`).
    Pagila,
    /// MariaDB: Sakila plus a RANGE-partitioned ledger (`tests/fixtures/sakila-mariadb`).
    Sakila,
    /// SQLite: Chinook (`tests/fixtures/chinook-sqlite`).
    Chinook,
}

impl Sample {
    /// The dialect the sample is loaded into.
    pub fn db(self) -> Db {
        match self {
            Sample::Pagila => Db::Postgres,
            Sample::Sakila => Db::MySql,
            Sample::Chinook => Db::Sqlite,
        }
    }

    fn files(self) -> (PathBuf, &'static [&'static str]) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        match self {
            Sample::Pagila => (root.join("pagila"), &["schema.sql", "data.sql"]),
            Sample::Sakila => (
                root.join("sakila-mariadb"),
                &["schema.sql", "data.sql", "additions.sql"],
            ),
            Sample::Chinook => (root.join("chinook-sqlite"), &["schema.sql", "data.sql"]),
        }
    }
}

/// Loads `sample`'s schema and data into `db` (a fresh database of the sample's dialect).
pub async fn load(db: &TestDb, sample: Sample) {
    assert_eq!(
        db.kind,
        sample.db(),
        "{sample:?} is loaded into {:?}",
        db.kind
    );
    let (dir, files) = sample.files();
    for file in files {
        let path = dir.join(file);
        match sample {
            Sample::Pagila => client(
                Command::new("psql")
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
                    .arg(&path),
                &path,
            ),
            Sample::Sakila => {
                let (user, password, host, port, name) = mysql_parts(&db.url);
                let mut cmd = Command::new("mysql");
                cmd.args(["--protocol=TCP", "-h", &host, "-P", &port, "-u", &user]);
                if let Some(p) = password {
                    cmd.env("MYSQL_PWD", p);
                }
                cmd.arg(&name)
                    .stdin(std::fs::File::open(&path).expect("the fixture file"));
                client(&mut cmd, &path)
            }
            Sample::Chinook => {
                let text = std::fs::read_to_string(&path).expect("the fixture file");
                let mut c = sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("open the SQLite file");
                sqlx::raw_sql(&text)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
}

/// Runs a database client on a fixture file and panics with its output unless it succeeds.
fn client(cmd: &mut Command, path: &Path) {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("run {:?} (is the client installed?): {e}", cmd));
    assert!(
        out.status.success(),
        "loading {}: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mysql://user[:password]@host[:port]/name` → its parts.
fn mysql_parts(url: &str) -> (String, Option<String>, String, String, String) {
    let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
    let rest = rest.split('?').next().unwrap_or(rest);
    let (auth, rest) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = match auth.split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (auth.to_owned(), None),
    };
    let (hostport, name) = rest.split_once('/').expect("a database in the URL");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    (
        user,
        password,
        host.to_owned(),
        port.to_owned(),
        name.to_owned(),
    )
}

/// The base tables of the sample (partitions and the tool's own tables left out), minus
/// `named`: the tables whose every row a run must leave exactly as it was.
pub async fn tables_except(db: &TestDb, named: &[&str]) -> Vec<String> {
    let sql = match db.kind {
        Db::Postgres => {
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY 1"
        }
        Db::MySql => {
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
        }
        Db::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    db.texts(sql)
        .await
        .into_iter()
        .flatten()
        .filter(|t| {
            !t.starts_with("retention_")
                && !t.starts_with("_sqlx")
                && !t.starts_with("sqlite_")
                && !named.iter().any(|n| n.eq_ignore_ascii_case(t))
        })
        .collect()
}

/// A checksum of every row of `tables`.
pub async fn checksum(db: &TestDb, tables: &[String]) -> String {
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    db.checksum_of(&names).await
}

/// An instant one minute after a row's timestamp that the next row follows by at least
/// three hours, from the timestamps `sql` returns as epoch seconds (text), ascending;
/// the gap taken is the one nearest to the `fraction` of the way through them. A run whose
/// cutoff lies within an hour (and some minutes of latency) after it selects exactly the
/// rows before it.
pub async fn split_in_gap(db: &TestDb, sql: &str, fraction: f64) -> DateTime<Utc> {
    let times: Vec<i64> = db
        .texts(sql)
        .await
        .into_iter()
        .flatten()
        .map(|t| t.trim().parse().expect("epoch seconds"))
        .collect();
    assert!(times.len() > 10, "too few timestamps: {sql}");
    let target = (times.len() as f64 * fraction) as usize;
    let best = (1..times.len())
        .filter(|&i| times[i] - times[i - 1] >= 3 * 3600)
        .min_by_key(|&i| i.abs_diff(target))
        .expect("a gap of three hours in the data");
    Utc.timestamp_opt(times[best - 1] + 60, 0).unwrap()
}

/// The `retain:` period (whole hours) that puts a run's cutoff, taken from the clock from
/// now on, within the hour after `split`.
pub fn retain_hours_until(split: DateTime<Utc>) -> String {
    let hours = (Utc::now() - split).num_seconds() / 3600;
    assert!(hours > 0, "{split} lies in the future");
    format!("{hours}h")
}

/// `retain_hours_until` for a cutoff some `minutes` after midnight starting `day` (UTC).
pub fn retain_hours_into_day(day: chrono::NaiveDate, minutes: i64) -> String {
    let at = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap()) + Duration::minutes(minutes);
    retain_hours_until(at)
}

/// A literal for `t` that compares right with the sample's timestamp columns.
pub fn literal(db: Db, t: DateTime<Utc>) -> String {
    match db {
        Db::Postgres => format!("'{}'", t.to_rfc3339()),
        Db::MySql | Db::Sqlite => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
    }
}
