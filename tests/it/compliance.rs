//! What a compliance officer gets through the binary, beyond coverage: the record of
//! processing (`ropa`) for every shipped category; pending erasure requests in every plan
//! (age, due date, overdue flag, per-request counts, a subject found nowhere); run reports
//! with planned against changed records per target, kept categories, policy clauses and
//! the duration (on a real schema and on the demo); and an export that leaves credentials
//! and `export_exclude` columns out, saying so.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb, APP_CONFIG};
use chrono::{DateTime, Utc};
use expect_test::expect_file;
use retention::config::StoreConfig;
use retention::rules::shipped::FILES;
use retention::rules::RuleSet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A directory with `config` as `retention.yaml` and `rules` under `rules/`.
fn sandbox(config: &str, rules: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("retention.yaml", config)]);
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    for (name, text) in rules {
        write_files(dir.path(), &[(&format!("rules/{name}"), text)]);
    }
    dir
}

// ---------------------------------------------------------------------------------------
// ropa
// ---------------------------------------------------------------------------------------

const SHIPPED_CONFIG: &str = "stores:
  app: {url: \"sqlite://app.db\"}
  media: {dir: ./media}
state: app
audit:
  pseudonym_key: \"0123456789abcdef0123456789abcdef\"
rules: ./rules
";

pub fn shipped_rules() -> RuleSet {
    let stores = BTreeMap::from([
        (
            "app".to_owned(),
            StoreConfig::Sql {
                url: secrecy::SecretString::from("sqlite://app.db".to_owned()),
            },
        ),
        (
            "media".to_owned(),
            StoreConfig::Dir {
                path: PathBuf::from("media"),
            },
        ),
    ]);
    let files: Vec<(PathBuf, Vec<u8>)> = FILES
        .iter()
        .map(|(n, t)| (PathBuf::from("rules").join(n), t.as_bytes().to_vec()))
        .collect();
    retention::rules::parse(&files, &stores).unwrap_or_else(|d| panic!("{d}"))
}

pub fn ropa_input<'a>(
    rules: &'a RuleSet,
    stores: &'a BTreeMap<String, StoreConfig>,
) -> retention::report::ropa::RopaInput<'a> {
    retention::report::ropa::RopaInput {
        rules: &rules.rules,
        stores,
        rules_digest: &rules.digest,
        generated: "2026-11-23T03:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    }
}

pub fn shipped_stores() -> BTreeMap<String, StoreConfig> {
    retention::config::parse(
        Path::new("/srv/retention/retention.yaml"),
        SHIPPED_CONFIG
            .replace("rules: ./rules\n", "rules: /\n")
            .as_bytes(),
        &|_| None,
    )
    .unwrap_or_else(|d| panic!("{d}"))
    .stores
}

/// The record of the shipped rule set, whole (`UPDATE_EXPECT=1` rewrites it; the copy
/// under docs/examples/ is kept current by the same test).
#[test]
fn the_record_of_processing_of_the_shipped_rules_matches_its_snapshot() {
    let rules = shipped_rules();
    let stores = shipped_stores();
    let md = retention::report::ropa::md(&ropa_input(&rules, &stores));
    expect_file!["snapshots/ropa.md"].assert_eq(&md);
    expect_file!["../../docs/examples/ropa.md"].assert_eq(&md);
    expect_file!["../../docs/examples/ropa.html"]
        .assert_eq(&retention::report::ropa::html(&ropa_input(&rules, &stores)));
}

