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
//! both run for the survivors of the cheap key and `last_modified` tests only, many at once.
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

mod errors;
mod versions;

use errors::{credential_advice, describe_sdk_error, is_not_found, versioning_from_raw_body};
use versions::{listed_entries, KeyVersions, Listed, VersionToken};

use crate::config::S3Config;
use crate::rules::model::{ObjectStrategy, ObjectTarget};
use crate::stores::objects::gps::strip_gps;
use crate::stores::objects::pace::{backoff, is_throttling_code, Pace};
use crate::stores::objects::select::{self, Candidate, ANONYMISED_TAG};
use crate::stores::objects::PAGE_SIZE;
use crate::stores::objects::{
    key_digest, ObjectFilter, ObjectPage, ObjectRef, ObjectReport, ProbeReport,
};
use anyhow::Context;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, Delete, MetadataDirective, ObjectIdentifier,
    ObjectLockEnabled, ObjectLockLegalHoldStatus, ObjectLockMode, Tag, Tagging,
};
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// DeleteObjects requests in flight at once.
const DELETE_CONCURRENCY: usize = 8;
/// HeadObject / GetObjectTagging / version listings in flight at once.
const FETCH_CONCURRENCY: usize = 32;
/// Anonymisations (each a download, a rewrite and an upload) in flight at once.
const ANONYMISE_CONCURRENCY: usize = 8;
/// Rounds of DeleteObjects for keys whose result was a throttling error.
const DELETE_ROUNDS: u32 = 16;

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
    info: OnceCell<BucketInfo>,
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
                info: OnceCell::new(),
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
        let inner = &self.inner;
        let info = inner.bucket_info(Some(&target.prefix)).await?;
        let (listed, next) = if info.versioned {
            inner.list_versions_page(&target.prefix, token).await?
        } else {
            inner.list_current_page(&target.prefix, token).await?
        };
        let mut page = ObjectPage {
            scanned: listed.len() as u64,
            next,
            ..ObjectPage::default()
        };
        let mut survivors = Vec::new();
        for candidate in listed {
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
            .map(|candidate| inner.complete(candidate, head, needs.tags, &target.prefix))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        for candidate in candidates.into_iter().flatten() {
            page.add(
                filter,
                &candidate.key,
                select::decide(target, filter, &candidate),
            );
        }
        Ok(page)
    }

    pub async fn delete(&self, objects: &[ObjectRef]) -> anyhow::Result<ObjectReport> {
        let inner = &self.inner;
        let info = inner.bucket_info(None).await?;
        let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
        let mut report = ObjectReport::default();
        for chunk in keys.chunks(PAGE_SIZE * DELETE_CONCURRENCY) {
            let identifiers = if info.versioned {
                inner.all_versions(chunk).await?
            } else {
                chunk.iter().map(|k| (k.clone(), None)).collect()
            };
            report.absorb(inner.delete_identifiers(chunk, identifiers, info).await);
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
        let outcomes: Vec<(String, anyhow::Result<Outcome>)> = futures::stream::iter(objects)
            .map(|object| async move {
                let outcome = inner.anonymise_one(&object.key, how, info).await;
                (object.key.clone(), outcome)
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

enum Outcome {
    Done,
    Locked,
}

/// Per-key tally of a versioned or plain delete.
#[derive(Default)]
struct KeyTally {
    sent: usize,
    deleted: usize,
    locked: bool,
    error: Option<String>,
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

    async fn read_bucket_info(&self, target: Option<&str>) -> anyhow::Result<BucketInfo> {
        let versioned = match self
            .pace
            .run(|| {
                self.client
                    .get_bucket_versioning()
                    .bucket(&self.bucket)
                    .send()
            })
            .await
        {
            Ok(out) => matches!(
                out.status(),
                Some(BucketVersioningStatus::Enabled | BucketVersioningStatus::Suspended)
            ),
            Err(err) => match versioning_from_raw_body(&err) {
                Some(versioned) => versioned,
                None => return Err(self.error(target, "reading the bucket's versioning", err)),
            },
        };
        let object_lock = match self
            .pace
            .run(|| {
                self.client
                    .get_object_lock_configuration()
                    .bucket(&self.bucket)
                    .send()
            })
            .await
        {
            Ok(out) => matches!(
                out.object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled()),
                Some(ObjectLockEnabled::Enabled)
            ),
            Err(err) if err.code() == Some("ObjectLockConfigurationNotFoundError") => false,
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

    /// Fills in metadata, lock status and tags; `None` when the object vanished meanwhile.
    async fn complete(
        &self,
        mut candidate: Candidate,
        head: bool,
        tags: bool,
        prefix: &str,
    ) -> anyhow::Result<Option<Candidate>> {
        let context = || "reading an object".to_owned();
        if head {
            let out = match self
                .pace
                .run(|| {
                    self.client
                        .head_object()
                        .bucket(&self.bucket)
                        .key(&candidate.key)
                        .set_version_id(candidate.version.clone())
                        .send()
                })
                .await
            {
                Ok(out) => out,
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(self.error(Some(prefix), &context(), err)),
            };
            candidate.metadata = Some(
                out.metadata()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            );
            candidate.locked = is_locked(
                out.object_lock_legal_hold_status(),
                out.object_lock_retain_until_date(),
            );
        }
        if tags {
            match self
                .tags(&candidate.key, candidate.version.as_deref())
                .await
            {
                Ok(found) => candidate.tags = Some(found),
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(self.error(Some(prefix), &context(), err)),
            }
        }
        Ok(Some(candidate))
    }

    /// The tags of the current version, or of `version`.
    async fn tags(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<
        BTreeMap<String, String>,
        SdkError<aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingError, HttpResponse>,
    > {
        let out = self
            .pace
            .run(|| {
                self.client
                    .get_object_tagging()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .send()
            })
            .await?;
        Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// Every version and delete marker of each key, by exact key match.
    async fn all_versions(&self, keys: &[String]) -> anyhow::Result<Vec<(String, Option<String>)>> {
        let lists: Vec<Vec<(String, Option<String>)>> = futures::stream::iter(keys)
            .map(|key| self.versions_of(key))
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(lists.into_iter().flatten().collect())
    }

    /// Every version and delete marker of one key, as `(key, version id)` to delete.
    async fn versions_of(&self, key: &str) -> anyhow::Result<Vec<(String, Option<String>)>> {
        Ok(self
            .listed_versions_of(key)
            .await?
            .into_iter()
            .map(|v| (key.to_owned(), v.version_id))
            .collect())
    }

    /// Every version and delete marker of one key (exact match), data versions first, each
    /// kind newest first as S3 lists them.
    async fn listed_versions_of(&self, key: &str) -> anyhow::Result<Vec<Listed>> {
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let out = self
                .pace
                .run(|| {
                    self.client
                        .list_object_versions()
                        .bucket(&self.bucket)
                        .prefix(key)
                        .set_key_marker(key_marker.clone())
                        .set_version_id_marker(version_marker.clone())
                        .send()
                })
                .await
                .map_err(|e| {
                    self.error(
                        None,
                        &format!("listing the versions of object {}", key_digest(key)),
                        e,
                    )
                })?;
            for (listed_key, entry) in listed_entries(&out) {
                if listed_key == key {
                    if entry.marker {
                        markers.push(entry);
                    } else {
                        versions.push(entry);
                    }
                }
            }
            // Keys sharing this key as a prefix sort after it, so once the listing moves
            // past the key itself nothing more of it can come.
            let past = out.next_key_marker().is_some_and(|k| k != key);
            if out.is_truncated() != Some(true) || past {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            version_marker = out.next_version_id_marker().map(str::to_owned);
        }
        versions.extend(markers);
        Ok(versions)
    }

    /// One page of current objects (ListObjectsV2): the listing of an unversioned bucket.
    async fn list_current_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> anyhow::Result<(Vec<Candidate>, Option<String>)> {
        let listing = self
            .pace
            .run(|| {
                self.client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .max_keys(PAGE_SIZE as i32)
                    .set_continuation_token(token.clone())
                    .send()
            })
            .await
            .map_err(|e| self.error(Some(prefix), "listing the objects", e))?;
        let next = if listing.is_truncated() == Some(true) {
            listing.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        let listed = listing
            .contents()
            .iter()
            .filter_map(|object| {
                Some(Candidate {
                    key: object.key()?.to_owned(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object.last_modified().and_then(to_chrono),
                    ..Candidate::default()
                })
            })
            .collect();
        Ok((listed, next))
    }

    /// One page of a versioned bucket's listing (ListObjectVersions, at most [`PAGE_SIZE`]
    /// versions and markers), folded into one candidate per key that still holds data (see
    /// [`KeyVersions`]). A key whose versions may run on past the page's end is listed to
    /// its end on its own, and the token tells the next page to skip it; memory stays
    /// bounded by one page plus the versions of one key.
    async fn list_versions_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> anyhow::Result<(Vec<Candidate>, Option<String>)> {
        let token: VersionToken = match token {
            Some(t) => serde_json::from_str(&t).map_err(|_| {
                anyhow::anyhow!(
                    "store `{}`, target `{prefix}`: the listing's continuation token is not                      one this store issued",
                    self.name
                )
            })?,
            None => VersionToken::default(),
        };
        let out = self
            .pace
            .run(|| {
                self.client
                    .list_object_versions()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .max_keys(PAGE_SIZE as i32)
                    .set_key_marker(token.key.clone())
                    .set_version_id_marker(token.version.clone())
                    .send()
            })
            .await
            .map_err(|e| self.error(Some(prefix), "listing the object versions", e))?;
        let mut keys: BTreeMap<String, KeyVersions> = BTreeMap::new();
        for (key, entry) in listed_entries(&out) {
            if token.done.as_deref() == Some(key.as_str()) {
                continue;
            }
            keys.entry(key).or_default().add(entry);
        }
        let next = if out.is_truncated() == Some(true) {
            let (Some(key), version) = (out.next_key_marker(), out.next_version_id_marker()) else {
                anyhow::bail!(
                    "store `{}`, bucket `{}`, target `{prefix}`: S3 cut a version listing \
                     short without saying where to go on",
                    self.name,
                    self.bucket
                );
            };
            // The last key listed may have more versions on the next page: read all of
            // them now, and skip the key when the listing goes on.
            if let Some(last) = keys.keys().next_back().cloned() {
                let mut whole = KeyVersions::default();
                for entry in self.listed_versions_of(&last).await? {
                    whole.add(entry);
                }
                keys.insert(last.clone(), whole);
                let next = VersionToken {
                    key: Some(key.to_owned()),
                    version: version.map(str::to_owned),
                    done: Some(last),
                };
                Some(serde_json::to_string(&next)?)
            } else {
                // Every entry of this page belonged to the key already done.
                let next = VersionToken {
                    key: Some(key.to_owned()),
                    version: version.map(str::to_owned),
                    done: token.done.clone(),
                };
                Some(serde_json::to_string(&next)?)
            }
        } else {
            None
        };
        let listed = keys
            .into_iter()
            .filter_map(|(key, versions)| versions.candidate(key))
            .collect();
        Ok((listed, next))
    }

    /// Deletes the identifiers in DeleteObjects requests and folds every result into one
    /// outcome per key of `keys`.
    async fn delete_identifiers(
        &self,
        keys: &[String],
        identifiers: Vec<(String, Option<String>)>,
        info: BucketInfo,
    ) -> ObjectReport {
        let mut tally: HashMap<String, KeyTally> = HashMap::new();
        for (key, _) in &identifiers {
            tally.entry(key.clone()).or_default().sent += 1;
        }
        let batches: Vec<Vec<(String, Option<String>)>> =
            identifiers.chunks(PAGE_SIZE).map(<[_]>::to_vec).collect();
        let results: Vec<BatchResult> = futures::stream::iter(batches)
            .map(|batch| self.delete_batch(batch, info))
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            for key in result.deleted {
                if let Some(t) = tally.get_mut(&key) {
                    t.deleted += 1;
                }
            }
            for key in result.locked {
                if let Some(t) = tally.get_mut(&key) {
                    t.locked = true;
                }
            }
            for (key, error) in result.failed {
                if let Some(t) = tally.get_mut(&key) {
                    t.error.get_or_insert(error);
                }
            }
        }
        let mut report = ObjectReport::default();
        for key in keys {
            // A key with no versions left to delete (already gone) counts as done.
            let t = tally.remove(key).unwrap_or_default();
            if let Some(error) = t.error {
                let message = format!(
                    "store `{}`: could not delete object {}: {error}",
                    self.name,
                    key_digest(key)
                );
                report.failed.push((key.clone(), message));
            } else if t.locked {
                report.locked.push(key.clone());
            } else if t.deleted >= t.sent {
                report.done.push(key.clone());
            } else {
                let message = format!(
                    "store `{}`: S3 returned no result for object {}",
                    self.name,
                    key_digest(key)
                );
                report.failed.push((key.clone(), message));
            }
        }
        report
    }

    /// One batch (at most 1,000 identifiers), repeated for throttled keys until every key
    /// has a final result.
    async fn delete_batch(
        &self,
        mut pending: Vec<(String, Option<String>)>,
        info: BucketInfo,
    ) -> BatchResult {
        let mut result = BatchResult::default();
        for round in 0..DELETE_ROUNDS {
            if pending.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(backoff(round)).await;
            }
            let objects: Result<Vec<ObjectIdentifier>, _> = pending
                .iter()
                .map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.clone())
                        .build()
                })
                .collect();
            let delete =
                objects.and_then(|o| Delete::builder().set_objects(Some(o)).quiet(false).build());
            let delete = match delete {
                Ok(delete) => delete,
                Err(err) => {
                    result.fail_all(&mut pending, &format!("bad request: {err}"));
                    break;
                }
            };
            let out = match self
                .pace
                .run(|| {
                    self.client
                        .delete_objects()
                        .bucket(&self.bucket)
                        .delete(delete.clone())
                        .send()
                })
                .await
            {
                Ok(out) => out,
                Err(err) => {
                    let message = describe_sdk_error(&err);
                    result.fail_all(&mut pending, &message);
                    break;
                }
            };
            let mut retry = Vec::new();
            let mut answered: HashMap<(String, Option<String>), usize> = HashMap::new();
            for deleted in out.deleted() {
                if let Some(key) = deleted.key() {
                    result.deleted.push(key.to_owned());
                    *answered
                        .entry((key.to_owned(), deleted.version_id().map(str::to_owned)))
                        .or_default() += 1;
                }
            }
            let mut throttled = false;
            for error in out.errors() {
                let Some(key) = error.key() else { continue };
                let id = (key.to_owned(), error.version_id().map(str::to_owned));
                *answered.entry(id.clone()).or_default() += 1;
                let code = error.code().unwrap_or("unknown");
                if is_throttling_code(code) {
                    throttled = true;
                    retry.push(id);
                } else if info.object_lock && code == "AccessDenied" {
                    // Object Lock refuses deletion of a locked version with AccessDenied.
                    result.locked.push(key.to_owned());
                } else {
                    result
                        .failed
                        .push((key.to_owned(), format!("S3 error {code}")));
                }
            }
            if throttled {
                self.pace.throttled();
            }
            // Identifiers S3 said nothing about are retried too; results are matched by key
            // when the version id in the answer is absent.
            for id in pending.drain(..) {
                let by_id = answered.get(&id).copied().unwrap_or(0);
                let by_key = answered.get(&(id.0.clone(), None)).copied().unwrap_or(0);
                if by_id == 0 && by_key == 0 {
                    retry.push(id);
                }
            }
            pending = retry;
        }
        result.fail_all(&mut pending, "S3 kept throttling the request");
        result
    }

    async fn anonymise_one(
        &self,
        key: &str,
        how: ObjectStrategy,
        info: BucketInfo,
    ) -> anyhow::Result<Outcome> {
        let head = match self
            .pace
            .run(|| {
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
            })
            .await
        {
            Ok(head) => head,
            Err(err) if info.versioned && is_not_found(&err) => {
                return self.delete_deleted(key, info).await;
            }
            Err(err) => return Err(anyhow::anyhow!(describe_sdk_error(&err))),
        };
        if is_locked(
            head.object_lock_legal_hold_status(),
            head.object_lock_retain_until_date(),
        ) {
            return Ok(Outcome::Locked);
        }
        let new_version = match how {
            ObjectStrategy::StripGps => self.strip_gps_in_place(key, &head).await?,
            ObjectStrategy::StripMetadata => self.strip_metadata_in_place(key, &head).await?,
        };
        if info.versioned {
            if let Some(new_version) = new_version {
                self.delete_older_versions(key, &new_version, info).await?;
            }
        }
        Ok(Outcome::Done)
    }

    /// Anonymising a key whose current version is a delete marker: the application deleted
    /// the object and only older versions still hold its data. Writing an anonymised copy
    /// back would bring the object back to life, so every version and marker of it is
    /// deleted instead.
    async fn delete_deleted(&self, key: &str, info: BucketInfo) -> anyhow::Result<Outcome> {
        let keys = [key.to_owned()];
        let identifiers = self.versions_of(key).await?;
        let report = self.delete_identifiers(&keys, identifiers, info).await;
        if let Some((_, message)) = report.failed.into_iter().next() {
            anyhow::bail!("the object was deleted but its older versions could not be: {message}");
        }
        Ok(if report.locked.is_empty() {
            Outcome::Done
        } else {
            Outcome::Locked
        })
    }

    /// Rewrites the image without its GPS block, keeping content type, metadata and tags,
    /// and adds the marker tag. Returns the new version id when a new version was written.
    async fn strip_gps_in_place(
        &self,
        key: &str,
        head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    ) -> anyhow::Result<Option<String>> {
        let object = self
            .pace
            .run(|| {
                self.client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        let original = object
            .body
            .collect()
            .await
            .context("reading the object's content")?
            .into_bytes();
        let stripped = strip_gps(&original)?;
        let mut tags = self
            .tags(key, None)
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        tags.insert(ANONYMISED_TAG.0.to_owned(), ANONYMISED_TAG.1.to_owned());
        if stripped[..] == original[..] {
            // No GPS block: nothing personal to rewrite, only the marker to set.
            self.put_tags(key, &tags).await?;
            return Ok(None);
        }
        let stripped = bytes::Bytes::from(stripped);
        let tagging = encode_tags(&tags);
        let out = self
            .pace
            .run(|| {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_content_type(head.content_type().map(str::to_owned))
                    .set_metadata(head.metadata().cloned())
                    .tagging(&tagging)
                    .body(ByteStream::from(stripped.clone()))
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        Ok(out.version_id().map(str::to_owned))
    }

    /// Copies the object onto itself with empty user metadata, then replaces its tags with
    /// the marker alone.
    async fn strip_metadata_in_place(
        &self,
        key: &str,
        head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    ) -> anyhow::Result<Option<String>> {
        let source = format!("{}/{}", self.bucket, percent_encode(key, true));
        let out = self
            .pace
            .run(|| {
                self.client
                    .copy_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .copy_source(&source)
                    .metadata_directive(MetadataDirective::Replace)
                    .set_content_type(head.content_type().map(str::to_owned))
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        let marker = BTreeMap::from([(ANONYMISED_TAG.0.to_owned(), ANONYMISED_TAG.1.to_owned())]);
        self.put_tags(key, &marker).await?;
        Ok(out.version_id().map(str::to_owned))
    }

    async fn put_tags(&self, key: &str, tags: &BTreeMap<String, String>) -> anyhow::Result<()> {
        let tag_set: Result<Vec<Tag>, _> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let tagging = Tagging::builder().set_tag_set(Some(tag_set?)).build()?;
        self.pace
            .run(|| {
                self.client
                    .put_object_tagging()
                    .bucket(&self.bucket)
                    .key(key)
                    .tagging(tagging.clone())
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        Ok(())
    }

    /// After an anonymised version is written, the versions before it still hold the
    /// personal data: delete them all (and any delete markers).
    async fn delete_older_versions(
        &self,
        key: &str,
        keep: &str,
        info: BucketInfo,
    ) -> anyhow::Result<()> {
        let old: Vec<(String, Option<String>)> = self
            .versions_of(key)
            .await?
            .into_iter()
            .filter(|(_, v)| v.as_deref() != Some(keep))
            .collect();
        if old.is_empty() {
            return Ok(());
        }
        let keys = [key.to_owned()];
        let report = self.delete_identifiers(&keys, old, info).await;
        if let Some((_, message)) = report.failed.into_iter().next() {
            anyhow::bail!("the anonymised copy was written but an old version remains: {message}");
        }
        anyhow::ensure!(
            report.locked.is_empty(),
            "the anonymised copy was written but an old version is under Object Lock"
        );
        Ok(())
    }

    /// An error that names the store (and the target, when there is one), the bucket and
    /// what was being done, with what to fix for the usual causes. Never includes an object
    /// key.
    fn error<E>(
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
                "{whom}: cannot reach the S3 endpoint {endpoint} while {doing}: {}",
                DisplayErrorContext(&err)
            ),
            SdkError::ConstructionFailure(_) => anyhow::anyhow!(
                "{whom}: could not build an S3 request while {doing} (are credentials \
                 configured? set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE): {}",
                DisplayErrorContext(&err)
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

/// What one DeleteObjects batch did, key by key (a key appears once per version).
#[derive(Default)]
struct BatchResult {
    deleted: Vec<String>,
    locked: Vec<String>,
    failed: Vec<(String, String)>,
}

impl BatchResult {
    fn fail_all(&mut self, pending: &mut Vec<(String, Option<String>)>, message: &str) {
        for (key, _) in pending.drain(..) {
            self.failed.push((key, message.to_owned()));
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

/// `k=v&k=v` with both sides percent-encoded, as the `x-amz-tagging` header wants.
fn encode_tags(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` if asked).
fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tags_are_percent_encoded_for_headers() {
        assert_eq!(percent_encode("a b/ü.jpg", true), "a%20b/%C3%BC.jpg");
        assert_eq!(percent_encode("a/b", false), "a%2Fb");
        let tags = BTreeMap::from([
            ("k 1".to_owned(), "v&2".to_owned()),
            ("z".to_owned(), "".to_owned()),
        ]);
        assert_eq!(encode_tags(&tags), "k%201=v%262&z=");
    }
}
