//! An S3 bucket (AWS, or anything that speaks its API: MinIO, Ceph, moto …) as an object store.
//!
//! Listing is ListObjectsV2, one page of up to 1,000 keys per call, on an unversioned
//! bucket. On a versioned bucket (versioning enabled or suspended) it is ListObjectVersions,
//! one page of up to 1,000 versions and delete markers, folded into one object per key that
//! still holds data, so that a key the application deleted (its current version is a delete
//! marker) but whose older versions keep the data is still found by erasure and expiry. Its
//! timestamp is the newest data version's `last_modified` (when the data was last written),
//! and its metadata, tags and lock status are read from that version. HeadObject runs only when
//! the target reads user metadata or the bucket has Object Lock (for the lock status), and
//! GetObjectTagging only when the target reads a tag or the scan skips anonymised objects;
//! both run for the survivors of the cheap key and `last_modified` tests only, many at once
//! under an adaptive limit ([`super::window`]), while the next page is being listed
//! ([`S3Store::scan`]).
//!
//! Deletion is DeleteObjects, up to 1,000 keys a request and several requests in flight, in
//! verbose mode so that every key's result is checked (errors come back inside a 200). On a
//! versioned bucket every version and delete marker of a key is listed and deleted by
//! version id, so no personal data survives in old versions. A key whose version is under
//! Object Lock comes back as locked; governance bypass is never requested. Throttling slows
//! the store down (see [`super::pace`]) instead of failing it.
//!
//! Anonymising rewrites the object in place and tags it `retention-anonymised=1`; on a
//! versioned bucket the older versions, which still hold the personal data, are deleted.
//! S3 has no way to keep `last_modified`, so an anonymised object's age restarts; the tag,
//! not the age, keeps it from being selected again. Anonymising a key whose current version
//! is a delete marker deletes all of its versions instead: writing an anonymised copy would
//! bring back an object the application deleted.
//!
//! A server that answers `NotImplemented` (HTTP 501) to the versioning, Object Lock or
//! tagging calls is treated as having none of them (SPEC §6): its buckets are unversioned
//! and unlocked, and its objects untagged. Only a target that takes its subject from a tag
//! fails there, since no object could be tied to a subject and holds could not be honoured.

mod anonymise;
mod delete;
mod errors;
mod listing;
mod versions;

use errors::{
    credential_advice, describe_sdk_error, is_not_implemented, unanswered, unbuilt,
    versioning_from_raw_body,
};
use listing::Listing;

use crate::config::S3Config;
use crate::rules::model::{ObjectStrategy, ObjectSubject, ObjectTarget};
use crate::stores::objects::pace::Pace;
use crate::stores::objects::select::{self, Candidate};
use crate::stores::objects::window::Window;
use crate::stores::objects::{
    key_digest, ObjectFilter, ObjectPage, ObjectRef, ObjectReport, ProbeReport, PAGE_SIZE,
};
use anonymise::Outcome;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ObjectLockEnabled, ObjectLockLegalHoldStatus,
    ObjectLockMode,
};
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// DeleteObjects requests in flight at once within one [`S3Store::delete`] call.
const DELETE_CONCURRENCY: usize = 8;
/// The most HeadObject / GetObjectTagging requests in flight at once; the adaptive
/// [`Window`] decides how many of them actually are.
const FETCH_CONCURRENCY: usize = 64;
/// Where the fetch window starts, before successes widen it or throttling narrows it.
const FETCH_START: usize = 16;
/// Version listings in flight at once when the versions of many keys are needed.
const VERSIONS_CONCURRENCY: usize = 32;
/// Anonymisations (each a download, a rewrite and an upload) in flight at once.
const ANONYMISE_CONCURRENCY: usize = 8;
/// Listed pages whose metadata and tags are being read at once while the listing goes on.
const PAGES_AHEAD: usize = 2;

/// An S3 bucket store. Cheap to clone; clones share the client and the pace.
#[derive(Debug, Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    bucket: String,
    endpoint: String,
    client: Client,
    pace: Pace,
    /// How many HeadObject / GetObjectTagging requests may be in flight right now.
    fetches: Window,
    info: OnceCell<BucketInfo>,
    /// The server answered a tagging call with `NotImplemented`: its objects have no tags.
    no_tagging: AtomicBool,
}

/// What the bucket's configuration says, read once per store.
#[derive(Debug, Clone, Copy)]
struct BucketInfo {
    /// Versioning enabled, or suspended (old versions may still exist).
    versioned: bool,
    object_lock: bool,
}

