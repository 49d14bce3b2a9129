//! Faults of an object store get clear errors that name the store, and change nothing.

use crate::support::objects::target;
use crate::support::s3;
use retention::config::{S3Config, StoreConfig};
use retention::stores::objects::{ObjectFilter, ObjectStore};

async fn scan_error(config: StoreConfig) -> String {
    let store = ObjectStore::connect("media", &config)
        .await
        .expect("connect builds a client");
    let err = store
        .scan_page(
            &target("photos/", None, None),
            &ObjectFilter::default(),
            None,
        )
        .await
        .expect_err("the scan must fail");
    format!("{err:#}")
}

fn s3_config(bucket: &str, endpoint: &str) -> StoreConfig {
    StoreConfig::S3(S3Config {
        bucket: bucket.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        path_style: true,
    })
}

#[tokio::test]
async fn an_unreachable_s3_endpoint_is_a_clear_error_naming_the_store() {
    s3::endpoint(); // credentials in the environment, as for every S3 test
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");

    let message = scan_error(s3_config("media", &endpoint)).await;

    assert!(message.contains("store `media`"), "{message}");
    assert!(
        message.contains("cannot reach") && message.contains(&endpoint),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_naming_the_store_and_bucket() {
    let bucket = format!("rt-missing-{}", uuid::Uuid::now_v7().simple());

    let message = scan_error(s3_config(&bucket, s3::endpoint())).await;

    assert!(message.contains("store `media`"), "{message}");
    assert!(
        message.contains(&format!("bucket `{bucket}` does not exist")),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_directory_is_a_clear_error_naming_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nowhere");

    let message = scan_error(StoreConfig::Dir { path: path.clone() }).await;

    assert!(message.contains("store `media`"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn a_sql_store_is_refused_as_an_object_store() {
    let config = StoreConfig::Sql {
        url: secrecy::SecretString::from("sqlite://x.db".to_string()),
    };

    let err = ObjectStore::connect("app", &config)
        .await
        .expect_err("not an object store");

    assert!(format!("{err:#}").contains("store `app` is a SQL database"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_directory_store_never_follows_symlinks_out_of_its_root() {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("secret.jpg"), b"x").expect("write");
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("photos")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), root.path().join("photos/link")).expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("secret.jpg"),
        root.path().join("photos/file.jpg"),
    )
    .expect("symlink");
    let store = ObjectStore::connect(
        "media",
        &StoreConfig::Dir {
            path: root.path().to_owned(),
        },
    )
    .await
    .expect("open");

    let page = store
        .scan_page(
            &target("photos/", None, None),
            &ObjectFilter::default(),
            None,
        )
        .await
        .expect("scan");
    assert_eq!(page.scanned, 0);
    let forged = retention::stores::objects::ObjectRef {
        key: "photos/link/secret.jpg".into(),
        subject: None,
        timestamp: None,
        size: 1,
        locked: false,
        listed_modified: None,
    };
    let report = store.delete(&[forged]).await.expect("delete");

    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(outside.path().join("secret.jpg").exists());
}
