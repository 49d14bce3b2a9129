//! Bucket and directory prefixes that hold objects no rule covers. A store is listed
//! once (at most [`LIST_LIMIT`] objects); every key under no target prefix (and not under
//! the audit export's prefix) is counted under the first folder on its path that holds no
//! target. Keys often embed subject ids, so a report shows only folder names, and only
//! those that are plain words: a folder named with digits or an `@` (`1042/`,
//! `ada@example.com/`) is counted under a placeholder instead of being shown.

use super::kinds::suggest_for_prefix;
use super::PrefixFinding;
use crate::rules::{ObjectTarget, Rule, Target};
use crate::stores::objects::{ObjectFilter, ObjectStore};
use anyhow::Result;
use std::collections::BTreeMap;

/// The most objects listed per store.
pub const LIST_LIMIT: u64 = 100_000;

/// What a store's listing found.
#[derive(Debug, Default)]
pub struct ObjectSurvey {
    pub findings: Vec<PrefixFinding>,
    pub listed: u64,
    /// The listing stopped at [`LIST_LIMIT`]; later keys were not looked at.
    pub truncated: bool,
    /// Objects under Object Lock: the listing counts them without their keys, so they
    /// cannot be placed under a prefix.
    pub locked: u64,
}

/// The prefixes of `rules`' targets in `store`, and `extra` ones (the audit export).
pub fn covered_prefixes(rules: &[Rule], store: &str, extra: Option<&str>) -> Vec<String> {
    rules
        .iter()
        .flat_map(|r| &r.targets)
        .filter_map(|t| match t {
            Target::Objects(o) if o.store == store => Some(o.prefix.clone()),
            _ => None,
        })
        .chain(extra.map(str::to_owned))
        .collect()
}

/// Lists the store and groups its uncovered keys.
pub async fn survey(store: &ObjectStore, covered: &[String]) -> Result<ObjectSurvey> {
    let everything = ObjectTarget {
        store: store.name().to_owned(),
        prefix: String::new(),
        subject: None,
        timestamp: None,
        anonymise: None,
    };
    let filter = ObjectFilter::default();
    let mut out = ObjectSurvey::default();
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    let mut token = None;
    loop {
        let page = store.scan_page(&everything, &filter, token).await?;
        out.listed += page.scanned;
        out.locked += page.locked;
        for object in &page.matched {
            if let Some(folder) = uncovered_folder(&object.key, covered) {
                *groups.entry(folder).or_default() += 1;
            }
        }
        match page.next {
            Some(next) if out.listed < LIST_LIMIT => token = Some(next),
            Some(_) => {
                out.truncated = true;
                break;
            }
            None => break,
        }
    }
    out.findings = groups
        .into_iter()
        .map(|(prefix, objects)| PrefixFinding {
            store: store.name().to_owned(),
            suggested_category: suggest_for_prefix(&prefix),
            prefix,
            objects,
        })
        .collect();
    Ok(out)
}

/// Stands for folders whose names may hold an id.
pub const WITHHELD: &str = "(folders named with digits or @, names withheld)/";
/// Stands for objects outside any folder.
pub const TOP_LEVEL: &str = "(objects outside any folder)";

/// The folder a key is counted under when no covered prefix holds it: the first folder
/// on its path that is neither covered nor holds a covered prefix deeper down. `None`
/// when a covered prefix holds the key.
pub fn uncovered_folder(key: &str, covered: &[String]) -> Option<String> {
    if covered.iter().any(|p| key.starts_with(p.as_str())) {
        return None;
    }
    let mut folder = String::new();
    for segment in key.split_inclusive('/') {
        if !segment.ends_with('/') {
            // The object itself, directly in `folder`.
            break;
        }
        if !shown(segment) {
            return Some(if folder.is_empty() {
                WITHHELD.to_owned()
            } else {
                format!("{folder}{WITHHELD}")
            });
        }
        folder.push_str(segment);
        if !covered.iter().any(|p| p.starts_with(folder.as_str())) {
            return Some(folder);
        }
    }
    Some(if folder.is_empty() {
        TOP_LEVEL.to_owned()
    } else {
        format!("{folder}{TOP_LEVEL}")
    })
}

/// Whether a folder name may appear in a report: letters, `_`, `-`, `.` and spaces only.
fn shown(segment: &str) -> bool {
    let name = segment.trim_end_matches('/');
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '_' | '-' | '.' | ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_counted_under_their_first_uncovered_folder() {
        let covered = vec!["photos/2024/".to_owned(), "crash-dumps/".to_owned()];
        let some = |s: &str| Some(s.to_owned());
        let cases: Vec<(&str, Option<String>)> = vec![
            ("crash-dumps/a/b.bin", None),
            ("photos/2024/x.jpg", None),
            ("photos/archive/x.jpg", some("photos/archive/")),
            ("avatars/x.png", some("avatars/")),
            ("avatars/deep/x.png", some("avatars/")),
            ("readme.txt", some(TOP_LEVEL)),
            ("photos/x.jpg", Some(format!("photos/{TOP_LEVEL}"))),
            ("1042/x.jpg", some(WITHHELD)),
            ("ada@example.com/x.jpg", some(WITHHELD)),
            ("photos/2023/x.jpg", Some(format!("photos/{WITHHELD}"))),
        ];
        for (key, want) in cases {
            assert_eq!(uncovered_folder(key, &covered), want, "{key}");
        }
    }
}
