//! What an operator reads when something is not set up or not right, through the real
//! binary: commands before `migrate`, what `migrate` did, S3 without credentials, a rule
//! that keeps forever yet deletes on expiry, a cron value out of range, and a plan's guard
//! for a target that could not be surveyed.

use crate::support::case::Case;
use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, TestDb, APP_CONFIG};
use std::process::Command;

const EVENTS: &str = "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
    subject: account_id
";

/// `events`, empty, shaped as [`EVENTS`] says.
async fn create_events(db: &TestDb) {
    let ts = db.kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, created_at {ts} NOT NULL)"
    ))
    .await;
}

/// Before `retention migrate`, every command that needs the tool's tables exits 2 (the
/// state store is not set up: nothing ran) with one sentence naming the store and
/// `retention migrate`, the database's "no such table" neither shown nor repeated.
async fn before_migrate_every_command_on_the_tool_s_tables_says_once_to_run_migrate(db: Db) {
    let case = Case::new(db, &[("events.yaml", EVENTS)]).await;
    create_events(&case.db).await;
    for args in [
        &["hold", "list"][..],
        &["request", "list"],
        &["audit", "show"],
        &["audit", "verify"],
        &["audit", "runs"],
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        &["hold", "remove", "--subject", "7"],
        &["request", "add", "--subject", "7", "--ticket", "T-1"],
        &["run"],
        &["erase", "--subject", "7", "--ticket", "T-2"],
    ] {
        let out = case.expect(args, 2);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains("the state store `app` has no tables of the tool yet")
                && said.contains("run `retention migrate`"),
            "{args:?}: {said}"
        );
        assert_eq!(
            said.matches("retention migrate").count(),
            1,
            "{args:?} says it once: {said}"
        );
        assert_eq!(
            said.matches("`app`").count(),
            1,
            "{args:?} names the store once: {said}"
        );
        for noise in [
            "error returned from database",
            "does not exist",
            "no such table",
            "doesn't exist",
        ] {
            assert!(!said.contains(noise), "{args:?}: {said}");
        }
    }
    // Plans and dry runs still work before `migrate` (SPEC §5).
    case.expect(&["plan"], 0);
    case.expect(&["run", "--dry-run"], 0);
}

/// The first `migrate` says what it created and applied; "up to date" only when it
/// applied nothing.
async fn migrate_says_what_it_applied_and_up_to_date_only_the_second_time(db: Db) {
    let case = Case::new(db, &[("events.yaml", EVENTS)]).await;
    let first = case.expect(&["migrate"], 0);
    assert!(
        first
            .stdout
            .contains("Created the tool's tables in the state store `app`: applied ")
            && first.stdout.contains("0001 state"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("up to date"), "{}", first.stdout);
    let again = case.expect(&["migrate"], 0);
    assert!(
        again
            .stdout
            .contains("The state store `app` is up to date: nothing to apply"),
        "{}",
        again.stdout
    );
    // Nothing but the tool speaks: no server notice ("relation … already exists").
    assert!(!again.stderr.contains("already exists"), "{}", again.stderr);
}

/// `plan --format json` never says `"guard": "ok"` of a target it could not survey: the
/// guard is null beside the error, the plan exits 1, and the target that was surveyed
/// still says `ok`.
async fn a_target_that_could_not_be_surveyed_has_no_guard_verdict_in_the_json_plan(db: Db) {
    let missing = EVENTS
        .replace("category: events", "category: gone")
        .replace("table: events", "table: no_such_table");
    let case = Case::new(db, &[("events.yaml", EVENTS), ("gone.yaml", &missing)]).await;
    create_events(&case.db).await;
    case.expect(&["migrate"], 0);
    let out = case.expect(&["plan", "--format", "json"], 1);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    let target = |name: &str| {
        plan["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["target"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {plan}"))
    };
    let gone = target("no_such_table");
    assert!(gone["error"].is_string(), "{gone}");
    assert!(
        gone["guard"].is_null(),
        "no verdict for a failed target: {gone}"
    );
    assert!(
        gone.as_object().is_some_and(|o| o.contains_key("guard")),
        "{gone}"
    );
    assert_eq!(target("events")["guard"], "ok", "{plan}");
    // The CSV plan leaves the verdict empty too; the text plan says `error`.
    let csv = case.expect(&["plan", "--format", "csv"], 1);
    let row = csv
        .stdout
        .lines()
        .find(|l| l.contains("no_such_table"))
        .unwrap_or_default();
    assert!(!row.contains(",ok,"), "{row}");
}

crate::support::on_every_dialect!(Db:
    before_migrate_every_command_on_the_tool_s_tables_says_once_to_run_migrate,
    migrate_says_what_it_applied_and_up_to_date_only_the_second_time,
    a_target_that_could_not_be_surveyed_has_no_guard_verdict_in_the_json_plan,
);

