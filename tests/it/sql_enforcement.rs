//! Retention enforcement on real PostgreSQL, MariaDB and SQLite, through the binary:
//! expired rows go, fresh rows stay, NULL timestamps never expire, flagged rows go
//! regardless of age, anonymised rows are anonymised once and never selected again,
//! deletes follow foreign keys, and plan / dry run change nothing.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb};
use chrono::{Duration, Utc};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

const CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
rules: ./rules
";

// File names sort parents before children, so a naive order would delete accounts first
// and fail on the foreign key from sessions.
const ACCOUNTS: &str = "category: accounts
description: Mi Account details
source: \"Privacy Policy, 'Creating and maintaining your Mi Account'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: created_at
    subject: id
    erasure_flag: erase_requested_at
";

const SESSIONS: &str = "category: sessions
description: Login sessions
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: sessions
    key: [id]
    timestamp: started_at
    subject: account_id
";

const LOCATION: &str = "category: location
description: Location information
source: \"Privacy Policy, 'Location information'\"
retain: 90d
on_expiry: anonymise
targets:
  - store: app
    table: device_locations
    key: [id]
    timestamp: recorded_at
    subject: account_id
    anonymise:
      latitude: {round: 1}
      longitude: {round: 1}
      cell_id: null
      ip_address: truncate_ip
    marker: anonymised_at
";

const EVENTS: &str = "category: events
description: Usage events with epoch-millisecond timestamps
source: \"Privacy Policy, 'Usage information'\"
retain: 7d
on_expiry: delete
targets:
  - store: app
    table: usage_events
    key: [id]
    timestamp: {column: created_ms, unit: ms}
    subject: account_id
";

fn ts_type(db: Db) -> &'static str {
    match db {
        Db::Postgres => "TIMESTAMPTZ",
        Db::MySql => "DATETIME(6)",
        Db::Sqlite => "TEXT",
    }
}

/// A timestamp literal `days` ago, in a form every dialect reads for its column type.
fn ago(db: Db, days: i64) -> String {
    let t = Utc::now() - Duration::days(days);
    match db {
        Db::Postgres => format!("'{}'", t.to_rfc3339()),
        Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        Db::Sqlite => format!("'{}'", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }
}

async fn seed(db: &TestDb) {
    let ts = ts_type(db.kind);
    let old = ago(db.kind, 400);
    let fresh = ago(db.kind, 1);
    let ms_old = (Utc::now() - Duration::days(30)).timestamp_millis();
    let ms_fresh = (Utc::now() - Duration::hours(1)).timestamp_millis();
    db.exec(&format!(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(100), created_at {ts} NULL, erase_requested_at {ts} NULL);
         CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, started_at {ts} NULL,
                                FOREIGN KEY (account_id) REFERENCES accounts (id));
         CREATE TABLE device_locations (id BIGINT PRIMARY KEY, account_id BIGINT, recorded_at {ts} NULL,
                                latitude DOUBLE PRECISION, longitude DOUBLE PRECISION, cell_id VARCHAR(40),
                                ip_address VARCHAR(45), anonymised_at {ts} NULL);
         CREATE TABLE usage_events (id BIGINT PRIMARY KEY, account_id BIGINT, created_ms BIGINT);
         INSERT INTO accounts VALUES (1, 'old@example.test', {old}, NULL);
         INSERT INTO accounts VALUES (2, 'fresh@example.test', {fresh}, NULL);
         INSERT INTO accounts VALUES (3, 'flagged@example.test', {fresh}, {fresh});
         INSERT INTO accounts VALUES (4, 'blocked@example.test', {old}, NULL);
         INSERT INTO accounts VALUES (5, 'undated@example.test', NULL, NULL);
         INSERT INTO sessions VALUES (10, 1, {old});
         INSERT INTO sessions VALUES (11, 4, {fresh});
         INSERT INTO sessions VALUES (12, 2, {old});
         INSERT INTO sessions VALUES (13, 3, {old});
         INSERT INTO device_locations VALUES (20, 1, {old}, 51.50735, -0.12776, 'cell-77', '203.0.113.77', NULL);
         INSERT INTO device_locations VALUES (21, 2, {fresh}, 48.85661, 2.35222, 'cell-78', '198.51.100.9', NULL);
         INSERT INTO device_locations VALUES (22, 2, NULL, 40.41678, -3.70379, 'cell-79', '192.0.2.1', NULL);
         INSERT INTO usage_events VALUES (30, 1, {ms_old});
         INSERT INTO usage_events VALUES (31, 1, {ms_fresh})"
    ))
    .await;
}

