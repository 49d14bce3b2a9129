//! `retention check --connect`: the rules against the live schemas and buckets.
//!
//! Placeholder on the `rules` branch: the lead's branch replaces this file at merge.

use crate::config::Config;
use crate::rules::RuleSet;

/// Checks every table, column, key and index named by the rules against the stores.
pub async fn check_live(_config: &Config, _rules: &RuleSet) -> anyhow::Result<()> {
    anyhow::bail!("--connect is not wired yet")
}
