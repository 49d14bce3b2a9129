//! What an operator sees (issue 17), through the real binary: a closed stdout ends the
//! output quietly, JSON logs a pipeline can parse, connection errors at once, a demo that
//! does not overwrite a foreign directory, holds said plainly, and the summary of an
//! interrupted run.

use crate::support::case::Case;
use crate::support::db::{Db, TestDb};
use chrono::{Duration, Utc};
use std::process::{Command, Stdio};

const EVENTS: &str = "category: events
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

/// A timestamp literal `days` ago for `kind`.
fn ago(kind: Db, days: i64) -> String {
    let t = Utc::now() - Duration::days(days);
    match kind {
        Db::MySql => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// `events` with `rows` rows, every third one expired (40 days and older).
async fn seed_events(db: &TestDb, rows: i64) {
    seed(db, "events", rows).await
}

/// `table` (shaped like `events`) with `rows` rows, every third one expired.
async fn seed(db: &TestDb, table: &str, rows: i64) {
    let ts = db.kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, created_at {ts} NOT NULL)"
    ))
    .await;
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let age = if i % 3 == 0 { 40 + i % 300 } else { i % 20 };
                format!("({i}, {}, '{}')", i % 97, ago(db.kind, age))
            })
            .collect();
        db.exec(&format!("INSERT INTO {table} VALUES {}", values.join(", ")))
            .await;
    }
}

/// The binary with the case's config and database, stdout and stderr piped.
fn command(case: &Case, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
    cmd.current_dir(case.dir.path())
        .arg("--config")
        .arg(case.dir.path().join("retention.yaml"))
        .args(args)
        .env("APP_URL", &case.db.url)
        .env("RETENTION_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the binary with the read end of its stdout closed before it writes anything, as
/// `retention … | head -0` would: returns the exit code and stderr.
fn with_closed_stdout(case: &Case, args: &[&str]) -> (Option<i32>, String) {
    let mut child = command(case, args).spawn().expect("the binary starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the binary ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_closed_stdout_ends_the_output_quietly_and_the_run_still_finishes() {
    let case = Case::new(Db::Sqlite, &[("events.yaml", EVENTS)]).await;
    seed_events(&case.db, 3000).await;
    case.expect(&["migrate"], 0);
    let expired = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE created_at < '{}'",
            ago(Db::Sqlite, 30)
        ))
        .await;
    assert_eq!(expired, 1000, "the oracle: every third row is expired");
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["run", "--dry-run"],
        &["run"],
        &["audit", "show"],
        &["audit", "verify"],
        &["hold", "list"],
        &["request", "list"],
        &["check"],
    ] {
        let (code, stderr) = with_closed_stdout(&case, args);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "retention {args:?} with a closed stdout:\n{stderr}"
        );
        assert_eq!(
            code,
            Some(0),
            "retention {args:?} exits with its own status (0), not 101:\n{stderr}"
        );
    }
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM events").await,
        2000,
        "the run whose stdout was closed still deleted every expired row"
    );
    case.expect(&["audit", "verify"], 0);
}

const GHOST: &str = "category: ghosts
description: A table that does not exist
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: ghost_events
    key: [id]
    timestamp: created_at
    subject: account_id
";

