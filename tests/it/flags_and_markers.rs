//! Erasure flags and anonymisation markers as applications declare them: a boolean (or an
//! integer, MySQL's and SQLite's boolean) `NOT NULL DEFAULT false` flag flags only the
//! rows set true, not every row; a boolean marker `DEFAULT false` marks only rows set
//! true, so the others are anonymised once, and not again; a NOT NULL flag of another
//! type is refused by `check --connect`, since every row would look flagged.

use crate::support::case::Case;
use crate::support::db::Db;

const USERS: &str = "category: users
description: Accounts
source: \"Privacy Policy, 'Your rights'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: users
    key: [id]
    erasure_flag: erase_requested
";

async fn only_rows_set_true_are_flagged(db: Db) {
    let case = Case::new(db, &[("users.yaml", USERS)]).await;
    let flag = match db {
        Db::Postgres => "BOOLEAN NOT NULL DEFAULT false",
        Db::MySql => "BOOLEAN NOT NULL DEFAULT false",
        Db::Sqlite => "INTEGER NOT NULL DEFAULT 0",
    };
    case.db
        .exec(&format!(
            "CREATE TABLE users (id INT PRIMARY KEY, erase_requested {flag})"
        ))
        .await;
    let rows: Vec<String> = (1..=50).map(|i| format!("({i})")).collect();
    case.db
        .exec(&format!(
            "INSERT INTO users (id) VALUES {}",
            rows.join(", ")
        ))
        .await;
    case.db
        .exec("UPDATE users SET erase_requested = true WHERE id IN (7, 30)")
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["targets"][0]["matched"], 2, "{plan}");
    case.expect(&["run"], 0);
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM users").await,
        48,
        "only the two flagged rows go"
    );
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM users WHERE id IN (7, 30)")
            .await,
        0
    );
}

#[tokio::test]
async fn a_not_null_timestamp_flag_is_refused() {
    let rule = USERS.replace("erase_requested\n", "erase_requested_at\n");
    let case = Case::new(Db::Postgres, &[("users.yaml", &rule)]).await;
    case.db
        .exec("CREATE TABLE users (id INT PRIMARY KEY, erase_requested_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .await;
    let check = case.expect(&["check", "--connect"], 2);
    assert!(
        check.stderr.contains("erasure_flag")
            && check.stderr.contains("every row would look flagged"),
        "{}",
        check.stderr
    );
}

/// Notes anonymised on expiry, marked by a boolean column.
const NOTES: &str = "category: notes
description: Notes
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: anonymise
targets:
  - store: app
    table: notes
    key: [id]
    timestamp: at
    anonymise: {email: {replace: gone}}
    marker: is_anonymized
";

#[tokio::test]
async fn a_boolean_marker_defaulting_to_false_marks_only_rows_set_true() {
    let db = Db::Postgres;
    let case = Case::new(db, &[("notes.yaml", NOTES)]).await;
    case.db
        .exec(
            "CREATE TABLE notes (id INT PRIMARY KEY, email TEXT, at TIMESTAMPTZ NOT NULL,
               is_anonymized BOOLEAN NOT NULL DEFAULT false)",
        )
        .await;
    let (old, fresh) = (db.days_ago(60), db.days_ago(0));
    case.db
        .exec(&format!(
            "INSERT INTO notes (id, email, at) VALUES (1, 'a@x.io', {old}), (2, 'b@x.io', {old}),
               (3, 'c@x.io', {fresh})"
        ))
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    let first = case.expect(&["run"], 0);
    let emails = case
        .column("SELECT email || '/' || is_anonymized::text FROM notes ORDER BY id")
        .await;
    assert_eq!(
        emails,
        [
            Some("gone/true".to_owned()),
            Some("gone/true".to_owned()),
            Some("c@x.io/false".to_owned())
        ],
        "{}",
        first.stderr
    );
    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(
        plan["targets"][0]["matched"], 0,
        "anonymised rows are not selected again: {plan}"
    );
}