/// Parses CSV with Python's `csv` module: an implementation that shares nothing with ours.
fn parse_csv(path: &Path) -> Vec<Vec<String>> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))))",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ropa_gives_every_shipped_category_in_markdown_html_and_csv() {
    let rules_files: Vec<(&str, &str)> = FILES.to_vec();
    let dir = sandbox(SHIPPED_CONFIG, &rules_files);
    let rules = shipped_rules();
    assert!(rules.rules.len() >= 20);

    let md = retention(dir.path(), &["ropa"], &[]).expect_code(0).stdout;
    let html_path = dir.path().join("ropa.html");
    let csv_path = dir.path().join("ropa.csv");
    let quiet = retention(
        dir.path(),
        &[
            "ropa",
            "--format",
            "html",
            "--out",
            html_path.to_str().unwrap(),
        ],
        &[],
    )
    .expect_code(0);
    assert!(quiet.stdout.is_empty());
    retention(
        dir.path(),
        &[
            "ropa",
            "--format",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ],
        &[],
    )
    .expect_code(0);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !dir.path().join("app.db").exists(),
        "ropa connects to nothing"
    );

    let csv = parse_csv(&csv_path);
    assert_eq!(
        csv[0],
        [
            "category",
            "description",
            "source",
            "retain",
            "retention_period",
            "on_expiry",
            "on_erasure",
            "keep_reason",
            "stores",
            "targets",
            "rule_file",
            "rule_sha256"
        ]
    );
    assert_eq!(csv.len(), 1 + rules.rules.len(), "one row per category");
    for (rule, row) in rules.rules.iter().zip(&csv[1..]) {
        assert_eq!(row.len(), 12, "{row:?}");
        assert_eq!(row[0], rule.category);
        assert_eq!(
            row[1],
            rule.description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(row[3], rule.retain.to_string());
        assert_eq!(row[11], rule.sha256);
        for t in &rule.targets {
            assert!(
                row[9].contains(t.name()),
                "{} missing from {row:?}",
                t.name()
            );
            assert!(row[8].contains(t.store()));
        }
        let keep = rule.keep_reason.as_deref().map(str::trim).unwrap_or("");
        assert_eq!(
            row[7],
            keep.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(
            row[6] == "kept, for the legal reason given",
            rule.on_erasure == retention::rules::Action::Keep
        );
        assert!(
            md.contains(&format!("## {}\n", rule.category)),
            "{}",
            rule.category
        );
        assert!(html.contains(&format!("id=\"ropa-{}\"", rule.category)));
    }
    let invoices = csv.iter().find(|r| r[0] == "invoices").unwrap();
    assert_eq!(
        (invoices[4].as_str(), invoices[5].as_str()),
        ("7 years", "deleted")
    );
    assert!(!invoices[7].is_empty(), "the legal reason to keep invoices");
}

// ---------------------------------------------------------------------------------------
// Pending erasure requests in every plan
// ---------------------------------------------------------------------------------------

const ACCOUNTS_RULE: &str = "category: accounts
description: Accounts
source: \"Privacy notice, 'Accounts'\"
retain: 30d
on_expiry: delete
on_erasure: delete
targets:
  - {store: app, table: accounts, key: [id], timestamp: closed_at, subject: id}
  - {store: app, table: sessions, key: [id], timestamp: seen_at, subject: account_id}
";

/// A SQLite app with two accounts and three sessions (no foreign key between them, so
/// no account waits for its sessions), migrated, and two requests queued:
/// one for account 1, received 40 days ago, one for an id that exists nowhere.
async fn shop_with_requests(config: &str) -> (TestDb, tempfile::TempDir) {
    let db = TestDb::fresh(Db::Sqlite).await;
    db.exec(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, closed_at TEXT);
         CREATE TABLE sessions (id INTEGER PRIMARY KEY, account_id INTEGER, seen_at TEXT);
         INSERT INTO accounts VALUES (1, 'ada@example.com', NULL), (2, 'bob@example.com', NULL);
         INSERT INTO sessions VALUES (10, 1, datetime('now', '-1 day')), (11, 1, datetime('now', '-2 days')), (12, 2, datetime('now', '-1 day'))",
    )
    .await;
    let dir = sandbox(config, &[("accounts.yaml", ACCOUNTS_RULE)]);
    let run = |args: &[&str]| retention(dir.path(), args, &[("APP_URL", &db.url)]);
    run(&["migrate"]).expect_code(0);
    run(&["request", "add", "--subject", "1", "--ticket", "DSAR-OLD"]).expect_code(0);
    run(&[
        "request",
        "add",
        "--subject",
        "999",
        "--ticket",
        "DSAR-NOBODY",
    ])
    .expect_code(0);
    let forty_days_ago = (Utc::now() - chrono::Duration::days(40)).to_rfc3339();
    db.exec(&format!(
        "UPDATE retention_requests SET created_at = '{forty_days_ago}' WHERE ticket = 'DSAR-OLD'"
    ))
    .await;
    (db, dir)
}

fn line_of<'a>(out: &'a str, ticket: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(ticket))
        .unwrap_or_else(|| panic!("no line for {ticket}:\n{out}"))
}

