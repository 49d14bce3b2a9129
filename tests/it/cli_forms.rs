//! Every command form of SPEC §5, and every `retention …` command that README.md, docs/
//! and the Helm chart show, run through the real binary and its real argument parser, each
//! with its exit code and its effect on the data checked against SQL over the data before
//! it (issue 12, "every command as users run it").
//!
//! One scenario per dialect walks an operator's and a DPO's day on a small shop schema:
//! keys, `check`, `plan` and a dry run before `migrate`, `migrate`, every plan format,
//! dry runs and dry erasures that change nothing, holds, a queued request, `export`, the
//! run in two shards, the guard and `--allow-mass-delete`, erasure by id, email and phone,
//! every audit command (proofs, certificates, a trusted checkpoint, the verifier key),
//! `coverage`, `ropa` and `schedule`. It records the form (command words and set of
//! flags) of everything it ran; `every_documented_form_is_exercised` then fails when a
//! document or SPEC §5 shows a form the scenario does not run.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb};
use chrono::{Duration, Utc};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: test-pseudonym-key-0123456789abcdef0123456789
  signing_key: ${RETENTION_SIGNING_KEY:-}
rules: ./rules
subjects:
  lookup: {store: app, table: accounts, key: id, by: [email, phone]}
";

const EVENTS: &str = "category: events
description: Device events
source: \"Privacy Policy, 'Log information'\"
retain: 365d
on_expiry: delete
schedule: \"* * * * * *\"
targets:
  - store: app
    table: events
    key: [id]
    timestamp: at
    subject: account_id
";

const ACCOUNTS: &str = "category: accounts
description: Account data
source: \"Privacy Policy, 'Account information'\"
retain: forever
targets:
  - store: app
    table: accounts
    key: [id]
    subject: id
";

/// Accounts 1–6; each has two events 400 days old and two 1 day old; three events have no
/// subject (two old, one fresh). `newsletter` holds emails no rule covers.
const SUBJECTS: std::ops::RangeInclusive<i64> = 1..=6;

fn at(db: Db, days_ago: i64) -> String {
    let t = Utc::now() - Duration::days(days_ago);
    match db {
        Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
        _ => format!("'{}'", t.to_rfc3339()),
    }
}

/// One user's directory and database, and the forms run so far.
struct Day {
    db: TestDb,
    dir: tempfile::TempDir,
    signing_key: String,
    ran: BTreeSet<String>,
}

impl Day {
    async fn new(kind: Db) -> Day {
        let db = TestDb::fresh(kind).await;
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("retention.yaml", CONFIG),
                ("rules/events.yaml", EVENTS),
                ("rules/accounts.yaml", ACCOUNTS),
            ],
        );
        let ts = kind.timestamp_type();
        db.exec(&format!(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100), phone VARCHAR(30), created_at {ts} NOT NULL)"
        ))
        .await;
        db.exec(&format!(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, account_id INTEGER NULL, ip VARCHAR(45), at {ts} NOT NULL)"
        ))
        .await;
        db.exec("CREATE TABLE newsletter (id INTEGER PRIMARY KEY, email_address VARCHAR(100))")
            .await;
        for i in SUBJECTS {
            db.exec(&format!(
                "INSERT INTO accounts VALUES ({i}, 'a{i}@example.com', '+1555000{i}', {})",
                at(kind, 500)
            ))
            .await;
            for (k, days) in [(0, 400), (1, 400), (2, 1), (3, 1)] {
                db.exec(&format!(
                    "INSERT INTO events VALUES ({}, {i}, '10.0.0.{i}', {})",
                    10 * i + k,
                    at(kind, days)
                ))
                .await;
            }
        }
        for (id, days) in [(100, 400), (101, 400), (102, 1)] {
            db.exec(&format!(
                "INSERT INTO events VALUES ({id}, NULL, NULL, {})",
                at(kind, days)
            ))
            .await;
        }
        db.exec("INSERT INTO newsletter VALUES (1, 'reader@example.com')")
            .await;
        Day {
            db,
            dir,
            signing_key: String::new(),
            ran: BTreeSet::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("APP_URL", self.db.url.as_str()),
            ("RETENTION_SIGNING_KEY", self.signing_key.as_str()),
        ]
    }

    /// Runs `retention --config … <args>`, records its form and expects exit `code`.
    #[track_caller]
    fn go(&mut self, args: &[&str], code: i32) -> Run {
        self.ran.insert(form(args.iter().copied()));
        let run = retention(self.dir.path(), args, &self.env());
        assert!(
            !run.stderr.contains("panicked"),
            "retention {} panicked:\n{}",
            args.join(" "),
            run.stderr
        );
        assert_eq!(
            run.code,
            code,
            "retention {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        run
    }

    async fn ids(&self, table: &str) -> BTreeSet<i64> {
        self.db
            .texts(&format!(
                "SELECT CAST(id AS CHAR(20)) FROM {table} ORDER BY id"
            ))
            .await
            .into_iter()
            .map(|v| v.unwrap().trim().parse().unwrap())
            .collect()
    }

    async fn data(&self) -> String {
        self.db
            .checksum_of(&["accounts", "events", "newsletter"])
            .await
    }

    async fn everything(&self) -> String {
        self.db.checksum().await
    }
}

