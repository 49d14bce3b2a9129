//! A real S3 server for tests: moto, started once per test binary, and a fresh random bucket
//! per test; and [`BareS3`], a real server without versioning, Object Lock or tagging.
//!
//! `RETENTION_TEST_S3_ENDPOINT` names a running server (CI, or a developer's MinIO). When it
//! is unset, `moto_server` (from `pip install 'moto[server]'`) is started on a free port of
//! 127.0.0.1 under a small shell watchdog that stops it when the test binary exits, and the
//! helper waits until it answers HTTP.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ObjectLockEnabled, Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use retention::config::{S3Config, StoreConfig};
use retention::stores::objects::ObjectStore;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The S3 endpoint every test of this binary uses, e.g. `http://127.0.0.1:41234`.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        // moto accepts any credentials; the store reads them from the default chain.
        for (var, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            if std::env::var_os(var).is_none() {
                std::env::set_var(var, value);
            }
        }
        match std::env::var("RETENTION_TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => endpoint,
            _ => start_moto(),
        }
    })
}

fn start_moto() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port();
    let script = format!(
        "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $m",
        parent = std::process::id()
    );
    // The watchdog outlives this function on purpose: it stops moto once the test binary
    // has exited, and init reaps it then, so there is nothing to wait for here.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("moto_server could not be started: pip install 'moto[server]'");
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_until_answering(port);
    endpoint
}

/// A moto_server of a test's own, on a free port, with extra environment variables; for
/// credential tests see [`OwnMoto::enforce_auth`]. Killed when dropped.
pub struct OwnMoto {
    pub endpoint: String,
    child: std::process::Child,
}

impl OwnMoto {
    pub fn start(env: &[(&str, &str)]) -> OwnMoto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        let mut command = std::process::Command::new("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .expect("moto_server could not be started: pip install 'moto[server]'");
        let moto = OwnMoto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        wait_until_answering(port);
        moto
    }
}

impl OwnMoto {
    /// Creates an IAM user with an access key and no policy, and returns (key id, secret).
    /// Call it before [`Self::enforce_auth`]: until then moto checks nothing, and the
    /// Authorization header only tells it which service is meant.
    pub fn iam_user_without_permissions(&self) -> (String, String) {
        let iam = |body: &str| {
            self.post(
                "/",
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/\
                 us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n",
                body,
            )
        };
        let field = |xml: &str, name: &str| -> String {
            let open = format!("<{name}>");
            let start = xml.find(&open).map(|i| i + open.len());
            let end = xml.find(&format!("</{name}>"));
            match (start, end) {
                (Some(start), Some(end)) => xml[start..end].to_owned(),
                _ => panic!("no {name} in moto's answer: {xml}"),
            }
        };
        iam("Action=CreateUser&UserName=retention&Version=2010-05-08");
        let key = iam("Action=CreateAccessKey&UserName=retention&Version=2010-05-08");
        (field(&key, "AccessKeyId"), field(&key, "SecretAccessKey"))
    }

    /// From now on moto checks every request's credentials against its IAM backend (moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`, set to 0 through its reset-auth API).
    pub fn enforce_auth(&self) {
        let answer = self.post("/moto-api/reset-auth", "", "0");
        assert!(answer.contains("\"status\": \"ok\""), "{answer}");
    }

    /// One raw HTTP POST (extra header lines end in CRLF); the whole answer as text.
    fn post(&self, path: &str, headers: &str, body: &str) -> String {
        let port: u16 = self
            .endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto answers");
        answer
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real S3-compatible server that implements neither versioning, nor Object Lock, nor
/// object tagging: `s3s-fs` (the file-system server of the `s3s` crates), which answers
/// those calls with `NotImplemented` (HTTP 501), as Cloudflare R2 and several small S3
/// servers do. It serves a temporary directory on a free port and is killed when dropped.
/// `tests/run-all.sh` installs it (`cargo install s3s-fs --version 0.14.1 --features binary`).
pub struct BareS3 {
    pub endpoint: String,
    child: std::process::Child,
    _root: tempfile::TempDir,
}

impl BareS3 {
    pub fn start() -> BareS3 {
        endpoint(); // the same credentials in the environment as every S3 test
        let root = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        // It checks signatures: give it the credentials every client of the tests uses.
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let child = std::process::Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &var("AWS_ACCESS_KEY_ID")])
            .args(["--secret-key", &var("AWS_SECRET_ACCESS_KEY")])
            .arg(root.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "s3s-fs could not be started: cargo install s3s-fs --version 0.14.1 \
                 --features binary --locked (tests/run-all.sh does)",
            );
        let server = BareS3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            _root: root,
        };
        wait_until_answering(port);
        server
    }
}

