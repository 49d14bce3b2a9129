//! The audit log under duress: a run killed with SIGKILL at random moments always leaves a
//! log that verifies and whose audited counts add up to the rows really deleted, and a
//! scenario full of known personal data prints none of it to the audit log or the logs.

use crate::support::cli::{retention, spawn_run, write_files};
use crate::support::db::{Db, TestDb};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::Rng;
use retention::audit::checkpoint;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

/// The environment every invocation gets: the store URL and the pseudonym key.
fn env(db: &TestDb) -> Vec<(&'static str, String)> {
    vec![
        ("APP_URL", db.url.clone()),
        ("RETENTION_PSEUDONYM_KEY", KEY.to_owned()),
    ]
}

/// A timestamp literal the dialect's column accepts.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every audit entry, parsed, in sequence order.
async fn audit_lines(db: &TestDb) -> Vec<String> {
    let sql = match db.kind {
        Db::Postgres => "SELECT convert_from(line, 'UTF8') FROM retention_audit ORDER BY seq",
        Db::MySql => "SELECT CONVERT(line USING utf8mb4) FROM retention_audit ORDER BY seq",
        Db::Sqlite => "SELECT CAST(line AS TEXT) FROM retention_audit ORDER BY seq",
    };
    db.texts(sql).await.into_iter().flatten().collect()
}

const CRASH_CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
  signing_key: ${RETENTION_SIGNING_KEY}
rules: ./rules
defaults:
  batch_size: 100
  batch_time: 1ms
";

const CRASH_RULE: &str = "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
    subject: account_id
";

// A thousand batches of 100: a debug build on SQLite deletes roughly 25 rows a
// millisecond, so ten kills of at most 400 ms into the deleting cannot reach the end.
// PostgreSQL batches on the state store commit asynchronously and go about twice as
// fast, so its table is three times larger.
fn rows(kind: Db) -> i64 {
    match kind {
        Db::Postgres => 450_000,
        _ => 150_000,
    }
}

/// Two thirds of the rows are expired.
fn expired(kind: Db) -> i64 {
    rows(kind) / 3 * 2
}

/// `rows(kind)` events; the two thirds whose id is not a multiple of 3 are expired.
async fn seeded_events(kind: Db) -> TestDb {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, created_at {ts} NOT NULL)"
    ))
    .await;
    let now = Utc::now();
    for chunk in (0..rows(kind)).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let age = if i % 3 != 0 {
                    Duration::days(40 + i % 300)
                } else {
                    Duration::days(i % 20)
                };
                format!("({i}, {}, '{}')", i % 97, timestamp(now - age))
            })
            .collect();
        db.exec(&format!("INSERT INTO events VALUES {}", values.join(", ")))
            .await;
    }
    db
}

fn sigkill(pid: u32) {
    // The process may already have finished on its own; `kill` then fails, which is fine
    // because `wait` below collects it either way.
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

async fn expired_left(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM events WHERE id % 3 <> 0")
        .await
}

/// The sum of `count` over every batch entry that says rows really went (`outcome: ok`).
/// Intent entries announce a batch before it happens and are not evidence of a deletion.
fn audited_deletions(lines: &[String]) -> i64 {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("an audit line is JSON"))
        .filter(|e| e["kind"] == "batch" && e["outcome"] == "ok")
        .map(|e| e["count"].as_i64().expect("a batch entry has a count"))
        .sum()
}