/// One JSON object's top-level keys and values, in order; a key that appears twice is an
/// error (serde_json's own `Value` would silently keep the last one).
struct UniqueKeys(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut out: Vec<(String, serde_json::Value)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key `{k}`")));
                    }
                    out.push((k, v));
                }
                Ok(UniqueKeys(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl UniqueKeys {
    fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn str(&self, key: &str) -> &str {
        self.get(key).and_then(|v| v.as_str()).unwrap_or_default()
    }
}

/// Every line of `stderr` parsed as one JSON object with unique keys.
fn json_lines(stderr: &str) -> Vec<UniqueKeys> {
    stderr
        .lines()
        .map(|l| {
            serde_json::from_str::<UniqueKeys>(l).unwrap_or_else(|e| {
                panic!("not one JSON object with unique keys ({e}): {l}\n{stderr}")
            })
        })
        .collect()
}

/// The run id in `Run <id> finished.` (or `was interrupted`) on stdout.
fn run_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id on stdout:\n{stdout}"))
        .to_owned()
}

async fn json_logs_carry_the_run_and_log_the_failed_target(kind: Db) {
    let case = Case::new(kind, &[("events.yaml", EVENTS), ("ghosts.yaml", GHOST)]).await;
    seed_events(&case.db, 600).await;
    case.expect(&["migrate"], 0);
    let expired = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE created_at < '{}'",
            ago(kind, 30)
        ))
        .await;
    let out = command(&case, &["--log-format", "json", "run"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed target exits 1\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains("Every target changed")
            && stdout.contains("Every target that did not fail changed"),
        "the summary claims nothing of the failed target:\n{stdout}"
    );
    let id = run_id(&stdout);
    let lines = json_lines(&stderr);
    assert!(!lines.is_empty(), "the run logged nothing");
    for l in &lines {
        assert_eq!(
            l.str("run_id"),
            id,
            "a line of the run without its id: {:?}",
            l.0
        );
        assert!(!l.str("level").is_empty() && !l.str("timestamp").is_empty());
    }
    let target = |t: &str| lines.iter().find(|l| l.str("target") == t);
    let failed = target("ghost_events")
        .unwrap_or_else(|| panic!("no line for the failed target:\n{stderr}"));
    assert_eq!(failed.str("level"), "ERROR", "{:?}", failed.0);
    assert_eq!(failed.str("outcome"), "failed");
    assert_eq!(failed.str("category"), "ghosts");
    assert_eq!(failed.str("store"), "app");
    assert!(
        failed.str("error").contains("ghost_events"),
        "{:?}",
        failed.0
    );
    let ok =
        target("events").unwrap_or_else(|| panic!("no line for the target that ran:\n{stderr}"));
    assert_eq!(ok.str("outcome"), "ok", "{:?}", ok.0);
    assert_eq!(ok.str("category"), "events");
    assert_eq!(
        ok.get("done").and_then(|v| v.as_i64()),
        Some(expired),
        "{:?}",
        ok.0
    );
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM events").await,
        600 - expired
    );
    let end = lines
        .iter()
        .find(|l| l.str("message") == "The run finished with failures.")
        .unwrap_or_else(|| panic!("no end-of-run line:\n{stderr}"));
    assert_eq!(end.str("level"), "ERROR");
    assert_eq!(end.get("deleted").and_then(|v| v.as_i64()), Some(expired));
    assert_eq!(end.get("failed_targets").and_then(|v| v.as_i64()), Some(1));
    assert!(
        lines.iter().all(|l| !l.str("module").is_empty()),
        "tracing's module path is kept under `module`"
    );
    // The error that ends a command is a JSON line too.
    let out = command(&case, &["--log-format", "json", "run", "--rule", "nope"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines = json_lines(&stderr);
    let last = lines.last().expect("an error line");
    assert_eq!(last.str("level"), "ERROR");
    assert!(last.str("message").contains("nope"), "{:?}", last.0);
    assert_eq!(last.get("exit_code").and_then(|v| v.as_i64()), Some(2));
    // So is a usage error.
    let out = command(&case, &["--log-format", "json", "run", "--bogus"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines = json_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].str("message").contains("--bogus"), "{stderr}");
}

crate::support::on_every_dialect!(Db: json_logs_carry_the_run_and_log_the_failed_target);

#[tokio::test]
async fn text_logs_on_a_pipe_have_no_colour_codes() {
    let case = Case::new(
        Db::Sqlite,
        &[("events.yaml", EVENTS), ("ghosts.yaml", GHOST)],
    )
    .await;
    seed_events(&case.db, 30).await;
    case.expect(&["migrate"], 0);
    let out = command(&case, &["run"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ghost_events"),
        "the failure is logged:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI codes on a pipe:\n{stderr}"
    );
}

#[tokio::test]
async fn a_refused_port_is_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::cli::write_files(
        dir.path(),
        &[
            ("retention.yaml", crate::support::db::APP_CONFIG),
            ("rules/events.yaml", EVENTS),
        ],
    );
    // A port nothing listens on: the connection is refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/app"),
        format!("mysql://root@127.0.0.1:{port}/app"),
    ] {
        let started = std::time::Instant::now();
        let out = crate::support::cli::retention(dir.path(), &["plan"], &[("APP_URL", &url)]);
        let took = started.elapsed();
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            took < std::time::Duration::from_secs(2),
            "took {took:?}: {}",
            out.stderr
        );
        for needle in ["store `app`", &format!("127.0.0.1:{port}"), "refused"] {
            assert!(
                out.stderr.contains(needle),
                "`{needle}` missing: {}",
                out.stderr
            );
        }
        assert_eq!(
            out.stderr.matches("error:").count(),
            1,
            "the error is said once: {}",
            out.stderr
        );
    }
}

