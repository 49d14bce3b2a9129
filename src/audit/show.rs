//! `audit show`: entries filtered by run, ticket or subject, as a table or as their exact
//! JSON lines. A subject id is matched by computing its pseudonym, so the log never has to
//! hold the id itself.

use super::sql::StoredEntry;
use serde_json::Value;
use std::fmt::Write as _;

/// Which entries to show; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub run: Option<String>,
    pub ticket: Option<String>,
    /// The subject's pseudonym (`hmac:<kid>:<hex>`), not its id.
    pub subject_pseudonym: Option<String>,
}

impl Filter {
    fn matches(&self, v: &Value) -> bool {
        let field = |k: &str| v.get(k).and_then(Value::as_str);
        let ok =
            |want: &Option<String>, k: &str| want.as_deref().map_or(true, |w| field(k) == Some(w));
        ok(&self.run, "run") && ok(&self.ticket, "ticket") && ok(&self.subject_pseudonym, "subject")
    }
}

/// The entries that match, in log order. Lines that are not entries are skipped (they are
/// `audit verify`'s business).
pub fn select<'a>(entries: &'a [StoredEntry], filter: &Filter) -> Vec<&'a StoredEntry> {
    entries
        .iter()
        .filter(|e| {
            serde_json::from_slice::<Value>(&e.line)
                .map(|v| filter.matches(&v))
                .unwrap_or(false)
        })
        .collect()
}

/// The whole log's `run_start` and `run_end` entries of the runs `shown` belongs to, and
/// how many entries those runs wrote: what a report of a selection (by ticket or subject)
/// needs to tell its runs' start, end and outcome, which the selection leaves out.
pub fn run_context<'a>(
    entries: &'a [StoredEntry],
    shown: &[&StoredEntry],
) -> (Vec<&'a StoredEntry>, u64) {
    let run_of = |v: &Value| v.get("run").and_then(Value::as_str).map(str::to_owned);
    let runs: std::collections::HashSet<String> = shown
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.line).ok())
        .filter_map(|v| run_of(&v))
        .collect();
    let mut context = Vec::new();
    let mut total = 0;
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(&e.line) else {
            continue;
        };
        if !run_of(&v).is_some_and(|r| runs.contains(&r)) {
            continue;
        }
        total += 1;
        if matches!(
            v.get("kind").and_then(Value::as_str),
            Some("run_start" | "run_end")
        ) {
            context.push(e);
        }
    }
    (context, total)
}

/// The exact stored lines, one per line.
pub fn render_json(entries: &[&StoredEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.line);
        out.push(b'\n');
    }
    out
}

