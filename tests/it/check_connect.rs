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

/// MariaDB keys whose text does not name each row (BINARY bytes that are not UTF-8 read as
/// `?`: two keys can share one text, and a batch's digest could not tell them apart), or
/// does not sort as the column does (ENUM by index, BIT): `check --connect` refuses them
/// with the rule file's line and field, and a run refuses the target before any batch.
#[tokio::test]
async fn keys_whose_text_does_not_name_the_row_are_refused() {
    let db = TestDb::fresh(Db::MySql).await;
    db.exec(
        "CREATE TABLE tokens (k BINARY(4) PRIMARY KEY, created_at DATETIME NULL, anonymised_at DATETIME NULL, nick VARCHAR(10) NULL);
         INSERT INTO tokens VALUES (x'01FE0000', '2000-01-01', NULL, 'a'), (x'01FF0000', '2000-01-01', NULL, 'b');
         CREATE TABLE moods (k ENUM('sad', 'happy') PRIMARY KEY, created_at DATETIME NULL, anonymised_at DATETIME NULL, nick VARCHAR(10) NULL)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let keyed = |table: &str| target(table, "nick").replace("key: [id]", "key: [k]");
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/tokens.yaml", &rule("tokens", &keyed("tokens"))),
            ("rules/moods.yaml", &rule("moods", &keyed("moods"))),
        ],
    );
    let env = [("APP_URL", db.url.as_str())];
    let data = db.checksum_of(&["tokens", "moods"]).await;
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    for (file, ty) in [("tokens.yaml", "binary"), ("moods.yaml", "enum")] {
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file}:\n{}", out.stderr));
        assert!(
            line.contains(&format!("{file}:9: targets[0].key")),
            "{line}"
        );
        assert!(line.contains(&format!("is {ty}")), "{line}");
    }
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    let run = retention(dir.path(), &["run"], &env);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        db.checksum_of(&["tokens", "moods"]).await,
        data,
        "nothing of either table changed"
    );
}

/// A MyISAM table cannot roll back a batch, so a failure halfway would leave rows deleted
/// without their audit entry: `check --connect` refuses it (naming the file, line and
/// field) and a run deletes nothing of it.
#[tokio::test]
async fn a_table_that_cannot_roll_back_is_refused() {
    let db = TestDb::fresh(Db::MySql).await;
    db.exec(
        "CREATE TABLE logs (id INT PRIMARY KEY, created_at DATETIME NULL, anonymised_at DATETIME NULL, nick VARCHAR(10) NULL) ENGINE=MyISAM;
         INSERT INTO logs VALUES (1, '2000-01-01', NULL, 'a'), (2, '2000-01-01', NULL, 'b')",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/logs.yaml", &rule("logs", &target("logs", "nick"))),
        ],
    );
    let env = [("APP_URL", db.url.as_str())];
    let data = db.checksum_of(&["logs"]).await;
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    assert!(
        out.stderr.contains("logs.yaml:8: targets[0].table")
            && out
                .stderr
                .contains("MyISAM storage engine, which cannot roll back"),
        "{}",
        out.stderr
    );
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    let run = retention(dir.path(), &["run"], &env);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(db.checksum_of(&["logs"]).await, data, "nothing changed");
}

/// Indexes that make no plain column list unique are no key: one on an expression
/// (`lower(email)`) or with a predicate (`WHERE deleted_at IS NULL`), on PostgreSQL and
/// SQLite; and a SQLite column declared without a type, which sorts its numbers before
/// its texts so pages bound by a key's text stop early. Each is refused by name.
async fn keys_that_do_not_name_one_row_are_refused(kind: Db) {
    let db = TestDb::fresh(kind).await;
    db.exec(
        "CREATE TABLE members (id INT NOT NULL, tenant_id INT NOT NULL, email VARCHAR(80) NOT NULL, created_at DATE NULL, anonymised_at DATE NULL, nick VARCHAR(10) NULL);
         CREATE UNIQUE INDEX members_tenant_email ON members (tenant_id, lower(email));
         CREATE UNIQUE INDEX members_live_email ON members (email) WHERE anonymised_at IS NULL",
    )
    .await;
    let mut rules = vec![
        (
            "rules/tenants.yaml".to_owned(),
            rule(
                "tenants",
                &target("members", "nick").replace("key: [id]", "key: [tenant_id]"),
            ),
        ),
        (
            "rules/emails.yaml".to_owned(),
            rule(
                "emails",
                &target("members", "nick").replace("key: [id]", "key: [email]"),
            ),
        ),
    ];
    if kind == Db::Sqlite {
        db.exec("CREATE TABLE logs (id PRIMARY KEY, created_at TEXT NULL, anonymised_at TEXT NULL, nick TEXT NULL)")
            .await;
        rules.push((
            "rules/logs.yaml".to_owned(),
            rule("logs", &target("logs", "nick")),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<(&str, &str)> = vec![("retention.yaml", CONFIG)];
    files.extend(rules.iter().map(|(f, t)| (f.as_str(), t.as_str())));
    write_files(dir.path(), &files);
    let env = [("APP_URL", db.url.as_str())];
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    for (file, why) in [
        (
            "tenants.yaml:9: targets[0].key",
            "neither the primary key nor a unique NOT NULL key",
        ),
        (
            "emails.yaml:9: targets[0].key",
            "neither the primary key nor a unique NOT NULL key",
        ),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(file) && l.contains(why)),
            "{file}:\n{}",
            out.stderr
        );
    }
    if kind == Db::Sqlite {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("logs.yaml:9: targets[0].key")
                    && l.contains("declared without a type")),
            "{}",
            out.stderr
        );
    }
}

