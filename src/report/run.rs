//! Run reports: what one run did, read back from its audit entries, as Markdown or as a
//! self-contained HTML page (`audit show --run ID --format md|html`). Per target: the
//! action, the reason (with the ticket of a request), records planned and changed,
//! batches, held and locked counts and the outcome, flagging a target that changed
//! another number than its pass planned (`run_end` records both); erasure requests by
//! ticket; the run's duration, totals and the checkpoint that seals it. Given the rule
//! set, also the policy clause of each category and the categories the rules keep, with
//! their legal reason.
//!
//! [`RunEntry`] keeps only the fields a report may show. Subject pseudonyms, key digests
//! and hashes are dropped when a line is parsed, so a report cannot leak them.

use super::html::{esc, esc_breakable, page};
use super::view::{count, instant};
use crate::rules::{Action, RuleSet};
use crate::time::Retain;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::fmt::Write;

/// One audit entry as a run report reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunEntry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub run: String,
    /// `run_start`, `batch`, `skip`, `request`, `run_end` (kept as text, so a kind added
    /// later still renders).
    pub kind: String,
    pub action: Option<String>,
    pub reason: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub rule_sha256: Option<String>,
    pub store: Option<String>,
    pub target: Option<String>,
    pub cutoff: Option<DateTime<Utc>>,
    pub count: Option<u64>,
    pub ticket: Option<String>,
    pub outcome: String,
    #[serde(default)]
    pub held: Option<u64>,
    #[serde(default)]
    pub locked: Option<u64>,
    #[serde(default)]
    pub config_sha256: Option<String>,
    #[serde(default)]
    pub rules_sha256: Option<String>,
    #[serde(default)]
    pub totals: Option<RunTotals>,
    /// `run_end`: what each pass planned and did.
    #[serde(default)]
    pub passes: Option<Vec<PassEntry>>,
    #[serde(default)]
    pub dry_run: bool,
}

/// One pass as `run_end` records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PassEntry {
    pub category: String,
    pub store: String,
    pub target: String,
    pub action: String,
    pub reason: String,
    #[serde(default)]
    pub ticket: Option<String>,
    pub planned: u64,
    pub done: u64,
}

impl RunEntry {
    /// Reads the allow-listed fields of one stored audit line.
    pub fn parse(line: &[u8]) -> Result<RunEntry, serde_json::Error> {
        serde_json::from_slice(line)
    }
}

/// The totals a `run_end` entry records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RunTotals {
    pub deleted: u64,
    pub anonymised: u64,
    pub held: u64,
    pub locked: u64,
    pub failed_targets: u64,
}

/// The checkpoint that seals a run: the first one (smallest tree size) whose tree holds
/// the run's last entry. `checkpoints` are (tree size, signed note) pairs as the audit log
/// stores them. `None` when no checkpoint reaches that far yet.
pub fn covering_checkpoint<'a>(
    entries: &[RunEntry],
    checkpoints: impl IntoIterator<Item = (u64, &'a str)>,
) -> Option<&'a str> {
    let last = entries.iter().map(|e| e.seq).max()?;
    checkpoints
        .into_iter()
        .filter(|(size, _)| *size >= last)
        .min_by_key(|(size, _)| *size)
        .map(|(_, note)| note)
}

/// How a report's entries were chosen when they are not every entry of their runs
/// (`audit show --ticket`, `--subject`): the run facts then come from `context`, the
/// whole log's `run_start` and `run_end` entries of the runs shown, never from the
/// absence of those entries among the ones shown.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// What the entries shown have in common, for people: `ticket DSAR-17`, `one
    /// subject`. Never a subject id.
    pub label: &'a str,
    /// The `run_start` and `run_end` entries, in the whole log, of the runs shown.
    pub context: &'a [RunEntry],
    /// How many entries the runs shown wrote, in the whole log.
    pub total: u64,
}

/// What the whole log says about one run of a report.
#[derive(Debug)]
struct RunFacts<'a> {
    id: &'a str,
    /// The kind of its first entry, when it has no `run_start` (a `hold` or
    /// `request_queued` written by a command that is not a run).
    first_kind: &'a str,
    /// `run_start`'s time.
    started: Option<DateTime<Utc>>,
    /// The earliest entry of the run the report knows of.
    first: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    end_outcome: Option<&'a str>,
    config_sha256: Option<&'a str>,
    rules_sha256: Option<&'a str>,
    totals: Option<RunTotals>,
    /// What each pass planned, when the run's end recorded it.
    passes: Option<&'a [PassEntry]>,
}

