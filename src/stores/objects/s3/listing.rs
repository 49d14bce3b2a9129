//! Reading a bucket: one page of a listing (ListObjectsV2 on an unversioned bucket,
//! ListObjectVersions folded per key on a versioned one), and what selection needs beyond
//! it (HeadObject for user metadata and the lock status, GetObjectTagging for tags).

use super::errors::{is_not_found, is_not_implemented};
use super::versions::{listed_entries, KeyVersions, Listed, VersionToken};
use super::{is_locked, to_chrono, Inner};
use crate::stores::objects::key_digest;
use crate::stores::objects::select::Candidate;
use crate::stores::objects::PAGE_SIZE;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use std::collections::BTreeMap;

/// One listed page: its objects in listing order, before any selection, and the token of
/// the next page (`None` when the listing is complete).
pub(super) struct Listing {
    pub(super) objects: Vec<Candidate>,
    pub(super) next: Option<String>,
}

impl Inner {
    /// Fills in metadata, lock status and tags; `None` when the object vanished meanwhile.
    pub(super) async fn complete(
        &self,
        mut candidate: Candidate,
        head: bool,
        tags: bool,
        prefix: &str,
    ) -> anyhow::Result<Option<Candidate>> {
        let context = || "reading an object".to_owned();
        if head {
            let request = self.pace.run(|| {
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(&candidate.key)
                    .set_version_id(candidate.version.clone())
                    .send()
            });
            let out = match self.fetches.run(&self.pace, request).await {
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

    /// The tags of the current version, or of `version`; none at all on a server that does
    /// not implement tagging.
    pub(super) async fn tags(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<
        BTreeMap<String, String>,
        SdkError<aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingError, HttpResponse>,
    > {
        if !self.has_tagging() {
            return Ok(BTreeMap::new());
        }
        let request = self.pace.run(|| {
            self.client
                .get_object_tagging()
                .bucket(&self.bucket)
                .key(key)
                .set_version_id(version.map(str::to_owned))
                .send()
        });
        let out = match self.fetches.run(&self.pace, request).await {
            Ok(out) => out,
            Err(err) if is_not_implemented(&err) => {
                self.lacks_tagging();
                return Ok(BTreeMap::new());
            }
            Err(err) => return Err(err),
        };
        Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// Every version and delete marker of one key (exact match), data versions first, each
    /// kind newest first as S3 lists them.
    pub(super) async fn listed_versions_of(&self, key: &str) -> anyhow::Result<Vec<Listed>> {
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
    pub(super) async fn list_current_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> anyhow::Result<Listing> {
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
        Ok(Listing {
            objects: listed,
            next,
        })
    }

    /// One page of a versioned bucket's listing (ListObjectVersions, at most [`PAGE_SIZE`]
    /// versions and markers), folded into one candidate per key that still holds data (see
    /// [`KeyVersions`]). A key whose versions may run on past the page's end is listed to
    /// its end on its own, and the token tells the next page to skip it; memory stays
    /// bounded by one page plus the versions of one key.
    pub(super) async fn list_versions_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> anyhow::Result<Listing> {
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
        Ok(Listing {
            objects: listed,
            next,
        })
    }
}