#[tokio::test]
async fn pending_requests_appear_in_the_text_plan_and_the_dry_run_with_age_counts_and_flags() {
    let (db, dir) = shop_with_requests(APP_CONFIG).await;
    let run = |args: &[&str]| -> Run { retention(dir.path(), args, &[("APP_URL", &db.url)]) };
    let before = db.checksum().await;
    for args in [&["plan"][..], &["run", "--dry-run"][..]] {
        let out = run(args).expect_code(0).stdout;
        assert!(
            out.contains("Pending erasure requests (deadline 30d):"),
            "{out}"
        );
        let old = line_of(&out, "DSAR-OLD");
        // Account 1 and its two sessions, in two targets; waited 40 days of 30.
        let cells: Vec<&str> = old.split_whitespace().collect();
        assert_eq!(cells[2..4], ["40", "days"], "{old}");
        assert_eq!(
            cells[5..8],
            ["2", "3", "0"],
            "targets, matched, held: {old}"
        );
        assert!(old.ends_with("OVERDUE"), "{old}");
        let nobody = line_of(&out, "DSAR-NOBODY");
        assert!(nobody.ends_with("SUBJECT FOUND IN NO TARGET"), "{nobody}");
        assert!(!nobody.contains("OVERDUE"), "{nobody}");
        assert!(out.contains("1 request(s) waited longer than 30d"), "{out}");
    }
    assert_eq!(
        db.checksum().await,
        before,
        "plan and --dry-run change nothing"
    );

    let json: Value =
        serde_json::from_str(&run(&["plan", "--format", "json"]).expect_code(0).stdout).unwrap();
    let reqs = json["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["ticket"], "DSAR-OLD");
    assert_eq!(
        (&reqs[0]["targets"], &reqs[0]["matched"], &reqs[0]["held"]),
        (&Value::from(2), &Value::from(3), &Value::from(0))
    );
    assert_eq!(reqs[0]["overdue"], true);
    assert_eq!(reqs[0]["subject_found"], true);
    assert_eq!(reqs[1]["subject_found"], false);
    assert_eq!(reqs[1]["overdue"], false);

    let md = run(&["plan", "--format", "md"]).expect_code(0).stdout;
    let row = md
        .lines()
        .find(|l| l.starts_with("| DSAR-OLD |"))
        .expect("a row");
    assert!(row.ends_with("| 2 | 3 | 0 | **overdue** |"), "{row}");
    assert!(
        md.contains("| 0 | 0 | 0 | **subject found in no target** |"),
        "{md}"
    );
    // The sessions table's `Requested` column counts the subject's two sessions.
    assert!(md.contains("| `app/sessions` | 3 | 0 | – | 2 |"), "{md}");
}

#[tokio::test]
async fn a_longer_deadline_in_the_config_lifts_the_overdue_flag() {
    let config = format!("{APP_CONFIG}requests:\n  deadline: 8w\n");
    let (db, dir) = shop_with_requests(&config).await;
    let out = retention(dir.path(), &["plan"], &[("APP_URL", &db.url)])
        .expect_code(0)
        .stdout;
    assert!(
        out.contains("Pending erasure requests (deadline 8w):"),
        "{out}"
    );
    assert!(!line_of(&out, "DSAR-OLD").contains("OVERDUE"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Run reports
// ---------------------------------------------------------------------------------------

/// Every row of a Markdown run report's "What was done": planned, changed and outcome.
fn done_rows(md: &str) -> Vec<(String, Option<u64>, u64, String)> {
    let section = md
        .split("## What was done")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a What was done section");
    let num = |s: &str| s.trim().replace(',', "").parse::<u64>().ok();
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Category") && !l.starts_with("| ---"))
        .map(|l| {
            let c: Vec<&str> = l.split(" | ").collect();
            (
                format!(
                    "{} {} {} {}",
                    c[0].trim_start_matches("| "),
                    c[1],
                    c[2],
                    c[3]
                ),
                num(c[4]),
                num(c[5]).expect("a changed count"),
                c[9].trim_end_matches(" |").to_owned(),
            )
        })
        .collect()
}

/// Planned equals changed, or the row says by how much it differs: never a silent gap.
fn assert_planned_or_flagged(md: &str) {
    let rows = done_rows(md);
    assert!(!rows.is_empty(), "{md}");
    for (what, planned, changed, outcome) in rows {
        let planned = planned.unwrap_or_else(|| panic!("{what} has no planned figure:\n{md}"));
        if outcome.contains("refused") {
            continue;
        }
        assert_eq!(
            planned != changed,
            outcome.contains("than planned"),
            "{what}: planned {planned}, changed {changed}, outcome {outcome}"
        );
    }
}

/// The run id a `run` printed.
fn run_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Run ")?.strip_suffix(" finished."))
        .unwrap_or_else(|| panic!("no run id in:\n{out}"))
        .to_owned()
}

/// Sums the `count` of every ok batch entry of a run, per category and target, from
/// `audit show --format json`: the oracle for "Changed".
fn changed_per_target(json: &str) -> BTreeMap<String, u64> {
    // One entry per line (a JSON array is read as well).
    let entries: Vec<Value> = match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(a)) => a,
        _ => json
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("an audit entry is JSON"))
            .collect(),
    };
    let mut out = BTreeMap::new();
    for e in &entries {
        let e = if e.get("entry").is_some() {
            &e["entry"]
        } else {
            e
        };
        if e["kind"] == "batch" && e["outcome"] == "ok" {
            *out.entry(format!(
                "{} `{}/{}`",
                e["category"].as_str().unwrap(),
                e["store"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            ))
            .or_default() += e["count"].as_u64().unwrap();
        }
    }
    out
}

const CHINOOK_RULES: &[(&str, &str)] = &[
    (
        "customers.yaml",
        "category: customers
description: Customer accounts of the store
source: \"Chinook privacy notice, 'Your account'\"
retain: forever
on_erasure: delete
targets:
  - {store: app, table: customer, key: [customer_id], subject: customer_id}
",
    ),
    (
        "invoice_lines.yaml",
        "category: invoice_lines
description: What was bought
source: \"Chinook privacy notice, 'Purchases'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: invoice_line
    key: [invoice_line_id]
    subject: {column: invoice_id, via: {table: invoice, key: invoice_id, subject: customer_id}}
",
    ),
    (
        "invoices.yaml",
        "category: invoices
description: Invoices with the billing address
source: \"Chinook privacy notice, 'Purchases'\"
retain: 3y
on_expiry: delete
on_erasure: keep
keep_reason: Tax law keeps invoices for seven years.
allow_mass_delete: true
targets:
  - {store: app, table: invoice, key: [invoice_id], timestamp: invoice_date, subject: customer_id}
",
    ),
];

/// A run on the Chinook schema (expired invoices, some still referenced by their lines,
/// and an erasure request), then its report from the audit log.
#[tokio::test]
async fn a_run_report_on_a_real_schema_sets_planned_against_changed_and_shows_what_the_rules_keep()
{
    let db = TestDb::fresh(Db::Postgres).await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coverage-chinook");
    for f in ["schema.sql", "data.sql"] {
        let sql: String = std::fs::read_to_string(fixture.join(f))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .map(|l| format!("{l}\n"))
            .collect();
        db.exec(&sql).await;
    }
    let dir = sandbox(APP_CONFIG, CHINOOK_RULES);
    let run = |args: &[&str]| retention(dir.path(), args, &[("APP_URL", &db.url)]);
    run(&["migrate"]).expect_code(0);
    run(&["request", "add", "--subject", "2", "--ticket", "DSAR-7"]).expect_code(0);
    let out = run(&["run"]).expect_code(0).stdout;
    assert!(
        out.contains("Every target changed the records its pass planned.")
            || out.contains("Differs from plan"),
        "{out}"
    );
    let id = run_id(&out);
    let md = run(&["audit", "show", "--run", &id, "--format", "md"])
        .expect_code(0)
        .stdout;
    assert_planned_or_flagged(&md);
    // Changed is what the batches of the log say.
    let oracle = changed_per_target(
        &run(&["audit", "show", "--run", &id, "--format", "json"])
            .expect_code(0)
            .stdout,
    );
    let mut from_report: BTreeMap<String, u64> = BTreeMap::new();
    for (what, _, changed, _) in done_rows(&md) {
        let key = what.split(' ').take(2).collect::<Vec<_>>().join(" ");
        *from_report.entry(key).or_default() += changed;
    }
    from_report.retain(|_, n| *n > 0);
    assert_eq!(from_report, oracle, "{md}");
    // The request's rows carry its ticket; the kept category its legal reason; every
    // category its policy clause; the run its duration.
    assert!(md.contains("| request DSAR-7 |"), "{md}");
    assert!(
        md.contains("| invoices | on erasure requests | Tax law keeps invoices for seven years. |"),
        "{md}"
    );
    assert!(
        md.contains("| invoices | 3y | Chinook privacy notice, 'Purchases' |"),
        "{md}"
    );
    assert!(md.contains("- **Duration:** "), "{md}");
    assert!(!md.contains("The rule set has changed"), "{md}");
    assert!(
        md.contains("Every target changed what was planned."),
        "{md}"
    );

    // After a rule changes, the report says its policy text is today's.
    write_files(
        dir.path(),
        &[(
            "rules/invoices.yaml",
            &CHINOOK_RULES[2].1.replace("retain: 3y", "retain: 4y"),
        )],
    );
    let md = run(&["audit", "show", "--run", &id, "--format", "md"])
        .expect_code(0)
        .stdout;
    assert!(
        md.contains("The rule set has changed since this run"),
        "{md}"
    );
    let html = run(&["audit", "show", "--run", &id, "--format", "html"])
        .expect_code(0)
        .stdout;
    assert!(
        html.contains("<h2>Kept by the rules</h2>") && html.contains("<h2>Policy clauses</h2>")
    );
}

/// The demo's run: every target's planned figure equals what it changed, or the report
/// flags the difference.
#[test]
fn the_demo_run_report_sets_every_target_against_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = retention(dir.path(), &["demo", "--dir", demo.to_str().unwrap()], &[]);
    let out = out.expect_code(0).stdout;
    let id = run_id(&out);
    let md = retention(
        &demo,
        &["audit", "show", "--run", &id, "--format", "md"],
        &[],
    )
    .expect_code(0)
    .stdout;
    assert_planned_or_flagged(&md);
    let rows = done_rows(&md);
    assert!(rows.len() > 10, "{md}");
    assert!(md.contains("## Kept by the rules"), "{md}");
}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

