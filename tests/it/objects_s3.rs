//! Behaviour only S3 has: versions, Object Lock, the write-once audit export.

use crate::support::objects::{scan_all, target};
use crate::support::s3::{Bucket, BucketKind};
use aws_sdk_s3::primitives::{ByteStream, DateTime as S3DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use chrono::{Duration, Utc};
use futures::StreamExt;
use retention::rules::model::{ObjectSubject, ObjectTimestamp};
use retention::stores::objects::{ObjectFilter, ObjectRef};
use std::collections::BTreeSet;

fn erase(subject: &str) -> ObjectFilter {
    ObjectFilter {
        subjects: Some(BTreeSet::from([subject.to_string()])),
        ..ObjectFilter::default()
    }
}

/// Objects named directly, as a caller that did not list them asks for them.
fn asked(keys: &[&str]) -> Vec<ObjectRef> {
    keys.iter()
        .map(|key| ObjectRef {
            key: (*key).into(),
            subject: None,
            timestamp: None,
            size: 1,
            locked: false,
            listed_modified: None,
        })
        .collect()
}

fn photos() -> retention::rules::model::ObjectTarget {
    target(
        "photos/",
        Some(ObjectSubject::KeyPattern("photos/{subject}/".into())),
        Some(ObjectTimestamp::LastModified),
    )
}

#[tokio::test]
async fn erasure_removes_every_version_and_delete_marker_of_the_subjects_objects() {
    let bucket = Bucket::versioned().await;
    bucket
        .put("photos/42/a.jpg", b"v1".to_vec(), &[], &[])
        .await;
    bucket
        .put("photos/42/a.jpg", b"v2".to_vec(), &[], &[])
        .await;
    bucket
        .client
        .delete_object()
        .bucket(&bucket.name)
        .key("photos/42/a.jpg")
        .send()
        .await
        .expect("leave a delete marker");
    bucket
        .put("photos/42/a.jpg", b"v3".to_vec(), &[], &[])
        .await;
    bucket
        .put("photos/42/a.jpg.bak", b"other key".to_vec(), &[], &[])
        .await;
    bucket
        .put("photos/43/a.jpg", b"v1".to_vec(), &[], &[])
        .await;
    bucket
        .put("photos/43/a.jpg", b"v2".to_vec(), &[], &[])
        .await;
    let store = bucket.store().await;

    let scan = scan_all(&store, &photos(), &erase("42")).await;
    let report = store.delete(&scan.matched).await.expect("delete");

    assert_eq!(report.done.len(), 2, "{report:?}");
    let left: Vec<String> = bucket
        .versions()
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        left,
        vec!["photos/43/a.jpg".to_string(), "photos/43/a.jpg".to_string()]
    );
}

#[tokio::test]
async fn objects_under_legal_hold_or_compliance_retention_are_skipped_and_reported_locked() {
    let bucket = Bucket::locked().await;
    assert!(
        bucket.has_object_lock().await,
        "the server did not enable Object Lock"
    );
    bucket.put("logs/held.log", b"x".to_vec(), &[], &[]).await;
    bucket.legal_hold("logs/held.log", None, true).await;
    bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key("logs/retained.log")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(S3DateTime::from_secs(
            (Utc::now() + Duration::days(1)).timestamp(),
        ))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put under retention");
    bucket.put("logs/free.log", b"x".to_vec(), &[], &[]).await;
    let store = bucket.store().await;
    let t = target("logs/", None, Some(ObjectTimestamp::LastModified));
    let filter = ObjectFilter {
        cutoff: Some(Utc::now() + Duration::days(1)),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &filter).await;
    assert_eq!(scan.locked, 2);
    assert_eq!(scan.keys(), BTreeSet::from(["logs/free.log".to_string()]));
    let report = store.delete(&scan.matched).await.expect("delete");
    assert_eq!(report.done, vec!["logs/free.log".to_string()]);

    // Even when asked directly, locked objects are reported locked, never failed or gone.
    let direct = asked(&["logs/held.log", "logs/retained.log"]);
    let report = store.delete(&direct).await.expect("delete");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.locked.len(), 2, "{report:?}");
    assert_eq!(
        bucket.keys().await,
        BTreeSet::from(["logs/held.log".to_string(), "logs/retained.log".to_string()])
    );
}

