//! The plan as people read it, derived once for every human-readable format (md, html):
//! passes grouped by category and target, matched counts side by side by reason, the
//! guard's verdict, totals, and the wording of counts, ages and instants. Renderers only
//! lay this out; they decide nothing.

use super::extras::{Extras, HoldGroup, PendingRequest, RequestTarget, RuleProblem, Severity};
use crate::audit::Reason;
use crate::coverage::Coverage;
use crate::execute::{PassReport, Report};
use crate::plan::Guard;
use crate::rules::Action;
use chrono::{DateTime, Duration, Utc};

/// A whole plan, ready to lay out.
#[derive(Debug)]
pub struct PlanView<'a> {
    pub as_of: Option<DateTime<Utc>>,
    pub categories: Vec<CategoryView<'a>>,
    pub totals: Totals,
    pub requests: Option<&'a [PendingRequest]>,
    pub holds: Option<&'a [HoldGroup]>,
    /// Problems from `check --connect`, then every target that failed while planning.
    pub problems: Vec<RuleProblem>,
    /// Personal data no rule covers; `None` when not looked for.
    pub coverage: Option<&'a Coverage>,
}

/// Sums over every target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub targets: usize,
    /// Records a run would delete or anonymise (refused and failed targets excluded).
    pub to_change: u64,
    pub held: u64,
    pub locked: u64,
    pub refused: usize,
    pub failed: usize,
}

/// One category: its promise and its targets.
#[derive(Debug)]
pub struct CategoryView<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub source: &'a str,
    pub retain: &'a str,
    pub on_expiry: Option<Action>,
    pub on_erasure: Option<Action>,
    pub keep_reason: Option<&'a str>,
    /// Records timestamped before this have expired.
    pub cutoff: Option<DateTime<Utc>>,
    /// The retention period as a duration at `as_of` (calendar months resolved).
    pub period: Option<Duration>,
    pub targets: Vec<TargetView<'a>>,
}

impl CategoryView<'_> {
    pub fn to_change(&self) -> u64 {
        self.targets.iter().map(TargetView::to_change).sum()
    }
    pub fn held(&self) -> u64 {
        self.targets.iter().map(|t| t.held).sum()
    }
    pub fn locked(&self) -> u64 {
        self.targets.iter().map(|t| t.locked).sum()
    }
    pub fn records(&self) -> u64 {
        self.targets.iter().map(|t| t.total).sum()
    }
    /// The worst status of its targets.
    pub fn status(&self) -> Status {
        self.targets
            .iter()
            .map(|t| t.status)
            .max()
            .unwrap_or(Status::Ok)
    }
    /// What the category does, in one phrase, for a summary line.
    pub fn policy(&self) -> String {
        let expiry = match self.on_expiry {
            Some(a) if self.retain != "forever" => format!("{} after {}", a.as_str(), self.retain),
            _ => "kept forever".to_owned(),
        };
        match self.on_erasure {
            Some(Action::Keep) => format!("{expiry}; kept on erasure requests"),
            Some(a) => format!("{expiry}; {} on erasure", a.as_str()),
            None => expiry,
        }
    }
}

/// One table or prefix: every pass over it, side by side.
#[derive(Debug)]
pub struct TargetView<'a> {
    pub store: &'a str,
    pub target: &'a str,
    pub total: u64,
    /// Matched by reason; `None` where the rule makes no such pass.
    pub expired: Option<u64>,
    pub flagged: Option<u64>,
    pub request: Option<u64>,
    pub held: u64,
    pub locked: u64,
    /// The oldest record a pass would act on.
    pub oldest: Option<DateTime<Utc>>,
    pub status: Status,
    /// Why the guard refused, or why the target failed (never row data).
    pub notes: Vec<&'a str>,
}

impl TargetView<'_> {
    pub fn matched(&self) -> u64 {
        self.expired.unwrap_or(0) + self.flagged.unwrap_or(0) + self.request.unwrap_or(0)
    }
    /// What a run would change: nothing when refused or failed.
    pub fn to_change(&self) -> u64 {
        match self.status {
            Status::Ok => self.matched(),
            _ => 0,
        }
    }
}

