//! The behavioural suite every object store passes: the same tests, run once against a real
//! S3 bucket (moto) and once against a local directory.

use crate::support::objects::{at, delete_matching, scan_all, target, Fixture};
use chrono::{Duration, Utc};
use futures::StreamExt;
use retention::rules::model::{ObjectStrategy, ObjectSubject, ObjectTimestamp};
use retention::stores::objects::ObjectFilter;
use std::collections::BTreeSet;

/// Runs each named test against both backends, as `objects::s3::NAME` and `objects::dir::NAME`.
macro_rules! both_stores {
    ($($test:ident),* $(,)?) => {
        mod s3 {
            $(#[tokio::test]
            async fn $test() {
                super::$test(&crate::support::objects::Fixture::s3().await).await
            })*
        }
        mod dir {
            $(#[tokio::test]
            async fn $test() {
                super::$test(&crate::support::objects::Fixture::dir().await).await
            })*
        }
    };
}

both_stores!(
    expired_objects_go_and_fresh_ones_stay,
    an_object_without_a_usable_timestamp_never_expires,
    age_can_be_measured_from_last_modified,
    subjects_are_found_by_key_pattern,
    subjects_are_found_by_metadata,
    subjects_are_found_by_tag,
    objects_of_held_subjects_are_never_selected_but_counted,
    anonymised_objects_are_never_selected_again,
    shards_partition_every_key_exactly_once,
    a_prefix_larger_than_one_page_is_listed_completely,
);

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| k.to_string()).collect()
}

fn captured(at: &str) -> [(&str, &str); 1] {
    [("captured-at", at)]
}

fn by_capture_time() -> Option<ObjectTimestamp> {
    Some(ObjectTimestamp::Metadata("captured-at".into()))
}

fn expiry(cutoff: &str) -> ObjectFilter {
    ObjectFilter {
        cutoff: Some(at(cutoff)),
        ..ObjectFilter::default()
    }
}

async fn expired_objects_go_and_fresh_ones_stay(f: &Fixture) {
    f.put(
        "crash/old.dmp",
        b"x",
        &captured("2024-01-01T00:00:00Z"),
        &[],
    )
    .await;
    f.put("crash/epoch.dmp", b"x", &captured("1700000000"), &[])
        .await;
    f.put(
        "crash/fresh.dmp",
        b"x",
        &captured("2026-06-01T00:00:00Z"),
        &[],
    )
    .await;
    f.put(
        "crashes-elsewhere/old.dmp",
        b"x",
        &captured("2024-01-01T00:00:00Z"),
        &[],
    )
    .await;
    let store = f.store().await;
    let t = target("crash/", None, by_capture_time());

    let report = delete_matching(&store, &t, &expiry("2026-01-01T00:00:00Z")).await;

    assert_eq!(report.done.len(), 2, "{report:?}");
    assert!(report.failed.is_empty() && report.locked.is_empty());
    assert_eq!(
        f.keys().await,
        keys(&["crash/fresh.dmp", "crashes-elsewhere/old.dmp"])
    );
}

async fn an_object_without_a_usable_timestamp_never_expires(f: &Fixture) {
    f.put("crash/none.dmp", b"x", &[], &[]).await;
    f.put("crash/garbage.dmp", b"x", &captured("last tuesday"), &[])
        .await;
    f.put(
        "crash/old.dmp",
        b"x",
        &captured("2020-01-01T00:00:00Z"),
        &[],
    )
    .await;
    let store = f.store().await;
    let t = target("crash/", None, by_capture_time());

    delete_matching(&store, &t, &expiry("2026-01-01T00:00:00Z")).await;

    assert_eq!(
        f.keys().await,
        keys(&["crash/garbage.dmp", "crash/none.dmp"])
    );
}

async fn age_can_be_measured_from_last_modified(f: &Fixture) {
    f.put("logs/a.log", b"x", &[], &[]).await;
    let store = f.store().await;
    let t = target("logs/", None, Some(ObjectTimestamp::LastModified));
    let before = ObjectFilter {
        cutoff: Some(Utc::now() - Duration::days(1)),
        ..ObjectFilter::default()
    };
    let after = ObjectFilter {
        cutoff: Some(Utc::now() + Duration::days(1)),
        ..ObjectFilter::default()
    };

    assert!(scan_all(&store, &t, &before).await.matched.is_empty());
    let scan = scan_all(&store, &t, &after).await;

    assert_eq!(scan.keys(), keys(&["logs/a.log"]));
    let stamp = scan.matched[0]
        .timestamp
        .expect("last_modified is a timestamp");
    assert!((Utc::now() - stamp).num_minutes().abs() < 10);
}

