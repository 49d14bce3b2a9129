//! Planning: rules + inventory + `as_of` -> what a run would do, and why. Pure: no I/O,
//! no clock. The same [`Selection`]s drive `plan`, `run --dry-run` and `run`, so what a
//! compliance officer reads is exactly what the run selects.

use crate::audit::Reason;
use crate::rules::{Action, Rule, Target};
use chrono::{DateTime, Utc};

/// A deterministic partition of work: this process handles shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` (0-based `I < N`).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard: write I/N with 0 <= I < N, e.g. 2/7");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Which records of one target one pass selects.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub reason: Reason,
    pub action: Action,
    /// `expired`: records whose timestamp is before this instant.
    pub cutoff: Option<DateTime<Utc>>,
    /// `expired` when a `flagged` pass exists for the same target: leave flagged records
    /// to that pass so nothing is counted twice.
    pub exclude_flagged: bool,
    /// `request`: the subjects named by erasure requests.
    pub subjects: Vec<String>,
    /// Subjects under legal hold: never selected, counted as held.
    pub held: Vec<String>,
    pub shard: Option<Shard>,
}

/// The passes a rule makes over one of its targets at `as_of`, in order: flagged records
/// first, then expired ones. A `keep` action yields no pass.
pub fn passes(
    rule: &Rule,
    target: &Target,
    as_of: DateTime<Utc>,
    held: &[String],
    shard: Option<Shard>,
) -> Vec<Selection> {
    let mut out = Vec::new();
    let flag = match target {
        Target::Table(t) => t.erasure_flag.is_some(),
        Target::Objects(_) => false,
    };
    let flagged_pass = flag && rule.on_erasure != Action::Keep;
    if flagged_pass {
        out.push(Selection {
            reason: Reason::Flagged,
            action: rule.on_erasure,
            cutoff: None,
            exclude_flagged: false,
            subjects: Vec::new(),
            held: held.to_vec(),
            shard,
        });
    }
    if rule.on_expiry != Action::Keep {
        if let Some(cutoff) = rule.retain.cutoff(as_of) {
            out.push(Selection {
                reason: Reason::Expired,
                action: rule.on_expiry,
                cutoff: Some(cutoff),
                exclude_flagged: flagged_pass,
                subjects: Vec::new(),
                held: held.to_vec(),
                shard,
            });
        }
    }
    out
}

/// The pass an erasure request makes over one target, or `None` when the rule keeps the
/// data (`on_erasure: keep`) or the target cannot be tied to a subject.
pub fn request_pass(
    rule: &Rule,
    target: &Target,
    subjects: &[String],
    held: &[String],
) -> Option<Selection> {
    if rule.on_erasure == Action::Keep || !target.has_subject() {
        return None;
    }
    Some(Selection {
        reason: Reason::Request,
        action: rule.on_erasure,
        cutoff: None,
        exclude_flagged: false,
        subjects: subjects.to_vec(),
        held: held.to_vec(),
        shard: None,
    })
}

/// What a store found for one selection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Inventory {
    /// Records in the table or under the prefix (for an erasure request on a table: the
    /// subject's records, since requests are not judged by their share of the table).
    /// During a run whose guard passed, possibly only a lower bound (`Total::AtLeast`):
    /// a plan always counts it exactly.
    pub total: u64,
    /// Records the selection would act on.
    pub matched: u64,
    /// Records that match but belong to a held subject.
    pub held: u64,
    /// Records that match but cannot be acted on: rows still referenced by child rows,
    /// objects under Object Lock.
    pub locked: u64,
    pub oldest: Option<DateTime<Utc>>,
    /// Records with a timestamp, and of those how many lie in the future or in 1970.
    pub with_timestamp: u64,
    pub in_future: u64,
    pub in_1970: u64,
    /// Records whose timestamp is there but cannot be read as a time (PostgreSQL
    /// `-infinity`, a MySQL zero date, SQLite text that is no date): they never expire.
    pub unreadable: u64,
}

/// The guard's verdict for one selection (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    Ok,
    /// Refused, with the reason shown to the operator.
    Refused(String),
}

impl Guard {
    pub fn as_str(&self) -> &'static str {
        match self {
            Guard::Ok => "ok",
            Guard::Refused(_) => "refused",
        }
    }
}

/// Rows beyond which the mass-delete guard applies at all.
pub const GUARD_MIN_ROWS: u64 = 1000;