/// A command's form: its command words (up to the first flag) and its set of flags, global
/// flags left out. `hold add --subject 1 --reason x` → `hold add --reason --subject`.
fn form<'a>(args: impl IntoIterator<Item = &'a str>) -> String {
    let mut words = Vec::new();
    let mut flags = BTreeSet::new();
    let mut skip_value = false;
    for a in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if let Some(flag) = a.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap_or_default();
            if flag == "config" || flag == "log-format" {
                skip_value = !a.contains('=');
                continue;
            }
            flags.insert(format!("--{flag}"));
        } else if flags.is_empty() && words.len() < 2 && is_command_word(&words, a) {
            words.push(a.to_owned());
        }
    }
    let mut parts = words;
    parts.extend(flags);
    parts.join(" ")
}

const COMMANDS: &[&str] = &[
    "check", "plan", "run", "erase", "request", "hold", "export", "audit", "coverage", "ropa",
    "schedule", "migrate", "demo",
];

fn is_command_word(words: &[String], word: &str) -> bool {
    match words.first().map(String::as_str) {
        None => COMMANDS.contains(&word),
        Some("request") | Some("hold") => ["add", "list", "remove"].contains(&word),
        Some("audit") => {
            ["verify", "prove", "certificate", "keygen", "show", "runs"].contains(&word)
        }
        Some(_) => false,
    }
}

fn plan_json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The `matched` of one category's targets in a JSON plan.
fn matched(plan: &serde_json::Value, category: &str) -> i64 {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["category"] == category)
        .map(|t| t["matched"].as_i64().unwrap())
        .sum()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Walks the whole day on `kind`; returns the forms it ran.
