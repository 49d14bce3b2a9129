//! Applying selections through the stores in batches. The executor never decides policy:
//! the passes come from [`crate::plan`], the guard's verdict too. It owns batching, the
//! audit entry of every batch, and carrying on past one failed target.
//!
//! Batches on the state store's own database commit together with their audit entry.
//! Elsewhere an `intent` entry is written first and the outcome after, so a crash leaves
//! an intent without an outcome, never a change without a trace.

pub mod objects;
mod partitions;
pub(crate) mod pause;
mod table;

use crate::audit::{AuditLog, EntryDraft, Kind, Outcome, Reason};
use crate::plan::{self, Guard, Inventory, Selection, Shard};
use crate::rules::Action;
use crate::stores::sql::batch::{AnonymiseContext, Keys};
use crate::stores::sql::inventory::{inventory, Total};
use crate::stores::sql::partitions::PartitionPlan;
use crate::stores::sql::select::Earlier;
use crate::workspace::{Prepared, Workspace};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Options shared by `plan` and `run`.
#[derive(Debug, Clone)]
pub struct Options {
    pub as_of: DateTime<Utc>,
    pub rules: Vec<String>,
    pub shard: Option<Shard>,
    pub allow_mass_delete: bool,
}

/// One pass over one target: what was found, what the guard said, what was done.
#[derive(Debug, Clone)]
pub struct PassReport {
    pub category: String,
    pub source: String,
    pub retain: String,
    pub store: String,
    pub target: String,
    pub action: Action,
    pub reason: Reason,
    pub cutoff: Option<DateTime<Utc>>,
    pub inventory: Inventory,
    pub guard: Guard,
    /// Records changed by the run (0 for a plan or dry run).
    pub done: u64,
    pub batches: u64,
    /// Why the target failed, if it did (never contains row data).
    pub error: Option<String>,
}

/// Everything a plan or run found and did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub as_of: Option<DateTime<Utc>>,
    pub run_id: Option<String>,
    pub passes: Vec<PassReport>,
    /// The run was stopped by a signal before finishing.
    pub interrupted: bool,
    /// Plans of `partitions: drop | detach` targets: by index in `passes`, each partition
    /// of the expiry pass, what becomes of it and why.
    pub partitions: std::collections::BTreeMap<usize, Vec<PartitionPlan>>,
}

impl PassReport {
    /// How the pass ended: `failed`, `refused`, `interrupted` (the run was stopped while
    /// records of this pass were still to do, `stopped`), or `ok`.
    pub fn outcome(&self, stopped: bool) -> &'static str {
        if self.error.is_some() {
            "failed"
        } else if matches!(self.guard, Guard::Refused(_)) {
            "refused"
        } else if stopped && self.done + self.inventory.locked < self.inventory.matched {
            "interrupted"
        } else {
            "ok"
        }
    }

    /// One log line for the pass: `info` when it went through, `error` when it failed or
    /// the guard refused it (both need an operator), `warn` when a signal stopped it.
    pub fn log(&self, ticket: Option<&str>, stopped: bool) {
        let outcome = self.outcome(stopped);
        macro_rules! line {
            ($level:expr, $msg:expr) => {
                tracing::event!(
                    $level,
                    category = %self.category,
                    store = %self.store,
                    target = %self.target,
                    action = self.action.as_str(),
                    reason = self.reason.as_str(),
                    ticket,
                    outcome,
                    matched = self.inventory.matched,
                    done = self.done,
                    held = self.inventory.held,
                    locked = self.inventory.locked,
                    batches = self.batches,
                    error = self.error.as_deref().or(match &self.guard {
                        Guard::Refused(why) => Some(why.as_str()),
                        Guard::Ok => None,
                    }),
                    $msg
                )
            };
        }
        match outcome {
            "failed" => line!(
                tracing::Level::ERROR,
                "A target failed; the others still run."
            ),
            "refused" => line!(tracing::Level::ERROR, "The guard refused a target."),
            "interrupted" => line!(tracing::Level::WARN, "A target was interrupted."),
            _ => line!(tracing::Level::INFO, "Finished a target."),
        }
    }
}

impl Report {
    /// The last pass was stopped by a signal with work left (see [`PassReport::outcome`]).
    pub fn pass_outcome(&self, index: usize) -> &'static str {
        let stopped = self.interrupted && index + 1 == self.passes.len();
        self.passes[index].outcome(stopped)
    }

    pub fn failed(&self) -> bool {
        self.passes.iter().any(|p| p.error.is_some())
    }
    pub fn refused(&self) -> bool {
        self.passes
            .iter()
            .any(|p| matches!(p.guard, Guard::Refused(_)))
    }
}

