//! Anonymising in place: strip the GPS block of an image or the user metadata of any
//! object, keep content type and tags, and add the `retention-anonymised=1` tag; on a
//! versioned bucket delete the older versions that still hold the personal data.

use super::errors::{describe_sdk_error, is_not_found, is_not_implemented};
use super::{is_locked, BucketInfo, Inner};
use crate::rules::model::ObjectStrategy;
use crate::stores::objects::gps::strip_gps;
use crate::stores::objects::select::ANONYMISED_TAG;
use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, Tag, Tagging};
use std::collections::BTreeMap;

/// What anonymising one object came to (a failure is an error).
pub(super) enum Outcome {
    Done,
    Locked,
}

/// Which version an in-place anonymisation read (`None` on an unversioned bucket),
/// whether it wrote an anonymised copy of it (else that version needed no change), and
/// which version carries the marker tag.
struct Rewrite {
    read: Option<String>,
    replaced: bool,
    /// The version that now carries the marker tag: the copy, or `read` when unchanged.
    marked: Option<String>,
}

/// Sets on a PutObject or CopyObject request the headers of the object as `head` read
/// them (content type, caching, disposition, encoding, language, storage class,
/// encryption): a rewrite keeps them all.
macro_rules! keep_headers {
    ($request:expr, $head:expr) => {
        $request
            .set_content_type($head.content_type().map(str::to_owned))
            .set_cache_control($head.cache_control().map(str::to_owned))
            .set_content_disposition($head.content_disposition().map(str::to_owned))
            .set_content_encoding($head.content_encoding().map(str::to_owned))
            .set_content_language($head.content_language().map(str::to_owned))
            .set_storage_class($head.storage_class().cloned())
            .set_server_side_encryption($head.server_side_encryption().cloned())
            .set_ssekms_key_id($head.ssekms_key_id().map(str::to_owned))
    };
}

impl Inner {
    pub(super) async fn anonymise_one(
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
        let rewrite = match how {
            ObjectStrategy::StripGps => self.strip_gps_in_place(key, &head).await?,
            ObjectStrategy::StripMetadata => self.strip_metadata_in_place(key, &head).await?,
        };
        if info.versioned {
            crate::execute::pause::pause_at("anonymised-written").await;
            if let Some(read) = &rewrite.read {
                let left = self
                    .delete_superseded(key, read, rewrite.replaced, info)
                    .await;
                if !matches!(left, Ok(Outcome::Done)) {
                    // An older version still holds the data: without the marker the next
                    // run takes the key again (its current version then needs no
                    // rewrite) and deletes what is left once it can.
                    self.drop_marker(key, rewrite.marked.as_deref()).await?;
                }
                return left;
            }
        }
        Ok(Outcome::Done)
    }

    /// Anonymising a key whose current version is a delete marker: the application deleted
    /// the object and only older versions still hold its data. Writing an anonymised copy
    /// back would bring the object back to life, so every version and marker of it is
    /// deleted instead.
    async fn delete_deleted(&self, key: &str, info: BucketInfo) -> anyhow::Result<Outcome> {
        // Older versions first, the marker last: a locked older version keeps the marker
        // on top, so held data never becomes the object's content again.
        let report = self.delete_versioned(&[key.to_owned()], info).await?;
        if let Some((_, message)) = report.failed.into_iter().next() {
            anyhow::bail!("the object was deleted but its older versions could not be: {message}");
        }
        Ok(if report.locked.is_empty() {
            Outcome::Done
        } else {
            Outcome::Locked
        })
    }

