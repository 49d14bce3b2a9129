//! `partitions: drop | detach` (issue 16) through the binary, on real partitioned tables:
//! whole expired partitions removed with their audit entries (count and keys digest
//! recomputed here from the rows before the run), and the partitions that must fall back
//! to row batches — a held subject's, one a foreign key references, the default one, a
//! filtered rule's — each left with exactly the rows an SQL oracle names; plan and dry
//! run change nothing; a run killed between detach and drop is finished by the next one
//! and the log verifies; `check` refuses the field where it cannot apply.

use crate::support::case::Case;
use crate::support::db::Db;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use std::process::{Command, Stdio};

fn rule(mode: &str, filter: &str) -> String {
    format!(
        "category: events
description: Device events
source: \"Privacy Policy, 'Log information'\"
retain: 150d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: events
    key: [id, ts]
    timestamp: ts
    subject: account_id
    partitions: {mode}
{filter}"
    )
}

/// A timestamp literal `days` ago (fractional days allowed).
fn ago(db: Db, days: f64) -> String {
    let t = Utc::now() - Duration::seconds((days * 86_400.0) as i64);
    match db {
        Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
        _ => format!("'{}'", t.to_rfc3339()),
    }
}

/// `events`, range-partitioned on `ts` (days ago): p_old [600, 500), p_ref [500, 400),
/// p_plain [400, 300), p_held [300, 200), p_straddle [200, 100), p_new [100, -100), and on
/// PostgreSQL a default partition holding rows older than 600 days (MariaDB: a partition
/// below 600 days instead). A `refs` table references one row of p_ref (PostgreSQL: a
/// foreign key without ON DELETE action; MariaDB cannot reference partitioned tables).
/// On PostgreSQL `ts` is indexed, so the rows left after the drops go by time windows,
/// one partition at a time. Ten rows a day, every row half a day off a whole day; subject 7 has one row in p_held.
async fn events(db: Db, mode: &str, filter: &str) -> Case {
    let case = Case::new(db, &[("events.yaml", &rule(mode, filter))]).await;
    let bounds = [600.0, 500.0, 400.0, 300.0, 200.0, 100.0, -100.0];
    let names = ["p_old", "p_ref", "p_plain", "p_held", "p_straddle", "p_new"];
    match db {
        Db::Postgres => {
            let mut sql = "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
                 kind TEXT, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);"
                .to_owned();
            for (i, n) in names.iter().enumerate() {
                sql += &format!(
                    "CREATE TABLE events_{n} PARTITION OF events FOR VALUES FROM ({}) TO ({});",
                    ago(db, bounds[i]),
                    ago(db, bounds[i + 1])
                );
            }
            // The timestamp index makes row batches take time windows, one leaf
            // partition at a time.
            sql += "CREATE INDEX ON events (ts);
                    CREATE TABLE events_default PARTITION OF events DEFAULT;
                    CREATE TABLE refs (id BIGINT PRIMARY KEY, event_id BIGINT, event_ts TIMESTAMPTZ,
                      FOREIGN KEY (event_id, event_ts) REFERENCES events (id, ts));";
            case.db.exec(&sql).await;
        }
        Db::MySql => {
            let mut parts = vec![format!(
                "PARTITION events_p_older VALUES LESS THAN ({})",
                ago(db, 600.0)
            )];
            for (i, n) in names.iter().enumerate() {
                parts.push(format!(
                    "PARTITION events_{n} VALUES LESS THAN ({})",
                    ago(db, bounds[i + 1])
                ));
            }
            parts.push("PARTITION events_max VALUES LESS THAN (MAXVALUE)".into());
            case.db
                .exec(&format!(
                    "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts DATETIME NOT NULL,
                       kind VARCHAR(20), PRIMARY KEY (id, ts)) PARTITION BY RANGE COLUMNS (ts) ({});
                     CREATE TABLE refs (id BIGINT PRIMARY KEY, event_id BIGINT, event_ts DATETIME)",
                    parts.join(", ")
                ))
                .await;
        }
        Db::Sqlite => unreachable!("SQLite has no partitions"),
    }
    // Days 1..=640, ten rows a day; ids tell the day (id / 10).
    let mut rows = Vec::new();
    for day in 1..=640i64 {
        for k in 0..10 {
            let id = day * 10 + k;
            let subject = if k == 9 {
                "NULL".to_owned()
            } else {
                (k % 5).to_string()
            };
            let kind = if k % 2 == 0 { "'app'" } else { "'manual'" };
            rows.push(format!(
                "({id}, {subject}, {}, {kind})",
                ago(db, day as f64 + 0.5)
            ));
        }
    }
    // Subject 7's one row, 250 days old (p_held).
    rows.push(format!("(9999999, 7, {}, 'app')", ago(db, 250.5)));
    for chunk in rows.chunks(1000) {
        case.db
            .exec(&format!("INSERT INTO events VALUES {}", chunk.join(", ")))
            .await;
    }
    // One reference to a row 450 days old (p_ref), and one that references nothing (its
    // columns NULL): it keeps no partition from going whole.
    case.db
        .exec("INSERT INTO refs SELECT 1, id, ts FROM events WHERE id = 4503")
        .await;
    case.db
        .exec("INSERT INTO refs (id, event_id, event_ts) VALUES (2, NULL, NULL)")
        .await;
    case
}

fn text_cast(db: Db) -> &'static str {
    match db {
        Db::MySql => "CHAR(20)",
        _ => "TEXT",
    }
}

/// The ids in `events` as numbers, in order.
async fn ids(case: &Case, cond: &str) -> Vec<i64> {
    case.column(&format!(
        "SELECT CAST(id AS {}) FROM events WHERE {cond} ORDER BY id",
        text_cast(case.db.kind)
    ))
    .await
    .into_iter()
    .flatten()
    .map(|s| s.parse().unwrap())
    .collect()
}

