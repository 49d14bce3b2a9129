//! `retention plan`: what a run would do, touching nothing.

use crate::cli::{PlanArgs, ReportFormat};
use crate::execute::{self, Options};
use crate::exit::{Refusal, Status};
use crate::report::{self, CategoryInfo, Extras, PendingRequest};
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use chrono::Utc;
use std::path::Path;

pub async fn run(config: &Path, args: PlanArgs) -> Result<Status> {
    let as_of = match &args.as_of {
        Some(s) => {
            crate::time::parse_instant(s).map_err(|e| Refusal::Invalid(format!("--as-of: {e}")))?
        }
        None => Utc::now(),
    };
    let (config, rules) = super::load(config)?;
    let ws = Workspace::connect(config, rules).await?;
    // Before `migrate` the state store has no tables: no holds, no requests, said so.
    let migrated = crate::state::is_migrated(ws.state()?).await?;
    let held = match migrated {
        true => crate::state::holds::in_force(ws.state()?, as_of).await?,
        false => Vec::new(),
    };
    let opts = Options {
        as_of,
        rules: args.rules.clone(),
        shard: None,
        allow_mass_delete: false,
    };
    let report = execute::survey(&ws, &opts, &held).await?;
    let requests = match migrated {
        true => pending_requests(&ws, &opts, &held).await?,
        false => Vec::new(),
    };
    let text = match args.format {
        ReportFormat::Text => {
            let note = match migrated {
                true => String::new(),
                false => format!("{}\n\n", crate::state::NOT_MIGRATED),
            };
            note + &report::text::plan(&report)
                + &report::requests::text(&requests, as_of, ws.config.requests.deadline)
        }
        ReportFormat::Json => {
            serde_json::to_string_pretty(&report::json::plan_with_requests(&report, &requests))?
                + "\n"
        }
        ReportFormat::Csv => report::csv::plan(&report),
        ReportFormat::Md | ReportFormat::Html => {
            let extras = Extras {
                categories: ws
                    .selected_rules(&opts.rules)?
                    .into_iter()
                    .map(CategoryInfo::from_rule)
                    .collect(),
                requests: Some(requests),
                holds: Some(match migrated {
                    true => crate::state::holds::reasons_in_force(ws.state()?, as_of).await?,
                    false => Vec::new(),
                }),
                problems: match migrated {
                    true => Vec::new(),
                    false => vec![report::RuleProblem {
                        severity: report::Severity::Warning,
                        message: crate::state::NOT_MIGRATED.to_owned(),
                    }],
                },
                coverage: Some(crate::coverage::survey(&ws).await),
            };
            if args.format == ReportFormat::Md {
                report::md::plan(&report, &extras)
            } else {
                report::html::plan(&report, &extras)
            }
        }
    };
    if !migrated && matches!(args.format, ReportFormat::Json | ReportFormat::Csv) {
        crate::logging::note(crate::state::NOT_MIGRATED);
    }
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the plan to {}", path.display()))?,
        None => crate::out!("{text}")?,
    }
    Ok(if report.failed() {
        Status::Failed
    } else {
        Status::Done
    })
}

/// The erasure requests waiting in the queue, oldest first, each with what erasing its
/// subject would touch (surveyed the way `erase --dry-run` does, touching nothing) and its
/// due date under `requests.deadline`. Reports show them by ticket only.
pub async fn pending_requests(
    ws: &Workspace,
    opts: &Options,
    held: &[String],
) -> Result<Vec<PendingRequest>> {
    let deadline = ws.config.requests.deadline;
    // A request reaches every category, whatever `--rule` selects.
    let all = crate::dsar::erase::request_options(opts.as_of);
    let mut out = Vec::new();
    for r in crate::dsar::requests::pending(ws.state()?).await? {
        let created = r.created_at.unwrap_or(opts.as_of);
        let survey = if crate::dsar::requests::validate(&r.ticket, &r.subject).is_ok() {
            Some(execute::survey_request(ws, &all, &r.subject, held).await?)
        } else {
            None
        };
        out.push(PendingRequest::new(
            &r.ticket,
            created,
            deadline,
            survey.as_ref(),
        ));
    }
    Ok(out)
}