    /// Rewrites the image without its GPS block, keeping its headers (content type,
    /// caching, disposition, encoding, language, storage class, encryption), metadata and
    /// tags,
    /// and adds the marker tag (where the server has tagging).
    async fn strip_gps_in_place(
        &self,
        key: &str,
        head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    ) -> anyhow::Result<Rewrite> {
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
        let read_version = object.version_id().map(str::to_owned);
        let original = object
            .body
            .collect()
            .await
            .context("reading the object's content")?
            .into_bytes();
        crate::execute::pause::pause_at("anonymise-read").await;
        let stripped = strip_gps(&original)?;
        // The tags of the version read, which the copy keeps (not those of a version the
        // application may have written since).
        let mut tags = self
            .tags(key, read_version.as_deref())
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        tags.insert(ANONYMISED_TAG.0.to_owned(), ANONYMISED_TAG.1.to_owned());
        if stripped[..] == original[..] {
            // No GPS block: nothing personal to rewrite, only the marker to set. On a
            // versioned bucket this version stays: older ones may still hold a location
            // (an image the application stripped itself, say).
            self.put_tags(key, read_version.as_deref(), &tags).await?;
            return Ok(Rewrite {
                marked: read_version.clone(),
                read: read_version,
                replaced: false,
            });
        }
        let stripped = bytes::Bytes::from(stripped);
        // A server without tagging gets no tagging header: the marker cannot be kept there.
        let tagging = self.has_tagging().then(|| encode_tags(&tags));
        let out = self
            .pace
            .run(|| {
                keep_headers!(self.client.put_object().bucket(&self.bucket).key(key), head)
                    .set_metadata(head.metadata().cloned())
                    .set_tagging(tagging.clone())
                    .body(ByteStream::from(stripped.clone()))
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        Ok(Rewrite {
            read: read_version,
            replaced: true,
            marked: out.version_id().map(str::to_owned),
        })
    }

    /// Copies the object onto itself with empty user metadata, then replaces its tags with
    /// the marker alone.
    async fn strip_metadata_in_place(
        &self,
        key: &str,
        head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    ) -> anyhow::Result<Rewrite> {
        let source = format!("{}/{}", self.bucket, percent_encode(key, true));
        let out = self
            .pace
            .run(|| {
                keep_headers!(
                    self.client
                        .copy_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .copy_source(&source)
                        .metadata_directive(MetadataDirective::Replace),
                    head
                )
                .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        let marker = BTreeMap::from([(ANONYMISED_TAG.0.to_owned(), ANONYMISED_TAG.1.to_owned())]);
        let copy = out.version_id().map(str::to_owned);
        self.put_tags(key, copy.as_deref(), &marker).await?;
        Ok(Rewrite {
            read: out.copy_source_version_id().map(str::to_owned),
            replaced: true,
            marked: copy,
        })
    }

    /// Sets the tags of `key`'s version `version` (its current one when `None`): naming the
    /// version keeps the marker off a version the application wrote meanwhile, which this
    /// pass never anonymised.
    async fn put_tags(
        &self,
        key: &str,
        version: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let tag_set: Result<Vec<Tag>, _> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let tagging = Tagging::builder().set_tag_set(Some(tag_set?)).build()?;
        if !self.has_tagging() {
            return Ok(());
        }
        let put = self
            .pace
            .run(|| {
                self.client
                    .put_object_tagging()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .tagging(tagging.clone())
                    .send()
            })
            .await;
        match put {
            Ok(_) => Ok(()),
            // The object is anonymised all the same; only the marker cannot be kept.
            Err(err) if is_not_implemented(&err) => {
                self.lacks_tagging();
                Ok(())
            }
            Err(err) => Err(anyhow::anyhow!(describe_sdk_error(&err))),
        }
    }

    /// On a versioned bucket, after anonymising the version `read` of `key` in place:
    /// deletes the versions older than it, which may still hold what was removed, and
    /// `read` itself when it was `replaced` by an anonymised copy.
    async fn delete_superseded(
        &self,
        key: &str,
        read: &str,
        replaced: bool,
        info: BucketInfo,
    ) -> anyhow::Result<Outcome> {
        let listed = self.listed_versions_of(key).await?;
        let old = superseded(&listed, read, replaced).ok_or_else(|| {
            anyhow::anyhow!(
                "the anonymised object's version is no longer listed (the object changed \
                 meanwhile): its older versions were left for the next run"
            )
        })?;
        let old: Vec<(String, Option<String>)> = old
            .into_iter()
            .map(|v| (key.to_owned(), v.version_id.clone()))
            .collect();
        if old.is_empty() {
            return Ok(Outcome::Done);
        }
        let keys = [key.to_owned()];
        let report = self.delete_identifiers(&keys, old, info).await;
        if let Some((_, message)) = report.failed.into_iter().next() {
            anyhow::bail!("the object was anonymised but an old version remains: {message}");
        }
        // An older version under Object Lock keeps its data, as locked data does.
        Ok(match report.locked.is_empty() {
            true => Outcome::Done,
            false => Outcome::Locked,
        })
    }

    /// Removes the marker tag from `key`'s version `version`, keeping its other tags.
    async fn drop_marker(&self, key: &str, version: Option<&str>) -> anyhow::Result<()> {
        if !self.has_tagging() {
            return Ok(());
        }
        let mut tags = self
            .tags(key, version)
            .await
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))?;
        tags.remove(ANONYMISED_TAG.0);
        if !tags.is_empty() {
            return self.put_tags(key, version, &tags).await;
        }
        // No tag left: some servers (moto) fail an empty tag set; deleting says the same.
        self.pace
            .run(|| {
                self.client
                    .delete_object_tagging()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .send()
            })
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!(describe_sdk_error(&e)))
    }
}

/// The versions and delete markers of one key that anonymising its version `read`
/// supersedes, or `None` when `read` is no longer listed: the data versions older than
/// `read`, and `read` itself when it was `replaced`. `listed` is as
/// [`Inner::listed_versions_of`] returns it: data versions newest first, then markers.
/// Anything written after `read` stays — the anonymised copy, and whatever the
/// application wrote meanwhile, which is not the data this pass read; a newer marker is
/// the application deleting the object, which removing it would undo. Markers older than
/// `read` go with the versions they hid; one written in the same second as `read`
/// cannot be ordered and stays (it holds no data).
fn superseded<'l>(
    listed: &'l [super::versions::Listed],
    read: &str,
    replaced: bool,
) -> Option<Vec<&'l super::versions::Listed>> {
    let at = listed
        .iter()
        .position(|v| !v.marker && v.version_id.as_deref() == Some(read))?;
    let read_at = listed[at].last_modified;
    Some(
        listed
            .iter()
            .enumerate()
            .filter(|(i, v)| match v.marker {
                false => *i > at || (*i == at && replaced),
                true => matches!((v.last_modified, read_at), (Some(m), Some(r)) if m < r),
            })
            .map(|(_, v)| v)
            .collect(),
    )
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