/// The keys digest the tool writes for these keys: `id U+001F ts` lines in key order.
fn digest(keys: &[String]) -> String {
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

async fn tables(case: &Case) -> Vec<String> {
    let sql = match case.db.kind {
        Db::Postgres => "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = current_schema() AND relname LIKE 'events%' AND relkind IN ('r', 'p') ORDER BY 1",
        _ => "SELECT CAST(PARTITION_NAME AS CHAR) FROM information_schema.PARTITIONS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events' ORDER BY 1",
    };
    case.column(sql).await.into_iter().flatten().collect()
}

/// The audit lines of the log, in order.
async fn audit_lines(case: &Case) -> Vec<serde_json::Value> {
    let sql = match case.db.kind {
        Db::Postgres => "SELECT convert_from(line, 'UTF8') FROM retention_audit ORDER BY seq",
        _ => "SELECT CAST(line AS CHAR) FROM retention_audit ORDER BY seq",
    };
    case.column(sql)
        .await
        .into_iter()
        .flatten()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect()
}

/// The `ok` batch entries of the log: (count, keys digest) of each.
async fn done_batches(case: &Case) -> Vec<(u64, String)> {
    audit_lines(case)
        .await
        .iter()
        .filter(|e| e["kind"] == "batch" && e["outcome"] == "ok")
        .map(|e| {
            (
                e["count"].as_u64().unwrap_or_default(),
                e["keys_digest"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The rows of a partition as the digest sees them: `id U+001F ts` in key order, `ts` as
/// the database renders it as text (the tool reads the key columns the same way).
async fn key_lines(case: &Case, from_days: f64, to_days: f64) -> Vec<String> {
    let ts_text = match case.db.kind {
        Db::Postgres => "CAST(ts AS TEXT)",
        _ => "CAST(ts AS CHAR)",
    };
    let sep = match case.db.kind {
        Db::Postgres => "chr(31)",
        _ => "CHAR(31)",
    };
    let concat = match case.db.kind {
        Db::Postgres => format!("CAST(id AS TEXT) || {sep} || {ts_text}"),
        _ => format!("CONCAT(CAST(id AS CHAR), {sep}, {ts_text})"),
    };
    case.column(&format!(
        "SELECT {concat} FROM events WHERE ts >= {} AND ts < {} ORDER BY id, ts",
        ago(case.db.kind, from_days),
        ago(case.db.kind, to_days)
    ))
    .await
    .into_iter()
    .flatten()
    .collect()
}

/// `retention --log-format json run` with the debug log, expected to exit 0.
fn run_with_debug_log(case: &Case) -> crate::support::cli::Run {
    crate::support::cli::retention(
        case.dir.path(),
        &["--log-format", "json", "run"],
        &[
            ("APP_URL", case.db.url.as_str()),
            ("RETENTION_LOG", "retention=debug"),
        ],
    )
    .expect_code(0)
}

/// Whether the run's rows went by time windows one leaf partition at a time.
fn by_leaf_windows(run: &crate::support::cli::Run) -> bool {
    run.stderr
        .contains("Deleting by time windows, one partition at a time.")
}

/// `plan --format json`, parsed (expected to exit 0).
fn plan_json(case: &Case) -> serde_json::Value {
    let plan = case.expect(&["plan", "--format", "json"], 0);
    serde_json::from_str(&plan.stdout).unwrap()
}

fn partition<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let list = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["reason"] == "expired")
        .and_then(|t| t["partitions"].as_array())
        .unwrap_or_else(|| panic!("the plan lists partitions: {plan}"));
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("partition {name} in {plan}"))
}

/// The PostgreSQL oracle: what a row-by-row expiry leaves (the guard lets it through).
const KEEP: &str = "NOT (ts < now() - interval '150 days' AND (account_id IS NULL OR account_id <> 7)
                    AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.event_id = events.id AND r.event_ts = events.ts))";
const KEEP_MY: &str =
    "NOT (ts < UTC_TIMESTAMP() - INTERVAL 150 DAY AND (account_id IS NULL OR account_id <> 7))";

async fn whole_partitions_go_and_the_others_fall_back_to_rows(db: Db) {
    let case = events(db, "drop", "").await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        0,
    );
    let keep = ids(&case, if db == Db::Postgres { KEEP } else { KEEP_MY }).await;
    let plain_keys = key_lines(&case, 400.0, 300.0).await;
    let old_keys = key_lines(&case, 600.0, 500.0).await;
    assert_eq!(plain_keys.len(), 1000);

    // The plan says what becomes of each partition, and changes nothing.
    let before = case.db.checksum().await;
    let plan = plan_json(&case);
    assert_eq!(
        partition(&plan, "events_p_plain")["action"],
        "drop",
        "{plan}"
    );
    assert_eq!(partition(&plan, "events_p_plain")["rows"], 1000);
    assert_eq!(partition(&plan, "events_p_old")["action"], "drop", "{plan}");
    let held = partition(&plan, "events_p_held");
    assert_eq!(held["action"], "rows", "{plan}");
    // Every row of it has expired, the held subject's among them.
    assert_eq!(
        (&held["expired"], &held["held"]),
        (&held["rows"], &serde_json::json!(1)),
        "{held}"
    );
    assert!(held["why"].as_str().unwrap().contains("held"), "{held}");
    assert_eq!(partition(&plan, "events_p_straddle")["action"], "rows");
    assert_eq!(partition(&plan, "events_p_new")["action"], "kept");
    if db == Db::Postgres {
        let r = partition(&plan, "events_p_ref");
        assert_eq!(r["action"], "rows", "{plan}");
        assert!(r["why"].as_str().unwrap().contains("foreign key"), "{r}");
        let d = partition(&plan, "events_default");
        assert_eq!(d["action"], "rows", "{plan}");
        assert!(d["why"].as_str().unwrap().contains("default"), "{d}");
    } else {
        assert_eq!(partition(&plan, "events_p_ref")["action"], "drop");
    }
    for format in ["text", "md", "html"] {
        let out = case.expect(&["plan", "--format", format], 0).stdout;
        assert!(out.contains("Partitions of app/events"), "{format}: {out}");
        let line = out
            .lines()
            .flat_map(|l| l.split("<tr>"))
            .find(|l| l.contains("events_p_held"))
            .unwrap_or_else(|| panic!("{format}: {out}"));
        assert!(
            line.contains("rows") && line.contains("held subjects"),
            "{format}: {line}"
        );
    }
    let dry = case.expect(&["run", "--dry-run"], 0);
    assert!(dry.stdout.contains("events_p_plain"), "{}", dry.stdout);
    assert_eq!(
        case.db.checksum().await,
        before,
        "plan and dry run changed nothing"
    );

    let run = run_with_debug_log(&case);
    if db == Db::Postgres {
        assert!(by_leaf_windows(&run), "{}", run.stderr);
    }
    assert_eq!(
        ids(&case, "1 = 1").await,
        keep,
        "exactly the oracle's rows are left"
    );
    let left = tables(&case).await;
    assert!(!left.contains(&"events_p_plain".to_owned()), "{left:?}");
    assert!(!left.contains(&"events_p_old".to_owned()), "{left:?}");
    assert!(left.contains(&"events_p_held".to_owned()), "{left:?}");
    if db == Db::Postgres {
        assert!(left.contains(&"events_p_ref".to_owned()), "{left:?}");
        assert!(left.contains(&"events_default".to_owned()), "{left:?}");
    }
    // Each dropped partition has its batch entry: its row count and the digest of its keys.
    let entries = audit_lines(&case).await;
    let batches = done_batches(&case).await;
    for keys in [&plain_keys, &old_keys] {
        assert!(
            batches.contains(&(keys.len() as u64, digest(keys))),
            "a batch entry with the partition's count and keys digest: {batches:?}"
        );
    }
    assert!(
        entries.iter().all(|e| !e.to_string().contains("events_p_")),
        "no partition name in the log"
    );
    case.expect(&["audit", "verify"], 0);
    // A second run finds nothing more to do.
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
}

