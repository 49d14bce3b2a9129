//! `retention run`: enforce retention on every selected target, in batches, with the audit
//! log, the run lock and the guard.

use crate::audit::{AuditLog, EntryDraft, Kind, Outcome, PassOutcome, Totals};
use crate::cli::RunArgs;
use crate::dsar::erase::Erasure;
use crate::execute::{self, Options, Report};
use crate::exit::{Refusal, Status};
use crate::plan::Shard;
use crate::rules::Action;
use crate::state::lock::RunLock;
use crate::workspace::Workspace;
use anyhow::Result;
use chrono::Utc;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The shard from `--shard`, or from a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`
/// with the count in `RETENTION_SHARDS`.
fn shard(arg: Option<&str>) -> Result<Option<Shard>> {
    let from_env = || {
        let index = std::env::var("JOB_COMPLETION_INDEX").ok()?;
        let count = std::env::var("RETENTION_SHARDS").ok()?;
        Some(format!("{index}/{count}"))
    };
    match arg.map(str::to_owned).or_else(from_env) {
        None => Ok(None),
        Some(s) => Shard::parse(&s)
            .map(Some)
            .map_err(|e| Refusal::Invalid(format!("--shard: {e}")).into()),
    }
}

/// Sets `stop` on SIGTERM or Ctrl-C, so the run finishes its current batch and exits.
/// One listener per process: `schedule` calls this and then every run it starts, and a
/// listener per call would pile up (each logging the signal) for as long as it lives.
pub fn stop_on_signal() -> Arc<AtomicBool> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    STOP.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        listen_for_signals(stop.clone());
        stop
    })
    .clone()
}

/// The listener [`stop_on_signal`] starts once, on the runtime that first asks.
fn listen_for_signals(flag: Arc<AtomicBool>) {
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::warn!("Stopping after the current batch (signal received).");
        flag.store(true, Ordering::SeqCst);
    }));
}

pub async fn run(config: &Path, args: RunArgs) -> Result<Status> {
    let shard = shard(args.shard.as_deref())?;
    let (config, rules) = super::load(config)?;
    let ws = Workspace::connect(config, rules).await?;
    // One clock: taken once, in UTC; every cutoff derives from it.
    let as_of = Utc::now();
    for (name, pool) in &ws.sql {
        crate::state::runs::check_clock(name, pool, as_of).await?;
    }
    let state = ws.state()?;
    let opts = Options {
        as_of,
        rules: args.rules.clone(),
        shard,
        allow_mass_delete: args.allow_mass_delete,
    };
    if args.dry_run {
        // A dry run, like `plan`, works before `migrate`: no holds, no requests yet.
        let migrated = crate::state::is_migrated(state).await?;
        let held = match migrated {
            true => crate::state::holds::in_force(state, as_of).await?,
            false => Vec::new(),
        };
        let report = execute::survey(&ws, &opts, &held).await?;
        let note = match migrated {
            true => String::new(),
            false => format!("{}\n\n", crate::state::NOT_MIGRATED),
        };
        let requests = if !migrated {
            String::new()
        } else if takes_requests(&opts, shard) {
            crate::report::requests::text(
                &super::plan::pending_requests(&ws, &opts, &held).await?,
                as_of,
                ws.config.requests.deadline,
            )
        } else {
            "\nPending erasure requests: not processed by this run (only a run over every rule, \
             or shard 0 of a sharded run, takes them).\n"
                .to_owned()
        };
        crate::out!(
            "Dry run: nothing was changed.\n\n{note}{}{requests}",
            crate::report::text::plan(&report)
        )?;
        return Ok(status(&report));
    }
    crate::state::require_migrated(&ws.config.state, state).await?;
    let held = crate::state::holds::in_force(state, as_of).await?;

    let run_id = uuid::Uuid::now_v7().to_string();
    let lock_name = match shard {
        Some(s) => format!("run/{}of{}", s.index, s.count),
        None => "run".to_owned(),
    };
    // Every log line of the run carries its id (`run_id` in JSON logs).
    let span = tracing::info_span!("run", run_id = %run_id);
    let lock =
        tracing::Instrument::instrument(RunLock::acquire(state, &lock_name, &run_id), span.clone())
            .await?;
    let started = std::time::Instant::now();
    let result =
        tracing::Instrument::instrument(enforce(&ws, &opts, &held, &run_id, shard), span.clone())
            .await;
    lock.release().await?;
    let (report, requests, invalid) = result?;
    let took = started.elapsed();
    if invalid > 0 {
        // Neither the ticket nor the subject is named: an invalid one may be anything.
        span.in_scope(|| {
            tracing::error!(
                requests = invalid as u64,
                "Queued erasure requests could not be processed: their ticket or subject is invalid (marked failed; see `retention request list`)."
            )
        });
    }
    let requests_failed = invalid > 0
        || requests
            .iter()
            .any(|e| crate::commands::erase::status(e) == Status::Failed);
    let status = if requests_failed {
        Status::Failed
    } else {
        status(&report)
    };
    span.in_scope(|| log_end(&report, &requests, status, took));
    for e in &requests {
        crate::outln!("{}", e.render_text())?;
    }
    let not_reached = match report.interrupted {
        true => execute::not_reached(&ws, &opts, &held, &report).await,
        false => Vec::new(),
    };
    crate::out!(
        "{}",
        crate::report::text::summary_of_run(&report, &not_reached, took)
    )?;
    let tickets: Vec<(&str, &Report)> = requests
        .iter()
        .map(|e| (e.ticket.as_str(), &e.report))
        .collect();
    crate::out!("{}", crate::report::parity::text(&report, &tickets))?;
    if report.interrupted {
        crate::outln!("\nRun {run_id} was interrupted; run it again to continue.")?;
    } else {
        crate::outln!("\nRun {run_id} finished.")?;
    }
    if let Some(path) = &args.metrics_file {
        use crate::report::metrics;
        let last_success = if status == Status::Done {
            Some(Utc::now().timestamp())
        } else {
            metrics::previous_success(path)
        };
        metrics::write(
            path,
            &metrics::render(&report, started.elapsed().as_secs_f64(), last_success),
        )?;
    }
    Ok(status)
}

/// The run's last log line: its outcome, totals and duration; at `error` when it failed.
fn log_end(report: &Report, requests: &[Erasure], status: Status, took: std::time::Duration) {
    let mut t = totals(report);
    for e in requests {
        let c = e.counts();
        t.deleted += c.deleted;
        t.anonymised += c.anonymised;
        t.held += c.held;
        t.locked += c.locked;
        t.failed_targets += c.failed;
    }
    let outcome = if report.interrupted {
        "interrupted"
    } else {
        match status {
            Status::Done => "ok",
            Status::Refused => "refused",
            _ => "failed",
        }
    };
    macro_rules! line {
        ($level:expr, $msg:expr) => {
            tracing::event!(
                $level,
                outcome,
                exit_code = status as u8,
                deleted = t.deleted,
                anonymised = t.anonymised,
                held = t.held,
                locked = t.locked,
                failed_targets = t.failed_targets,
                requests = requests.len() as u64,
                duration_ms = took.as_millis() as u64,
                $msg
            )
        };
    }
    match outcome {
        "ok" => line!(tracing::Level::INFO, "The run finished."),
        "interrupted" => line!(tracing::Level::WARN, "The run was interrupted."),
        _ => line!(tracing::Level::ERROR, "The run finished with failures."),
    }
}

/// Erasure requests are processed by a run over every rule, and by only one shard of a
/// sharded run: a request must reach every category, and exactly once.
fn takes_requests(opts: &Options, shard: Option<Shard>) -> bool {
    opts.rules.is_empty() && shard.map_or(true, |s| s.index == 0)
}

async fn enforce(
    ws: &Workspace,
    opts: &Options,
    held: &[String],
    run_id: &str,
    shard: Option<Shard>,
) -> Result<(Report, Vec<Erasure>, usize)> {
    let state = ws.state()?;
    let audit = AuditLog::open(&ws.config.audit, state.clone(), run_id.to_owned(), false).await?;
    crate::state::runs::start(
        state,
        run_id,
        opts.as_of,
        "run",
        shard.map(|s| format!("{}/{}", s.index, s.count)),
    )
    .await?;
    let mut start = EntryDraft::new(Kind::RunStart);
    start.config_sha256 = Some(ws.config.digest.clone());
    start.rules_sha256 = Some(ws.rules.digest.clone());
    audit.append(start).await?;

    let stop = stop_on_signal();
    // Queued erasure requests come before retention work (SPEC §5).
    let (requests, invalid) = if takes_requests(opts, shard) {
        crate::dsar::erase::process_pending(ws, opts.as_of, held, &audit, stop.clone()).await?
    } else {
        (Vec::new(), 0)
    };
    let report = execute::enforce(ws, opts, held, &audit, stop).await?;
    let requests_failed = invalid > 0
        || requests
            .iter()
            .any(|e| e.status() == crate::dsar::requests::Status::Failed);

    let mut end = EntryDraft::new(Kind::RunEnd);
    let mut t = totals(&report);
    for e in &requests {
        let c = e.counts();
        t.deleted += c.deleted;
        t.anonymised += c.anonymised;
        t.held += c.held;
        t.locked += c.locked;
        t.failed_targets += c.failed;
    }
    end.totals = Some(t);
    let mut passes: Vec<PassOutcome> = requests
        .iter()
        .flat_map(|e| pass_outcomes(&e.report, Some(&e.ticket)))
        .collect();
    passes.extend(pass_outcomes(&report, None));
    end.passes = Some(passes);
    // A run whose guard refused a target is recorded as refused, never as ok; a failure
    // or an interruption outranks a refusal.
    let outcome = if report.interrupted {
        Outcome::Interrupted
    } else if report.failed() || requests_failed {
        Outcome::Failed
    } else if report.refused() {
        Outcome::Refused
    } else {
        Outcome::Ok
    };
    end.outcome = Some(outcome);
    audit.append(end).await?;
    audit.finish().await?;
    // The runs table's status, in its own words.
    let s = match outcome {
        Outcome::Interrupted => "interrupted",
        Outcome::Failed => "failed",
        Outcome::Refused => "refused",
        _ => "done",
    };
    crate::state::runs::finish(state, run_id, s).await?;
    Ok((report, requests, invalid))
}

/// What each pass of `report` planned (its inventory before its batches) and did, for
/// the `run_end` entry.
pub fn pass_outcomes(report: &Report, ticket: Option<&str>) -> Vec<PassOutcome> {
    report
        .passes
        .iter()
        .map(|p| PassOutcome {
            category: p.category.clone(),
            store: p.store.clone(),
            target: p.target.clone(),
            action: p.action,
            reason: p.reason,
            ticket: ticket.map(str::to_owned),
            planned: p.inventory.matched,
            done: p.done,
        })
        .collect()
}

fn totals(report: &Report) -> Totals {
    let mut t = Totals::default();
    for p in &report.passes {
        match p.action {
            Action::Delete => t.deleted += p.done,
            Action::Anonymise => t.anonymised += p.done,
            Action::Keep => {}
        }
        t.held += p.inventory.held;
        t.locked += p.inventory.locked;
        if p.error.is_some() {
            t.failed_targets += 1;
        }
    }
    t
}

/// Exit status: a failure (1) outranks a refusal (3); an interrupted run is a failure.
pub fn status(report: &Report) -> Status {
    if report.failed() || report.interrupted {
        Status::Failed
    } else if report.refused() {
        Status::Refused
    } else {
        Status::Done
    }
}
