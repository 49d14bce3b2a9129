//! Values meet columns exactly, through the binary, on real column types users have:
//! a `numeric`/`DECIMAL` subject past 2^53 is never rounded onto a neighbour's, nor do
//! `1.0` or `01` name subject `1`; a `real`/`FLOAT` filter value is the column's own
//! nearest value; a MySQL `BIGINT UNSIGNED` id past 2^63 is held and erased; `true`
//! meets a MySQL `BIT(1)` as 1; PostgreSQL enums whose names contain `int` or `char`, or
//! need quotes, are compared as themselves; what a request erases is the id's own bytes
//! under a case- or accent-insensitive collation, while a hold keeps what the collation
//! equates; a SQLite column without a type matches the id whether it stores `1` or `'1'`;
//! decimal keys past 2^53 page without skipping a row. The expected rows come from the
//! data before the run (the oracle).

use crate::support::case::Case;
use crate::support::cli::write_files;
use crate::support::db::Db;

fn rule(category: &str, table: &str, subject: &str, extra: &str) -> String {
    format!(
        "category: {category}
description: {category}
source: \"Privacy Policy, 'Your rights'\"
retain: 1d
on_expiry: delete
on_erasure: delete
targets:
  - store: app
    table: {table}
    key: [id]
    timestamp: at
    subject: {subject}
{extra}"
    )
}