/// A filtered rule never drops a partition: every one falls back to rows, and exactly
/// the filtered rows go.
async fn a_filtered_rule_deletes_by_rows(db: Db) {
    let filter = "    filter: {column: kind, eq: app}\n";
    let case = events(db, "drop", filter).await;
    case.expect(&["migrate"], 0);
    let cutoff = match db {
        Db::Postgres => "now() - interval '150 days'",
        _ => "UTC_TIMESTAMP() - INTERVAL 150 DAY",
    };
    let locked = match db {
        Db::Postgres => " AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.event_id = events.id AND r.event_ts = events.ts)",
        _ => "",
    };
    let keep = ids(
        &case,
        &format!("NOT (ts < {cutoff} AND kind = 'app'{locked})"),
    )
    .await;
    let plan = plan_json(&case);
    let p = partition(&plan, "events_p_plain");
    assert_eq!(p["action"], "rows", "{plan}");
    assert!(p["why"].as_str().unwrap().contains("filter"), "{p}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    assert!(tables(&case).await.contains(&"events_p_plain".to_owned()));
    case.expect(&["audit", "verify"], 0);
}

/// `partitions: detach` (PostgreSQL) takes the partition out of the table and keeps it.
async fn detach_keeps_the_partition_as_a_table() {
    let db = Db::Postgres;
    let case = events(db, "detach", "").await;
    case.expect(&["migrate"], 0);
    let plain_keys = key_lines(&case, 400.0, 300.0).await;
    case.expect(&["run"], 0);
    let still_partition = case
        .db
        .count("SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = 'events_p_plain'")
        .await;
    assert_eq!(still_partition, 0, "detached");
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM events_p_plain").await,
        1000,
        "kept whole"
    );
    assert_eq!(
        ids(
            &case,
            "ts >= now() - interval '400 days' AND ts < now() - interval '300 days'"
        )
        .await,
        Vec::<i64>::new()
    );
    // Detaching is not erasing: no `ok` entry claims these rows went.
    let ok_with = |entries: &[serde_json::Value]| {
        entries.iter().any(|e| {
            e["kind"] == "batch"
                && e["outcome"] == "ok"
                && e["keys_digest"] == digest(&plain_keys).as_str()
        })
    };
    assert!(!ok_with(&audit_lines(&case).await));
    case.expect(&["run"], 0);
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM events_p_plain").await,
        1000
    );
    // Once the rule says `drop`, the next run drops the kept table, with its entry.
    crate::support::cli::write_files(case.dir.path(), &[("rules/events.yaml", &rule("drop", ""))]);
    case.expect(&["run"], 0);
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM pg_class WHERE relname = 'events_p_plain'")
            .await,
        0
    );
    assert!(ok_with(&audit_lines(&case).await));
    case.expect(&["audit", "verify"], 0);
}

fn spawn_run(case: &Case, step: &str, flag: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_retention"))
        .current_dir(case.dir.path())
        .arg("--config")
        .arg(case.dir.path().join("retention.yaml"))
        .arg("run")
        .env("RETENTION_LOG", "warn")
        .env("APP_URL", &case.db.url)
        .env("RETENTION_TEST_PAUSE_AT", step)
        .env("RETENTION_TEST_PAUSE_FILE", flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// A run killed with SIGKILL at a step of the drop path; the next run finishes the job,
/// the rows left are the oracle's, and the log verifies.
async fn killed_during_the_drop_the_rerun_finishes(db: Db, step: &str) {
    let case = events(db, "drop", "").await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        0,
    );
    let keep = ids(&case, if db == Db::Postgres { KEEP } else { KEEP_MY }).await;
    let flag = case.dir.path().join("paused");
    let mut child = spawn_run(&case, step, &flag);
    let started = std::time::Instant::now();
    while !flag.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the run reached step {step}"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before step {step}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    if step == "partition-detached" {
        // Killed between detach and drop: the partition is out of the table, not gone.
        let attached = case
            .db
            .count("SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname IN ('events_p_old', 'events_p_plain')")
            .await;
        let exists = case
            .db
            .count(
                "SELECT COUNT(*) FROM pg_class WHERE relname IN ('events_p_old', 'events_p_plain')",
            )
            .await;
        assert!(attached < exists, "one partition detached and not dropped");
    }
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    let left = tables(&case).await;
    assert!(!left.contains(&"events_p_plain".to_owned()), "{left:?}");
    assert!(!left.contains(&"events_p_old".to_owned()), "{left:?}");
    let v = case.expect(&["audit", "verify"], 0);
    // Killed after the drop and before its entry, the drop has only its intent, which
    // verify names; at the other steps the rerun's drop of the same rows answers it.
    let warned = format!("{}{}", v.stdout, v.stderr).contains("an intent with no outcome");
    assert_eq!(
        warned,
        step == "partition-dropped",
        "{}\n{}",
        v.stdout,
        v.stderr
    );
}

/// A held subject's row written into a later expired partition while the run removes an
/// earlier one (after the partitions were judged) keeps that partition: the recount
/// under the drop's lock sees it, nothing of the partition goes, the target fails for this
/// run, and the next run takes the partition by rows, keeping the held row.
async fn a_held_row_written_after_the_verdict_keeps_its_partition(db: Db) {
    let case = events(db, "drop", "").await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        0,
    );
    // PostgreSQL pauses before its first detach, MariaDB after its first drop: either way
    // p_plain (300–400 days) is judged whole and not yet removed.
    let step = match db {
        Db::Postgres => "partition-marked",
        _ => "partition-dropped",
    };
    let paused =
        crate::support::cli::Paused::run_at(case.dir.path(), step, &[("APP_URL", &case.db.url)]);
    case.db
        .exec(&format!(
            "INSERT INTO events VALUES (8888888, 7, {}, 'app')",
            ago(db, 350.5)
        ))
        .await;
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("changed"), "{stderr}");
    assert_eq!(ids(&case, "id = 8888888").await, vec![8888888]);
    let keep = ids(&case, if db == Db::Postgres { KEEP } else { KEEP_MY }).await;
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    assert!(keep.contains(&8888888));
    case.expect(&["audit", "verify"], 0);
}

async fn killed_after_detach(db: Db) {
    killed_during_the_drop_the_rerun_finishes(db, "partition-detached").await
}

async fn killed_after_mark(db: Db) {
    killed_during_the_drop_the_rerun_finishes(db, "partition-marked").await
}

async fn killed_after_drop(db: Db) {
    killed_during_the_drop_the_rerun_finishes(db, "partition-dropped").await
}

/// PostgreSQL sub-partitions: an expired partition split by hash of the key goes whole
/// (both of its leaves), and in a partition split by range of the timestamp the expired
/// leaf goes whole, the straddling leaf by rows (time windows on that leaf), the fresh
/// leaf is kept. Exactly the oracle's rows are left and the log verifies.
#[tokio::test]
async fn sub_partitions_go_whole_or_by_rows() {
    let db = Db::Postgres;
    let case = Case::new(db, &[("events.yaml", &rule("drop", ""))]).await;
    let range = |from: f64, to: f64| format!("FROM ({}) TO ({})", ago(db, from), ago(db, to));
    case.db
        .exec(&format!(
            "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
               kind TEXT, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
             CREATE INDEX ON events (ts);
             CREATE TABLE events_old PARTITION OF events FOR VALUES {} PARTITION BY HASH (id);
             CREATE TABLE events_old_h0 PARTITION OF events_old FOR VALUES WITH (MODULUS 2, REMAINDER 0);
             CREATE TABLE events_old_h1 PARTITION OF events_old FOR VALUES WITH (MODULUS 2, REMAINDER 1);
             CREATE TABLE events_mid PARTITION OF events FOR VALUES {} PARTITION BY RANGE (ts);
             CREATE TABLE events_mid_a PARTITION OF events_mid FOR VALUES {};
             CREATE TABLE events_mid_b PARTITION OF events_mid FOR VALUES {};
             CREATE TABLE events_mid_c PARTITION OF events_mid FOR VALUES {};",
            range(600.0, 300.0),
            range(300.0, -100.0),
            range(300.0, 200.0),
            range(200.0, 100.0),
            range(100.0, -100.0),
        ))
        .await;
    let rows: Vec<String> = (1..=599i64)
        .flat_map(|day| {
            (0..4).map(move |k| {
                format!(
                    "({}, {k}, {}, 'app')",
                    day * 10 + k,
                    ago(db, day as f64 + 0.5)
                )
            })
        })
        .collect();
    for chunk in rows.chunks(1000) {
        case.db
            .exec(&format!("INSERT INTO events VALUES {}", chunk.join(", ")))
            .await;
    }
    case.expect(&["migrate"], 0);
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let plan = plan_json(&case);
    for (name, action) in [
        ("events_old_h0", "drop"),
        ("events_old_h1", "drop"),
        ("events_mid_a", "drop"),
        ("events_mid_b", "rows"),
        ("events_mid_c", "kept"),
    ] {
        assert_eq!(partition(&plan, name)["action"], action, "{name}: {plan}");
    }
    let run = run_with_debug_log(&case);
    assert!(by_leaf_windows(&run), "{}", run.stderr);
    assert_eq!(
        ids(&case, "1 = 1").await,
        keep,
        "exactly the oracle's rows are left"
    );
    let left = tables(&case).await;
    for gone in ["events_old_h0", "events_old_h1", "events_mid_a"] {
        assert!(!left.contains(&gone.to_owned()), "{gone}: {left:?}");
    }
    for kept in ["events_mid_b", "events_mid_c"] {
        assert!(left.contains(&kept.to_owned()), "{kept}: {left:?}");
    }
    case.expect(&["audit", "verify"], 0);
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep, "a rerun changes nothing");
}

