//! Audit entries: the allow-listed fields and their exact serialisation.

use crate::rules::Action;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The kind of an entry (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    RunStart,
    Batch,
    Skip,
    Request,
    RunEnd,
    /// A legal hold added, removed or lapsed (`hold`, `until`).
    Hold,
    /// An erasure request queued for a later run (`ticket`, `queued_at`).
    RequestQueued,
}

/// What happened to a legal hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldEvent {
    /// Put in place, or its end changed (`until`).
    Added,
    /// Lifted by `hold remove`.
    Removed,
    /// Its `until` passed; a run noticed.
    Expired,
}

/// Why records were selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Expired,
    Flagged,
    Request,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Expired => "expired",
            Reason::Flagged => "flagged",
            Reason::Request => "request",
        }
    }
}

/// What became of the action. `intent` is written before a batch on a store other than
/// the state store; its outcome follows in a second entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Intent,
    Failed,
    Held,
    Locked,
    Refused,
    Partial,
    Interrupted,
    /// An erasure left a category alone because its rule keeps it (`on_erasure: keep`,
    /// with the rule's `keep_reason`): a `skip` entry per kept target.
    Kept,
}

/// Totals recorded at `run_end`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub deleted: u64,
    pub anonymised: u64,
    pub held: u64,
    pub locked: u64,
    pub failed_targets: u64,
}

/// What one pass planned and did, recorded at `run_end` so a run report can set the
/// figure the pass's inventory promised (taken just before its batches) against what its
/// batches changed. Names and counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassOutcome {
    pub category: String,
    pub store: String,
    pub target: String,
    pub action: Action,
    pub reason: Reason,
    /// The erasure request's ticket, for request passes.
    pub ticket: Option<String>,
    /// Records the pass's inventory matched before its batches ran.
    pub planned: u64,
    /// Records its batches changed.
    pub done: u64,
}

/// Everything an entry may say, before it is sealed with `seq`, `time`, `run` and `prev`.
#[derive(Debug, Clone, Default)]
pub struct EntryDraft {
    pub kind: Option<Kind>,
    pub action: Option<Action>,
    pub reason: Option<Reason>,
    pub category: Option<String>,
    pub rule_sha256: Option<String>,
    pub store: Option<String>,
    pub target: Option<String>,
    pub cutoff: Option<DateTime<Utc>>,
    pub count: Option<u64>,
    /// `sha256:<hex>` over the affected keys (never the keys themselves).
    pub keys_digest: Option<String>,
    /// A pseudonym from [`super::Pseudonymiser`], never a subject id.
    pub subject: Option<String>,
    pub ticket: Option<String>,
    pub outcome: Option<Outcome>,
    /// Held and locked counts (`skip`, `request`).
    pub held: Option<u64>,
    pub locked: Option<u64>,
    /// `run_start`: digests of the config file and the rule set.
    pub config_sha256: Option<String>,
    pub rules_sha256: Option<String>,
    /// `run_end`: the run's totals.
    pub totals: Option<Totals>,
    /// `hold`: what happened to the hold, and until when it stands (or stood).
    pub hold: Option<HoldEvent>,
    pub until: Option<DateTime<Utc>>,
    /// `request_queued`: when the request was queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// `run_end`: each pass's planned and changed records.
    pub passes: Option<Vec<PassOutcome>>,
}

impl EntryDraft {
    pub fn new(kind: Kind) -> Self {
        EntryDraft {
            kind: Some(kind),
            outcome: Some(Outcome::Ok),
            ..Default::default()
        }
    }
}

/// The exact field order of an entry line. Serialised once, hashed, stored; never
/// re-serialised.
#[derive(Serialize)]
struct Line<'a> {
    v: u8,
    seq: u64,
    time: String,
    run: &'a str,
    kind: Kind,
    action: Option<Action>,
    reason: Option<Reason>,
    category: Option<&'a str>,
    rule_sha256: Option<&'a str>,
    store: Option<&'a str>,
    target: Option<&'a str>,
    cutoff: Option<String>,
    count: Option<u64>,
    keys_digest: Option<&'a str>,
    subject: Option<&'a str>,
    ticket: Option<&'a str>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    held: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locked: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<Totals>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold: Option<HoldEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued_at: Option<String>,
    passes: Option<&'a [PassOutcome]>,
    dry_run: bool,
    prev: String,
}

/// Serialises a draft into the exact bytes of its line (no trailing newline).
pub fn seal(
    draft: &EntryDraft,
    seq: u64,
    time: DateTime<Utc>,
    run: &str,
    dry_run: bool,
    prev_leaf: Option<&[u8; 32]>,
) -> Vec<u8> {
    let line = Line {
        v: 1,
        seq,
        time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        run,
        kind: draft.kind.unwrap_or(Kind::Batch),
        action: draft.action,
        reason: draft.reason,
        category: draft.category.as_deref(),
        rule_sha256: draft.rule_sha256.as_deref(),
        store: draft.store.as_deref(),
        target: draft.target.as_deref(),
        cutoff: draft.cutoff.map(crate::time::rfc3339),
        count: draft.count,
        keys_digest: draft.keys_digest.as_deref(),
        subject: draft.subject.as_deref(),
        ticket: draft.ticket.as_deref(),
        outcome: draft.outcome.unwrap_or(Outcome::Ok),
        held: draft.held,
        locked: draft.locked,
        config_sha256: draft.config_sha256.as_deref(),
        rules_sha256: draft.rules_sha256.as_deref(),
        totals: draft.totals,
        hold: draft.hold,
        until: draft.until.map(crate::time::rfc3339),
        queued_at: draft.queued_at.map(crate::time::rfc3339),
        passes: draft.passes.as_deref(),
        dry_run,
        prev: match prev_leaf {
            Some(h) => format!("sha256:{}", hex::encode(h)),
            None => "sha256:".to_owned() + &"0".repeat(64),
        },
    };
    serde_json::to_vec(&line).expect("an entry of plain fields always serialises")
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ line).
pub fn leaf_hash(line: &[u8]) -> [u8; 32] {
    super::tree::leaf_hash(line)
}
