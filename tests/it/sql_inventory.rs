//! The plan's counts do not depend on how they are computed: an expiry pass over an
//! indexed timestamp counts from index ranges and a bare `COUNT(*)`, an unindexed one in
//! a single scan, and both give the same matched, held, locked and total figures and the
//! same guard verdict (the timestamp sanity counts included) on every dialect. A run,
//! which counts the whole table only when the guard's verdict depends on it, reaches the
//! same verdicts.

use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, TestDb, APP_CONFIG as CONFIG};
use chrono::{Duration, Utc};

fn rule(db: Db) -> String {
    // SQLite text timestamps are compared through julianday() and never use an index;
    // integer epochs do, so SQLite is tested with those.
    let ts = match db {
        Db::Sqlite => "{column: ts, unit: s}",
        _ => "ts",
    };
    let mut r = "category: events\ndescription: Events\nsource: \"Privacy Policy, 'Usage information'\"\nretain: 30d\non_expiry: delete\ntargets:\n".to_owned();
    for t in [
        "plain_events",
        "indexed_events",
        "plain_future",
        "indexed_future",
    ] {
        r += &format!(
            "  - store: app\n    table: {t}\n    key: [id]\n    timestamp: {ts}\n    subject: account_id\n"
        );
    }
    r
}

fn at(db: Db, days: i64) -> String {
    let t = Utc::now() + Duration::days(days);
    match db {
        Db::Postgres => format!("'{}'", t.to_rfc3339()),
        Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        Db::Sqlite => t.timestamp().to_string(),
    }
}

async fn seed(db: &TestDb) {
    let k = db.kind;
    let ts = match k {
        Db::Postgres => "TIMESTAMPTZ",
        Db::MySql => "DATETIME(6)",
        Db::Sqlite => "BIGINT",
    };
    let (old, fresh, future) = (at(k, -400), at(k, -1), at(k, 30));
    for table in ["plain", "indexed"] {
        // Expired: 2 of the held subject 7, 5 others of which one has a note (locked).
        // Fresh 3, undated 2, one in the future.
        let mut sql = format!(
            "CREATE TABLE {table}_events (id BIGINT PRIMARY KEY, account_id BIGINT, ts {ts} NULL);
             CREATE TABLE {table}_notes (id BIGINT PRIMARY KEY, event_id BIGINT NOT NULL,
                                         FOREIGN KEY (event_id) REFERENCES {table}_events (id));
             CREATE TABLE {table}_future (id BIGINT PRIMARY KEY, account_id BIGINT, ts {ts} NULL);
             INSERT INTO {table}_events VALUES (1, 7, {old}), (2, 7, {old}), (3, 1, {old}),
               (4, 1, {old}), (5, 2, {old}), (6, 2, {old}), (7, 3, {old}), (8, 1, {fresh}),
               (9, 2, {fresh}), (10, 3, {fresh}), (11, 1, NULL), (12, 2, NULL), (13, 3, {future});
             INSERT INTO {table}_notes VALUES (1, 7);
             INSERT INTO {table}_future VALUES (1, 1, {old}), (2, 1, {future}), (3, 2, {future}), (4, 3, {future}), (5, 1, NULL), (6, 2, NULL);"
        );
        if table == "indexed" {
            sql += "\nCREATE INDEX indexed_events_ts ON indexed_events (ts);
                    CREATE INDEX indexed_future_ts ON indexed_future (ts);";
        }
        db.exec(&sql).await;
    }
}

async fn counts_agree_with_and_without_an_index(kind: Db) {
    let db = TestDb::fresh(kind).await;
    seed(&db).await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/events.yaml", &rule(kind)),
        ],
    );
    let env = [("APP_URL", db.url.as_str())];
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    retention(
        dir.path(),
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        &env,
    )
    .expect_code(0);
    let out = retention(dir.path(), &["plan", "--format", "json"], &env);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let pass = |t: &str| {
        plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["target"] == t && p["reason"] == "expired")
            .unwrap_or_else(|| panic!("no expiry pass of {t} in {plan}"))
            .clone()
    };
    let figures = |p: &serde_json::Value| {
        (
            p["matched"].clone(),
            p["held"].clone(),
            p["locked"].clone(),
            p["total"].clone(),
            p["oldest"].clone(),
            p["guard"].clone(),
            p["guard_reason"].clone(),
            p["error"].clone(),
        )
    };
    let plain = pass("plain_events");
    assert_eq!(
        (
            &plain["matched"],
            &plain["held"],
            &plain["locked"],
            &plain["total"],
            &plain["guard"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(2),
            &serde_json::json!(1),
            &serde_json::json!(13),
            &serde_json::json!("ok")
        ),
        "{plain}"
    );
    assert_eq!(figures(&pass("indexed_events")), figures(&plain));
    // Most timestamps a month ahead of the clock (a sessions table dated by its expiry,
    // its expired rows gone): no sign of a wrong unit, and the same counts whichever way
    // they were taken.
    let future = pass("plain_future");
    assert_eq!(future["guard"], "ok", "{future}");
    assert_eq!(figures(&pass("indexed_future")), figures(&future));
}