async fn subjects_are_found_by_key_pattern(f: &Fixture) {
    f.put("photos/42/a.jpg", b"x", &[], &[]).await;
    f.put("photos/42/b.jpg", b"x", &[], &[]).await;
    f.put("photos/420/c.jpg", b"x", &[], &[]).await;
    f.put("photos/loose.jpg", b"x", &[], &[]).await;
    let store = f.store().await;
    let t = target(
        "photos/",
        Some(ObjectSubject::KeyPattern("photos/{subject}/".into())),
        None,
    );
    let request = ObjectFilter {
        subjects: Some(BTreeSet::from(["42".to_string()])),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &request).await;

    assert_eq!(scan.keys(), keys(&["photos/42/a.jpg", "photos/42/b.jpg"]));
    assert!(scan
        .matched
        .iter()
        .all(|o| o.subject.as_deref() == Some("42")));
    store.delete(&scan.matched).await.expect("delete");
    assert_eq!(
        f.keys().await,
        keys(&["photos/420/c.jpg", "photos/loose.jpg"])
    );
}

async fn subjects_are_found_by_metadata(f: &Fixture) {
    f.put("sync/a.bin", b"x", &[("account-id", "7")], &[]).await;
    f.put("sync/b.bin", b"x", &[("account-id", "8")], &[]).await;
    f.put("sync/c.bin", b"x", &[], &[]).await;
    let store = f.store().await;
    let t = target(
        "sync/",
        Some(ObjectSubject::Metadata("Account-Id".into())),
        None,
    );
    let request = ObjectFilter {
        subjects: Some(BTreeSet::from(["7".to_string()])),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &request).await;

    assert_eq!(scan.keys(), keys(&["sync/a.bin"]));
    assert_eq!(scan.matched[0].subject.as_deref(), Some("7"));
}

async fn subjects_are_found_by_tag(f: &Fixture) {
    f.put("feedback/a.txt", b"x", &[], &[("subject", "7")])
        .await;
    f.put("feedback/b.txt", b"x", &[], &[("subject", "8")])
        .await;
    f.put("feedback/c.txt", b"x", &[("subject", "7")], &[])
        .await;
    let store = f.store().await;
    let t = target(
        "feedback/",
        Some(ObjectSubject::Tag("subject".into())),
        None,
    );
    let request = ObjectFilter {
        subjects: Some(BTreeSet::from(["7".to_string()])),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &request).await;

    assert_eq!(scan.keys(), keys(&["feedback/a.txt"]));
}

async fn objects_of_held_subjects_are_never_selected_but_counted(f: &Fixture) {
    for subject in ["1", "2", "3"] {
        let key = format!("photos/{subject}/a.jpg");
        f.put(&key, b"x", &captured("2020-01-01T00:00:00Z"), &[])
            .await;
    }
    let store = f.store().await;
    let t = target(
        "photos/",
        Some(ObjectSubject::KeyPattern("photos/{subject}/".into())),
        by_capture_time(),
    );
    let filter = ObjectFilter {
        held: BTreeSet::from(["2".to_string()]),
        ..expiry("2026-01-01T00:00:00Z")
    };

    let scan = scan_all(&store, &t, &filter).await;
    assert_eq!(scan.held, 1);
    store.delete(&scan.matched).await.expect("delete");

    assert_eq!(f.keys().await, keys(&["photos/2/a.jpg"]));
}

async fn anonymised_objects_are_never_selected_again(f: &Fixture) {
    f.put(
        "sync/a.bin",
        b"x",
        &[("account-id", "7")],
        &[("owner", "7")],
    )
    .await;
    f.put("sync/b.bin", b"x", &[("account-id", "8")], &[]).await;
    let store = f.store().await;
    // Age from last_modified, which anonymising leaves in the past: only the marker can keep
    // the objects from being selected again.
    let t = target(
        "sync/",
        Some(ObjectSubject::Metadata("account-id".into())),
        Some(ObjectTimestamp::LastModified),
    );
    let filter = ObjectFilter {
        skip_anonymised: true,
        cutoff: Some(Utc::now() + Duration::days(1)),
        ..ObjectFilter::default()
    };

    let first = scan_all(&store, &t, &filter).await;
    assert_eq!(first.matched.len(), 2);
    let report = store
        .anonymise(&first.matched, ObjectStrategy::StripMetadata)
        .await
        .expect("anonymise");
    assert_eq!(report.done.len(), 2, "{report:?}");

    let second = scan_all(&store, &t, &filter).await;
    assert!(second.matched.is_empty(), "{:?}", second.matched);
    // The personal metadata is gone: a request for subject 7 finds nothing any more.
    let request = ObjectFilter {
        subjects: Some(BTreeSet::from(["7".to_string()])),
        ..ObjectFilter::default()
    };
    assert!(scan_all(&store, &t, &request).await.matched.is_empty());
    assert_eq!(f.keys().await, keys(&["sync/a.bin", "sync/b.bin"]));
}