/// MariaDB's `BOOLEAN` is a `TINYINT(1)`: as a marker, `NOT NULL DEFAULT 0` marks only
/// the rows set to 1, which the tool writes; rows are anonymised once, not again.
#[tokio::test]
async fn mariadb_a_tinyint_marker_works_as_a_boolean() {
    let db = Db::MySql;
    let case = Case::new(db, &[("notes.yaml", NOTES)]).await;
    case.db
        .exec(
            "CREATE TABLE notes (id INT PRIMARY KEY, email VARCHAR(40), at DATETIME NOT NULL,
               is_anonymized BOOLEAN NOT NULL DEFAULT false)",
        )
        .await;
    let (old, fresh) = (db.days_ago(60), db.days_ago(0));
    case.db
        .exec(&format!(
            "INSERT INTO notes (id, email, at) VALUES (1, 'a@x.io', {old}), (2, 'b@x.io', {fresh})"
        ))
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(
        case.column("SELECT CONCAT(email, '/', is_anonymized) FROM notes ORDER BY id")
            .await,
        [Some("gone/1".to_owned()), Some("b@x.io/0".to_owned())]
    );
    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["targets"][0]["matched"], 0, "{plan}");
}

/// Flags of other types: a number 0 (`numeric(1,0)`, a SQLite column without a type
/// holding 0 or '0') is not set either; a time is.
async fn a_zero_flag_of_any_number_type_flags_nothing(db: Db) {
    let case = Case::new(db, &[("users.yaml", USERS)]).await;
    let flag = match db {
        Db::Postgres => "NUMERIC(1,0)",
        Db::MySql => "DECIMAL(1,0)",
        Db::Sqlite => "",
    };
    case.db
        .exec(&format!(
            "CREATE TABLE users (id INT PRIMARY KEY, erase_requested {flag} NULL)"
        ))
        .await;
    let values = match db {
        Db::Sqlite => "(1, 0), (2, '0'), (3, 0.0), (4, NULL), (5, 1), (6, '2026-01-01')",
        _ => "(1, 0), (2, 0), (3, 0), (4, NULL), (5, 1), (6, 1)",
    };
    case.db
        .exec(&format!("INSERT INTO users VALUES {values}"))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM users").await,
        4,
        "only rows 5 and 6 are flagged"
    );
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM users WHERE id IN (5, 6)")
            .await,
        0
    );
}

crate::support::on_every_dialect!(Db:
    a_false_flag_flags_nothing => only_rows_set_true_are_flagged,
    a_zero_flag_flags_nothing => a_zero_flag_of_any_number_type_flags_nothing,
);

/// Flags whose "unset" is no NULL: a PostgreSQL domain over a domain over boolean, a
/// `bit(1)` of `B'0'`, and a MariaDB zero date (`DEFAULT '0000-00-00'`) flag nothing.
#[tokio::test]
async fn postgres_nested_domain_and_bit_flags_count_only_when_set() {
    let case = Case::new(Db::Postgres, &[("users.yaml", USERS)]).await;
    case.db
        .exec(
            "CREATE DOMAIN yesno AS boolean; CREATE DOMAIN erase_flag AS yesno;
             CREATE TABLE users (id INT PRIMARY KEY, erase_requested erase_flag DEFAULT false)",
        )
        .await;
    case.db
        .exec("INSERT INTO users VALUES (1, false), (2, true), (3, NULL)")
        .await;
    let bits = USERS
        .replace("table: users", "table: bits")
        .replace("category: users", "category: bits");
    crate::support::cli::write_files(case.dir.path(), &[("rules/bits.yaml", &bits)]);
    case.db
        .exec(
            "CREATE TABLE bits (id INT PRIMARY KEY, erase_requested bit(1) DEFAULT B'0');
             INSERT INTO bits VALUES (1, B'0'), (2, B'1'), (3, NULL)",
        )
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    for table in ["users", "bits"] {
        assert_eq!(
            case.column(&format!("SELECT id::text FROM {table} ORDER BY id"))
                .await,
            [Some("1".to_owned()), Some("3".to_owned())],
            "{table}"
        );
    }
}

#[tokio::test]
async fn mariadb_a_zero_date_flag_flags_nothing() {
    let rule = USERS.replace("erase_requested\n", "erase_at\n");
    let case = Case::new(Db::MySql, &[("users.yaml", &rule)]).await;
    case.db
        .exec(
            "SET SESSION sql_mode = '';
             CREATE TABLE users (id INT PRIMARY KEY, erase_at DATETIME NULL DEFAULT '0000-00-00 00:00:00');
             INSERT INTO users (id) VALUES (1), (2);
             INSERT INTO users VALUES (3, '2026-01-01 00:00:00'), (4, NULL)",
        )
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(
        case.column("SELECT CAST(id AS CHAR) FROM users ORDER BY id")
            .await,
        [
            Some("1".to_owned()),
            Some("2".to_owned()),
            Some("4".to_owned())
        ]
    );
}
