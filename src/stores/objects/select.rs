//! Which listed objects a scan selects: pure decisions shared by every backend.
//!
//! A backend lists objects and hands each one over as a [`Candidate`] with whatever it
//! fetched. Selection runs in two steps so that backends only pay for metadata and tags
//! where they matter: [`prefilter`] decides what it can from the key and the listing alone
//! (shard, subject from a key pattern, age from `last_modified`), then [`decide`] gives the
//! final verdict once metadata, tags and lock status are known. No I/O happens here.

use super::{ObjectFilter, ObjectRef};
use crate::rules::model::{ObjectSubject, ObjectTarget, ObjectTimestamp};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The tag (key, value) that marks an anonymised object. The directory store keeps it in the
/// object's sidecar, S3 as an object tag.
pub const ANONYMISED_TAG: (&str, &str) = ("retention-anonymised", "1");

/// The shard (`0..count`) a key belongs to: the first 8 bytes of SHA-256 of the key, as a
/// big-endian integer, modulo `count`. Stable across runs, machines and backends, so that
/// `--shard I/N` jobs partition a prefix with no overlap and no gap.
pub fn shard_of(key: &str, count: u32) -> u32 {
    let hash = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

/// One listed object with what the backend fetched about it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// User metadata with lower-cased names (S3 lower-cases them too); `None` if not fetched.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Object tags; `None` if not fetched.
    pub tags: Option<BTreeMap<String, String>>,
    /// Under a lock that forbids deletion and change.
    pub locked: bool,
    /// The version to read metadata, tags and lock status from; `None`: the current one.
    /// Set on versioned buckets when the current version is a delete marker and the data
    /// lives on in an older version (see the S3 store).
    pub version: Option<String>,
}

/// What a backend has to fetch per object before [`decide`] can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub metadata: bool,
    pub tags: bool,
}

/// The fetches this target and filter need.
pub fn needs(target: &ObjectTarget, filter: &ObjectFilter) -> Needs {
    let metadata = matches!(target.subject, Some(ObjectSubject::Metadata(_)))
        || matches!(target.timestamp, Some(ObjectTimestamp::Metadata(_)));
    let tags = matches!(target.subject, Some(ObjectSubject::Tag(_))) || filter.skip_anonymised;
    Needs { metadata, tags }
}

/// The outcome for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Skip,
    Held,
    Locked,
    Match(ObjectRef),
}

/// Whether a listed object can still match, judged from its key and listing alone. `false`
/// means it is certainly not selected, so nothing more needs fetching for it.
pub fn prefilter(
    target: &ObjectTarget,
    filter: &ObjectFilter,
    key: &str,
    last_modified: Option<DateTime<Utc>>,
) -> bool {
    if !in_shard(filter, key) && !filter.count_other_shards {
        return false;
    }
    if let (Some(ObjectSubject::KeyPattern(pattern)), Some(wanted)) =
        (&target.subject, &filter.subjects)
    {
        match subject_from_key(pattern, key) {
            Some(subject) if wanted.contains(subject) => {}
            _ => return false,
        }
    }
    if let (Some(ObjectTimestamp::LastModified), Some(cutoff)) = (&target.timestamp, filter.cutoff)
    {
        match last_modified {
            Some(t) if t < cutoff => {}
            _ => return false,
        }
    }
    true
}

/// The final verdict for a candidate whose needed fields (see [`needs`]) are filled in.
pub fn decide(target: &ObjectTarget, filter: &ObjectFilter, candidate: &Candidate) -> Verdict {
    if !prefilter(target, filter, &candidate.key, candidate.last_modified) {
        return Verdict::Skip;
    }
    let subject = resolve_subject(target, candidate);
    if let Some(wanted) = &filter.subjects {
        match &subject {
            Some(s) if wanted.contains(s) => {}
            _ => return Verdict::Skip,
        }
    }
    let timestamp = resolve_timestamp(target, candidate);
    if let Some(cutoff) = filter.cutoff {
        // An object without a resolvable timestamp never expires, like a NULL in SQL.
        match timestamp {
            Some(t) if t < cutoff => {}
            _ => return Verdict::Skip,
        }
    }
    if filter.skip_anonymised && is_anonymised(candidate.tags.as_ref()) {
        return Verdict::Skip;
    }
    if subject.as_ref().is_some_and(|s| filter.held.contains(s)) {
        return Verdict::Held;
    }
    if candidate.locked {
        return Verdict::Locked;
    }
    Verdict::Match(ObjectRef {
        key: candidate.key.clone(),
        subject,
        timestamp,
        size: candidate.size,
        locked: false,
        listed_modified: candidate.last_modified,
    })
}