impl<'a> RunFacts<'a> {
    fn new(id: &'a str) -> RunFacts<'a> {
        RunFacts {
            id,
            first_kind: "",
            started: None,
            first: None,
            ended: None,
            end_outcome: None,
            config_sha256: None,
            rules_sha256: None,
            totals: None,
            passes: None,
        }
    }

    /// A run (or `erase`): it wrote a `run_start`. Other commands write lone entries.
    fn is_run(&self) -> bool {
        self.started.is_some() || self.ended.is_some()
    }

    fn start(&self) -> Option<DateTime<Utc>> {
        self.started.or(self.first)
    }

    fn status(&self) -> String {
        match self.end_outcome {
            Some(o) => o.to_owned(),
            None if self.is_run() => "no run_end entry: interrupted, or still running".to_owned(),
            None => format!("not a run: a {} entry", self.first_kind),
        }
    }

    fn duration(&self) -> Option<chrono::Duration> {
        Some(self.ended? - self.started?)
    }
}

/// A run's entries, summarised.
#[derive(Debug, Default)]
struct RunView<'a> {
    runs: Vec<RunFacts<'a>>,
    /// Set when the entries shown are a selection of their runs' entries.
    selection: Option<Selection<'a>>,
    shown: u64,
    dry_run: bool,
    targets: Vec<TargetRow<'a>>,
    requests: Vec<RequestRow<'a>>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    /// The end of a run shown recorded what each pass planned (runs before that did not).
    has_plan: bool,
}

/// What one run did to one target for one action and reason (and ticket).
#[derive(Debug)]
struct TargetRow<'a> {
    category: &'a str,
    store: &'a str,
    target: &'a str,
    action: &'a str,
    reason: &'a str,
    ticket: Option<&'a str>,
    rule_sha256: Option<&'a str>,
    cutoff: Option<DateTime<Utc>>,
    /// What the pass's inventory matched before its batches (from `run_end`).
    planned: Option<u64>,
    changed: u64,
    batches: u64,
    /// `intent` entries: batches announced before they ran (stores other than the state
    /// store). More intents than outcomes means a batch whose result was never recorded.
    intents: u64,
    failed: u64,
    refused: bool,
    held: u64,
    locked: u64,
}

type RowKey<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>);

impl<'a> TargetRow<'a> {
    fn new(key: RowKey<'a>) -> TargetRow<'a> {
        TargetRow {
            category: key.0,
            store: key.1,
            target: key.2,
            action: key.3,
            reason: key.4,
            ticket: key.5,
            rule_sha256: None,
            cutoff: None,
            planned: None,
            changed: 0,
            batches: 0,
            intents: 0,
            failed: 0,
            refused: false,
            held: 0,
            locked: 0,
        }
    }

    fn key(&self) -> RowKey<'a> {
        (
            self.category,
            self.store,
            self.target,
            self.action,
            self.reason,
            self.ticket,
        )
    }

    fn outcome(&self) -> &'static str {
        if self.failed > 0 {
            "failed"
        } else if self.refused {
            "refused"
        } else if self.intents > self.batches {
            "unfinished"
        } else {
            "ok"
        }
    }

    /// How the records changed differ from the plan, when they do: `3 fewer than
    /// planned`. A refused target is explained by its refusal.
    fn difference(&self) -> Option<String> {
        let planned = self.planned?;
        if self.refused || planned == self.changed {
            return None;
        }
        Some(if self.changed < planned {
            format!("{} fewer than planned", count(planned - self.changed))
        } else {
            format!("{} more than planned", count(self.changed - planned))
        })
    }

    /// The reason, with the ticket of a request: `request DSAR-17`.
    fn why(&self) -> String {
        match self.ticket {
            Some(t) => format!("{} {t}", self.reason),
            None => self.reason.to_owned(),
        }
    }
}

#[derive(Debug)]
struct RequestRow<'a> {
    ticket: &'a str,
    outcome: &'a str,
    count: Option<u64>,
    held: Option<u64>,
    time: DateTime<Utc>,
}