/// A run judges an indexed expiry first on a lower bound of the table's total (the rows
/// its index counts saw) and counts the whole table only when that refuses. Both ways
/// must end where the plan's exact counts do: 1,200 of 2,500 expired (48%) pass the 50%
/// guard although they are all of the lower bound; 1,500 of 2,500 (60%) are refused,
/// with the exact figures in the reason; an epoch column whose milliseconds are read as
/// seconds (most of it after the year 9999) is refused as in the plan, while a table
/// mostly a month ahead of the clock is not.
async fn a_run_reaches_the_plans_verdict_without_counting_every_table(kind: Db) {
    let db = TestDb::fresh(kind).await;
    seed(&db).await;
    let (old, fresh) = (at(kind, -400), at(kind, -1));
    for (table, expired) in [("indexed_some", 1_200), ("indexed_mass", 1_500)] {
        let ts = match kind {
            Db::Postgres => "TIMESTAMPTZ",
            Db::MySql => "DATETIME(6)",
            Db::Sqlite => "BIGINT",
        };
        let rows: Vec<String> = (0..2_500)
            .map(|i| {
                let t = if i < expired { &old } else { &fresh };
                format!("({i}, {}, {t})", i % 40)
            })
            .collect();
        db.exec(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, account_id BIGINT, ts {ts} NULL);
             CREATE INDEX {table}_ts ON {table} (ts);
             INSERT INTO {table} VALUES {};",
            rows.join(", ")
        ))
        .await;
    }
    let ts = match kind {
        Db::Sqlite => "{column: ts, unit: s}",
        _ => "ts",
    };
    // Ten integer epochs in 1970, all of rows the rule's filter leaves out, and two fresh
    // ones: nothing is selected, yet the unit check refuses the table (10 of 12). (The
    // check is for epochs, whose unit can be wrong; a native date has none.)
    let now = Utc::now().timestamp() - 86_400;
    let rows: Vec<String> = (0..12)
        .map(|i| match i {
            0..10 => format!("({i}, 'import', 1000)"),
            _ => format!("({i}, 'app', {now})"),
        })
        .collect();
    // Epoch milliseconds declared as seconds: three of four land after the year 9999.
    let (ms, old_s) = (
        Utc::now().timestamp_millis(),
        Utc::now().timestamp() - 400 * 86_400,
    );
    db.exec(&format!(
        "CREATE TABLE indexed_ms (id BIGINT PRIMARY KEY, ts BIGINT NULL);
         CREATE INDEX indexed_ms_ts ON indexed_ms (ts);
         INSERT INTO indexed_ms VALUES (1, {ms}), (2, {ms}), (3, {ms}), (4, {old_s});"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE indexed_epoch (id BIGINT PRIMARY KEY, source VARCHAR(20), ts BIGINT NULL);
         CREATE INDEX indexed_epoch_ts ON indexed_epoch (ts);
         INSERT INTO indexed_epoch VALUES {};",
        rows.join(", ")
    ))
    .await;
    let mut rule = "category: events\ndescription: Events\nsource: \"Privacy Policy, 'Usage information'\"\nretain: 30d\non_expiry: delete\ntargets:\n".to_owned();
    for t in ["indexed_some", "indexed_mass", "indexed_future"] {
        rule += &format!("  - store: app\n    table: {t}\n    key: [id]\n    timestamp: {ts}\n");
    }
    rule += "  - store: app\n    table: indexed_epoch\n    key: [id]\n    timestamp: {column: ts, unit: s}\n";
    rule += "    filter: {column: source, in: [app]}\n";
    rule += "  - store: app\n    table: indexed_ms\n    key: [id]\n    timestamp: {column: ts, unit: s}\n";
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("retention.yaml", CONFIG), ("rules/events.yaml", &rule)],
    );
    let env = [("APP_URL", db.url.as_str())];
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    let plan = retention(dir.path(), &["plan"], &env).expect_code(0);
    let run = retention(dir.path(), &["run"], &env).expect_code(3);
    for out in [&plan.stdout, &run.stdout] {
        assert!(
            out.contains("1500 of 2500 records (60%) match"),
            "the refusal shows the exact total:\n{out}"
        );
        assert!(
            out.contains("3 of 4 timestamps lie in the future"),
            "the unit check refuses as in the plan:\n{out}"
        );
        assert!(
            out.contains("10 of 12 timestamps lie in 1970"),
            "rows the filter leaves out still count for the unit check:\n{out}"
        );
        assert!(
            !out.contains("indexed_some:"),
            "indexed_some passes:\n{out}"
        );
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM indexed_some").await, 1_300);
    assert_eq!(db.count("SELECT COUNT(*) FROM indexed_mass").await, 2_500);
    assert_eq!(db.count("SELECT COUNT(*) FROM indexed_future").await, 5);
    assert_eq!(db.count("SELECT COUNT(*) FROM indexed_ms").await, 4);
}