#[tokio::test]
async fn postgres_keys_that_do_not_name_one_row_are_refused() {
    keys_that_do_not_name_one_row_are_refused(Db::Postgres).await;
}

#[tokio::test]
async fn sqlite_keys_that_do_not_name_one_row_are_refused() {
    keys_that_do_not_name_one_row_are_refused(Db::Sqlite).await;
}

/// PostgreSQL columns that take a rule `check --connect` used to pass and every run then
/// failed on: a `varchar` of times as the timestamp, `{replace: x}` on a `text[]`, a
/// replacement past a `smallint`, an `hmac` pseudonym into a domain over `varchar(50)`.
#[tokio::test]
async fn postgres_rules_every_run_would_fail_on_are_refused_at_check() {
    let db = TestDb::fresh(Db::Postgres).await;
    db.exec(
        "CREATE DOMAIN short_name AS VARCHAR(50);
         CREATE TABLE people (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ NULL, anonymised_at TIMESTAMPTZ NULL,
           nick VARCHAR(100) NULL, seen VARCHAR(40) NULL, tags TEXT[] NULL, score SMALLINT NULL, first_name short_name NULL)",
    )
    .await;
    let people = |anonymise: &str| {
        target("people", "nick").replace("      nick: null\n", &format!("      {anonymise}\n"))
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = [
        (
            "rules/seen.yaml",
            rule(
                "seen",
                &target("people", "nick").replace("timestamp: created_at", "timestamp: seen"),
            ),
        ),
        (
            "rules/tags.yaml",
            rule("tags", &people("tags: {replace: x}")),
        ),
        (
            "rules/score.yaml",
            rule("score", &people("score: {replace: 100000}")),
        ),
        (
            "rules/names.yaml",
            rule("names", &people("first_name: hmac")),
        ),
        ("rules/fine.yaml", rule("fine", &people("tags: null"))),
    ];
    let mut files = vec![("retention.yaml", CONFIG)];
    files.extend(rules.iter().map(|(f, r)| (*f, r.as_str())));
    write_files(dir.path(), &files);
    let env = [("APP_URL", db.url.as_str())];
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    for (file, why) in [
        (
            "seen.yaml:10: targets[0].timestamp",
            "is not a date/time column",
        ),
        (
            "tags.yaml:12: targets[0].anonymise.tags",
            "only `null` anonymises an array column",
        ),
        (
            "score.yaml:12: targets[0].anonymise.score",
            "holds -32768 to 32767 only",
        ),
        (
            "names.yaml:12: targets[0].anonymise.first_name",
            "holds at most 50",
        ),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(file) && l.contains(why)),
            "{file}: {why}\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("fine.yaml"), "{}", out.stderr);
}

/// Anonymising a column another table's foreign key references would cascade the new
/// value into (or be refused by) rows no rule selected: `check --connect` refuses it.
#[tokio::test]
async fn anonymising_a_referenced_column_is_refused() {
    let db = TestDb::fresh(Db::Postgres).await;
    db.exec(
        "CREATE TABLE people (id BIGINT PRIMARY KEY, nick VARCHAR(100) UNIQUE, created_at TIMESTAMPTZ NULL, anonymised_at TIMESTAMPTZ NULL);
         CREATE TABLE invoices (id BIGINT PRIMARY KEY, nick VARCHAR(100) REFERENCES people(nick) ON UPDATE CASCADE)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            (
                "rules/people.yaml",
                &rule("people", &target("people", "nick")),
            ),
        ],
    );
    let env = [("APP_URL", db.url.as_str())];
    let out = retention(dir.path(), &["check", "--connect"], &env).expect_code(2);
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("people.yaml:12: targets[0].anonymise.nick")
                && l.contains("referenced by a foreign key from `invoices`")),
        "{}",
        out.stderr
    );
}
