//! Run reports: what one run did, read back from its audit entries, as Markdown or as a
//! self-contained HTML page (`audit show --run ID --format md|html`). Per target: the
//! action, the reason, records changed, batches, held and locked counts and the outcome;
//! erasure requests by ticket; the run's totals and the checkpoint that seals it.
//!
//! [`RunEntry`] keeps only the fields a report may show. Subject pseudonyms, key digests
//! and hashes are dropped when a line is parsed, so a report cannot leak them.

use super::html::{esc, page};
use super::view::{count, instant};
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
    #[serde(default)]
    pub dry_run: bool,
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

/// A run's entries, summarised.
#[derive(Debug, Default)]
struct RunView<'a> {
    runs: Vec<&'a str>,
    started: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    end_outcome: Option<&'a str>,
    dry_run: bool,
    config_sha256: Option<&'a str>,
    rules_sha256: Option<&'a str>,
    totals: Option<RunTotals>,
    targets: Vec<TargetRow<'a>>,
    requests: Vec<RequestRow<'a>>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
}

/// What one run did to one target for one action and reason.
#[derive(Debug)]
struct TargetRow<'a> {
    category: &'a str,
    store: &'a str,
    target: &'a str,
    action: &'a str,
    reason: &'a str,
    cutoff: Option<DateTime<Utc>>,
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

impl TargetRow<'_> {
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
    fn new(entries: &'a [RunEntry]) -> RunView<'a> {
        let mut v = RunView::default();
        for e in entries {
            if !v.runs.contains(&e.run.as_str()) {
                v.runs.push(&e.run);
            }
            v.first_seq = Some(v.first_seq.map_or(e.seq, |s| s.min(e.seq)));
            v.last_seq = Some(v.last_seq.map_or(e.seq, |s| s.max(e.seq)));
            v.dry_run |= e.dry_run;
            match e.kind.as_str() {
                "run_start" => {
                    v.started = Some(e.time);
                    v.config_sha256 = e.config_sha256.as_deref();
                    v.rules_sha256 = e.rules_sha256.as_deref();
                }
                "run_end" => {
                    v.ended = Some(e.time);
                    v.end_outcome = Some(&e.outcome);
                    v.totals = e.totals;
                }
                "request" => v.requests.push(RequestRow {
                    ticket: e.ticket.as_deref().unwrap_or("–"),
                    outcome: &e.outcome,
                    count: e.count,
                    held: e.held,
                    time: e.time,
                }),
                _ => v.add_target_entry(e),
            }
        }
        if v.started.is_none() {
            v.started = entries.iter().map(|e| e.time).min();
        }
        v
    }

    fn add_target_entry(&mut self, e: &'a RunEntry) {
        let s = |o: &'a Option<String>| o.as_deref().unwrap_or("–");
        let key = (
            s(&e.category),
            s(&e.store),
            s(&e.target),
            s(&e.action),
            s(&e.reason),
        );
        let row = match self
            .targets
            .iter()
            .position(|r| (r.category, r.store, r.target, r.action, r.reason) == key)
        {
            Some(i) => &mut self.targets[i],
            None => {
                self.targets.push(TargetRow {
                    category: key.0,
                    store: key.1,
                    target: key.2,
                    action: key.3,
                    reason: key.4,
                    cutoff: None,
                    changed: 0,
                    batches: 0,
                    intents: 0,
                    failed: 0,
                    refused: false,
                    held: 0,
                    locked: 0,
                });
                self.targets.last_mut().expect("just pushed")
            }
        };
        row.cutoff = row.cutoff.or(e.cutoff);
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

    fn status(&self) -> &'a str {
        match self.end_outcome {
            Some(o) => o,
            None => "no run_end entry: interrupted, or still running",
        }
    }
}