fn setup(db: &TestDb) -> (tempfile::TempDir, Vec<(&'static str, String)>) {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/a_accounts.yaml", ACCOUNTS),
            ("rules/b_location.yaml", LOCATION),
            ("rules/c_events.yaml", EVENTS),
            ("rules/z_sessions.yaml", SESSIONS),
        ],
    );
    let env = vec![
        ("APP_URL", db.url.clone()),
        ("RETENTION_PSEUDONYM_KEY", KEY.to_owned()),
    ];
    (dir, env)
}

fn run(dir: &tempfile::TempDir, env: &[(&'static str, String)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    retention(dir.path(), args, &env)
}

fn plan_json(dir: &tempfile::TempDir, env: &[(&'static str, String)]) -> serde_json::Value {
    let out = run(dir, env, &["plan", "--format", "json"]).expect_code(0);
    serde_json::from_str(&out.stdout).expect("plan --format json prints one JSON object")
}

fn matched(plan: &serde_json::Value, target: &str, reason: &str) -> u64 {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == target && t["reason"] == reason)
        .unwrap_or_else(|| panic!("no {target}/{reason} in {plan}"))["matched"]
        .as_u64()
        .unwrap()
}

async fn ids(db: &TestDb, table: &str) -> Vec<String> {
    db.texts(&format!(
        "SELECT CAST(id AS CHAR(20)) FROM {table} ORDER BY id"
    ))
    .await
    .into_iter()
    .flatten()
    .map(|s| s.trim().to_owned())
    .collect()
}

async fn enforces_retention_and_erasure_flags(kind: Db) {
    let db = TestDb::fresh(kind).await;
    seed(&db).await;
    let (dir, env) = setup(&db);
    run(&dir, &env, &["migrate"]).expect_code(0);

    // The plan and a dry run see the work but change nothing, the tool's tables included.
    let before = db.checksum().await;
    let plan = plan_json(&dir, &env);
    assert_eq!(matched(&plan, "sessions", "expired"), 3);
    assert_eq!(
        matched(&plan, "accounts", "flagged"),
        1,
        "account 3's only session is expired: the run deletes it first, and the plan says so"
    );
    assert_eq!(matched(&plan, "device_locations", "expired"), 1);
    assert_eq!(matched(&plan, "usage_events", "expired"), 1);
    run(&dir, &env, &["run", "--dry-run"]).expect_code(0);
    assert_eq!(
        db.checksum().await,
        before,
        "plan and --dry-run changed the database"
    );

    let out = run(&dir, &env, &["run"]).expect_code(0);
    assert!(
        out.stdout.contains("sessions"),
        "a summary table is printed:\n{}",
        out.stdout
    );

    // Children went before parents; an account with a fresh session stays.
    assert_eq!(ids(&db, "sessions").await, ["11"]);
    assert_eq!(
        ids(&db, "accounts").await,
        ["2", "4", "5"],
        "expired and flagged accounts go, fresh and undated stay"
    );
    assert_eq!(
        ids(&db, "usage_events").await,
        ["31"],
        "epoch-millisecond timestamps expire"
    );

    // The expired location was anonymised, the fresh and undated ones were not.
    assert_eq!(ids(&db, "device_locations").await, ["20", "21", "22"]);
    let anonymised = db
        .texts("SELECT CAST(id AS CHAR(20)) FROM device_locations WHERE anonymised_at IS NOT NULL ORDER BY id")
        .await;
    let anonymised: Vec<String> = anonymised
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .collect();
    assert_eq!(anonymised, ["20"]);
    assert_eq!(db.count("SELECT COUNT(*) FROM device_locations WHERE id = 20 AND cell_id IS NULL AND latitude = 51.5").await, 1);
    assert_eq!(
        db.texts("SELECT ip_address FROM device_locations WHERE id = 20")
            .await,
        [Some("203.0.113.0".to_owned())]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM device_locations WHERE id = 21 AND cell_id = 'cell-78' AND latitude > 48.856").await, 1);

    // Nothing is selected again: anonymised rows stay anonymised, and a second run is a no-op.
    let plan = plan_json(&dir, &env);
    assert_eq!(matched(&plan, "device_locations", "expired"), 0);
    let before = db.checksum().await;
    let before_rows = db
        .texts("SELECT CAST(anonymised_at AS CHAR(40)) FROM device_locations WHERE id = 20")
        .await;
    run(&dir, &env, &["run"]).expect_code(0);
    assert_eq!(
        db.texts("SELECT CAST(anonymised_at AS CHAR(40)) FROM device_locations WHERE id = 20")
            .await,
        before_rows
    );
    assert_eq!(ids(&db, "accounts").await, ["2", "4", "5"]);
    assert_ne!(
        db.checksum().await,
        before,
        "a real run appends to the audit log"
    );
}

async fn refuses_a_mass_delete(kind: Db) {
    let db = TestDb::fresh(kind).await;
    let ts = ts_type(kind);
    let old = ago(kind, 400);
    db.exec(&format!("CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, started_at {ts} NULL)")).await;
    // 1,500 expired of 2,000 rows: above the 50% guard and above 1,000 rows.
    let values = |from: i64, to: i64, ts: &str| {
        (from..to)
            .map(|i| format!("({i}, {i}, {ts})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    db.exec(&format!(
        "INSERT INTO sessions VALUES {}",
        values(0, 1500, &old)
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO sessions VALUES {}",
        values(1500, 2000, &ago(kind, 1))
    ))
    .await;
    let (dir, env) = setup(&db);
    std::fs::remove_dir_all(dir.path().join("rules")).unwrap();
    write_files(dir.path(), &[("rules/sessions.yaml", SESSIONS)]);
    run(&dir, &env, &["migrate"]).expect_code(0);

    let out = run(&dir, &env, &["run"]).expect_code(3);
    assert!(out.stdout.contains("refused"), "{}", out.stdout);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM sessions").await,
        2000,
        "the guard deleted nothing"
    );
    // The log records the run as refused, not as ok, and `audit runs` says so.
    let shown = run(&dir, &env, &["audit", "show", "--format", "json"]).expect_code(0);
    let ends: Vec<String> = shown
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "run_end")
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ends, vec!["refused".to_string()]);
    let runs = run(&dir, &env, &["audit", "runs"]).expect_code(0);
    assert!(runs.stdout.contains("refused"), "{}", runs.stdout);

    run(&dir, &env, &["run", "--allow-mass-delete"]).expect_code(0);
    assert_eq!(db.count("SELECT COUNT(*) FROM sessions").await, 500);
}

async fn plan_lists_pending_requests(kind: Db) {
    let db = TestDb::fresh(kind).await;
    seed(&db).await;
    let (dir, env) = setup(&db);
    run(&dir, &env, &["migrate"]).expect_code(0);
    run(
        &dir,
        &env,
        &["request", "add", "--subject", "2", "--ticket", "DSAR-77"],
    )
    .expect_code(0);
    run(
        &dir,
        &env,
        &["request", "add", "--subject", "5", "--ticket", "DSAR-78"],
    )
    .expect_code(0);
    let plan = plan_json(&dir, &env);
    let requests = plan["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{plan}");
    let request = |ticket: &str| {
        requests
            .iter()
            .find(|r| r["ticket"] == ticket)
            .unwrap_or_else(|| panic!("{ticket} is missing: {plan}"))
    };
    // Subject 2 has a session, two locations and the account; the erasure deletes the
    // session before the account, so the plan counts the account as matched too.
    let r = request("DSAR-77");
    assert_eq!(r["matched"], 4, "{plan}");
    assert_eq!(r["targets"], 3, "{plan}");
    assert_eq!(r["held"], 0);
    // Each request is surveyed on its own (the catalogs read once serve them all):
    // subject 5 has only the account, with nothing referencing it.
    let r = request("DSAR-78");
    assert_eq!(
        (&r["matched"], &r["targets"]),
        (&1.into(), &1.into()),
        "{plan}"
    );
    assert!(!plan.to_string().contains("fresh@example.test"));
}

crate::support::on_every_dialect!(
    Db:
    expired_rows_go_fresh_rows_stay_and_flags_and_foreign_keys_are_followed => enforces_retention_and_erasure_flags,
    the_guard_refuses_a_mass_delete_with_exit_3_and_deletes_nothing => refuses_a_mass_delete,
    the_plan_lists_pending_erasure_requests_by_ticket => plan_lists_pending_requests,
);
