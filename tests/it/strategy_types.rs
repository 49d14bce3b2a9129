//! The type layer (issue 13): every anonymisation strategy against every common column
//! type of each dialect. `check --connect` must accept exactly the pairs whose output the
//! column can hold (and name the others by file, line and field); a run must then write
//! exactly the promised value into each accepted column and leave every refused one as it
//! was.
//!
//! One table per (strategy, column type) pair, one rule file per strategy, one row per
//! table, expired. The promised values are written here from SPEC §4, as SQL predicates.

use crate::support::case::Case;
use crate::support::db::Db;
use hmac::Mac;

/// What a column is, as far as the promises go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Text, with the length the database enforces (SQLite enforces none).
    Text(Option<u32>),
    Int,
    Decimal,
    Float,
    Date,
    /// A zone-less timestamp (`timestamp`, `DATETIME`).
    Naive,
    /// PostgreSQL `timestamptz`, MySQL `TIMESTAMP`.
    Zoned,
    Inet,
    Uuid,
    Bool,
}

/// A column under test: its name, DDL type, initial value (SQL literal) and kind.
struct Col {
    name: &'static str,
    ddl: &'static str,
    initial: &'static str,
    kind: Kind,
}

fn columns(db: Db) -> Vec<Col> {
    let c = |name, ddl, initial, kind| Col {
        name,
        ddl,
        initial,
        kind,
    };
    let ip = "'203.0.113.77'";
    match db {
        Db::Postgres => vec![
            c("c_text", "TEXT", ip, Kind::Text(None)),
            c("c_vc5", "VARCHAR(5)", "'ab123'", Kind::Text(Some(5))),
            c("c_vc20", "VARCHAR(20)", ip, Kind::Text(Some(20))),
            c("c_int", "INTEGER", "1234", Kind::Int),
            c("c_num", "NUMERIC(9, 4)", "12.3456", Kind::Decimal),
            c("c_float", "DOUBLE PRECISION", "12.3456", Kind::Float),
            c("c_date", "DATE", "'1980-05-17'", Kind::Date),
            c("c_ts", "TIMESTAMP", "'2020-05-17 13:14:15'", Kind::Naive),
            c(
                "c_tstz",
                "TIMESTAMPTZ",
                "'2020-05-17T13:14:15Z'",
                Kind::Zoned,
            ),
            c("c_inet", "INET", ip, Kind::Inet),
            c(
                "c_uuid",
                "UUID",
                "'0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11'",
                Kind::Uuid,
            ),
            c("c_bool", "BOOLEAN", "true", Kind::Bool),
        ],
        Db::MySql => vec![
            c("c_text", "TEXT", ip, Kind::Text(None)),
            c("c_vc5", "VARCHAR(5)", "'ab123'", Kind::Text(Some(5))),
            c("c_vc20", "VARCHAR(20)", ip, Kind::Text(Some(20))),
            c("c_int", "INT", "1234", Kind::Int),
            c("c_num", "DECIMAL(9, 4)", "12.3456", Kind::Decimal),
            c("c_float", "DOUBLE", "12.3456", Kind::Float),
            c("c_date", "DATE", "'1980-05-17'", Kind::Date),
            c("c_ts", "DATETIME", "'2020-05-17 13:14:15'", Kind::Naive),
            c(
                "c_tstz",
                "TIMESTAMP NULL",
                "'2020-05-17 13:14:15'",
                Kind::Zoned,
            ),
            c("c_bool", "BOOLEAN", "1", Kind::Int),
        ],
        Db::Sqlite => vec![
            c("c_text", "TEXT", ip, Kind::Text(None)),
            c("c_vc5", "VARCHAR(5)", "'ab123'", Kind::Text(None)),
            c("c_int", "INTEGER", "1234", Kind::Int),
            c("c_num", "NUMERIC", "12.3456", Kind::Float),
            c("c_float", "REAL", "12.3456", Kind::Float),
            c("c_date", "DATE", "'1980-05-17'", Kind::Date),
            c("c_ts", "DATETIME", "'2020-05-17 13:14:15'", Kind::Naive),
            c("c_bool", "BOOLEAN", "1", Kind::Bool),
        ],
    }
}

/// The strategies of SPEC §4 for columns, as a rule writes them.
const STRATEGIES: [(&str, &str); 9] = [
    ("null", "null"),
    ("replace_text", "{replace: REDACTED}"),
    ("replace_zero", "{replace: 0}"),
    ("replace_date", "{replace: \"1900-01-01\"}"),
    ("hmac", "hmac"),
    ("round", "{round: 1}"),
    ("truncate_ip", "truncate_ip"),
    ("truncate_date", "{truncate_date: month}"),
    ("mask", "{mask: {keep_last: 2}}"),
];

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