impl<'a> RunView<'a> {
    fn new(entries: &'a [RunEntry], selection: Option<Selection<'a>>) -> RunView<'a> {
        let mut v = RunView {
            selection,
            shown: entries.len() as u64,
            ..RunView::default()
        };
        for e in entries {
            v.facts_of(e);
            v.first_seq = Some(v.first_seq.map_or(e.seq, |s| s.min(e.seq)));
            v.last_seq = Some(v.last_seq.map_or(e.seq, |s| s.max(e.seq)));
            v.dry_run |= e.dry_run;
            match e.kind.as_str() {
                "run_start" | "run_end" => {}
                "request" => v.requests.push(RequestRow {
                    ticket: e.ticket.as_deref().unwrap_or("–"),
                    outcome: &e.outcome,
                    count: e.count,
                    held: e.held,
                    time: e.time,
                }),
                // A category a rule keeps on erasure: the report's kept section shows it,
                // with its reason, from the rule set; it changed nothing.
                "skip" if e.outcome == "kept" => {}
                _ => v.add_target_entry(e),
            }
        }
        // The run facts of a selection come from the whole log's run_start and run_end.
        if let Some(sel) = selection {
            for e in sel.context {
                if v.runs.iter().any(|r| r.id == e.run) {
                    v.facts_of(e);
                }
            }
        }
        // A selection's planned figures are those of the passes it shows whole: the
        // passes of the erasure requests (by ticket) among its entries. Every other
        // pass's plan counts records the selection does not show.
        let tickets: Option<Vec<&str>> =
            selection.map(|_| entries.iter().filter_map(|e| e.ticket.as_deref()).collect());
        let passes: Vec<&'a [PassEntry]> = v.runs.iter().filter_map(|r| r.passes).collect();
        v.has_plan = !passes.is_empty();
        for p in passes.into_iter().flatten() {
            let shown = match &tickets {
                None => true,
                Some(t) => p.ticket.as_deref().is_some_and(|p| t.contains(&p)),
            };
            if shown {
                v.add_plan(p);
            }
        }
        v
    }

    /// Adds what `e` says about its run.
    fn facts_of(&mut self, e: &'a RunEntry) {
        let i = match self.runs.iter().position(|r| r.id == e.run) {
            Some(i) => i,
            None => {
                self.runs.push(RunFacts::new(&e.run));
                self.runs.len() - 1
            }
        };
        let r = &mut self.runs[i];
        if r.first.map_or(true, |t| e.time < t) {
            r.first = Some(e.time);
            r.first_kind = &e.kind;
        }
        match e.kind.as_str() {
            "run_start" => {
                r.started = Some(e.time);
                r.config_sha256 = e.config_sha256.as_deref();
                r.rules_sha256 = e.rules_sha256.as_deref();
            }
            "run_end" => {
                r.ended = Some(e.time);
                r.end_outcome = Some(&e.outcome);
                r.totals = e.totals;
                if let Some(p) = &e.passes {
                    r.passes = Some(p);
                }
            }
            _ => {}
        }
    }

    /// The one run shown, when there is one.
    fn single(&self) -> Option<&RunFacts<'a>> {
        match self.runs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The totals of the run shown, when they are the report's: one run, every entry.
    fn totals(&self) -> Option<RunTotals> {
        match self.selection {
            None => self.single().and_then(|r| r.totals),
            Some(_) => None,
        }
    }

    fn run_ids(&self) -> String {
        self.runs
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn row(&mut self, key: RowKey<'a>) -> &mut TargetRow<'a> {
        match self.targets.iter().position(|r| r.key() == key) {
            Some(i) => &mut self.targets[i],
            None => {
                self.targets.push(TargetRow::new(key));
                self.targets.last_mut().expect("just pushed")
            }
        }
    }

    fn add_target_entry(&mut self, e: &'a RunEntry) {
        let s = |o: &'a Option<String>| o.as_deref().unwrap_or("–");
        let key = (
            s(&e.category),
            s(&e.store),
            s(&e.target),
            s(&e.action),
            s(&e.reason),
            e.ticket.as_deref(),
        );
        let row = self.row(key);
        row.cutoff = row.cutoff.or(e.cutoff);
        row.rule_sha256 = row.rule_sha256.or(e.rule_sha256.as_deref());
        row.held += e.held.unwrap_or(0);
        row.locked += e.locked.unwrap_or(0);
        match (e.kind.as_str(), e.outcome.as_str()) {
            ("batch", "intent") => row.intents += 1,
            ("batch", "failed") => row.failed += 1,
            ("batch", _) => {
                row.batches += 1;
                row.changed += e.count.unwrap_or(0);
            }
            (_, "refused") => row.refused = true,
            _ => {}
        }
    }

    /// Sets a pass's planned figure on its row. A pass that planned and did nothing and
    /// left no other entry gets no row.
    fn add_plan(&mut self, p: &'a PassEntry) {
        let key = (
            p.category.as_str(),
            p.store.as_str(),
            p.target.as_str(),
            p.action.as_str(),
            p.reason.as_str(),
            p.ticket.as_deref(),
        );
        let exists = self.targets.iter().any(|r| r.key() == key);
        if !exists && p.planned == 0 && p.done == 0 {
            return;
        }
        let row = self.row(key);
        row.planned = Some(row.planned.unwrap_or(0) + p.planned);
    }

    fn differing(&self) -> usize {
        self.targets
            .iter()
            .filter(|r| r.difference().is_some())
            .count()
    }

    /// The categories the run touched, in order of appearance.
    fn categories(&self) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.targets {
            if !out.contains(&r.category) {
                out.push(r.category);
            }
        }
        out
    }
}

