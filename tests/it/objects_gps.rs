//! `strip_gps` on real images in both stores: the location goes, the picture and the rest of
//! the EXIF stay, and a file that is not an image fails alone.

use crate::support::cli::{retention, write_files, Paused};
use crate::support::images::{
    exif_fields, jpeg_with_gps, jpeg_without_exif, non_exif_parts, pixels, png_with_gps,
};
use crate::support::objects::{scan_all, target, Fixture};
use crate::support::s3::Bucket;
use retention::rules::model::{ObjectStrategy, ObjectTimestamp};
use retention::stores::objects::{ObjectFilter, ObjectStore};

async fn stripped(fixture: &Fixture, store: &ObjectStore, key: &str) -> Vec<u8> {
    match fixture {
        Fixture::S3(bucket) => bucket
            .client
            .get_object()
            .bucket(&bucket.name)
            .key(key)
            .send()
            .await
            .expect("get object")
            .body
            .collect()
            .await
            .expect("read body")
            .into_bytes()
            .to_vec(),
        Fixture::Dir(dir) => {
            let _ = store;
            std::fs::read(dir.path().join(key)).expect("read file")
        }
    }
}

async fn gps_goes_and_pixels_and_other_exif_stay(f: Fixture) {
    let jpeg = jpeg_with_gps();
    let png = png_with_gps();
    assert!(
        exif_fields(&jpeg).0.iter().any(|(ctx, _)| ctx == "Gps"),
        "fixture lacks GPS"
    );
    f.put("photos/42/a.jpg", &jpeg, &[], &[("album", "holiday")])
        .await;
    f.put("photos/42/b.png", &png, &[], &[]).await;
    let store = f.store().await;
    let t = target("photos/", None, Some(ObjectTimestamp::LastModified));
    let filter = ObjectFilter {
        skip_anonymised: true,
        cutoff: Some(chrono::Utc::now() + chrono::Duration::days(1)),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &filter).await;
    let report = store
        .anonymise(&scan.matched, ObjectStrategy::StripGps)
        .await
        .expect("anonymise");
    assert_eq!(report.done.len(), 2, "{report:?}");

    for (key, before) in [("photos/42/a.jpg", &jpeg), ("photos/42/b.png", &png)] {
        let after = stripped(&f, &store, key).await;
        assert_eq!(pixels(&after), pixels(before), "{key}: pixels changed");
        assert_eq!(
            non_exif_parts(&after),
            non_exif_parts(before),
            "{key}: non-EXIF bytes changed"
        );
        let (fields, make) = exif_fields(&after);
        assert!(
            !fields.iter().any(|(ctx, _)| ctx == "Gps"),
            "{key}: GPS left: {fields:?}"
        );
        assert!(
            fields.iter().any(|(_, tag)| *tag == 0x9003),
            "{key}: DateTimeOriginal lost"
        );
        assert_eq!(make.as_deref(), Some("\"Canon\""), "{key}: Make lost");
    }
    assert!(
        scan_all(&store, &t, &filter).await.matched.is_empty(),
        "anonymised again"
    );
}

async fn a_non_image_fails_alone_without_naming_its_key(f: Fixture) {
    f.put("photos/42/notes.txt", b"not a picture", &[], &[])
        .await;
    f.put("photos/42/a.jpg", &jpeg_with_gps(), &[], &[]).await;
    let store = f.store().await;
    let t = target("photos/", None, None);

    let scan = scan_all(&store, &t, &ObjectFilter::default()).await;
    let report = store
        .anonymise(&scan.matched, ObjectStrategy::StripGps)
        .await
        .expect("anonymise");

    assert_eq!(report.done, vec!["photos/42/a.jpg".to_string()]);
    assert_eq!(report.failed.len(), 1);
    let (key, message) = &report.failed[0];
    assert_eq!(key, "photos/42/notes.txt");
    assert!(
        message.contains("store `media`") && message.contains("not an image"),
        "{message}"
    );
    assert!(
        !message.contains("notes.txt") && !message.contains("photos/42"),
        "key leaked: {message}"
    );
}

#[tokio::test]
async fn s3_strip_gps_removes_location_and_keeps_pixels_and_other_exif() {
    gps_goes_and_pixels_and_other_exif_stay(Fixture::s3().await).await;
}

#[tokio::test]
async fn dir_strip_gps_removes_location_and_keeps_pixels_and_other_exif() {
    gps_goes_and_pixels_and_other_exif_stay(Fixture::dir().await).await;
}

#[tokio::test]
async fn s3_a_non_image_under_strip_gps_fails_alone() {
    a_non_image_fails_alone_without_naming_its_key(Fixture::s3().await).await;
}

