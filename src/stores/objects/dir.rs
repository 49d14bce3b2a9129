//! A local directory used as an object store.
//!
//! Conventions (also in the README):
//! - An object's key is its path relative to the root, with `/` between components.
//! - `last_modified` is the file's mtime.
//! - User metadata and tags live in a JSON sidecar next to the object, `<key>.meta.json`:
//!   `{"metadata": {"account-id": "42"}, "tags": {"subject": "42"}}`. Sidecars are not
//!   objects: listings skip every file whose name ends in `.meta.json`. Metadata names are
//!   compared without regard to case, as in S3.
//! - An anonymised object carries the tag `retention-anonymised=1` in its sidecar.
//! - A read-only file (no write permission bit) is write-once: it is reported as locked,
//!   never deleted or changed. `put_write_once` creates such files.
//! - Symbolic links are never followed, neither while listing nor when acting on a key,
//!   so nothing outside the root is ever read, changed or deleted.
//!
//! Listing is in key order and resumes after the last key of the previous page, so memory
//! stays bounded by one page however large the tree.

use super::gps::strip_gps;
use super::select::{self, Candidate, ANONYMISED_TAG};
use super::PAGE_SIZE;
use super::{key_digest, ObjectFilter, ObjectPage, ObjectRef, ObjectReport, ProbeReport};
use crate::rules::model::{ObjectStrategy, ObjectTarget};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The suffix of sidecar files holding an object's metadata and tags.
pub const SIDECAR_SUFFIX: &str = ".meta.json";

/// The name start of temporary files written on the way to an atomic rename; a crash may
/// leave one behind, and listings skip them.
const TMP_PREFIX: &str = ".retention-tmp-";

/// A directory store.
#[derive(Debug, Clone)]
pub struct DirStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    root: PathBuf,
}

