//! `retention check [--connect]`: validate the configuration and rules.
//!
//! Without `--connect` nothing but the files is read. Every problem in the configuration,
//! or else in every rule file, is printed (one `file:line: field: message` per line) and
//! the exit status is 2, so a CI step can gate a rule change on it.

use crate::config::{self, Config};
use crate::diagnostics::Diagnostics;
use crate::exit::{Refusal, Status};
use crate::rules::{self, RuleSet};
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

pub async fn run(config: &Path, connect: bool) -> Result<Status> {
    let (config, rules) = load(config)?;
    if connect {
        crate::stores::check_live(&config, &rules).await?;
    }
    println!("{}", summary(&rules));
    Ok(Status::Done)
}

/// Loads and validates the configuration and the rules, or fails with every problem
/// found as a [`Refusal::Invalid`] (exit 2). Other commands start the same way.
pub fn load(path: &Path) -> Result<(Config, RuleSet)> {
    let config = config::load(path).map_err(invalid)?;
    let rules = rules::load(&config).map_err(invalid)?;
    Ok((config, rules))
}

fn invalid(d: Diagnostics) -> anyhow::Error {
    anyhow::Error::new(Refusal::from(d))
}

/// `ok: N rules, M targets in K stores`, counting the stores the targets use.
pub fn summary(rules: &RuleSet) -> String {
    let targets = rules.rules.iter().flat_map(|r| &r.targets);
    let stores: BTreeSet<&str> = targets.clone().map(|t| t.store()).collect();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "ok: {}, {} in {}",
        plural(rules.rules.len(), "rule"),
        plural(targets.count(), "target"),
        plural(stores.len(), "store")
    )
}
