//! Running unattended: sharded runs that together equal one run, SIGTERM finishing the
//! current batch, the schedule never overlapping itself, and one run at a time.

use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, TestDb};
use chrono::{Duration, Utc};
use std::process::{Command, Stdio};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

fn config(batch: &str) -> String {
    format!(
        "stores:
  app:
    url: ${{APP_URL}}
state: app
audit:
  pseudonym_key: ${{RETENTION_PSEUDONYM_KEY}}
rules: ./rules
defaults:
  {batch}
"
    )
}

fn rule(schedule: &str) -> String {
    format!(
        "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
{schedule}
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
    subject: account_id
"
    )
}

/// `rows` events, every third one expired.
async fn seeded(kind: Db, rows: i64) -> TestDb {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, created_at {ts} NOT NULL)"
    ))
    .await;
    let fmt = |t: chrono::DateTime<Utc>| match kind {
        Db::MySql => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let now = Utc::now();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let age = if i % 3 == 0 {
                    Duration::days(40 + i % 300)
                } else {
                    Duration::days(i % 20)
                };
                format!("({i}, {}, '{}')", i % 97, fmt(now - age))
            })
            .collect();
        db.exec(&format!("INSERT INTO events VALUES {}", values.join(", ")))
            .await;
    }
    db
}

fn workdir(db: &TestDb, batch: &str, schedule: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(batch)),
            ("rules/events.yaml", &rule(schedule)),
        ],
    );
    let _ = db;
    dir
}

fn env(db: &TestDb) -> Vec<(&'static str, String)> {
    vec![
        ("APP_URL", db.url.clone()),
        ("RETENTION_PSEUDONYM_KEY", KEY.to_owned()),
    ]
}

