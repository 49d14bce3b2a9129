//! Deleting: DeleteObjects of up to 1,000 identifiers a request, several requests in
//! flight, every key's result checked (errors come back inside a 200), throttled keys sent
//! again; on versioned buckets every version and delete marker of a key, by version id.

use super::errors::describe_sdk_error;
use super::{BucketInfo, Inner, DELETE_CONCURRENCY, VERSIONS_CONCURRENCY};
use crate::stores::objects::pace::{backoff, is_throttling_code};
use crate::stores::objects::{key_digest, ObjectReport, PAGE_SIZE};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Rounds of DeleteObjects for keys whose result was a throttling error.
const DELETE_ROUNDS: u32 = 16;

/// `(key, version id)` pairs to delete.
type Identifiers = Vec<(String, Option<String>)>;

/// Per-key tally of a versioned or plain delete.
#[derive(Default)]
struct KeyTally {
    sent: usize,
    deleted: usize,
    locked: bool,
    error: Option<String>,
}

impl Inner {
    /// Every version and delete marker of each key, by exact key match, as `(key, version
    /// id)` to delete: those behind the key's current entry, then the current entries
    /// (what a GET or a listing of the key shows: its newest version, or a delete marker).
    async fn all_versions(&self, keys: &[String]) -> anyhow::Result<(Identifiers, Identifiers)> {
        let lists: Vec<(String, Vec<super::versions::Listed>)> =
            futures::stream::iter(keys.to_vec())
                .map(|key| async move {
                    let listed = self.listed_versions_of(&key).await?;
                    anyhow::Ok((key, listed))
                })
                .buffer_unordered(VERSIONS_CONCURRENCY)
                .try_collect()
                .await?;
        let (older, current): (Vec<_>, Vec<_>) = lists
            .into_iter()
            .flat_map(|(key, listed)| listed.into_iter().map(move |v| (key.clone(), v)))
            .partition(|(_, v)| !v.latest);
        let ids = |entries: Vec<(String, super::versions::Listed)>| {
            entries
                .into_iter()
                .map(|(k, v)| (k, v.version_id))
                .collect()
        };
        Ok((ids(older), ids(current)))
    }

    /// Deletes every version and delete marker of `keys` on a versioned bucket, the older
    /// ones first: a key one of whose older versions is locked (Object Lock refuses its
    /// deletion) or could not be deleted keeps its current version, so deleting the newer
    /// versions around a locked one never brings the older one back as the object's
    /// content. Such a key is reported locked (or failed), its unlocked older versions gone.
    pub(super) async fn delete_versioned(
        &self,
        keys: &[String],
        info: BucketInfo,
    ) -> anyhow::Result<ObjectReport> {
        let (older, current) = self.all_versions(keys).await?;
        let first = self.delete_identifiers(keys, older, info).await;
        let stopped: std::collections::HashSet<&String> = first
            .locked
            .iter()
            .chain(first.failed.iter().map(|(k, _)| k))
            .collect();
        let go_on: Vec<String> = keys
            .iter()
            .filter(|k| !stopped.contains(k))
            .cloned()
            .collect();
        let current: Identifiers = current
            .into_iter()
            .filter(|(k, _)| !stopped.contains(k))
            .collect();
        let mut report = self.delete_identifiers(&go_on, current, info).await;
        // A key whose older versions all went is done only once its current entry is.
        report.absorb(ObjectReport {
            done: Vec::new(),
            ..first
        });
        Ok(report)
    }

    /// Deletes the identifiers in DeleteObjects requests and folds every result into one
    /// outcome per key of `keys`.
    pub(super) async fn delete_identifiers(
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
