//! Object targets (S3 prefixes, directories): the same passes as tables, page by page.
//! Each page's deletes or anonymisations get an `intent` entry before and an outcome entry
//! after, since an object store cannot share a transaction with the audit log.

use super::{draft, keys_digest, Attribution, PassReport};
use crate::audit::{AuditLog, Kind, Outcome, Reason};
use crate::plan::{Inventory, Selection};
use crate::rules::{Action, ObjectSubject, ObjectTarget};
use crate::stores::objects::{ObjectFilter, ObjectStore, OtherShards};
use crate::workspace::Prepared;
use anyhow::{anyhow, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// The object filter a selection stands for.
pub fn filter(sel: &Selection) -> ObjectFilter {
    ObjectFilter {
        cutoff: match sel.reason {
            Reason::Expired => sel.cutoff,
            _ => None,
        },
        subjects: match sel.reason {
            Reason::Request => Some(sel.subjects.iter().cloned().collect()),
            _ => None,
        },
        held: sel.held.iter().cloned().collect(),
        shard: sel.shard.map(|s| (s.index, s.count)),
        count_other_shards: false,
        skip_anonymised: sel.action == Action::Anonymise,
    }
}

/// Scans the whole prefix once and counts what the selection matches, and what the
/// selection without its shard would match: the guard judges a prefix as a whole, so
/// every shard reaches the same verdict. Without a shard the two are the same.
pub async fn inventory(
    store: &ObjectStore,
    target: &ObjectTarget,
    sel: &Selection,
) -> Result<(Inventory, Inventory)> {
    let f = ObjectFilter {
        count_other_shards: sel.shard.is_some(),
        ..filter(sel)
    };
    let mut inv = Inventory::default();
    let mut others = OtherShards::default();
    let mut fitting = 0u64;
    let mut token = None;
    loop {
        let page = store.scan_page(target, &f, token).await?;
        inv.total += page.scanned;
        fitting += page.fitting;
        inv.matched += page.matched.len() as u64;
        inv.held += page.held;
        inv.blocked += page.locked;
        for o in &page.matched {
            if let Some(t) = o.timestamp {
                inv.oldest = Some(inv.oldest.map_or(t, |x| x.min(t)));
            }
        }
        others.matched += page.other_shards.matched;
        others.held += page.other_shards.held;
        others.locked += page.other_shards.locked;
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    check_key_pattern(store.name(), target, inv.total, fitting)?;
    // `oldest` stays the shard's: the guard does not read it.
    let whole = Inventory {
        matched: inv.matched + others.matched,
        held: inv.held + others.held,
        blocked: inv.blocked + others.locked,
        ..inv
    };
    Ok((inv, whole))
}

/// A key pattern that fits none of the objects under a non-empty prefix is almost certainly
/// a mistake in the rule (a typo, a missing or extra `/`), and left alone it would make every
/// erasure request and hold silently miss this target. The target fails instead, naming the
/// pattern and the count so the rule can be fixed. An empty prefix is not an error.
fn check_key_pattern(store: &str, target: &ObjectTarget, listed: u64, fitting: u64) -> Result<()> {
    if let Some(ObjectSubject::KeyPattern(pattern)) = &target.subject {
        if listed > 0 && fitting == 0 {
            let objects = if listed == 1 { "object" } else { "objects" };
            return Err(anyhow!(
                "store `{store}`, target `{prefix}`: the key pattern `{pattern}` matched none \
                 of the {listed} {objects} under prefix `{prefix}`, so no object can be tied to \
                 a subject; check `subject.key` in the rule",
                prefix = target.prefix
            ));
        }
    }
    Ok(())
}

/// Acts on every matched object, a page at a time. Per-object failures do not stop the
/// target; they are counted and make the target fail at the end.
#[allow(clippy::too_many_arguments)]
pub async fn enforce(
    store: &ObjectStore,
    p: &Prepared<'_>,
    target: &ObjectTarget,
    sel: &Selection,
    who: &Attribution,
    audit: &AuditLog,
    stop: &AtomicBool,
    pass: &mut PassReport,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<()> {
    let f = filter(sel);
    let mut token = None;
    let mut failed = 0usize;
    let mut first_error: Option<String> = None;
    loop {
        let page = store.scan_page(target, &f, token).await?;
        if !page.matched.is_empty() {
            let mut intent = draft(p, sel, who, Kind::Batch, Outcome::Intent);
            intent.count = Some(page.matched.len() as u64);
            audit.append(intent).await?;
            let report = match sel.action {
                Action::Delete => store.delete(&page.matched).await?,
                Action::Anonymise => {
                    let how = target.anonymise.ok_or_else(|| {
                        anyhow!("the rule anonymises but the target names no `anonymise` strategy")
                    })?;
                    store.anonymise(&page.matched, how).await?
                }
                Action::Keep => Default::default(),
            };
            let mut keys: Vec<Vec<String>> = report.done.iter().map(|k| vec![k.clone()]).collect();
            keys.sort();
            let mut done = draft(
                p,
                sel,
                who,
                Kind::Batch,
                if report.failed.is_empty() {
                    Outcome::Ok
                } else {
                    Outcome::Partial
                },
            );
            done.count = Some(report.done.len() as u64);
            done.keys_digest = Some(keys_digest(&keys));
            done.locked = Some(report.locked.len() as u64);
            audit.append(done).await?;
            pass.done += report.done.len() as u64;
            pass.inventory.blocked += report.locked.len() as u64;
            pass.batches += 1;
            failed += report.failed.len();
            if first_error.is_none() {
                first_error = report.failed.first().map(|(_, why)| why.clone());
            }
            if let Some(b) = bar {
                b.set_position(pass.done);
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    if failed > 0 {
        // The messages name no key (keys may embed subject ids): a count says enough.
        return Err(anyhow!(
            "{failed} objects could not be processed (the others were); the first: {}",
            first_error.unwrap_or_default()
        ));
    }
    Ok(())
}