#[tokio::test]
async fn dir_a_non_image_under_strip_gps_fails_alone() {
    a_non_image_fails_alone_without_naming_its_key(Fixture::dir().await).await;
}

/// Anonymising a photo on S3 rewrites it, and the rewrite keeps the object's headers: a
/// private photo marked `Cache-Control: no-store` must not come back cacheable, nor lose
/// its `Content-Disposition` (found by an adversarial review: both were dropped).
#[tokio::test]
async fn s3_strip_gps_keeps_the_objects_headers() {
    let f = Fixture::s3().await;
    let Fixture::S3(bucket) = &f else {
        unreachable!()
    };
    bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key("photos/7/p.jpg")
        .body(jpeg_with_gps().into())
        .content_type("image/jpeg")
        .cache_control("no-store")
        .content_disposition("attachment; filename=\"p.jpg\"")
        .content_language("de")
        .send()
        .await
        .expect("put object");
    let store = f.store().await;
    let t = target("photos/", None, Some(ObjectTimestamp::LastModified));
    let filter = ObjectFilter {
        cutoff: Some(chrono::Utc::now() + chrono::Duration::days(1)),
        ..ObjectFilter::default()
    };
    let scan = scan_all(&store, &t, &filter).await;
    let report = store
        .anonymise(&scan.matched, ObjectStrategy::StripGps)
        .await
        .expect("anonymise");
    assert_eq!(report.done.len(), 1, "{report:?}");
    let head = bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key("photos/7/p.jpg")
        .send()
        .await
        .expect("head object");
    assert_eq!(head.cache_control(), Some("no-store"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"p.jpg\"")
    );
    assert_eq!(head.content_language(), Some("de"));
    assert_eq!(head.content_type(), Some("image/jpeg"));
    let after = stripped(&f, &store, "photos/7/p.jpg").await;
    let (fields, _) = exif_fields(&after);
    assert!(
        !fields.iter().any(|(ctx, _)| ctx == "Gps"),
        "GPS left: {fields:?}"
    );
}

