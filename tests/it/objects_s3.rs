//! Behaviour only S3 has: versions, Object Lock, the write-once audit export.

use crate::support::objects::{scan_all, target};
use crate::support::s3::{Bucket, BucketKind};
use aws_sdk_s3::primitives::{ByteStream, DateTime as S3DateTime};
use aws_sdk_s3::types::{
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetentionMode,
};
use chrono::{Duration, Utc};
use retention::rules::model::{ObjectSubject, ObjectTimestamp};
use retention::stores::objects::{ObjectFilter, ObjectRef};
use std::collections::BTreeSet;

fn erase(subject: &str) -> ObjectFilter {
    ObjectFilter {
        subjects: Some(BTreeSet::from([subject.to_string()])),
        ..ObjectFilter::default()
    }
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
    let bucket = Bucket::new(BucketKind {
        versioned: true,
        object_lock: false,
    })
    .await;
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
    let bucket = Bucket::new(BucketKind {
        versioned: true,
        object_lock: true,
    })
    .await;
    assert!(
        bucket.has_object_lock().await,
        "the server did not enable Object Lock"
    );
    bucket.put("logs/held.log", b"x".to_vec(), &[], &[]).await;
    bucket
        .client
        .put_object_legal_hold()
        .bucket(&bucket.name)
        .key("logs/held.log")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .expect("set legal hold");
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
    let direct: Vec<ObjectRef> = ["logs/held.log", "logs/retained.log"]
        .into_iter()
        .map(|key| ObjectRef {
            key: key.into(),
            subject: None,
            timestamp: None,
            size: 1,
            locked: false,
        })
        .collect();
    let report = store.delete(&direct).await.expect("delete");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.locked.len(), 2, "{report:?}");
    assert_eq!(
        bucket.keys().await,
        BTreeSet::from(["logs/held.log".to_string(), "logs/retained.log".to_string()])
    );
}

#[tokio::test]
async fn the_audit_export_is_written_once_under_compliance_retention() {
    let bucket = Bucket::new(BucketKind {
        versioned: true,
        object_lock: true,
    })
    .await;
    let store = bucket.store().await;
    let entries = b"{\"v\":1,\"seq\":1}\n".to_vec();

    store
        .put_write_once("audit/run-1.jsonl", entries.clone(), Some(30))
        .await
        .expect("export");

    let retention = bucket
        .client
        .get_object_retention()
        .bucket(&bucket.name)
        .key("audit/run-1.jsonl")
        .send()
        .await
        .expect("read retention");
    let retention = retention.retention().expect("a retention is set");
    assert_eq!(retention.mode(), Some(&ObjectLockRetentionMode::Compliance));
    let until = retention
        .retain_until_date()
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
    let locked = Bucket::new(BucketKind {
        versioned: true,
        object_lock: true,
    })
    .await;

    let plain = plain.store().await.probe().await.expect("probe");
    let locked = locked.store().await.probe().await.expect("probe");

    assert!(!plain.versioning && !plain.object_lock);
    assert!(locked.versioning && locked.object_lock);
}
