//! Versioned buckets: the entries of a ListObjectVersions page folded into one object per
//! key that still holds data, and the continuation token of a version listing.

use super::to_chrono;
use crate::stores::objects::select::Candidate;
use chrono::{DateTime, Utc};

/// One version or delete marker in a version listing.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub(super) version_id: Option<String>,
    pub(super) marker: bool,
    pub(super) latest: bool,
    pub(super) last_modified: Option<DateTime<Utc>>,
    pub(super) size: u64,
}

/// The versions and delete markers of one listing page as `(key, entry)`, data versions
/// first, each kind in the order S3 lists them (per key, newest first).
pub(super) fn listed_entries(
    out: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
) -> Vec<(String, Listed)> {
    let versions = out.versions().iter().filter_map(|v| {
        Some((
            v.key()?.to_owned(),
            Listed {
                version_id: v.version_id().map(str::to_owned),
                marker: false,
                latest: v.is_latest() == Some(true),
                last_modified: v.last_modified().and_then(to_chrono),
                size: v.size().unwrap_or(0).max(0) as u64,
            },
        ))
    });
    let markers = out.delete_markers().iter().filter_map(|m| {
        Some((
            m.key()?.to_owned(),
            Listed {
                version_id: m.version_id().map(str::to_owned),
                marker: true,
                latest: m.is_latest() == Some(true),
                last_modified: m.last_modified().and_then(to_chrono),
                size: 0,
            },
        ))
    });
    versions.chain(markers).collect()
}

/// What a versioned bucket holds under one key, folded from its listing entries.
///
/// A key is an object while any version of it holds data, even when its current version is
/// a delete marker (the application deleted it, but S3 keeps the data). Its timestamp is
/// the newest data version's `last_modified`: expiry is judged by when the data was last
/// written, not by when it was hidden. Metadata, tags and the lock status are read from that
/// version too. A key with only delete markers holds no data and is not an object.
#[derive(Debug, Default)]
pub(super) struct KeyVersions {
    /// The newest version holding data (S3 lists a key's versions newest first).
    pub(super) newest_data: Option<Listed>,
    /// The current version is a delete marker.
    pub(super) deleted: bool,
}

impl KeyVersions {
    pub(super) fn add(&mut self, entry: Listed) {
        if entry.marker {
            self.deleted |= entry.latest;
        } else if entry.latest || self.newest_data.is_none() {
            self.newest_data = Some(entry);
        }
    }

    pub(super) fn candidate(self, key: String) -> Option<Candidate> {
        let data = self.newest_data?;
        Some(Candidate {
            key,
            size: data.size,
            last_modified: data.last_modified,
            // Reading the current version would find the delete marker: read the data's.
            version: if self.deleted { data.version_id } else { None },
            ..Candidate::default()
        })
    }
}

/// Where a version listing goes on: S3's own markers, plus the key the previous page
/// already listed to its end (its remaining entries are skipped).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct VersionToken {
    pub(super) key: Option<String>,
    pub(super) version: Option<String>,
    pub(super) done: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(version: &str, marker: bool, latest: bool, secs: i64) -> Listed {
        Listed {
            version_id: Some(version.to_owned()),
            marker,
            latest,
            last_modified: DateTime::from_timestamp(secs, 0),
            size: if marker { 0 } else { 10 },
        }
    }

    #[test]
    fn a_key_is_an_object_while_any_version_holds_data() {
        // Current data: read the current version.
        let mut live = KeyVersions::default();
        live.add(listed("v2", false, true, 200));
        live.add(listed("v1", false, false, 100));
        let c = live.candidate("k".into()).expect("an object");
        assert_eq!(
            (c.version, c.last_modified.map(|t| t.timestamp())),
            (None, Some(200))
        );

        // Deleted, with data in older versions: dated and read from the newest data version.
        let mut deleted = KeyVersions::default();
        deleted.add(listed("v2", false, false, 200));
        deleted.add(listed("v1", false, false, 100));
        deleted.add(listed("m", true, true, 300));
        let c = deleted.candidate("k".into()).expect("still an object");
        assert_eq!(c.version.as_deref(), Some("v2"));
        assert_eq!(c.last_modified.map(|t| t.timestamp()), Some(200));

        // Only delete markers: no data, no object.
        let mut markers = KeyVersions::default();
        markers.add(listed("m", true, true, 300));
        assert!(markers.candidate("k".into()).is_none());
    }
}
