//! Prometheus metrics of a run, in the text exposition format, written atomically to a
//! file for node_exporter's textfile collector.

use crate::execute::Report;
use crate::rules::Action;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Renders the run's metrics. `last_success` is the Unix time of the last run that
/// finished without a failed target (this one, or the previous value kept by the caller).
pub fn render(report: &Report, duration_seconds: f64, last_success: Option<i64>) -> String {
    #[derive(Default)]
    struct Per {
        deleted: u64,
        anonymised: u64,
        held: u64,
        locked: u64,
        errors: u64,
    }
    let mut per: BTreeMap<&str, Per> = BTreeMap::new();
    for p in &report.passes {
        let e = per.entry(p.category.as_str()).or_default();
        match p.action {
            Action::Delete => e.deleted += p.done,
            Action::Anonymise => e.anonymised += p.done,
            Action::Keep => {}
        }
        e.held += p.inventory.held;
        e.locked += p.inventory.locked;
        e.errors += u64::from(p.error.is_some());
    }
    let mut out = String::new();
    let mut family = |name: &str, help: &str, value: &dyn Fn(&Per) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (category, p) in &per {
            let _ = writeln!(out, "{name}{{category=\"{category}\"}} {}", value(p));
        }
    };
    family(
        "retention_rows_deleted",
        "Records deleted by the last run.",
        &|p| p.deleted,
    );
    family(
        "retention_rows_anonymised",
        "Records anonymised by the last run.",
        &|p| p.anonymised,
    );
    family(
        "retention_rows_held",
        "Matching records left alone because of a legal hold.",
        &|p| p.held,
    );
    family(
        "retention_rows_locked",
        "Matching records left alone: still referenced, or locked objects.",
        &|p| p.locked,
    );
    family(
        "retention_target_errors",
        "Targets that failed in the last run.",
        &|p| p.errors,
    );
    let _ = writeln!(
        out,
        "# HELP retention_run_duration_seconds Wall time of the last run.\n# TYPE retention_run_duration_seconds gauge\nretention_run_duration_seconds {duration_seconds:.3}"
    );
    if let Some(t) = last_success {
        let _ = writeln!(
            out,
            "# HELP retention_last_success_timestamp_seconds When a run last finished without a failed target.\n# TYPE retention_last_success_timestamp_seconds gauge\nretention_last_success_timestamp_seconds {t}"
        );
    }
    out
}

/// The last-success time recorded in an existing metrics file, if any.
pub fn previous_success(path: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("retention_last_success_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes the file atomically (a temporary file renamed over it), so the collector never
/// reads half a file.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming onto {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Reason;
    use crate::execute::PassReport;
    use crate::plan::{Guard, Inventory};

    #[test]
    fn metrics_are_summed_per_category_in_the_exposition_format() {
        let pass = |category: &str, action, done| PassReport {
            category: category.into(),
            source: String::new(),
            retain: "30d".into(),
            store: "app".into(),
            target: "t".into(),
            action,
            reason: Reason::Expired,
            cutoff: None,
            inventory: Inventory {
                held: 2,
                ..Default::default()
            },
            guard: Guard::Ok,
            done,
            batches: 1,
            error: None,
        };
        let report = Report {
            passes: vec![
                pass("location", Action::Delete, 5),
                pass("location", Action::Anonymise, 7),
                pass("orders", Action::Delete, 1),
            ],
            ..Default::default()
        };
        let text = render(&report, 1.5, Some(1_700_000_000));
        assert!(
            text.contains("retention_rows_deleted{category=\"location\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("retention_rows_anonymised{category=\"location\"} 7\n"));
        assert!(text.contains("retention_rows_held{category=\"location\"} 4\n"));
        assert!(text.contains("retention_run_duration_seconds 1.500\n"));
        assert!(text.contains("retention_last_success_timestamp_seconds 1700000000\n"));
    }
}