/// A table range-partitioned on an integer epoch column (`timestamp: {column: ts_s,
/// unit: s}`): MariaDB's plain `RANGE (ts_s)` and PostgreSQL's `RANGE (ts_s)` on a bigint.
/// The partition wholly before the cutoff goes whole, the straddling one by rows, the
/// newest is kept; exactly the oracle's rows are left.
async fn an_epoch_column_partitions_like_a_timestamp(db: Db) {
    let rule = rule("drop", "")
        .replace("key: [id, ts]", "key: [id, ts_s]")
        .replace("timestamp: ts", "timestamp: {column: ts_s, unit: s}");
    let case = Case::new(db, &[("events.yaml", &rule)]).await;
    let epoch = |days: f64| (Utc::now() - Duration::seconds((days * 86_400.0) as i64)).timestamp();
    match db {
        Db::Postgres => {
            case.db
                .exec(&format!(
                    "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts_s BIGINT NOT NULL,
                       PRIMARY KEY (id, ts_s)) PARTITION BY RANGE (ts_s);
                     CREATE TABLE events_p0 PARTITION OF events FOR VALUES FROM (MINVALUE) TO ({});
                     CREATE TABLE events_p1 PARTITION OF events FOR VALUES FROM ({}) TO ({});
                     CREATE TABLE events_pmax PARTITION OF events FOR VALUES FROM ({}) TO (MAXVALUE);",
                    epoch(400.0),
                    epoch(400.0),
                    epoch(100.0),
                    epoch(100.0)
                ))
                .await
        }
        _ => {
            case.db
                .exec(&format!(
                    "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts_s BIGINT NOT NULL,
                       PRIMARY KEY (id, ts_s)) PARTITION BY RANGE (ts_s) (
                       PARTITION events_p0 VALUES LESS THAN ({}),
                       PARTITION events_p1 VALUES LESS THAN ({}),
                       PARTITION events_pmax VALUES LESS THAN MAXVALUE)",
                    epoch(400.0),
                    epoch(100.0)
                ))
                .await
        }
    }
    let rows: Vec<String> = (1..=599i64)
        .map(|day| format!("({day}, {}, {})", day % 5, epoch(day as f64 + 0.5)))
        .collect();
    case.db
        .exec(&format!("INSERT INTO events VALUES {}", rows.join(", ")))
        .await;
    case.expect(&["migrate"], 0);
    let keep = ids(&case, &format!("ts_s >= {}", epoch(150.0))).await;
    let plan = plan_json(&case);
    for (name, action) in [
        ("events_p0", "drop"),
        ("events_p1", "rows"),
        ("events_pmax", "kept"),
    ] {
        assert_eq!(partition(&plan, name)["action"], action, "{name}: {plan}");
    }
    case.expect(&["run"], 0);
    assert_eq!(
        ids(&case, "1 = 1").await,
        keep,
        "exactly the oracle's rows are left"
    );
    let left = tables(&case).await;
    assert!(!left.contains(&"events_p0".to_owned()), "{left:?}");
    assert!(left.contains(&"events_p1".to_owned()), "{left:?}");
    case.expect(&["audit", "verify"], 0);
}

/// Runs SQL text (several statements, function bodies included) on PostgreSQL.
async fn pg_script(case: &Case, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut c = sqlx::PgConnection::connect(&case.db.url).await.unwrap();
    c.execute(sql).await.unwrap();
}

/// `events` on PostgreSQL: `events_old` (600 to 300 days ago) wholly expired under the
/// 150-day rule, `events_new` (300 days ago to 100 days ahead) straddling the cutoff, no
/// default partition (so the detach runs CONCURRENTLY); a row a day for 590 days.
async fn two_partitions(case: &Case) {
    pg_script(
        case,
        "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
           kind TEXT, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
         CREATE TABLE events_old PARTITION OF events
           FOR VALUES FROM (now() - interval '600 days') TO (now() - interval '300 days');
         CREATE TABLE events_new PARTITION OF events
           FOR VALUES FROM (now() - interval '300 days') TO (now() + interval '100 days');
         INSERT INTO events SELECT g, g % 10, now() - (g + 0.5) * interval '1 day', 'app'
           FROM generate_series(1, 590) g;",
    )
    .await;
}

/// A PostgreSQL case of [`two_partitions`] under `rule(mode)` with `extra` SQL run after
/// it, migrated.
async fn two_partitions_with(mode: &str, extra: &str) -> Case {
    let case = Case::new(Db::Postgres, &[("events.yaml", &rule(mode, ""))]).await;
    two_partitions(&case).await;
    if !extra.is_empty() {
        pg_script(&case, extra).await;
    }
    case.expect(&["migrate"], 0);
    case
}

/// A transaction older than the detach (a long report, a `pg_dump`) keeps `DETACH …
/// CONCURRENTLY` from finishing its second step: the run leaves the partition pending
/// (its rows no longer in the table), deletes the rest by rows and exits 0 with a
/// warning; once the transaction ends, the next run finishes the detach, drops the
/// partition with its audit entry, and the log verifies.
#[tokio::test]
async fn a_detach_held_up_by_an_old_snapshot_is_finished_by_the_next_run() {
    use sqlx::{Connection, Executor};
    let case = two_partitions_with("drop", "").await;
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let old_keys = key_lines(&case, 600.0, 300.0).await;
    let mut report = sqlx::PgConnection::connect(&case.db.url).await.unwrap();
    report
        .execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT COUNT(*) FROM events")
        .await
        .unwrap();
    let run = case.expect(&["--log-format", "json", "run"], 0);
    assert!(
        run.stderr.contains("detached only in part"),
        "{}",
        run.stderr
    );
    assert_eq!(
        ids(&case, "1 = 1").await,
        keep,
        "the parent shows the oracle's rows"
    );
    assert!(tables(&case).await.contains(&"events_old".to_owned()));
    report.execute("COMMIT").await.unwrap();

    case.expect(&["run"], 0);
    assert!(!tables(&case).await.contains(&"events_old".to_owned()));
    assert_eq!(ids(&case, "1 = 1").await, keep);
    let entries = audit_lines(&case).await;
    assert!(
        entries.iter().any(|e| e["kind"] == "batch"
            && e["outcome"] == "ok"
            && e["count"] == old_keys.len()
            && e["keys_digest"] == digest(&old_keys).as_str()),
        "the dropped partition's entry: {entries:?}"
    );
    case.expect(&["audit", "verify"], 0);
}