/// Whether a listed key fits the target's key pattern. Always `true` when the target does not
/// take its subject from the key. A scan counts these (before any other test) so that a
/// pattern that fits none of the objects under the prefix is reported instead of silently
/// selecting nothing.
pub fn fits_key_pattern(target: &ObjectTarget, key: &str) -> bool {
    match &target.subject {
        Some(ObjectSubject::KeyPattern(pattern)) => subject_from_key(pattern, key).is_some(),
        _ => true,
    }
}

/// Whether a set of tags carries the anonymised marker.
pub fn is_anonymised(tags: Option<&BTreeMap<String, String>>) -> bool {
    tags.and_then(|t| t.get(ANONYMISED_TAG.0))
        .is_some_and(|v| v == ANONYMISED_TAG.1)
}

/// Whether `key` belongs to the filter's shard (every key does without one).
pub(super) fn in_shard(filter: &ObjectFilter, key: &str) -> bool {
    match filter.shard {
        Some((index, count)) => shard_of(key, count) == index,
        None => true,
    }
}

fn resolve_subject(target: &ObjectTarget, candidate: &Candidate) -> Option<String> {
    match target.subject.as_ref()? {
        ObjectSubject::KeyPattern(pattern) => {
            subject_from_key(pattern, &candidate.key).map(str::to_owned)
        }
        ObjectSubject::Metadata(field) => candidate
            .metadata
            .as_ref()?
            .get(&field.to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .cloned(),
        ObjectSubject::Tag(tag) => candidate
            .tags
            .as_ref()?
            .get(tag)
            .filter(|v| !v.is_empty())
            .cloned(),
    }
}

pub fn resolve_timestamp(target: &ObjectTarget, candidate: &Candidate) -> Option<DateTime<Utc>> {
    match target.timestamp.as_ref()? {
        ObjectTimestamp::LastModified => candidate.last_modified,
        ObjectTimestamp::Metadata(field) => candidate
            .metadata
            .as_ref()?
            .get(&field.to_ascii_lowercase())
            .and_then(|v| parse_timestamp(v)),
    }
}

/// Whether the object carries the target's metadata date field at all (empty or not a
/// date: unreadable; absent: undated, like a NULL timestamp).
pub fn has_timestamp_field(target: &ObjectTarget, candidate: &Candidate) -> bool {
    match (target.timestamp.as_ref(), candidate.metadata.as_ref()) {
        (Some(ObjectTimestamp::Metadata(field)), Some(m)) => m
            .get(&field.to_ascii_lowercase())
            .is_some_and(|v| !v.trim().is_empty()),
        _ => false,
    }
}

/// Reads a metadata timestamp: RFC 3339 or integer epoch seconds. Anything else is `None`,
/// so the object never expires rather than expiring by accident — so are the "no date"
/// values writers put there: Go's zero time `0001-01-01T00:00:00Z`, and epochs of 0 or
/// below (`0`, `-1`).
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        let t = t.with_timezone(&Utc);
        return (t.year() > 1).then_some(t);
    }
    let secs: i64 = value.parse().ok()?;
    if secs <= 0 {
        return None;
    }
    Utc.timestamp_opt(secs, 0).single()
}

