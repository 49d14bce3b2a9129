//! `retention coverage`: personal data in the configured stores that no rule covers.
//! Reads catalogs, a small sample of values and object listings; writes nothing.

use crate::cli::{CoverageArgs, CoverageFormat};
use crate::exit::Status;
use crate::report::coverage as render;
use crate::workspace::Workspace;
use anyhow::Result;
use chrono::Utc;
use std::path::Path;

/// Exit 0 when every store was surveyed (findings are a report, not a failure), 1 when a
/// store or table could not be read (the report says which).
pub async fn run(config: &Path, args: CoverageArgs) -> Result<Status> {
    let (config, rules) = super::load(config)?;
    let ws = Workspace::connect(config, rules).await?;
    let coverage = crate::coverage::survey(&ws).await;
    let now = Utc::now();
    let text = match args.format {
        CoverageFormat::Text => render::text(&coverage),
        CoverageFormat::Json => render::json(&coverage),
        CoverageFormat::Md => render::md(&coverage, now),
        CoverageFormat::Html => render::html(&coverage, now),
    };
    super::write_report(args.out.as_deref(), &text)?;
    for p in &coverage.problems {
        crate::logging::warning(&p.to_string());
    }
    Ok(if coverage.incomplete() {
        Status::Failed
    } else {
        Status::Done
    })
}