async fn numbers(db: Db) {
    let (num, real) = match db {
        Db::Postgres => ("NUMERIC(20,0)", "REAL"),
        Db::MySql => ("DECIMAL(20,0)", "FLOAT"),
        Db::Sqlite => ("NUMERIC", "REAL"),
    };
    let invoices = rule(
        "invoices",
        "invoices",
        "customer_no",
        "    filter: {column: discount, ne: 0.05}\n",
    );
    let case = Case::new(db, &[("invoices.yaml", &invoices)]).await;
    case.db
        .exec(&format!(
            "CREATE TABLE invoices (id INT PRIMARY KEY, customer_no {num}, discount {real}, at {} NOT NULL)",
            db.timestamp_type()
        ))
        .await;
    let fresh = db.days_ago(0);
    // 9007199254740992 and …993 are one double; 0.05 in a `real` is not the double 0.05.
    case.db
        .exec(&format!(
            "INSERT INTO invoices VALUES
               (1, 9007199254740992, 0.1, {fresh}), (2, 9007199254740993, 0.1, {fresh}),
               (3, 9007199254740993, 0.05, {fresh}), (4, 1, 0.1, {fresh}),
               (5, NULL, 0.1, {fresh})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["erase", "--subject", "9007199254740993", "--ticket", "T-1"],
        0,
    );
    assert_eq!(
        case.ids("invoices").await,
        ["1", "3", "4", "5"],
        "only the subject's own rows outside the filter"
    );
    for (i, other) in ["1.0", "01", "1e0", "+1"].iter().enumerate() {
        case.expect(
            &["erase", "--subject", other, "--ticket", &format!("T-x{i}")],
            0,
        );
    }
    assert_eq!(case.ids("invoices").await, ["1", "3", "4", "5"]);
    case.expect(&["erase", "--subject", "1", "--ticket", "T-2"], 0);
    assert_eq!(case.ids("invoices").await, ["1", "3", "5"]);
    case.expect(&["audit", "verify"], 0);
}

async fn bytes_for_requests_collation_for_holds(db: Db) {
    let comments = rule("comments", "comments", "email", "");
    let case = Case::new(db, &[("comments.yaml", &comments)]).await;
    let collate = match db {
        Db::Postgres => " COLLATE ci",
        Db::MySql => " COLLATE utf8mb4_unicode_520_ci",
        Db::Sqlite => " COLLATE NOCASE",
    };
    if db == Db::Postgres {
        // A nondeterministic ICU collation: case- and accent-insensitive equality.
        case.db
            .exec("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level1', deterministic = false)")
            .await;
    }
    case.db
        .exec(&format!(
            "CREATE TABLE comments (id INT PRIMARY KEY, email VARCHAR(100){collate}, at {} NOT NULL)",
            db.timestamp_type()
        ))
        .await;
    let (old, fresh) = (db.days_ago(30), db.days_ago(0));
    let spellings = [
        "jose@example.com",
        "José@Example.com",
        "JOSE@EXAMPLE.COM",
        "jose@example.com ",
        "josé@example.com",
    ];
    for (i, email) in spellings.iter().enumerate() {
        for (j, at) in [&fresh, &old].iter().enumerate() {
            case.db
                .exec(&format!(
                    "INSERT INTO comments VALUES ({}, '{email}', {at})",
                    10 * i + j
                ))
                .await;
        }
    }
    // Rows of nobody: the subject conditions must leave them to expiry.
    case.db
        .exec(&format!(
            "INSERT INTO comments VALUES (98, NULL, {fresh}), (99, NULL, {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["erase", "--subject", "jose@example.com", "--ticket", "T-1"],
        0,
    );
    let all: Vec<String> = (0..10)
        .map(|n| (10 * (n / 2) + n % 2).to_string())
        .chain(["98".to_owned(), "99".to_owned()])
        .collect();
    assert_eq!(
        case.ids("comments").await,
        all[2..],
        "a request erases the id's own bytes only"
    );

    // A hold keeps every row the column's collation equates with the id (the oracle is
    // the database's own `=`); expiry takes the other old rows.
    let text = if db == Db::MySql { "CHAR" } else { "TEXT" };
    let mut kept = case
        .column(&format!(
            "SELECT CAST(id AS {text}) FROM comments
             WHERE email = 'jose@example.com' OR at > {}",
            db.days_ago(1)
        ))
        .await
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    kept.sort_by_key(|k| k.parse::<i64>().unwrap_or(0));
    case.expect(
        &[
            "hold",
            "add",
            "--subject",
            "jose@example.com",
            "--reason",
            "litigation",
        ],
        0,
    );
    case.expect(&["run"], 0);
    assert_eq!(case.ids("comments").await, kept);
    case.expect(&["audit", "verify"], 0);
}

async fn decimal_keys(db: Db) {
    let num = match db {
        Db::Postgres => "NUMERIC(20,0)",
        _ => "DECIMAL(20,0)",
    };
    let events = rule("events", "events", "owner", "");
    let case = Case::new(db, &[("events.yaml", &events)]).await;
    let config = std::fs::read_to_string(case.dir.path().join("retention.yaml")).expect("config");
    write_files(
        case.dir.path(),
        &[(
            "retention.yaml",
            &format!("{config}defaults:\n  batch_size: 100\n  max_fraction: 1.0\n"),
        )],
    );
    case.db
        .exec(&format!(
            "CREATE TABLE events (id {num} PRIMARY KEY, owner INT, at {} NOT NULL)",
            db.timestamp_type()
        ))
        .await;
    let old = db.days_ago(30);
    let rows: Vec<String> = (0..400)
        .map(|i| format!("({}, {i}, {old})", 9_007_199_254_740_900_i64 + i))
        .collect();
    case.db
        .exec(&format!("INSERT INTO events VALUES {}", rows.join(", ")))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert!(
        case.ids("events").await.is_empty(),
        "every expired row goes, none skipped between batches"
    );
    case.expect(&["audit", "verify"], 0);
}

crate::support::on_every_dialect!(Db:
    a_number_names_one_subject_and_a_real_filter_meets_its_own_value => numbers,
    a_request_takes_the_ids_own_bytes_and_a_hold_what_the_collation_equates => bytes_for_requests_collation_for_holds,
);

mod postgres_and_mariadb {
    use super::*;

    #[tokio::test]
    async fn postgres_decimal_keys_past_2_53_page_without_skipping_a_row() {
        decimal_keys(Db::Postgres).await;
    }

    #[tokio::test]
    async fn mariadb_decimal_keys_past_2_53_page_without_skipping_a_row() {
        decimal_keys(Db::MySql).await;
    }
}

#[tokio::test]
async fn mariadb_unsigned_ids_past_2_63_are_held_and_erased() {
    let db = Db::MySql;
    let events = rule("events", "events", "owner", "");
    let case = Case::new(db, &[("events.yaml", &events)]).await;
    case.db
        .exec(
            "CREATE TABLE events (id BIGINT UNSIGNED PRIMARY KEY, owner BIGINT UNSIGNED,
               at DATETIME NOT NULL)",
        )
        .await;
    let (old, fresh) = (db.days_ago(30), db.days_ago(0));
    let (held, other) = ("18446744073709551605", "18446744073709551604");
    case.db
        .exec(&format!(
            "INSERT INTO events VALUES
               (18446744073709551610, {held}, {old}), (18446744073709551611, {other}, {old}),
               (18446744073709551612, {held}, {fresh}), (18446744073709551613, {other}, {fresh})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", held, "--reason", "litigation"],
        0,
    );
    case.expect(&["run"], 0);
    assert_eq!(
        case.ids("events").await,
        [
            "18446744073709551610",
            "18446744073709551612",
            "18446744073709551613"
        ],
        "the held subject's expired row stays, the other's goes"
    );
    case.expect(&["hold", "remove", "--subject", held], 0);
    case.expect(&["erase", "--subject", held, "--ticket", "T-1"], 0);
    assert_eq!(case.ids("events").await, ["18446744073709551613"]);
    case.expect(&["audit", "verify"], 0);
}

#[tokio::test]
async fn mariadb_true_meets_a_bit_column_as_one() {
    let db = Db::MySql;
    let events = rule(
        "tests",
        "events",
        "owner",
        "    filter: {column: is_test, eq: true}\n",
    );
    let case = Case::new(db, &[("tests.yaml", &events)]).await;
    case.db
        .exec("CREATE TABLE events (id INT PRIMARY KEY, owner INT, is_test BIT(1), at DATETIME NOT NULL)")
        .await;
    let old = db.days_ago(30);
    case.db
        .exec(&format!(
            "INSERT INTO events VALUES (1, 1, b'1', {old}), (2, 1, b'0', {old}), (3, 1, NULL, {old}),
               (4, 2, b'1', {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["check", "--connect"], 0);
    case.expect(&["run"], 0);
    assert_eq!(case.ids("events").await, ["2", "3"]);
}

#[tokio::test]
async fn postgres_enums_are_compared_as_themselves_whatever_their_names() {
    let db = Db::Postgres;
    let docs = rule(
        "docs",
        "docs",
        "owner",
        "    filter: [{column: status, eq: printed}, {column: role, ne: admin}, {column: kind, in: [letter]}]\n",
    );
    let case = Case::new(db, &[("docs.yaml", &docs)]).await;
    case.db
        .exec("CREATE TYPE print_status AS ENUM ('printed', 'draft')")
        .await;
    case.db
        .exec("CREATE TYPE \"Role\" AS ENUM ('admin', 'user')")
        .await;
    case.db
        .exec("CREATE TYPE char_kind AS ENUM ('letter', 'memo')")
        .await;
    case.db
        .exec(
            "CREATE TABLE docs (id INT PRIMARY KEY, owner INT, status print_status, role \"Role\",
               kind char_kind, at TIMESTAMPTZ NOT NULL)",
        )
        .await;
    let old = db.days_ago(30);
    case.db
        .exec(&format!(
            "INSERT INTO docs VALUES (1, 1, 'printed', 'user', 'letter', {old}),
               (2, 1, 'draft', 'user', 'letter', {old}), (3, 1, 'printed', 'admin', 'letter', {old}),
               (4, 1, 'printed', NULL, 'letter', {old}), (5, 1, 'printed', 'user', 'memo', {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["check", "--connect"], 0);
    case.expect(&["run"], 0);
    // Row 4's NULL role is not `ne: admin` (SQL's NULL is no value): it stays.
    assert_eq!(case.ids("docs").await, ["2", "3", "4", "5"]);
}

#[tokio::test]
async fn sqlite_a_column_without_a_type_matches_the_id_stored_either_way() {
    let db = Db::Sqlite;
    let m = rule("messages", "m", "account_id", "");
    let case = Case::new(db, &[("m.yaml", &m)]).await;
    case.db
        .exec("CREATE TABLE m (id INTEGER PRIMARY KEY, account_id, at TEXT NOT NULL)")
        .await;
    let fresh = db.days_ago(0);
    case.db
        .exec(&format!(
            "INSERT INTO m VALUES (1, 1, {fresh}), (2, '1', {fresh}), (3, 10, {fresh}),
               (4, ' 1', {fresh}), (5, NULL, {fresh}), (6, 1.5, {fresh})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["erase", "--subject", "1", "--ticket", "T-1"], 0);
    assert_eq!(case.ids("m").await, ["3", "4", "5", "6"]);
}

/// A hold or a request whose id is no uuid matches nothing in a `uuid` column — the run
/// neither fails on the cast nor prints the id — and a uuid matches in any spelling.
#[tokio::test]
async fn postgres_an_id_that_is_no_uuid_matches_nothing_in_a_uuid_column() {
    let db = Db::Postgres;
    let sessions = rule("sessions", "sessions", "account", "");
    let case = Case::new(db, &[("sessions.yaml", &sessions)]).await;
    case.db
        .exec("CREATE TABLE sessions (id INT PRIMARY KEY, account UUID, at TIMESTAMPTZ NOT NULL)")
        .await;
    let (old, fresh) = (db.days_ago(30), db.days_ago(0));
    let a = "0193a0b4-7c1e-7d2a-9f00-0123456789ab";
    case.db
        .exec(&format!(
            "INSERT INTO sessions VALUES (1, '{a}', {old}), (2, '{a}', {fresh}), (3, NULL, {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &[
            "hold",
            "add",
            "--subject",
            "Owner-5",
            "--reason",
            "litigation",
        ],
        0,
    );
    let run = case.expect(&["run"], 0);
    assert!(!run.stderr.contains("Owner-5"), "{}", run.stderr);
    assert_eq!(case.ids("sessions").await, ["2"]);
    case.expect(&["erase", "--subject", "42", "--ticket", "T-1"], 0);
    assert_eq!(case.ids("sessions").await, ["2"]);
    // PostgreSQL reads any spelling of a uuid as the same value, and so does the tool.
    case.expect(
        &["erase", "--subject", &a.to_uppercase(), "--ticket", "T-2"],
        0,
    );
    assert!(case.ids("sessions").await.is_empty());
}

/// `--shard I/N` on an integer key holding the smallest BIGINT: every shard runs (no
/// overflow in the shard's arithmetic) and together they delete every expired row once.
#[tokio::test]
async fn mariadb_shards_cover_the_smallest_bigint() {
    let db = Db::MySql;
    let events = rule("events", "events", "owner", "");
    let case = Case::new(db, &[("events.yaml", &events)]).await;
    case.db
        .exec("CREATE TABLE events (id BIGINT PRIMARY KEY, owner INT, at DATETIME NOT NULL)")
        .await;
    let old = db.days_ago(30);
    case.db
        .exec(&format!(
            "INSERT INTO events VALUES (-9223372036854775808, 1, {old}), (-7, 1, {old}),
               (9223372036854775807, 1, {old}), (4, 1, {old}), (5, 1, {})",
            db.days_ago(0)
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run", "--shard", "0/2"], 0);
    case.expect(&["run", "--shard", "1/2"], 0);
    assert_eq!(case.ids("events").await, ["5"]);
}

/// SQLite columns without affinity — declared `ANY` in a STRICT table — hold `1` and
/// `'1'` apart: a hold on `1` keeps both, an erasure of `1` takes both; a column declared
/// `uuid` is text on SQLite, matched as stored.
#[tokio::test]
async fn sqlite_any_and_uuid_columns_match_ids_as_stored() {
    let db = Db::Sqlite;
    let m = rule("messages", "m", "acct", "");
    let u = rule("uuids", "u", "acct", "");
    let case = Case::new(db, &[("m.yaml", &m), ("u.yaml", &u)]).await;
    case.db
        .exec("CREATE TABLE m (id INTEGER PRIMARY KEY, acct ANY, at TEXT NOT NULL) STRICT")
        .await;
    case.db
        .exec("CREATE TABLE u (id INTEGER PRIMARY KEY, acct uuid, at TEXT NOT NULL)")
        .await;
    let (old, fresh) = (db.days_ago(30), db.days_ago(0));
    let upper = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11";
    case.db
        .exec(&format!(
            "INSERT INTO m VALUES (1, 1, {old}), (2, '1', {old}), (3, 2, {old}), (4, 1, {fresh}), (5, '1', {fresh});
             INSERT INTO u VALUES (1, '{upper}', {old}), (2, '{upper}', {fresh}), (3, 'other', {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "1", "--reason", "litigation"],
        0,
    );
    case.expect(
        &["hold", "add", "--subject", upper, "--reason", "litigation"],
        0,
    );
    case.expect(&["run"], 0);
    assert_eq!(case.ids("m").await, ["1", "2", "4", "5"]);
    assert_eq!(case.ids("u").await, ["1", "2"]);
    case.expect(&["hold", "remove", "--subject", "1"], 0);
    case.expect(&["erase", "--subject", "1", "--ticket", "T-1"], 0);
    assert!(case.ids("m").await.is_empty());
}

/// An id that a column of an unknown type (an enum) cannot hold matches nothing, and the
/// run neither fails nor prints it.
#[tokio::test]
async fn postgres_an_id_meets_an_enum_subject_as_text_and_is_never_printed() {
    let db = Db::Postgres;
    let accounts = rule("accounts", "accounts", "kind", "");
    let case = Case::new(db, &[("accounts.yaml", &accounts)]).await;
    case.db
        .exec("CREATE TYPE acct_kind AS ENUM ('staff', 'guest')")
        .await;
    case.db
        .exec("CREATE TABLE accounts (id INT PRIMARY KEY, kind acct_kind, at TIMESTAMPTZ NOT NULL)")
        .await;
    case.db
        .exec(&format!(
            "INSERT INTO accounts VALUES (1, 'staff', {}), (2, 'guest', {})",
            db.days_ago(0),
            db.days_ago(0)
        ))
        .await;
    case.expect(&["migrate"], 0);
    let secret = "carol.secret@example.com";
    let erase = case.expect(&["erase", "--subject", secret, "--ticket", "T-9"], 0);
    assert!(!erase.stdout.contains(secret) && !erase.stderr.contains(secret));
    case.expect(&["erase", "--subject", "guest", "--ticket", "T-10"], 0);
    assert_eq!(case.ids("accounts").await, ["1"]);
}

/// A float epoch column (Home Assistant's `last_updated_ts`) with `unit: s` expires by
/// the same cutoff as an integer one.
#[tokio::test]
async fn postgres_a_float_epoch_column_expires_by_its_unit() {
    let db = Db::Postgres;
    let states = "category: states
description: States
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: states
    key: [id]
    timestamp: {column: last_updated_ts, unit: s}
";
    let case = Case::new(db, &[("states.yaml", states)]).await;
    let now = chrono::Utc::now().timestamp() as f64;
    let day = 86_400.0;
    case.db
        .exec(&format!(
            "CREATE TABLE states (id INT PRIMARY KEY, last_updated_ts DOUBLE PRECISION);
             INSERT INTO states VALUES (1, {}), (2, {}), (3, NULL), (4, {})",
            now - 31.5 * day,
            now - 29.5 * day,
            now - 400.25 * day
        ))
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(case.ids("states").await, ["2", "3"]);
}

/// A row at PostgreSQL's earliest time (4714 BC) does not push the first time window
/// out of range: the expired rows go.
#[tokio::test]
async fn postgres_a_row_at_the_earliest_time_does_not_fail_the_windows() {
    let db = Db::Postgres;
    let events = rule("events", "events", "owner", "");
    let case = Case::new(db, &[("events.yaml", &events)]).await;
    case.db
        .exec(&format!(
            "CREATE TABLE events (id INT PRIMARY KEY, owner INT, at TIMESTAMPTZ NOT NULL);
             CREATE INDEX ON events (at);
             INSERT INTO events VALUES (1, 1, '4714-11-24 00:00:00+00 BC'), (2, 1, '1900-01-01T00:00:00Z'),
               (3, 1, {})",
            db.days_ago(0)
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(case.ids("events").await, ["3"]);
}

/// PostgreSQL `citext`: keys page in citext's own order (no row skipped between batches),
/// a hold on `jose` keeps `JOSE` as citext equates them, and a filter value meets the
/// column as citext.
#[tokio::test]
async fn postgres_citext_keys_holds_and_filters_follow_citext() {
    let db = Db::Postgres;
    let msgs = rule(
        "msgs",
        "msgs",
        "owner",
        "    filter: {column: source, not_in: [manual]}\n",
    )
    .replace("key: [id]", "key: [k]");
    let case = Case::new(db, &[("msgs.yaml", &msgs)]).await;
    let config = std::fs::read_to_string(case.dir.path().join("retention.yaml")).expect("config");
    write_files(
        case.dir.path(),
        &[(
            "retention.yaml",
            &format!("{config}defaults:\n  batch_size: 100\n  max_fraction: 1.0\n"),
        )],
    );
    case.db.exec("CREATE EXTENSION IF NOT EXISTS citext").await;
    case.db
        .exec("CREATE TABLE msgs (k CITEXT PRIMARY KEY, owner CITEXT, source CITEXT, at TIMESTAMPTZ NOT NULL)")
        .await;
    let old = db.days_ago(30);
    case.db
        .exec(&format!(
            "INSERT INTO msgs SELECT CASE WHEN g % 2 = 0 THEN 'Key' ELSE 'key' END || g, 'o' || g, 'app', {old}
               FROM generate_series(1, 600) g;
             INSERT INTO msgs VALUES ('held-1', 'JOSE', 'app', {old}), ('manual-1', 'x', 'MANUAL', {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "jose", "--reason", "litigation"],
        0,
    );
    case.expect(&["run"], 0);
    assert_eq!(
        case.column("SELECT k::text FROM msgs ORDER BY k").await,
        [Some("held-1".to_owned()), Some("manual-1".to_owned())]
    );
}

/// Holds on `abc` and `ABC` are two holds on MariaDB too (the state store compares ids
/// byte for byte): each keeps its own subject's rows in a binary-collated column, and
/// lifting one leaves the other in force.
#[tokio::test]
async fn mariadb_holds_on_ids_that_differ_by_case_are_two_holds() {
    let db = Db::MySql;
    let events = rule("events", "events", "owner", "");
    let case = Case::new(db, &[("events.yaml", &events)]).await;
    case.db
        .exec("CREATE TABLE events (id INT PRIMARY KEY, owner VARCHAR(20) COLLATE utf8mb4_bin, at DATETIME NOT NULL)")
        .await;
    let old = db.days_ago(30);
    case.db
        .exec(&format!(
            "INSERT INTO events VALUES (1, 'abc', {old}), (2, 'ABC', {old}), (3, 'xyz', {old})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "abc", "--reason", "litigation"],
        0,
    );
    case.expect(
        &["hold", "add", "--subject", "ABC", "--reason", "litigation"],
        0,
    );
    case.expect(&["hold", "remove", "--subject", "ABC"], 0);
    let list = case.expect(&["hold", "list"], 0);
    assert!(
        list.stdout.lines().any(|l| l.starts_with("abc ")),
        "{}",
        list.stdout
    );
    case.expect(&["run"], 0);
    assert_eq!(case.ids("events").await, ["1"]);
}