fn cli(dir: &tempfile::TempDir, db: &TestDb, args: &[&str]) -> crate::support::cli::Run {
    let env = env(db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    retention(dir.path(), args, &env)
}

fn spawn(dir: &tempfile::TempDir, db: &TestDb, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
    cmd.current_dir(dir.path())
        .arg("--config")
        .arg(dir.path().join("retention.yaml"))
        .args(args)
        .env("RETENTION_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env(db) {
        cmd.env(k, v);
    }
    cmd.spawn().expect("the binary starts")
}

async fn remaining(db: &TestDb) -> Vec<i64> {
    db.texts("SELECT CAST(id AS CHAR(20)) FROM events ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

async fn shards_together_equal_one_run(kind: Db) {
    let rows = 3000;
    let reference = {
        let db = seeded(kind, rows).await;
        let dir = workdir(&db, "batch_size: 200", "");
        cli(&dir, &db, &["migrate"]).expect_code(0);
        cli(&dir, &db, &["run"]).expect_code(0);
        remaining(&db).await
    };
    assert_eq!(reference.len(), 2000, "one run deletes every expired row");
    for n in [1u32, 3, 7] {
        let db = seeded(kind, rows).await;
        let dir = workdir(&db, "batch_size: 200", "");
        cli(&dir, &db, &["migrate"]).expect_code(0);
        let children: Vec<_> = (0..n)
            .map(|i| spawn(&dir, &db, &["run", "--shard", &format!("{i}/{n}")]))
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "a shard of {n} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            remaining(&db).await,
            reference,
            "{n} shards deleted a different set of rows"
        );
        cli(&dir, &db, &["audit", "verify"]).expect_code(0);
    }
}

async fn sigterm_finishes_the_batch_and_a_rerun_completes(kind: Db) {
    // 20,000 expired rows in batches of 100: hundreds of batches, so the run is still
    // busy when the signal comes.
    let db = seeded(kind, 60_000).await;
    let dir = workdir(&db, "batch_size: 100\n  batch_time: 1ms", "");
    cli(&dir, &db, &["migrate"]).expect_code(0);
    let child = spawn(&dir, &db, &["run"]);
    let pid = child.id();
    // Wait until the run has written batch entries, then ask it to stop.
    for _ in 0..200 {
        if db.count("SELECT COUNT(*) FROM retention_audit").await > 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    unsafe_kill(pid);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an interrupted run exits 1\n{stdout}"
    );
    assert!(
        stdout.contains("interrupted"),
        "the summary says the run was interrupted:\n{stdout}"
    );
    assert!(
        remaining(&db).await.len() > 40_000,
        "the run stopped early, not at the end"
    );
    cli(&dir, &db, &["run"]).expect_code(0);
    assert_eq!(
        remaining(&db).await.len(),
        40_000,
        "the rerun finished the job"
    );
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn a_signal_to_the_scheduler_is_heard_once_however_many_runs_went_before() {
    // Every run the scheduler starts used to add a signal listener of its own that
    // outlived it: after three runs one SIGTERM was reported four times.
    let db = seeded(Db::Sqlite, 30).await;
    let dir = workdir(&db, "batch_size: 100", "schedule: \"* * * * * *\"");
    cli(&dir, &db, &["migrate"]).expect_code(0);
    let child = spawn(&dir, &db, &["schedule"]);
    let pid = child.id();
    for _ in 0..300 {
        if db
            .count("SELECT COUNT(*) FROM retention_runs WHERE finished_at IS NOT NULL")
            .await
            >= 3
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        db.count("SELECT COUNT(*) FROM retention_runs").await >= 3,
        "three scheduled runs"
    );
    unsafe_kill(pid);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("signal received").count(),
        1,
        "one listener heard the signal:\n{stderr}"
    );
}

fn unsafe_kill(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn schedule_runs_twice_without_overlap(kind: Db) {
    let db = seeded(kind, 300).await;
    let dir = workdir(&db, "batch_size: 100", "schedule: \"* * * * * *\"");
    cli(&dir, &db, &["migrate"]).expect_code(0);
    cli(&dir, &db, &["schedule", "--max-runs", "2"]).expect_code(0);
    let starts = db
        .texts("SELECT CAST(started_at AS CHAR(40)) FROM retention_runs ORDER BY started_at")
        .await;
    let ends = db
        .texts("SELECT CAST(finished_at AS CHAR(40)) FROM retention_runs ORDER BY started_at")
        .await;
    let spans: Vec<(String, String)> = starts
        .into_iter()
        .zip(ends)
        .map(|(a, b)| (a.unwrap_or_default(), b.unwrap_or_default()))
        .collect();
    assert_eq!(spans.len(), 2, "two scheduled runs happened: {spans:?}");
    // A run without an end time would compare as "" and pass the overlap check below
    // vacuously: both runs must have finished.
    assert!(
        spans
            .iter()
            .all(|(start, end)| !start.is_empty() && !end.is_empty()),
        "both scheduled runs recorded a start and an end: {spans:?}"
    );
    assert!(
        spans[0].1 <= spans[1].0,
        "the second run started after the first ended: {spans:?}"
    );
    assert_eq!(remaining(&db).await.len(), 200);
}

async fn a_second_run_is_refused_while_one_holds_the_lock(kind: Db) {
    let db = seeded(kind, 10).await;
    let dir = workdir(&db, "batch_size: 100", "");
    cli(&dir, &db, &["migrate"]).expect_code(0);
    // A lock held by a live process on another host.
    db.exec("INSERT INTO retention_lock (name, run_id, holder, acquired_at, heartbeat_at) VALUES ('run', 'r-1', 'elsewhere:1', '2099-01-01 00:00:00', '2099-01-01 00:00:00')").await;
    let out = cli(&dir, &db, &["run"]).expect_code(4);
    assert!(
        out.stderr.contains("elsewhere:1"),
        "the message names the holder: {}",
        out.stderr
    );
    assert_eq!(remaining(&db).await.len(), 10, "nothing ran");
}

crate::support::on_every_dialect!(
    Db:
    shards_running_concurrently_delete_exactly_what_one_run_deletes => shards_together_equal_one_run,
    sigterm_stops_after_the_current_batch_and_a_rerun_completes => sigterm_finishes_the_batch_and_a_rerun_completes,
    the_schedule_runs_a_rule_twice_and_never_overlaps_itself => schedule_runs_twice_without_overlap,
    a_second_run_exits_4_naming_the_lock_holder => a_second_run_is_refused_while_one_holds_the_lock,
);