async fn killed_runs_leave_a_verifying_log(kind: Db) {
    let db = seeded_events(kind).await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CRASH_CONFIG),
            ("rules/events.yaml", CRASH_RULE),
        ],
    );
    let (signing_key, _) = checkpoint::keygen("crash.test/audit").unwrap();
    let mut env = env(&db);
    env.push(("RETENTION_SIGNING_KEY", signing_key));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cli = |args: &[&str]| retention(dir.path(), args, &env);
    cli(&["migrate"]).expect_code(0);

    // A kill only counts when it hit a run that was still going; one that had already
    // finished would prove nothing. Every other kill waits until the run has committed a
    // batch before its random pause, so on a loaded machine, where starting up can take
    // longer than 400 ms, kills still land in the middle of the deleting. Up to ten kills,
    // fewer once half the expired rows are gone (on an idle machine a run deletes the
    // table in about as long as the longest pause, and a last kill must leave some rows
    // for the rerun to finish); the attempts are capped so a machine where no kill lands
    // fails loudly instead of looping.
    let mut rng = rand::thread_rng();
    let mut kills = Vec::new();
    for attempt in 0..20 {
        let halfway = kills
            .last()
            .is_some_and(|(_, left)| *left < expired(kind) / 2);
        if kills.len() == 10 || (kills.len() >= 3 && halfway) {
            break;
        }
        let entries = db.count("SELECT COUNT(*) FROM retention_audit").await;
        let mut child = spawn_run(dir.path(), &env);
        if attempt % 2 == 1 {
            // The run_start entry plus at least one batch.
            for _ in 0..1500 {
                if db.count("SELECT COUNT(*) FROM retention_audit").await > entries + 1 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let pause = rng.gen_range(20..=400);
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        sigkill(child.id());
        let status = child.wait().expect("the killed run is reaped");
        if status.signal() == Some(9) {
            kills.push((pause, expired_left(&db).await));
        }
        let verify = cli(&["audit", "verify"]);
        assert_eq!(
            verify.code, 0,
            "after a kill at {pause} ms ({status}) the log does not verify\nstdout:\n{}\nstderr:\n{}",
            verify.stdout, verify.stderr
        );
    }
    assert!(
        kills.len() >= 3,
        "three runs or more were killed mid-way: {kills:?}"
    );
    let before = expired_left(&db).await;
    assert!(
        0 < before && before < expired(kind),
        "the killed runs deleted some of the expired rows but not all: {before} left; (pause ms, expired left) {kills:?}"
    );

    // The last killed run's lock is taken over: its holder pid is dead on this host.
    cli(&["run"]).expect_code(0);
    cli(&["audit", "verify"]).expect_code(0);

    assert_eq!(
        expired_left(&db).await,
        0,
        "the rerun deleted every expired row"
    );
    let left = db.count("SELECT COUNT(*) FROM events").await;
    assert_eq!(
        left,
        rows(kind) - expired(kind),
        "every fresh row is still there"
    );
    assert!(
        db.count("SELECT COUNT(*) FROM retention_checkpoints").await > 0,
        "the completed run signed a checkpoint"
    );

    let lines = audit_lines(&db).await;
    assert_eq!(
        audited_deletions(&lines),
        rows(kind) - left,
        "the audited batch counts add up to the rows actually deleted"
    );
}

const PII_CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
rules: ./rules
defaults:
  batch_size: 100
";

const ACCOUNTS_RULE: &str = "category: accounts
description: Closed accounts
source: \"Privacy Policy, 'Account information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: closed_at
    subject: id
";

const NEWSLETTER_RULE: &str = "category: newsletter
description: Newsletter sign-ups
source: \"Privacy Policy, 'Marketing'\"
retain: 30d
on_expiry: anonymise
targets:
  - store: app
    table: newsletter
    key: [id]
    timestamp: signed_up_at
    subject: account_id
    anonymise:
      email: hmac
    marker: anonymised_at
";

/// (subject id, name, email, expired)
const PEOPLE: &[(&str, &str, &str, bool)] = &[
    (
        "subj-alice-7731",
        "Alice Smith",
        "alice.smith@example.test",
        true,
    ),
    (
        "subj-bruno-4412",
        "Bruno Keller",
        "bruno.keller@example.test",
        true,
    ),
    (
        "subj-chiara-9023",
        "Chiara Rossi",
        "chiara.rossi@example.test",
        true,
    ),
    (
        "subj-dmitri-5518",
        "Dmitri Volkov",
        "dmitri.volkov@example.test",
        false,
    ),
    (
        "subj-emeka-3367",
        "Emeka Obi",
        "emeka.obi@example.test",
        false,
    ),
    (
        "subj-fatima-2290",
        "Fatima Haddad",
        "fatima.haddad@example.test",
        false,
    ),
    (
        "subj-gustav-6604",
        "Gustav Lind",
        "gustav.lind@example.test",
        false,
    ),
];

async fn seeded_people() -> TestDb {
    let db = TestDb::fresh(Db::Sqlite).await;
    db.exec(
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, closed_at TEXT NOT NULL);
         CREATE TABLE newsletter (id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, email TEXT, signed_up_at TEXT NOT NULL, anonymised_at TEXT)",
    )
    .await;
    let now = Utc::now();
    for (i, (id, name, email, expired)) in PEOPLE.iter().enumerate() {
        let age = if *expired {
            Duration::days(90)
        } else {
            Duration::days(3)
        };
        let when = timestamp(now - age);
        db.exec(&format!(
            "INSERT INTO accounts VALUES ('{id}', '{name}', '{email}', '{when}')"
        ))
        .await;
        db.exec(&format!(
            "INSERT INTO newsletter (id, account_id, email, signed_up_at) VALUES ({i}, '{id}', '{email}', '{when}')"
        ))
        .await;
    }
    db
}

