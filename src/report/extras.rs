//! What a plan report shows beside the passes: the categories as the rules describe them,
//! pending erasure requests, legal holds in force and rule problems. Each is a plain,
//! typed input so whoever reads it (the rule loader, the request queue, the hold table,
//! `check --connect`) fills it without knowing how reports are drawn. None of these types
//! has room for a subject id, an email or a record: reports carry no personal data.

use crate::rules::{Action, Rule};
use chrono::{DateTime, Utc};

/// Everything a plan report shows that is not a pass.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The selected categories, in rule-set order, including those that make no pass
    /// (kept forever, or `keep`), so a reader sees every promise.
    pub categories: Vec<CategoryInfo>,
    /// Erasure requests waiting for the next run. `None` when the queue was not read:
    /// the report then says so instead of claiming there are none.
    pub requests: Option<Vec<PendingRequest>>,
    /// Legal holds in force at `as_of`, grouped by reason. `None` when not read.
    pub holds: Option<Vec<HoldGroup>>,
    /// Problems the rules have against the live stores (`check --connect`).
    pub problems: Vec<RuleProblem>,
}

/// One category as its rule file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryInfo {
    pub category: String,
    pub description: String,
    /// Where in the privacy policy the promise is made.
    pub source: String,
    /// The retention period as written (`90d`, `forever`).
    pub retain: String,
    pub on_expiry: Action,
    pub on_erasure: Action,
    /// The legal obligation that keeps data despite an erasure request.
    pub keep_reason: Option<String>,
    /// How many targets (tables, prefixes) hold the category.
    pub targets: usize,
}

impl CategoryInfo {
    pub fn from_rule(rule: &Rule) -> CategoryInfo {
        CategoryInfo {
            category: rule.category.clone(),
            description: rule.description.clone(),
            source: rule.source.clone(),
            retain: rule.retain.to_string(),
            on_expiry: rule.on_expiry,
            on_erasure: rule.on_erasure,
            keep_reason: rule.keep_reason.clone().filter(|r| !r.trim().is_empty()),
            targets: rule.targets.len(),
        }
    }
}

/// An erasure request not yet processed: its ticket and when it was received. The
/// subject it names is deliberately absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub ticket: String,
    pub created_at: DateTime<Utc>,
}

/// Subjects under legal hold for one reason: how many, and until when at the latest
/// (`None`: at least one of them indefinitely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldGroup {
    pub reason: String,
    pub subjects: u64,
    pub until: Option<DateTime<Utc>>,
}

/// How serious a rule problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The rule does not fit the live store: the target cannot run.
    Error,
    /// Worth fixing, not wrong (a subject column without an index, say).
    Warning,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem with a rule, as `check --connect` words it (file, line and field included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub severity: Severity,
    pub message: String,
}

impl RuleProblem {
    /// Problems from `check --connect`'s errors and warnings, errors first.
    pub fn from_check(errors: &[String], warnings: &[String]) -> Vec<RuleProblem> {
        let tag = |severity: Severity| {
            move |m: &String| RuleProblem {
                severity,
                message: m.clone(),
            }
        };
        errors
            .iter()
            .map(tag(Severity::Error))
            .chain(warnings.iter().map(tag(Severity::Warning)))
            .collect()
    }
}