/// Inventories every pass of every selected target, with the guard's verdict. Touches
/// nothing: this is `plan` and `run --dry-run`.
pub async fn survey(ws: &Workspace, opts: &Options, held: &[String]) -> Result<Report> {
    let rules = ws.selected_rules(&opts.rules)?;
    let prepared = ws.prepare(&rules).await?;
    let mut report = Report {
        as_of: Some(opts.as_of),
        ..Default::default()
    };
    let work: Vec<(&Prepared<'_>, Selection)> = prepared
        .iter()
        .flat_map(|p| {
            plan::passes(p.rule, p.target, opts.as_of, held, opts.shard)
                .into_iter()
                .map(move |sel| (p, sel))
        })
        .collect();
    (report.passes, report.partitions) = survey_in_order(ws, opts, &work).await;
    Ok(report)
}

/// Surveys passes in the order a run takes them, predicting the run: a parent row whose
/// blocking children an earlier pass of the same run deletes counts as matched, not
/// locked (only passes whose guard lets them run are counted on).
async fn survey_in_order(
    ws: &Workspace,
    opts: &Options,
    work: &[(&Prepared<'_>, Selection)],
) -> (Vec<PassReport>, BTreeMap<usize, Vec<PartitionPlan>>) {
    let mut passes = Vec::new();
    let mut partitions = BTreeMap::new();
    // The passes that will run, each with the passes before it on its store.
    let mut ran: Vec<(usize, std::sync::Arc<[Earlier<'_>]>)> = Vec::new();
    for (p, sel) in work {
        let earlier: Vec<Earlier<'_>> = ran
            .iter()
            .filter_map(|(j, before)| {
                let (q, s) = &work[*j];
                let table = q.table.as_ref().ok()?;
                (q.target.store() == p.target.store()).then(|| Earlier {
                    table,
                    selection: s,
                    before: before.clone(),
                })
            })
            .collect();
        let mut pass = new_pass(p, sel);
        match survey_pass(ws, p, sel, opts, Need::Report, &earlier).await {
            Ok((inv, guard)) => {
                if guard == Guard::Ok {
                    ran.push((passes.len(), earlier.into()));
                }
                pass.inventory = inv;
                pass.guard = guard;
                match partition_plan(ws, p, sel).await {
                    Ok(list) if !list.is_empty() => {
                        partitions.insert(passes.len(), list);
                    }
                    Ok(_) => {}
                    Err(e) => pass.error = Some(format!("{e:#}")),
                }
            }
            Err(e) => pass.error = Some(format!("{e:#}")),
        }
        passes.push(pass);
    }
    (passes, partitions)
}

/// Per partition, what an expiry pass of a `partitions: drop | detach` target would do.
async fn partition_plan(
    ws: &Workspace,
    p: &Prepared<'_>,
    sel: &Selection,
) -> Result<Vec<PartitionPlan>> {
    let (crate::rules::Target::Table(t), Ok(table)) = (p.target, p.table.as_ref()) else {
        return Ok(Vec::new());
    };
    if !t.partitions.whole() || sel.reason != Reason::Expired || table.partitioning.is_none() {
        return Ok(Vec::new());
    }
    let pool = ws
        .sql
        .get(&t.store)
        .ok_or_else(|| anyhow!("store `{}` is not connected", t.store))?;
    crate::stores::sql::partitions::plan(pool, table, sel, false).await
}

fn new_pass(p: &Prepared<'_>, sel: &Selection) -> PassReport {
    PassReport {
        category: p.rule.category.clone(),
        source: p.rule.source.clone(),
        retain: p.rule.retain.to_string(),
        store: p.target.store().to_owned(),
        target: p.target.name().to_owned(),
        action: sel.action,
        reason: sel.reason,
        cutoff: sel.cutoff,
        inventory: Inventory::default(),
        guard: Guard::Ok,
        done: 0,
        batches: 0,
        error: None,
    }
}

async fn survey_pass(
    ws: &Workspace,
    p: &Prepared<'_>,
    sel: &Selection,
    opts: &Options,
    need: Need,
    earlier: &[Earlier<'_>],
) -> Result<(Inventory, Guard)> {
    let allowed = opts.allow_mass_delete || p.rule.allow_mass_delete;
    if let crate::rules::Target::Objects(o) = p.target {
        let store = ws
            .objects
            .get(&o.store)
            .ok_or_else(|| anyhow!("store `{}` is not an object store", o.store))?;
        let (inv, whole) = objects::inventory(store, o, sel).await?;
        return Ok((
            inv,
            plan::guard(sel, &whole, ws.config.defaults.max_fraction, allowed),
        ));
    }
    let table = p.table.as_ref().map_err(|e| anyhow!("{e}"))?;
    let pool = ws
        .sql
        .get(p.target.store())
        .ok_or_else(|| anyhow!("store `{}` is not connected", p.target.store()))?;
    let judge =
        |whole: &Inventory| plan::guard(sel, whole, ws.config.defaults.max_fraction, allowed);
    let count = |sel: Selection, total: Total| async move {
        let (inv, mut counted) = inventory(pool, table, &sel, earlier, total).await?;
        // The guard judges the target as a whole, so every shard reaches the same
        // verdict and sharding cannot slip a mass delete past it.
        let whole = match sel.shard {
            Some(_) => {
                let unsharded = Selection { shard: None, ..sel };
                let (whole, c) = inventory(pool, table, &unsharded, earlier, total).await?;
                counted = c;
                whole
            }
            None => inv,
        };
        anyhow::Ok((inv, whole, counted))
    };
    let total = match need {
        Need::Report => Total::Exact,
        Need::Verdict => Total::AtLeast,
    };
    let (inv, whole, counted) = count(sel.clone(), total).await?;
    let guard = judge(&whole);
    if guard == Guard::Ok || counted == Total::Exact {
        // A guard that passes on a lower bound of the total passes on the total itself.
        return Ok((inv, guard));
    }
    // Only a refusal needs the exact count (and shows it).
    let (inv, whole, _) = count(sel.clone(), Total::Exact).await?;
    Ok((inv, judge(&whole)))
}

/// What a survey of a pass is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Every figure exact: a plan shows them.
    Report,
    /// The guard's verdict (a run): the table's total may be a lower bound when the
    /// verdict does not depend on it.
    Verdict,
}

/// The passes a run stopped by a signal never started, in the order it would have taken
/// them (for its summary). Empty when they cannot be worked out (the catalogs unread).
pub async fn not_reached(
    ws: &Workspace,
    opts: &Options,
    held: &[String],
    report: &Report,
) -> Vec<PassReport> {
    let Ok(rules) = ws.selected_rules(&opts.rules) else {
        return Vec::new();
    };
    let Ok(prepared) = ws.prepare(&rules).await else {
        return Vec::new();
    };
    prepared
        .iter()
        .flat_map(|p| {
            plan::passes(p.rule, p.target, opts.as_of, held, opts.shard)
                .into_iter()
                .map(move |sel| new_pass(p, &sel))
        })
        .skip(report.passes.len())
        .collect()
}

/// Who a request's entries are about: the subject's pseudonym (never the id) and the
/// ticket. Empty for retention work.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    pub subject: Option<String>,
    pub ticket: Option<String>,
}

/// Runs every pass: inventory, guard, then batches until nothing is left (or `stop` is
/// set by a signal, in which case the current batch finishes first).
pub async fn enforce(
    ws: &Workspace,
    opts: &Options,
    held: &[String],
    audit: &AuditLog,
    stop: Arc<AtomicBool>,
) -> Result<Report> {
    let rules = ws.selected_rules(&opts.rules)?;
    let prepared = ws.prepare(&rules).await?;
    let work = prepared.iter().flat_map(|p| {
        plan::passes(p.rule, p.target, opts.as_of, held, opts.shard)
            .into_iter()
            .map(move |sel| (p, sel))
    });
    apply(ws, opts, work, audit, &stop, &Attribution::default()).await
}

/// The passes of one erasure request over every target with a subject, children first.
/// Rules whose `on_erasure` is `keep` yield none (the caller reports them as kept).
pub fn request_work<'p, 'a>(
    prepared: &'p [Prepared<'a>],
    subject: &str,
    held: &[String],
) -> Vec<(&'p Prepared<'a>, Selection)> {
    let subjects = [subject.to_owned()];
    prepared
        .iter()
        .filter_map(|p| plan::request_pass(p.rule, p.target, &subjects, held).map(|s| (p, s)))
        .collect()
}

/// Inventories one erasure request's passes, touching nothing (`erase --dry-run`).
pub async fn survey_request(
    ws: &Workspace,
    opts: &Options,
    subject: &str,
    held: &[String],
) -> Result<Report> {
    let rules = ws.selected_rules(&opts.rules)?;
    let prepared = ws.prepare(&rules).await?;
    let mut report = Report {
        as_of: Some(opts.as_of),
        ..Default::default()
    };
    let work = request_work(&prepared, subject, held);
    (report.passes, report.partitions) = survey_in_order(ws, opts, &work).await;
    Ok(report)
}

/// Applies one erasure request: the same passes, batches and audit entries as retention
/// work, with every entry carrying the subject's pseudonym and the ticket.
pub async fn enforce_request(
    ws: &Workspace,
    opts: &Options,
    subject: &str,
    ticket: &str,
    held: &[String],
    audit: &AuditLog,
    stop: Arc<AtomicBool>,
) -> Result<Report> {
    let rules = ws.selected_rules(&opts.rules)?;
    let prepared = ws.prepare(&rules).await?;
    let who = Attribution {
        subject: Some(audit.pseudonym(subject)),
        ticket: Some(ticket.to_owned()),
    };
    let work = request_work(&prepared, subject, held);
    apply(ws, opts, work, audit, &stop, &who).await
}

async fn apply<'p, 'a: 'p>(
    ws: &Workspace,
    opts: &Options,
    work: impl IntoIterator<Item = (&'p Prepared<'a>, Selection)>,
    audit: &AuditLog,
    stop: &AtomicBool,
    who: &Attribution,
) -> Result<Report> {
    let mut report = Report {
        as_of: Some(opts.as_of),
        run_id: Some(audit.run_id().to_owned()),
        ..Default::default()
    };
    let key = {
        use secrecy::ExposeSecret;
        ws.config
            .audit
            .pseudonym_key
            .expose_secret()
            .as_bytes()
            .to_vec()
    };
    let work: Vec<_> = work.into_iter().collect();
    POSITION.1.store(work.len(), Ordering::Relaxed);
    for (k, (p, sel)) in work.into_iter().enumerate() {
        POSITION.0.store(k + 1, Ordering::Relaxed);
        if stop.load(Ordering::SeqCst) {
            report.interrupted = true;
            return Ok(report);
        }
        let mut pass = new_pass(p, &sel);
        if let crate::rules::Target::Objects(o) = p.target {
            if objects::streams(p, &sel, opts.allow_mass_delete) {
                objects::stream_pass(ws, opts.as_of, p, o, &sel, who, audit, stop, &mut pass)
                    .await?;
                pass.log(who.ticket.as_deref(), stop.load(Ordering::SeqCst));
                report.passes.push(pass);
                report.interrupted = stop.load(Ordering::SeqCst);
                if report.interrupted {
                    return Ok(report);
                }
                continue;
            }
        }
        let ctx = AnonymiseContext {
            now: opts.as_of,
            hmac_key: &key,
        };
        // The table pass, built once: it finishes what a crashed run left of partitions,
        // then runs the batches.
        let table_pass = match (p.target, p.table.as_ref()) {
            (crate::rules::Target::Table(_), Ok(table)) => Some(table::TablePass {
                ws,
                p,
                table,
                sel: &sel,
                who,
                audit,
                ctx: &ctx,
                stop,
            }),
            _ => None,
        };
        // Partitions a crashed run detached and did not drop are finished first: their
        // rows are no longer in the table the survey counts.
        if let Some(tp) = &table_pass {
            if let Err(e) = partitions::recover(tp, &mut pass).await {
                tracing::error!(category = %pass.category, target = %pass.target, error = %format!("{e:#}"), "A target failed; the others still run.");
                pass.error = Some(format!("{e:#}"));
                report.passes.push(pass);
                continue;
            }
        }
        // A run counts the data as it is when the pass starts: earlier passes are done.
        match survey_pass(ws, p, &sel, opts, Need::Verdict, &[]).await {
            Err(e) => pass.error = Some(format!("{e:#}")),
            Ok((inv, guard)) => {
                pass.inventory = inv;
                pass.guard = guard.clone();
                // One `skip` entry per reason, its outcome saying which: rows of held
                // subjects, and rows foreign keys (or Object Lock) keep for now.
                if inv.held > 0 {
                    let mut d = draft(p, &sel, who, Kind::Skip, Outcome::Held);
                    d.held = Some(inv.held);
                    audit.append(d).await?;
                }
                if inv.locked > 0 {
                    let mut d = draft(p, &sel, who, Kind::Skip, Outcome::Locked);
                    d.locked = Some(inv.locked);
                    audit.append(d).await?;
                }
                if let Guard::Refused(_) = guard {
                    audit
                        .append(draft(p, &sel, who, Kind::Skip, Outcome::Refused))
                        .await?;
                } else if inv.matched > 0 {
                    let r = match p.target {
                        crate::rules::Target::Objects(o) => {
                            let bar = progress_bar(&pass);
                            let r = match ws.objects.get(&o.store) {
                                Some(store) => {
                                    objects::enforce(
                                        ws,
                                        opts.as_of,
                                        store,
                                        p,
                                        o,
                                        &sel,
                                        who,
                                        audit,
                                        stop,
                                        &mut pass,
                                        bar.as_ref(),
                                    )
                                    .await
                                }
                                None => Err(anyhow!("store `{}` is not an object store", o.store)),
                            };
                            if let Some(b) = bar {
                                b.finish_and_clear();
                            }
                            r
                        }
                        crate::rules::Target::Table(_) => match (&table_pass, p.table.as_ref()) {
                            // Whole expired partitions first, then row batches for
                            // whatever is left.
                            (Some(tp), _) => match partitions::run(tp, &mut pass).await {
                                Ok(()) if stop.load(Ordering::SeqCst) => Ok(()),
                                Ok(()) => tp.run_settled(&mut pass).await,
                                Err(e) => Err(e),
                            },
                            (None, Err(e)) => Err(anyhow!("{e}")),
                            (None, Ok(_)) => Err(anyhow!("a table target without its table pass")),
                        },
                    };
                    if let Err(e) = r {
                        let mut d = draft(p, &sel, who, Kind::Batch, Outcome::Failed);
                        d.count = Some(0);
                        audit.append(d).await?;
                        pass.error = Some(format!("{e:#}"));
                    } else {
                        held_since_start(ws, opts.as_of, p, &sel, who, audit, &mut pass).await?;
                    }
                }
            }
        }
        pass.log(who.ticket.as_deref(), stop.load(Ordering::SeqCst));
        report.passes.push(pass);
        if stop.load(Ordering::SeqCst) {
            report.interrupted = true;
            return Ok(report);
        }
    }
    Ok(report)
}

fn draft(
    p: &Prepared<'_>,
    sel: &Selection,
    who: &Attribution,
    kind: Kind,
    outcome: Outcome,
) -> EntryDraft {
    EntryDraft {
        subject: who.subject.clone(),
        ticket: who.ticket.clone(),
        kind: Some(kind),
        action: Some(sel.action),
        reason: Some(sel.reason),
        category: Some(p.rule.category.clone()),
        rule_sha256: Some(p.rule.sha256.clone()),
        store: Some(p.target.store().to_owned()),
        target: Some(p.target.name().to_owned()),
        cutoff: sel.cutoff,
        outcome: Some(outcome),
        ..Default::default()
    }
}

/// A pass whose subjects came under a hold while it ran left their remaining records
/// alone from the next batch on: they count as held (with their `skip` entry), so the
/// report does not show them as matched but not done, and a request reads as partial, not
/// done. An erasure's records are its one subject's; a table with a subject column is
/// counted again, with the holds added since the start as the only holds. Other passes
/// (objects, tables no hold can reach) are not recounted, and read no holds for it.
async fn held_since_start(
    ws: &Workspace,
    as_of: DateTime<Utc>,
    p: &Prepared<'_>,
    sel: &Selection,
    who: &Attribution,
    audit: &AuditLog,
    pass: &mut PassReport,
) -> Result<()> {
    let left = pass.inventory.matched.saturating_sub(pass.done);
    if left == 0 {
        return Ok(());
    }
    let recount = match (sel.reason, p.table.as_ref(), ws.sql.get(p.target.store())) {
        (Reason::Request, _, _) => None,
        (_, Ok(table), Some(pool)) if table.subject.is_some() => Some((table, pool)),
        _ => return Ok(()),
    };
    let added = holds_added(ws, sel, as_of).await?;
    let newly = match recount {
        None if sel.subjects.iter().any(|s| added.contains(s)) => left,
        Some((table, pool)) if !added.is_empty() => {
            let by_added = Selection {
                held: added.into_iter().collect(),
                ..sel.clone()
            };
            let (inv, _) = inventory(pool, table, &by_added, &[], Total::AtLeast).await?;
            inv.held.min(left)
        }
        _ => 0,
    };
    if newly == 0 {
        return Ok(());
    }
    pass.inventory.matched -= newly;
    pass.inventory.held += newly;
    let mut d = draft(p, sel, who, Kind::Skip, Outcome::Held);
    d.held = Some(newly);
    audit.append(d).await?;
    Ok(())
}

/// Subjects under a legal hold in force at `as_of` that `sel` does not hold: holds added
/// since the run read them at its start. Batches and pages read them again before they
/// change anything, so a hold added during a run keeps its subject's records from then on.
pub(crate) async fn holds_added(
    ws: &Workspace,
    sel: &Selection,
    as_of: DateTime<Utc>,
) -> Result<BTreeSet<String>> {
    let known: BTreeSet<&String> = sel.held.iter().collect();
    let added: BTreeSet<String> = crate::state::holds::in_force(ws.state()?, as_of)
        .await?
        .into_iter()
        .filter(|s| !known.contains(s))
        .collect();
    static SAID: AtomicBool = AtomicBool::new(false);
    if !added.is_empty() && !SAID.swap(true, Ordering::SeqCst) {
        tracing::warn!(holds = added.len(), "Legal holds were added while this run was in progress: their subjects' records are kept from the next batch on.");
    }
    Ok(added)
}

/// The digest of a batch's keys: SHA-256 over each key's columns joined by U+001F, one
/// key per line. Proves which rows went without naming them.
pub fn keys_digest(keys: &Keys) -> String {
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.join("\u{1f}").as_bytes());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Batch sizes adapt toward the configured duration, within these bounds.
const MIN_BATCH: usize = 100;
const MAX_BATCH: usize = 100_000;

/// The next batch size: scaled toward `target` by the last batch's duration, at most
/// four times larger or half as large as the last one.
pub fn next_batch_size(current: usize, took: Duration, target: Duration) -> usize {
    let took = took.as_secs_f64().max(1e-4);
    let scaled = (current as f64 * target.as_secs_f64() / took) as usize;
    scaled
        .clamp(current / 2, current.saturating_mul(4))
        .clamp(MIN_BATCH, MAX_BATCH)
}

/// Which pass of how many is running, for the progress bar ("target 3 of 21"). One
/// process shows one progress bar at a time, so one place holds it.
static POSITION: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));