#[tokio::test]
async fn a_key_with_an_older_version_under_legal_hold_keeps_its_current_version() {
    // `logs/a.log`: v1 under legal hold, then v2 on top. Deleting every version but the
    // locked one would make v1 the object's content again; the newer versions around a
    // locked one are kept instead, and the key is reported locked. `logs/b.log` has two
    // unlocked versions: both go.
    let bucket = Bucket::locked().await;
    assert!(bucket.has_object_lock().await);
    let v1 = bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key("logs/a.log")
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .expect("put v1")
        .version_id()
        .expect("a versioned bucket names the version")
        .to_owned();
    bucket.legal_hold("logs/a.log", Some(&v1), true).await;
    bucket.put("logs/a.log", b"v2".to_vec(), &[], &[]).await;
    bucket.put("logs/b.log", b"v1".to_vec(), &[], &[]).await;
    bucket.put("logs/b.log", b"v2".to_vec(), &[], &[]).await;
    let store = bucket.store().await;
    let refs = asked(&["logs/a.log", "logs/b.log"]);

    let report = store.delete(&refs).await.expect("delete");

    assert_eq!(report.locked, vec!["logs/a.log".to_string()], "{report:?}");
    assert_eq!(report.done, vec!["logs/b.log".to_string()], "{report:?}");
    let current = bucket
        .client
        .get_object()
        .bucket(&bucket.name)
        .key("logs/a.log")
        .send()
        .await
        .expect("the object is still there")
        .body
        .collect()
        .await
        .expect("its body")
        .into_bytes();
    assert_eq!(
        &current[..],
        b"v2",
        "the current version is still v2, not the held v1"
    );
    assert_eq!(
        bucket.keys().await,
        BTreeSet::from(["logs/a.log".to_string()])
    );
}

#[tokio::test]
async fn the_audit_export_is_written_once_under_compliance_retention() {
    let bucket = Bucket::locked().await;
    let store = bucket.store().await;
    let entries = b"{\"v\":1,\"seq\":1}\n".to_vec();

    store
        .put_write_once("audit/run-1.jsonl", entries.clone(), Some(30))
        .await
        .expect("export");

    // HeadObject carries the lock (moto's GetObjectRetention answers with the object itself).
    let head = bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key("audit/run-1.jsonl")
        .send()
        .await
        .expect("head the export");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let until = head
        .object_lock_retain_until_date()
        .expect("a retain-until date")
        .secs();
    let expected = (Utc::now() + Duration::days(30)).timestamp();
    assert!(
        (until - expected).abs() < 3600,
        "retain-until is not 30 days ahead"
    );
    let body = bucket
        .client
        .get_object()
        .bucket(&bucket.name)
        .key("audit/run-1.jsonl")
        .send()
        .await
        .expect("read back");
    let version = body.version_id().map(str::to_owned);
    assert_eq!(
        body.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec(),
        entries
    );
    let removal = bucket
        .client
        .delete_object()
        .bucket(&bucket.name)
        .key("audit/run-1.jsonl")
        .set_version_id(version)
        .send()
        .await;
    assert!(
        removal.is_err(),
        "a compliance-locked export could be deleted"
    );
}

#[tokio::test]
async fn a_write_once_export_to_a_bucket_without_object_lock_is_refused_naming_the_store() {
    let bucket = Bucket::new(BucketKind::default()).await;
    let store = bucket.store().await;

    let err = store
        .put_write_once("audit/run-1.jsonl", b"{}".to_vec(), Some(30))
        .await
        .expect_err("no Object Lock on the bucket");

    let message = format!("{err:#}");
    assert!(
        message.contains("store `media`") && message.contains("Object Lock"),
        "{message}"
    );
    assert!(bucket.keys().await.is_empty());
}

#[tokio::test]
async fn probe_reports_versioning_and_object_lock() {
    let plain = Bucket::new(BucketKind::default()).await;
    let locked = Bucket::locked().await;

    let plain = plain.store().await.probe().await.expect("probe");
    let locked = locked.store().await.probe().await.expect("probe");

    assert!(!plain.versioning && !plain.object_lock);
    assert!(locked.versioning && locked.object_lock);
}

/// Puts `body` under `key` and returns the version id S3 gave it.
async fn put_version(bucket: &Bucket, key: &str, body: &[u8]) -> String {
    bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("put a version")
        .version_id()
        .expect("a versioned bucket gives version ids")
        .to_owned()
}

