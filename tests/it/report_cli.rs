//! `retention plan --format md|html|csv --out FILE [--as-of TIME]` through the binary,
//! on real databases: the report names the category, its cutoff and the holds in force
//! by reason, previews a later date, and never contains a subject id or a record value.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb};
use chrono::{DateTime, Duration, Utc};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

const CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
rules: ./rules
";

// The source has no comma, so the CSV columns of this test split plainly.
const LOCATION: &str = "category: location
description: Location information
source: \"Privacy Policy 'Location information'\"
retain: 90d
on_expiry: delete
targets:
  - store: app
    table: device_locations
    key: [id]
    timestamp: recorded_at
    subject: account_id
";

/// A subject id and a value that must never appear in a report.
const SECRET_SUBJECT: &str = "subject-7731-secret";
const SECRET_IP: &str = "203.0.113.77";

fn literal(db: Db, t: DateTime<Utc>) -> String {
    match db {
        Db::Postgres => format!("'{}'", t.to_rfc3339()),
        Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        Db::Sqlite => format!("'{}'", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }
}

async fn setup(kind: Db) -> (TestDb, tempfile::TempDir, Vec<(&'static str, String)>) {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    let now = Utc::now();
    let old = literal(kind, now - Duration::days(400));
    let soon = literal(kind, now - Duration::days(60));
    let fresh = literal(kind, now - Duration::days(1));
    db.exec(&format!(
        "CREATE TABLE device_locations (id BIGINT PRIMARY KEY, account_id VARCHAR(40),
                                        recorded_at {ts} NULL, ip_address VARCHAR(45));
         INSERT INTO device_locations VALUES (1, 'subject-1', {old}, '198.51.100.1');
         INSERT INTO device_locations VALUES (2, '{SECRET_SUBJECT}', {old}, '{SECRET_IP}');
         INSERT INTO device_locations VALUES (3, 'subject-3', {soon}, '198.51.100.3');
         INSERT INTO device_locations VALUES (4, 'subject-4', {fresh}, '198.51.100.4')"
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("rules/location.yaml", LOCATION),
        ],
    );
    let env = vec![
        ("APP_URL", db.url.clone()),
        ("RETENTION_PSEUDONYM_KEY", KEY.to_owned()),
    ];
    run(&dir, &env, &["migrate"]).expect_code(0);
    db.exec(&format!(
        "INSERT INTO retention_holds (subject, reason, until_at, created_at)
         VALUES ('{SECRET_SUBJECT}', 'Litigation hold, matter 7', NULL, {})",
        literal(kind, now)
    ))
    .await;
    (db, dir, env)
}

fn run(dir: &tempfile::TempDir, env: &[(&'static str, String)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    retention(dir.path(), args, &env)
}

/// The `matched` column of the CSV row of the expired pass.
fn expired_matched(csv: &str) -> u64 {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[col("reason")] == "expired")
        .expect("an expired pass");
    row[col("matched")].parse().expect("a count")
}

async fn writes_reports_without_personal_data(kind: Db) {
    let (_db, dir, env) = setup(kind).await;
    let md = dir.path().join("plan.md");
    run(
        &dir,
        &env,
        &["plan", "--format", "md", "--out", md.to_str().unwrap()],
    )
    .expect_code(0);
    let html = dir.path().join("plan.html");
    let out = run(
        &dir,
        &env,
        &["plan", "--format", "html", "--out", html.to_str().unwrap()],
    )
    .expect_code(0);
    assert!(out.stdout.is_empty(), "--out writes the file, not stdout");
    let md = std::fs::read_to_string(md).unwrap();
    let html = std::fs::read_to_string(html).unwrap();
    assert!(md.contains("### location"), "{md}");
    assert!(
        md.contains("| `app/device_locations` | 4 | 1 | – | – | 1 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("| Litigation hold, matter 7 | 1 | until lifted |"),
        "{md}"
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h1>Retention plan</h1>"));
    for report in [&md, &html] {
        for secret in [SECRET_SUBJECT, SECRET_IP, "subject-1", "198.51.100"] {
            assert!(!report.contains(secret), "the report shows `{secret}`");
        }
    }
}

async fn previews_what_expires_by_a_later_date(kind: Db) {
    let (_db, dir, env) = setup(kind).await;
    let now = run(&dir, &env, &["plan", "--format", "csv"]).expect_code(0);
    let later = (Utc::now() + Duration::days(45))
        .format("%Y-%m-%d")
        .to_string();
    let then = run(&dir, &env, &["plan", "--format", "csv", "--as-of", &later]).expect_code(0);
    // Row 1 is expired now; row 3 (60 days old) expires within 45 days; row 2 is held.
    assert_eq!(expired_matched(&now.stdout), 1);
    assert_eq!(expired_matched(&then.stdout), 2);
    assert!(then
        .stdout
        .contains(&format!("{later}T00:00:00Z,location,")));
}

/// The id in the summary's last line, `Run <id> finished.`
fn run_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Run ")?.strip_suffix(" finished."))
        .unwrap_or_else(|| panic!("no run id in:\n{out}"))
        .to_owned()
}

/// A report of a run's entries chosen by ticket or subject leaves out the run's own
/// `run_start` and `run_end`: its start, end, status, rule digest and planned figures
/// must still be the run's, from the whole log, not claims read from their absence.
async fn a_report_by_ticket_or_subject_tells_the_runs_own_end(kind: Db) {
    let (_db, dir, env) = setup(kind).await;
    run(
        &dir,
        &env,
        &[
            "request",
            "add",
            "--subject",
            "subject-1",
            "--ticket",
            "CERT-1",
        ],
    )
    .expect_code(0);
    let id = run_id(&run(&dir, &env, &["run"]).expect_code(0).stdout);
    let runs = run(&dir, &env, &["audit", "runs"]).expect_code(0).stdout;
    let line = runs.lines().find(|l| l.starts_with(&id)).expect("the run");
    assert!(line.contains(" run ") && line.contains(" ok "), "{runs}");
    let whole = run(
        &dir,
        &env,
        &["audit", "show", "--run", &id, "--format", "md"],
    )
    .expect_code(0)
    .stdout;
    assert!(whole.contains("- **Status:** ok"), "{whole}");
    assert!(whole.contains("| request CERT-1 | 1 | 1 |"), "{whole}");

    let filters: [&[&str]; 4] = [
        &["--ticket", "CERT-1"],
        &["--subject", "subject-1"],
        &["--run", &id, "--ticket", "CERT-1"],
        &["--run", &id, "--subject", "subject-1"],
    ];
    for filter in filters {
        for format in ["md", "html"] {
            let mut args = vec!["audit", "show", "--format", format];
            args.extend_from_slice(filter);
            let report = run(&dir, &env, &args).expect_code(0).stdout;
            let what = format!("audit show {}\n{report}", args[2..].join(" "));
            for false_claim in [
                "no run_end entry",
                "The rule set has changed",
                "Planned figures are not in this log",
                "**Ended:** –",
                "<dt>Ended</dt><dd>–</dd>",
            ] {
                assert!(!report.contains(false_claim), "`{false_claim}` in {what}");
            }
            // The run's status, from its run_end; the request's plan against its change.
            let (status, planned) = if format == "md" {
                (
                    report.contains("- **Status:** ok")
                        || report
                            .lines()
                            .any(|l| l.starts_with(&format!("| {id} |")) && l.contains("| ok |")),
                    report.contains("| request CERT-1 | 1 | 1 |"),
                )
            } else {
                (
                    report.contains("<dt>Status</dt><dd>ok</dd>")
                        || report.contains("<td>ok</td><td>sha256:"),
                    report.contains(
                        "request CERT-1</span></td><td class=\"n\">1</td><td class=\"n\">1</td>",
                    ),
                )
            };
            assert!(status, "the run's status `ok` is not in {what}");
            assert!(
                planned,
                "the request's planned 1 and changed 1 are not in {what}"
            );
            assert!(report.contains("only the entries of"), "{what}");
            for secret in [SECRET_SUBJECT, "subject-1", "hmac:"] {
                assert!(!report.contains(secret), "`{secret}` in {what}");
            }
        }
    }

    // A rule set that did change is still said to have changed, in a selection too.
    write_files(
        dir.path(),
        &[("rules/location.yaml", &LOCATION.replace("90d", "120d"))],
    );
    for format in ["md", "html"] {
        let report = run(
            &dir,
            &env,
            &["audit", "show", "--ticket", "CERT-1", "--format", format],
        )
        .expect_code(0)
        .stdout;
        assert!(report.contains("The rule set has changed"), "{report}");
    }
}

mod sqlite {
    #[tokio::test]
    async fn a_report_by_ticket_or_subject_tells_the_runs_own_end_and_plan() {
        super::a_report_by_ticket_or_subject_tells_the_runs_own_end(super::Db::Sqlite).await
    }
    #[tokio::test]
    async fn a_markdown_and_html_plan_is_written_to_a_file_without_personal_data() {
        super::writes_reports_without_personal_data(super::Db::Sqlite).await
    }
    #[tokio::test]
    async fn a_plan_as_of_a_later_date_shows_what_will_have_expired_by_then() {
        super::previews_what_expires_by_a_later_date(super::Db::Sqlite).await
    }
}

mod postgres {
    #[tokio::test]
    async fn a_report_by_ticket_or_subject_tells_the_runs_own_end_and_plan() {
        super::a_report_by_ticket_or_subject_tells_the_runs_own_end(super::Db::Postgres).await
    }
    #[tokio::test]
    async fn a_markdown_and_html_plan_is_written_to_a_file_without_personal_data() {
        super::writes_reports_without_personal_data(super::Db::Postgres).await
    }
    #[tokio::test]
    async fn a_plan_as_of_a_later_date_shows_what_will_have_expired_by_then() {
        super::previews_what_expires_by_a_later_date(super::Db::Postgres).await
    }
}

mod mysql {
    #[tokio::test]
    async fn a_report_by_ticket_or_subject_tells_the_runs_own_end_and_plan() {
        super::a_report_by_ticket_or_subject_tells_the_runs_own_end(super::Db::MySql).await
    }
    #[tokio::test]
    async fn a_markdown_and_html_plan_is_written_to_a_file_without_personal_data() {
        super::writes_reports_without_personal_data(super::Db::MySql).await
    }
}
