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
