//! Throttling: a fault-injecting HTTP proxy in front of the S3 server answers a share of
//! requests with 503 SlowDown, and a share of DeleteObjects calls with a 200 whose every key
//! failed with SlowDown (S3 reports per-key errors inside a 200). Deletion must still
//! finish: everything that should go is gone, everything that should stay is there.

use crate::support::objects::{scan_all, target};
use crate::support::s3::{self, Bucket, BucketKind};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use retention::rules::model::ObjectSubject;
use retention::stores::objects::{ObjectFilter, ObjectStore};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts of what the proxy did.
#[derive(Default)]
struct Faults {
    requests: AtomicU64,
    slow_downs: AtomicU64,
    per_key_slow_downs: AtomicU64,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Starts the proxy on a free local port in front of `upstream`; returns its endpoint.
async fn start_proxy(upstream: String, faults: Arc<Faults>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, upstream, faults) =
                (client.clone(), upstream.clone(), Arc::clone(&faults));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    proxy(
                        request,
                        client.clone(),
                        upstream.clone(),
                        Arc::clone(&faults),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    endpoint
}

async fn proxy(
    request: Request<Incoming>,
    client: HttpClient,
    upstream: String,
    faults: Arc<Faults>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let n = faults.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    // Every third request: 503 SlowDown, before it reaches the server.
    if n % 3 == 1 {
        faults.slow_downs.fetch_add(1, Ordering::Relaxed);
        return Ok(xml(503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"));
    }
    let is_delete_objects = parts.method == hyper::Method::POST
        && parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "delete" || p == "delete="));
    // Every other DeleteObjects that gets through: 200, but every key throttled.
    if is_delete_objects && n % 2 == 0 {
        faults.per_key_slow_downs.fetch_add(1, Ordering::Relaxed);
        return Ok(xml(200, &every_key_slowed_down(&body)));
    }
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let forward = forward
        .body(Full::new(body))
        .expect("a valid forwarded request");
    let answer = match client.request(forward).await {
        Ok(answer) => answer,
        Err(_) => return Ok(xml(502, "<Error><Code>BadGateway</Code></Error>")),
    };
    let (parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

fn xml(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a valid response")
}

/// A DeleteObjects result in which every requested key failed with SlowDown.
fn every_key_slowed_down(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult>");
    for piece in text.split("<Key>").skip(1) {
        if let Some((key, _)) = piece.split_once("</Key>") {
            out.push_str(&format!("<Error><Key>{key}</Key><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"));
        }
    }
    out.push_str("</DeleteResult>");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_under_throttling_completes_and_deletes_exactly_what_it_should() {
    let bucket = Bucket::new(BucketKind::default()).await;
    let mut erased = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for i in 0..2400 {
        let subject = i % 4;
        let key = format!("sync/{subject}/{i:05}.bin");
        if subject == 3 {
            kept.insert(key)
        } else {
            erased.insert(key)
        };
    }
    futures::stream::iter(erased.iter().chain(&kept))
        .for_each_concurrent(16, |key| bucket.put(key, b"x".to_vec(), &[], &[]))
        .await;
    let faults = Arc::new(Faults::default());
    let proxy = start_proxy(s3::endpoint().to_owned(), Arc::clone(&faults)).await;
    let store = ObjectStore::connect("media", &bucket.config_at(&proxy))
        .await
        .expect("connect");
    let t = target(
        "sync/",
        Some(ObjectSubject::KeyPattern("sync/{subject}/".into())),
        None,
    );
    let filter = ObjectFilter {
        subjects: Some(["0", "1", "2"].into_iter().map(String::from).collect()),
        ..ObjectFilter::default()
    };

    let scan = scan_all(&store, &t, &filter).await;
    assert_eq!(scan.matched.len(), erased.len());
    let report = store.delete(&scan.matched).await.expect("delete");

    assert!(
        report.failed.is_empty(),
        "{:?}",
        &report.failed[..report.failed.len().min(3)]
    );
    assert_eq!(report.done.len(), erased.len());
    assert!(
        faults.slow_downs.load(Ordering::Relaxed) > 0,
        "the proxy never throttled"
    );
    assert!(
        faults.per_key_slow_downs.load(Ordering::Relaxed) > 0,
        "no per-key throttling"
    );
    assert_eq!(bucket.keys().await, kept);
}
