//! `retention request add --subject ID --ticket T | request list`: the erasure request
//! queue that `run` processes before retention work (docs/requests.md). Queueing writes a
//! `request_queued` audit entry with the row.

use crate::cli::RequestCommand;
use crate::config::Config;
use crate::dsar::requests::{self, BadRequest};
use crate::exit::{Refusal, Status};
use anyhow::Result;
use chrono::Utc;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

pub async fn run(config: &Path, cmd: RequestCommand) -> Result<Status> {
    let config = super::load_config(config)?;
    let mut out = Vec::new();
    let status = run_loaded(&config, cmd, &mut out).await;
    crate::output::bytes(&out)?;
    status
}

/// Runs a `request` subcommand against a loaded configuration, writing to `out`.
pub async fn run_loaded(config: &Config, cmd: RequestCommand, out: &mut Vec<u8>) -> Result<Status> {
    match cmd {
        RequestCommand::Add { subject, ticket } => {
            requests::validate(&ticket, &subject).map_err(|e| Refusal::Invalid(e.to_string()))?;
            let pool = super::state_pool(config).await?;
            let audit = super::audit_log(config, &pool).await?;
            match requests::add(&pool, &audit, &ticket, &subject, Utc::now()).await {
                Ok(()) => {}
                Err(e) => {
                    return match e.downcast::<BadRequest>() {
                        Ok(bad) => Err(Refusal::Invalid(bad.to_string()).into()),
                        Err(e) => Err(e),
                    }
                }
            }
            writeln!(
                out,
                "Queued erasure request {ticket}; the next `retention run` processes it."
            )?;
            Ok(Status::Done)
        }
        RequestCommand::List => {
            let pool = super::state_pool(config).await?;
            let list = requests::list(&pool).await?;
            out.extend_from_slice(render(&list).as_bytes());
            Ok(Status::Done)
        }
    }
}

/// A stored outcome (`{"status":…,"deleted":3,"held":1,"reason":"held",…}`) as words:
/// `deleted 3, held 1; reason held`. Status and run have columns of their own; zero counts
/// are left out; text that is not such an object is shown as it is.
fn readable_outcome(stored: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(stored)
    else {
        return stored.to_owned();
    };
    let mut counts = Vec::new();
    let mut notes = Vec::new();
    for (key, value) in &map {
        match (key.as_str(), value) {
            ("status" | "run_id", _) => {}
            (_, serde_json::Value::Number(n)) if n.as_u64() == Some(0) => {}
            (_, serde_json::Value::Number(n)) => counts.push(format!("{key} {n}")),
            (_, serde_json::Value::String(v)) => notes.push(format!("{key} {v}")),
            (_, serde_json::Value::Null) => {}
            (_, other) => notes.push(format!("{key} {other}")),
        }
    }
    let mut text = if counts.is_empty() {
        "nothing changed".to_owned()
    } else {
        counts.join(", ")
    };
    if !notes.is_empty() {
        text.push_str("; ");
        text.push_str(&notes.join("; "));
    }
    text
}

fn render(list: &[requests::Request]) -> String {
    let t = |v: Option<chrono::DateTime<Utc>>| {
        v.map(crate::time::rfc3339).unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "ticket",
        "subject",
        "status",
        "created",
        "processed",
        "run",
        "outcome",
    ]
    .map(str::to_owned)];
    for r in list {
        rows.push([
            r.ticket.clone(),
            r.subject.clone(),
            r.status.clone(),
            t(r.created_at),
            t(r.processed_at),
            r.run_id.clone().unwrap_or_else(|| "-".into()),
            r.outcome
                .as_deref()
                .map_or_else(|| "-".into(), readable_outcome),
        ]);
    }
    let widths: Vec<usize> = (0..7)
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
        crate::report::text::plural(list.len() as u64, "request", "requests")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::readable_outcome;

    #[test]
    fn a_stored_outcome_reads_as_words() {
        assert_eq!(
            readable_outcome(
                r#"{"status":"partial","reason":"held","deleted":3,"anonymised":0,"held":1,"run_id":"r"}"#
            ),
            "deleted 3, held 1; reason held"
        );
        assert_eq!(
            readable_outcome(r#"{"status":"done","deleted":0}"#),
            "nothing changed"
        );
        assert_eq!(readable_outcome("not json"), "not json");
    }
}
