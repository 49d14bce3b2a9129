//! One fixture over both object-store backends, so the behavioural suite runs unchanged
//! against a real S3 bucket and a local directory.
//!
//! S3 cannot backdate `last_modified`, so age tests use a `captured-at` metadata timestamp
//! (which both backends read the same way) and set `last_modified` only where the backend
//! can (the directory store's mtime).

use super::s3::{Bucket, BucketKind};
use chrono::{DateTime, Utc};
use retention::config::StoreConfig;
use retention::rules::model::{ObjectSubject, ObjectTarget, ObjectTimestamp};
use retention::stores::objects::{ObjectFilter, ObjectRef, ObjectReport, ObjectStore};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A fresh, empty object store of one kind.
pub enum Fixture {
    S3(Bucket),
    Dir(tempfile::TempDir),
}

impl Fixture {
    pub async fn s3() -> Fixture {
        Fixture::S3(Bucket::new(BucketKind::default()).await)
    }

    pub async fn dir() -> Fixture {
        Fixture::Dir(tempfile::tempdir().expect("temp dir"))
    }

    pub fn config(&self) -> StoreConfig {
        match self {
            Fixture::S3(bucket) => bucket.config(),
            Fixture::Dir(dir) => StoreConfig::Dir {
                path: dir.path().to_owned(),
            },
        }
    }

    /// The store as a `retention.yaml` entry (the value under the store's name, one line).
    pub fn yaml(&self) -> String {
        match self {
            Fixture::S3(bucket) => format!(
                "{{s3: {{bucket: {}, region: us-east-1, endpoint: \"{}\", path_style: true}}}}",
                bucket.name,
                super::s3::endpoint()
            ),
            Fixture::Dir(dir) => format!("{{dir: \"{}\"}}", dir.path().display()),
        }
    }

    pub async fn store(&self) -> ObjectStore {
        ObjectStore::connect("media", &self.config())
            .await
            .expect("connect to the test store")
    }

    /// Puts an object with user metadata and tags (in the sidecar for the directory store).
    pub async fn put(
        &self,
        key: &str,
        body: &[u8],
        metadata: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) {
        match self {
            Fixture::S3(bucket) => bucket.put(key, body.to_vec(), metadata, tags).await,
            Fixture::Dir(dir) => put_file(dir.path(), key, body, metadata, tags),
        }
    }

    /// The keys currently in the store (sidecars are not objects).
    pub async fn keys(&self) -> BTreeSet<String> {
        match self {
            Fixture::S3(bucket) => bucket.keys().await,
            Fixture::Dir(dir) => walk(dir.path(), dir.path()),
        }
    }
}

fn put_file(root: &Path, key: &str, body: &[u8], metadata: &[(&str, &str)], tags: &[(&str, &str)]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().expect("key has a parent")).expect("mkdir");
    std::fs::write(&path, body).expect("write object");
    if !metadata.is_empty() || !tags.is_empty() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let sidecar = serde_json::json!({"metadata": map(metadata), "tags": map(tags)});
        let mut name = path.into_os_string();
        name.push(".meta.json");
        std::fs::write(name, sidecar.to_string()).expect("write sidecar");
    }
}

fn walk(root: &Path, dir: &Path) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            keys.extend(walk(root, &path));
        } else if !path.to_string_lossy().ends_with(".meta.json") {
            let rel = path.strip_prefix(root).expect("under root");
            keys.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    keys
}

/// An object target as a rule file would declare it.
pub fn target(
    prefix: &str,
    subject: Option<ObjectSubject>,
    timestamp: Option<ObjectTimestamp>,
) -> ObjectTarget {
    ObjectTarget {
        store: "media".into(),
        prefix: prefix.into(),
        subject,
        timestamp,
        anonymise: None,
    }
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

/// Totals of a full scan over every page.
#[derive(Debug, Default)]
pub struct Scan {
    pub matched: Vec<ObjectRef>,
    pub held: u64,
    pub locked: u64,
    pub scanned: u64,
}

impl Scan {
    pub fn keys(&self) -> BTreeSet<String> {
        self.matched.iter().map(|o| o.key.clone()).collect()
    }
}

/// Scans a target page by page to the end.
pub async fn scan_all(store: &ObjectStore, target: &ObjectTarget, filter: &ObjectFilter) -> Scan {
    let mut scan = Scan::default();
    let mut token = None;
    loop {
        let page = store
            .scan_page(target, filter, token)
            .await
            .expect("scan a page");
        scan.matched.extend(page.matched);
        scan.held += page.held;
        scan.locked += page.locked;
        scan.scanned += page.scanned;
        token = page.next;
        if token.is_none() {
            return scan;
        }
    }
}

/// Scans a whole target, then deletes everything it matched.
pub async fn delete_matching(
    store: &ObjectStore,
    target: &ObjectTarget,
    filter: &ObjectFilter,
) -> ObjectReport {
    let scan = scan_all(store, target, filter).await;
    store.delete(&scan.matched).await.expect("delete")
}