/// A progress bar for one pass, when the terminal wants one: "target k of N", the
/// records done of those matched with thousands separators, the rate in records per
/// second (whole numbers) and the time left.
fn progress_bar(pass: &PassReport) -> Option<indicatif::ProgressBar> {
    if !crate::commands::progress_bars() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(pass.inventory.matched);
    let unit = match pass.target.contains('/') {
        true => "objects/s",
        false => "rows/s",
    };
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} {msg:40} [{bar:30}] {human_pos}/{human_len} {rate} eta {eta}",
    )
    .map(|s| {
        s.with_key(
            "rate",
            move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(
                    w,
                    "{} {unit}",
                    crate::report::view::count(state.per_sec().max(0.0).round() as u64)
                );
            },
        )
    })
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    let (k, n) = (
        POSITION.0.load(Ordering::Relaxed),
        POSITION.1.load(Ordering::Relaxed),
    );
    if n > 0 {
        bar.set_prefix(format!("target {k} of {n}"));
    }
    bar.set_message(format!(
        "{} {} {}/{}",
        pass.action.as_str(),
        pass.category,
        pass.store,
        pass.target
    ));
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_toward_the_target_duration_but_not_too_fast() {
        let t = Duration::from_millis(250);
        assert_eq!(next_batch_size(1000, Duration::from_millis(10), t), 4000);
        assert_eq!(next_batch_size(1000, Duration::from_millis(250), t), 1000);
        assert_eq!(next_batch_size(1000, Duration::from_secs(5), t), 500);
        assert_eq!(
            next_batch_size(90_000, Duration::from_millis(1), t),
            MAX_BATCH
        );
    }

    #[test]
    fn the_keys_digest_depends_on_every_key_and_their_order() {
        let a = keys_digest(&vec![vec!["1".into()], vec!["2".into()]]);
        let b = keys_digest(&vec![vec!["2".into()], vec!["1".into()]]);
        assert_ne!(a, b);
        assert!(a.starts_with("sha256:"));
    }
}
