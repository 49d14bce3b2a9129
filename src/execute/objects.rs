//! Object targets (S3 prefixes, directories): the same passes as tables, page by page.
//! Each page's deletes or anonymisations get an `intent` entry before and an outcome entry
//! after, since an object store cannot share a transaction with the audit log.
//!
//! Pages flow: the listing runs ahead in a task of its own (reading metadata and tags as it
//! goes, see [`ObjectStore::scan`]), while up to [`PAGES_IN_FLIGHT`] pages are being
//! deleted or anonymised, each a DeleteObjects request of up to 1,000 keys with its own pair
//! of entries. Memory stays bounded by the pages in flight, whatever the prefix holds.
//!
//! A pass the guard cannot refuse — the rule or `--allow-mass-delete` allows mass deletes,
//! or it serves erasure requests — lists its prefix once ([`stream_pass`]): what it finds is
//! counted as it is processed. Any other pass is surveyed first ([`inventory`]) so that the
//! guard sees the whole prefix before anything is deleted, then processed ([`enforce`]).

use super::{draft, keys_digest, Attribution, PassReport};
use crate::audit::{AuditLog, Kind, Outcome, Reason};
use crate::plan::{Inventory, Selection};
use crate::rules::{Action, ObjectSubject, ObjectTarget, Target};
use crate::stores::objects::OtherShards;
use crate::stores::objects::{ObjectFilter, ObjectPage, ObjectRef, ObjectReport, ObjectStore};
use crate::workspace::{Prepared, Workspace};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Pages being deleted or anonymised at once, each with its own pair of audit entries.
pub const PAGES_IN_FLIGHT: usize = 4;
/// A streamed pass over a target whose subject comes from a key pattern acts on nothing
/// until a listed key fits the pattern (a pattern that fits nothing fails the target with
/// nothing changed). It holds back at most this many matched pages meanwhile; past that it
/// surveys the whole prefix first instead.
const PAGES_BEFORE_A_FIT: usize = 8;

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
    let mut pages = store.scan(target, &f);
    while let Some(page) = pages.next().await {
        let page = page?;
        fitting += page.fitting;
        count(&mut inv, &page);
        others.matched += page.other_shards.matched;
        others.held += page.other_shards.held;
        others.locked += page.other_shards.locked;
    }
    check_key_pattern(store.name(), target, inv.total, fitting)?;
    // `oldest` stays the shard's: the guard does not read it.
    let whole = Inventory {
        matched: inv.matched + others.matched,
        held: inv.held + others.held,
        locked: inv.locked + others.locked,
        ..inv
    };
    Ok((inv, whole))
}

