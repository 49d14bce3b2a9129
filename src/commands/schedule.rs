//! `retention schedule`: stay up and run each rule on its cron `schedule`.
//!
//! Runs happen one at a time in this process, so the schedule never overlaps itself; a
//! tick that falls while a run is going is taken as soon as it ends (ticks coalesce, they
//! do not queue up). SIGTERM stops the current run after its batch and ends the loop.

use crate::cli::RunArgs;
use crate::exit::{Refusal, Status};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// The categories due at the earliest next tick after `now`, and that tick.
pub fn next_due(
    schedules: &[(String, cron::Schedule)],
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Vec<String>)> {
    let next: Vec<(DateTime<Utc>, &String)> = schedules
        .iter()
        .filter_map(|(c, s)| s.after(&now).next().map(|t| (t, c)))
        .collect();
    let first = next.iter().map(|(t, _)| *t).min()?;
    let due = next
        .into_iter()
        .filter(|(t, _)| *t == first)
        .map(|(_, c)| c.clone())
        .collect();
    Some((first, due))
}

pub async fn run(
    config: &Path,
    max_runs: Option<u64>,
    metrics_file: Option<PathBuf>,
) -> Result<Status> {
    let (_, rules) = super::load(config)?;
    let schedules: Vec<(String, cron::Schedule)> = rules
        .rules
        .iter()
        .filter_map(|r| {
            r.schedule
                .as_ref()
                .map(|s| (r.category.clone(), s.schedule.clone()))
        })
        .collect();
    if schedules.is_empty() {
        return Err(Refusal::Invalid(
            "no rule has a `schedule`: add e.g. `schedule: \"0 3 * * *\"` to the rules `schedule` should run".into(),
        )
        .into());
    }
    let names: Vec<&str> = schedules.iter().map(|(c, _)| c.as_str()).collect();
    tracing::info!(
        rules = %names.join(","),
        "Scheduling {}: {}.",
        crate::report::text::plural(names.len() as u64, "rule", "rules"),
        names.join(", ")
    );
    let stop = super::run::stop_on_signal();
    let mut runs = 0u64;
    let mut worst = Status::Done;
    while let Some((at, due)) = next_due(&schedules, Utc::now()) {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tracing::info!(
            next = %crate::time::rfc3339(at),
            categories = %due.join(","),
            "Waiting for the next scheduled run at {} ({}).",
            crate::time::rfc3339(at),
            due.join(", ")
        );
        let mut slept = std::time::Duration::ZERO;
        // Sleep in short steps so a signal ends the wait promptly.
        while slept < wait && !stop.load(Ordering::SeqCst) {
            let step = (wait - slept).min(std::time::Duration::from_millis(200));
            tokio::time::sleep(step).await;
            slept += step;
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        tracing::info!(categories = %due.join(","), "Starting a scheduled run.");
        let args = RunArgs {
            dry_run: false,
            rules: due,
            shard: None,
            allow_mass_delete: false,
            metrics_file: metrics_file.clone(),
        };
        let status = match super::run::run(config, args).await {
            Ok(s) => s,
            Err(e) => {
                // A failed run (a lock held elsewhere, a store down) does not end the
                // schedule: it is logged and the next tick tries again.
                tracing::error!(error = %format!("{e:#}"), "A scheduled run failed.");
                e.downcast_ref::<Refusal>()
                    .map(Refusal::status)
                    .unwrap_or(Status::Failed)
            }
        };
        worst = worst.max(status);
        runs += 1;
        if max_runs.is_some_and(|m| runs >= m) || stop.load(Ordering::SeqCst) {
            break;
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_earliest_tick_gathers_every_rule_due_then() {
        let s = |e: &str| cron::Schedule::from_str(e).unwrap();
        let schedules = vec![
            ("a".to_owned(), s("0 0 3 * * *")),
            ("b".to_owned(), s("0 0 3 * * *")),
            ("c".to_owned(), s("0 0 4 * * *")),
        ];
        let now = crate::time::parse_instant("2026-11-23T01:00:00Z").unwrap();
        let (at, due) = next_due(&schedules, now).unwrap();
        assert_eq!(crate::time::rfc3339(at), "2026-11-23T03:00:00Z");
        assert_eq!(due, ["a", "b"]);
    }
}