/// Whether the rule set is still the one the runs shown used.
#[derive(Debug, PartialEq, Eq)]
enum SameRules {
    Yes,
    /// A run recorded another digest than today's.
    Changed,
    /// A run recorded no digest (a log written before runs recorded it).
    Unknown,
}

/// What the rule set says about the run's categories: the policy clause of each, the
/// categories kept, and whether the rules are still those the run used.
struct PolicyView<'a> {
    same_rules: SameRules,
    several: bool,
    /// (category, policy clause, retention) for every category the run touched.
    clauses: Vec<(&'a str, &'a str, String)>,
    /// (category, what is kept, why) for rules that keep data on erasure or forever.
    kept: Vec<(&'a str, &'static str, String)>,
}

impl<'a> PolicyView<'a> {
    fn new(v: &RunView<'_>, rules: &'a RuleSet) -> PolicyView<'a> {
        let clauses = v
            .categories()
            .into_iter()
            .filter_map(|c| rules.rules.iter().find(|r| r.category == c))
            .map(|r| (r.category.as_str(), r.source.as_str(), r.retain.to_string()))
            .collect();
        let mut kept = Vec::new();
        for r in &rules.rules {
            let reason = r
                .keep_reason
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty());
            if r.on_erasure == Action::Keep {
                kept.push((
                    r.category.as_str(),
                    "on erasure requests",
                    reason
                        .unwrap_or("the rule keeps it (no keep_reason given)")
                        .to_owned(),
                ));
            }
            if r.retain == Retain::Forever || r.on_expiry == Action::Keep {
                kept.push((
                    r.category.as_str(),
                    "without a time limit",
                    reason.unwrap_or("the rule has no expiry action").to_owned(),
                ));
            }
        }
        // Only runs apply rules; a lone `hold` or `request_queued` entry used none.
        let runs: Vec<&RunFacts<'_>> = v.runs.iter().filter(|r| r.is_run()).collect();
        let same_rules = if runs
            .iter()
            .any(|r| r.rules_sha256.is_some_and(|d| d != rules.digest))
        {
            SameRules::Changed
        } else if runs.iter().any(|r| r.rules_sha256.is_none()) {
            SameRules::Unknown
        } else {
            SameRules::Yes
        };
        PolicyView {
            same_rules,
            several: runs.len() > 1,
            clauses,
            kept,
        }
    }

    fn caveat(&self) -> Option<&'static str> {
        match (&self.same_rules, self.several) {
            (SameRules::Yes, _) => None,
            (SameRules::Changed, false) => Some(
                "The rule set has changed since this run (its digest differs from the one the \
                 run recorded): the policy text below is today's.",
            ),
            (SameRules::Changed, true) => Some(
                "The rule set has changed since some of these runs (its digest differs from the \
                 one they recorded): the policy text below is today's.",
            ),
            (SameRules::Unknown, _) => Some(
                "The log does not record which rule set the run used, so whether it has \
                 changed since cannot be told: the policy text below is today's.",
            ),
        }
    }
}