/// Adds what a scanned page found to an inventory.
fn count(inv: &mut Inventory, page: &ObjectPage) {
    inv.total += page.scanned;
    inv.with_timestamp += page.dated;
    inv.in_1970 += page.in_1970;
    inv.unreadable += page.unreadable;
    inv.matched += page.matched.len() as u64;
    inv.held += page.held;
    inv.locked += page.locked;
    for o in &page.matched {
        if let Some(t) = o.timestamp {
            inv.oldest = Some(inv.oldest.map_or(t, |x| x.min(t)));
        }
    }
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

/// Whether a pass over an object target is listed once and counted as it is processed:
/// when the guard cannot refuse it, so there is no verdict to wait for. The guard refuses
/// an object target only for its share of matched objects (object inventories carry no
/// timestamp counts for the unit checks), which neither erasure requests nor a pass allowed
/// to mass-delete are judged by; a test below holds this against [`crate::plan::guard`].
pub fn streams(p: &Prepared<'_>, sel: &Selection, allow_mass_delete: bool) -> bool {
    matches!(p.target, Target::Objects(_))
        && (sel.reason == Reason::Request || allow_mass_delete || p.rule.allow_mass_delete)
}

/// The whole of a pass that [`streams`]: list, judge and act page by page, counting the
/// inventory on the way; then the entry for held and locked objects. Failures are recorded
/// in `pass` (with a `failed` entry once something was done); only an audit log that cannot
/// be written is an error.
#[allow(clippy::too_many_arguments)]
pub async fn stream_pass(
    ws: &Workspace,
    as_of: DateTime<Utc>,
    p: &Prepared<'_>,
    target: &ObjectTarget,
    sel: &Selection,
    who: &Attribution,
    audit: &AuditLog,
    stop: &AtomicBool,
    pass: &mut PassReport,
) -> Result<()> {
    let Some(store) = ws.objects.get(&target.store) else {
        pass.error = Some(format!("store `{}` is not an object store", target.store));
        return Ok(());
    };
    let bar = super::progress_bar(pass);
    let pages = Pages {
        ws,
        as_of,
        store,
        p,
        target,
        sel,
        who,
        audit,
        stop,
        bar: bar.as_ref(),
    };
    let mut found = Inventory::default();
    let mut ended = pages.act(Mode::Stream(&mut found), pass).await;
    if let Ok(Ended::NoFitYet) = ended {
        // Too many matched pages before any key fitted the pattern: survey the prefix
        // first, as a pass that could be refused would, then act on it.
        match inventory(store, target, sel).await {
            Ok((inv, _)) => {
                found = inv;
                ended = pages.act(Mode::Surveyed, pass).await;
            }
            Err(e) => ended = Err(Failure::BeforeAnything(e)),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    pass.inventory.total = found.total;
    pass.inventory.matched = found.matched;
    pass.inventory.held = found.held;
    pass.inventory.oldest = found.oldest;
    // `locked` already holds the objects found locked when deleting; add those the scan
    // found locked.
    pass.inventory.locked += found.locked;
    let failure = match ended {
        Ok(_) => None,
        Err(Failure::Audit(e)) => return Err(e),
        Err(failure) => Some(failure),
    };
    // One `skip` entry per reason, its outcome saying which, as a table's pass writes.
    for (n, outcome) in [(found.held, Outcome::Held), (found.locked, Outcome::Locked)] {
        if n > 0 {
            let mut d = draft(p, sel, who, Kind::Skip, outcome);
            match outcome {
                Outcome::Held => d.held = Some(n),
                _ => d.locked = Some(n),
            }
            audit.append(d).await?;
        }
    }
    match failure {
        None => {}
        Some(Failure::BeforeAnything(e)) => pass.error = Some(format!("{e:#}")),
        Some(Failure::Acting(e)) => {
            let mut d = draft(p, sel, who, Kind::Batch, Outcome::Failed);
            d.count = Some(0);
            audit.append(d).await?;
            pass.error = Some(format!("{e:#}"));
        }
        Some(Failure::Audit(_)) => unreachable!("returned above"),
    }
    Ok(())
}

/// Acts on every matched object of a surveyed pass, a page at a time. Per-object failures
/// do not stop the target; they are counted and make the target fail at the end.
#[allow(clippy::too_many_arguments)]
pub async fn enforce(
    ws: &Workspace,
    as_of: DateTime<Utc>,
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
    let pages = Pages {
        ws,
        as_of,
        store,
        p,
        target,
        sel,
        who,
        audit,
        stop,
        bar,
    };
    match pages.act(Mode::Surveyed, pass).await {
        Ok(_) => Ok(()),
        Err(Failure::Audit(e) | Failure::Acting(e) | Failure::BeforeAnything(e)) => Err(e),
    }
}

/// One pass's pages on their way through: listed, acted on, recorded.
struct Pages<'r, 'p> {
    ws: &'r Workspace,
    /// The run's `as_of`, at which holds are in force.
    as_of: DateTime<Utc>,
    store: &'r ObjectStore,
    p: &'r Prepared<'p>,
    target: &'r ObjectTarget,
    sel: &'r Selection,
    who: &'r Attribution,
    audit: &'r AuditLog,
    stop: &'r AtomicBool,
    bar: Option<&'r indicatif::ProgressBar>,
}

/// Whether the pass was surveyed already, or counts its inventory as it goes.
enum Mode<'i> {
    Surveyed,
    Stream(&'i mut Inventory),
}

/// How acting on the pages ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Every page was acted on (or the run was stopped after the pages in flight).
    Done,
    /// Streaming only: [`PAGES_BEFORE_A_FIT`] matched pages came before any key fitted the
    /// target's key pattern. Nothing was acted on.
    NoFitYet,
}

/// Why acting on the pages failed.
enum Failure {
    /// Nothing was done: listing or judging the first pages failed, or the key pattern fits
    /// none of the objects.
    BeforeAnything(anyhow::Error),
    /// The target failed after some of its pages were acted on (their entries are written).
    Acting(anyhow::Error),
    /// The audit log could not be written: the run cannot go on.
    Audit(anyhow::Error),
}

/// What one page's action came to, from its own task.
type Acted = Result<Result<ObjectReport>, tokio::task::JoinError>;

impl Pages<'_, '_> {
    async fn act(&self, mut mode: Mode<'_>, pass: &mut PassReport) -> Result<Ended, Failure> {
        let f = filter(self.sel);
        let (mut listed, _scanner) = spawn_scan(self.store, self.target, f);
        let needs_fit = matches!(mode, Mode::Stream(_))
            && matches!(self.target.subject, Some(ObjectSubject::KeyPattern(_)));
        let (mut fitting, mut scanned) = (0u64, 0u64);
        let mut ready: VecDeque<Vec<ObjectRef>> = VecDeque::new();
        let mut running: FuturesUnordered<JoinHandle<Result<ObjectReport>>> =
            FuturesUnordered::new();
        let (mut listing_over, mut started) = (false, 0u64);
        let mut failure: Option<anyhow::Error> = None;
        let (mut failed, mut first_error) = (0usize, None::<String>);
        loop {
            let stopping = self.stop.load(Ordering::SeqCst) || failure.is_some();
            let open = !needs_fit || fitting > 0;
            while open && !stopping && running.len() < PAGES_IN_FLIGHT {
                let Some(objects) = ready.pop_front() else {
                    break;
                };
                running.push(self.start(objects).await.map_err(Failure::Audit)?);
                started += 1;
            }
            if !open && ready.len() >= PAGES_BEFORE_A_FIT {
                return Ok(Ended::NoFitYet);
            }
            let room = if open { 1 } else { PAGES_BEFORE_A_FIT };
            let receiving = !listing_over && !stopping && ready.len() < room;
            if !receiving && running.is_empty() {
                break;
            }
            tokio::select! {
                Some(acted) = running.next(), if !running.is_empty() => {
                    match self.finish(acted, pass).await.map_err(Failure::Audit)? {
                        Ok(report) => {
                            failed += report.failed.len();
                            if first_error.is_none() {
                                first_error = report.failed.first().map(|(_, why)| why.clone());
                            }
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                }
                page = listed.recv(), if receiving => match page {
                    None => listing_over = true,
                    Some(Err(e)) => failure = Some(e),
                    Some(Ok(page)) => {
                        tracing::debug!(target = %self.target.prefix, scanned = page.scanned, matched = page.matched.len(), "Listed and judged a page.");
                        fitting += page.fitting;
                        scanned += page.scanned;
                        if let Mode::Stream(found) = &mut mode {
                            count(found, &page);
                            if let Some(b) = self.bar {
                                b.set_length(found.matched);
                            }
                        }
                        if !page.matched.is_empty() {
                            ready.push_back(page.matched);
                        }
                    }
                },
            }
        }
        if let Some(e) = failure {
            return Err(if started == 0 {
                Failure::BeforeAnything(e)
            } else {
                Failure::Acting(e)
            });
        }
        if matches!(mode, Mode::Stream(_)) && listing_over {
            check_key_pattern(self.store.name(), self.target, scanned, fitting)
                .map_err(Failure::BeforeAnything)?;
        }
        if failed > 0 {
            // The messages name no key (keys may embed subject ids): a count says enough.
            return Err(Failure::Acting(anyhow!(
                "{failed} objects could not be processed (the others were); the first: {}",
                first_error.unwrap_or_default()
            )));
        }
        Ok(Ended::Done)
    }

    /// Writes a page's `intent` entry, then starts its deletes or anonymisations in a task
    /// of their own.
    async fn start(&self, mut objects: Vec<ObjectRef>) -> Result<JoinHandle<Result<ObjectReport>>> {
        super::pause::pause_at("page-start").await;
        // A legal hold added since the run began keeps its subject's objects from this
        // page on.
        if self.target.subject.is_some() {
            let added = super::holds_added(self.ws, self.sel, self.as_of).await?;
            if !added.is_empty() {
                objects.retain(|o| !o.subject.as_ref().is_some_and(|s| added.contains(s)));
            }
        }
        let mut intent = draft(self.p, self.sel, self.who, Kind::Batch, Outcome::Intent);
        intent.count = Some(objects.len() as u64);
        self.audit.append(intent).await?;
        let store = self.store.clone();
        let action = self.sel.action;
        let how = self.target.anonymise;
        Ok(tokio::spawn(tracing::Instrument::in_current_span(
            async move {
                match action {
                    Action::Delete => store.delete(&objects).await,
                    Action::Anonymise => match how {
                        Some(how) => store.anonymise(&objects, how).await,
                        None => Err(anyhow!(
                            "the rule anonymises but the target names no `anonymise` strategy"
                        )),
                    },
                    Action::Keep => Ok(ObjectReport::default()),
                }
            },
        )))
    }

    /// Records what a page's action did: its outcome entry, and the pass's counts. The
    /// inner result is the page's report, or why its action failed as a whole; the outer
    /// one is the audit log's.
    async fn finish(&self, acted: Acted, pass: &mut PassReport) -> Result<Result<ObjectReport>> {
        let report = match acted {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => return Ok(Err(e)),
            Err(e) => return Ok(Err(anyhow!("a page's action stopped: {e}"))),
        };
        tracing::debug!(target = %self.target.prefix, done = report.done.len(), locked = report.locked.len(), failed = report.failed.len(), "Acted on a page.");
        let mut keys: Vec<Vec<String>> = report.done.iter().map(|k| vec![k.clone()]).collect();
        keys.sort();
        let outcome = if report.failed.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Partial
        };
        let mut done = draft(self.p, self.sel, self.who, Kind::Batch, outcome);
        done.count = Some(report.done.len() as u64);
        done.keys_digest = Some(keys_digest(&keys));
        done.locked = Some(report.locked.len() as u64);
        self.audit.append(done).await?;
        pass.done += report.done.len() as u64;
        pass.inventory.locked += report.locked.len() as u64;
        pass.batches += 1;
        if let Some(b) = self.bar {
            b.set_position(pass.done);
        }
        Ok(Ok(report))
    }
}

/// Stops a task when dropped: the listing of a pass that ended early.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Lists and judges the prefix in a task of its own, a page ahead of the pages being acted
/// on; the scan stops at its first error, which is passed on.
fn spawn_scan(
    store: &ObjectStore,
    target: &ObjectTarget,
    f: ObjectFilter,
) -> (mpsc::Receiver<Result<ObjectPage>>, AbortOnDrop) {
    let (tx, rx) = mpsc::channel(1);
    let (store, target) = (store.clone(), target.clone());
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        let mut pages = store.scan(&target, &f);
        while let Some(page) = pages.next().await {
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                break;
            }
        }
    }));
    (rx, AbortOnDrop(task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{guard, Guard};

    fn selection(reason: Reason) -> Selection {
        Selection {
            reason,
            action: Action::Delete,
            cutoff: None,
            exclude_flagged: false,
            subjects: vec![],
            held: vec![],
            shard: None,
        }
    }

    /// [`streams`] skips the survey only where the guard's verdict cannot be a refusal:
    /// for any inventory an object scan can produce (no timestamp counts), an allowed pass
    /// and an erasure request are never refused.
    #[test]
    fn a_streamed_pass_is_one_the_guard_never_refuses() {
        for total in [0u64, 1, 999, 1_001, 5_000, 1_000_000] {
            for matched in [0u64, 1, 1_001, total / 2, total] {
                let found = Inventory {
                    total,
                    matched: matched.min(total),
                    held: matched / 3,
                    locked: matched / 5,
                    ..Inventory::default()
                };
                for reason in [Reason::Expired, Reason::Flagged] {
                    assert_eq!(guard(&selection(reason), &found, 0.0, true), Guard::Ok);
                }
                assert_eq!(
                    guard(&selection(Reason::Request), &found, 0.0, false),
                    Guard::Ok
                );
            }
        }
    }
}
