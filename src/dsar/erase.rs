//! Erasing one subject: an erasure request run through the executor, turned into an
//! outcome a person and a ticketing system can read.
//!
//! Every rule's `on_erasure` applies to every target that can be tied to the subject:
//! `delete` and `anonymise` become request passes (children first, through `via` hops),
//! `keep` is reported as kept with the rule's `keep_reason`. A held subject's records are
//! counted, never touched. The request ends with one `request` audit entry carrying the
//! ticket and the subject's pseudonym, so `audit show --ticket T` tells the whole story.
//! A second erasure of the same subject finds nothing and changes nothing.

use super::requests::{self, Status};
use crate::audit::{AuditLog, EntryDraft, Kind, Outcome, Pseudonymiser, Reason};
use crate::execute::{self, Options, Report};
use crate::rules::{Action, Rule};
use crate::workspace::Workspace;
use anyhow::Result;
use secrecy::ExposeSecret;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A target whose rule keeps the subject's data on erasure, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub category: String,
    pub store: String,
    pub target: String,
    pub reason: String,
}

/// One erasure request's result.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub ticket: String,
    /// The subject's pseudonym: what reports and logs may show.
    pub subject_pseudonym: String,
    pub dry_run: bool,
    pub report: Report,
    pub kept: Vec<Kept>,
}

/// The totals of an erasure, as stored in `retention_requests.outcome` (docs/requests.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub deleted: u64,
    pub anonymised: u64,
    /// Records left because the subject is under legal hold.
    pub held: u64,
    /// Records left because something still references them, or Object Lock protects them.
    pub locked: u64,
    /// Targets kept by an `on_erasure: keep` rule.
    pub kept: u64,
    /// Targets that failed.
    pub failed: u64,
}

#[derive(Serialize)]
struct OutcomeJson<'a> {
    status: &'static str,
    reason: Option<&'static str>,
    #[serde(flatten)]
    counts: Counts,
    run_id: Option<&'a str>,
}

impl Erasure {
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            kept: self.kept.len() as u64,
            ..Default::default()
        };
        for p in &self.report.passes {
            let n = if self.dry_run {
                p.inventory.matched
            } else {
                p.done
            };
            match p.action {
                Action::Delete => c.deleted += n,
                Action::Anonymise => c.anonymised += n,
                Action::Keep => {}
            }
            c.held += p.inventory.held;
            c.locked += p.inventory.locked;
            if p.error.is_some() {
                c.failed += 1;
            }
        }
        c
    }

    /// `done`, `partial` (held or locked records remain) or `failed`.
    pub fn status(&self) -> Status {
        let c = self.counts();
        if c.failed > 0 || self.report.interrupted {
            Status::Failed
        } else if c.held > 0 || c.locked > 0 {
            Status::Partial
        } else {
            Status::Done
        }
    }

    /// The reason class behind a status other than `done`.
    pub fn reason(&self) -> Option<&'static str> {
        let c = self.counts();
        if self.report.interrupted {
            Some("interrupted")
        } else if c.failed > 0 {
            Some("target_failed")
        } else if c.held > 0 && c.locked > 0 {
            Some("held_and_locked")
        } else if c.held > 0 {
            Some("held")
        } else if c.locked > 0 {
            Some("locked")
        } else {
            None
        }
    }

    /// The outcome as one JSON object (no subject id, no row data).
    pub fn outcome_json(&self) -> String {
        let o = OutcomeJson {
            status: self.status().as_str(),
            reason: self.reason(),
            counts: self.counts(),
            run_id: self.report.run_id.as_deref(),
        };
        serde_json::to_string(&o).unwrap_or_else(|_| "{}".to_owned())
    }

    fn audit_outcome(&self) -> Outcome {
        match self.status() {
            Status::Failed => Outcome::Failed,
            Status::Partial => Outcome::Partial,
            _ => Outcome::Ok,
        }
    }

    /// The per-category result: one line per target and result, kept targets with their
    /// reason, then the totals.
    pub fn render_text(&self) -> String {
        let mut rows: Vec<[String; 5]> = Vec::new();
        let (erased, anonymised) = if self.dry_run {
            ("to erase", "to anonymise")
        } else {
            ("erased", "anonymised")
        };
        for p in &self.report.passes {
            let place = format!("{}/{}", p.store, p.target);
            let mut row = |result: &str, n: String, note: String| {
                rows.push([
                    p.category.clone(),
                    place.clone(),
                    result.to_owned(),
                    n,
                    note,
                ]);
            };
            let n = if self.dry_run {
                p.inventory.matched
            } else {
                p.done
            };
            if let Some(e) = &p.error {
                row("failed", "-".into(), e.clone());
                continue;
            }
            let mut any = false;
            if n > 0 {
                let label = match p.action {
                    Action::Anonymise => anonymised,
                    _ => erased,
                };
                row(label, n.to_string(), String::new());
                any = true;
            }
            if p.inventory.held > 0 {
                row("held", p.inventory.held.to_string(), "legal hold".into());
                any = true;
            }
            if p.inventory.locked > 0 {
                let note = if self.dry_run {
                    "still referenced by child rows; erased after them unless they are kept"
                } else {
                    "still referenced by other rows, or under Object Lock"
                };
                row("locked", p.inventory.locked.to_string(), note.into());
                any = true;
            }
            if !any {
                row("nothing found", "0".into(), String::new());
            }
        }
        for k in &self.kept {
            rows.push([
                k.category.clone(),
                format!("{}/{}", k.store, k.target),
                "kept".into(),
                "-".into(),
                k.reason.clone(),
            ]);
        }
        let mut out = String::new();
        if self.dry_run {
            out.push_str("Dry run: nothing was changed.\n\n");
        }
        let _ = writeln!(
            out,
            "Erasure request {} for subject {}: {}{}\n",
            self.ticket,
            self.subject_pseudonym,
            if self.dry_run { "would be " } else { "" },
            match self.reason() {
                Some(r) => format!("{} ({r})", self.status().as_str()),
                None => self.status().as_str().to_owned(),
            }
        );
        let header = ["category", "target", "result", "records", "note"].map(str::to_owned);
        let all: Vec<&[String; 5]> = std::iter::once(&header).chain(rows.iter()).collect();
        let widths: Vec<usize> = (0..5)
            .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &all {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let c = self.counts();
        let _ = writeln!(
            out,
            "\n{} {}, {} {}, {} held, {} locked, {} kept, {} failed",
            c.deleted, erased, c.anonymised, anonymised, c.held, c.locked, c.kept, c.failed
        );
        out
    }
}

