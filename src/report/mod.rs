//! Renderings of plans and runs for people and scripts: text, json (SPEC §5), and the
//! formats compliance officers forward (md, html, csv). Every human-readable format lays
//! out the same [`view::PlanView`]; none of them can show a subject id, an email, a key
//! or a record, because none of their inputs holds one.

pub mod certificate;
mod chart;
pub mod coverage;
pub mod csv;
pub mod extras;
pub mod html;
pub mod json;
pub mod md;
pub mod metrics;
pub mod parity;
pub mod requests;
pub mod ropa;
pub mod run;
pub mod text;
pub mod view;

pub use extras::{
    CategoryInfo, Extras, HoldGroup, PendingRequest, RequestTarget, RuleProblem, Severity,
};

/// The guard's verdict as plans show it: `ok` or `refused` (SPEC §5), or none when the
/// target has an error and the guard did not refuse it — its table missing, its store
/// down, or its partitions not read. Such a target was not (wholly) surveyed, so it never
/// claims `ok`: a script that runs only when every `guard` is `ok` must not go ahead on a
/// target nobody counted. A refusal stays a refusal even when something after it failed.
pub fn guard_verdict(pass: &crate::execute::PassReport) -> Option<&'static str> {
    match (&pass.guard, &pass.error) {
        (crate::plan::Guard::Ok, Some(_)) => None,
        (guard, _) => Some(guard.as_str()),
    }
}
