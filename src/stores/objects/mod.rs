//! Object stores: S3 buckets and local directories behind one small surface.
//!
//! The executor sees only [`ObjectStore`]: it scans a target page by page
//! ([`ObjectStore::scan`]), then deletes or anonymises what a page matched. Which
//! objects match is decided by the pure code in [`select`], shared by both backends so that
//! a bucket and a directory behave the same; the backends only list, fetch and change.
//!
//! Two invariants hold for every backend:
//! - An object key never appears in an error message or a log line, because keys often
//!   embed subject ids. Messages name the store and the target and give counts or digests.
//! - Objects under a lock (S3 Object Lock, or a write-once file of the directory store) are
//!   reported as locked, never deleted and never counted as failures.

mod dir;
mod gps;
mod pace;
mod s3;
mod select;
mod window;

pub use dir::DirStore;
pub use gps::{strip_gps, StripGpsError};
pub use s3::S3Store;
pub use select::{shard_of, ANONYMISED_TAG};

use crate::config::StoreConfig;
use crate::rules::model::{ObjectStrategy, ObjectTarget};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use std::collections::BTreeSet;

/// The most objects one [`ObjectStore::scan_page`] returns (S3's own page size).
pub const PAGE_SIZE: usize = 1000;

/// An object store of either kind.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    S3(S3Store),
    Dir(DirStore),
}

/// Which objects a scan selects.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    /// Select objects whose timestamp is before this instant; `None`: no age test.
    pub cutoff: Option<DateTime<Utc>>,
    /// Only objects of these subjects (erasure requests); `None`: any subject, or none.
    pub subjects: Option<BTreeSet<String>>,
    /// Subjects under legal hold: their objects are never selected, only counted in `held`.
    pub held: BTreeSet<String>,
    /// `(index, count)`: keep only objects whose key falls in this shard (see [`shard_of`]).
    pub shard: Option<(u32, u32)>,
    /// With a shard: judge the other shards' objects too, counting them in
    /// [`ObjectPage::other_shards`] without selecting them — what the guard needs to judge
    /// the whole prefix in the same listing.
    pub count_other_shards: bool,
    /// Leave out objects already marked as anonymised.
    pub skip_anonymised: bool,
}

/// One page of a scan.
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    /// Objects to act on. Locked and held objects are never in here; they are counted.
    pub matched: Vec<ObjectRef>,
    /// Objects that would have matched but belong to a held subject.
    pub held: u64,
    /// Objects that would have matched but are under a lock.
    pub locked: u64,
    /// Objects listed under the prefix on this page (sidecar files excluded).
    pub scanned: u64,
    /// Of `scanned`, the objects whose key fits the target's key pattern (all of them when
    /// the subject does not come from the key), counted before any other test.
    pub fitting: u64,
    /// The token for the next page; `None` when the listing is complete.
    pub next: Option<String>,
    /// What the other shards hold, when the filter asks for it.
    pub other_shards: OtherShards,
    /// Targets dated by a metadata field: the listed objects whose date could be read, and
    /// of those the ones in 1970 (a date read in the wrong unit lands there), for the
    /// guard's unit check (SPEC §6).
    pub dated: u64,
    pub in_1970: u64,
    /// Targets dated by a metadata field: the listed objects whose field is there but
    /// reads as no date — they never expire, and plans count them.
    pub unreadable: u64,
}

/// Objects of other shards a scan judged without selecting them
/// ([`ObjectFilter::count_other_shards`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtherShards {
    pub matched: u64,
    pub held: u64,
    pub locked: u64,
}

impl ObjectPage {
    /// Counts a listed object's date for the guard, on a target dated by a metadata field
    /// (`last_modified` is the server's, never in the wrong unit).
    fn date(&mut self, target: &ObjectTarget, candidate: &select::Candidate) {
        if !matches!(
            target.timestamp,
            Some(crate::rules::model::ObjectTimestamp::Metadata(_))
        ) {
            return;
        }
        if let Some(t) = select::resolve_timestamp(target, candidate) {
            self.dated += 1;
            if t.timestamp() < 31_536_000
            /* 1971-01-01 */
            {
                self.in_1970 += 1;
            }
        } else if select::has_timestamp_field(target, candidate) {
            self.unreadable += 1;
        }
    }

    /// Counts one listed object by what [`select::decide`] said of it: in the page when
    /// it belongs to the filter's shard, else in `other_shards`.
    fn add(&mut self, filter: &ObjectFilter, key: &str, verdict: select::Verdict) {
        use select::Verdict::{Held, Locked, Match, Skip};
        let mine = select::in_shard(filter, key);
        match verdict {
            Skip => {}
            Held if mine => self.held += 1,
            Held => self.other_shards.held += 1,
            Locked if mine => self.locked += 1,
            Locked => self.other_shards.locked += 1,
            Match(object) if mine => self.matched.push(object),
            Match(_) => self.other_shards.matched += 1,
        }
    }
}

/// An object selected by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub key: String,
    pub subject: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub size: u64,
    /// Always `false` for objects a scan returns (locked objects are counted, not
    /// returned); kept so callers can describe objects they built themselves.
    pub locked: bool,
    /// The modification time the listing saw: a local file written since is left alone
    /// when the time comes to delete it (`None`: not checked).
    pub listed_modified: Option<DateTime<Utc>>,
}