/// Decides whether a selection may run: a mass delete (more than `max_fraction` of the
/// table and more than 1,000 rows) needs the rule's or the operator's permission, and
/// timestamps that look like the wrong unit refuse the target outright.
pub fn guard(sel: &Selection, inv: &Inventory, max_fraction: f64, allowed: bool) -> Guard {
    if sel.reason == Reason::Expired && inv.with_timestamp > 0 {
        if inv.in_future * 2 > inv.with_timestamp {
            return Guard::Refused(format!(
                "{} of {} timestamps lie in the future: the timestamp unit looks wrong",
                inv.in_future, inv.with_timestamp
            ));
        }
        if inv.in_1970 * 2 > inv.with_timestamp {
            return Guard::Refused(format!(
                "{} of {} timestamps lie in 1970: the timestamp unit looks wrong",
                inv.in_1970, inv.with_timestamp
            ));
        }
    }
    // Rows that foreign keys block now are matched all the same: a later run deletes them
    // once their children are gone, so they count toward the share this rule would erase.
    let matched = inv.matched + inv.locked;
    let share = if inv.total == 0 {
        0.0
    } else {
        matched as f64 / inv.total as f64
    };
    if sel.reason != Reason::Request && matched > GUARD_MIN_ROWS && share > max_fraction && !allowed
    {
        let locked = match inv.locked {
            0 => String::new(),
            b => format!(" ({b} of them locked by foreign keys for now)"),
        };
        return Guard::Refused(format!(
            "{matched} of {} records ({:.0}%) match{locked}, above the {:.0}% guard: read the \
             plan, then allow it with --allow-mass-delete or `allow_mass_delete: true` in the rule",
            inv.total,
            share * 100.0,
            max_fraction * 100.0
        ));
    }
    Guard::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(reason: Reason) -> Selection {
        Selection {
            reason,
            action: Action::Delete,
            cutoff: None,
            exclude_flagged: false,
            subjects: vec![],
            held: vec![],
            shard: None,
        }
    }

    fn inv(total: u64, matched: u64) -> Inventory {
        Inventory {
            total,
            matched,
            with_timestamp: total,
            ..Default::default()
        }
    }

    #[test]
    fn the_guard_refuses_a_mass_delete_unless_allowed() {
        let s = sel(Reason::Expired);
        assert_eq!(
            guard(&s, &inv(10_000, 6_000), 0.5, false).as_str(),
            "refused"
        );
        assert_eq!(guard(&s, &inv(10_000, 6_000), 0.5, true), Guard::Ok);
        assert_eq!(guard(&s, &inv(10_000, 4_000), 0.5, false), Guard::Ok);
        // Small tables may be emptied: the guard starts above 1,000 rows.
        assert_eq!(guard(&s, &inv(900, 900), 0.5, false), Guard::Ok);
    }

    #[test]
    fn rows_locked_by_foreign_keys_count_toward_the_guard() {
        let s = sel(Reason::Expired);
        // The `retain: 1d` typo on a parent table: few rows free now, most locked.
        let i = Inventory {
            locked: 13_715,
            ..inv(16_044, 2_329)
        };
        assert_eq!(guard(&s, &i, 0.5, false).as_str(), "refused");
        assert_eq!(guard(&s, &i, 0.5, true), Guard::Ok);
    }

    #[test]
    fn timestamps_in_the_wrong_unit_are_refused_even_when_allowed() {
        let s = sel(Reason::Expired);
        let mut i = inv(100, 10);
        i.in_1970 = 90;
        assert_eq!(guard(&s, &i, 0.5, true).as_str(), "refused");
        let mut i = inv(100, 10);
        i.in_future = 60;
        assert_eq!(guard(&s, &i, 0.5, true).as_str(), "refused");
    }

    /// Counts from 0 to a few (the edge cases) or up to thousands (past the guard's floor).
    fn some() -> impl proptest::strategy::Strategy<Value = u64> {
        proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..3, 0u64..5_000]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2_000))]
        // A run judges on a lower bound of the total (`Total::AtLeast`) and counts the
        // table only when that refuses: sound only if no verdict that passes on the bound
        // refuses on the exact total. The table as disjoint sets: the selection's expired
        // rows (to act on, held, locked), those in the future, the undated, and the rest
        // (fresh, or kept out by the rule's filters); rows in 1970 lie among the expired
        // ones and the rest.
        #[test]
        fn a_guard_that_passes_on_a_lower_bound_of_the_total_passes_on_the_total(
            matched in some(), held in some(), locked in some(), in_future in some(),
            nulls in some(), rest in some(), old_expired in some(), old_rest in some(),
            max_fraction in 0.0f64..=1.0, allowed: bool,
        ) {
            let expired = matched + held + locked;
            let in_1970 = old_expired.min(expired) + old_rest.min(rest);
            let exact = Inventory {
                total: expired + in_future + nulls + rest,
                matched,
                held,
                locked,
                with_timestamp: expired + in_future + rest,
                in_future,
                in_1970,
                ..Default::default()
            };
            // What `Total::AtLeast` computes from the same counts.
            let dated = expired.max(in_1970) + in_future;
            let lower = Inventory { total: dated + nulls, with_timestamp: dated, ..exact };
            proptest::prop_assert!(lower.total <= exact.total);
            let s = sel(Reason::Expired);
            if guard(&s, &lower, max_fraction, allowed) == Guard::Ok {
                proptest::prop_assert_eq!(guard(&s, &exact, max_fraction, allowed), Guard::Ok);
            }
        }
    }

    #[test]
    fn shards_parse_and_bad_ones_are_explained() {
        assert_eq!(Shard::parse("2/7"), Ok(Shard { index: 2, count: 7 }));
        for bad in ["7/7", "1/0", "a/b", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