impl S3Store {
    /// Builds a client from the default credential chain (environment, profile, IMDS …),
    /// with the configured region (default `us-east-1`), endpoint and addressing style.
    pub async fn connect(name: &str, cfg: &S3Config) -> anyhow::Result<S3Store> {
        let region = cfg
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .map(Region::new);
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        loader = match region {
            Some(region) => loader.region(region),
            None => loader.region(
                aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else("us-east-1"),
            ),
        };
        let shared = loader.load().await;
        let endpoint = cfg.endpoint.clone().filter(|e| !e.is_empty());
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.path_style)
            // Checksums only where S3 requires them: S3-compatible servers vary in which
            // of the newer checksum headers they accept.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
        if let Some(endpoint) = &endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Ok(S3Store {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                bucket: cfg.bucket.clone(),
                endpoint: endpoint.unwrap_or_else(|| "the AWS default endpoint".to_owned()),
                client: Client::from_conf(builder.build()),
                pace: Pace::default(),
                fetches: Window::new(FETCH_START, FETCH_CONCURRENCY),
                info: OnceCell::new(),
                no_tagging: AtomicBool::new(false),
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The bucket this store uses.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The SDK client, for callers (tests, benchmarks) that need a raw S3 call.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub async fn scan_page(
        &self,
        target: &ObjectTarget,
        filter: &ObjectFilter,
        token: Option<String>,
    ) -> anyhow::Result<ObjectPage> {
        let listing = self.inner.list_page(&target.prefix, token).await?;
        self.inner.judge(target, filter, listing).await
    }

    /// Every page of the prefix, in listing order. The listing runs ahead of the pages being
    /// judged: while one page's objects are read (HeadObject, GetObjectTagging), the next
    /// page is listed, with at most [`PAGES_AHEAD`] pages in flight, so memory stays bounded
    /// by a few pages whatever the size of the prefix.
    pub fn scan<'a>(
        &'a self,
        target: &'a ObjectTarget,
        filter: &'a ObjectFilter,
    ) -> impl Stream<Item = anyhow::Result<ObjectPage>> + Send + 'a {
        let inner = &*self.inner;
        // The state is the token of the page to list next; `None` once the listing is done.
        futures::stream::try_unfold(
            Some(None),
            move |token: Option<Option<String>>| async move {
                let Some(token) = token else {
                    return Ok(None);
                };
                let listing = inner.list_page(&target.prefix, token).await?;
                let next = listing.next.clone().map(Some);
                Ok(Some((listing, next)))
            },
        )
        .map_ok(move |listing| inner.judge(target, filter, listing))
        .try_buffered(PAGES_AHEAD)
    }

    pub async fn delete(&self, objects: &[ObjectRef]) -> anyhow::Result<ObjectReport> {
        let inner = &self.inner;
        let info = inner.bucket_info(None).await?;
        let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
        let mut report = ObjectReport::default();
        for chunk in keys.chunks(PAGE_SIZE * DELETE_CONCURRENCY) {
            if info.versioned {
                report.absorb(inner.delete_versioned(chunk, info).await?);
            } else {
                let identifiers = chunk.iter().map(|k| (k.clone(), None)).collect();
                report.absorb(inner.delete_identifiers(chunk, identifiers, info).await);
            }
        }
        Ok(report)
    }