async fn shards_partition_every_key_exactly_once(f: &Fixture) {
    let all: BTreeSet<String> = (0..40).map(|i| format!("logs/{i:03}.log")).collect();
    for key in &all {
        f.put(key, b"x", &[], &[]).await;
    }
    let store = f.store().await;
    let t = target("logs/", None, None);

    let mut seen = Vec::new();
    for index in 0..3 {
        let filter = ObjectFilter {
            shard: Some((index, 3)),
            ..ObjectFilter::default()
        };
        let shard = scan_all(&store, &t, &filter).await;
        assert!(!shard.matched.is_empty(), "shard {index} is empty");
        seen.extend(shard.keys());
    }

    assert_eq!(seen.len(), all.len(), "a key landed in two shards");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);
}

async fn a_prefix_larger_than_one_page_is_listed_completely(f: &Fixture) {
    // Nested names whose byte order differs from a naive per-directory sort (`a-b` < `a/`).
    let mut all = BTreeSet::new();
    for i in 0..1010 {
        all.insert(format!("big/{:02}/{i:04}", i % 7));
        if i % 100 == 0 {
            all.insert(format!("big/{:02}-x{i}", i % 7));
        }
    }
    futures::stream::iter(&all)
        .for_each_concurrent(16, |key| f.put(key, b"x", &[], &[]))
        .await;
    let store = f.store().await;
    let t = target("big/", None, None);

    let scan = scan_all(&store, &t, &ObjectFilter::default()).await;

    assert_eq!(scan.scanned, all.len() as u64);
    assert_eq!(
        scan.matched.len(),
        all.len(),
        "a key was listed twice or not at all"
    );
    assert_eq!(scan.keys(), all);
}

#[tokio::test]
async fn dir_write_once_export_is_read_only_never_overwritten_and_reported_locked() {
    let f = Fixture::dir().await;
    let store = f.store().await;

    store
        .put_write_once("audit/2026/run-1.jsonl", b"{}\n".to_vec(), Some(30))
        .await
        .expect("export");
    let again = store
        .put_write_once("audit/2026/run-1.jsonl", b"tampered".to_vec(), None)
        .await;
    let scan = scan_all(
        &store,
        &target("audit/", None, None),
        &ObjectFilter::default(),
    )
    .await;
    let forged = retention::stores::objects::ObjectRef {
        key: "audit/2026/run-1.jsonl".into(),
        subject: None,
        timestamp: None,
        size: 3,
        locked: false,
        listed_modified: None,
    };
    let report = store.delete(&[forged]).await.expect("delete");

    let message = format!("{:#}", again.expect_err("the export exists already"));
    assert!(message.contains("store `media`"), "{message}");
    assert_eq!(scan.locked, 1);
    assert!(scan.matched.is_empty());
    assert_eq!(report.locked.len(), 1, "{report:?}");
    assert_eq!(f.keys().await, keys(&["audit/2026/run-1.jsonl"]));
    let Fixture::Dir(dir) = &f else {
        panic!("a directory fixture")
    };
    let path = dir.path().join("audit/2026/run-1.jsonl");
    assert_eq!(std::fs::read(&path).expect("read export"), b"{}\n");
    assert!(std::fs::metadata(&path)
        .expect("stat")
        .permissions()
        .readonly());
}

/// A directory store deletes only what it judged: a file written again between the
/// listing and the delete (fresh now) stays, and the others go (found by an adversarial
/// review: the rewrite was deleted). And anonymising keeps a private file private: the
/// rewritten file and its sidecar keep the file's mode.
#[tokio::test]
async fn dir_files_changed_since_listing_stay_and_anonymised_files_keep_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::dir().await;
    let crate::support::objects::Fixture::Dir(root) = &f else {
        unreachable!()
    };
    for k in ["crash/1.dmp", "crash/2.dmp", "crash/3.dmp"] {
        f.put(k, b"x", &[], &[]).await;
        let file = std::fs::File::options()
            .write(true)
            .open(root.path().join(k))
            .unwrap();
        file.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        )
        .unwrap();
    }
    let store = f.store().await;
    let crashes = target("crash/", None, Some(ObjectTimestamp::LastModified));
    let scan = scan_all(&store, &crashes, &expiry("2025-01-01T00:00:00Z")).await;
    assert_eq!(scan.matched.len(), 3);
    // Written again after the listing: fresh.
    std::fs::write(root.path().join("crash/2.dmp"), b"new").unwrap();
    let report = store.delete(&scan.matched).await.expect("delete");
    assert_eq!(report.done.len(), 2, "{report:?}");
    assert_eq!(f.keys().await, keys(&["crash/2.dmp"]));

    f.put("photos/p.dat", b"not an image", &[("k", "v")], &[])
        .await;
    let photo = root.path().join("photos/p.dat");
    std::fs::set_permissions(&photo, std::fs::Permissions::from_mode(0o600)).unwrap();
    let photos = target("photos/", None, None);
    let scan = scan_all(&store, &photos, &ObjectFilter::default()).await;
    store
        .anonymise(&scan.matched, ObjectStrategy::StripMetadata)
        .await
        .expect("anonymise");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&photo), 0o600);
    let sidecar = root.path().join("photos/p.dat.meta.json");
    if sidecar.exists() {
        assert_eq!(mode(&sidecar), 0o600);
    }
}