impl Drop for BareS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until_answering(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            let mut answer = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut answer).is_ok()
                && answer.starts_with(b"HTTP/1.")
            {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("moto_server did not answer on port {port} within 60 s");
}

/// A raw S3 client for the test endpoint (for arranging and inspecting buckets).
pub async fn client() -> Client {
    client_for(endpoint()).await
}

/// A raw S3 client for any endpoint (the throttling proxy, say).
pub async fn client_for(endpoint: &str) -> Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

/// A fresh bucket with a random name.
pub struct Bucket {
    pub name: String,
    pub client: Client,
}

/// How to create a test bucket.
#[derive(Debug, Clone, Copy, Default)]
pub struct BucketKind {
    pub versioned: bool,
    pub object_lock: bool,
}

impl Bucket {
    pub async fn new(kind: BucketKind) -> Bucket {
        let client = client().await;
        let name = format!("rt-{}", uuid::Uuid::now_v7().simple());
        client
            .create_bucket()
            .bucket(&name)
            .object_lock_enabled_for_bucket(kind.object_lock)
            .send()
            .await
            .expect("create bucket");
        if kind.versioned && !kind.object_lock {
            client
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("enable versioning");
        }
        Bucket { name, client }
    }

    /// A new bucket with versioning enabled.
    pub async fn versioned() -> Bucket {
        Bucket::new(BucketKind {
            versioned: true,
            object_lock: false,
        })
        .await
    }

    /// A new bucket with Object Lock (which implies versioning).
    pub async fn locked() -> Bucket {
        Bucket::new(BucketKind {
            versioned: true,
            object_lock: true,
        })
        .await
    }

    /// Sets (`on`) or lifts the legal hold on `key`'s version `version` (its current one
    /// when `None`).
    pub async fn legal_hold(&self, key: &str, version: Option<&str>, on: bool) {
        use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
        let status = match on {
            true => ObjectLockLegalHoldStatus::On,
            false => ObjectLockLegalHoldStatus::Off,
        };
        self.client
            .put_object_legal_hold()
            .bucket(&self.name)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .expect("set the legal hold");
    }

    /// Deletes `key` without naming a version: on a versioned bucket, a delete marker.
    pub async fn delete_current(&self, key: &str) {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .expect("leave a delete marker");
    }

    /// The store configuration a user would write for this bucket.
    pub fn config(&self) -> StoreConfig {
        self.config_at(endpoint())
    }

    pub fn config_at(&self, endpoint: &str) -> StoreConfig {
        StoreConfig::S3(S3Config {
            bucket: self.name.clone(),
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint.to_owned()),
            path_style: true,
        })
    }

    pub async fn store(&self) -> ObjectStore {
        ObjectStore::connect("media", &self.config())
            .await
            .expect("connect to the test bucket")
    }

    /// Puts an object with user metadata and tags.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(body));
        for (k, v) in metadata {
            request = request.metadata(*k, *v);
        }
        request.send().await.expect("put object");
        if !tags.is_empty() {
            let tag_set = tags
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect();
            self.client
                .put_object_tagging()
                .bucket(&self.name)
                .key(key)
                .tagging(
                    Tagging::builder()
                        .set_tag_set(Some(tag_set))
                        .build()
                        .expect("tagging"),
                )
                .send()
                .await
                .expect("tag object");
        }
    }

    /// The current keys of the bucket.
    pub async fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.expect("list objects").contents() {
                keys.insert(object.key().unwrap_or_default().to_owned());
            }
        }
        keys
    }

    /// Every (key, version id) of versions and delete markers left in the bucket.
    pub async fn versions(&self) -> Vec<(String, String)> {
        let out = self
            .client
            .list_object_versions()
            .bucket(&self.name)
            .send()
            .await
            .expect("list versions");
        let versions = out.versions().iter().map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
            )
        });
        let markers = out.delete_markers().iter().map(|m| {
            (
                m.key().unwrap_or_default().to_owned(),
                format!("marker:{}", m.version_id().unwrap_or_default()),
            )
        });
        versions.chain(markers).collect()
    }

    /// Whether the bucket reports Object Lock enabled (sanity check for lock tests).
    pub async fn has_object_lock(&self) -> bool {
        self.client
            .get_object_lock_configuration()
            .bucket(&self.name)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled().cloned())
            })
            == Some(ObjectLockEnabled::Enabled)
    }
}
