//! `plan --format json`: one object with the field names of SPEC §5, which scripts rely on.

use crate::execute::Report;
use crate::time::rfc3339;
use serde_json::{json, Value};

/// The plan as SPEC §5's JSON object. Fields beyond the contract (`cutoff`, `blocked`,
/// `total`, `unreadable`, `guard_reason`, `error`) are additions scripts may ignore.
pub fn plan(report: &Report) -> Value {
    plan_with_requests(report, &[])
}

/// One pending erasure request as the plan shows it: its ticket and what erasing would
/// touch (never the subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    pub ticket: String,
    /// Targets with at least one matching record.
    pub targets: u64,
    pub matched: u64,
    pub held: u64,
}

impl RequestPlan {
    /// Sums a request's survey.
    pub fn from_survey(ticket: &str, survey: &Report) -> RequestPlan {
        RequestPlan {
            ticket: ticket.to_owned(),
            targets: survey
                .passes
                .iter()
                .filter(|p| p.inventory.matched > 0)
                .count() as u64,
            matched: survey.passes.iter().map(|p| p.inventory.matched).sum(),
            held: survey.passes.iter().map(|p| p.inventory.held).sum(),
        }
    }
}

/// The plan with its pending erasure requests (SPEC §5 `requests`).
pub fn plan_with_requests(report: &Report, requests: &[RequestPlan]) -> Value {
    let targets: Vec<Value> = report
        .passes
        .iter()
        .map(|p| {
            json!({
                "category": p.category,
                "store": p.store,
                "target": p.target,
                "action": p.action.as_str(),
                "reason": p.reason.as_str(),
                "matched": p.inventory.matched,
                "held": p.inventory.held,
                "oldest": p.inventory.oldest.map(rfc3339),
                "guard": p.guard.as_str(),
                "cutoff": p.cutoff.map(rfc3339),
                "blocked": p.inventory.blocked,
                "total": p.inventory.total,
                "unreadable": p.inventory.unreadable,
                "guard_reason": match &p.guard { crate::plan::Guard::Refused(r) => Some(r.clone()), _ => None },
                "error": p.error,
            })
        })
        .collect();
    json!({
        "as_of": report.as_of.map(rfc3339),
        "targets": targets,
        "requests": requests
            .iter()
            .map(|r| json!({"ticket": r.ticket, "targets": r.targets, "matched": r.matched, "held": r.held}))
            .collect::<Vec<_>>(),
    })
}
