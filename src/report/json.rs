//! `plan --format json`: one object with the field names of SPEC §5, which scripts rely on.

use super::extras::PendingRequest;
use crate::execute::Report;
use crate::time::rfc3339;
use serde_json::{json, Value};

/// The plan as SPEC §5's JSON object. Fields beyond the contract (`cutoff`, `locked`,
/// `total`, `unreadable`, `guard_reason`, `error`) are additions scripts may ignore.
/// `guard` is `ok` or `refused`, and `null` for a target that failed before the guard
/// could judge it (see [`super::guard_verdict`]; `error` says why).
pub fn plan(report: &Report) -> Value {
    plan_with_requests(report, &[])
}

/// The plan with its pending erasure requests (SPEC §5 `requests`: `ticket`, `targets`,
/// `matched`, `held`; additions: `received`, `due`, `overdue`, and `subject_found`, false
/// when the subject has no record in any target).
pub fn plan_with_requests(report: &Report, requests: &[PendingRequest]) -> Value {
    let targets: Vec<Value> = report
        .passes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut entry = json!({
                "category": p.category,
                "store": p.store,
                "target": p.target,
                "action": p.action.as_str(),
                "reason": p.reason.as_str(),
                "matched": p.inventory.matched,
                "held": p.inventory.held,
                "oldest": p.inventory.oldest.map(rfc3339),
                "guard": super::guard_verdict(p),
                "cutoff": p.cutoff.map(rfc3339),
                "locked": p.inventory.locked,
                "total": p.inventory.total,
                "unreadable": p.inventory.unreadable,
                "guard_reason": match &p.guard { crate::plan::Guard::Refused(r) => Some(r.clone()), _ => None },
                "error": p.error,
            });
            // `partitions: drop | detach`: each partition and what becomes of it.
            if let (Some(list), Some(obj)) = (report.partitions.get(&i), entry.as_object_mut()) {
                obj.insert("partitions".into(), partitions(list));
            }
            entry
        })
        .collect();
    json!({
        "as_of": report.as_of.map(rfc3339),
        "targets": targets,
        "requests": requests
            .iter()
            .map(|r| json!({
                "ticket": r.ticket,
                "targets": r.targets(),
                "matched": r.matched(),
                "held": r.held(),
                "received": rfc3339(r.created_at),
                "due": r.due.map(rfc3339),
                "overdue": report.as_of.map(|t| r.overdue(t)),
                "subject_found": r.found(),
            }))
            .collect::<Vec<_>>(),
    })
}

/// One object per partition: `name`, `rows`, `expired` (the expired rows, held and
/// referenced ones included, as the text plan's column says: a target's `matched` leaves
/// those out), `held`, `referenced`, `action` (`drop`, `rows` or `kept`) and `why` (empty
/// for `drop`).
fn partitions(list: &[crate::stores::sql::partitions::PartitionPlan]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                json!({
                    "name": p.leaf.name,
                    "rows": p.rows,
                    "expired": p.matched,
                    "held": p.held,
                    "referenced": p.referenced,
                    "action": p.verdict.as_str(),
                    "why": p.verdict.why(),
                })
            })
            .collect(),
    )
}
