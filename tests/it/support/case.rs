//! One test scenario as a user sets it up: a fresh database, a directory with
//! `retention.yaml` (the one SQL store `app`, also the state store) and rule files, and the
//! real binary run against them.

use super::cli::{retention, write_files, Run};
use super::db::{Db, TestDb, APP_CONFIG};

/// A fresh database and a config directory whose rules the test wrote.
pub struct Case {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Case {
    /// A fresh database of `kind` and a directory holding `APP_CONFIG` and `rules`
    /// (file name under `rules/`, contents).
    pub async fn new(kind: Db, rules: &[(&str, &str)]) -> Case {
        let db = TestDb::fresh(kind).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        write_files(dir.path(), &[("retention.yaml", APP_CONFIG)]);
        for (name, text) in rules {
            write_files(dir.path(), &[(&format!("rules/{name}"), text)]);
        }
        Case { db, dir }
    }

    /// Runs `retention --config <dir>/retention.yaml <args>` with the database's URL.
    pub fn run(&self, args: &[&str]) -> Run {
        retention(self.dir.path(), args, &[("APP_URL", self.db.url.as_str())])
    }

    /// Runs the binary and expects exit code `code`.
    #[track_caller]
    pub fn expect(&self, args: &[&str], code: i32) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            code,
            "retention {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        run
    }

    /// The first column of every row of a query, as text (NULL as `None`), in order.
    pub async fn column(&self, sql: &str) -> Vec<Option<String>> {
        self.db.texts(sql).await
    }

    /// The `id`s left in `table`, as text, in `id` order.
    pub async fn ids(&self, table: &str) -> Vec<String> {
        let text = if self.db.kind == super::db::Db::MySql {
            "CHAR"
        } else {
            "TEXT"
        };
        self.column(&format!(
            "SELECT CAST(id AS {text}) FROM {table} ORDER BY id"
        ))
        .await
        .into_iter()
        .flatten()
        .collect()
    }
}