/// A run killed after marking a partition and before detaching it leaves the mark on an
/// attached partition; when the rerun takes that partition by rows (a hold since), the
/// mark is removed, so a table the user later detaches and keeps by hand (an archive, as
/// pg_partman keeps them) is never taken for one the tool detached, and stays.
#[tokio::test]
async fn a_mark_left_on_an_attached_partition_never_gets_a_hand_detached_table_dropped() {
    let case = two_partitions_with("drop", "").await;
    let mut paused = crate::support::cli::Paused::run_at(
        case.dir.path(),
        "partition-marked",
        &[("APP_URL", &case.db.url)],
    );
    paused.child.kill().expect("SIGKILL");
    let _ = paused.child.wait();
    case.expect(
        &["hold", "add", "--subject", "3", "--reason", "litigation"],
        0,
    );
    case.expect(&["run"], 0);
    assert!(tables(&case).await.contains(&"events_old".to_owned()));
    let marks = case
        .db
        .count("SELECT COUNT(*) FROM pg_class WHERE obj_description(oid, 'pg_class') LIKE 'retention:%'")
        .await;
    assert_eq!(
        marks, 0,
        "the rerun removes the mark of the attached partition"
    );
    pg_script(
        &case,
        "ALTER TABLE events DETACH PARTITION events_old;
         ALTER TABLE events_old RENAME TO events_old_archive;",
    )
    .await;
    case.expect(&["hold", "remove", "--subject", "3"], 0);
    case.expect(&["run"], 0);
    assert!(
        tables(&case)
            .await
            .contains(&"events_old_archive".to_owned()),
        "a table the user detached is theirs"
    );
    case.expect(&["audit", "verify"], 0);
}

/// A table a `partitions: detach` run kept, whose rows a hold added since covers, is not
/// dropped when the rule turns to `drop`: it stays detached with a warning, and the pass
/// goes on with the live table (its expired rows are deleted), run after run.
#[tokio::test]
async fn a_kept_table_with_a_held_subjects_rows_stays_and_the_pass_goes_on() {
    let case = two_partitions_with("detach", "").await;
    case.expect(&["run"], 0);
    assert!(tables(&case).await.contains(&"events_old".to_owned()));
    case.expect(
        &["hold", "add", "--subject", "3", "--reason", "litigation"],
        0,
    );
    crate::support::cli::write_files(case.dir.path(), &[("rules/events.yaml", &rule("drop", ""))]);
    pg_script(
        &case,
        "INSERT INTO events VALUES (10001, 4, now() - interval '200 days', 'app'),
                                   (10002, 3, now() - interval '200 days', 'app')",
    )
    .await;
    for _ in 0..2 {
        let run = case.expect(&["run"], 0);
        assert!(run.stderr.contains("stays detached"), "{}", run.stderr);
        assert!(tables(&case).await.contains(&"events_old".to_owned()));
        assert_eq!(ids(&case, "id IN (10001, 10002)").await, vec![10002]);
    }
    let held_in_kept = case
        .db
        .count("SELECT COUNT(*) FROM events_old WHERE account_id = 3")
        .await;
    assert!(held_in_kept > 0);
    case.expect(&["audit", "verify"], 0);
}

/// A partition in another schema, with a table of the same name in the connection's
/// schema: the partition is never detached or dropped by its bare name (which would find
/// the other table); its expired rows go by row batches, and the other table is left
/// exactly as it was, run after run.
#[tokio::test]
async fn a_partition_in_another_schema_goes_by_rows_and_its_namesake_is_untouched() {
    let case = Case::new(Db::Postgres, &[("events.yaml", &rule("drop", ""))]).await;
    pg_script(
        &case,
        "CREATE SCHEMA arch;
         CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
           kind TEXT, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
         CREATE INDEX ON events (ts);
         CREATE TABLE arch.events_old PARTITION OF events
           FOR VALUES FROM (now() - interval '600 days') TO (now() - interval '300 days');
         CREATE TABLE events_new PARTITION OF events
           FOR VALUES FROM (now() - interval '300 days') TO (now() + interval '100 days');
         INSERT INTO events SELECT g, g % 10, now() - (g + 0.5) * interval '1 day', 'app'
           FROM generate_series(1, 590) g;
         CREATE TABLE events_old (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
           kind TEXT, PRIMARY KEY (id, ts));
         INSERT INTO events_old SELECT g, 1, now() - interval '2000 days', 'other'
           FROM generate_series(1, 50) g;",
    )
    .await;
    case.expect(&["migrate"], 0);
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let namesake = case.db.checksum_of(&["events_old"]).await;
    let plan = plan_json(&case);
    let old = partition(&plan, "events_old");
    assert_eq!(old["action"], "rows", "{plan}");
    assert!(old["why"].as_str().unwrap().contains("arch"), "{old}");
    let own = case.db.count("SELECT COUNT(*) FROM arch.events_old").await;
    assert_eq!(old["rows"], own, "counted in its own schema: {old}");
    for _ in 0..2 {
        case.expect(&["run"], 0);
        assert_eq!(ids(&case, "1 = 1").await, keep);
        assert_eq!(case.db.checksum_of(&["events_old"]).await, namesake);
    }
    case.expect(&["audit", "verify"], 0);
}

/// A foreign key from a table in another schema keeps the rows it references, like one
/// from the same schema: the partitions holding them go by rows, every other expired row
/// goes, and the run succeeds (before, the delete failed on the key every time).
#[tokio::test]
async fn a_child_table_in_another_schema_keeps_what_it_references() {
    let case = two_partitions_with(
        "drop",
        "CREATE INDEX ON events (ts);
         CREATE SCHEMA billing;
         CREATE TABLE billing.notes (nid BIGINT PRIMARY KEY, ev_id BIGINT, ev_ts TIMESTAMPTZ,
           FOREIGN KEY (ev_id, ev_ts) REFERENCES events (id, ts));
         INSERT INTO billing.notes SELECT id, id, ts FROM events WHERE id IN (200, 400, 10);
         INSERT INTO billing.notes VALUES (1, NULL, NULL);",
    )
    .await;
    let keep = ids(
        &case,
        "NOT (ts < now() - interval '150 days' AND NOT EXISTS (SELECT 1 FROM billing.notes n
           WHERE n.ev_id = events.id AND n.ev_ts = events.ts))",
    )
    .await;
    let plan = plan_json(&case);
    let old = partition(&plan, "events_old");
    assert_eq!(old["action"], "rows", "{plan}");
    assert_eq!(old["referenced"], 1, "{old}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    case.expect(&["audit", "verify"], 0);
}