/// MariaDB answers `ts IS NULL` on a NOT NULL date column with its zero dates. A zero
/// date is no time the tool can read: it never expires, and plans count it as unreadable,
/// the same for the indexed counts as for the single scan, and the guard's unit check
/// judges only readable timestamps. 1,000 zero dates, 2,000 rows 400 days old and 2,500
/// two days old: 2,000 expire (36%, under the guard), the zero dates stay.
async fn zero_dates_never_expire_and_are_counted_as_unreadable_whichever_way_they_are_counted() {
    let db = TestDb::fresh(Db::MySql).await;
    let (old, recent) = (at(Db::MySql, -400), at(Db::MySql, -2));
    let rows: Vec<String> = (0..5_500)
        .map(|i| match i {
            // Zero dates, and zero-in-date values (month or day 0) that MariaDB keeps
            // without NO_ZERO_IN_DATE: none of them is a time.
            0..500 => format!("({i}, '0000-00-00 00:00:00')"),
            500..750 => format!("({i}, '2020-00-15 00:00:00')"),
            750..1_000 => format!("({i}, '2020-05-00 00:00:00')"),
            1_000..3_000 => format!("({i}, {old})"),
            _ => format!("({i}, {recent})"),
        })
        .collect();
    for table in ["plain_zero", "indexed_zero"] {
        db.exec(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, ts DATETIME(6) NOT NULL);
             INSERT INTO {table} VALUES {};",
            rows.join(", ")
        ))
        .await;
    }
    db.exec("CREATE INDEX indexed_zero_ts ON indexed_zero (ts)")
        .await;
    let mut rule = "category: events\ndescription: Events\nsource: \"Privacy Policy, 'Usage information'\"\nretain: 30d\non_expiry: delete\ntargets:\n".to_owned();
    for t in ["plain_zero", "indexed_zero"] {
        rule += &format!("  - store: app\n    table: {t}\n    key: [id]\n    timestamp: ts\n");
    }
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("retention.yaml", CONFIG), ("rules/events.yaml", &rule)],
    );
    let env = [("APP_URL", db.url.as_str())];
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    let plan = retention(dir.path(), &["plan", "--format", "json"], &env).expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let target = |t: &str| {
        plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["target"] == t)
            .unwrap_or_else(|| panic!("no {t} in {plan}"))
            .clone()
    };
    for t in ["plain_zero", "indexed_zero"] {
        let p = target(t);
        assert_eq!(p["matched"], 2_000, "{t}: {p}");
        assert_eq!(p["unreadable"], 1_000, "{t}: {p}");
        assert_eq!(p["guard"], "ok", "{t}: {p}");
    }
    retention(dir.path(), &["run"], &env).expect_code(0);
    for t in ["plain_zero", "indexed_zero"] {
        assert_eq!(
            db.count(&format!("SELECT COUNT(*) FROM {t}")).await,
            3_500,
            "{t}: the expired rows went, the zero dates stayed"
        );
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM {t} WHERE ts < '0001-01-01' OR MONTH(ts) = 0 OR DAYOFMONTH(ts) = 0"
            ))
            .await,
            1_000
        );
    }
}

crate::support::on_every_dialect!(
    Db:
    counts_agree_with_and_without_an_index,
    a_run_reaches_the_plans_verdict_without_counting_every_table,
);

#[tokio::test]
async fn zero_dates_on_mariadb_never_expire_and_are_counted_as_unreadable() {
    zero_dates_never_expire_and_are_counted_as_unreadable_whichever_way_they_are_counted().await;
}