/// What a delete or anonymise did, key by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectReport {
    /// Keys fully processed.
    pub done: Vec<String>,
    /// Keys left alone because they (or one of their versions) are locked.
    pub locked: Vec<String>,
    /// Keys that failed, with a message that names no key.
    pub failed: Vec<(String, String)>,
}

impl ObjectReport {
    fn absorb(&mut self, other: ObjectReport) {
        self.done.extend(other.done);
        self.locked.extend(other.locked);
        self.failed.extend(other.failed);
    }
}

/// What `check --connect` learns about an object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// `s3` or `dir`.
    pub kind: &'static str,
    /// The bucket keeps old versions (S3 versioning enabled or suspended with history).
    pub versioning: bool,
    /// Write-once objects are possible: S3 Object Lock is enabled on the bucket, or the
    /// directory store (which always can).
    pub object_lock: bool,
}

impl ObjectStore {
    /// Connects to the store named `name`. For S3 this builds a client from the default
    /// credential chain and checks nothing yet; the first request (or [`Self::probe`])
    /// finds out whether the bucket is reachable.
    pub async fn connect(name: &str, cfg: &StoreConfig) -> anyhow::Result<ObjectStore> {
        match cfg {
            StoreConfig::S3(s3) => Ok(ObjectStore::S3(S3Store::connect(name, s3).await?)),
            StoreConfig::Dir { path } => Ok(ObjectStore::Dir(DirStore::open(name, path)?)),
            StoreConfig::Sql { .. } => anyhow::bail!(
                "store `{name}` is a SQL database, not an object store; object targets \
                 (with `prefix`) need an `s3` or `dir` store"
            ),
        }
    }

    /// The store's name from the configuration.
    pub fn name(&self) -> &str {
        match self {
            ObjectStore::S3(s) => s.name(),
            ObjectStore::Dir(d) => d.name(),
        }
    }

    /// One page (at most [`PAGE_SIZE`] listed objects) of the objects under `target.prefix`
    /// that match `filter`. Pass the previous page's `next` as `token`.
    pub async fn scan_page(
        &self,
        target: &ObjectTarget,
        filter: &ObjectFilter,
        token: Option<String>,
    ) -> anyhow::Result<ObjectPage> {
        match self {
            ObjectStore::S3(s) => s.scan_page(target, filter, token).await,
            ObjectStore::Dir(d) => d.scan_page(target, filter, token).await,
        }
    }

    /// Every page of the objects under `target.prefix` that match `filter`, in listing
    /// order. On S3 the next page is listed while the current one's metadata and tags are
    /// read; memory stays bounded by the few pages in flight.
    pub fn scan<'a>(
        &'a self,
        target: &'a ObjectTarget,
        filter: &'a ObjectFilter,
    ) -> BoxStream<'a, anyhow::Result<ObjectPage>> {
        match self {
            ObjectStore::S3(s) => s.scan(target, filter).boxed(),
            ObjectStore::Dir(d) => {
                // The state is the token of the page to scan next; `None` once done.
                futures::stream::try_unfold(
                    Some(None),
                    move |token: Option<Option<String>>| async move {
                        let Some(token) = token else {
                            return Ok(None);
                        };
                        let page = d.scan_page(target, filter, token).await?;
                        let next = page.next.clone().map(Some);
                        Ok(Some((page, next)))
                    },
                )
                .boxed()
            }
        }
    }

    /// Deletes the objects; on versioned buckets every version and delete marker of each key.
    pub async fn delete(&self, objects: &[ObjectRef]) -> anyhow::Result<ObjectReport> {
        match self {
            ObjectStore::S3(s) => s.delete(objects).await,
            ObjectStore::Dir(d) => d.delete(objects).await,
        }
    }

    /// Applies `how` to each object and marks it anonymised, so that scans with
    /// `skip_anonymised` never select it again.
    pub async fn anonymise(
        &self,
        objects: &[ObjectRef],
        how: ObjectStrategy,
    ) -> anyhow::Result<ObjectReport> {
        match self {
            ObjectStore::S3(s) => s.anonymise(objects, how).await,
            ObjectStore::Dir(d) => d.anonymise(objects, how).await,
        }
    }

    /// Writes one object that cannot be changed or deleted afterwards: S3 Object Lock in
    /// compliance mode until now + `retain_days` (with a SHA-256 checksum), or for the
    /// directory store a new read-only file.
    pub async fn put_write_once(
        &self,
        key: &str,
        bytes: Vec<u8>,
        retain_days: Option<u32>,
    ) -> anyhow::Result<()> {
        match self {
            ObjectStore::S3(s) => s.put_write_once(key, bytes, retain_days).await,
            ObjectStore::Dir(d) => d.put_write_once(key, bytes, retain_days).await,
        }
    }

    /// Checks that the bucket or directory exists and is reachable, and reports its
    /// versioning and Object Lock status.
    pub async fn probe(&self) -> anyhow::Result<ProbeReport> {
        match self {
            ObjectStore::S3(s) => s.probe().await,
            ObjectStore::Dir(d) => d.probe().await,
        }
    }
}

/// A digest standing in for a key in messages: short, stable, and reveals nothing.
pub(crate) fn key_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key.as_bytes());
    format!("sha256:{}", hex::encode(&hash[..8]))
}