fn staff_rule(exclude: &str) -> String {
    format!(
        "category: staff
description: Staff accounts
source: \"Sakila staff handbook, 'Your data'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: staff
    key: [staff_id]
    subject: staff_id
    export_exclude: [{exclude}]
"
    )
}

#[tokio::test]
async fn the_export_leaves_credentials_and_excluded_columns_out_and_says_why() {
    let db = TestDb::fresh(Db::MySql).await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coverage-sakila");
    for f in ["schema.sql", "data.sql"] {
        let sql: String = std::fs::read_to_string(fixture.join(f))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .map(|l| format!("{l}\n"))
            .collect();
        db.exec(&sql).await;
    }
    let hash = db
        .texts("SELECT CAST(password AS CHAR) FROM staff WHERE staff_id = 1")
        .await;
    let hash = hash[0].clone().expect("staff 1 has a password hash");
    let rule = staff_rule("picture");
    let dir = sandbox(APP_CONFIG, &[("staff.yaml", &rule)]);
    let out = retention(
        dir.path(),
        &["export", "--subject", "1"],
        &[("APP_URL", &db.url)],
    )
    .expect_code(0)
    .stdout;
    assert!(!out.contains(&hash), "the password hash was exported");
    let v: Value = serde_json::from_str(&out).unwrap();
    let staff = &v["categories"][0];
    let row = staff["rows"][0].as_object().unwrap();
    assert_eq!(row["email"], "Mike.Hillyer@sakilastaff.com");
    assert!(
        !row.contains_key("password") && !row.contains_key("picture"),
        "{row:?}"
    );
    assert!(row.contains_key("username"));
    let excluded = staff["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 2, "{excluded:?}");
    assert_eq!(
        (
            &excluded[0]["column"],
            &excluded[0]["reason"],
            &excluded[0]["why"]
        ),
        (
            &Value::from("password"),
            &Value::from("credential"),
            &Value::from("its name looks like a credential (password)")
        )
    );
    assert_eq!(
        (&excluded[1]["column"], &excluded[1]["reason"]),
        (&Value::from("picture"), &Value::from("export_exclude"))
    );
    // The rule file is named by its path as the configuration resolves it.
    let why = excluded[1]["why"].as_str().unwrap();
    assert!(
        why.starts_with("listed in export_exclude in ") && why.ends_with("rules/staff.yaml"),
        "{why}"
    );

    // A typo in export_exclude fails the target instead of exporting what it meant.
    let typo = staff_rule("pictures");
    write_files(dir.path(), &[("rules/staff.yaml", &typo)]);
    let run = retention(
        dir.path(),
        &["export", "--subject", "1"],
        &[("APP_URL", &db.url)],
    )
    .expect_code(1);
    assert!(
        run.stderr
            .contains("export_exclude names column `pictures`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("staff.yaml"), "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["incomplete"][0]["target"], "staff");
    assert!(!run.stdout.contains(&hash));
}
