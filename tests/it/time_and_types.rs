//! Time and types, tried the way a careful DBA tries a tool that deletes data (issue 13):
//! values minutes and hours either side of the cutoff in sessions and databases that are
//! not UTC, filter values that meet columns of another type, replacement values that must
//! take the column's type, dates on the cutoff day, sub-second cutoffs, IPv4-mapped
//! addresses, and timestamps the tool cannot read. Everything through the binary.

use crate::support::case::Case;
use crate::support::db::Db;
use chrono::{DateTime, Duration, Utc};

/// A rule file for one table target; `extra` is indented target fields.
fn rule(category: &str, retain: &str, action: &str, table: &str, extra: &str) -> String {
    format!(
        "category: {category}
description: Test data
source: \"Privacy Policy, 'Log information'\"
retain: {retain}
on_expiry: {action}
targets:
  - store: app
    table: {table}
    key: [id]
{extra}"
    )
}

/// An instant as a literal of a zone-less column (UTC wall clock) or a SQLite text.
fn wall(t: DateTime<Utc>) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// Parses `plan --format json`.
fn plan_json(case: &Case, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["plan", "--format", "json"];
    all.extend_from_slice(args);
    let out = case.expect(&all, 0);
    serde_json::from_str(&out.stdout).expect("plan JSON")
}

async fn ids(case: &Case, table: &str) -> Vec<i64> {
    case.column(&format!(
        "SELECT CAST(id AS CHAR(20)) FROM {table} ORDER BY id"
    ))
    .await
    .into_iter()
    .flatten()
    .map(|s| s.trim().parse().unwrap())
    .collect()
}

