//! S3-compatible servers without versioning, Object Lock or tagging (SPEC §6): a real one,
//! `s3s-fs`, answers those calls with `NotImplemented`. Through the real binary, `check
//! --connect`, `plan` and `run` treat its bucket as unversioned, unlocked and untagged, and
//! the targets run: exactly the expired objects go, the anonymised ones lose their metadata.
//! Only a target whose subject comes from a tag fails, saying why; the others still run.

use crate::support::cli::{retention, write_files, Run};
use crate::support::s3::{client_for, BareS3};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use chrono::{Duration, SecondsFormat, Utc};
use std::collections::{BTreeMap, BTreeSet};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

fn config(endpoint: &str) -> String {
    format!(
        "stores:
  app: {{url: \"sqlite://app.db\"}}
  media: {{s3: {{bucket: media, region: us-east-1, endpoint: \"{endpoint}\", path_style: true}}}}
state: app
audit:
  pseudonym_key: \"{KEY}\"
rules: ./rules
"
    )
}

fn rule(category: &str, on_expiry: &str, target: &str) -> String {
    format!(
        "category: {category}
description: Test objects
source: \"Privacy Policy, '{category}'\"
retain: 30d
on_expiry: {on_expiry}
targets:
  - store: media
    timestamp: {{metadata: captured-at}}
{target}"
    )
}

fn at(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn put(client: &Client, key: &str, metadata: &[(&str, &str)]) {
    let mut request = client
        .put_object()
        .bucket("media")
        .key(key)
        .body(ByteStream::from_static(b"x"));
    for (k, v) in metadata {
        request = request.metadata(*k, *v);
    }
    request.send().await.expect("put object");
}

async fn keys(client: &Client) -> BTreeSet<String> {
    let out = client
        .list_objects_v2()
        .bucket("media")
        .send()
        .await
        .expect("list objects");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn metadata(client: &Client, key: &str) -> BTreeMap<String, String> {
    let head = client
        .head_object()
        .bucket("media")
        .key(key)
        .send()
        .await
        .expect("head object");
    head.metadata()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default()
}

/// The server and its bucket, after checking that the server really lacks the three APIs:
/// otherwise the tests below would prove nothing.
async fn bare_bucket() -> (BareS3, Client) {
    let server = BareS3::start();
    let client = client_for(&server.endpoint).await;
    client
        .create_bucket()
        .bucket("media")
        .send()
        .await
        .expect("create bucket");
    put(&client, "probe", &[]).await;
    let versioning = client.get_bucket_versioning().bucket("media").send().await;
    let lock = client
        .get_object_lock_configuration()
        .bucket("media")
        .send()
        .await;
    let tagging = client
        .get_object_tagging()
        .bucket("media")
        .key("probe")
        .send()
        .await;
    assert_eq!(
        versioning.err().and_then(|e| e.code().map(str::to_owned)),
        Some("NotImplemented".to_owned())
    );
    assert_eq!(
        lock.err().and_then(|e| e.code().map(str::to_owned)),
        Some("NotImplemented".to_owned())
    );
    assert_eq!(
        tagging.err().and_then(|e| e.code().map(str::to_owned)),
        Some("NotImplemented".to_owned())
    );
    client
        .delete_object()
        .bucket("media")
        .key("probe")
        .send()
        .await
        .expect("delete the probe");
    (server, client)
}

fn both(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[tokio::test]
async fn a_server_without_versioning_object_lock_or_tagging_still_runs_every_target() {
    let (server, client) = bare_bucket().await;
    let (old, fresh) = (at(400), at(1));
    for i in 0..3 {
        put(
            &client,
            &format!("crash/old-{i}.dmp"),
            &[("captured-at", &old)],
        )
        .await;
        put(
            &client,
            &format!("exif/old-{i}.jpg"),
            &[("captured-at", &old), ("camera-owner", "7")],
        )
        .await;
    }
    put(&client, "crash/fresh.dmp", &[("captured-at", &fresh)]).await;
    put(
        &client,
        "exif/fresh.jpg",
        &[("captured-at", &fresh), ("camera-owner", "8")],
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&server.endpoint)),
            (
                "rules/crash.yaml",
                &rule("crash", "delete", "    prefix: crash/\n"),
            ),
            (
                "rules/exif.yaml",
                &rule(
                    "exif",
                    "anonymise",
                    "    prefix: exif/\n    anonymise: strip_metadata\n",
                ),
            ),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    retention(dir.path(), &["check", "--connect"], &[]).expect_code(0);
    let plan = retention(dir.path(), &["plan", "--format", "json"], &[]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    for target in json["targets"].as_array().expect("targets") {
        assert_eq!(target["matched"], 3, "{target}");
        assert_eq!(target["error"], serde_json::Value::Null, "{target}");
    }

    let run = retention(dir.path(), &["run"], &[]).expect_code(0);
    let left = keys(&client).await;
    let expected: BTreeSet<String> = [
        "crash/fresh.dmp",
        "exif/fresh.jpg",
        "exif/old-0.jpg",
        "exif/old-1.jpg",
        "exif/old-2.jpg",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(left, expected, "{}", both(&run));
    for i in 0..3 {
        assert_eq!(
            metadata(&client, &format!("exif/old-{i}.jpg")).await,
            BTreeMap::new(),
            "anonymised: no user metadata left"
        );
    }
    assert_eq!(
        metadata(&client, "exif/fresh.jpg")
            .await
            .get("camera-owner"),
        Some(&"8".to_owned()),
        "a fresh object keeps its metadata"
    );

    // Without their date the anonymised objects never match again: a second run changes
    // nothing.
    retention(dir.path(), &["run"], &[]).expect_code(0);
    assert_eq!(keys(&client).await, expected);
    retention(dir.path(), &["audit", "verify"], &[]).expect_code(0);
}

#[tokio::test]
async fn a_subject_read_from_tags_fails_its_target_there_and_the_others_still_run() {
    let (server, client) = bare_bucket().await;
    let old = at(400);
    put(&client, "tagged/a.dmp", &[("captured-at", &old)]).await;
    put(&client, "crash/a.dmp", &[("captured-at", &old)]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &config(&server.endpoint)),
            (
                "rules/tagged.yaml",
                &rule(
                    "tagged",
                    "delete",
                    "    prefix: tagged/\n    subject: {tag: owner}\n",
                ),
            ),
            (
                "rules/crash.yaml",
                &rule("crash", "delete", "    prefix: crash/\n"),
            ),
        ],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    let run = retention(dir.path(), &["run"], &[]).expect_code(1);
    let out = both(&run);
    assert!(
        out.contains("store `media`, target `tagged/`: the subject comes from the tag `owner`")
            && out.contains("does not implement object tagging"),
        "{out}"
    );
    assert_eq!(
        keys(&client).await,
        BTreeSet::from(["tagged/a.dmp".to_owned()]),
        "the tagged object stays, the other target still ran:\n{out}"
    );
}
