//! Pending erasure requests as the text plan and `run --dry-run` show them: one row per
//! ticket with its age, its due date, what erasing its subject would touch, and the flags
//! a reader must not miss (overdue, subject found in no target). Never the subject.

use super::extras::PendingRequest;
use super::text::table;
use super::view::{age, date};
use crate::time::{rfc3339, Period};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// The section, with its heading.
pub fn text(requests: &[PendingRequest], as_of: DateTime<Utc>, deadline: Period) -> String {
    let mut out = format!("\nPending erasure requests (deadline {deadline}):\n");
    if requests.is_empty() {
        out.push_str("none\n");
        return out;
    }
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            vec![
                r.ticket.clone(),
                rfc3339(r.created_at),
                age(as_of - r.created_at),
                r.due.map(date).unwrap_or_else(dash),
                r.targets().map_or_else(dash, |n| n.to_string()),
                r.matched().map_or_else(dash, |n| n.to_string()),
                r.held().map_or_else(dash, |n| n.to_string()),
                r.flags(as_of).join("; ").to_uppercase(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "ticket", "received", "waiting", "due", "targets", "matched", "held", "flags",
        ],
        &rows,
    ));
    let overdue = requests.iter().filter(|r| r.overdue(as_of)).count();
    if overdue > 0 {
        let _ = writeln!(
            out,
            "\n{overdue} request(s) waited longer than {deadline}: the next `retention run` processes them first."
        );
    }
    if requests.iter().any(|r| r.found() == Some(false)) {
        out.push_str(
            "A subject found in no target usually means a mistyped subject id: check the ticket.\n",
        );
    }
    out
}