/// The sidecar file's content.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl DirStore {
    /// A store rooted at `root`. Nothing is checked until the first use or [`Self::probe`].
    pub fn open(name: &str, root: &Path) -> anyhow::Result<DirStore> {
        Ok(DirStore {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                root: root.to_owned(),
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub async fn scan_page(
        &self,
        target: &ObjectTarget,
        filter: &ObjectFilter,
        token: Option<String>,
    ) -> anyhow::Result<ObjectPage> {
        let inner = Arc::clone(&self.inner);
        let target = target.clone();
        let filter = filter.clone();
        blocking(move || inner.scan_page(&target, &filter, token.as_deref())).await
    }

    pub async fn delete(&self, objects: &[ObjectRef]) -> anyhow::Result<ObjectReport> {
        let inner = Arc::clone(&self.inner);
        let keys: Vec<(String, Option<DateTime<Utc>>)> = objects
            .iter()
            .map(|o| (o.key.clone(), o.listed_modified))
            .collect();
        blocking(move || Ok(inner.delete(&keys))).await
    }

    pub async fn anonymise(
        &self,
        objects: &[ObjectRef],
        how: ObjectStrategy,
    ) -> anyhow::Result<ObjectReport> {
        let inner = Arc::clone(&self.inner);
        let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
        blocking(move || Ok(inner.anonymise(&keys, how))).await
    }

    /// Creates a new read-only file; fails if the key exists. `retain_days` has no meaning
    /// for a directory (write-once is by permission) and is ignored.
    pub async fn put_write_once(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _retain_days: Option<u32>,
    ) -> anyhow::Result<()> {
        let inner = Arc::clone(&self.inner);
        let key = key.to_owned();
        blocking(move || inner.put_write_once(&key, &bytes)).await
    }

    pub async fn probe(&self) -> anyhow::Result<ProbeReport> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            inner.check_root()?;
            Ok(ProbeReport {
                kind: "dir",
                versioning: false,
                object_lock: false,
            })
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a directory-store task stopped unexpectedly")?
}

impl Inner {
    fn check_root(&self) -> anyhow::Result<()> {
        let meta = fs::metadata(&self.root).with_context(|| {
            format!(
                "store `{}`: cannot open directory {}",
                self.name,
                self.root.display()
            )
        })?;
        anyhow::ensure!(
            meta.is_dir(),
            "store `{}`: {} is not a directory",
            self.name,
            self.root.display()
        );
        Ok(())
    }

    fn scan_page(
        &self,
        target: &ObjectTarget,
        filter: &ObjectFilter,
        token: Option<&str>,
    ) -> anyhow::Result<ObjectPage> {
        self.check_root()?;
        let mut keys = Vec::new();
        let (start_dir, _) = split_prefix(&target.prefix);
        let walk = Walk {
            root: &self.root,
            prefix: &target.prefix,
            after: token,
            limit: PAGE_SIZE,
        };
        walk.dir(start_dir, &mut keys).with_context(|| {
            format!(
                "store `{}`, target `{}`: cannot list the directory",
                self.name, target.prefix
            )
        })?;
        let needs = select::needs(target, filter);
        let mut page = ObjectPage {
            scanned: keys.len() as u64,
            next: (keys.len() >= PAGE_SIZE)
                .then(|| keys.last().cloned())
                .flatten(),
            ..ObjectPage::default()
        };
        for key in keys {
            if select::fits_key_pattern(target, &key) {
                page.fitting += 1;
            }
            let path = self.root.join(&key);
            // A file that vanished between listing and stat is simply no longer there.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let last_modified = meta.modified().ok().map(DateTime::<Utc>::from);
            if !select::prefilter(target, filter, &key, last_modified) {
                continue;
            }
            let mut candidate = Candidate {
                size: meta.len(),
                last_modified,
                locked: meta.permissions().readonly(),
                ..Candidate::default()
            };
            if needs.metadata || needs.tags {
                let sidecar = read_sidecar(&path).with_context(|| {
                    format!(
                        "store `{}`, target `{}`: the sidecar of object {} is not valid \
                         (expected {{\"metadata\": {{…}}, \"tags\": {{…}}}})",
                        self.name,
                        target.prefix,
                        key_digest(&key)
                    )
                })?;
                candidate.metadata = Some(
                    sidecar
                        .metadata
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect(),
                );
                candidate.tags = Some(sidecar.tags);
            }
            candidate.key = key;
            page.date(target, &candidate);
            let verdict = select::decide(target, filter, &candidate);
            page.add(filter, &candidate.key, verdict);
        }
        Ok(page)
    }

    fn delete(&self, keys: &[(String, Option<DateTime<Utc>>)]) -> ObjectReport {
        let mut report = ObjectReport::default();
        for (key, listed) in keys {
            match self.delete_one(key, *listed) {
                Ok(Outcome::Done) => report.done.push(key.clone()),
                Ok(Outcome::Locked) => report.locked.push(key.clone()),
                Ok(Outcome::Changed) => {}
                Err(err) => report
                    .failed
                    .push((key.clone(), self.failure(key, "delete", &err))),
            }
        }
        report
    }

    fn delete_one(&self, key: &str, listed: Option<DateTime<Utc>>) -> anyhow::Result<Outcome> {
        let path = self.resolve(key)?;
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            // Already gone (a rerun after a crash): the goal is reached.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Done),
            Err(err) => return Err(err.into()),
        };
        anyhow::ensure!(meta.is_file(), "not a regular file");
        if meta.permissions().readonly() {
            return Ok(Outcome::Locked);
        }
        let now = meta.modified().ok().map(DateTime::<Utc>::from);
        if listed.is_some_and(|t| now != Some(t)) {
            // Written since it was listed: what was judged is no longer what is there.
            return Ok(Outcome::Changed);
        }
        fs::remove_file(&path)?;
        match fs::remove_file(sidecar_path(&path)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
        self.prune_empty_parents(&path);
        Ok(Outcome::Done)
    }

    /// Removes directories left empty by a delete, up to (not including) the root, as S3
    /// has no empty "folders" either. Failure is harmless and ignored.
    fn prune_empty_parents(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    fn anonymise(&self, keys: &[String], how: ObjectStrategy) -> ObjectReport {
        let mut report = ObjectReport::default();
        for key in keys {
            match self.anonymise_one(key, how) {
                Ok(Outcome::Done) => report.done.push(key.clone()),
                Ok(Outcome::Locked) => report.locked.push(key.clone()),
                Ok(Outcome::Changed) => {}
                Err(err) => report
                    .failed
                    .push((key.clone(), self.failure(key, "anonymise", &err))),
            }
        }
        report
    }

    fn anonymise_one(&self, key: &str, how: ObjectStrategy) -> anyhow::Result<Outcome> {
        let path = self.resolve(key)?;
        let meta = fs::symlink_metadata(&path)?;
        anyhow::ensure!(meta.is_file(), "not a regular file");
        if meta.permissions().readonly() {
            return Ok(Outcome::Locked);
        }
        let mut sidecar = read_sidecar(&path)?;
        match how {
            ObjectStrategy::StripGps => {
                let original = fs::read(&path)?;
                let stripped = strip_gps(&original)?;
                if stripped != original {
                    replace_keeping_mtime(&path, &stripped, &meta)?;
                }
            }
            ObjectStrategy::StripMetadata => {
                sidecar = Sidecar::default();
            }
        }
        sidecar
            .tags
            .insert(ANONYMISED_TAG.0.to_owned(), ANONYMISED_TAG.1.to_owned());
        write_sidecar(&path, &sidecar)?;
        Ok(Outcome::Done)
    }

    fn put_write_once(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let fail = || {
            format!(
                "store `{}`: cannot write the write-once object {}",
                self.name,
                key_digest(key)
            )
        };
        self.check_root()?;
        let path = self.resolve(key).with_context(fail)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(fail)?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(fail)?;
        file.write_all(bytes).with_context(fail)?;
        file.sync_all().with_context(fail)?;
        let mut perms = file.metadata().with_context(fail)?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(&path, perms).with_context(fail)?;
        Ok(())
    }

    /// The path of a key inside the root, refusing keys that could leave it: absolute
    /// paths, `.` and `..` components, empty components, and any symlink on the way.
    fn resolve(&self, key: &str) -> anyhow::Result<PathBuf> {
        let mut path = self.root.clone();
        let components: Vec<&str> = key.split('/').collect();
        for (i, part) in components.iter().enumerate() {
            anyhow::ensure!(
                !part.is_empty() && *part != "." && *part != ".." && !part.contains('\\'),
                "the key is not a plain relative path"
            );
            path.push(part);
            let last = i + 1 == components.len();
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    anyhow::bail!("the key passes through a symbolic link")
                }
                Ok(meta) if !last && !meta.is_dir() => {
                    anyhow::bail!("a parent of the key is not a directory")
                }
                _ => {}
            }
        }
        Ok(path)
    }

    fn failure(&self, key: &str, what: &str, err: &anyhow::Error) -> String {
        format!(
            "store `{}`: could not {what} object {}: {err:#}",
            self.name,
            key_digest(key)
        )
    }
}

enum Outcome {
    Done,
    Locked,
    /// Changed since it was listed: left alone, the next run judges it again.
    Changed,
}

/// Splits a prefix into the directory to start listing in and the rest of the name.
fn split_prefix(prefix: &str) -> (&str, &str) {
    match prefix.rfind('/') {
        Some(i) => (&prefix[..i], &prefix[i + 1..]),
        None => ("", prefix),
    }
}

/// A sorted, resumable walk collecting the keys under a prefix.
struct Walk<'a> {
    root: &'a Path,
    prefix: &'a str,
    after: Option<&'a str>,
    limit: usize,
}