    pub async fn anonymise(
        &self,
        objects: &[ObjectRef],
        how: ObjectStrategy,
    ) -> anyhow::Result<ObjectReport> {
        let inner = &self.inner;
        let info = inner.bucket_info(None).await?;
        // Owned keys: the futures then hold no borrow of `objects` (which would keep them
        // from running in a task of their own).
        let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
        let outcomes: Vec<(String, anyhow::Result<Outcome>)> = futures::stream::iter(keys)
            .map(|key| async move {
                let outcome = inner.anonymise_one(&key, how, info).await;
                (key, outcome)
            })
            .buffer_unordered(ANONYMISE_CONCURRENCY)
            .collect()
            .await;
        let mut report = ObjectReport::default();
        for (key, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Done) => report.done.push(key),
                Ok(Outcome::Locked) => report.locked.push(key),
                Err(err) => {
                    let message = format!(
                        "store `{}`: could not anonymise object {}: {err:#}",
                        inner.name,
                        key_digest(&key)
                    );
                    report.failed.push((key, message));
                }
            }
        }
        Ok(report)
    }

    pub async fn put_write_once(
        &self,
        key: &str,
        bytes: Vec<u8>,
        retain_days: Option<u32>,
    ) -> anyhow::Result<()> {
        let inner = &self.inner;
        let info = inner.bucket_info(None).await?;
        let mut lock = None;
        if let Some(days) = retain_days {
            anyhow::ensure!(
                info.object_lock,
                "store `{}`: bucket `{}` does not have Object Lock enabled, so the audit export \
                 cannot be made write-once; create the bucket with Object Lock enabled, or \
                 leave `object_lock_days` out",
                inner.name,
                inner.bucket
            );
            let until = Utc::now() + chrono::Duration::days(i64::from(days));
            lock = Some(aws_sdk_s3::primitives::DateTime::from_secs(
                until.timestamp(),
            ));
        }
        let bytes = bytes::Bytes::from(bytes);
        inner
            .pace
            .run(|| {
                let mut request = inner
                    .client
                    .put_object()
                    .bucket(&inner.bucket)
                    .key(key)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .body(ByteStream::from(bytes.clone()));
                if let Some(until) = lock {
                    request = request
                        .object_lock_mode(ObjectLockMode::Compliance)
                        .object_lock_retain_until_date(until);
                }
                request.send()
            })
            .await
            .map_err(|e| inner.error(None, &format!("writing object {}", key_digest(key)), e))?;
        Ok(())
    }

    pub async fn probe(&self) -> anyhow::Result<ProbeReport> {
        let info = self.inner.read_bucket_info(None).await?;
        Ok(ProbeReport {
            kind: "s3",
            versioning: info.versioned,
            object_lock: info.object_lock,
        })
    }
}

impl Inner {
    /// The bucket's configuration, read on first use; `target` only names the target in an
    /// error.
    async fn bucket_info(&self, target: Option<&str>) -> anyhow::Result<BucketInfo> {
        self.info
            .get_or_try_init(|| self.read_bucket_info(target))
            .await
            .copied()
    }