/// A target's verdict, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Refused,
    Failed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Refused => "refused",
            Status::Failed => "failed",
        }
    }
}

impl<'a> PlanView<'a> {
    pub fn new(report: &'a Report, extras: &'a Extras) -> PlanView<'a> {
        let mut categories: Vec<CategoryView<'a>> = extras
            .categories
            .iter()
            .map(|c| CategoryView {
                name: &c.category,
                description: &c.description,
                source: &c.source,
                retain: &c.retain,
                on_expiry: Some(c.on_expiry),
                on_erasure: Some(c.on_erasure),
                keep_reason: c.keep_reason.as_deref(),
                cutoff: None,
                period: None,
                targets: Vec::new(),
            })
            .collect();
        for pass in &report.passes {
            let cat = match categories.iter().position(|c| c.name == pass.category) {
                Some(i) => &mut categories[i],
                None => {
                    categories.push(CategoryView {
                        name: &pass.category,
                        description: "",
                        source: &pass.source,
                        retain: &pass.retain,
                        on_expiry: None,
                        on_erasure: None,
                        keep_reason: None,
                        cutoff: None,
                        period: None,
                        targets: Vec::new(),
                    });
                    categories.last_mut().expect("just pushed")
                }
            };
            add_pass(cat, pass, report.as_of);
        }
        // What pending erasure requests would erase, in each target's `Requested` column.
        for r in extras.requests.iter().flatten() {
            for rt in r.survey.iter().flatten() {
                if let Some(cat) = categories.iter_mut().find(|c| c.name == rt.category) {
                    add_request(cat, rt);
                }
            }
        }
        let mut problems = extras.problems.clone();
        for p in &report.passes {
            if let Some(e) = &p.error {
                problems.push(RuleProblem {
                    severity: Severity::Error,
                    message: format!("{} {}/{}: {e}", p.category, p.store, p.target),
                });
            }
        }
        let targets = categories.iter().flat_map(|c| &c.targets);
        let totals = Totals {
            targets: targets.clone().count(),
            to_change: targets.clone().map(TargetView::to_change).sum(),
            held: targets.clone().map(|t| t.held).sum(),
            locked: targets.clone().map(|t| t.locked).sum(),
            refused: targets
                .clone()
                .filter(|t| t.status == Status::Refused)
                .count(),
            failed: targets.filter(|t| t.status == Status::Failed).count(),
        };
        PlanView {
            as_of: report.as_of,
            categories,
            totals,
            requests: extras.requests.as_deref(),
            holds: extras.holds.as_deref(),
            problems,
            coverage: extras.coverage.as_ref(),
        }
    }
}

/// The category's view of a target, added (empty) if the category has none yet.
fn target_view<'c, 'a>(
    cat: &'c mut CategoryView<'a>,
    store: &'a str,
    target: &'a str,
) -> &'c mut TargetView<'a> {
    match cat
        .targets
        .iter()
        .position(|t| t.store == store && t.target == target)
    {
        Some(i) => &mut cat.targets[i],
        None => {
            cat.targets.push(TargetView {
                store,
                target,
                total: 0,
                expired: None,
                flagged: None,
                request: None,
                held: 0,
                locked: 0,
                oldest: None,
                status: Status::Ok,
                notes: Vec::new(),
            });
            cat.targets.last_mut().expect("just pushed")
        }
    }
}

/// Adds what one erasure request would erase in a target. Held and still-referenced
/// records of the subject are not added again: the target's other passes count them.
fn add_request<'a>(cat: &mut CategoryView<'a>, rt: &'a RequestTarget) {
    cat.on_erasure.get_or_insert(rt.action);
    let t = target_view(cat, &rt.store, &rt.target);
    t.request = Some(t.request.unwrap_or(0) + rt.matched);
    if let Some(e) = &rt.error {
        t.status = Status::Failed;
        t.notes.push(e);
    }
}