/// Delete triggers and rules: a `BEFORE DELETE` trigger that keeps some rows makes the
/// batch change fewer rows than it picked, which fails the target with nothing changed
/// (no time window, which could not tell); an `AFTER DELETE` trigger that archives rows
/// keeps every partition from being dropped (a drop would skip it), and archives each row
/// the run deletes.
#[tokio::test]
async fn delete_triggers_keep_partitions_and_batches_honest() {
    let case = two_partitions_with(
        "drop",
        "CREATE INDEX ON events (ts);
         CREATE TABLE archive (id BIGINT, ts TIMESTAMPTZ);
         CREATE FUNCTION archive_row() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN INSERT INTO archive VALUES (OLD.id, OLD.ts); RETURN OLD; END $$;
         CREATE TRIGGER archive AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION archive_row();",
    )
    .await;
    let expired = ids(&case, "ts < now() - interval '150 days'").await;
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let plan = plan_json(&case);
    let old = partition(&plan, "events_old");
    assert_eq!(old["action"], "rows", "{plan}");
    assert!(old["why"].as_str().unwrap().contains("trigger"), "{old}");
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    let archived: Vec<i64> = case
        .column("SELECT CAST(id AS TEXT) FROM archive ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(archived, expired, "the trigger saw every deleted row");

    // A trigger that vetoes some deletes: the batch is rolled back and the target fails.
    let case = two_partitions_with(
        "rows",
        "CREATE INDEX ON events (ts);
         CREATE FUNCTION keep_some() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF OLD.id % 50 = 0 THEN RETURN NULL; END IF; RETURN OLD; END $$;
         CREATE TRIGGER keep_some BEFORE DELETE ON events_new FOR EACH ROW EXECUTE FUNCTION keep_some();",
    )
    .await;
    let before = ids(&case, "ts >= now() - interval '300 days'").await;
    let rows_before = ids(&case, "1 = 1").await.len() as u64;
    let run = case.expect(&["run"], 1);
    assert!(
        run.stdout.contains("rolled back"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let after = ids(&case, "ts >= now() - interval '300 days'").await;
    assert!(
        after.iter().all(|id| before.contains(id))
            && before
                .iter()
                .filter(|id| *id % 50 == 0 && !after.contains(id))
                .count()
                == 0,
        "no row the trigger kept is counted as gone"
    );
    // What the log says went is what went: the rolled-back batch claims nothing.
    let gone = rows_before - ids(&case, "1 = 1").await.len() as u64;
    let audited: u64 = audit_lines(&case)
        .await
        .iter()
        .filter(|e| e["kind"] == "batch" && e["outcome"] == "ok")
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(audited, gone, "audited deletions equal the rows deleted");
    case.expect(&["audit", "verify"], 0);
}

/// MariaDB: a `DELETE` trigger on a partitioned table keeps every partition from being
/// dropped whole (`DROP PARTITION` would skip it); the rows go by batches, each firing it.
#[tokio::test]
async fn a_delete_trigger_keeps_mariadb_partitions_from_going_whole() {
    let case = events(Db::MySql, "drop", "").await;
    case.db
        .exec(
            "CREATE TABLE archive (id BIGINT, ts DATETIME);
             CREATE TRIGGER archive_row AFTER DELETE ON events FOR EACH ROW INSERT INTO archive VALUES (OLD.id, OLD.ts)",
        )
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        0,
    );
    let keep = ids(&case, KEEP_MY).await;
    let going = ids(&case, &format!("NOT ({KEEP_MY})")).await;
    let plan = plan_json(&case);
    let plain = partition(&plan, "events_p_plain");
    assert_eq!(plain["action"], "rows", "{plan}");
    assert!(
        plain["why"].as_str().unwrap().contains("trigger"),
        "{plain}"
    );
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    let archived: Vec<i64> = case
        .column("SELECT CAST(id AS CHAR) FROM archive ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(archived, going, "the trigger saw every deleted row");
    assert!(tables(&case).await.contains(&"events_p_plain".to_owned()));
}

/// `check` and `check --connect` refuse `partitions:` where it cannot apply, naming the
/// file, line and field; a partition key that is not the timestamp is a warning.
async fn check_refuses_what_cannot_apply(db: Db) {
    let case = Case::new(db, &[("events.yaml", &rule("sideways", ""))]).await;
    let r = case.expect(&["check"], 2);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("events.yaml:13") && all.contains("partitions"),
        "{all}"
    );

    let anonymising = rule("drop", "    anonymise: {kind: null}\n")
        .replace("on_expiry: delete", "on_expiry: anonymise");
    let case = Case::new(db, &[("events.yaml", &anonymising)]).await;
    let r = case.expect(&["check"], 2);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("on_expiry: delete"), "{all}");

    // A plain table.
    let case = Case::new(db, &[("events.yaml", &rule("drop", ""))]).await;
    case.db
        .exec(&format!(
            "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts {} NOT NULL, kind VARCHAR(20), PRIMARY KEY (id, ts))",
            db.timestamp_type()
        ))
        .await;
    let r = case.expect(&["check", "--connect"], 2);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("events.yaml:13") && all.contains("needs a partitioned table"),
        "{all}"
    );
    // The run refuses the target too (exit 1), deleting nothing.
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 1);

    if db == Db::Postgres {
        // Partitioned by something else: a warning, and row batches.
        let case = Case::new(db, &[("events.yaml", &rule("drop", ""))]).await;
        case.db
            .exec("CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL, kind TEXT,
                     PRIMARY KEY (id, ts)) PARTITION BY RANGE (id);
                   CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (1000000)")
            .await;
        let r = case.expect(&["check", "--connect"], 0);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(all.contains("not by range of the timestamp"), "{all}");
    }
}

mod postgres {
    use super::*;
    #[tokio::test]
    async fn an_epoch_column_partitions_like_a_timestamp() {
        super::an_epoch_column_partitions_like_a_timestamp(Db::Postgres).await
    }
    #[tokio::test]
    async fn whole_partitions_go_and_the_others_fall_back_to_rows() {
        super::whole_partitions_go_and_the_others_fall_back_to_rows(Db::Postgres).await
    }
    #[tokio::test]
    async fn a_filtered_rule_deletes_by_rows() {
        super::a_filtered_rule_deletes_by_rows(Db::Postgres).await
    }
    #[tokio::test]
    async fn detach_keeps_the_partition_as_a_table() {
        super::detach_keeps_the_partition_as_a_table().await
    }
    #[tokio::test]
    async fn killed_after_detach() {
        super::killed_after_detach(Db::Postgres).await
    }
    #[tokio::test]
    async fn killed_after_mark() {
        super::killed_after_mark(Db::Postgres).await
    }
    #[tokio::test]
    async fn check_refuses_what_cannot_apply() {
        super::check_refuses_what_cannot_apply(Db::Postgres).await
    }
    #[tokio::test]
    async fn a_held_row_written_after_the_verdict_keeps_its_partition() {
        super::a_held_row_written_after_the_verdict_keeps_its_partition(Db::Postgres).await
    }
}

mod mariadb {
    use super::*;
    #[tokio::test]
    async fn an_epoch_column_partitions_like_a_timestamp() {
        super::an_epoch_column_partitions_like_a_timestamp(Db::MySql).await
    }
    #[tokio::test]
    async fn whole_partitions_go_and_the_others_fall_back_to_rows() {
        super::whole_partitions_go_and_the_others_fall_back_to_rows(Db::MySql).await
    }
    #[tokio::test]
    async fn a_filtered_rule_deletes_by_rows() {
        super::a_filtered_rule_deletes_by_rows(Db::MySql).await
    }
    #[tokio::test]
    async fn killed_after_drop() {
        super::killed_after_drop(Db::MySql).await
    }
    #[tokio::test]
    async fn check_refuses_what_cannot_apply() {
        super::check_refuses_what_cannot_apply(Db::MySql).await
    }
    #[tokio::test]
    async fn a_held_row_written_after_the_verdict_keeps_its_partition() {
        super::a_held_row_written_after_the_verdict_keeps_its_partition(Db::MySql).await
    }
}

/// A 365-day rule on `ledger`, partitioned by `ts`, with `partitions: drop` and this key.
fn ledger_rule(key: &str) -> String {
    format!(
        "category: ledger
description: Ledger lines
source: \"Privacy Policy, 'Log information'\"
retain: 365d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: ledger
    key: [{key}]
    timestamp: ts
    partitions: drop
"
    )
}