impl Walk<'_> {
    /// Collects keys in `rel` (a directory relative to the root, `""` for the root) in
    /// byte order of the whole key, skipping subtrees that lie entirely before `after`.
    fn dir(&self, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        let path = if rel.is_empty() {
            self.root.to_owned()
        } else {
            self.root.join(rel)
        };
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            // A prefix naming a directory that does not exist has no objects.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !rel.is_empty() => {
                return Ok(())
            }
            Err(err) => return Err(err),
        };
        // Sort by the key each entry contributes (`name/` for directories), so that keys
        // come out in the same order S3 lists them.
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if file_type.is_symlink() {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let key = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if file_type.is_dir() {
                children.push((format!("{key}/"), true));
            } else if file_type.is_file()
                && !name.ends_with(SIDECAR_SUFFIX)
                && !name.starts_with(TMP_PREFIX)
            {
                children.push((key, false));
            }
        }
        children.sort();
        for (key, is_dir) in children {
            if out.len() >= self.limit {
                return Ok(());
            }
            if is_dir {
                // Descend only where keys under the prefix can be, and not into subtrees
                // wholly listed on earlier pages.
                let reaches_prefix = key.starts_with(self.prefix) || self.prefix.starts_with(&key);
                let after_token = match self.after {
                    Some(after) => after.starts_with(&key) || key.as_str() > after,
                    None => true,
                };
                if reaches_prefix && after_token {
                    self.dir(key.trim_end_matches('/'), out)?;
                }
            } else if key.starts_with(self.prefix) && self.after.map_or(true, |a| key.as_str() > a)
            {
                out.push(key);
            }
        }
        Ok(())
    }
}