fn add_pass<'a>(cat: &mut CategoryView<'a>, pass: &'a PassReport, as_of: Option<DateTime<Utc>>) {
    // Passes name the action they take; they fill in what the rule said when the caller
    // gave no category descriptions.
    match pass.reason {
        Reason::Expired => {
            cat.on_expiry.get_or_insert(pass.action);
            if let Some(c) = pass.cutoff {
                cat.cutoff = Some(c);
                cat.period = as_of.map(|t| t - c);
            }
        }
        Reason::Flagged | Reason::Request => {
            cat.on_erasure.get_or_insert(pass.action);
        }
    }
    let t = target_view(cat, &pass.store, &pass.target);
    let inv = &pass.inventory;
    // Every pass counts the same table, so the total is the same; the passes select
    // disjoint records (the expired pass leaves flagged ones to the flagged pass), so
    // their matched, held and locked counts add up.
    t.total = t.total.max(inv.total);
    let slot = match pass.reason {
        Reason::Expired => &mut t.expired,
        Reason::Flagged => &mut t.flagged,
        Reason::Request => &mut t.request,
    };
    *slot = Some(slot.unwrap_or(0) + inv.matched);
    t.held += inv.held;
    t.locked += inv.locked;
    t.oldest = match (t.oldest, inv.oldest) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Guard::Refused(why) = &pass.guard {
        t.status = t.status.max(Status::Refused);
        t.notes.push(why);
    }
    if let Some(e) = &pass.error {
        t.status = Status::Failed;
        t.notes.push(e);
    }
}

/// What becomes of a record: `deleted`, `anonymised`, `kept`.
pub fn past_tense(a: Action) -> &'static str {
    match a {
        Action::Delete => "deleted",
        Action::Anonymise => "anonymised",
        Action::Keep => "kept",
    }
}

/// A count with thousands separators: `1,234,567`.
/// One partition's row of the plan's per-partition table, the same in every format
/// (unescaped; counts grouped): name, rows, expired, held, referenced, action, why.
pub fn partition_cells(x: &crate::stores::sql::partitions::PartitionPlan) -> [String; 7] {
    [
        x.leaf.name.clone(),
        count(x.rows),
        count(x.matched),
        count(x.held),
        count(x.referenced),
        x.verdict.as_str().to_owned(),
        x.verdict.why().to_owned(),
    ]
}

pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An optional count: a dash where the rule makes no such pass.
pub fn maybe_count(n: Option<u64>) -> String {
    n.map(count).unwrap_or_else(|| "–".to_owned())
}

/// An instant for people: `2026-11-23 03:00 UTC`.
pub fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A date for people: `2026-11-23`.
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// An age in the largest unit that keeps it readable: `36 hours`, `45 days`,
/// `14 months`, `3.2 years`.
pub fn age(d: Duration) -> String {
    let hours = d.num_hours();
    let days = d.num_days();
    if hours < 48 {
        plural(hours.max(0), "hour")
    } else if days < 90 {
        plural(days, "day")
    } else if days < 730 {
        plural(days * 12 / 365, "month")
    } else {
        format!("{:.1} years", days as f64 / 365.25)
    }
}

/// `1 target`, `2 targets`.
pub fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The oldest record's age at `as_of`, or a dash.
pub fn oldest_age(oldest: Option<DateTime<Utc>>, as_of: Option<DateTime<Utc>>) -> String {
    match (oldest, as_of) {
        (Some(o), Some(t)) => age(t - o),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_in_thousands() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(count(n), want);
        }
    }

    #[test]
    fn ages_use_the_largest_readable_unit() {
        for (d, want) in [
            (Duration::hours(1), "1 hour"),
            (Duration::hours(47), "47 hours"),
            (Duration::days(45), "45 days"),
            (Duration::days(400), "13 months"),
            (Duration::days(1200), "3.3 years"),
        ] {
            assert_eq!(age(d), want);
        }
    }
}