fn hmac_hex(value: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(b"retention-value/v1\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The literal inside the initial value's quotes.
fn unquoted(initial: &str) -> &str {
    initial.trim_matches('\'')
}

/// A predicate `c` must satisfy after a run, or `None` when `check --connect` must refuse
/// the pair (and the run must leave the column as it was).
fn promise(db: Db, strategy: &str, col: &Col) -> Option<String> {
    use Kind::*;
    let c = col.name;
    let fits = |n: u32| match col.kind {
        Text(Some(max)) => max >= n,
        _ => true,
    };
    let is = |v: &str| Some(format!("{c} = {v}"));
    match (strategy, col.kind) {
        ("null", _) => Some(format!("{c} IS NULL")),
        ("replace_text", Text(_)) if fits(8) => is("'REDACTED'"),
        ("replace_zero", Text(_)) => is("'0'"),
        ("replace_zero", Int | Decimal | Float) => is("0"),
        ("replace_zero", Bool) if db == Db::Postgres => is("false"),
        ("replace_zero", Bool) => is("0"),
        ("replace_date", Text(_)) if fits(10) => is("'1900-01-01'"),
        ("replace_date", Date) => is("'1900-01-01'"),
        ("replace_date", Naive) => is("'1900-01-01 00:00:00'"),
        ("replace_date", Zoned) if db == Db::Postgres => is("'1900-01-01T00:00:00Z'"),
        ("hmac", Text(_)) if fits(64) => is(&format!("'{}'", hmac_hex(unquoted(col.initial)))),
        ("round", Int) => is(col.initial),
        ("round", Decimal) => is("12.3"),
        ("round", Float) => Some(format!("ABS({c} - 12.3) < 0.000001")),
        ("truncate_ip", Text(_)) if col.initial == "'ab123'" => Some(format!("{c} IS NULL")),
        ("truncate_ip", Text(_)) => is("'203.0.113.0'"),
        ("truncate_ip", Inet) => Some(format!("host({c}) = '203.0.113.0'")),
        ("truncate_date", Date) => is("'1980-05-01'"),
        ("truncate_date", Naive) => is("'2020-05-01 00:00:00'"),
        ("truncate_date", Zoned) if db == Db::Postgres => is("'2020-05-01T00:00:00Z'"),
        ("truncate_date", Zoned) => is("'2020-05-01 00:00:00'"),
        ("truncate_date", Text(_)) if db == Db::Sqlite => Some(format!("{c} IS NULL")),
        ("mask", Text(_)) => {
            let v = unquoted(col.initial);
            let n = v.chars().count();
            is(&format!("'{}{}'", "*".repeat(n - 2), &v[n - 2..]))
        }
        _ => None,
    }
}

async fn every_strategy_meets_every_column_type(db: Db) {
    let cols = columns(db);
    let ts = match db {
        Db::Postgres => "TIMESTAMPTZ",
        Db::MySql => "DATETIME",
        Db::Sqlite => "TEXT",
    };
    let files: Vec<(String, String)> = STRATEGIES
        .iter()
        .map(|(name, yaml)| {
            // `s_` keeps `null` from being read as YAML's null.
            let mut text = format!(
                "category: s_{name}
description: Strategy {name}
source: \"Privacy Policy, 'Log information'\"
retain: 1d
on_expiry: anonymise
targets:
"
            );
            for col in &cols {
                text += &format!(
                    "  - store: app
    table: {name}_{c}
    key: [id]
    timestamp: at
    anonymise:
      {c}: {yaml}
    marker: done_at
",
                    c = col.name
                );
            }
            (format!("{name}.yaml"), text)
        })
        .collect();
    let rules: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let case = Case::new(db, &rules).await;
    let mut ddl = String::new();
    for (name, _) in STRATEGIES {
        for col in &cols {
            ddl += &format!(
                "CREATE TABLE {name}_{c} (id BIGINT PRIMARY KEY, {c} {ty}, at {ts}, done_at {ts} NULL);
                 INSERT INTO {name}_{c} VALUES (1, {v}, '2001-01-01 00:00:00', NULL);\n",
                c = col.name,
                ty = col.ddl,
                v = col.initial
            );
        }
    }
    case.db.exec(&ddl).await;

    // check --connect refuses exactly the pairs without a promise, each where it is written.
    let check = case.run(&["check", "--connect"]);
    let mut wrong = Vec::new();
    for (s, (name, _)) in STRATEGIES.iter().enumerate() {
        let file = case.dir.path().join(format!("rules/{name}.yaml"));
        for (i, col) in cols.iter().enumerate() {
            // targets[i] starts on line 7 + 7 i; its anonymised column is 5 lines further.
            let place = format!(
                "{}:{}: targets[{i}].anonymise.{}: ",
                file.display(),
                7 + 7 * i + 5,
                col.name
            );
            let refused = check.stderr.contains(&place);
            let promised = promise(db, name, col).is_some();
            if refused == promised {
                wrong.push(format!(
                    "{name} on {} ({}): check --connect {}",
                    col.name,
                    col.ddl,
                    if refused { "refused it" } else { "accepted it" }
                ));
            }
            let _ = s;
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n\nstderr:\n{}",
        wrong.join("\n"),
        check.stderr
    );

    // The run writes exactly the promised value, and leaves refused pairs untouched.
    case.expect(&["migrate"], 0);
    let run = case.run(&["run"]);
    for (name, _) in STRATEGIES {
        for col in &cols {
            let table = format!("{name}_{}", col.name);
            let check = match promise(db, name, col) {
                Some(p) => p,
                None => format!("{} = {}", col.name, col.initial),
            };
            let n = case
                .db
                .count(&format!("SELECT COUNT(*) FROM {table} WHERE {check}"))
                .await;
            if n != 1 {
                let now = case
                    .column(&format!(
                        "SELECT CAST({} AS CHAR(80)) FROM {table}",
                        col.name
                    ))
                    .await;
                wrong.push(format!(
                    "{name} on {} ({}): expected {check}, found {now:?}",
                    col.name, col.ddl
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n\nrun stdout:\n{}\nstderr:\n{}",
        wrong.join("\n"),
        run.stdout,
        run.stderr
    );
}

crate::support::on_every_dialect!(Db: every_strategy_meets_every_column_type);