/// A filter value meets a text column as text: `eq: 42` matches '42' only, not '042',
/// '42abc', ' 42' or '42.0' (MariaDB would compare numerically; PostgreSQL would fail).
async fn a_filter_value_compares_in_the_columns_type(db: Db) {
    let extra = "    timestamp: at\n    filter: {column: code, eq: 42}\n";
    let case = Case::new(
        db,
        &[("codes.yaml", &rule("codes", "1d", "delete", "codes", extra))],
    )
    .await;
    let old = wall(Utc::now() - Duration::days(10));
    case.db
        .exec(&format!(
            "CREATE TABLE codes (id BIGINT PRIMARY KEY, code VARCHAR(10), at {} NOT NULL);
             INSERT INTO codes VALUES (1, '42', {old}), (2, '042', {old}), (3, '42abc', {old}),
               (4, ' 42', {old}), (5, '42.0', {old}), (6, NULL, {old}), (7, '7', {old})",
            if db == Db::Postgres {
                "TIMESTAMP"
            } else {
                db.timestamp_type()
            }
        ))
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    assert_eq!(plan["targets"][0]["matched"], 1, "{plan}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "codes").await, [2, 3, 4, 5, 6, 7]);

    // A filter on a column the table does not have is refused where it is written.
    let bad = rule(
        "codes",
        "1d",
        "delete",
        "codes",
        "    timestamp: at\n    filter: {column: kode, eq: 42}\n",
    );
    std::fs::write(case.dir.path().join("rules/codes.yaml"), bad).unwrap();
    let out = case.expect(&["check", "--connect"], 2);
    assert!(
        out.stderr
            .contains("targets[0].filter.column: table `codes` has no column `kode`"),
        "{}",
        out.stderr
    );

    // A value an integer column cannot hold is refused where it is written.
    let bad = rule(
        "codes",
        "1d",
        "delete",
        "codes",
        "    timestamp: at\n    filter: {column: id, eq: abc}\n",
    );
    std::fs::write(case.dir.path().join("rules/codes.yaml"), bad).unwrap();
    let out = case.expect(&["check", "--connect"], 2);
    let file = case.dir.path().join("rules/codes.yaml");
    assert!(
        out.stderr.contains(&format!(
            "{}:11: targets[0].filter.eq: `abc` is not an integer",
            file.display()
        )),
        "{}",
        out.stderr
    );
}

/// Rows 10 minutes and 2 hours either side of the cutoff, in zone-less and zoned columns,
/// with the database's or the session's time zone east or west of UTC: the plan's counts,
/// the audit's cutoff and the deleted rows agree, and only the older rows go.
async fn the_session_time_zone_never_moves_the_cutoff(
    db: Db,
    database_zone: Option<&str>,
    url_suffix: &str,
) {
    let columns: &[&str] = match db {
        Db::Postgres => &["TIMESTAMP", "TIMESTAMPTZ"],
        Db::MySql => &["DATETIME", "TIMESTAMP NULL"],
        Db::Sqlite => &["TEXT"],
    };
    let files: Vec<(String, String)> = (0..columns.len())
        .map(|i| {
            let t = format!("t{i}");
            (
                format!("{t}.yaml"),
                rule(&t, "30d", "delete", &t, "    timestamp: at\n"),
            )
        })
        .collect();
    let rules: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut case = Case::new(db, &rules).await;
    if let Some(zone) = database_zone {
        let name = case.db.url.rsplit('/').next().unwrap().to_owned();
        case.db
            .exec(&format!(
                "ALTER DATABASE \"{name}\" SET timezone TO '{zone}'"
            ))
            .await;
    }
    // The cutoff of a run that starts within the next few minutes.
    let cutoff = Utc::now() - Duration::days(30);
    let offsets = [-120i64, -10, 10, 120]; // minutes from the cutoff
    for (i, ty) in columns.iter().enumerate() {
        // Written as the application would: instants with their offset on PostgreSQL (a
        // zone-less column drops it), UTC wall clock from a UTC session elsewhere.
        let rows: Vec<String> = offsets
            .iter()
            .enumerate()
            .map(|(j, m)| {
                let t = cutoff + Duration::minutes(*m);
                let v = match db {
                    Db::Postgres => format!("'{}'", t.to_rfc3339()),
                    _ => wall(t),
                };
                format!("({j}, {v})")
            })
            .collect();
        case.db
            .exec(&format!(
                "CREATE TABLE t{i} (id BIGINT PRIMARY KEY, at {ty}); INSERT INTO t{i} VALUES {}",
                rows.join(", ")
            ))
            .await;
    }
    // From here on the tool connects with the zone the URL asks for.
    case.db.url.push_str(url_suffix);
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    for (i, _) in columns.iter().enumerate() {
        assert_eq!(plan["targets"][i]["matched"], 2, "t{i}: {plan}");
    }
    case.expect(&["run"], 0);
    for (i, _) in columns.iter().enumerate() {
        assert_eq!(
            ids(&case, &format!("t{i}")).await,
            [2, 3],
            "t{i}: the younger rows stay"
        );
    }
    let show = case.expect(&["audit", "show", "--format", "json"], 0);
    let text = show.stdout.clone();
    let recorded: Vec<DateTime<Utc>> = serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .flatten()
        .flat_map(|v| match v {
            serde_json::Value::Array(a) => a,
            one => vec![one],
        })
        .filter_map(|e| e["cutoff"].as_str().map(|c| c.parse().unwrap()))
        .collect();
    assert!(!recorded.is_empty(), "{text}");
    for c in recorded {
        assert!(
            (c - cutoff).num_minutes().abs() < 5,
            "audit cutoff {c} vs {cutoff}"
        );
    }
}

#[tokio::test]
async fn a_mariadb_session_zone_west_of_utc_in_the_url_does_not_move_the_cutoff() {
    the_session_time_zone_never_moves_the_cutoff(Db::MySql, None, "?timezone=-10:00").await;
}

#[tokio::test]
async fn a_mariadb_session_zone_east_of_utc_in_the_url_does_not_move_the_cutoff() {
    the_session_time_zone_never_moves_the_cutoff(Db::MySql, None, "?timezone=%2B13:00").await;
}

#[tokio::test]
async fn a_postgres_database_east_of_utc_does_not_move_the_cutoff() {
    the_session_time_zone_never_moves_the_cutoff(Db::Postgres, Some("Pacific/Auckland"), "").await;
}

#[tokio::test]
async fn a_postgres_session_zone_west_of_utc_in_the_url_does_not_move_the_cutoff() {
    the_session_time_zone_never_moves_the_cutoff(
        Db::Postgres,
        Some("Asia/Kolkata"),
        "?options=-c%20TimeZone%3DPacific%2FHonolulu",
    )
    .await;
}

#[tokio::test]
async fn sqlite_text_timestamps_near_the_cutoff_go_exactly_when_older() {
    the_session_time_zone_never_moves_the_cutoff(Db::Sqlite, None, "").await;
}

/// A date expires only when its whole day lies before the cutoff, on every dialect.
async fn a_date_expires_only_when_its_whole_day_is_before_the_cutoff(db: Db) {
    let case = Case::new(
        db,
        &[(
            "d.yaml",
            &rule("d", "30d", "delete", "d", "    timestamp: day\n"),
        )],
    )
    .await;
    let cutoff_day = (Utc::now() - Duration::days(30)).date_naive();
    let ty = if db == Db::Sqlite { "TEXT" } else { "DATE" };
    let day = |n: i64| format!("'{}'", cutoff_day + Duration::days(n));
    case.db
        .exec(&format!(
            "CREATE TABLE d (id BIGINT PRIMARY KEY, day {ty});
             INSERT INTO d VALUES (1, {}), (2, {}), (3, {})",
            day(-1),
            day(0),
            day(1)
        ))
        .await;
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    assert_eq!(plan["targets"][0]["matched"], 1, "{plan}");
    case.expect(&["run"], 0);
    assert_eq!(
        ids(&case, "d").await,
        [2, 3],
        "the cutoff's own day is kept"
    );
}

/// `plan --as-of …12:00:00.700Z` and a run alike use the whole-second cutoff they record:
/// a row at …12:00:00.300 the day before is not older than it.
async fn a_fractional_as_of_uses_the_recorded_whole_second_cutoff(db: Db) {
    let case = Case::new(
        db,
        &[(
            "s.yaml",
            &rule("s", "1d", "delete", "s", "    timestamp: at\n"),
        )],
    )
    .await;
    let ty = match db {
        Db::Postgres => "TIMESTAMPTZ",
        Db::MySql => "DATETIME(6)",
        Db::Sqlite => "TEXT",
    };
    let cutoff: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
    let at = |ms: i64| match db {
        Db::Postgres => format!("'{}'", (cutoff + Duration::milliseconds(ms)).to_rfc3339()),
        _ => wall(cutoff + Duration::milliseconds(ms)),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE s (id BIGINT PRIMARY KEY, at {ty});
             INSERT INTO s VALUES (1, {}), (2, {}), (3, {})",
            at(-100),
            at(300),
            at(800)
        ))
        .await;
    let plan = plan_json(&case, &["--as-of", "2026-01-02T12:00:00.700Z"]);
    assert_eq!(
        plan["targets"][0]["cutoff"], "2026-01-01T12:00:00Z",
        "{plan}"
    );
    assert_eq!(plan["targets"][0]["matched"], 1, "{plan}");
}

