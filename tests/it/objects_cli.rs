//! Object-store faults through the real binary: the target that cannot be processed fails
//! with a message naming its store and target and saying what to fix, every other target
//! still runs, and the exit code is 1 — for `run` and for `plan`.

use crate::support::cli::{retention, write_files, Run};
use crate::support::objects::Fixture;
use crate::support::s3::OwnMoto;
use chrono::{Duration, SecondsFormat, Utc};
use std::path::Path;

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

fn config(stores: &str) -> String {
    format!(
        "stores:
  app: {{url: \"sqlite://app.db\"}}
{stores}state: app
audit:
  pseudonym_key: \"{KEY}\"
rules: ./rules
"
    )
}

/// A rule deleting objects 30 days after their `captured-at` metadata, over `targets`
/// (YAML list items).
fn rule(category: &str, targets: &str) -> String {
    format!(
        "category: {category}
description: Test objects
source: \"Privacy Policy, '{category}'\"
retain: 30d
on_expiry: delete
targets:
{targets}"
    )
}

/// Photos of store `media` under `photos/{subject}/`, dated by their `captured-at`.
const PHOTOS_BY_SUBJECT: &str = "  - store: media
    prefix: photos/
    subject: {key: \"photos/{subject}/\"}
    timestamp: {metadata: captured-at}
";

fn old() -> String {
    (Utc::now() - Duration::days(400)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn fresh() -> String {
    (Utc::now() - Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes a file of a directory store with its sidecar.
fn put_dir_object(root: &Path, key: &str, captured_at: &str) {
    let sidecar = format!("{{\"metadata\": {{\"captured-at\": \"{captured_at}\"}}}}");
    write_files(
        root,
        &[(key, "x"), (&format!("{key}.meta.json"), sidecar.as_str())],
    );
}

/// Credentials for the binary, in place of the test environment's.
fn aws_env<'a>(key: &'a str, secret: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

fn both(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[tokio::test]
async fn refused_s3_credentials_fail_that_target_saying_what_to_fix_and_the_others_still_run() {
    // moto checks credentials only when asked to: an IAM user with a key but no policy is
    // made first, then every request is checked against moto's IAM.
    let moto = OwnMoto::start(&[]);
    let (key_id, secret) = moto.iam_user_without_permissions();
    moto.enforce_auth();
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!(
        "  media: {{s3: {{bucket: media, region: us-east-1, endpoint: \"{}\", path_style: true}}}}
  exports: {{dir: ./exports}}
",
        moto.endpoint
    );
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            (
                "rules/crash.yaml",
                &rule(
                    "crash",
                    "  - store: media
    prefix: crash/
    timestamp: {metadata: captured-at}
",
                ),
            ),
            (
                "rules/exports.yaml",
                &rule(
                    "exports",
                    "  - store: exports
    prefix: reports/
    timestamp: {metadata: captured-at}
",
                ),
            ),
        ],
    );
    let exports = dir.path().join("exports");
    put_dir_object(&exports, "reports/old.csv", &old());
    put_dir_object(&exports, "reports/fresh.csv", &fresh());
    let wrong_secret = "wrong-secret-0123456789";
    retention(dir.path(), &["migrate"], &aws_env(&key_id, &secret)).expect_code(0);

    let cases = [
        (
            "AKIAWRONGKEY00000000",
            wrong_secret,
            "InvalidAccessKeyId",
            "AWS_ACCESS_KEY_ID",
        ),
        (
            key_id.as_str(),
            wrong_secret,
            "SignatureDoesNotMatch",
            "AWS_SECRET_ACCESS_KEY",
        ),
        (
            key_id.as_str(),
            secret.as_str(),
            "AccessDenied",
            "s3:ListBucket",
        ),
    ];
    for (key, secret, code, setting) in cases {
        let plan = retention(dir.path(), &["plan"], &aws_env(key, secret)).expect_code(1);
        let out = both(&plan);
        assert!(
            out.contains("store `media`, target `crash/`"),
            "names the store and target:\n{out}"
        );
        assert!(
            out.contains(code) && out.contains("Check the credentials") && out.contains(setting),
            "says what to fix for {code}:\n{out}"
        );
        assert!(!out.contains(secret), "a secret leaked:\n{out}");
    }

    let run = retention(
        dir.path(),
        &["run"],
        &aws_env("AKIAWRONGKEY00000000", wrong_secret),
    )
    .expect_code(1);
    let out = both(&run);
    assert!(
        out.contains("store `media`, target `crash/`") && out.contains("InvalidAccessKeyId"),
        "{out}"
    );
    assert!(exports.join("reports/fresh.csv").exists());
    assert!(
        !exports.join("reports/old.csv").exists(),
        "the healthy target still ran:\n{out}"
    );
    drop(moto);
}

/// `objects_cli::s3::NAME` and `objects_cli::dir::NAME`.
macro_rules! both_stores {
    ($($test:ident),* $(,)?) => {
        mod s3 {
            $(#[tokio::test]
            async fn $test() {
                super::$test(crate::support::objects::Fixture::s3().await).await
            })*
        }
        mod dir {
            $(#[tokio::test]
            async fn $test() {
                super::$test(crate::support::objects::Fixture::dir().await).await
            })*
        }
    };
}

both_stores!(
    a_key_pattern_that_fits_no_object_fails_its_target_naming_the_pattern,
    a_shard_is_judged_by_the_whole_prefix_and_deletes_only_its_own_objects,
    a_pass_allowed_to_mass_delete_deletes_what_the_plan_matched_and_keeps_held_subjects,
    a_key_pattern_that_fits_no_object_fails_a_pass_allowed_to_mass_delete_with_nothing_deleted,
);

/// Puts `keys` (with a `captured-at` of `old()` where `is_old` says so) 16 at a time.
async fn put_all(f: &Fixture, keys: &[String], is_old: impl Fn(usize) -> bool) {
    use futures::StreamExt;
    let (old, fresh) = (old(), fresh());
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(16, |(i, key)| {
            let at = if is_old(i) { &old } else { &fresh };
            async move { f.put(key, b"x", &[("captured-at", at.as_str())], &[]).await }
        })
        .await;
}

/// The value of a Prometheus metric line `name{category="…"} N` in a metrics file.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// A pass the guard cannot refuse lists its prefix once and counts what it finds as it
/// deletes. Three pages of objects, a subject under legal hold: the run deletes exactly the
/// expired objects of the other subjects, and reports the figures the plan predicted.
async fn a_pass_allowed_to_mass_delete_deletes_what_the_plan_matched_and_keeps_held_subjects(
    f: Fixture,
) {
    crate::support::s3::endpoint(); // credentials in the environment, as for every S3 test
    let keys: Vec<String> = (0..2_600)
        .map(|i| format!("photos/{}/{i:04}.jpg", i % 26))
        .collect();
    let is_old = |i: usize| i % 3 != 0;
    put_all(&f, &keys, is_old).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = PHOTOS_BY_SUBJECT;
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    retention(
        dir.path(),
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        &[],
    )
    .expect_code(0);
    let plan = retention(dir.path(), &["plan", "--format", "json"], &[]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let planned = &json["targets"][0];

    let metrics = dir.path().join("metrics.prom");
    let metrics_flag = metrics.to_str().expect("a UTF-8 path");
    retention(
        dir.path(),
        &["run", "--allow-mass-delete", "--metrics-file", metrics_flag],
        &[],
    )
    .expect_code(0);

    let expected: std::collections::BTreeSet<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, k)| !is_old(*i) || k.starts_with("photos/7/"))
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(f.keys().await, expected);
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    let deleted = 2_600 - expected.len() as u64;
    assert_eq!(metric(&text, "retention_rows_deleted"), deleted);
    assert_eq!(planned["matched"].as_u64(), Some(deleted), "{planned}");
    assert_eq!(
        metric(&text, "retention_rows_held"),
        planned["held"].as_u64().expect("held")
    );
    let held = (0..keys.len())
        .filter(|&i| is_old(i) && keys[i].starts_with("photos/7/"))
        .count() as u64;
    assert_eq!(planned["held"].as_u64(), Some(held), "{planned}");
}

/// A pass allowed to mass-delete is not surveyed before it acts, yet a key pattern that
/// fits none of the listed objects still fails it before anything is deleted.
async fn a_key_pattern_that_fits_no_object_fails_a_pass_allowed_to_mass_delete_with_nothing_deleted(
    f: Fixture,
) {
    crate::support::s3::endpoint(); // credentials in the environment, as for every S3 test
    let keys: Vec<String> = (0..1_200)
        .map(|i| format!("photos/42/{i:04}.jpg"))
        .collect();
    put_all(&f, &keys, |_| true).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = "  - store: media
    prefix: photos/
    subject: {key: \"photos/user-{subject}/\"}
    timestamp: {metadata: captured-at}
";
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    let run = retention(dir.path(), &["run", "--allow-mass-delete"], &[]).expect_code(1);
    assert!(
        both(&run)
            .contains("the key pattern `photos/user-{subject}/` matched none of the 1200 objects"),
        "{}",
        both(&run)
    );
    assert_eq!(f.keys().await.len(), 1_200, "nothing was deleted");
}

/// A streamed pass holds back what it matched until a key fits the target's pattern; when
/// more pages than it holds back come first, it surveys the prefix and then acts, with the
/// same result: every expired object goes.
#[tokio::test]
async fn a_key_pattern_first_fitting_after_many_pages_still_deletes_every_expired_object() {
    let f = Fixture::dir().await;
    let Fixture::Dir(root) = &f else {
        unreachable!("a directory fixture")
    };
    // Sorted before the fitting keys: 9,000 objects no subject can be read from.
    let old = old();
    for i in 0..9_000 {
        put_dir_object(root.path(), &format!("photos/{i:04}.jpg"), &old);
    }
    put_dir_object(root.path(), "photos/user-7/a.jpg", &old);
    put_dir_object(root.path(), "photos/user-8/b.jpg", &fresh());
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = "  - store: media
    prefix: photos/
    subject: {key: \"photos/user-{subject}/\"}
    timestamp: {metadata: captured-at}
";
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    retention(dir.path(), &["run", "--allow-mass-delete"], &[]).expect_code(0);
    assert_eq!(
        f.keys().await,
        std::collections::BTreeSet::from(["photos/user-8/b.jpg".to_owned()])
    );
}

/// A sharded run judges the whole prefix, in the same listing as its own share: 1,200 of
/// 1,500 objects expired (80%) refuse every shard, although one shard's own share (about
/// 400 objects) is under the guard's 1,000-object floor. Allowed, a shard deletes exactly
/// its own expired objects.
async fn a_shard_is_judged_by_the_whole_prefix_and_deletes_only_its_own_objects(f: Fixture) {
    use futures::StreamExt;
    crate::support::s3::endpoint(); // credentials in the environment, as for every S3 test
    let (old, fresh) = (old(), fresh());
    let keys: Vec<String> = (0..1_500).map(|i| format!("logs/{i:04}.log")).collect();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(16, |(i, key)| {
            let at = if i < 1_200 { &old } else { &fresh };
            let f = &f;
            async move { f.put(key, b"x", &[("captured-at", at.as_str())], &[]).await }
        })
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = "  - store: media
    prefix: logs/
    timestamp: {metadata: captured-at}
";
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/logs.yaml", &rule("logs", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);

    let refused = retention(dir.path(), &["run", "--shard", "0/3"], &[]).expect_code(3);
    assert!(
        refused.stdout.contains("1200 of 1500 records (80%) match"),
        "the whole prefix's figures:\n{}",
        both(&refused)
    );
    assert_eq!(
        f.keys().await.len(),
        1_500,
        "a refused shard deleted nothing"
    );

    retention(
        dir.path(),
        &["run", "--shard", "0/3", "--allow-mass-delete"],
        &[],
    )
    .expect_code(0);
    let expected: std::collections::BTreeSet<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, k)| *i >= 1_200 || retention::stores::objects::shard_of(k, 3) != 0)
        .map(|(_, k)| k.clone())
        .collect();
    // About a third of the 1,200 expired objects fall in shard 0.
    assert!(
        (1_000..1_200).contains(&expected.len()),
        "{}",
        expected.len()
    );
    assert_eq!(f.keys().await, expected);
}

async fn a_key_pattern_that_fits_no_object_fails_its_target_naming_the_pattern(f: Fixture) {
    crate::support::s3::endpoint(); // credentials in the environment, as for every S3 test
    let old = old();
    for i in 0..12 {
        f.put(
            &format!("photos/42/IMG_{i}.jpg"),
            b"x",
            &[("captured-at", &old)],
            &[],
        )
        .await;
    }
    f.put("docs/7/old.pdf", b"x", &[("captured-at", &old)], &[])
        .await;
    f.put("docs/7/fresh.pdf", b"x", &[("captured-at", &fresh())], &[])
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = "  - store: media
    prefix: photos/
    subject: {key: \"photos/user-{subject}/\"}
    timestamp: {metadata: captured-at}
  - store: media
    prefix: videos/
    subject: {key: \"videos/{subject}/\"}
    timestamp: {metadata: captured-at}
  - store: media
    prefix: docs/
    subject: {key: \"docs/{subject}/\"}
    timestamp: {metadata: captured-at}
";
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/media.yaml", &rule("media", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);

    let plan = retention(dir.path(), &["plan", "--format", "json"], &[]).expect_code(1);
    let text = retention(dir.path(), &["plan"], &[]).expect_code(1);
    let run = retention(dir.path(), &["run"], &[]).expect_code(1);

    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let error_of = |prefix: &str| {
        json["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["target"] == prefix)
            .unwrap_or_else(|| panic!("no {prefix} in {json}"))["error"]
            .clone()
    };
    let expected = "store `media`, target `photos/`: the key pattern `photos/user-{subject}/` \
                    matched none of the 12 objects under prefix `photos/`";
    let error = error_of("photos/");
    assert!(
        error.as_str().is_some_and(|e| e.contains(expected)),
        "{error}"
    );
    assert!(error.as_str().is_some_and(|e| e.contains("`subject.key`")));
    assert_eq!(error_of("videos/"), serde_json::Value::Null, "empty prefix");
    assert_eq!(error_of("docs/"), serde_json::Value::Null);
    assert!(text.stdout.contains(expected), "{}", text.stdout);
    assert!(both(&run).contains(expected), "{}", both(&run));
    let keys = f.keys().await;
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("photos/")).count(),
        12,
        "nothing of the failed target was touched"
    );
    assert!(keys.contains("docs/7/fresh.pdf"));
    assert!(
        !keys.contains("docs/7/old.pdf"),
        "the other targets still ran"
    );
}

/// Objects dated by a metadata field whose values read as 1970 (`20261120`, a YYYYMMDD
/// date taken as epoch seconds) are the wrong unit: the guard refuses the target (exit 3)
/// in `plan` and `run`, and nothing is deleted — as on a SQL table (found by an adversarial
/// review: all ten fresh objects were deleted).
#[tokio::test]
async fn metadata_dates_that_read_as_1970_are_refused_by_the_guard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = "  exports: {dir: ./exports}\n";
    let target = "  - store: exports
    prefix: crash/
    timestamp: {metadata: captured-at}
";
    write_files(
        dir.path(),
        &[
            ("retention.yaml", config(stores).as_str()),
            ("rules/crash.yaml", rule("crash", target).as_str()),
        ],
    );
    for i in 0..10 {
        put_dir_object(
            &dir.path().join("exports"),
            &format!("crash/{i}.dmp"),
            "20261120",
        );
    }
    let env = [("RETENTION_LOG", "warn")];
    retention(dir.path(), &["migrate"], &env).expect_code(0);
    let plan = retention(dir.path(), &["plan", "--format", "json"], &env);
    assert!(plan.stdout.contains("\"refused\""), "{}", both(&plan));
    let run = retention(dir.path(), &["run"], &env);
    assert_eq!(run.code, 3, "{}", both(&run));
    assert!(both(&run).contains("1970"), "{}", both(&run));
    let left = std::fs::read_dir(dir.path().join("exports/crash"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".dmp"))
        })
        .count();
    assert_eq!(left, 10, "nothing was deleted");
}

/// `RETENTION_LOG=debug` shows the tool's own debug logs, not the AWS SDK's, whose request
/// parameters carry each object's key — and a key can embed a subject id.
#[tokio::test]
async fn debug_logs_never_print_an_object_key() {
    let f = Fixture::s3().await;
    // An id no timestamp or run id could contain by chance.
    let keys: Vec<String> = (0..3).map(|i| format!("photos/subj-qz7/{i}.jpg")).collect();
    put_all(&f, &keys, |_| true).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = PHOTOS_BY_SUBJECT;
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    let env = [("RETENTION_LOG", "debug")];
    let erase = retention(
        dir.path(),
        &["erase", "--subject", "subj-qz7", "--ticket", "T-1"],
        &env,
    )
    .expect_code(0);
    assert!(
        f.keys().await.is_empty(),
        "the subject's objects are erased"
    );
    assert!(
        erase.stderr.contains("DEBUG") || erase.stderr.contains("debug"),
        "debug logs are on: {}",
        erase.stderr
    );
    assert!(!erase.stderr.contains("subj-qz7"), "{}", erase.stderr);

    // Named, the SDK's debug logs come back, keys and all (README's override).
    let more: Vec<String> = (0..2).map(|i| format!("photos/subj-qz8/{i}.jpg")).collect();
    put_all(&f, &more, |_| true).await;
    let env = [(
        "RETENTION_LOG",
        "debug,aws_smithy_runtime=debug,aws_sdk_s3=debug",
    )];
    let named = retention(
        dir.path(),
        &["erase", "--subject", "subj-qz8", "--ticket", "T-2"],
        &env,
    )
    .expect_code(0);
    assert!(named.stderr.contains("subj-qz8"), "{}", named.stderr);
}

/// A metadata date that is no date — garbage, an empty value, Go's zero time
/// `0001-01-01T00:00:00Z`, an epoch of `0` or `-1` (the "unset" of many writers) — never
/// expires, and the plan counts it as unreadable; an object without the field is undated
/// and not counted.
#[tokio::test]
async fn metadata_dates_that_are_no_date_never_expire_and_are_counted() {
    let f = Fixture::dir().await;
    let Fixture::Dir(root) = &f else {
        unreachable!("a directory fixture")
    };
    let root = root.path();
    put_dir_object(root, "photos/1/old.jpg", &old());
    put_dir_object(root, "photos/1/fresh.jpg", &fresh());
    for (i, value) in ["garbage", "0001-01-01T00:00:00Z", "0", "-1"]
        .iter()
        .enumerate()
    {
        put_dir_object(root, &format!("photos/1/nodate{i}.jpg"), value);
    }
    write_files(root, &[("photos/1/bare.jpg", "x")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = format!("  media: {}\n", f.yaml());
    let targets = PHOTOS_BY_SUBJECT;
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&stores)),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    let plan = retention(dir.path(), &["plan", "--format", "json"], &[]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(json["targets"][0]["unreadable"], 4, "{json}");
    assert_eq!(json["targets"][0]["matched"], 1, "{json}");
    retention(dir.path(), &["run"], &[]).expect_code(0);
    let left = f.keys().await;
    assert!(!left.contains("photos/1/old.jpg"), "{left:?}");
    assert_eq!(left.len(), 6, "{left:?}");
}

#[tokio::test]
async fn a_hold_added_while_a_run_is_in_progress_keeps_its_subjects_objects() {
    // The run read the holds at its start (none); before its first page of objects is
    // deleted, a hold is added on subject 7: none of its objects goes, every other
    // expired one does.
    let dir = tempfile::tempdir().expect("temp dir");
    let keys: Vec<String> = (0..200)
        .map(|i| format!("photos/{}/{i:04}.jpg", i % 10))
        .collect();
    for k in &keys {
        put_dir_object(&dir.path().join("media"), k, &old());
    }
    let targets = PHOTOS_BY_SUBJECT;
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config("  media: {dir: ./media}\n")),
            ("rules/photos.yaml", &rule("photos", targets)),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    let paused = crate::support::cli::Paused::run_at(dir.path(), "page-start", &[]);
    retention(
        dir.path(),
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        &[],
    )
    .expect_code(0);
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");
    for k in &keys {
        assert_eq!(
            dir.path().join("media").join(k).exists(),
            k.starts_with("photos/7/"),
            "{k}"
        );
    }
    retention(dir.path(), &["audit", "verify"], &[]).expect_code(0);
}