async fn a_day(kind: Db) -> BTreeSet<String> {
    let mut d = Day::new(kind).await;

    // Keys first: the job signs everything from the start.
    let keys = d.go(&["audit", "keygen", "--name", "example.org/cli-forms"], 0);
    let mut lines = keys.stdout.lines();
    let signing = lines.next().unwrap().to_owned();
    let verifier = lines.next().unwrap().to_owned();
    assert!(signing.starts_with("PRIVATE+KEY+example.org/cli-forms+"));
    assert!(verifier.starts_with("example.org/cli-forms+"));
    d.signing_key = signing;
    let other = d.go(&["audit", "keygen", "--name", "example.org/other"], 0);
    let other_verifier = other.stdout.lines().nth(1).unwrap().to_owned();

    // Before migrate: check, plan and a dry run work and write nothing, anywhere.
    d.go(&["check"], 0);
    let untouched = d.everything().await;
    let plan = d.go(&["plan"], 0);
    assert!(plan.stdout.contains("migrate"), "{}", plan.stdout);
    d.go(&["run", "--dry-run"], 0);
    assert_eq!(d.everything().await, untouched, "plan before migrate wrote");

    d.go(&["migrate"], 0);
    d.go(&["check", "--connect"], 0);

    // The plan in every format; its count is the oracle's.
    let cutoff_old = |ids: &BTreeSet<i64>| ids.iter().filter(|&&id| id % 10 < 2).count() as i64;
    let events = d.ids("events").await;
    let plan = plan_json(&d.go(&["plan", "--format", "json"], 0));
    assert_eq!(matched(&plan, "events"), cutoff_old(&events));
    assert_eq!(matched(&plan, "accounts"), 0, "forever keeps accounts");
    d.go(&["plan", "--format", "md", "--out", "plan.md"], 0);
    assert!(read(&d.path("plan.md")).contains("events"));
    d.go(&["plan", "--format", "html", "--out", "plan.html"], 0);
    assert!(read(&d.path("plan.html")).to_lowercase().contains("<html"));
    let csv = d.go(&["plan", "--format", "csv"], 0);
    assert!(csv.stdout.lines().next().unwrap_or("").contains("category"));
    assert!(csv.stdout.contains("events"));
    let later = (Utc::now() + Duration::days(400)).to_rfc3339();
    let text = d.go(&["plan", "--as-of", &later], 0);
    assert!(text.stdout.contains("events"));
    let plan = plan_json(&d.go(&["plan", "--as-of", &later, "--format", "json"], 0));
    assert_eq!(
        matched(&plan, "events"),
        events.len() as i64,
        "a year on, all expire"
    );
    let plan = plan_json(&d.go(&["plan", "--rule", "events", "--format", "json"], 0));
    assert!(plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["category"] == "events"));
    let plan = plan_json(&d.go(
        &[
            "plan", "--rule", "events", "--rule", "accounts", "--format", "json",
        ],
        0,
    ));
    // `accounts` is kept forever: nothing to plan for it, but no other category either.
    assert!(plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["category"] == "events" || t["category"] == "accounts"));
    assert_eq!(matched(&plan, "events"), cutoff_old(&events));

    // Dry runs and dry erasures change no data.
    let data = d.data().await;
    d.go(&["run", "--dry-run"], 0);
    d.go(&["run", "--dry-run", "--rule", "events"], 0);
    d.go(&["run", "--dry-run", "--shard", "0/2"], 0);
    d.go(
        &["erase", "--subject", "1", "--ticket", "T-1", "--dry-run"],
        0,
    );
    d.go(
        &[
            "erase",
            "--email",
            "a5@example.com",
            "--ticket",
            "T-5",
            "--dry-run",
        ],
        0,
    );
    d.go(
        &[
            "erase",
            "--phone",
            "+15550006",
            "--ticket",
            "T-6",
            "--dry-run",
        ],
        0,
    );
    assert_eq!(d.data().await, data, "a dry run changed data");

    // Usage errors exit 2 and change nothing.
    d.go(&["erase", "--subject", "1"], 2);
    d.go(
        &[
            "erase",
            "--subject",
            "1",
            "--email",
            "a1@example.com",
            "--ticket",
            "T",
        ],
        2,
    );
    d.go(&["run", "--shard", "2/2"], 2);
    assert_eq!(d.data().await, data);

    // Holds: subject 2 is held; subject 4's hold is removed again.
    d.go(
        &[
            "hold",
            "add",
            "--subject",
            "2",
            "--reason",
            "Litigation hold, matter 17",
        ],
        0,
    );
    d.go(
        &[
            "hold",
            "add",
            "--subject",
            "4",
            "--reason",
            "Tax audit",
            "--until",
            "2030-06-30",
        ],
        0,
    );
    let list = d.go(&["hold", "list"], 0);
    assert!(
        list.stdout.contains("Litigation hold, matter 17"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("Tax audit"), "{}", list.stdout);
    d.go(&["hold", "remove", "--subject", "4"], 0);

    // A queued request for subject 3.
    d.go(&["request", "add", "--subject", "3", "--ticket", "T-3"], 0);
    let list = d.go(&["request", "list"], 0);
    assert!(list.stdout.contains("T-3"), "{}", list.stdout);

    // Export: exactly subject 5's rows.
    d.go(&["export", "--subject", "5", "--out", "subject-5.json"], 0);
    let export: serde_json::Value = serde_json::from_str(&read(&d.path("subject-5.json"))).unwrap();
    let mut exported = BTreeSet::new();
    for c in export["categories"].as_array().unwrap() {
        for row in c["rows"].as_array().unwrap() {
            let id = &row["id"];
            let id = id
                .as_i64()
                .or_else(|| id.as_str().and_then(|s| s.parse().ok()));
            exported.insert((c["target"].as_str().unwrap().to_owned(), id.unwrap()));
        }
    }
    let expected: BTreeSet<(String, i64)> = [
        ("accounts", 5),
        ("events", 50),
        ("events", 51),
        ("events", 52),
        ("events", 53),
    ]
    .into_iter()
    .map(|(t, i)| (t.to_owned(), i))
    .collect();
    assert_eq!(exported, expected);
    let stdout_export = d.go(&["export", "--subject", "5"], 0);
    let v: serde_json::Value = serde_json::from_str(&stdout_export.stdout).unwrap();
    assert_eq!(v["categories"], export["categories"]);
    assert_eq!(d.data().await, data, "export changed data");

    // The run, in two shards: expired rows of everyone but the held subject 2, and all of
    // subject 3 (the request), go; then a whole run finds nothing more.
    let before = d.ids("events").await;
    let expected_events: BTreeSet<i64> = before
        .iter()
        .copied()
        .filter(|&id| {
            let subject = if id >= 100 { None } else { Some(id / 10) };
            let old = id % 10 < 2;
            let held = subject == Some(2);
            // Kept: what is fresh or held, unless it is subject 3's (the request).
            (!old || held) && subject != Some(3)
        })
        .collect();
    d.go(&["run", "--shard", "0/2"], 0);
    d.go(&["run", "--shard", "1/2"], 0);
    d.go(&["run"], 0);
    assert_eq!(d.ids("events").await, expected_events);
    assert_eq!(
        d.ids("accounts").await,
        [1, 2, 4, 5, 6].into_iter().collect()
    );
    assert!(d.go(&["request", "list"], 0).stdout.contains("T-3"));

    // The guard: 1,100 expired rows of 1,113 is more than max_fraction (and 1,000 rows);
    // then allowed.
    for chunk in (0..1100).collect::<Vec<i64>>().chunks(250) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({}, 6, NULL, {})", 1000 + i, at(kind, 400)))
            .collect();
        d.db.exec(&format!("INSERT INTO events VALUES {}", values.join(", ")))
            .await;
    }
    let data = d.data().await;
    let text = d.go(&["plan", "--rule", "events"], 0);
    assert!(
        text.stdout.contains("1,100"),
        "counts are grouped:\n{}",
        text.stdout
    );
    d.go(&["run", "--rule", "events"], 3);
    assert_eq!(d.data().await, data, "a refused target changed rows");
    d.go(&["run", "--rule", "events", "--allow-mass-delete"], 0);
    assert!(d.ids("events").await.iter().all(|&id| id < 1000));
    assert_eq!(d.ids("events").await, expected_events);

    // Erasure by id, email and phone; the held subject keeps its rows.
    let only = |set: &BTreeSet<i64>, s: i64| -> BTreeSet<i64> {
        set.iter()
            .copied()
            .filter(|&id| id >= 100 || id / 10 != s)
            .collect()
    };
    d.go(&["erase", "--subject", "1", "--ticket", "T-1"], 0);
    let mut left = only(&expected_events, 1);
    assert_eq!(d.ids("events").await, left);
    d.go(
        &["erase", "--email", "a5@example.com", "--ticket", "T-5"],
        0,
    );
    left = only(&left, 5);
    assert_eq!(d.ids("events").await, left);
    d.go(&["erase", "--phone", "+15550006", "--ticket", "T-6"], 0);
    left = only(&left, 6);
    assert_eq!(d.ids("events").await, left);
    assert_eq!(d.ids("accounts").await, [2, 4].into_iter().collect());
    d.go(&["erase", "--subject", "2", "--ticket", "T-2"], 0);
    assert_eq!(
        d.ids("events").await,
        left,
        "a held subject's rows were erased"
    );
    assert!(d.ids("accounts").await.contains(&2));

    // The audit log: verified, shown, proved, certified.
    let verify = d.go(&["audit", "verify"], 0);
    assert!(!verify.stdout.contains("NOT checked"), "{}", verify.stdout);
    d.go(&["audit", "verify", "--key", &verifier], 0);
    let wrong = d.go_any(&["audit", "verify", "--key", &other_verifier]);
    assert_ne!(wrong.code, 0, "another key's verifier accepted the log");
    let show = d.go(&["audit", "show"], 0);
    assert!(show.stdout.contains("T-1"), "{}", show.stdout);
    let json = d.go(&["audit", "show", "--format", "json"], 0);
    // One JSON object per line.
    let entries = serde_json::Value::Array(
        json.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect(),
    );
    let run_id = find_string(&entries, "run").expect("a run id in the JSON log");
    let runs = d.go(&["audit", "runs"], 0);
    assert!(runs.stdout.contains(&run_id[..8]), "{}", runs.stdout);
    let one_run = d.go(&["audit", "show", "--run", &run_id], 0);
    assert!(!one_run.stdout.trim().is_empty());
    let one_run = d.go(&["audit", "show", "--run", &run_id, "--format", "json"], 0);
    let lines: Vec<serde_json::Value> = one_run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|e| e["run"] == run_id.as_str()),
        "{}",
        one_run.stdout
    );
    assert!(lines.len() < entries.as_array().unwrap().len());
    let ticket = d.go(&["audit", "show", "--ticket", "T-5", "--format", "json"], 0);
    assert!(ticket.stdout.contains("T-5") && !ticket.stdout.contains("T-6"));
    d.go(&["audit", "show", "--ticket", "T-5"], 0);
    let by_subject = d.go(&["audit", "show", "--subject", "1"], 0);
    assert!(!by_subject.stdout.contains("a1@example.com"));
    d.go(&["audit", "show", "--format", "md", "--out", "audit.md"], 0);
    assert!(read(&d.path("audit.md")).contains("T-1"));
    d.go(
        &["audit", "show", "--format", "html", "--out", "audit.html"],
        0,
    );
    assert!(read(&d.path("audit.html")).to_lowercase().contains("<html"));

    let proof = d.go(&["audit", "prove", "--seq", "2"], 0);
    let proof: serde_json::Value = serde_json::from_str(&proof.stdout).unwrap();
    assert_eq!(proof["signed"], true);
    let note = proof["checkpoint"].as_str().unwrap();
    std::fs::write(d.path("trusted.note"), note).unwrap();
    d.go(&["audit", "verify", "--trusted", "trusted.note"], 0);
    let consistency = d.go(&["audit", "prove", "--seq", "2", "--from-size", "1"], 0);
    let consistency: serde_json::Value = serde_json::from_str(&consistency.stdout).unwrap();
    assert_eq!(consistency["consistency"]["from_size"], 1);
    let cert = d.go(
        &[
            "audit",
            "certificate",
            "--ticket",
            "T-1",
            "--format",
            "json",
        ],
        0,
    );
    let cert: serde_json::Value = serde_json::from_str(&cert.stdout).unwrap();
    assert!(cert.to_string().contains("T-1"));
    d.go(
        &[
            "audit",
            "certificate",
            "--ticket",
            "T-1",
            "--out",
            "T-1.html",
        ],
        0,
    );
    assert!(read(&d.path("T-1.html")).contains("T-1"));

    // Coverage finds the newsletter's emails, which no rule names.
    let cov = d.go(&["coverage"], 0);
    assert!(cov.stdout.contains("newsletter"), "{}", cov.stdout);
    let cov = d.go(&["coverage", "--format", "json"], 0);
    assert!(cov.stdout.contains("email_address"), "{}", cov.stdout);
    assert!(
        !cov.stdout.contains("reader@example.com"),
        "a sampled value printed"
    );
    d.go(&["coverage", "--format", "md", "--out", "coverage.md"], 0);
    assert!(read(&d.path("coverage.md")).contains("newsletter"));
    d.go(
        &["coverage", "--format", "html", "--out", "coverage.html"],
        0,
    );

    // The record of processing.
    let ropa = d.go(&["ropa"], 0);
    assert!(
        ropa.stdout.contains("365") || ropa.stdout.contains("1 year"),
        "{}",
        ropa.stdout
    );
    d.go(&["ropa", "--out", "ropa.md"], 0);
    assert!(read(&d.path("ropa.md")).contains("events"));
    d.go(&["ropa", "--format", "html", "--out", "ropa.html"], 0);
    let csv = d.go(&["ropa", "--format", "csv"], 0);
    assert!(csv.stdout.contains("events") && csv.stdout.contains("accounts"));

    // JSON logs: the global flag, on a command that logs.
    let logged = d.go(&["--log-format", "json", "plan"], 0);
    for line in logged.stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    // schedule: an expired row inserted now is gone at the next second's run.
    d.db.exec(&format!(
        "INSERT INTO events VALUES (900, NULL, NULL, {})",
        at(kind, 400)
    ))
    .await;
    let db = &d.db;
    d.schedule_until(|| async move {
        db.count("SELECT COUNT(*) FROM events WHERE id = 900").await == 0
    })
    .await;
    d.ran.insert(form(["schedule"]));
    assert!(!d.ids("events").await.contains(&900));
    d.ran
}

