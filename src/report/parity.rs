//! Planned against done, for the terminal at the end of a run: every pass whose batches
//! changed another number of records than its inventory matched just before them (rows
//! that changed in between, a failed or interrupted batch). A refused pass is explained
//! by its refusal and left out.

use super::text::table;
use crate::execute::{PassReport, Report};
use crate::plan::Guard;

/// The section, or one line saying every pass did what it planned. `requests` are the
/// run's erasure requests with their tickets.
pub fn text(report: &Report, requests: &[(&str, &Report)]) -> String {
    let differs =
        |p: &PassReport| !matches!(p.guard, Guard::Refused(_)) && p.inventory.matched != p.done;
    let rows: Vec<Vec<String>> = requests
        .iter()
        .flat_map(|(ticket, r)| r.passes.iter().map(move |p| (Some(*ticket), p)))
        .chain(report.passes.iter().map(|p| (None, p)))
        .filter(|(_, p)| differs(p))
        .map(|(ticket, p)| {
            vec![
                p.category.clone(),
                format!("{}/{}", p.store, p.target),
                p.action.as_str().to_owned(),
                match ticket {
                    Some(t) => format!("{} {t}", p.reason.as_str()),
                    None => p.reason.as_str().to_owned(),
                },
                super::view::count(p.inventory.matched),
                super::view::count(p.done),
            ]
        })
        .collect();
    if rows.is_empty() {
        // A failed target planned nothing it could do: the claim is about the others.
        let failed = requests
            .iter()
            .flat_map(|(_, r)| r.passes.iter())
            .chain(report.passes.iter())
            .any(|p| p.error.is_some());
        return if failed {
            "\nEvery target that did not fail changed the records its pass planned.\n"
        } else {
            "\nEvery target changed the records its pass planned.\n"
        }
        .to_owned();
    }
    format!(
        "\nDiffers from plan (planned: what the pass's inventory matched just before its batches):\n{}",
        table(
            &["category", "target", "action", "reason", "planned", "done"],
            &rows
        )
    )
}