/// The run report as Markdown. `checkpoint` is the signed note that covers the run's
/// last entry, if the log is signed.
pub fn md(entries: &[RunEntry], checkpoint: Option<&str>) -> String {
    let v = RunView::new(entries);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Retention run report\n");
    if v.dry_run {
        let _ = writeln!(w, "**Dry run:** nothing was changed.\n");
    }
    facts(&v).iter().for_each(|(k, val)| {
        let _ = writeln!(w, "- **{k}:** {val}");
    });
    let _ = writeln!(w, "\n## What was done\n");
    if v.targets.is_empty() {
        let _ = writeln!(w, "No target was touched.\n");
    } else {
        let _ = writeln!(
            w,
            "| Category | Target | Action | Reason | Changed | Batches | Held | Locked | Outcome |"
        );
        let _ = writeln!(
            w,
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"
        );
        for r in &v.targets {
            let _ = writeln!(
                w,
                "| {} | `{}/{}` | {} | {} | {} | {} | {} | {} | {} |",
                cell(r.category),
                r.store.replace('`', "'"),
                r.target.replace('`', "'"),
                cell(r.action),
                cell(r.reason),
                count(r.changed),
                count(r.batches),
                count(r.held),
                count(r.locked),
                r.outcome()
            );
        }
        w.push('\n');
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
    let _ = writeln!(w, "## Checkpoint\n");
    match checkpoint {
        Some(note) => {
            let _ = writeln!(
                w,
                "The signed checkpoint below covers every entry of this run; \
                 `retention audit verify --trusted` checks the log against it.\n\n```\n{}\n```\n",
                note.trim_end()
            );
        }
        None => {
            let _ = writeln!(w, "No signed checkpoint covers this run (no signing key is configured, or none was written yet).\n");
        }
    }
    let _ = writeln!(
        w,
        "---\n\n*Generated by retention {} from the audit log. Counts only: no subject ids, pseudonyms, keys or record contents.*",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The run report as a self-contained HTML page.
pub fn html(entries: &[RunEntry], checkpoint: Option<&str>) -> String {
    let v = RunView::new(entries);
    let mut body = String::new();
    let w = &mut body;
    let run = v.runs.join(", ");
    let _ = write!(
        w,
        "<header class=\"masthead\"><div><p class=\"eyebrow\">{}</p><h1>Retention run report</h1>\
         <p class=\"lede\">What run <code>{}</code> did, read back from the tamper-evident audit log. \
         Counts only: no subject ids, pseudonyms, keys or record contents.</p></div><dl class=\"meta\">",
        if v.dry_run { "Dry run · nothing was changed" } else { "Audit record" },
        esc(&run)
    );
    for (k, val) in facts(&v) {
        let _ = write!(w, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&val));
    }
    w.push_str("</dl></header>");
    if let Some(t) = v.totals {
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
        w.push_str(
            "<table><thead><tr><th>Category</th><th>Target</th><th>Action</th><th>Reason</th>\
             <th>Cutoff</th><th class=\"n\">Changed</th><th class=\"n\">Batches</th><th class=\"n\">Held</th>\
             <th class=\"n\">Locked</th><th>Outcome</th></tr></thead><tbody>",
        );
        for r in &v.targets {
            let outcome = r.outcome();
            let class = match outcome {
                "ok" => "ok",
                "unfinished" => "intent",
                "refused" => "refused",
                _ => "failed",
            };
            let _ = write!(
                w,
                "<tr><td>{}</td><td><code>{}/{}</code></td><td>{}</td><td>{}</td><td class=\"nw\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td><span class=\"badge {class}\">{outcome}</span></td></tr>",
                esc(r.category),
                esc(r.store),
                esc(r.target),
                esc(r.action),
                esc(r.reason),
                r.cutoff.map(instant).unwrap_or_else(|| "–".into()),
                count(r.changed),
                count(r.batches),
                count(r.held),
                count(r.locked),
            );
        }
        w.push_str("</tbody></table>");
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
    w.push_str("</section><section id=\"checkpoint\"><h2>Checkpoint</h2>");
    match checkpoint {
        Some(note) => {
            let _ = write!(
                w,
                "<p>The signed checkpoint below covers every entry of this run; \
                 <code>retention audit verify --trusted</code> checks the log against it.</p>\
                 <pre class=\"checkpoint\">{}</pre>",
                esc(note.trim_end())
            );
        }
        None => w.push_str("<p class=\"quiet\">No signed checkpoint covers this run (no signing key is configured, or none was written yet).</p>"),
    }
    w.push_str("</section>");
    page(&format!("Retention run report — {run}"), &body)
}

/// The run's facts, as label and value, in reading order.
fn facts(v: &RunView<'_>) -> Vec<(&'static str, String)> {
    let mut f = vec![("Run", v.runs.join(", "))];
    if let Some(t) = v.started {
        f.push(("Started", precise(t)));
    }
    f.push(("Ended", v.ended.map(precise).unwrap_or_else(|| "–".into())));
    f.push(("Status", v.status().to_owned()));
    if let (Some(a), Some(b)) = (v.first_seq, v.last_seq) {
        f.push(("Audit entries", format!("seq {a} to {b}")));
    }
    if let Some(d) = v.config_sha256 {
        f.push(("Config digest", short(d)));
    }
    if let Some(d) = v.rules_sha256 {
        f.push(("Rules digest", short(d)));
    }
    f
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