/// Timestamps the tool cannot read never expire, and the plan and `check --connect` count
/// them: PostgreSQL `-infinity`, MariaDB zero dates, SQLite text that is no date.
async fn unreadable_timestamps_are_counted_and_kept(db: Db) {
    let case = Case::new(
        db,
        &[(
            "u.yaml",
            &rule("u", "1d", "delete", "u", "    timestamp: at\n"),
        )],
    )
    .await;
    let old = wall(Utc::now() - Duration::days(10));
    let (ty, bad, setup) = match db {
        Db::Postgres => ("TIMESTAMP", "'-infinity'", ""),
        Db::MySql => (
            "DATETIME",
            "'0000-00-00 00:00:00'",
            "SET SESSION sql_mode = '';",
        ),
        Db::Sqlite => ("TEXT", "'yesterday'", ""),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE u (id BIGINT PRIMARY KEY, at {ty});
             {setup} INSERT INTO u VALUES (1, {old}), (2, {bad}), (3, NULL)"
        ))
        .await;
    let check = case.expect(&["check", "--connect"], 0);
    assert!(
        check
            .stderr
            .contains("1 row of `u` hold a timestamp the tool cannot read"),
        "{}",
        check.stderr
    );
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    assert_eq!(plan["targets"][0]["matched"], 1, "{plan}");
    assert_eq!(plan["targets"][0]["unreadable"], 1, "{plan}");
    assert!(plan["targets"][0]["oldest"].is_string(), "{plan}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "u").await, [2, 3]);
}

