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
        let new_version = match how {
            ObjectStrategy::StripGps => self.strip_gps_in_place(key, &head).await?,
            ObjectStrategy::StripMetadata => self.strip_metadata_in_place(key, &head).await?,
        };
        if info.versioned {
            crate::execute::pause::pause_at("anonymised-written").await;
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

    /// Rewrites the image without its GPS block, keeping its headers (content type,
    /// caching, disposition, encoding, language, storage class, encryption), metadata and
    /// tags,
    /// and adds the marker tag (where the server has tagging). Returns the new version id when a new version was written.
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
        let read_version = object.version_id().map(str::to_owned);
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
            // No GPS block: nothing personal to rewrite, only the marker to set. On a
            // versioned bucket this version is the one kept: older ones may still hold a
            // location (an image the application stripped itself, say).
            self.put_tags(key, &tags).await?;
            return Ok(read_version);
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
        self.put_tags(key, &marker).await?;
        Ok(out.version_id().map(str::to_owned))
    }

    async fn put_tags(&self, key: &str, tags: &BTreeMap<String, String>) -> anyhow::Result<()> {
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

    /// After an anonymised version is written, the versions before it still hold the
    /// personal data: delete them all (and any delete markers).
    async fn delete_older_versions(
        &self,
        key: &str,
        keep: &str,
        info: BucketInfo,
    ) -> anyhow::Result<()> {
        let listed = self.listed_versions_of(key).await?;
        let old = older_than(&listed, keep).ok_or_else(|| {
            anyhow::anyhow!(
                "the anonymised version is no longer listed (the object changed meanwhile): \
                 its older versions were left for the next run"
            )
        })?;
        let old: Vec<(String, Option<String>)> = old
            .into_iter()
            .map(|v| (key.to_owned(), v.version_id.clone()))
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
}

/// The versions and delete markers of one key older than its version `keep`, or `None`
/// when `keep` is not among them. `listed` is as [`Inner::listed_versions_of`] returns it:
/// data versions newest first, then markers. A version or marker written after `keep` —
/// by the application, while the object was being anonymised — is newer and stays: it is
/// not the data this pass read, and a newer marker is the application deleting the
/// object, which removing it would undo. A marker written in the same second as `keep`
/// cannot be ordered and stays too (it holds no data).
fn older_than<'l>(
    listed: &'l [super::versions::Listed],
    keep: &str,
) -> Option<Vec<&'l super::versions::Listed>> {
    let at = listed
        .iter()
        .position(|v| !v.marker && v.version_id.as_deref() == Some(keep))?;
    let kept_at = listed[at].last_modified;
    Some(
        listed
            .iter()
            .enumerate()
            .filter(|(i, v)| match v.marker {
                false => *i > at,
                true => matches!((v.last_modified, kept_at), (Some(m), Some(k)) if m < k),
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