/// A rule that keeps its data forever yet says `on_expiry: delete` is valid (SPEC §3
/// allows `forever` with any action) but never deletes anything: `check` and `run` warn,
/// naming the file, the line and the field.
#[tokio::test]
async fn a_rule_kept_forever_that_deletes_on_expiry_is_warned_about_with_file_line_and_field() {
    let forever = "category: accounts
description: Account details
source: \"Privacy Policy, 'Account information'\"
retain: forever
on_expiry: delete
targets:
  - store: app
    table: events
    key: [id]
    subject: account_id
";
    let case = Case::new(Db::Sqlite, &[("accounts.yaml", forever)]).await;
    create_events(&case.db).await;
    let warning = "rules/accounts.yaml:5: on_expiry: `retain: forever` means nothing ever expires";
    let check = case.expect(&["check"], 0);
    assert!(check.stderr.contains(warning), "{}", check.stderr);
    assert!(check.stdout.starts_with("ok: 1 rule"), "{}", check.stdout);
    case.expect(&["migrate"], 0);
    let run = case.expect(&["run"], 0);
    assert!(run.stderr.contains(warning), "{}", run.stderr);
    // `keep`, written or left out, is what such a rule means: no warning.
    let kept = forever.replace("on_expiry: delete\n", "");
    write_files(case.dir.path(), &[("rules/accounts.yaml", &kept)]);
    let check = case.expect(&["check"], 0);
    assert!(!check.stderr.contains("warning"), "{}", check.stderr);
}

/// A cron value out of range names the bound it may reach ("at most 59"), not one below
/// it, with the file, the line and the field.
#[test]
fn a_cron_minute_out_of_range_is_refused_with_the_highest_minute_allowed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_files(
        dir.path(),
        &[
            ("retention.yaml", APP_CONFIG),
            (
                "rules/events.yaml",
                &EVENTS.replace("targets:", "schedule: \"61 3 * * *\"\ntargets:"),
            ),
        ],
    );
    let out =
        retention(dir.path(), &["check"], &[("APP_URL", "sqlite://unused.db")]).expect_code(2);
    assert!(
        out.stderr.contains(
            "rules/events.yaml:6: schedule: `61 3 * * *` is not a valid cron expression \
             (Minutes must be at most 59, `61` given)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("less than"), "{}", out.stderr);
}

/// An S3 store without any credentials (none in the environment, no ~/.aws, no instance
/// metadata) is reported as such — naming the store, the endpoint and where credentials
/// come from — not as an unreachable endpoint, and without the SDK's debug dump.
#[tokio::test]
async fn an_s3_store_without_credentials_says_how_to_provide_them() {
    let endpoint = crate::support::s3::endpoint();
    let db = TestDb::fresh(Db::Sqlite).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let home = tempfile::tempdir().expect("an empty home without ~/.aws");
    let config = format!(
        "stores:
  app:
    url: ${{APP_URL}}
  media: {{s3: {{bucket: media, region: us-east-1, endpoint: \"{endpoint}\", path_style: true}}}}
state: app
audit:
  pseudonym_key: test-pseudonym-key-0123456789abcdef0123456789
rules: ./rules
"
    );
    let photos = "category: photos
description: Photos
source: \"Privacy Policy, 'Photos'\"
retain: 30d
on_expiry: delete
targets:
  - store: media
    prefix: photos/
    timestamp: last_modified
";
    write_files(
        dir.path(),
        &[("retention.yaml", &config), ("rules/photos.yaml", photos)],
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
    cmd.current_dir(dir.path())
        .arg("--config")
        .arg(dir.path().join("retention.yaml"))
        .arg("plan")
        .env("RETENTION_LOG", "warn")
        .env("APP_URL", &db.url)
        .env("HOME", home.path());
    // The test process holds moto's credentials in its environment: none reach the binary,
    // which then also asks the instance metadata service (none here), and the SDK's
    // credential chain logs each provider's failure with a debug dump.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    let out = cmd.output().expect("the binary runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("store `media`"), "{said}");
    assert!(said.contains(endpoint), "names the endpoint: {said}");
    assert!(said.contains("no AWS credentials were found"), "{said}");
    for how in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "~/.aws",
    ] {
        assert!(said.contains(how), "says {how}: {said}");
    }
    assert!(!said.contains("cannot reach"), "{said}");
    for debug in [
        "CredentialsNotLoaded",
        "source: Some(",
        "ConnectorError",
        " { ",
    ] {
        assert!(!said.contains(debug), "a debug dump ({debug}): {said}");
    }
}

/// On a log kept without a signing key, `audit certificate` cannot find a signed
/// checkpoint however many runs follow: it says the key is what is missing, not to run
/// again.
#[tokio::test]
async fn a_certificate_on_an_unsigned_log_says_a_signing_key_is_needed() {
    let case = Case::new(Db::Sqlite, &[("events.yaml", EVENTS)]).await;
    create_events(&case.db).await;
    case.expect(&["migrate"], 0);
    case.expect(&["erase", "--subject", "7", "--ticket", "T-9"], 0);
    let out = case.expect(&["audit", "certificate", "--ticket", "T-9"], 1);
    assert!(
        out.stderr.contains("only with audit.signing_key set")
            && out.stderr.contains("retention audit keygen"),
        "{}",
        out.stderr
    );
}
