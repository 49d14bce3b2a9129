//! Benchmark driver for object deletion (run through `bench/objects/run.sh`).
//!
//! `populate` fills a prefix with small objects; `delete` erases a prefix the way a
//! retention run does — scan page by page through [`ObjectStore::scan_page`], then
//! [`ObjectStore::delete`] (DeleteObjects, 1,000 keys a request, several in flight) — and
//! prints the elapsed seconds on stdout, so the script can compare it with other tools.
//!
//! Usage:
//!   objects_bench populate ENDPOINT BUCKET PREFIX COUNT
//!   objects_bench delete   ENDPOINT BUCKET PREFIX

use anyhow::{bail, Context};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use retention::config::{S3Config, StoreConfig};
use retention::rules::model::ObjectTarget;
use retention::stores::objects::{ObjectFilter, ObjectStore};
use std::time::Instant;

/// Objects handed to one `delete` call: eight DeleteObjects requests' worth, so that
/// several requests are in flight at once.
const DELETE_CHUNK: usize = 8_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["populate", endpoint, bucket, prefix, count] => {
            let count: usize = count.parse().context("COUNT must be a number")?;
            populate(endpoint, bucket, prefix, count).await
        }
        ["delete", endpoint, bucket, prefix] => delete(endpoint, bucket, prefix).await,
        _ => bail!("usage: objects_bench populate ENDPOINT BUCKET PREFIX COUNT | delete ENDPOINT BUCKET PREFIX"),
    }
}

async fn connect(endpoint: &str, bucket: &str) -> anyhow::Result<ObjectStore> {
    let config = StoreConfig::S3(S3Config {
        bucket: bucket.to_owned(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.to_owned()),
        path_style: true,
    });
    ObjectStore::connect("bench", &config).await
}

async fn populate(endpoint: &str, bucket: &str, prefix: &str, count: usize) -> anyhow::Result<()> {
    let ObjectStore::S3(store) = connect(endpoint, bucket).await? else {
        bail!("not an S3 store");
    };
    let client = store.client();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..count)
        .map(|i| async move {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{:02}/{i:06}.bin", i % 50))
                .body(ByteStream::from_static(b"crash dump"))
                .send()
                .await
                .context("put an object")?;
            Ok(())
        })
        .buffer_unordered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn delete(endpoint: &str, bucket: &str, prefix: &str) -> anyhow::Result<()> {
    let store = connect(endpoint, bucket).await?;
    let target = ObjectTarget {
        store: "bench".into(),
        prefix: prefix.to_owned(),
        subject: None,
        timestamp: None,
        anonymise: None,
    };
    let filter = ObjectFilter::default();
    let started = Instant::now();
    let (mut deleted, mut pending, mut token) = (0usize, Vec::new(), None);
    loop {
        let page = store.scan_page(&target, &filter, token).await?;
        pending.extend(page.matched);
        token = page.next;
        if pending.len() >= DELETE_CHUNK || token.is_none() {
            let report = store.delete(&pending).await?;
            if !report.failed.is_empty() {
                bail!(
                    "{} objects failed: {}",
                    report.failed.len(),
                    report.failed[0].1
                );
            }
            deleted += report.done.len();
            pending.clear();
        }
        if token.is_none() {
            break;
        }
    }
    eprintln!("deleted {deleted} objects");
    println!("{:.3}", started.elapsed().as_secs_f64());
    Ok(())
}
