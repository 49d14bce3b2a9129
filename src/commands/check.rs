//! `retention check [--connect]`: validate the configuration and rules.
//!
//! Without `--connect` nothing but the files is read. Every problem in the configuration,
//! or else in every rule file, is printed (one `file:line: field: message` per line) and
//! the exit status is 2, so a CI step can gate a rule change on it.

use crate::exit::{Refusal, Status};
use crate::rules::RuleSet;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

pub async fn run(config: &Path, connect: bool) -> Result<Status> {
    let (config, rules) = super::load(config)?;
    if config.audit.signing_key.is_some() && config.audit.origin.is_none() {
        crate::logging::warning(&super::audit::origin_unpinned(None));
    }
    if connect {
        // With --connect the live schemas are checked too: tables, columns, keys, column
        // types against strategies, subject indexes, and every object store's bucket.
        let live = crate::stores::check_live(&config, &rules).await;
        for w in &live.warnings {
            crate::logging::warning(&w.to_string());
        }
        if !live.errors.is_empty() {
            return Err(Refusal::Invalid(live.errors.join("\n")).into());
        }
    }
    crate::outln!("{}", summary(&rules))?;
    Ok(Status::Done)
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