/// The keys digest of a dropped partition is read in the keys' own types and written as
/// text here (`stores::sql::copy_digest`): it must equal the digest of the keys as
/// PostgreSQL writes them in ISO style, whatever the database's `DateStyle` says, for
/// every value a key can hold — negative and extreme integers, `±infinity`, year 1,
/// fractions of a second down to one microsecond — and a partition holding BC values
/// (whose text does not sort like the type) is digested from the keys' text instead.
#[tokio::test]
async fn partition_digests_are_the_digests_of_the_keys_text_for_every_value() {
    let rule = &ledger_rule("id, ts, day");
    let case = Case::new(Db::Postgres, &[("ledger.yaml", rule)]).await;
    pg_script(
        &case,
        "DO $$ BEGIN
           EXECUTE format('ALTER DATABASE %I SET DateStyle = %L', current_database(), 'SQL, DMY');
         END $$;
         CREATE TABLE ledger (id INT NOT NULL, ts TIMESTAMPTZ NOT NULL, day DATE NOT NULL,
           PRIMARY KEY (id, ts, day)) PARTITION BY RANGE (ts);
         CREATE TABLE ledger_bc PARTITION OF ledger
           FOR VALUES FROM (MINVALUE) TO ('0001-01-01 00:00:00+00');
         CREATE TABLE ledger_old PARTITION OF ledger
           FOR VALUES FROM ('0001-01-01 00:00:00+00') TO ('2000-01-01 00:00:00+00');
         CREATE TABLE ledger_recent PARTITION OF ledger
           FOR VALUES FROM ('2000-01-01 00:00:00+00') TO (now() - interval '400 days');
         CREATE TABLE ledger_new PARTITION OF ledger
           FOR VALUES FROM (now() - interval '400 days') TO (MAXVALUE);
         INSERT INTO ledger VALUES
           (1, '0100-01-01 00:00:00+00 BC', '2020-01-01'),
           (2, '0044-03-15 12:00:00+00 BC', '-infinity'),
           (-3, '0001-12-31 23:59:59.5+00 BC', 'infinity'),
           (1, '0001-01-01 00:00:00+00', '0001-01-01'),
           (1, '0001-01-01 00:00:00.000001+00', '0001-01-01'),
           (-2147483648, '1999-12-31 23:59:59.999999+00', '-infinity'),
           (2147483647, '1969-12-31 23:59:59.25+00', 'infinity'),
           (5, '1900-02-28 23:00:00.1+00', '1900-03-01'),
           (5, '1900-02-28 23:00:00.01+00', '1900-03-01');
         INSERT INTO ledger
           SELECT g % 37 - 18, now() - interval '401 days' - g * interval '1 day' - g * 7919 * interval '1 microsecond',
                  CAST(now() - g * interval '1 day' AS DATE)
             FROM generate_series(1, 800) g;
         INSERT INTO ledger SELECT g, now() - g * interval '1 hour', CURRENT_DATE FROM generate_series(1, 10) g;",
    )
    .await;
    // Each partition's keys as PostgreSQL writes them in ISO style, in the digest's order:
    // the integer numerically, the others by the bytes of their text.
    use sqlx::{Connection, Executor};
    let mut iso = sqlx::PgConnection::connect(&case.db.url).await.unwrap();
    iso.execute("SET DateStyle = 'ISO, YMD'; SET TIME ZONE 'UTC'")
        .await
        .unwrap();
    let mut expected = Vec::new();
    for part in ["ledger_bc", "ledger_old", "ledger_recent"] {
        let rows: Vec<(i32, String, String)> = sqlx::query_as(&format!(
            "SELECT id, CAST(ts AS TEXT), CAST(day AS TEXT) FROM {part}"
        ))
        .fetch_all(&mut iso)
        .await
        .unwrap();
        let mut keys = rows;
        keys.sort_by(|a, b| {
            (a.0, a.1.as_bytes(), a.2.as_bytes()).cmp(&(b.0, b.1.as_bytes(), b.2.as_bytes()))
        });
        let lines: Vec<String> = keys
            .iter()
            .map(|(id, ts, day)| format!("{id}\u{1f}{ts}\u{1f}{day}"))
            .collect();
        assert!(
            lines.iter().all(|l| l.contains("-") && !l.contains('/')),
            "ISO text: {lines:?}"
        );
        expected.push((lines.len() as u64, digest(&lines)));
    }
    assert!(expected[0].0 == 3 && expected[1].0 == 6 && expected[2].0 == 800);
    case.expect(&["migrate"], 0);
    let run = crate::support::cli::retention(
        case.dir.path(),
        &["--log-format", "json", "run"],
        &[
            ("APP_URL", case.db.url.as_str()),
            ("RETENTION_LOG", "retention=debug"),
        ],
    )
    .expect_code(0);
    assert!(
        run.stderr.contains("does not sort like its type"),
        "the BC partition is digested from its text: {}",
        run.stderr
    );
    let batches = done_batches(&case).await;
    for (part, want) in ["ledger_bc", "ledger_old", "ledger_recent"]
        .iter()
        .zip(&expected)
    {
        assert!(batches.contains(want), "{part}: {want:?} in {batches:?}");
    }
    assert_eq!(
        case.column("SELECT relname::text FROM pg_class WHERE relname LIKE 'ledger%' AND relkind IN ('r', 'p') ORDER BY 1")
            .await
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["ledger", "ledger_new"]
    );
    case.expect(&["audit", "verify"], 0);
}

/// A key column whose type is not an integer though its name says `int` (an enum called
/// `paint`, whose own order is not its labels' byte order): the partition's digest orders
/// it by the bytes of its text, as every row batch's digest does.
#[tokio::test]
async fn a_key_named_like_an_integer_is_digested_in_the_order_of_its_text() {
    let rule = &ledger_rule("colour, ts");
    let case = Case::new(Db::Postgres, &[("ledger.yaml", rule)]).await;
    pg_script(
        &case,
        "CREATE TYPE paint AS ENUM ('red', 'green', 'blue');
         CREATE TABLE ledger (colour paint NOT NULL, ts TIMESTAMPTZ NOT NULL,
           PRIMARY KEY (colour, ts)) PARTITION BY RANGE (ts);
         CREATE TABLE ledger_old PARTITION OF ledger
           FOR VALUES FROM (MINVALUE) TO (now() - interval '400 days');
         CREATE TABLE ledger_new PARTITION OF ledger
           FOR VALUES FROM (now() - interval '400 days') TO (MAXVALUE);
         INSERT INTO ledger
           SELECT (ARRAY['red', 'green', 'blue'])[1 + g % 3]::paint, now() - interval '500 days' - g * interval '1 hour'
             FROM generate_series(1, 30) g;",
    )
    .await;
    let mut lines: Vec<String> = case
        .column("SELECT CAST(colour AS TEXT) || chr(31) || CAST(ts AS TEXT) FROM ledger_old")
        .await
        .into_iter()
        .flatten()
        .collect();
    lines.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    let batches = done_batches(&case).await;
    assert!(
        batches.contains(&(30, digest(&lines))),
        "the dropped partition's digest is over its keys in the byte order of their text: {batches:?}"
    );
}

