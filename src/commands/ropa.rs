//! `retention ropa`: the retention column of the record of processing (GDPR Art.
//! 30(1)(f)), made from the configuration and the rule set alone; connects to nothing.

use crate::cli::{RopaArgs, RopaFormat};
use crate::exit::Status;
use crate::report::ropa::{self, RopaInput};
use anyhow::Result;
use chrono::Utc;
use std::path::Path;

pub fn run(config: &Path, args: RopaArgs) -> Result<Status> {
    let (config, rules) = super::load(config)?;
    let input = RopaInput {
        rules: &rules.rules,
        stores: &config.stores,
        rules_digest: &rules.digest,
        generated: Utc::now(),
    };
    let text = match args.format {
        RopaFormat::Md => ropa::md(&input),
        RopaFormat::Html => ropa::html(&input),
        RopaFormat::Csv => ropa::csv(&input),
    };
    super::write_report(args.out.as_deref(), &text)?;
    Ok(Status::Done)
}