fn sidecar_path(object: &Path) -> PathBuf {
    let mut name = object.as_os_str().to_owned();
    name.push(SIDECAR_SUFFIX);
    PathBuf::from(name)
}

fn read_sidecar(object: &Path) -> anyhow::Result<Sidecar> {
    let path = sidecar_path(object);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            anyhow::bail!("the sidecar is a symbolic link")
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Sidecar::default()),
        _ => {}
    }
    let text = fs::read(&path)?;
    Ok(serde_json::from_slice(&text)?)
}

/// Writes an object's sidecar with the object's own mode and owner (its metadata is as
/// private as the object).
fn write_sidecar(object: &Path, sidecar: &Sidecar) -> anyhow::Result<()> {
    let path = sidecar_path(object);
    let bytes = serde_json::to_vec_pretty(sidecar)?;
    let meta = fs::metadata(object).ok();
    write_atomically(&path, &bytes, meta.as_ref())
}

/// Replaces a file's content and puts its mtime back, so that anonymising an object does
/// not restart its retention clock.
fn replace_keeping_mtime(path: &Path, bytes: &[u8], meta: &fs::Metadata) -> anyhow::Result<()> {
    write_atomically(path, bytes, Some(meta))?;
    if let Ok(mtime) = meta.modified() {
        fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(mtime)?;
    }
    Ok(())
}

/// Writes through a temporary file in the same directory and renames it into place, so a
/// crash leaves either the old or the new content, never half of one. With the file's old
/// metadata, the new file keeps its mode and (where the process may set it) its owner:
/// anonymising a private photo must not make it readable to anyone else.
fn write_atomically(path: &Path, bytes: &[u8], old: Option<&fs::Metadata>) -> anyhow::Result<()> {
    let dir = path.parent().context("an object path has no parent")?;
    let tmp = dir.join(format!("{TMP_PREFIX}{}", uuid::Uuid::now_v7()));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        if let Some(old) = old {
            file.set_permissions(old.permissions())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
            }
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_split_into_a_directory_and_a_name_start() {
        assert_eq!(split_prefix("photos/"), ("photos", ""));
        assert_eq!(split_prefix("logs/2024-"), ("logs", "2024-"));
        assert_eq!(split_prefix("crash"), ("", "crash"));
        assert_eq!(split_prefix(""), ("", ""));
    }
}