/// The run report as Markdown. `checkpoint` is the signed note that covers the run's
/// last entry, if the log is signed; `rules`, when given, adds each category's policy
/// clause and the categories the rules keep.
pub fn md(entries: &[RunEntry], checkpoint: Option<&str>) -> String {
    md_with_rules(entries, checkpoint, None)
}

/// [`md`] with the rule set.
pub fn md_with_rules(
    entries: &[RunEntry],
    checkpoint: Option<&str>,
    rules: Option<&RuleSet>,
) -> String {
    md_selection(entries, None, checkpoint, rules)
}

/// [`md_with_rules`] for entries that may be a selection of their runs' entries (by
/// ticket or subject): `selection` brings the runs' own start and end from the whole log.
pub fn md_selection(
    entries: &[RunEntry],
    selection: Option<Selection<'_>>,
    checkpoint: Option<&str>,
    rules: Option<&RuleSet>,
) -> String {
    let v = RunView::new(entries, selection);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Retention run report\n");
    if v.dry_run {
        let _ = writeln!(w, "**Dry run:** nothing was changed.\n");
    }
    facts(&v).iter().for_each(|(k, val)| {
        let _ = writeln!(w, "- **{k}:** {val}");
    });
    if v.single().is_none() && !v.runs.is_empty() {
        let _ = writeln!(w, "\n## Runs\n");
        let _ = writeln!(
            w,
            "| Run | Started | Ended | Duration | Status | Rules digest |"
        );
        let _ = writeln!(w, "| --- | --- | --- | --- | --- | --- |");
        for r in run_rows(&v) {
            let _ = writeln!(
                w,
                "| {} |",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            );
        }
    }
    let _ = writeln!(w, "\n## What was done\n");
    if v.targets.is_empty() {
        let _ = writeln!(w, "No target was touched.\n");
    } else {
        let _ = writeln!(
            w,
            "| Category | Target | Action | Reason | Planned | Changed | Batches | Held | Locked | Outcome |"
        );
        let _ = writeln!(
            w,
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for r in &v.targets {
            let outcome = match r.difference() {
                Some(d) => format!("**{}, {d}**", r.outcome()),
                None => r.outcome().to_owned(),
            };
            let _ = writeln!(
                w,
                "| {} | `{}/{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(r.category),
                r.store.replace('`', "'"),
                r.target.replace('`', "'"),
                cell(r.action),
                cell(&r.why()),
                r.planned.map(count).unwrap_or_else(|| "–".into()),
                count(r.changed),
                count(r.batches),
                count(r.held),
                count(r.locked),
                outcome
            );
        }
        let _ = writeln!(w, "\n{}\n", plan_note(&v));
    }
    let _ = writeln!(w, "## Erasure requests\n");
    if v.requests.is_empty() {
        let _ = writeln!(w, "None in this run.\n");
    } else {
        let _ = writeln!(w, "| Ticket | Outcome | Records | Held | Recorded |");
        let _ = writeln!(w, "| --- | --- | ---: | ---: | --- |");
        for r in &v.requests {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                cell(r.ticket),
                cell(r.outcome),
                r.count.map(count).unwrap_or_else(|| "–".into()),
                r.held.map(count).unwrap_or_else(|| "–".into()),
                instant(r.time)
            );
        }
        w.push('\n');
    }
    if let Some(rules) = rules {
        let p = PolicyView::new(&v, rules);
        let _ = writeln!(w, "## Kept by the rules\n");
        if p.kept.is_empty() {
            let _ = writeln!(
                w,
                "No rule keeps data on erasure requests or without a time limit.\n"
            );
        } else {
            let _ = writeln!(w, "| Category | Kept | Because |");
            let _ = writeln!(w, "| --- | --- | --- |");
            for (c, what, why) in &p.kept {
                let _ = writeln!(w, "| {} | {what} | {} |", cell(c), cell(why));
            }
            w.push('\n');
        }
        let _ = writeln!(w, "## Policy clauses\n");
        if let Some(c) = p.caveat() {
            let _ = writeln!(w, "{c}\n");
        }
        if p.clauses.is_empty() {
            let _ = writeln!(w, "The run touched no category.\n");
        } else {
            let _ = writeln!(w, "| Category | Retention | Policy clause |");
            let _ = writeln!(w, "| --- | --- | --- |");
            for (c, clause, retain) in &p.clauses {
                let _ = writeln!(w, "| {} | {retain} | {} |", cell(c), cell(clause));
            }
            w.push('\n');
        }
    }
    let _ = writeln!(w, "## Checkpoint\n");
    match checkpoint {
        Some(note) => {
            let _ = writeln!(
                w,
                "The signed checkpoint below covers every entry {}; \
                 `retention audit verify --trusted` checks the log against it.\n\n```\n{}\n```\n",
                covered(&v).0,
                note.trim_end()
            );
        }
        None => {
            let _ = writeln!(w, "No signed checkpoint covers {} (no signing key is configured, or none was written yet).\n", covered(&v).1);
        }
    }
    let _ = writeln!(
        w,
        "---\n\n*Generated by retention {} from the audit log. Counts only: no subject ids, pseudonyms, keys or record contents.*",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// What "Planned" means, and whether any target differs from it.
fn plan_note(v: &RunView<'_>) -> String {
    if !v.has_plan {
        return "Planned figures are not in this log (the run did not record them, or its \
                `run_end` entry is missing)."
            .to_owned();
    }
    let meaning = "Planned: the records each pass's inventory matched just before its batches ran.";
    match v.differing() {
        0 => format!("{meaning} Every target changed what was planned."),
        n => format!(
            "{meaning} **{} changed another number than planned** (see Outcome): rows that \
             changed between the count and the batch, a failed or interrupted batch.",
            super::view::plural(n as i64, "target")
        ),
    }
}

/// The run report as a self-contained HTML page.
pub fn html(entries: &[RunEntry], checkpoint: Option<&str>) -> String {
    html_with_rules(entries, checkpoint, None)
}

/// [`html`] with the rule set.
pub fn html_with_rules(
    entries: &[RunEntry],
    checkpoint: Option<&str>,
    rules: Option<&RuleSet>,
) -> String {
    html_selection(entries, None, checkpoint, rules)
}

/// [`html_with_rules`] for entries that may be a selection of their runs' entries; see
/// [`md_selection`].
pub fn html_selection(
    entries: &[RunEntry],
    selection: Option<Selection<'_>>,
    checkpoint: Option<&str>,
    rules: Option<&RuleSet>,
) -> String {
    let v = RunView::new(entries, selection);
    let mut body = String::new();
    let w = &mut body;
    let run = v.run_ids();
    let what = match selection {
        Some(s) => format!(
            "What run <code>{}</code> did for {}",
            esc(&run),
            esc(s.label)
        ),
        None => format!("What run <code>{}</code> did", esc(&run)),
    };
    let _ = write!(
        w,
        "<header class=\"masthead\"><div><p class=\"eyebrow\">{}</p><h1>Retention run report</h1>\
         <p class=\"lede\">{what}, read back from the tamper-evident audit log. \
         Counts only: no subject ids, pseudonyms, keys or record contents.</p></div><dl class=\"meta\">",
        if v.dry_run { "Dry run · nothing was changed" } else { "Audit record" },
    );
    for (k, val) in facts(&v) {
        let _ = write!(w, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&val));
    }
    w.push_str("</dl></header>");
    if v.single().is_none() && !v.runs.is_empty() {
        w.push_str(
            "<section id=\"runs\"><h2>Runs</h2><table><thead><tr><th>Run</th><th>Started</th>\
             <th>Ended</th><th>Duration</th><th>Status</th><th>Rules digest</th></tr></thead><tbody>",
        );
        for r in run_rows(&v) {
            w.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let c = if i == 0 { esc_breakable(c) } else { esc(c) };
                let _ = write!(w, "<td>{c}</td>");
            }
            w.push_str("</tr>");
        }
        w.push_str("</tbody></table></section>");
    }
    if let Some(t) = v.totals() {
        w.push_str("<section class=\"cards\" aria-label=\"Totals\">");
        for (class, n, label) in [
            ("change", t.deleted, "records deleted"),
            ("change", t.anonymised, "records anonymised"),
            ("held", t.held, "records held, left alone"),
            ("locked", t.locked, "records locked or referenced"),
            (
                if t.failed_targets > 0 { "bad" } else { "good" },
                t.failed_targets,
                "targets failed",
            ),
        ] {
            let _ = write!(
                w,
                "<div class=\"card {class}\"><span class=\"value\">{}</span><span class=\"label\">{label}</span></div>",
                count(n)
            );
        }
        w.push_str("</section>");
    }
    w.push_str("<section id=\"done\"><h2>What was done</h2>");
    if v.targets.is_empty() {
        w.push_str("<p class=\"quiet\">No target was touched.</p>");
    } else {
        // Nine columns that fit a 1280 px window: the reason goes under the action and
        // the cutoff under the target, and long names may break.
        w.push_str(
            "<table class=\"done\"><thead><tr><th>Category</th><th>Target</th><th>Action</th>\
             <th class=\"n\">Planned</th><th class=\"n\">Changed</th><th class=\"n\">Batches</th>\
             <th class=\"n\">Held</th><th class=\"n\">Locked</th><th>Outcome</th></tr></thead><tbody>",
        );
        for r in &v.targets {
            let outcome = r.outcome();
            let class = match outcome {
                "ok" => "ok",
                "unfinished" => "intent",
                "refused" => "refused",
                _ => "failed",
            };
            let cutoff = r
                .cutoff
                .map(|c| format!("<span class=\"sub\">cutoff {}</span>", instant(c)))
                .unwrap_or_default();
            let difference = r
                .difference()
                .map(|d| format!("<span class=\"sub differs\">{}</span>", esc(&d)))
                .unwrap_or_default();
            let _ = write!(
                w,
                "<tr{}><td>{}</td><td><code>{}/{}</code>{cutoff}</td><td>{}<span class=\"sub\">{}</span></td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td><span class=\"badge {class}\">{outcome}</span>{difference}</td></tr>",
                if r.difference().is_some() { " class=\"differs\"" } else { "" },
                esc_breakable(r.category),
                esc(r.store),
                esc_breakable(r.target),
                esc(r.action),
                esc(&r.why()),
                r.planned.map(count).unwrap_or_else(|| "–".into()),
                count(r.changed),
                count(r.batches),
                count(r.held),
                count(r.locked),
            );
        }
        let _ = write!(
            w,
            "</tbody></table><p class=\"quiet\">{}</p>",
            esc(&plan_note(&v).replace("**", ""))
        );
    }
    w.push_str("</section><section id=\"requests\"><h2>Erasure requests</h2>");
    if v.requests.is_empty() {
        w.push_str("<p class=\"quiet\">None in this run.</p>");
    } else {
        w.push_str("<table><thead><tr><th>Ticket</th><th>Outcome</th><th class=\"n\">Records</th><th class=\"n\">Held</th><th>Recorded</th></tr></thead><tbody>");
        for r in &v.requests {
            let _ = write!(
                w,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(r.ticket),
                esc(r.outcome),
                r.count.map(count).unwrap_or_else(|| "–".into()),
                r.held.map(count).unwrap_or_else(|| "–".into()),
                instant(r.time)
            );
        }
        w.push_str("</tbody></table>");
    }
    w.push_str("</section>");
    if let Some(rules) = rules {
        let p = PolicyView::new(&v, rules);
        w.push_str("<section id=\"kept\"><h2>Kept by the rules</h2>");
        if p.kept.is_empty() {
            w.push_str("<p class=\"quiet\">No rule keeps data on erasure requests or without a time limit.</p>");
        } else {
            w.push_str("<table><thead><tr><th>Category</th><th>Kept</th><th>Because</th></tr></thead><tbody>");
            for (c, what, why) in &p.kept {
                let _ = write!(
                    w,
                    "<tr><td>{}</td><td class=\"nw\">{what}</td><td>{}</td></tr>",
                    esc(c),
                    esc(why)
                );
            }
            w.push_str("</tbody></table>");
        }
        w.push_str("</section><section id=\"clauses\"><h2>Policy clauses</h2>");
        if let Some(c) = p.caveat() {
            let _ = write!(w, "<p class=\"note refused\">{}</p>", esc(c));
        }
        if p.clauses.is_empty() {
            w.push_str("<p class=\"quiet\">The run touched no category.</p>");
        } else {
            w.push_str("<table><thead><tr><th>Category</th><th>Retention</th><th>Policy clause</th></tr></thead><tbody>");
            for (c, clause, retain) in &p.clauses {
                let _ = write!(
                    w,
                    "<tr><td>{}</td><td class=\"nw\">{}</td><td>{}</td></tr>",
                    esc(c),
                    esc(retain),
                    esc(clause)
                );
            }
            w.push_str("</tbody></table>");
        }
        w.push_str("</section>");
    }
    w.push_str("<section id=\"checkpoint\"><h2>Checkpoint</h2>");
    match checkpoint {
        Some(note) => {
            let _ = write!(
                w,
                "<p>The signed checkpoint below covers every entry {}; \
                 <code>retention audit verify --trusted</code> checks the log against it.</p>\
                 <pre class=\"checkpoint\">{}</pre>",
                covered(&v).0,
                esc(note.trim_end())
            );
        }
        None => {
            let _ = write!(w, "<p class=\"quiet\">No signed checkpoint covers {} (no signing key is configured, or none was written yet).</p>", covered(&v).1);
        }
    }
    w.push_str("</section>");
    page(&format!("Retention run report — {run}"), &body)
}

