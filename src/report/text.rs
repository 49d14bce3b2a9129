//! Plain-text tables for a terminal: the plan, and the summary at the end of a run.

use crate::execute::Report;
use crate::plan::Guard;
use crate::time::rfc3339;
use std::fmt::Write;

/// Renders rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    line(widths.iter().map(|w| "-".repeat(*w)).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

/// The plan: one row per pass, then every refusal and failure spelled out.
pub fn plan(report: &Report) -> String {
    let mut out = String::new();
    if let Some(t) = report.as_of {
        let _ = writeln!(out, "Plan as of {}\n", rfc3339(t));
    }
    let rows: Vec<Vec<String>> = report
        .passes
        .iter()
        .map(|p| {
            vec![
                p.category.clone(),
                format!("{}/{}", p.store, p.target),
                p.action.as_str().into(),
                p.reason.as_str().into(),
                p.inventory.matched.to_string(),
                p.inventory.held.to_string(),
                p.inventory.blocked.to_string(),
                p.inventory
                    .oldest
                    .map(rfc3339)
                    .unwrap_or_else(|| "-".into()),
                if p.error.is_some() {
                    "error".into()
                } else {
                    p.guard.as_str().into()
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "category", "target", "action", "reason", "matched", "held", "blocked", "oldest",
            "guard",
        ],
        &rows,
    ));
    partitions(report, &mut out);
    notes(report, &mut out);
    out
}

/// Per partition of each `partitions: drop | detach` target: drop, rows or kept, and why.
pub fn partitions(report: &Report, out: &mut String) {
    for (i, list) in &report.partitions {
        let Some(p) = report.passes.get(*i) else {
            continue;
        };
        let _ = writeln!(
            out,
            "\nPartitions of {}/{} ({} {}):",
            p.store,
            p.target,
            p.category,
            p.reason.as_str()
        );
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|x| {
                vec![
                    x.leaf.name.clone(),
                    x.rows.to_string(),
                    x.matched.to_string(),
                    x.held.to_string(),
                    x.referenced.to_string(),
                    x.verdict.as_str().into(),
                    x.verdict.why().into(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "partition",
                "rows",
                "expired",
                "held",
                "referenced",
                "action",
                "why",
            ],
            &rows,
        ));
    }
}

/// The summary at the end of a run.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = report
        .passes
        .iter()
        .map(|p| {
            let outcome = match (&p.error, &p.guard) {
                (Some(_), _) => "failed",
                (None, Guard::Refused(_)) => "refused",
                _ => "ok",
            };
            vec![
                p.category.clone(),
                format!("{}/{}", p.store, p.target),
                p.action.as_str().into(),
                p.reason.as_str().into(),
                p.done.to_string(),
                p.inventory.held.to_string(),
                p.inventory.blocked.to_string(),
                outcome.into(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "category", "target", "action", "reason", "done", "held", "blocked", "outcome",
        ],
        &rows,
    ));
    notes(report, &mut out);
    if report.interrupted {
        out.push_str("\nThe run was interrupted after finishing its current batch; run it again to continue.\n");
    }
    out
}

fn notes(report: &Report, out: &mut String) {
    for p in &report.passes {
        if let Guard::Refused(why) = &p.guard {
            let _ = writeln!(
                out,
                "\nrefused: {} {}/{}: {why}",
                p.category, p.store, p.target
            );
        }
        if let Some(e) = &p.error {
            let _ = writeln!(
                out,
                "\nfailed: {} {}/{}: {e}",
                p.category, p.store, p.target
            );
        }
    }
}