const LOGS: &str = "category: logs
description: Server logs
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: logs
    key: [id]
    timestamp: created_at
    subject: account_id
";

/// The cells of the summary row whose first cell is `first`.
fn summary_row<'a>(stdout: &'a str, first: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no `{first}` row in the summary:\n{stdout}"))
}

fn number(cell: &str) -> i64 {
    cell.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {cell}"))
}

async fn the_summary_of_an_interrupted_run(kind: Db) {
    let case = Case::new(kind, &[("events.yaml", EVENTS), ("logs.yaml", LOGS)]).await;
    seed_events(&case.db, 60_000).await;
    seed(&case.db, "logs", 60_000).await;
    // Small, quick batches: hundreds of them, so the run is busy when the signal comes.
    std::fs::write(
        case.dir.path().join("retention.yaml"),
        format!(
            "{}defaults:\n  batch_size: 100\n  batch_time: 1ms\n  batches_in_flight: 1\n",
            crate::support::db::APP_CONFIG
        ),
    )
    .unwrap();
    case.expect(&["migrate"], 0);
    let before = case.db.count("SELECT COUNT(*) FROM events").await
        + case.db.count("SELECT COUNT(*) FROM logs").await;
    let child = command(&case, &["run"]).spawn().unwrap();
    for _ in 0..500 {
        if case.db.count("SELECT COUNT(*) FROM retention_audit").await > 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let after = case.db.count("SELECT COUNT(*) FROM events").await
        + case.db.count("SELECT COUNT(*) FROM logs").await;
    assert!(after > before - 40_000, "the run stopped early:\n{stdout}");

    // The first target was interrupted, the second never reached; neither shows `ok`.
    let target_rows: Vec<Vec<&str>> = stdout
        .lines()
        .take_while(|l| !l.starts_with("total"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.first().is_some_and(|f| *f == "events" || *f == "logs"))
        .collect();
    assert_eq!(target_rows.len(), 2, "one row per target:\n{stdout}");
    assert_eq!(
        target_rows[0].last(),
        Some(&"interrupted"),
        "the target the signal stopped:\n{stdout}"
    );
    assert_eq!(
        &target_rows[1][target_rows[1].len() - 2..],
        ["not", "reached"],
        "the target the run never started:\n{stdout}"
    );
    assert_eq!(
        number(target_rows[1][4]),
        0,
        "a target not reached did nothing:\n{stdout}"
    );
    // The totals row counts what was deleted: the oracle is the tables themselves.
    let total = summary_row(&stdout, "total");
    assert_eq!(total[1..3], ["2", "passes"], "{stdout}");
    assert_eq!(number(total[3]), before - after, "{stdout}");
    assert_eq!(number(target_rows[0][4]), before - after, "{stdout}");
    assert!(stdout.contains("\nTook "), "the duration:\n{stdout}");
    assert!(
        !stdout.contains("finished"),
        "nothing says `finished` after an interruption:\n{stdout}"
    );
    assert!(stdout.contains("was interrupted; run it again"), "{stdout}");

    // The rerun finishes both; targets with nothing to do fold into one line.
    let again = case.expect(&["run"], 0);
    assert!(again.stdout.contains("finished"), "{}", again.stdout);
    let third = case.expect(&["run"], 0);
    assert!(
        third
            .stdout
            .contains("Nothing to do in 2 passes: events app/events, logs app/logs."),
        "{}",
        third.stdout
    );
}

#[tokio::test]
async fn an_interrupted_run_says_which_target_it_stopped_and_which_it_never_reached_sqlite() {
    the_summary_of_an_interrupted_run(Db::Sqlite).await;
}

#[tokio::test]
async fn an_interrupted_run_says_which_target_it_stopped_and_which_it_never_reached_postgres() {
    the_summary_of_an_interrupted_run(Db::Postgres).await;
}

#[tokio::test]
async fn the_demo_refuses_a_foreign_directory_and_keeps_a_previous_demo() {
    use crate::support::sandbox::retention;
    let root = tempfile::tempdir().unwrap();
    let mine = root.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("retention.yaml"), "my own config\n").unwrap();
    let out = retention(root.path(), &["demo", "--dir", mine.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(mine.join("retention.yaml")).unwrap(),
        "my own config\n",
        "the demo left the user's file alone"
    );
    assert!(!mine.join("rules").exists() && !mine.join("demo.db").exists());

    let demo = root.path().join("demo");
    let out = retention(root.path(), &["demo", "--dir", demo.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let audit = || async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", demo.join("demo.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM retention_audit")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let entries = audit().await;
    assert!(entries > 0);
    let again = retention(root.path(), &["demo", "--dir", demo.to_str().unwrap()]);
    assert_eq!(again.code, 2, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("previous demo") && again.stderr.contains("rm -r"),
        "says what is there and how to start over: {}",
        again.stderr
    );
    assert_eq!(
        audit().await,
        entries,
        "the previous demo's audit log is kept"
    );
}

#[tokio::test]
async fn holds_say_when_they_replace_one_and_count_in_words() {
    let case = Case::new(Db::Sqlite, &[("events.yaml", EVENTS)]).await;
    seed_events(&case.db, 10).await;
    case.expect(&["migrate"], 0);
    let added = case.expect(&["hold", "add", "--subject", "7", "--reason", "case A"], 0);
    assert_eq!(added.stdout, "Hold added until it is removed.\n");
    let list = case.expect(&["hold", "list"], 0);
    assert!(list.stdout.contains("indefinite"), "{}", list.stdout);
    assert!(!list.stdout.contains("removed"), "{}", list.stdout);
    assert!(list.stdout.ends_with("\n1 hold\n"), "{}", list.stdout);
    let replaced = case.expect(
        &[
            "hold",
            "add",
            "--subject",
            "7",
            "--reason",
            "case B",
            "--until",
            "2099-01-01",
        ],
        0,
    );
    for needle in [
        "Hold replaced",
        "case A",
        "case B",
        // A date alone holds through that day.
        "until 2099-01-02T00:00:00Z",
        "until it is removed",
    ] {
        assert!(
            replaced.stdout.contains(needle),
            "`{needle}`: {}",
            replaced.stdout
        );
    }
    case.expect(&["hold", "add", "--subject", "8", "--reason", "case C"], 0);
    let list = case.expect(&["hold", "list"], 0);
    assert!(list.stdout.ends_with("\n2 holds\n"), "{}", list.stdout);
    let reasons = case
        .column("SELECT reason FROM retention_holds ORDER BY subject")
        .await;
    assert_eq!(
        reasons,
        [Some("case B".to_owned()), Some("case C".to_owned())]
    );
}

#[tokio::test]
async fn audit_runs_lists_runs_and_show_takes_a_unique_prefix_only() {
    let case = Case::new(Db::Sqlite, &[("events.yaml", EVENTS)]).await;
    seed_events(&case.db, 30).await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["request", "add", "--subject", "3", "--ticket", "DSAR-1"],
        0,
    );
    let first = run_id(&case.expect(&["run"], 0).stdout);
    let second = run_id(&case.expect(&["run"], 0).stdout);
    let runs = case.expect(&["audit", "runs"], 0);
    assert!(
        runs.stdout.contains(&first) && runs.stdout.contains(&second),
        "{}",
        runs.stdout
    );
    let whole = case.expect(&["audit", "show", "--run", &first], 0);
    let by_prefix = case.expect(&["audit", "show", "--run", &first[..first.len() - 4]], 0);
    assert_eq!(
        whole.stdout, by_prefix.stdout,
        "a unique prefix names the run"
    );
    let entries: i64 = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM retention_audit WHERE CAST(line AS TEXT) LIKE '%\"run\":\"{first}\"%'"
        ))
        .await;
    assert!(entries > 0);
    assert!(
        whole.stdout.ends_with(&format!("\n{entries} entries\n")),
        "{}",
        whole.stdout
    );
    let unknown = case.expect(&["audit", "show", "--run", "nope"], 2);
    assert!(unknown.stderr.contains("audit runs"), "{}", unknown.stderr);
    // Both runs' ids start with the same time-ordered digits.
    let shared: String = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    assert!(!shared.is_empty());
    let ambiguous = case.expect(&["audit", "show", "--run", &shared], 2);
    assert!(
        ambiguous.stderr.contains("runs start with it"),
        "{}",
        ambiguous.stderr
    );
    let csv = case.expect(&["audit", "show", "--format", "csv"], 2);
    assert!(csv.stderr.contains("csv"), "{}", csv.stderr);
    let requests = case.expect(&["request", "list"], 0);
    assert!(
        requests.stdout.ends_with("\n1 request\n"),
        "{}",
        requests.stdout
    );
}

const ACCOUNTS: &str = "category: accounts
description: Closed accounts
source: \"Privacy Policy, 'Account data'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: closed_at
    subject: id
";

/// Every word an output may use for records a pass leaves alone: `held` (a legal hold)
/// and `locked` (a row still referenced, a row or object under a lock). `blocked` was the
/// plan's word for the second until issue 17; no output may use it again.
fn says_locked_not_blocked(what: &str, text: &str, locked_expected: bool) {
    let lower = text.to_lowercase();
    assert!(!lower.contains("blocked"), "{what} says `blocked`:\n{text}");
    if locked_expected {
        assert!(
            lower.contains("locked"),
            "{what} does not say `locked`:\n{text}"
        );
    }
}

/// The same rows — an expired account still referenced by an order, and an expired
/// account under a hold — are called the same in the plan (every format), the run's
/// summary, JSON log and metrics (the file named by `RETENTION_METRICS_FILE`), the audit
/// log and its reports, and an erasure's report and certificate.
#[tokio::test]
async fn one_word_per_concept_in_every_output() {
    let case = Case::new(Db::Sqlite, &[("accounts.yaml", ACCOUNTS)]).await;
    let old = ago(Db::Sqlite, 90);
    case.db
        .exec("CREATE TABLE accounts (id BIGINT PRIMARY KEY, closed_at TEXT)")
        .await;
    case.db
        .exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts (id))")
        .await;
    // 1 and 2 expired and free, 3 held, 4 and 5 referenced by orders, 6 fresh.
    case.db
        .exec(&format!(
            "INSERT INTO accounts VALUES (1, '{old}'), (2, '{old}'), (3, '{old}'), (4, '{old}'), \
             (5, '{old}'), (6, '{}')",
            ago(Db::Sqlite, 1)
        ))
        .await;
    case.db
        .exec("INSERT INTO orders VALUES (10, 4), (11, 5)")
        .await;
    // Signed, so that the erasure's certificate can be made.
    let keys = case.expect(&["audit", "keygen", "--name", "example.org/words"], 0);
    let private = keys.stdout.lines().next().unwrap().to_owned();
    let config = case.dir.path().join("retention.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "  pseudonym_key:",
        &format!("  signing_key: {private}\n  pseudonym_key:"),
    );
    std::fs::write(&config, text).unwrap();
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "3", "--reason", "litigation"],
        0,
    );

    let plan_json = case.expect(&["plan", "--format", "json"], 0).stdout;
    let plan: serde_json::Value = serde_json::from_str(&plan_json).unwrap();
    let t = &plan["targets"][0];
    assert_eq!(
        (
            t["matched"].as_u64(),
            t["held"].as_u64(),
            t["locked"].as_u64()
        ),
        (Some(2), Some(1), Some(2)),
        "{plan_json}"
    );
    says_locked_not_blocked("plan --format json", &plan_json, true);
    for format in ["text", "csv", "md", "html"] {
        let out = case.expect(&["plan", "--format", format], 0).stdout;
        says_locked_not_blocked(&format!("plan --format {format}"), &out, true);
    }

    let metrics = case.dir.path().join("metrics.prom");
    let run = crate::support::cli::retention(
        case.dir.path(),
        &["--log-format", "json", "run"],
        &[
            ("APP_URL", case.db.url.as_str()),
            ("RETENTION_METRICS_FILE", metrics.to_str().unwrap()),
            ("RETENTION_LOG", "info"),
        ],
    )
    .expect_code(0);
    says_locked_not_blocked("the run's summary", &run.stdout, true);
    says_locked_not_blocked("the run's JSON log", &run.stderr, true);
    let finished = json_lines(&run.stderr)
        .into_iter()
        .find(|l| l.str("message") == "Finished a target.")
        .expect("a line per target");
    assert_eq!(finished.get("locked"), Some(&serde_json::json!(2)));
    assert_eq!(finished.get("held"), Some(&serde_json::json!(1)));
    let prom = std::fs::read_to_string(&metrics).expect("RETENTION_METRICS_FILE is written");
    says_locked_not_blocked("the metrics file", &prom, true);
    assert!(
        prom.lines()
            .any(|l| l.starts_with("retention_rows_locked{") && l.ends_with(" 2")),
        "{prom}"
    );
    assert_eq!(
        case.column("SELECT CAST(id AS TEXT) FROM accounts ORDER BY id")
            .await,
        ["3", "4", "5", "6"].map(|s| Some(s.to_owned()))
    );

    let id = run_id(&run.stdout);
    for format in ["text", "json", "md", "html"] {
        let out = case
            .expect(&["audit", "show", "--run", &id, "--format", format], 0)
            .stdout;
        says_locked_not_blocked(&format!("audit show --format {format}"), &out, true);
    }

    let dry = case.expect(
        &["erase", "--subject", "4", "--ticket", "T-4", "--dry-run"],
        0,
    );
    says_locked_not_blocked("erase --dry-run", &dry.stdout, true);
    assert!(!dry.stdout.contains("referenced  "), "{}", dry.stdout);
    let erase = case.expect(&["erase", "--subject", "4", "--ticket", "T-4"], 0);
    says_locked_not_blocked("erase", &format!("{}{}", erase.stdout, erase.stderr), true);
    for format in ["html", "json"] {
        let out = case
            .expect(
                &[
                    "audit",
                    "certificate",
                    "--ticket",
                    "T-4",
                    "--format",
                    format,
                ],
                0,
            )
            .stdout;
        says_locked_not_blocked(&format!("audit certificate --format {format}"), &out, true);
    }
    let list = case.expect(&["request", "list"], 0).stdout;
    says_locked_not_blocked("request list", &list, false);
}
