//! `retention plan`: what a run would do, touching nothing.

use crate::cli::{PlanArgs, ReportFormat};
use crate::execute::{self, Options};
use crate::exit::{Refusal, Status};
use crate::report::{self, CategoryInfo, Extras};
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
    let pending = match migrated {
        true => crate::dsar::requests::pending(ws.state()?).await?,
        false => Vec::new(),
    };
    let opts = Options {
        as_of,
        rules: args.rules.clone(),
        shard: None,
        allow_mass_delete: false,
    };
    let report = execute::survey(&ws, &opts, &held).await?;
    let text = match args.format {
        ReportFormat::Text if !migrated => {
            format!(
                "{}\n\n{}",
                crate::state::NOT_MIGRATED,
                report::text::plan(&report)
            )
        }
        ReportFormat::Text => report::text::plan(&report),
        ReportFormat::Json => {
            let mut requests = Vec::new();
            for r in &pending {
                let survey = execute::survey_request(&ws, &opts, &r.subject, &held).await?;
                requests.push(report::json::RequestPlan::from_survey(&r.ticket, &survey));
            }
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
                // Pending erasure requests by ticket only: the subject stays out of reports.
                requests: Some(
                    pending
                        .iter()
                        .map(|r| report::PendingRequest {
                            ticket: r.ticket.clone(),
                            created_at: r.created_at.unwrap_or(as_of),
                        })
                        .collect(),
                ),
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
            };
            if args.format == ReportFormat::Md {
                report::md::plan(&report, &extras)
            } else {
                report::html::plan(&report, &extras)
            }
        }
    };
    if !migrated && matches!(args.format, ReportFormat::Json | ReportFormat::Csv) {
        eprintln!("note: {}", crate::state::NOT_MIGRATED);
    }
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the plan to {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(if report.failed() {
        Status::Failed
    } else {
        Status::Done
    })
}
