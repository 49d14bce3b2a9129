//! What a plan report shows beside the passes: the categories as the rules describe them,
//! pending erasure requests (with what erasing each would touch), legal holds in force,
//! rule problems and the personal data no rule covers. Each is a plain,
//! typed input so whoever reads it (the rule loader, the request queue, the hold table,
//! `check --connect`) fills it without knowing how reports are drawn. None of these types
//! has room for a subject id, an email or a record: reports carry no personal data.

use crate::audit::Reason;
use crate::coverage::Coverage;
use crate::execute::Report;
use crate::rules::{Action, Rule};
use crate::time::Period;
use chrono::{DateTime, Months, Utc};

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
    /// Personal data that no rule covers (`retention coverage`). `None` when not looked
    /// for: the report then says so.
    pub coverage: Option<Coverage>,
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

/// An erasure request not yet processed: its ticket, when it was received, when it is
/// due, and what erasing its subject would touch. The subject it names is deliberately
/// absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub ticket: String,
    pub created_at: DateTime<Utc>,
    /// `created_at` plus the configured deadline (`requests.deadline`); `None` when the
    /// sum leaves the calendar.
    pub due: Option<DateTime<Utc>>,
    /// What erasing the subject would touch, target by target; `None` when not surveyed.
    pub survey: Option<Vec<RequestTarget>>,
}

/// What an erasure request would do to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    pub category: String,
    pub store: String,
    pub target: String,
    pub action: Action,
    pub matched: u64,
    pub held: u64,
    pub locked: u64,
    /// Why the target could not be surveyed (never row data).
    pub error: Option<String>,
}

impl PendingRequest {
    /// A request received at `created_at` under a deadline of `deadline`, with the
    /// survey of its subject (a report of request passes) when one was made.
    pub fn new(
        ticket: &str,
        created_at: DateTime<Utc>,
        deadline: Period,
        survey: Option<&Report>,
    ) -> PendingRequest {
        PendingRequest {
            ticket: ticket.to_owned(),
            created_at,
            due: due(created_at, deadline),
            survey: survey.map(|r| {
                r.passes
                    .iter()
                    .filter(|p| p.reason == Reason::Request)
                    .map(|p| RequestTarget {
                        category: p.category.clone(),
                        store: p.store.clone(),
                        target: p.target.clone(),
                        action: p.action,
                        matched: p.inventory.matched,
                        held: p.inventory.held,
                        locked: p.inventory.locked,
                        error: p.error.clone(),
                    })
                    .collect()
            }),
        }
    }

    /// Whether the request is past its deadline at `as_of`.
    pub fn overdue(&self, as_of: DateTime<Utc>) -> bool {
        self.due.is_some_and(|d| d < as_of)
    }

    /// Targets with at least one record of the subject to erase.
    pub fn targets(&self) -> Option<u64> {
        let s = self.survey.as_ref()?;
        Some(s.iter().filter(|t| t.matched > 0).count() as u64)
    }

    pub fn matched(&self) -> Option<u64> {
        Some(self.survey.as_ref()?.iter().map(|t| t.matched).sum())
    }

    pub fn held(&self) -> Option<u64> {
        Some(self.survey.as_ref()?.iter().map(|t| t.held).sum())
    }

    /// Whether the subject has any record at all in the targets (to erase, held or still
    /// referenced). `false` means the subject id resolves to nothing: a typo, or an id
    /// from another system. `None` when not surveyed, or when a target could not be read.
    pub fn found(&self) -> Option<bool> {
        let s = self.survey.as_ref()?;
        if s.iter().any(|t| t.error.is_some())
            && !s.iter().any(|t| t.matched + t.held + t.locked > 0)
        {
            return None;
        }
        Some(s.iter().any(|t| t.matched + t.held + t.locked > 0))
    }

    /// What a reader should know first: `overdue`, `subject found in no target`, both,
    /// or nothing.
    pub fn flags(&self, as_of: DateTime<Utc>) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.overdue(as_of) {
            out.push("overdue");
        }
        if self.found() == Some(false) {
            out.push("subject found in no target");
        }
        out
    }
}

/// `t` plus a period, by the calendar for months and years.
pub fn due(t: DateTime<Utc>, p: Period) -> Option<DateTime<Utc>> {
    use chrono::Duration;
    match p {
        Period::Hours(n) => t.checked_add_signed(Duration::hours(i64::from(n))),
        Period::Days(n) => t.checked_add_signed(Duration::days(i64::from(n))),
        Period::Weeks(n) => t.checked_add_signed(Duration::weeks(i64::from(n))),
        Period::Months(n) => t.checked_add_months(Months::new(n)),
        Period::Years(n) => t.checked_add_months(Months::new(n.checked_mul(12)?)),
    }
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