    /// Versioning and Object Lock, asked for at once. A server that does not implement
    /// either API has none of that feature.
    async fn read_bucket_info(&self, target: Option<&str>) -> anyhow::Result<BucketInfo> {
        let versioning = self.pace.run(|| {
            self.client
                .get_bucket_versioning()
                .bucket(&self.bucket)
                .send()
        });
        let lock = self.pace.run(|| {
            self.client
                .get_object_lock_configuration()
                .bucket(&self.bucket)
                .send()
        });
        let (versioning, lock) = tokio::join!(versioning, lock);
        let versioned = match versioning {
            Ok(out) => matches!(
                out.status(),
                Some(BucketVersioningStatus::Enabled | BucketVersioningStatus::Suspended)
            ),
            Err(err) if is_not_implemented(&err) => {
                self.lacks("versioning");
                false
            }
            Err(err) => match versioning_from_raw_body(&err) {
                Some(versioned) => versioned,
                None => return Err(self.error(target, "reading the bucket's versioning", err)),
            },
        };
        let object_lock = match lock {
            Ok(out) => matches!(
                out.object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled()),
                Some(ObjectLockEnabled::Enabled)
            ),
            Err(err) if err.code() == Some("ObjectLockConfigurationNotFoundError") => false,
            Err(err) if is_not_implemented(&err) => {
                self.lacks("Object Lock");
                false
            }
            Err(err) => {
                return Err(self.error(
                    target,
                    "reading the bucket's Object Lock configuration",
                    err,
                ))
            }
        };
        Ok(BucketInfo {
            versioned,
            object_lock,
        })
    }

    /// Notes that the server answered `NotImplemented` for `feature`: not an error, the
    /// bucket simply has none of it.
    fn lacks(&self, feature: &str) {
        tracing::info!(
            store = %self.name,
            feature,
            "The S3 server does not implement this API (NotImplemented); the bucket is treated as having none of it."
        );
    }

    /// Whether tagging calls are worth making: not once the server said it has no tagging.
    fn has_tagging(&self) -> bool {
        !self.no_tagging.load(Ordering::Relaxed)
    }

    /// Remembers that the server does not implement tagging (logged once).
    fn lacks_tagging(&self) {
        if !self.no_tagging.swap(true, Ordering::Relaxed) {
            self.lacks("object tagging");
        }
    }

    /// One page of the prefix's listing: current objects (ListObjectsV2) on an unversioned
    /// bucket, objects folded from their versions on a versioned one.
    async fn list_page(&self, prefix: &str, token: Option<String>) -> anyhow::Result<Listing> {
        let info = self.bucket_info(Some(prefix)).await?;
        if info.versioned {
            self.list_versions_page(prefix, token).await
        } else {
            self.list_current_page(prefix, token).await
        }
    }

    /// Judges a listed page: the key and `last_modified` tests first, then metadata and
    /// tags read for the survivors only, then the final verdict of each.
    async fn judge(
        &self,
        target: &ObjectTarget,
        filter: &ObjectFilter,
        listing: Listing,
    ) -> anyhow::Result<ObjectPage> {
        let info = self.bucket_info(Some(&target.prefix)).await?;
        let mut page = ObjectPage {
            scanned: listing.objects.len() as u64,
            next: listing.next,
            ..ObjectPage::default()
        };
        let mut survivors = Vec::new();
        for candidate in listing.objects {
            if select::fits_key_pattern(target, &candidate.key) {
                page.fitting += 1;
            }
            if select::prefilter(target, filter, &candidate.key, candidate.last_modified) {
                survivors.push(candidate);
            }
        }
        let needs = select::needs(target, filter);
        let head = needs.metadata || info.object_lock;
        let candidates: Vec<Option<Candidate>> = futures::stream::iter(survivors)
            .map(|candidate| self.complete(candidate, head, needs.tags, &target.prefix))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        if let Some(ObjectSubject::Tag(tag)) = &target.subject {
            anyhow::ensure!(
                self.has_tagging(),
                "store `{}`, target `{}`: the subject comes from the tag `{tag}`, but the S3 \
                 server at {} does not implement object tagging (it answered NotImplemented), \
                 so no object can be tied to a subject and holds and erasure requests could \
                 not be honoured; take the subject from the key or from user metadata",
                self.name,
                target.prefix,
                self.endpoint
            );
        }
        for candidate in candidates.into_iter().flatten() {
            page.date(target, &candidate);
            page.add(
                filter,
                &candidate.key,
                select::decide(target, filter, &candidate),
            );
        }
        Ok(page)
    }

    /// An error that names the store (and the target, when there is one), the bucket and
    /// what was being done, with what to fix for the usual causes. Never includes an object
    /// key.
    pub(super) fn error<E>(
        &self,
        target: Option<&str>,
        doing: &str,
        err: SdkError<E, HttpResponse>,
    ) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let whom = match target {
            Some(target) => format!("store `{}`, target `{target}`", self.name),
            None => format!("store `{}`", self.name),
        };
        let bucket = &self.bucket;
        let endpoint = &self.endpoint;
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => anyhow::anyhow!(
                "{whom}, S3 endpoint {endpoint}, while {doing}: {}",
                unanswered(&err)
            ),
            SdkError::ConstructionFailure(_) => anyhow::anyhow!(
                "{whom}, S3 endpoint {endpoint}, while {doing}: {}",
                unbuilt(&err)
            ),
            _ => {
                if let Some(advice) = credential_advice(err.code(), status) {
                    return anyhow::anyhow!(
                        "{whom}: S3 at {endpoint} refused the request for bucket `{bucket}` \
                         while {doing}: {advice}"
                    );
                }
                match err.code() {
                    Some("NoSuchBucket") => {
                        anyhow::anyhow!("{whom}: bucket `{bucket}` does not exist at {endpoint}")
                    }
                    _ if status == Some(404) => {
                        anyhow::anyhow!("{whom}: bucket `{bucket}` does not exist at {endpoint}")
                    }
                    _ => anyhow::anyhow!(
                        "{whom}, bucket `{bucket}`: S3 failed while {doing}: {}",
                        describe_sdk_error(&err)
                    ),
                }
            }
        }
    }
}

/// Whether an object is under Object Lock now: a legal hold, or a retention date (of either
/// mode: governance bypass is never used) still in the future.
fn is_locked(
    legal_hold: Option<&ObjectLockLegalHoldStatus>,
    retain_until: Option<&aws_sdk_s3::primitives::DateTime>,
) -> bool {
    let held = matches!(legal_hold, Some(ObjectLockLegalHoldStatus::On));
    let retained = retain_until
        .and_then(to_chrono)
        .is_some_and(|until| until > Utc::now());
    held || retained
}

pub(super) fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