/// The run's facts, as label and value, in reading order. With several runs, only what
/// they share: each run's own facts are in the runs table ([`run_rows`]).
fn facts(v: &RunView<'_>) -> Vec<(&'static str, String)> {
    let mut f = vec![(
        "Run",
        if v.runs.is_empty() {
            "–".to_owned()
        } else {
            v.run_ids()
        },
    )];
    if let Some(r) = v.single() {
        if let Some(t) = r.start() {
            f.push(("Started", precise(t)));
        }
        f.push(("Ended", r.ended.map(precise).unwrap_or_else(|| "–".into())));
        if let Some(d) = r.duration() {
            f.push(("Duration", duration(d)));
        }
        f.push(("Status", r.status()));
    }
    if let Some(s) = v.selection {
        let shown = match v.runs.len() {
            0 => "none is in the log".to_owned(),
            n => format!(
                "{} of the {} entries {} wrote",
                count(v.shown),
                count(s.total),
                if n == 1 { "this run" } else { "these runs" }
            ),
        };
        f.push(("Shown", format!("only the entries of {}: {shown}", s.label)));
    }
    if let (Some(a), Some(b)) = (v.first_seq, v.last_seq) {
        f.push(("Audit entries", format!("seq {a} to {b}")));
    }
    if let Some(r) = v.single() {
        if let Some(d) = r.config_sha256 {
            f.push(("Config digest", short(d)));
        }
        if let Some(d) = r.rules_sha256 {
            f.push(("Rules digest", short(d)));
        }
    }
    f
}