/// A run anonymising photos of the versioned bucket `bucket` (`strip_gps`, 30 days after
/// their `captured-at`), in a fresh directory.
fn versioned_photos_run(bucket: &Bucket) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "stores:
  app: {{url: \"sqlite://app.db\"}}
  media: {{s3: {{bucket: {}, region: us-east-1, endpoint: \"{}\", path_style: true}}}}
state: app
audit:
  pseudonym_key: \"test-pseudonym-key-0123456789abcdef0123456789\"
rules: ./rules
",
        bucket.name,
        crate::support::s3::endpoint()
    );
    let rule = "category: photos
description: Test photos
source: \"Privacy Policy, 'photos'\"
retain: 30d
on_expiry: anonymise
targets:
  - store: media
    prefix: photos/
    timestamp: {metadata: captured-at}
    anonymise: strip_gps
";
    write_files(
        dir.path(),
        &[("retention.yaml", &config), ("rules/photos.yaml", rule)],
    );
    retention(dir.path(), &["migrate"], &[]).expect_code(0);
    dir
}

const TAKEN_LONG_AGO: &[(&str, &str)] = &[("captured-at", "2020-01-01T00:00:00Z")];

/// Each data version of `key` (newest first; not its delete markers) as its body.
async fn bodies(bucket: &Bucket, key: &str) -> Vec<Vec<u8>> {
    let listed = bucket
        .client
        .list_object_versions()
        .bucket(&bucket.name)
        .prefix(key)
        .send()
        .await
        .expect("list versions");
    let mut out = Vec::new();
    for v in listed.versions() {
        let (Some(k), Some(version)) = (v.key(), v.version_id()) else {
            continue;
        };
        if k != key {
            continue;
        }
        let body = bucket
            .client
            .get_object()
            .bucket(&bucket.name)
            .key(key)
            .version_id(version)
            .send()
            .await
            .expect("get a version")
            .body
            .collect()
            .await
            .expect("read a version")
            .into_bytes()
            .to_vec();
        out.push(body);
    }
    out
}

fn has_gps(image: &[u8]) -> bool {
    exif_fields(image).0.iter().any(|(ctx, _)| ctx == "Gps")
}

/// The application stripped the location itself and uploaded the photo again: the
/// current version needs no rewrite, but the older one still holds the location, and
/// anonymising the photo must not leave it there.
#[tokio::test]
async fn s3_strip_gps_removes_a_location_left_in_an_older_version_when_the_current_has_none() {
    let bucket = Bucket::versioned().await;
    let key = "photos/7/p.jpg";
    bucket.put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &[]).await;
    bucket
        .put(key, jpeg_without_exif(), TAKEN_LONG_AGO, &[])
        .await;
    assert_eq!(bodies(&bucket, key).await.len(), 2);
    let dir = versioned_photos_run(&bucket);

    retention(dir.path(), &["run"], &[]).expect_code(0);

    let left = bodies(&bucket, key).await;
    assert_eq!(
        left,
        vec![jpeg_without_exif()],
        "only the photo without location stays"
    );
    retention(dir.path(), &["audit", "verify"], &[]).expect_code(0);
}

/// Anonymises a photo with a location on a versioned bucket, the application uploading
/// a new version of it while the run is paused at `step`; returns the photo's versions
/// afterwards (newest first) and the upload.
async fn uploaded_while_paused_at(step: &str) -> (Bucket, Vec<Vec<u8>>, Vec<u8>) {
    let bucket = Bucket::versioned().await;
    let key = "photos/7/p.jpg";
    let album = [("album", "holiday")];
    bucket
        .put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &album)
        .await;
    let dir = versioned_photos_run(&bucket);

    let paused = Paused::run_at(dir.path(), step, &[]);
    let newer = b"the application's newest upload".to_vec();
    bucket
        .put(key, newer.clone(), TAKEN_LONG_AGO, &[("origin", "app")])
        .await;
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");
    let left = bodies(&bucket, key).await;
    (bucket, left, newer)
}

/// The tags of `key`'s newest version, as `key=value`.
async fn newest_tags(bucket: &Bucket, key: &str) -> Vec<String> {
    let (_, version) = bucket
        .versions()
        .await
        .into_iter()
        .next()
        .expect("a version");
    tags_of(bucket, key, &version).await
}

/// The tags of `key`'s version `version`, as sorted `key=value`.
async fn tags_of(bucket: &Bucket, key: &str, version: &str) -> Vec<String> {
    let out = bucket
        .client
        .get_object_tagging()
        .bucket(&bucket.name)
        .key(key)
        .version_id(version)
        .send()
        .await
        .expect("read the tags");
    let mut tags: Vec<String> = out
        .tag_set()
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect();
    tags.sort();
    tags
}

/// A version the application writes while the photo is being anonymised is newer than
/// the anonymised copy: it stays (with the anonymised copy), and only the versions older
/// than that copy go.
#[tokio::test]
async fn s3_strip_gps_keeps_a_version_written_after_its_anonymised_copy() {
    let (_, left, newer) = uploaded_while_paused_at("anonymised-written").await;
    assert_eq!(left.len(), 2, "the newest upload and the anonymised copy");
    assert_eq!(left[0], newer, "the newest upload is still the object");
    assert!(!has_gps(&left[1]), "the anonymised copy has no location");
    assert_eq!(pixels(&left[1]), pixels(&jpeg_with_gps()));
}

/// A version the application writes between the tool's read of a photo and its
/// anonymised copy is not the data the tool read: it stays (under the copy), and only the
/// version read, with its location, goes.
#[tokio::test]
async fn s3_strip_gps_keeps_a_version_written_between_its_read_and_its_copy() {
    let (bucket, left, newer) = uploaded_while_paused_at("anonymise-read").await;
    assert_eq!(left.len(), 2, "the anonymised copy and the newest upload");
    assert!(!has_gps(&left[0]), "the anonymised copy has no location");
    assert_eq!(left[1], newer, "the upload the tool never read is kept");
    assert_eq!(
        newest_tags(&bucket, "photos/7/p.jpg").await,
        ["album=holiday", "retention-anonymised=1"],
        "the copy keeps the tags of the version read, not the upload's"
    );
}

/// `strip_metadata` on a versioned bucket: the copy without metadata stays, the version
/// it was copied from (with the metadata) goes.
#[tokio::test]
async fn s3_strip_metadata_on_a_versioned_bucket_leaves_no_version_with_the_metadata() {
    let bucket = Bucket::versioned().await;
    let key = "photos/7/p.jpg";
    let metadata = &[
        ("captured-at", "2020-01-01T00:00:00Z"),
        ("owner-email", "a@example.com"),
    ];
    bucket.put(key, b"v1".to_vec(), metadata, &[]).await;
    bucket.put(key, b"v2".to_vec(), metadata, &[]).await;
    let dir = versioned_photos_run(&bucket);
    let rule = std::fs::read_to_string(dir.path().join("rules/photos.yaml")).expect("rule");
    write_files(
        dir.path(),
        &[(
            "rules/photos.yaml",
            &rule.replace("strip_gps", "strip_metadata"),
        )],
    );

    retention(dir.path(), &["run"], &[]).expect_code(0);

    let versions: Vec<String> = bucket
        .versions()
        .await
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(versions.len(), 1, "only the anonymised copy: {versions:?}");
    let head = bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key(key)
        .send()
        .await
        .expect("head");
    assert!(
        head.metadata().is_none_or(|m| m.is_empty()),
        "{:?}",
        head.metadata()
    );
    assert_eq!(bodies(&bucket, key).await, vec![b"v2".to_vec()]);
}

/// Puts an expired photo version under legal hold; returns its id.
async fn put_held(bucket: &Bucket, key: &str, body: Vec<u8>) -> String {
    let version = bucket
        .client
        .put_object()
        .bucket(&bucket.name)
        .key(key)
        .metadata("captured-at", "2020-01-01T00:00:00Z")
        .body(body.into())
        .send()
        .await
        .expect("put a version")
        .version_id()
        .expect("a version id")
        .to_owned();
    bucket.legal_hold(key, Some(&version), true).await;
    version
}

/// Whether `key`'s version `version` carries the anonymised marker tag.
async fn marked(bucket: &Bucket, key: &str, version: &str) -> bool {
    tags_of(bucket, key, version)
        .await
        .iter()
        .any(|t| t.starts_with("retention-anonymised="))
}

/// An older version under legal hold keeps its location (it is held) and the key is
/// reported locked, not done: the current version loses its location, but carries no
/// marker, so once the hold is lifted the next run deletes what is left.
#[tokio::test]
async fn s3_strip_gps_retries_an_older_version_under_legal_hold_once_it_is_lifted() {
    let bucket = Bucket::locked().await;
    let key = "photos/7/p.jpg";
    let held = put_held(&bucket, key, jpeg_with_gps()).await;
    bucket.put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &[]).await;
    let dir = versioned_photos_run(&bucket);

    let first = retention(dir.path(), &["run"], &[]).expect_code(0);
    assert!(first.stdout.contains("locked"), "{}", first.stdout);
    let left = bodies(&bucket, key).await;
    assert_eq!(left.len(), 2, "the anonymised copy and the held version");
    assert!(!has_gps(&left[0]) && has_gps(&left[1]));
    let (_, current) = bucket
        .versions()
        .await
        .into_iter()
        .next()
        .expect("a version");
    assert!(
        !marked(&bucket, key, &current).await,
        "no marker while data is left"
    );

    bucket.legal_hold(key, Some(&held), false).await;
    retention(dir.path(), &["run"], &[]).expect_code(0);
    let left = bodies(&bucket, key).await;
    assert_eq!(left.len(), 1, "only the anonymised copy");
    assert!(!has_gps(&left[0]));
    retention(dir.path(), &["audit", "verify"], &[]).expect_code(0);
}

/// A photo the application deleted, whose older version is under legal hold: its other
/// versions go, but the delete marker stays on top, so the held photo does not become
/// the object again.
#[tokio::test]
async fn s3_anonymising_a_deleted_photo_never_brings_back_a_held_version() {
    let bucket = Bucket::locked().await;
    let key = "photos/7/p.jpg";
    put_held(&bucket, key, jpeg_with_gps()).await;
    bucket.put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &[]).await;
    bucket.delete_current(key).await;
    let dir = versioned_photos_run(&bucket);

    let run = retention(dir.path(), &["run"], &[]).expect_code(0);

    assert!(run.stdout.contains("locked"), "{}", run.stdout);
    assert!(bucket.keys().await.is_empty(), "the photo stays deleted");
    assert_eq!(bodies(&bucket, key).await.len(), 1, "only the held version");
}

