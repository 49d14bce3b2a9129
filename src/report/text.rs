//! Plain-text tables for a terminal: the plan, and the summary at the end of a run.

use crate::execute::{PassReport, Report};
use crate::plan::Guard;
use crate::report::view::count;
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
                count(p.inventory.matched),
                count(p.inventory.held),
                count(p.inventory.locked),
                p.inventory
                    .oldest
                    .map(rfc3339)
                    .unwrap_or_else(|| "-".into()),
                super::guard_verdict(p).unwrap_or("error").into(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "category", "target", "action", "reason", "matched", "held", "locked", "oldest",
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
            .map(|x| super::view::partition_cells(x).to_vec())
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

/// The summary at the end of a run (see [`summary_of_run`]), without a duration.
pub fn summary(report: &Report) -> String {
    summary_of_run(report, &[], None)
}

/// The summary at the end of a run: the passes that changed, held, locked, failed, were
/// refused or interrupted first, then the passes a signal kept the run from (`not
/// reached`), one line for the passes that had nothing to do, a totals row and the
/// duration; then every refusal and failure spelled out.
pub fn summary_of_run(
    report: &Report,
    not_reached: &[PassReport],
    took: impl Into<Option<std::time::Duration>>,
) -> String {
    let mut out = String::new();
    let row = |p: &PassReport, outcome: &str| {
        vec![
            p.category.clone(),
            format!("{}/{}", p.store, p.target),
            p.action.as_str().into(),
            p.reason.as_str().into(),
            count(p.done),
            count(p.inventory.held),
            count(p.inventory.locked),
            outcome.into(),
        ]
    };
    let mut rows = Vec::new();
    let mut idle = Vec::new();
    let (mut done, mut held, mut locked) = (0, 0, 0);
    for (i, p) in report.passes.iter().enumerate() {
        let outcome = report.pass_outcome(i);
        done += p.done;
        held += p.inventory.held;
        locked += p.inventory.locked;
        if outcome == "ok" && p.done + p.inventory.held + p.inventory.locked == 0 {
            idle.push(format!("{} {}/{}", p.category, p.store, p.target));
        } else {
            rows.push(row(p, outcome));
        }
    }
    rows.extend(not_reached.iter().map(|p| row(p, "not reached")));
    let passes = report.passes.len() + not_reached.len();
    rows.push(vec![
        "total".into(),
        plural(passes as u64, "pass", "passes"),
        String::new(),
        String::new(),
        count(done),
        count(held),
        count(locked),
        String::new(),
    ]);
    out.push_str(&table(
        &[
            "category", "target", "action", "reason", "done", "held", "locked", "outcome",
        ],
        &rows,
    ));
    if !idle.is_empty() {
        let _ = writeln!(
            out,
            "\nNothing to do in {}: {}.",
            plural(idle.len() as u64, "pass", "passes"),
            idle.join(", ")
        );
    }
    if let Some(took) = took.into() {
        let _ = writeln!(out, "\nTook {}.", duration(took));
    }
    notes(report, &mut out);
    if report.interrupted {
        out.push_str(
            "\nThe run was interrupted after finishing its current batch; run it again to continue.\n",
        );
    }
    out
}

/// `1 hold`, `2 holds`, `1,000 rows`: a count with its noun in the right number.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A duration for people: `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 01 min`.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_and_plurals_read_as_words() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(12_440)), "12.4 s");
        assert_eq!(duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(duration(Duration::from_secs(7260)), "2 h 01 min");
        assert_eq!(plural(1, "hold", "holds"), "1 hold");
        assert_eq!(plural(2, "hold", "holds"), "2 holds");
        assert_eq!(plural(1000, "row", "rows"), "1,000 rows");
    }
}