/// One row per run shown: id, started, ended, duration, status, rules digest.
fn run_rows(v: &RunView<'_>) -> Vec<[String; 6]> {
    let dash = || "–".to_owned();
    v.runs
        .iter()
        .map(|r| {
            [
                r.id.to_owned(),
                r.start().map(precise).unwrap_or_else(dash),
                r.ended.map(precise).unwrap_or_else(dash),
                r.duration().map(duration).unwrap_or_else(dash),
                r.status(),
                r.rules_sha256.map(short).unwrap_or_else(dash),
            ]
        })
        .collect()
}

/// What a checkpoint covers: "every entry {0}", "no checkpoint covers {1}".
fn covered(v: &RunView<'_>) -> (&'static str, &'static str) {
    match (v.selection.is_some(), v.runs.len() > 1) {
        (true, _) => ("shown", "the entries shown"),
        (false, false) => ("of this run", "this run"),
        (false, true) => ("of these runs", "these runs"),
    }
}

/// A run's length for people: `4.5 s`, `3 min 12 s`, `2 h 5 min`.
fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    if s < 60 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// A run's start and end to the second: runs often take less than a minute.
fn precise(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A digest shortened for reading (`sha256:0123456789ab…`); the full one is in the log.
fn short(d: &str) -> String {
    match d.char_indices().nth(19) {
        Some((i, _)) => format!("{}…", &d[..i]),
        None => d.to_owned(),
    }
}

fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::duration;
    use chrono::Duration;

    #[test]
    fn durations_read_like_a_stopwatch() {
        assert_eq!(duration(Duration::milliseconds(4538)), "4.5 s");
        assert_eq!(duration(Duration::seconds(192)), "3 min 12 s");
        assert_eq!(duration(Duration::seconds(7500)), "2 h 5 min");
    }
}