impl Day {
    /// Like [`Day::go`] without an expected code.
    fn go_any(&mut self, args: &[&str]) -> Run {
        self.ran.insert(form(args.iter().copied()));
        retention(self.dir.path(), args, &self.env())
    }

    /// Runs `retention schedule` until `done` holds (at most 60 s), then stops it.
    async fn schedule_until<F, Fut>(&self, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_retention"))
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(self.path("retention.yaml"))
            .arg("schedule")
            .envs(self.env())
            .env("RETENTION_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut ok = false;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("schedule exited early: {status}");
            }
            if done().await {
                ok = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(ok, "schedule did not run the rule within 60 s:\n{stderr}");
        // It says which rules it schedules, and when the next run is and of which rules.
        assert!(stderr.contains("Scheduling 1 rule: events."), "{stderr}");
        let waiting = stderr
            .lines()
            .find(|l| l.contains("Waiting for the next scheduled run at "))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(waiting.contains("Z (events)."), "{waiting}");
    }
}

/// The first string value under `key` anywhere in `v`.
fn find_string(v: &serde_json::Value, key: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .and_then(|x| x.as_str().map(str::to_owned))
            .or_else(|| m.values().find_map(|x| find_string(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_string(x, key)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_form_on_postgres() {
    a_day(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_form_on_mariadb() {
    a_day(Db::MySql).await;
}

/// The SQLite day, and every form a document shows is among the forms it ran.
#[tokio::test(flavor = "multi_thread")]
async fn every_documented_form_is_exercised() {
    let mut ran = a_day(Db::Sqlite).await;
    // demo: a self-contained run in a fresh directory, verified afterwards.
    let demo = tempfile::tempdir().unwrap();
    let dir = demo.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_retention"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .env("RETENTION_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo's own configuration draws no warning (it once ended on one about its
    // missing `audit.origin`).
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.to_lowercase().contains("warn"), "{said}");
    let verify = retention(&dir, &["audit", "verify"], &[]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    ran.insert(form(["demo", "--dir"]));

    eprintln!("{} command forms exercised", ran.len());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for (file, line, shown) in documented_forms(root) {
        if !covered(&shown, &ran) {
            missing.push(format!("{file}:{line}: retention {shown}"));
        }
    }
    for spec in SPEC_FORMS {
        let shown = form(spec.split_whitespace());
        if !covered(&shown, &ran) {
            missing.push(format!(
                "docs/SPEC.md §5: retention {spec} (form `{shown}`)"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "forms shown but not exercised by the scenario:\n{}\nexercised:\n{}",
        missing.join("\n"),
        ran.iter().cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Every form SPEC §5 lists, one line per optional flag at least.
const SPEC_FORMS: &[&str] = &[
    "check",
    "check --connect",
    "plan",
    "plan --as-of T",
    "plan --rule C",
    "plan --format json",
    "plan --format md --out F",
    "run",
    "run --dry-run",
    "run --rule C --allow-mass-delete",
    "run --shard I/N",
    "erase --subject S --ticket T",
    "erase --email E --ticket T",
    "erase --phone P --ticket T",
    "erase --subject S --ticket T --dry-run",
    "request add --subject S --ticket T",
    "request list",
    "hold add --subject S --reason R",
    "hold add --subject S --reason R --until T",
    "hold remove --subject S",
    "hold list",
    "export --subject S",
    "export --subject S --out F",
    "audit verify",
    "audit verify --trusted N",
    "audit verify --key K",
    "audit prove --seq N",
    "audit prove --seq N --from-size M",
    "audit certificate --ticket T --format json",
    "audit certificate --ticket T --out F",
    "audit keygen --name O",
    "audit show",
    "audit show --run R",
    "audit show --ticket T",
    "audit show --subject S",
    "audit show --format md --out F",
    "coverage",
    "coverage --format json",
    "coverage --format md --out F",
    "ropa",
    "ropa --format csv",
    "ropa --format html --out F",
    "schedule",
    "migrate",
    "demo --dir D",
];

/// A shown form is exercised when a form with the same command words ran with at least
/// its flags; a bare mention (`retention hold`) when any form of that command ran.
fn covered(shown: &str, ran: &BTreeSet<String>) -> bool {
    let (words, flags) = split_form(shown);
    ran.iter().any(|r| {
        let (rw, rf) = split_form(r);
        rw.starts_with(&words) && (flags.is_empty() || rw == words) && flags.is_subset(&rf)
    })
}

fn split_form(form: &str) -> (Vec<&str>, BTreeSet<&str>) {
    let mut words = Vec::new();
    let mut flags = BTreeSet::new();
    for t in form.split_whitespace() {
        if t.starts_with("--") {
            flags.insert(t);
        } else {
            words.push(t);
        }
    }
    (words, flags)
}

/// `(file, line, form)` for every `retention <command> …` in README.md, docs/ and helm/.
fn documented_forms(root: &Path) -> Vec<(String, usize, String)> {
    let mut files = vec![root.join("README.md")];
    collect(&root.join("docs"), &mut files);
    collect(&root.join("helm"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.strip_prefix(root).unwrap().display().to_string();
        for (n, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("retention ") {
                let after = &rest[i + "retention ".len()..];
                rest = after;
                let shown = shown_form(after);
                if !shown.is_empty() {
                    found.push((name.clone(), n + 1, shown));
                }
            }
        }
    }
    found
}

/// The form of the command text after `retention `, up to where the command ends (a
/// comment, a closing backtick or quote, a pipe); empty when it is not a command.
fn shown_form(after: &str) -> String {
    let end = [" #", "`", "\"", " | ", " — ", "  ", ")", ". "]
        .iter()
        .filter_map(|m| after.find(m))
        .min()
        .unwrap_or(after.len());
    let tokens: Vec<String> = after[..end]
        .split_whitespace()
        .map(|t| {
            t.trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ',')
                .to_owned()
        })
        .filter(|t| !t.is_empty() && !t.contains('<') && !t.contains("{{"))
        .collect();
    // Global flags may come first: `retention --config F run`.
    let mut i = 0;
    while i < tokens.len() && tokens[i].starts_with("--") {
        i += if tokens[i].contains('=') { 1 } else { 2 };
    }
    match tokens.get(i) {
        Some(t) if COMMANDS.contains(&t.as_str()) => form(tokens.iter().map(String::as_str)),
        _ => String::new(),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("md" | "yaml" | "yml" | "tpl" | "txt")
        ) {
            out.push(p);
        }
    }
}

#[test]
fn a_form_is_the_command_words_and_the_set_of_flags() {
    assert_eq!(
        form(["hold", "add", "--subject", "1", "--reason", "x y"]),
        "hold add --reason --subject"
    );
    assert_eq!(
        form([
            "--config",
            "c.yaml",
            "--log-format",
            "json",
            "run",
            "--dry-run"
        ]),
        "run --dry-run"
    );
    assert_eq!(
        shown_form("erase --phone +15550001 --ticket DSAR-17 --dry-run   # note"),
        "erase --dry-run --phone --ticket"
    );
    assert_eq!(
        shown_form("audit verify --key VERIFIER`"),
        "audit verify --key"
    );
    assert_eq!(shown_form("is a tool"), "");
    assert!(covered(
        "hold",
        &["hold list".to_owned()].into_iter().collect()
    ));
    assert!(!covered(
        "run --shard",
        &["run --dry-run".to_owned()].into_iter().collect()
    ));
}
