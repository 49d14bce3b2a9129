//! Renderings of plans and runs for people and scripts: text, json (SPEC §5), and the
//! formats compliance officers forward (md, html, csv).

pub mod json;
pub mod metrics;
pub mod text;
