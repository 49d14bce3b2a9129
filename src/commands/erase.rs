//! `retention erase (--subject ID | --email E | --phone P) --ticket T [--dry-run]`: erase
//! one subject now, in every category, under the run lock, with its own run in the audit
//! log (`run_start`, the batches, one `request` entry, `run_end`).

use crate::audit::{AuditLog, EntryDraft, Kind, Outcome, Totals};
use crate::cli::EraseArgs;
use crate::config::Config;
use crate::dsar::erase::{self, Erasure};
use crate::dsar::lookup::{self, By};
use crate::dsar::requests::{self, BadRequest, Status as RequestStatus};
use crate::exit::{Refusal, Status};
use crate::rules::RuleSet;
use crate::state::lock::RunLock;
use crate::workspace::Workspace;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::Path;

pub async fn run(config: &Path, args: EraseArgs) -> Result<Status> {
    let (config, rules) = super::load(config)?;
    let mut out = Vec::new();
    let status = run_loaded(config, rules, args, &mut out).await;
    crate::output::bytes(&out)?;
    status
}

/// Runs `erase` against a loaded configuration, writing the report to `out`.
pub async fn run_loaded(
    config: Config,
    rules: RuleSet,
    args: EraseArgs,
    out: &mut Vec<u8>,
) -> Result<Status> {
    // The ticket is checked before anything connects, so a bad one changes nothing.
    requests::validate(&args.ticket, "-").map_err(|e| Refusal::Invalid(e.to_string()))?;
    let ws = Workspace::connect(config, rules).await?;
    let subject = match (&args.subject, &args.email, &args.phone) {
        (Some(s), _, _) => s.clone(),
        (None, Some(e), _) => lookup::resolve(&ws, By::Email, e).await?,
        (None, None, Some(p)) => lookup::resolve(&ws, By::Phone, p).await?,
        (None, None, None) => {
            return Err(
                Refusal::Invalid("say whom to erase: --subject, --email or --phone".into()).into(),
            )
        }
    };
    requests::validate(&args.ticket, &subject).map_err(|e| Refusal::Invalid(e.to_string()))?;
    let as_of = Utc::now();
    for (name, pool) in &ws.sql {
        crate::state::runs::check_clock(name, pool, as_of).await?;
    }
    let state = ws.state()?;
    let opts = erase::request_options(as_of);

    if args.dry_run {
        let migrated = crate::state::is_migrated(state).await?;
        let held = match migrated {
            true => crate::state::holds::in_force(state, as_of).await?,
            false => {
                writeln!(out, "{}\n", crate::state::NOT_MIGRATED)?;
                Vec::new()
            }
        };
        let e = erase::survey(&ws, &opts, &subject, &args.ticket, &held).await?;
        out.extend_from_slice(e.render_text().as_bytes());
        return Ok(status(&e));
    }
    crate::state::require_migrated(&ws.config.state, state).await?;
    let held = crate::state::holds::in_force(state, as_of).await?;

    if let Some(existing) = requests::find(state, &args.ticket).await? {
        if existing.subject != subject {
            return Err(Refusal::Invalid(
                BadRequest::OtherSubject(args.ticket.clone()).to_string(),
            )
            .into());
        }
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    // The same lock as `run`: an erasure and a retention run never interleave batches.
    let lock = RunLock::acquire(state, "run", &run_id).await?;
    let span = tracing::info_span!("run", run_id = %run_id);
    let result = tracing::Instrument::instrument(
        erase_in_run(&ws, &subject, &args.ticket, &held, as_of, &run_id),
        span,
    )
    .await;
    lock.release().await?;
    let e = result?;
    out.extend_from_slice(e.render_text().as_bytes());
    if e.report.interrupted {
        writeln!(
            out,
            "\nRun {run_id} was interrupted; run the same `erase` again to continue."
        )?;
    } else {
        writeln!(out, "\nRun {run_id} finished.")?;
    }
    Ok(status(&e))
}

async fn erase_in_run(
    ws: &Workspace,
    subject: &str,
    ticket: &str,
    held: &[String],
    as_of: DateTime<Utc>,
    run_id: &str,
) -> Result<Erasure> {
    let state = ws.state()?;
    let audit = AuditLog::open(&ws.config.audit, state.clone(), run_id.to_owned(), false).await?;
    crate::state::runs::start(state, run_id, as_of, "erase", None).await?;
    let mut start = EntryDraft::new(Kind::RunStart);
    start.config_sha256 = Some(ws.config.digest.clone());
    start.rules_sha256 = Some(ws.rules.digest.clone());
    audit.append(start).await?;

    let stop = super::run::stop_on_signal();
    let opts = erase::request_options(as_of);
    let e = erase::apply(ws, &opts, subject, ticket, held, &audit, stop).await?;

    let c = e.counts();
    let mut end = EntryDraft::new(Kind::RunEnd);
    end.totals = Some(Totals {
        deleted: c.deleted,
        anonymised: c.anonymised,
        held: c.held,
        locked: c.locked,
        failed_targets: c.failed,
    });
    end.passes = Some(super::run::pass_outcomes(&e.report, Some(ticket)));
    end.outcome = Some(match e.status() {
        RequestStatus::Failed if e.report.interrupted => Outcome::Interrupted,
        RequestStatus::Failed => Outcome::Failed,
        _ => Outcome::Ok,
    });
    audit.append(end).await?;
    audit.finish().await?;
    let s = match e.status() {
        RequestStatus::Failed if e.report.interrupted => "interrupted",
        RequestStatus::Failed => "failed",
        _ => "done",
    };
    crate::state::runs::finish(state, run_id, s).await?;
    Ok(e)
}

/// Exit status of an erasure: 1 when a target failed or the run was interrupted. Held and
/// locked records are reported, not failures.
pub fn status(e: &Erasure) -> Status {
    match e.status() {
        RequestStatus::Failed => Status::Failed,
        _ => Status::Done,
    }
}