/// A replacement value takes the column's type: a date for a date column.
async fn a_replacement_value_is_written_in_the_columns_type(db: Db) {
    let extra = "    timestamp: at\n    anonymise: {dob: {replace: \"1900-01-01\"}, score: {replace: 0}}\n    marker: done_at\n";
    let case = Case::new(db, &[("p.yaml", &rule("p", "1d", "anonymise", "p", extra))]).await;
    let old = wall(Utc::now() - Duration::days(10));
    let (date, ts) = match db {
        Db::Sqlite => ("TEXT", "TEXT"),
        Db::Postgres => ("DATE", "TIMESTAMP"),
        Db::MySql => ("DATE", "DATETIME"),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE p (id BIGINT PRIMARY KEY, dob {date} NOT NULL, score INTEGER, at {ts}, done_at {ts} NULL);
             INSERT INTO p VALUES (1, '1980-05-17', 12, {old}, NULL)"
        ))
        .await;
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    let dob = case.column("SELECT CAST(dob AS CHAR(10)) FROM p").await;
    assert_eq!(dob, [Some("1900-01-01".to_owned())]);
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM p WHERE score = 0")
            .await,
        1
    );
}

/// An IPv4 client logged by a dual-stack socket keeps its /24, in the mapped form.
async fn an_ipv4_mapped_address_is_truncated_as_ipv4(db: Db) {
    let extra = "    timestamp: at\n    anonymise: {ip: truncate_ip}\n    marker: done_at\n";
    let case = Case::new(db, &[("i.yaml", &rule("i", "1d", "anonymise", "i", extra))]).await;
    let old = wall(Utc::now() - Duration::days(10));
    let ts = if db == Db::Sqlite {
        "TEXT"
    } else {
        "TIMESTAMP NULL"
    };
    case.db
        .exec(&format!(
            "CREATE TABLE i (id BIGINT PRIMARY KEY, ip VARCHAR(45), at {ts}, done_at {ts});
             INSERT INTO i VALUES (1, '::ffff:203.0.113.77', {old}, NULL), (2, '203.0.113.77', {old}, NULL)"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    let ips = case.column("SELECT ip FROM i ORDER BY id").await;
    assert_eq!(
        ips,
        [
            Some("::ffff:203.0.113.0".to_owned()),
            Some("203.0.113.0".to_owned())
        ]
    );
}

crate::support::on_every_dialect!(
    Db:
    a_filter_value_compares_in_the_columns_type,
    a_date_expires_only_when_its_whole_day_is_before_the_cutoff,
    a_fractional_as_of_uses_the_recorded_whole_second_cutoff,
    unreadable_timestamps_are_counted_and_kept,
    a_replacement_value_is_written_in_the_columns_type,
    an_ipv4_mapped_address_is_truncated_as_ipv4,
);

/// `truncate_ip` on a PostgreSQL `inet` column, mapped addresses included.
#[tokio::test]
async fn an_ipv4_mapped_inet_value_is_truncated_as_ipv4_on_postgres() {
    let extra = "    timestamp: at\n    anonymise: {ip: truncate_ip}\n    marker: done_at\n";
    let case = Case::new(
        Db::Postgres,
        &[("i.yaml", &rule("i", "1d", "anonymise", "i", extra))],
    )
    .await;
    case.db
        .exec(
            "CREATE TABLE i (id BIGINT PRIMARY KEY, ip INET, at TIMESTAMPTZ, done_at TIMESTAMPTZ);
             INSERT INTO i VALUES (1, '::ffff:203.0.113.77', now() - interval '3 days', NULL),
               (2, '2001:db8:85a3:8d3::7348', now() - interval '3 days', NULL)",
        )
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    let ips = case.column("SELECT host(ip) FROM i ORDER BY id").await;
    assert_eq!(
        ips,
        [
            Some("::ffff:203.0.113.0".to_owned()),
            Some("2001:db8:85a3::".to_owned())
        ]
    );
}

/// A MariaDB server whose default zone is east of UTC (for the job's user: the server's
/// `init_connect` sets the zone of every session of a non-administrative user, as a
/// server configured with `default_time_zone` would): rows either side of the cutoff still
/// go exactly when older.
#[tokio::test]
async fn a_mariadb_server_zone_east_of_utc_does_not_move_the_cutoff() {
    let mut case = Case::new(
        Db::MySql,
        &[(
            "t0.yaml",
            &rule("t0", "30d", "delete", "t0", "    timestamp: at\n"),
        )],
    )
    .await;
    let name = case
        .db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let user = format!("rt_tz_{}", &name[name.len() - 12..]);
    // Only users named rt_tz_… get the zone; every other session keeps the global one.
    case.db
        .exec(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'tz-password';
             GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%';
             SET GLOBAL init_connect = 'SET time_zone = IF(CURRENT_USER() LIKE ''rt\\\\_tz\\\\_%'', ''+13:00'', @@global.time_zone)'"
        ))
        .await;
    let cutoff = Utc::now() - Duration::days(30);
    let rows: Vec<String> = [-120i64, -10, 10, 120]
        .iter()
        .enumerate()
        .map(|(j, m)| format!("({j}, {})", wall(cutoff + Duration::minutes(*m))))
        .collect();
    case.db
        .exec(&format!(
            "CREATE TABLE t0 (id BIGINT PRIMARY KEY, at DATETIME); INSERT INTO t0 VALUES {}",
            rows.join(", ")
        ))
        .await;
    let admin = case.db.url.clone();
    case.db.url = admin.replacen("root@", &format!("{user}:tz-password@"), 1);
    // The server's own client (which sets no zone) sees the user's sessions east of UTC.
    let zone = std::process::Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-u", &user, "-ptz-password", "-N", "-e"])
        .arg("SELECT @@session.time_zone")
        .output()
        .expect("the mariadb client runs");
    assert_eq!(String::from_utf8_lossy(&zone.stdout).trim(), "+13:00");
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    assert_eq!(plan["targets"][0]["matched"], 2, "{plan}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "t0").await, [2, 3]);
    case.db.url = admin;
    case.db.exec(&format!("DROP USER '{user}'@'%'")).await;
}

/// SQLite reads only `YYYY-MM-DD` texts with a real date as times. What `julianday()`
/// alone would take — a number as a Julian day in 4713 BC, `2020-02-30` rolled over to
/// March, the cutoff's own day with a trailing space read as its midnight — never expires
/// and is counted unreadable; well-formed values either side of the cutoff go exactly.
#[tokio::test]
async fn sqlite_reads_only_real_dates_as_times() {
    let case = Case::new(
        Db::Sqlite,
        &[(
            "u.yaml",
            &rule("u", "30d", "delete", "u", "    timestamp: at\n"),
        )],
    )
    .await;
    let cutoff_day = (Utc::now() - Duration::days(30)).format("%Y-%m-%d");
    let before = (Utc::now() - Duration::days(40)).format("%Y-%m-%d");
    let after = (Utc::now() - Duration::days(20)).format("%Y-%m-%d");
    case.db
        .exec(&format!(
            "CREATE TABLE u (id INTEGER PRIMARY KEY, at DATETIME);
             INSERT INTO u VALUES
               (1, '{before}'), (2, '{before} 10:00:00'), (3, '{before}T10:00:00.5Z'),
               (4, '{before}T23:30:00-05:00'), (5, '{after}'), (6, '{after} 10:00'),
               (7, '{cutoff_day}'), (8, NULL),
               (10, '0'), (11, 0), (12, '2459000.5'), (13, 2459000.5),
               (14, '2020-02-30 10:00:00'), (15, '{cutoff_day} '), (16, 'yesterday'),
               (17, '{before}t10:00:00z'), (18, '2020-13-01'), (19, '{before}T24:30Z')"
        ))
        .await;
    case.expect(&["migrate"], 0);
    let plan = plan_json(&case, &[]);
    assert_eq!(plan["targets"][0]["matched"], 4, "{plan}");
    assert_eq!(plan["targets"][0]["unreadable"], 10, "{plan}");
    assert!(
        plan["targets"][0]["oldest"]
            .as_str()
            .is_some_and(|o| o.starts_with(&before.to_string())),
        "{plan}"
    );
    case.expect(&["run"], 0);
    assert_eq!(
        ids(&case, "u").await,
        [5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    );
}

/// A native date has no unit that could be wrong: a table of 1960s dates under a 50-year
/// rule is not refused as "in 1970", and its old rows go.
#[tokio::test]
async fn dates_before_1970_are_not_taken_for_a_wrong_unit() {
    let case = Case::new(
        Db::MySql,
        &[(
            "d.yaml",
            &rule("d", "50y", "delete", "d", "    timestamp: born\n"),
        )],
    )
    .await;
    let rows: Vec<String> = (0..1_100)
        .map(|i| {
            let year = if i < 1_000 { 1960 + i % 10 } else { 2020 };
            format!("({i}, '{year}-06-01')")
        })
        .collect();
    case.db
        .exec(&format!(
            "CREATE TABLE d (id INT PRIMARY KEY, born DATE NOT NULL);
             INSERT INTO d VALUES {}",
            rows.join(", ")
        ))
        .await;
    let config = std::fs::read_to_string(case.dir.path().join("retention.yaml")).unwrap();
    crate::support::cli::write_files(
        case.dir.path(),
        &[(
            "retention.yaml",
            &format!("{config}defaults:\n  max_fraction: 1.0\n"),
        )],
    );
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM d").await, 100);
}

/// A zone-less timestamp column in a database whose default time zone is not UTC is read
/// as UTC by the tool, while the application's `now()` writes local time there:
/// `check --connect` warns, naming the column and the zone; a `timestamptz` column or a
/// UTC database does not warn.
#[tokio::test]
async fn check_warns_of_a_zone_less_column_in_a_database_that_is_not_utc() {
    let rules = [
        (
            "local.yaml",
            rule("local", "30d", "delete", "local", "    timestamp: at\n"),
        ),
        (
            "zoned.yaml",
            rule("zoned", "30d", "delete", "zoned", "    timestamp: at\n"),
        ),
    ];
    let case = Case::new(
        Db::Postgres,
        &rules
            .iter()
            .map(|(f, r)| (*f, r.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    case.db
        .exec(
            "CREATE TABLE local (id BIGINT PRIMARY KEY, at TIMESTAMP);
             CREATE TABLE zoned (id BIGINT PRIMARY KEY, at TIMESTAMPTZ)",
        )
        .await;
    let quiet = case.expect(&["check", "--connect"], 0);
    assert!(!quiet.stderr.contains("without a zone"), "{}", quiet.stderr);
    let name = case.db.url.rsplit('/').next().unwrap().to_owned();
    case.db
        .exec(&format!(
            "ALTER DATABASE {name} SET timezone = 'America/New_York'"
        ))
        .await;
    let warned = case.expect(&["check", "--connect"], 0);
    let lines: Vec<&str> = warned
        .stderr
        .lines()
        .filter(|l| l.contains("without a zone"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", warned.stderr);
    assert!(
        lines[0].contains("local.yaml") && lines[0].contains("America/New_York"),
        "{}",
        lines[0]
    );
}

/// YAML's `TRUE` and `False` meet a text column as written (they were re-cased to
/// `true`/`false`, so the filter kept the wrong rows), while a boolean column still reads
/// them as booleans.
async fn boolean_words_meet_text_as_written(db: Db) {
    let extra = "    timestamp: at\n    filter: {column: verified, not_in: [TRUE, False]}\n";
    let case = Case::new(db, &[("v.yaml", &rule("v", "1d", "delete", "v", extra))]).await;
    let old = wall(Utc::now() - Duration::days(10));
    case.db
        .exec(&format!(
            "CREATE TABLE v (id BIGINT PRIMARY KEY, verified TEXT, at {});
             INSERT INTO v VALUES (1, 'TRUE', {old}), (2, 'true', {old}), (3, 'False', {old}),
               (4, 'false', {old})",
            if db == Db::Postgres {
                "TIMESTAMP"
            } else {
                "TEXT"
            }
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "v").await, [1, 3]);
}

#[tokio::test]
async fn postgres_boolean_words_meet_text_as_written() {
    boolean_words_meet_text_as_written(Db::Postgres).await;
}

#[tokio::test]
async fn sqlite_boolean_words_meet_text_as_written() {
    boolean_words_meet_text_as_written(Db::Sqlite).await;
}
