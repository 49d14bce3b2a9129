//! `retention hold add --subject ID --reason TEXT [--until TIME] | hold remove --subject ID
//! | hold list`: legal holds. A held subject's records are never deleted or anonymised.
//! Adding and removing a hold each write a `hold` audit entry (never the reason).

use crate::cli::HoldCommand;
use crate::config::Config;
use crate::dsar::holds;
use crate::exit::{Refusal, Status};
use anyhow::Result;
use chrono::Utc;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

pub async fn run(config: &Path, cmd: HoldCommand) -> Result<Status> {
    let config = super::load_config(config)?;
    let mut out = Vec::new();
    let status = run_loaded(&config, cmd, &mut out).await;
    crate::output::bytes(&out)?;
    status
}

/// Runs a `hold` subcommand against a loaded configuration, writing to `out`.
pub async fn run_loaded(config: &Config, cmd: HoldCommand, out: &mut Vec<u8>) -> Result<Status> {
    let now = Utc::now();
    match cmd {
        HoldCommand::Add {
            subject,
            reason,
            until,
        } => {
            holds::validate(&subject, &reason).map_err(|e| Refusal::Invalid(e.to_string()))?;
            let until = match until {
                None => None,
                Some(s) => {
                    let t = crate::time::parse_instant(&s)
                        .map_err(|e| Refusal::Invalid(format!("--until: {e}")))?;
                    // A date alone holds through that day: the hold lapses as it ends.
                    let date_only = {
                        let b = s.trim().as_bytes();
                        b.len() == 10 && b[4] == b'-' && b[7] == b'-'
                    };
                    let t = if date_only {
                        t + chrono::Duration::days(1)
                    } else {
                        t
                    };
                    if t <= now {
                        return Err(Refusal::Invalid(format!(
                            "--until: {} has already passed; a hold must end in the future",
                            crate::time::rfc3339(t)
                        ))
                        .into());
                    }
                    Some(t)
                }
            };
            let pool = super::state_pool(config).await?;
            let audit = super::audit_log(config, &pool).await?;
            // Adding a hold to a held subject replaces its reason and expiry, and says so
            // (the old hold is in the audit log).
            let previous = holds::list(&pool)
                .await?
                .into_iter()
                .find(|h| h.subject == subject);
            holds::add(&pool, &audit, &subject, &reason, until, now).await?;
            // A run in progress reads the holds again before each batch of a table, and
            // before each page of objects: what it changes from then on keeps this hold.
            if let Ok(runs) = crate::state::lock::runs_in_progress(&pool).await {
                if let Some(run) = runs.first() {
                    tracing::warn!(
                        run = %run,
                        "A run is in progress: it keeps this subject's records from its next batch (or page of objects) on; a batch already under way when the hold was added may still finish."
                    );
                }
            }
            let lasts = |u: Option<chrono::DateTime<Utc>>| match u {
                Some(t) => format!("until {}", crate::time::rfc3339(t)),
                None => "until it is removed".to_owned(),
            };
            match previous {
                Some(old) => writeln!(
                    out,
                    "Hold replaced: the subject was already held {} (reason: {}); the hold now \
                     lasts {} (reason: {}).",
                    match old.until {
                        Some(t) if t <= now =>
                            format!("until {} (lapsed)", crate::time::rfc3339(t)),
                        u => lasts(u),
                    },
                    old.reason,
                    lasts(until),
                    reason
                )?,
                None => writeln!(out, "Hold added {}.", lasts(until))?,
            }
            Ok(Status::Done)
        }
        HoldCommand::Remove { subject } => {
            let pool = super::state_pool(config).await?;
            let audit = super::audit_log(config, &pool).await?;
            if holds::remove(&pool, &audit, &subject).await? {
                writeln!(out, "Hold removed.")?;
                Ok(Status::Done)
            } else {
                writeln!(out, "No hold to remove: that subject is not held.")?;
                Ok(Status::Failed)
            }
        }
        HoldCommand::List => {
            let pool = super::state_pool(config).await?;
            let list = holds::list(&pool).await?;
            out.extend_from_slice(render(&list, now).as_bytes());
            Ok(Status::Done)
        }
    }
}

fn render(list: &[holds::Hold], now: chrono::DateTime<Utc>) -> String {
    let t = |v: Option<chrono::DateTime<Utc>>, none: &str| {
        v.map(crate::time::rfc3339).unwrap_or_else(|| none.into())
    };
    let mut rows = vec![["subject", "until", "created", "state", "reason"].map(str::to_owned)];
    for h in list {
        let state = match h.until {
            Some(u) if u <= now => "lapsed",
            _ => "in force",
        };
        rows.push([
            h.subject.clone(),
            t(h.until, "indefinite"),
            t(h.created_at, "-"),
            state.to_owned(),
            h.reason.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        crate::report::text::plural(list.len() as u64, "hold", "holds")
    );
    out
}