/// A key the catalog says cannot be NULL (a domain declared NOT NULL) that holds a NULL
/// all the same (PostgreSQL lets one in through a subquery): the partition's keys cannot
/// be digested, so it is attached back with nothing deleted and the target fails — and
/// the connection is still good for the next target, which the run finishes.
#[tokio::test]
async fn a_partition_whose_keys_cannot_be_read_is_attached_back_and_the_run_goes_on() {
    let rule = &ledger_rule("ref, ts");
    let later = "category: zz_sessions
description: Sessions
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: zz_sessions
    key: [id]
    timestamp: ts
";
    let case = Case::new(
        Db::Postgres,
        &[("ledger.yaml", rule), ("zz_sessions.yaml", later)],
    )
    .await;
    pg_script(
        &case,
        "CREATE DOMAIN ref_code AS TEXT NOT NULL;
         CREATE TABLE ledger (ref ref_code, ts TIMESTAMPTZ NOT NULL) PARTITION BY RANGE (ts);
         CREATE UNIQUE INDEX ON ledger (ref, ts);
         CREATE TABLE ledger_old PARTITION OF ledger
           FOR VALUES FROM (MINVALUE) TO (now() - interval '400 days');
         CREATE TABLE ledger_new PARTITION OF ledger
           FOR VALUES FROM (now() - interval '400 days') TO (MAXVALUE);
         INSERT INTO ledger SELECT 'r' || g, now() - interval '500 days' - g * interval '1 hour'
           FROM generate_series(1, 20) g;
         INSERT INTO ledger VALUES ((SELECT ref FROM ledger WHERE false), now() - interval '450 days');
         CREATE TABLE zz_sessions (id BIGINT PRIMARY KEY, ts TIMESTAMPTZ NOT NULL);
         INSERT INTO zz_sessions VALUES (1, now() - interval '90 days'), (2, now());",
    )
    .await;
    assert_eq!(
        case.column("SELECT CAST(COUNT(*) AS TEXT) FROM ledger WHERE ref IS NULL")
            .await,
        [Some("1".to_owned())],
        "the NULL got in"
    );
    case.expect(&["migrate"], 0);
    for _ in 0..2 {
        let run = case.expect(&["run"], 1);
        assert!(run.stderr.contains("attached back"), "{}", run.stderr);
        assert_eq!(
            case.column("SELECT CAST(COUNT(*) AS TEXT) FROM ledger")
                .await,
            [Some("21".to_owned())],
            "every row is still in the table"
        );
        assert_eq!(
            case.column(
                "SELECT CAST(COUNT(*) AS TEXT) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE c.relname = 'ledger_old'"
            )
            .await,
            [Some("1".to_owned())],
            "the partition is attached"
        );
        assert_eq!(
            case.column("SELECT string_agg(CAST(id AS TEXT), ',') FROM zz_sessions")
                .await,
            [Some("2".to_owned())],
            "the next target ran on a good connection"
        );
    }
    case.expect(&["audit", "verify"], 0);
}

/// A view reading an expired partition, or a foreign key referencing the partition
/// itself, would make its `DROP TABLE` fail after the detach — leaving it detached, its
/// rows gone from the table but not deleted. Such a partition goes by rows, with the
/// reason in the plan; the table keeps every partition attached and the oracle's rows.
async fn what_depends_on_a_partition_keeps_it_attached(extra: &str, why: &str) {
    let case = two_partitions_with("drop", extra).await;
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let plan = plan_json(&case);
    let old = partition(&plan, "events_old");
    assert!(
        old["action"] == "rows" && old["why"].as_str().is_some_and(|r| r.contains(why)),
        "{old}"
    );
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    let attached = case
        .column("SELECT relispartition::text FROM pg_class WHERE relname = 'events_old'")
        .await;
    assert_eq!(attached, [Some("true".to_owned())]);
    case.expect(&["audit", "verify"], 0);
}

#[tokio::test]
async fn a_partition_a_view_reads_goes_by_rows() {
    what_depends_on_a_partition_keeps_it_attached(
        "CREATE VIEW old_events AS SELECT * FROM events_old",
        "a view or rule reads it",
    )
    .await;
}

#[tokio::test]
async fn a_partition_a_foreign_key_references_itself_goes_by_rows() {
    what_depends_on_a_partition_keeps_it_attached(
        "CREATE TABLE notes (id INT PRIMARY KEY, eid BIGINT, ets TIMESTAMPTZ,
           FOREIGN KEY (eid, ets) REFERENCES events_old (id, ts))",
        "a foreign key references the partition itself",
    )
    .await;
}

/// A job role that may delete rows but owns neither the table nor its partitions cannot
/// mark, detach or drop them: its partitions go by rows, the plan says why, and the run
/// deletes exactly the oracle's rows instead of failing every time.
#[tokio::test]
async fn a_role_that_does_not_own_the_partitions_deletes_by_rows() {
    let case = two_partitions_with("drop", "").await;
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let role = format!("rt_job_{:08x}", rand::random::<u32>());
    pg_script(
        &case,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'job-pw';
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
        ),
    )
    .await;
    let (scheme, rest) = case.db.url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let job_url = format!("{scheme}://{role}:job-pw@{host}");
    let env = [("APP_URL", job_url.as_str())];
    let plan = crate::support::cli::retention(case.dir.path(), &["plan", "--format", "json"], &env)
        .expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let old = partition(&plan, "events_old");
    assert!(
        old["action"] == "rows"
            && old["why"]
                .as_str()
                .is_some_and(|w| w.contains("does not own")),
        "{old}"
    );
    crate::support::cli::retention(case.dir.path(), &["run"], &env).expect_code(0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    assert!(tables(&case).await.contains(&"events_old".to_owned()));
    case.expect(&["audit", "verify"], 0);
    pg_script(&case, &format!("DROP OWNED BY {role}; DROP ROLE {role};")).await;
}

/// While one partition's detach is pending (an old snapshot), PostgreSQL detaches no
/// other partition of the table: the run leaves the first pending with its warning and
/// deletes the other expired partition's rows by batches, exit 0 — it does not fail.
#[tokio::test]
async fn while_one_detach_is_pending_the_other_partitions_go_by_rows() {
    use sqlx::{Connection, Executor};
    let case = Case::new(Db::Postgres, &[("events.yaml", &rule("drop", ""))]).await;
    pg_script(
        &case,
        "CREATE TABLE events (id BIGINT NOT NULL, account_id BIGINT, ts TIMESTAMPTZ NOT NULL,
           kind TEXT, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
         CREATE TABLE events_a PARTITION OF events
           FOR VALUES FROM (now() - interval '600 days') TO (now() - interval '450 days');
         CREATE TABLE events_b PARTITION OF events
           FOR VALUES FROM (now() - interval '450 days') TO (now() - interval '300 days');
         CREATE TABLE events_new PARTITION OF events
           FOR VALUES FROM (now() - interval '300 days') TO (now() + interval '100 days');
         INSERT INTO events SELECT g, g % 10, now() - (g + 0.5) * interval '1 day', 'app'
           FROM generate_series(1, 590) g;",
    )
    .await;
    case.expect(&["migrate"], 0);
    let keep = ids(&case, "NOT (ts < now() - interval '150 days')").await;
    let mut report = sqlx::PgConnection::connect(&case.db.url).await.unwrap();
    report
        .execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT COUNT(*) FROM events")
        .await
        .unwrap();
    let run = case.expect(&["--log-format", "json", "run"], 0);
    assert!(
        run.stderr.contains("detached only in part"),
        "{}",
        run.stderr
    );
    assert_eq!(ids(&case, "1 = 1").await, keep);
    report.execute("COMMIT").await.unwrap();
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, "1 = 1").await, keep);
    case.expect(&["audit", "verify"], 0);
}