async fn nothing_personal_is_printed() {
    let db = seeded_people().await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", PII_CONFIG),
            ("rules/accounts.yaml", ACCOUNTS_RULE),
            ("rules/newsletter.yaml", NEWSLETTER_RULE),
        ],
    );

    let mut env = env(&db);
    env.push(("RETENTION_LOG", "debug".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let json = |args: &[&str]| {
        let mut all = vec!["--log-format", "json"];
        all.extend_from_slice(args);
        retention(dir.path(), &all, &env)
    };

    let runs = [
        json(&["migrate"]).expect_code(0),
        json(&["plan", "--format", "json"]).expect_code(0),
        json(&["run"]).expect_code(0),
        json(&["audit", "verify"]).expect_code(0),
        json(&["audit", "show", "--format", "json"]).expect_code(0),
    ];

    // The scenario did its work, so the scan below looks at a log of real deletions and
    // anonymisations rather than an empty one.
    let expired = PEOPLE.iter().filter(|p| p.3).count() as i64;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts").await,
        PEOPLE.len() as i64 - expired,
        "the expired accounts were deleted"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM newsletter WHERE anonymised_at IS NOT NULL")
            .await,
        expired,
        "the expired sign-ups were anonymised"
    );
    for (_, _, email, _) in PEOPLE.iter().filter(|p| p.3) {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM newsletter WHERE email = '{email}'"
            ))
            .await,
            0,
            "{email} was replaced by its pseudonym"
        );
    }
    let lines = audit_lines(&db).await;
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .collect();
    assert!(
        kinds.iter().any(|k| k == "\"batch\""),
        "the audit log records the batches: {kinds:?}"
    );
    let debug_lines: usize = runs.iter().map(|r| r.stderr.lines().count()).sum();
    assert!(debug_lines > 0, "the debug logs printed something");

    let mut printed: Vec<(String, String)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        printed.push((format!("command {i} stdout"), r.stdout.clone()));
        printed.push((format!("command {i} stderr"), r.stderr.clone()));
    }
    for (i, l) in lines.iter().enumerate() {
        printed.push((format!("audit entry {}", i + 1), l.clone()));
    }
    for (id, name, email, _) in PEOPLE {
        for needle in [*id, *name, *email] {
            for (source, text) in &printed {
                assert!(
                    !text.to_lowercase().contains(&needle.to_lowercase()),
                    "{source} contains {needle:?}:\n{text}"
                );
            }
        }
    }
}

mod postgres {
    #[tokio::test]
    async fn a_run_killed_at_random_moments_leaves_a_verifying_log_and_the_rerun_finishes() {
        super::killed_runs_leave_a_verifying_log(super::Db::Postgres).await
    }
}

mod sqlite {
    #[tokio::test]
    async fn a_run_killed_at_random_moments_leaves_a_verifying_log_and_the_rerun_finishes() {
        super::killed_runs_leave_a_verifying_log(super::Db::Sqlite).await
    }

    #[tokio::test]
    async fn nothing_personal_reaches_the_audit_log_or_the_json_logs() {
        super::nothing_personal_is_printed().await
    }
}