/// The marker goes on the version the tool anonymised: an expired photo the application
/// uploads while the tool looks at the current one is left unmarked, and the next run
/// strips it.
#[tokio::test]
async fn s3_strip_gps_marks_only_the_version_it_read() {
    let bucket = Bucket::versioned().await;
    let key = "photos/7/p.jpg";
    bucket.put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &[]).await;
    bucket
        .put(key, jpeg_without_exif(), TAKEN_LONG_AGO, &[])
        .await;
    let dir = versioned_photos_run(&bucket);

    let paused = Paused::run_at(dir.path(), "anonymise-read", &[]);
    bucket.put(key, jpeg_with_gps(), TAKEN_LONG_AGO, &[]).await;
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");
    let versions: Vec<String> = bucket
        .versions()
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        versions.len(),
        2,
        "the upload and the version read: {versions:?}"
    );
    assert!(
        !marked(&bucket, key, &versions[0]).await,
        "the upload is not marked"
    );
    assert!(
        marked(&bucket, key, &versions[1]).await,
        "the version read is"
    );

    retention(dir.path(), &["run"], &[]).expect_code(0);
    let left = bodies(&bucket, key).await;
    assert_eq!(
        left.len(),
        1,
        "the upload's anonymised copy: {}",
        left.len()
    );
    assert!(!has_gps(&left[0]));
}