/// The targets that rules keep on erasure (and that can be tied to a subject at all).
pub fn kept_targets(rules: &[Rule]) -> Vec<Kept> {
    rules
        .iter()
        .filter(|r| r.on_erasure == Action::Keep)
        .flat_map(|r| {
            r.targets.iter().filter(|t| t.has_subject()).map(|t| Kept {
                category: r.category.clone(),
                store: t.store().to_owned(),
                target: t.name().to_owned(),
                reason: r.keep_reason.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Options for a request: every rule, no shard (a request is about one subject, however
/// the run is split), the run's clock.
pub fn request_options(as_of: chrono::DateTime<chrono::Utc>) -> Options {
    Options {
        as_of,
        rules: Vec::new(),
        shard: None,
        allow_mass_delete: false,
    }
}

/// Counts what erasing `subject` would do, touching nothing.
pub async fn survey(
    ws: &Workspace,
    opts: &Options,
    subject: &str,
    ticket: &str,
    held: &[String],
) -> Result<Erasure> {
    let report = execute::survey_request(ws, opts, subject, held).await?;
    let pseudonyms = Pseudonymiser::new(ws.config.audit.pseudonym_key.expose_secret().as_bytes());
    Ok(Erasure {
        ticket: ticket.to_owned(),
        subject_pseudonym: pseudonyms.subject(subject),
        dry_run: true,
        report,
        kept: kept_targets(&ws.rules.rules),
    })
}

/// Erases `subject` for `ticket` within the caller's run (its lock, `run_start` and
/// `run_end` are the caller's), writes the `request` entry, and records the outcome in
/// `retention_requests`.
pub async fn apply(
    ws: &Workspace,
    opts: &Options,
    subject: &str,
    ticket: &str,
    held: &[String],
    audit: &AuditLog,
    stop: Arc<AtomicBool>,
) -> Result<Erasure> {
    let report = execute::enforce_request(ws, opts, subject, ticket, held, audit, stop).await?;
    let erasure = Erasure {
        ticket: ticket.to_owned(),
        subject_pseudonym: audit.pseudonym(subject),
        dry_run: false,
        report,
        kept: kept_targets(&ws.rules.rules),
    };
    // What the rules keep is part of what was done for the request: one `skip` entry per
    // kept target (names only; the reason is the rule's, which `rule_sha256` of the run's
    // start fixes), so the certificate shows it next to what was erased.
    for k in &erasure.kept {
        let mut kept = EntryDraft::new(Kind::Skip);
        kept.action = Some(Action::Keep);
        kept.reason = Some(Reason::Request);
        kept.category = Some(k.category.clone());
        kept.store = Some(k.store.clone());
        kept.target = Some(k.target.clone());
        kept.subject = Some(erasure.subject_pseudonym.clone());
        kept.ticket = Some(ticket.to_owned());
        kept.outcome = Some(Outcome::Kept);
        audit.append(kept).await?;
    }
    let c = erasure.counts();
    let mut entry = EntryDraft::new(Kind::Request);
    entry.reason = Some(Reason::Request);
    entry.subject = Some(erasure.subject_pseudonym.clone());
    entry.ticket = Some(ticket.to_owned());
    entry.count = Some(c.deleted + c.anonymised);
    entry.held = Some(c.held);
    entry.locked = Some(c.locked);
    entry.outcome = Some(erasure.audit_outcome());
    audit.append(entry).await?;
    requests::record(
        ws.state()?,
        ticket,
        subject,
        erasure.status(),
        audit.run_id(),
        &erasure.outcome_json(),
        chrono::Utc::now(),
    )
    .await?;
    tracing::info!(
        ticket,
        status = erasure.status().as_str(),
        deleted = c.deleted,
        anonymised = c.anonymised,
        held = c.held,
        locked = c.locked,
        "Processed an erasure request."
    );
    Ok(erasure)
}

/// Processes every pending request in the queue, oldest first, within the caller's run.
/// A request that fails is recorded as failed and the others still run; so is one whose
/// ticket or subject is invalid (a row written by hand), which is counted (the second
/// value) so the run can fail without naming it.
pub async fn process_pending(
    ws: &Workspace,
    as_of: chrono::DateTime<chrono::Utc>,
    held: &[String],
    audit: &AuditLog,
    stop: Arc<AtomicBool>,
) -> Result<(Vec<Erasure>, usize)> {
    let opts = request_options(as_of);
    // The log shows every request's arrival and every hold's lapse before the work.
    requests::audit_queued(ws.state()?, audit).await?;
    super::holds::audit_lapsed(ws.state()?, audit, as_of).await?;
    let (mut done, mut invalid) = (Vec::new(), 0);
    for r in requests::pending(ws.state()?).await? {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        if requests::validate(&r.ticket, &r.subject).is_err() {
            // A row inserted by hand without a subject: record why, carry on.
            requests::record(
                ws.state()?,
                &r.ticket,
                &r.subject,
                Status::Failed,
                audit.run_id(),
                r#"{"status":"failed","reason":"invalid_request"}"#,
                chrono::Utc::now(),
            )
            .await?;
            invalid += 1;
            continue;
        }
        done.push(apply(ws, &opts, &r.subject, &r.ticket, held, audit, stop.clone()).await?);
    }
    Ok((done, invalid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::PassReport;
    use crate::plan::{Guard, Inventory};

    fn pass(action: Action, done: u64, held: u64, locked: u64) -> PassReport {
        PassReport {
            category: "c".into(),
            source: String::new(),
            retain: "30d".into(),
            store: "app".into(),
            target: "t".into(),
            action,
            reason: Reason::Request,
            cutoff: None,
            inventory: Inventory {
                matched: done,
                held,
                locked,
                ..Default::default()
            },
            guard: Guard::Ok,
            done,
            batches: 1,
            error: None,
        }
    }

    fn erasure(passes: Vec<PassReport>) -> Erasure {
        Erasure {
            ticket: "T-1".into(),
            subject_pseudonym: "hmac:x:y".into(),
            dry_run: false,
            report: Report {
                passes,
                ..Default::default()
            },
            kept: vec![],
        }
    }

    #[test]
    fn the_status_says_done_partial_or_failed_with_the_reason() {
        let e = erasure(vec![
            pass(Action::Delete, 3, 0, 0),
            pass(Action::Anonymise, 2, 0, 0),
        ]);
        assert_eq!((e.status(), e.reason()), (Status::Done, None));
        let e = erasure(vec![pass(Action::Delete, 0, 4, 0)]);
        assert_eq!((e.status(), e.reason()), (Status::Partial, Some("held")));
        let e = erasure(vec![pass(Action::Delete, 1, 0, 1)]);
        assert_eq!((e.status(), e.reason()), (Status::Partial, Some("locked")));
        let mut failed = pass(Action::Delete, 0, 0, 0);
        failed.error = Some("table `x` does not exist".into());
        let e = erasure(vec![pass(Action::Delete, 0, 4, 0), failed]);
        assert_eq!(
            (e.status(), e.reason()),
            (Status::Failed, Some("target_failed"))
        );
    }

    #[test]
    fn the_stored_outcome_is_json_with_counts_and_no_subject() {
        let e = erasure(vec![
            pass(Action::Delete, 3, 0, 0),
            pass(Action::Anonymise, 2, 1, 0),
        ]);
        let v: serde_json::Value = serde_json::from_str(&e.outcome_json()).unwrap();
        assert_eq!(v["status"], "partial");
        assert_eq!(v["reason"], "held");
        assert_eq!(v["deleted"], 3);
        assert_eq!(v["anonymised"], 2);
        assert_eq!(v["held"], 1);
        assert!(!e.outcome_json().contains("hmac"));
    }
}