/// A table: seq, time, kind, action, reason, category, target, count, outcome, ticket.
pub fn render_text(entries: &[&StoredEntry]) -> String {
    const COLUMNS: [&str; 10] = [
        "seq", "time", "kind", "action", "reason", "category", "target", "count", "outcome",
        "ticket",
    ];
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.to_string()).collect()];
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(&e.line) else {
            continue;
        };
        rows.push(
            COLUMNS
                .iter()
                .map(|c| match v.get(*c) {
                    None | Some(Value::Null) => "-".to_owned(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        crate::report::text::plural(rows.len() as u64 - 1, "entry", "entries")
    );
    out
}

/// The run ids in the log, in the order of their first entry.
pub fn run_ids(entries: &[StoredEntry]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(&e.line) else {
            continue;
        };
        if let Some(id) = v.get("run").and_then(Value::as_str) {
            if seen.insert(id.to_owned()) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

/// Why `--run` names no run of the log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunIdError {
    #[error("--run {0}: no run in the audit log has this id or starts with it; `retention audit runs` lists them")]
    Unknown(String),
    #[error("--run {given}: {n} runs start with it ({list}); give more of the id")]
    Ambiguous {
        given: String,
        n: usize,
        list: String,
    },
}

/// The run `given` names: its whole id, or the start of exactly one id.
pub fn resolve_run(entries: &[StoredEntry], given: &str) -> Result<String, RunIdError> {
    let ids = run_ids(entries);
    if ids.iter().any(|i| i == given) {
        return Ok(given.to_owned());
    }
    let found: Vec<&String> = ids
        .iter()
        .filter(|i| !given.is_empty() && i.starts_with(given))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(RunIdError::Unknown(given.to_owned())),
        many => Err(RunIdError::Ambiguous {
            given: given.to_owned(),
            n: many.len(),
            list: many
                .iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `audit runs`: one row per run id in the log, oldest first: when it started and ended,
/// what it was (a run or erase, or the command that wrote a `hold` or `request_queued`
/// entry), its outcome and the totals of its `run_end`.
pub fn render_runs(entries: &[StoredEntry]) -> String {
    #[derive(Default)]
    struct Run {
        started: String,
        ended: String,
        what: String,
        outcome: String,
        totals: Option<Value>,
        entries: u64,
    }
    let mut order: Vec<String> = Vec::new();
    let mut runs: std::collections::HashMap<String, Run> = std::collections::HashMap::new();
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(&e.line) else {
            continue;
        };
        let Some(id) = v.get("run").and_then(Value::as_str) else {
            continue;
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let r = runs.entry(id.to_owned()).or_insert_with(|| {
            order.push(id.to_owned());
            Run {
                started: s("time"),
                ..Default::default()
            }
        });
        r.entries += 1;
        r.ended = s("time");
        match s("kind").as_str() {
            "run_start" => r.what = "run".into(),
            "run_end" => {
                r.outcome = s("outcome");
                r.totals = v.get("totals").cloned();
            }
            k if r.what.is_empty() => r.what = k.to_owned(),
            _ => {}
        }
    }
    let header = [
        "run",
        "started",
        "ended",
        "what",
        "outcome",
        "entries",
        "deleted",
        "anonymised",
        "held",
        "locked",
    ];
    let rows: Vec<Vec<String>> = order
        .iter()
        .filter_map(|id| runs.get(id).map(|r| (id, r)))
        .map(|(id, r)| {
            let total = |k: &str| {
                r.totals
                    .as_ref()
                    .and_then(|t| t.get(k))
                    .and_then(Value::as_u64)
                    .map(crate::report::view::count)
                    .unwrap_or_else(|| "-".into())
            };
            let dash = |s: &str| {
                if s.is_empty() {
                    "-".to_owned()
                } else {
                    s.to_owned()
                }
            };
            vec![
                id.clone(),
                dash(&r.started),
                dash(&r.ended),
                dash(&r.what),
                match (r.what.as_str(), r.outcome.as_str()) {
                    ("run", "") => "no end (running, or killed)".to_owned(),
                    (_, o) => dash(o),
                },
                crate::report::view::count(r.entries),
                total("deleted"),
                total("anonymised"),
                total("held"),
                total("locked"),
            ]
        })
        .collect();
    let mut out = crate::report::text::table(&header, &rows);
    let _ = writeln!(
        out,
        "{}",
        crate::report::text::plural(rows.len() as u64, "run", "runs")
    );
    out
}

/// `audit show --format md|html`: a run report for compliance officers of the entries
/// `found` (chosen from `log` by `filter`), sealed by the first checkpoint that covers the
/// last of them. A selection by ticket or subject leaves out its runs' `run_start` and
/// `run_end`; the report takes them from the whole log, never from their absence.
pub fn render_report(
    log: &super::sql::StoredLog,
    found: &[&StoredEntry],
    filter: &Filter,
    html: bool,
    rules: Option<&crate::rules::RuleSet>,
) -> anyhow::Result<String> {
    use crate::report::run::{self, RunEntry, Selection};
    let parse = |lines: &[&StoredEntry]| {
        lines
            .iter()
            .map(|e| RunEntry::parse(&e.line))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("an audit entry is not valid JSON: {e}"))
    };
    let entries = parse(found)?;
    let cp = run::covering_checkpoint(
        &entries,
        log.checkpoints.iter().map(|c| (c.size, c.note.as_str())),
    );
    // What a selection has in common, for people; never the subject id.
    let label = match (&filter.ticket, &filter.subject_pseudonym) {
        (Some(t), Some(_)) => Some(format!("ticket {t} and one subject")),
        (Some(t), None) => Some(format!("ticket {t}")),
        (None, Some(_)) => Some("one subject".to_owned()),
        (None, None) => None,
    };
    let (context, total) = run_context(&log.entries, found);
    let context = parse(&context)?;
    let selection = label.as_deref().map(|label| Selection {
        label,
        context: &context,
        total,
    });
    Ok(if html {
        run::html_selection(&entries, selection, cp, rules)
    } else {
        run::md_selection(&entries, selection, cp, rules)
    })
}
