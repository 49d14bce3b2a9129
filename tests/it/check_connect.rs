//! `check --connect`: the rules against the live schema on PostgreSQL, MariaDB and SQLite.
//! A rule that fits passes; a missing table, a missing column and a `null` strategy on a
//! NOT NULL column (on PostgreSQL also through a NOT NULL domain) are each reported in
//! one run, with exit 2, and nothing is written.

use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, TestDb, APP_CONFIG as CONFIG};

fn rule(category: &str, targets: &str) -> String {
    format!(
        "category: {category}
description: Accounts
source: \"Privacy Policy, 'Account information'\"
retain: 30d
on_expiry: anonymise
targets:
{targets}"
    )
}

fn target(table: &str, column: &str) -> String {
    format!(
        "  - store: app
    table: {table}
    key: [id]
    timestamp: created_at
    anonymise:
      {column}: null
    marker: anonymised_at
"
    )
}

async fn the_live_schema_is_checked(kind: Db) {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL,
                                nick VARCHAR(100) NULL, created_at {ts} NULL,
                                anonymised_at {ts} NULL)"
    ))
    .await;
    let mut bad = vec![
        ("rules/b.yaml", rule("b", &target("accounts", "email"))),
        ("rules/c.yaml", rule("c", &target("missing_table", "nick"))),
        ("rules/d.yaml", rule("d", &target("accounts", "nickname"))),
    ];
    if kind == Db::Postgres {
        db.exec(
            "CREATE DOMAIN email_t AS TEXT NOT NULL;
             ALTER TABLE accounts ADD COLUMN contact email_t DEFAULT 'x'",
        )
        .await;
        bad.push(("rules/e.yaml", rule("e", &target("accounts", "contact"))));
    }
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/a.yaml", &rule("a", &target("accounts", "nick"))),
        ],
    );
    let env = [("APP_URL", db.url.as_str())];
    let ok = retention(dir.path(), &["check", "--connect"], &env).expect_code(0);
    assert!(ok.stdout.contains("ok: 1 rule, 1 target"), "{}", ok.stdout);

    let bad: Vec<(&str, &str)> = bad.iter().map(|(f, r)| (*f, r.as_str())).collect();
    write_files(dir.path(), &bad);
    let before = db.checksum().await;
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    let mut expected = vec![
        "anonymise.email: `null` needs a nullable column",
        "missing_table",
        "has no column `nickname`",
    ];
    if kind == Db::Postgres {
        expected.push("anonymise.contact: `null` needs a nullable column");
    }
    for e in expected {
        assert!(out.stderr.contains(e), "{e} is missing:\n{}", out.stderr);
    }
    assert_eq!(db.checksum().await, before, "check --connect wrote nothing");
}

crate::support::on_every_dialect!(Db: the_live_schema_is_checked);