/// The subject a key pattern such as `photos/{subject}/` finds in a key: the text where the
/// placeholder stands, up to the literal that follows it (or up to the next `/` when the
/// placeholder ends the pattern). `None` when the key does not fit the pattern.
pub fn subject_from_key<'k>(pattern: &str, key: &'k str) -> Option<&'k str> {
    let (before, after) = pattern.split_once("{subject}")?;
    let rest = key.strip_prefix(before)?;
    let subject = if after.is_empty() {
        rest.split('/').next().unwrap_or(rest)
    } else {
        let end = rest.find(after)?;
        &rest[..end]
    };
    (!subject.is_empty()).then_some(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn target(subject: Option<ObjectSubject>, timestamp: Option<ObjectTimestamp>) -> ObjectTarget {
        ObjectTarget {
            store: "media".into(),
            prefix: "p/".into(),
            subject,
            timestamp,
            anonymise: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).expect("test timestamp")
    }

    #[test]
    fn key_patterns_find_the_subject_where_the_placeholder_stands() {
        let cases = [
            ("p/{subject}/", "p/42/a.jpg", Some("42")),
            ("p/{subject}", "p/42/a.jpg", Some("42")),
            ("p/user-{subject}.json", "p/user-7.json", Some("7")),
            ("p/{subject}/", "q/42/a.jpg", None),
            ("p/{subject}/", "p//a.jpg", None),
            ("p/{subject}/", "p/loose-file", None),
            ("no placeholder", "p/42", None),
        ];
        for (pattern, key, expected) in cases {
            assert_eq!(
                subject_from_key(pattern, key),
                expected,
                "{pattern} on {key}"
            );
        }
    }

    #[test]
    fn metadata_timestamps_are_rfc3339_or_epoch_seconds_and_nothing_else() {
        assert_eq!(
            parse_timestamp("2026-05-07T12:00:00Z"),
            Some(at("2026-05-07T12:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("1778155200"),
            Some(at("2026-05-07T12:00:00Z"))
        );
        assert_eq!(parse_timestamp("last tuesday"), None);
        for no_date in ["0001-01-01T00:00:00Z", "0", "-1", "-86400"] {
            assert_eq!(parse_timestamp(no_date), None, "{no_date}");
        }
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn shards_partition_keys_exactly_once() {
        let keys: Vec<String> = (0..500).map(|i| format!("p/{i}")).collect();
        for count in [1, 2, 3, 7] {
            let mut seen = 0;
            for key in &keys {
                let owners = (0..count).filter(|&i| shard_of(key, count) == i).count();
                assert_eq!(owners, 1);
                seen += owners;
            }
            assert_eq!(seen, keys.len());
        }
    }

    #[test]
    fn an_object_without_a_timestamp_never_expires() {
        let t = target(None, Some(ObjectTimestamp::Metadata("captured-at".into())));
        let filter = ObjectFilter {
            cutoff: Some(at("2026-01-01T00:00:00Z")),
            ..Default::default()
        };
        let mut c = Candidate {
            key: "p/a".into(),
            metadata: Some(BTreeMap::new()),
            ..Default::default()
        };
        assert_eq!(decide(&t, &filter, &c), Verdict::Skip);
        c.metadata = Some(BTreeMap::from([("captured-at".into(), "garbage".into())]));
        assert_eq!(decide(&t, &filter, &c), Verdict::Skip);
        c.metadata = Some(BTreeMap::from([(
            "captured-at".into(),
            "2025-01-01T00:00:00Z".into(),
        )]));
        assert!(matches!(decide(&t, &filter, &c), Verdict::Match(_)));
    }

    #[test]
    fn held_subjects_are_counted_before_locks_and_never_matched() {
        let t = target(Some(ObjectSubject::Tag("subject".into())), None);
        let filter = ObjectFilter {
            held: BTreeSet::from(["7".to_string()]),
            ..Default::default()
        };
        let c = Candidate {
            key: "p/a".into(),
            tags: Some(BTreeMap::from([("subject".into(), "7".into())])),
            locked: true,
            ..Default::default()
        };
        assert_eq!(decide(&t, &filter, &c), Verdict::Held);
        let c = Candidate {
            tags: Some(BTreeMap::from([("subject".into(), "8".into())])),
            ..c
        };
        assert_eq!(decide(&t, &filter, &c), Verdict::Locked);
    }
}