#[tokio::test]
async fn a_deleted_key_whose_old_versions_hold_data_is_still_erased_with_every_version() {
    let bucket = Bucket::versioned().await;
    put_version(&bucket, "photos/42/gone.jpg", b"v1").await;
    put_version(&bucket, "photos/42/gone.jpg", b"v2").await;
    bucket.delete_current("photos/42/gone.jpg").await;
    put_version(&bucket, "photos/43/gone.jpg", b"v1").await;
    put_version(&bucket, "photos/43/gone.jpg", b"v2").await;
    bucket.delete_current("photos/43/gone.jpg").await;
    put_version(&bucket, "photos/43/kept.jpg", b"v1").await;
    let store = bucket.store().await;

    let scan = scan_all(&store, &photos(), &erase("42")).await;
    assert_eq!(
        scan.keys(),
        BTreeSet::from(["photos/42/gone.jpg".to_string()]),
        "the key whose current version is a delete marker is found"
    );
    let report = store.delete(&scan.matched).await.expect("delete");

    assert_eq!(report.done.len(), 1, "{report:?}");
    let mut left: Vec<String> = bucket
        .versions()
        .await
        .into_iter()
        .map(|(k, v)| format!("{k} {}", v.split(':').next().unwrap_or_default()))
        .collect();
    left.sort();
    assert!(
        !left.iter().any(|k| k.starts_with("photos/42/")),
        "every version and the marker of the erased key are gone: {left:?}"
    );
    assert_eq!(
        left.iter()
            .filter(|k| k.starts_with("photos/43/gone.jpg"))
            .count(),
        3,
        "the bystander's two versions and marker stay: {left:?}"
    );
}

#[tokio::test]
async fn a_deleted_key_expires_by_when_its_data_was_last_written() {
    let bucket = Bucket::versioned().await;
    put_version(&bucket, "photos/42/a.jpg", b"v1").await;
    let newest = put_version(&bucket, "photos/42/a.jpg", b"v2").await;
    bucket.delete_current("photos/42/a.jpg").await;
    let head = bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key("photos/42/a.jpg")
        .version_id(&newest)
        .send()
        .await
        .expect("head the newest data version");
    let written = head
        .last_modified()
        .map(|t| t.secs())
        .expect("last_modified");
    let store = bucket.store().await;
    let expiry = |cutoff: chrono::DateTime<Utc>| ObjectFilter {
        cutoff: Some(cutoff),
        ..ObjectFilter::default()
    };

    let later = scan_all(&store, &photos(), &expiry(Utc::now() + Duration::days(1))).await;
    let earlier = scan_all(&store, &photos(), &expiry(Utc::now() - Duration::days(1))).await;

    assert_eq!(later.matched.len(), 1, "{later:?}");
    assert_eq!(
        later.matched[0].timestamp.map(|t| t.timestamp()),
        Some(written)
    );
    assert!(earlier.matched.is_empty());
    assert_eq!(later.scanned, 1, "one object, however many versions");
}

#[tokio::test]
async fn anonymising_a_deleted_key_removes_its_versions_instead_of_reviving_it() {
    let bucket = Bucket::versioned().await;
    bucket
        .put(
            "photos/42/a.jpg",
            b"v1".to_vec(),
            &[("account-id", "42")],
            &[],
        )
        .await;
    bucket.delete_current("photos/42/a.jpg").await;
    let store = bucket.store().await;
    let scan = scan_all(&store, &photos(), &ObjectFilter::default()).await;
    assert_eq!(scan.matched.len(), 1);

    let report = store
        .anonymise(
            &scan.matched,
            retention::rules::model::ObjectStrategy::StripMetadata,
        )
        .await
        .expect("anonymise");

    assert_eq!(report.done.len(), 1, "{report:?}");
    assert!(bucket.versions().await.is_empty());
    assert!(bucket.keys().await.is_empty(), "not brought back to life");
}

#[tokio::test]
async fn a_versioned_listing_longer_than_one_page_yields_every_key_once() {
    let bucket = Bucket::versioned().await;
    // 520 keys of two versions each, every fifth deleted: over 1,000 versions and markers,
    // so pages end inside a key's versions.
    let keys: Vec<String> = (0..520).map(|i| format!("photos/{i:04}/a.jpg")).collect();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(16, |(i, key)| {
            let bucket = &bucket;
            async move {
                put_version(bucket, key, b"v1").await;
                put_version(bucket, key, b"v2").await;
                if i % 5 == 0 {
                    bucket.delete_current(key).await;
                }
            }
        })
        .await;
    let store = bucket.store().await;

    let scan = scan_all(&store, &photos(), &ObjectFilter::default()).await;

    assert_eq!(scan.scanned, 520);
    let found: Vec<String> = scan.matched.iter().map(|o| o.key.clone()).collect();
    assert_eq!(found.len(), 520, "no key twice");
    assert_eq!(
        scan.keys(),
        keys.iter().cloned().collect::<BTreeSet<_>>(),
        "no key missing"
    );
}
