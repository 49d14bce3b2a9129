//! `audit verify`: rebuilds the Merkle tree from the stored bytes and checks every link,
//! sequence number, checkpoint and signature, naming the first bad `seq` and what kind of
//! damage it is.
//!
//! Lines are never re-serialised: each leaf is hashed from the exact stored bytes, so a
//! `jsonb` round trip that reorders keys shows up as an edit. The core, [`verify_log`], is
//! pure; [`verify`] and [`verify_file`] only read a log and hand it over.
//!
//! How damage is told apart, in the order entries are scanned:
//! - a line that is not an entry, or whose `leaf_hash`/`seq` column disagrees with its
//!   bytes: **edited**;
//! - a `seq` ahead of its position: **reordered** if the missing `seq` appears later,
//!   **removed** if the numbering simply carries on from the later `seq`, otherwise
//!   **edited**;
//! - a `seq` behind its position (a second entry with the same number): **inserted**,
//!   naming the later of the two (a replayed or copied entry) unless the chain goes on
//!   from it, when the earlier one was slipped in before it;
//! - a `prev` that is not the previous leaf: **inserted** if a later entry links to that
//!   previous leaf instead, **edited** (this entry) if the link after it breaks too,
//!   otherwise **edited** (the previous entry);
//! - an edit whose whole chain was rebuilt leaves the links intact, so only a signed
//!   checkpoint catches it: the first `seq` after the last checkpoint that still matches
//!   is named **edited**;
//! - a checkpoint (stored or `--trusted`) larger than the log: **truncated**;
//! - a checkpoint no trusted key signed, or signed for another origin: **bad signature**;
//! - from the first entry the key signed on, an entry whose signature is missing or does
//!   not verify: **forged** (written by someone without the signing key, or changed);
//! - a signed `run_end`, or a signed entry whose `seq` is a multiple of 1,000, without a
//!   valid checkpoint of exactly its size: **missing checkpoint**.
//!
//! What is not damage is reported as a warning with its `seq` range: signed entries that
//! no checkpoint covers yet (a run still going, or killed before its end; the next run's
//! checkpoint covers them), and entries before the first signed one (written before a
//! signing key was configured, or by a version that did not sign entries: no signature
//! authenticates them, and a checkpoint over them only shows they did not change since).
//!
//! Without a verifier key nothing can be authenticated: the report says so loudly, and
//! only the shape of signatures is looked at (an entry without one after signed entries is
//! still reported as forged).

use super::checkpoint::{self, Opened, Verifiers};
use super::entry_sig;
use super::sql::{StoredEntry, StoredLog};
use super::tree::{leaf_hash, Frontier, Hash};
use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

/// The kinds of damage `audit verify` names (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    Edited,
    Removed,
    Reordered,
    Inserted,
    Truncated,
    BadSignature,
    Forged,
    MissingCheckpoint,
    /// The head row records fewer entries than the log holds, and those beyond it are
    /// authentic: the head was moved back; no entry or checkpoint is at fault.
    HeadMovedBack,
    /// The `--trusted` checkpoint names another origin than this log's: this is not the
    /// log it vouches for.
    OtherLog,
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DamageKind::Edited => "edited",
            DamageKind::Removed => "removed",
            DamageKind::Reordered => "reordered",
            DamageKind::Inserted => "inserted",
            DamageKind::Truncated => "truncated after a checkpoint",
            DamageKind::BadSignature => "bad signature",
            DamageKind::Forged => "forged (not authenticated by the signing key)",
            DamageKind::MissingCheckpoint => "missing checkpoint",
            DamageKind::HeadMovedBack => "head moved back",
            DamageKind::OtherLog => "not the trusted checkpoint's log",
        })
    }
}

/// The first damage found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// The first `seq` that cannot be trusted.
    pub seq: u64,
    pub kind: DamageKind,
    pub detail: String,
}

/// What is not damage but must not pass silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Signed entries that no checkpoint covers yet.
    Uncovered,
    /// Entries before the first signed one.
    Unauthenticated,
    /// An `intent` entry with no outcome after it: a run stopped (or was killed) between
    /// them, so the batch it announced may or may not have happened — or a partition
    /// kept detached (`partitions: detach`), whose outcome a later run's drop writes.
    UnfinishedIntent,
}

/// A warning about the entries `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub from: u64,
    pub to: u64,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = if self.from == self.to {
            format!("seq {}", self.from)
        } else {
            format!("seq {}..={}", self.from, self.to)
        };
        match self.kind {
            WarningKind::Uncovered => write!(
                f,
                "warning: {range}: signed, but no checkpoint covers them yet (a run still \
                 going, or stopped before its end); the next run's checkpoint covers them"
            ),
            WarningKind::UnfinishedIntent => write!(
                f,
                "warning: {range}: an intent with no outcome after it: the run stopped between \
                 them, so its batch may or may not have happened (compare the target with the \
                 intent's count), or a partition was kept detached (`partitions: detach`)"
            ),
            WarningKind::Unauthenticated => write!(
                f,
                "warning: {range}: not authenticated: written before entries were signed (no \
                 signing key was configured, or an older version wrote them); a checkpoint \
                 over them shows only that they have not changed since it was signed"
            ),
        }
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    pub checkpoints: u64,
    /// Whether signatures were checked (a verifier key was available).
    pub signatures_checked: bool,
    /// The names of the verifier keys signatures were checked with.
    pub key_names: String,
    /// How many entries carry a signature that was checked (or, without a key, that has
    /// the shape of one).
    pub signed_entries: u64,
    /// The size of the `--trusted` checkpoint the log was checked against.
    pub trusted_size: Option<u64>,
    /// `base64` of the tree head over all entries.
    pub root: String,
    /// The origin the log was verified as (the one given, else the one its own signed
    /// checkpoints name): an auditor compares it with the log they expect.
    pub origin: Option<String>,
    pub damage: Option<Damage>,
    pub warnings: Vec<Warning>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.damage.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.damage {
            None => {
                write!(
                    f,
                    "intact: {} {}, {} {} ({}), tree head {}",
                    self.entries,
                    if self.entries == 1 {
                        "entry"
                    } else {
                        "entries"
                    },
                    self.checkpoints,
                    if self.checkpoints == 1 {
                        "checkpoint"
                    } else {
                        "checkpoints"
                    },
                    if self.signatures_checked {
                        "signatures checked"
                    } else {
                        "signatures NOT checked"
                    },
                    self.root
                )?;
                if let Some(origin) = &self.origin {
                    write!(f, ", origin {origin}")?;
                }
                if let Some(size) = self.trusted_size {
                    write!(f, "; extends the trusted checkpoint of size {size}")?;
                }
                if self.signatures_checked {
                    write!(
                        f,
                        "; {} of {} entries signed by {}",
                        self.signed_entries, self.entries, self.key_names
                    )?;
                }
            }
            Some(d) => {
                write!(f, "tampered: seq {}: {}: {}", d.seq, d.kind, d.detail)?;
                if let Some(origin) = &self.origin {
                    write!(f, " (log origin {origin})")?;
                }
            }
        }
        if !self.signatures_checked {
            write!(
                f,
                "\n  WARNING: signatures were NOT checked: no verifier key (give --key VERIFIER, \
                 or set audit.verifier_key or audit.signing_key). The log is only consistent \
                 with itself: whoever can write the database could have forged any of it."
            )?;
        }
        for w in &self.warnings {
            write!(f, "\n  {w}")?;
        }
        Ok(())
    }
}

/// Why a log could not be checked at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the trusted checkpoint is not a tlog checkpoint signed note")]
    TrustedMalformed,
    #[error("the trusted checkpoint does not verify with the configured key: {0}")]
    TrustedSignature(String),
}

/// A note as read from a file: whatever whitespace follows it (an editor's final newline,
/// a blank line) is not part of it.
fn trim_note(note: &[u8]) -> Vec<u8> {
    let end = note
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let mut note = note[..end].to_vec();
    note.push(b'\n');
    note
}

/// Verifies the log in a state store. `origin` is the log's origin, when known: every
/// checkpoint must name it.
pub async fn verify(
    pool: &SqlPool,
    verifiers: &Verifiers,
    trusted: Option<&[u8]>,
    origin: Option<&str>,
) -> Result<VerifyReport> {
    let log = super::sql::read_log(pool).await?;
    Ok(verify_log(&log, verifiers, trusted, origin)?)
}

/// Verifies a JSON-lines file log.
pub fn verify_file(
    path: &Path,
    verifiers: &Verifiers,
    trusted: Option<&[u8]>,
    origin: Option<&str>,
) -> Result<VerifyReport> {
    let log = super::file::read_log(path)?;
    verify_log(&log, verifiers, trusted, origin).with_context(|| format!("{}", path.display()))
}

/// The fields of a line the verifier reads (never re-serialised).
struct Parsed {
    seq: u64,
    prev: String,
    kind: String,
    /// A `batch` entry's place in the intent/outcome pairing.
    batch: Option<Batch>,
}

/// What pairs an `intent` with its outcome: the run, the target, the count.
struct Batch {
    run: String,
    target: (String, String),
    count: Option<u64>,
    intent: bool,
}

fn parse(line: &[u8]) -> Option<Parsed> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let kind = text("kind");
    let batch = (kind == "batch").then(|| Batch {
        run: text("run"),
        target: (text("store"), text("target")),
        count: v.get("count").and_then(|c| c.as_u64()),
        intent: text("outcome") == "intent",
    });
    Some(Parsed {
        seq: v.get("seq")?.as_u64()?,
        prev: v.get("prev")?.as_str()?.to_owned(),
        kind,
        batch,
    })
}

fn link(h: Option<&Hash>) -> String {
    match h {
        Some(h) => format!("sha256:{}", hex::encode(h)),
        None => format!("sha256:{}", "0".repeat(64)),
    }
}

fn damage(seq: u64, kind: DamageKind, detail: impl Into<String>) -> Damage {
    Damage {
        seq,
        kind,
        detail: detail.into(),
    }
}

/// Verifies a log read from anywhere.
pub fn verify_log(
    log: &StoredLog,
    verifiers: &Verifiers,
    trusted: Option<&[u8]>,
    origin: Option<&str>,
) -> Result<VerifyReport, VerifyError> {
    let n = log.entries.len() as u64;
    let leaves: Vec<Hash> = log.entries.iter().map(|e| leaf_hash(&e.line)).collect();
    let parsed: Vec<Option<Parsed>> = log.entries.iter().map(|e| parse(&e.line)).collect();

    // The log's origin: the one given, else the one its own signed checkpoints name.
    let signed_origin = log.checkpoints.iter().find_map(|cp| {
        match checkpoint::open(cp.note.as_bytes(), verifiers) {
            Opened::Ok(body) => Some(body.origin),
            _ => None,
        }
    });
    let log_origin = origin.map(str::to_owned).or(signed_origin);

    // A trusted checkpoint of another origin is a statement about another log: this one
    // fails it (it was replaced, or the note is not its own), which is damage, not a log
    // that cannot be read.
    let mut other_log = None;
    let trusted = match trusted.map(trim_note) {
        None => None,
        Some(note) => match checkpoint::open(&note, verifiers) {
            Opened::Ok(cp) => match log_origin.as_deref() {
                Some(o) if cp.origin != o => {
                    other_log = Some(damage(
                        1,
                        DamageKind::OtherLog,
                        format!(
                            "the trusted checkpoint is for the log `{}`, and this log is `{o}`: \
                             this is not the log the trusted checkpoint vouches for (the log \
                             was replaced by another, or the note is another log's)",
                            cp.origin
                        ),
                    ));
                    None
                }
                _ => Some(cp),
            },
            Opened::Malformed => return Err(VerifyError::TrustedMalformed),
            Opened::BadSignature(why) => return Err(VerifyError::TrustedSignature(why)),
        },
    };

    // Tree heads at every size a checkpoint speaks of, from one pass over the leaves.
    let mut wanted: Vec<u64> = log.checkpoints.iter().map(|c| c.size).collect();
    wanted.extend(trusted.as_ref().map(|t| t.size));
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut frontier = Frontier::new();
    if wanted.contains(&0) {
        roots.insert(0, frontier.root());
    }
    for leaf in &leaves {
        frontier.push(*leaf);
        if wanted.contains(&frontier.size()) {
            roots.insert(frontier.size(), frontier.root());
        }
    }

    let chain = scan_chain(&log.entries, &parsed, &leaves);
    // Everything before the first broken link is vouched for by the chain alone; a
    // checkpoint that disagrees with that prefix means the chain itself was rebuilt.
    let chain_ok_until = chain.as_ref().map_or(u64::MAX, |d| d.seq);

    let mut found: Vec<Damage> = other_log.into_iter().chain(chain).collect();
    if !log.negative_checkpoints.is_empty() {
        found.push(damage(
            0,
            DamageKind::Inserted,
            format!(
                "checkpoint rows stored under size {} were inserted (delete them alone; the entries are not implicated by them)",
                log.negative_checkpoints.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if !log.below_one.is_empty() {
        found.push(damage(
            0,
            DamageKind::Inserted,
            format!(
                "rows stored under seq {} lie below the first entry, seq 1: they were inserted (delete them alone)",
                log.below_one.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let mut last_good = 0u64;
    let mut good_sizes = BTreeSet::new();
    // The largest checkpoint the key signed for this log (whether or not the entries still
    // match it): the signer covered everything up to it, so no entry there waits for one.
    let mut attested = 0u64;
    for cp in &log.checkpoints {
        match checkpoint::open(cp.note.as_bytes(), verifiers) {
            Opened::Malformed => found.push(damage(
                cp.size,
                DamageKind::BadSignature,
                format!(
                    "the checkpoint row of size {} is not a signed tlog checkpoint (a row \
                     inserted into the checkpoints; the entries are not implicated by it)",
                    cp.size
                ),
            )),
            Opened::BadSignature(why) => found.push(damage(
                cp.size,
                DamageKind::BadSignature,
                format!(
                    "the checkpoint row of size {}: {why} (a row inserted into the \
                     checkpoints, or changed; the entries are not implicated by it)",
                    cp.size
                ),
            )),
            Opened::Ok(body) if body.size != cp.size => found.push(damage(
                cp.size,
                DamageKind::Edited,
                format!(
                    "the checkpoint row of size {} holds a checkpoint signed for size {} (a \
                     checkpoint copied to another row; the entries are not implicated by it)",
                    cp.size, body.size
                ),
            )),
            Opened::Ok(body) if origin.is_some_and(|o| o != body.origin) => found.push(damage(
                cp.size,
                DamageKind::BadSignature,
                format!(
                    "the checkpoint row of size {} names origin `{}`, not this log's `{}` (a checkpoint of another log copied in; the entries are not implicated by it)",
                    cp.size,
                    body.origin,
                    origin.unwrap_or_default()
                ),
            )),
            Opened::Ok(body) if body.size > n => found.push(damage(
                n + 1,
                DamageKind::Truncated,
                format!(
                    "checkpoint {} was signed over {} entries but the log holds {n}",
                    body.size, body.size
                ),
            )),
            Opened::Ok(body) => {
                attested = attested.max(body.size);
                if roots.get(&body.size) == Some(&body.root) {
                    last_good = last_good.max(body.size);
                    good_sizes.insert(body.size);
                } else if body.size < chain_ok_until {
                    found.push(damage(
                        last_good + 1,
                        DamageKind::Edited,
                        format!(
                            "the entries no longer match checkpoint {}: an entry in seq {}..={} was changed and the chain after it rebuilt",
                            body.size,
                            last_good + 1,
                            body.size
                        ),
                    ));
                }
            }
        }
    }

    if let Some(t) = &trusted {
        if t.size > n {
            found.push(damage(
                n + 1,
                DamageKind::Truncated,
                format!(
                    "the trusted checkpoint covers {} entries but the log holds {n}",
                    t.size
                ),
            ));
        } else if roots.get(&t.size) != Some(&t.root) && t.size < chain_ok_until {
            let from = log
                .checkpoints
                .iter()
                .filter(|c| c.size < t.size && c.size <= last_good)
                .map(|c| c.size)
                .max()
                .unwrap_or(0)
                + 1;
            found.push(damage(
                from,
                DamageKind::Edited,
                format!(
                    "the entries no longer match the trusted checkpoint of size {}: an entry in seq {from}..={} was changed",
                    t.size, t.size
                ),
            ));
        }
    }

    let entry_origin = log_origin.as_deref();
    let authn = authenticity(
        log,
        &parsed,
        &leaves,
        verifiers,
        (&good_sizes, attested),
        entry_origin,
    );

    if let Some((head_seq, head_leaf)) = &log.head {
        let h = *head_seq;
        if h > n {
            found.push(damage(
                n + 1,
                DamageKind::Removed,
                format!("the head records {h} entries but the log holds {n}"),
            ));
        } else if h < n {
            // Entries beyond the head that the key wrote at their seqs (or, without a key,
            // that a checkpoint matching the entries covers, or whose last one the head's
            // own leaf hash still names) were there before the head: it was moved back.
            let beyond = h as usize..n as usize;
            let keyed_ok =
                !authn.authentic.is_empty() && authn.authentic[beyond].iter().all(|a| *a);
            let unkeyed_ok = authn.authentic.is_empty()
                && (last_good >= n || head_leaf.as_slice() == leaves[n as usize - 1].as_slice());
            if keyed_ok || unkeyed_ok {
                let why = if keyed_ok {
                    "each verifies under the key at its own seq"
                } else if last_good >= n {
                    "a checkpoint that matches the entries covers them"
                } else {
                    "the head row's own leaf hash is the last entry's"
                };
                found.push(damage(
                    h + 1,
                    DamageKind::HeadMovedBack,
                    format!(
                        "the head row records {h} entries, but the log holds {n} and entries {}..={n} were there before it ({why}): the head row was moved back. The entries and checkpoints are not at fault: delete nothing, set the head forward to entry {n}",
                        h + 1
                    ),
                ));
            } else {
                found.push(damage(
                    h + 1,
                    DamageKind::Inserted,
                    format!("the log holds {n} entries but the head records {h}"),
                ));
            }
        } else if n > 0 && head_leaf.as_slice() != leaves[n as usize - 1].as_slice() {
            found.push(damage(
                n,
                DamageKind::Edited,
                "the head row's leaf hash is not the last entry's: the head row was changed, or the last entry was (if the entry's signature verifies, only the head row was)",
            ));
        }
    }

    for d in &mut found {
        blame_the_unauthenticated(d, &authn.authentic);
    }
    found.extend(authn.damage);

    // The earliest damage wins; on a tie the first found (the most specific) does.
    let first = found
        .into_iter()
        .enumerate()
        .min_by_key(|(i, d)| (d.seq, *i));
    Ok(VerifyReport {
        entries: n,
        checkpoints: log.checkpoints.len() as u64,
        signatures_checked: !verifiers.is_empty(),
        key_names: verifiers.names(),
        signed_entries: authn.signed,
        trusted_size: trusted.map(|t| t.size),
        root: base64::engine::general_purpose::STANDARD.encode(frontier.root()),
        origin: log_origin,
        damage: first.map(|(_, d)| d),
        warnings: {
            let mut w = authn.warnings;
            w.extend(unfinished_intents(&parsed));
            w
        },
    })
}

/// Every `intent` entry that no outcome follows: intents and outcomes pair in order per
/// run and target; an intent left open by its run is closed by a later run's outcome of
/// the same target and count (a partition whose detach an earlier run left pending, or a
/// kept detached partition, dropped by the next run).
fn unfinished_intents(parsed: &[Option<Parsed>]) -> Vec<Warning> {
    use std::collections::{BTreeMap, VecDeque};
    type Target = (String, String);
    /// A run's open intents on one target, (seq, count), oldest first.
    type Open = VecDeque<(u64, Option<u64>)>;
    let mut open: BTreeMap<(String, Target), Open> = BTreeMap::new();
    // (target, count) → the last outcome's seq.
    let mut last_outcome: BTreeMap<(Target, Option<u64>), u64> = BTreeMap::new();
    for (i, b) in parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.as_ref()?.batch.as_ref()?)))
    {
        let seq = i as u64 + 1;
        let queue = open.entry((b.run.clone(), b.target.clone())).or_default();
        if b.intent {
            queue.push_back((seq, b.count));
        } else {
            queue.pop_front();
            last_outcome.insert((b.target.clone(), b.count), seq);
        }
    }
    let mut seqs: Vec<u64> = open
        .into_iter()
        .flat_map(|((_, target), intents)| {
            let last_outcome = &last_outcome;
            intents.into_iter().filter_map(move |(seq, count)| {
                let answered = last_outcome
                    .get(&(target.clone(), count))
                    .is_some_and(|last| *last > seq);
                (!answered).then_some(seq)
            })
        })
        .collect();
    seqs.sort_unstable();
    seqs.into_iter()
        .map(|seq| Warning {
            from: seq,
            to: seq,
            kind: WarningKind::UnfinishedIntent,
        })
        .collect()
}

/// A broken link or number lies between two entries, and the scan names the one it can
/// tell apart; with a key, an entry whose signature verifies at its own place is authentic
/// whatever the chain around it says, so the damage is moved to the first entry after it
/// that the key did not authenticate (an entry planted after it, which the recovery steps
/// then delete instead of the authentic one).
fn blame_the_unauthenticated(d: &mut Damage, authentic: &[bool]) {
    let chain_kind = matches!(
        d.kind,
        DamageKind::Edited | DamageKind::Inserted | DamageKind::Reordered
    );
    let named = usize::try_from(d.seq).unwrap_or(usize::MAX);
    if !chain_kind || named == 0 || !authentic.get(named - 1).copied().unwrap_or(false) {
        return;
    }
    if let Some(j) = (named..authentic.len()).find(|j| !authentic[*j]) {
        d.detail = format!(
            "{} — entry {} verifies under the key at its own seq, so the damage starts at entry {}, the first after it that does not",
            d.detail,
            d.seq,
            j + 1
        );
        d.seq = j as u64 + 1;
    }
}

/// What the entry signatures say about a log.
struct Authenticity {
    signed: u64,
    /// Per entry, whether the key authenticated it at its own place (keyed only).
    authentic: Vec<bool>,
    damage: Vec<Damage>,
    warnings: Vec<Warning>,
}

/// Which entries the key authenticated, and what follows (see the module comment):
/// forged entries and missing checkpoints as damage, uncovered ranges as warnings.
/// `good` holds the sizes of the checkpoints that verified and match the entries.
fn authenticity(
    log: &StoredLog,
    parsed: &[Option<Parsed>],
    leaves: &[Hash],
    verifiers: &Verifiers,
    (good, attested): (&BTreeSet<u64>, u64),
    origin: Option<&str>,
) -> Authenticity {
    let keyed = !verifiers.is_empty();
    let covered = good.iter().next_back().copied().unwrap_or(0);
    // A signature covers one statement, so the same bytes on two entries mean at least one
    // is a copy: without a key that is the one forgery that can still be seen.
    let mut seen: HashMap<&[u8], u64> = HashMap::new();
    let mut copied: HashMap<usize, u64> = HashMap::new();
    let signed: Vec<bool> = log
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| match &e.sig {
            Some(sig) if keyed => {
                match entry_sig::verify(verifiers.keys(), origin, i as u64 + 1, &leaves[i], sig) {
                    Some(entry_sig::Signed::ForThisLog) => true,
                    // A version 1 signature names no log: it counts where a checkpoint of
                    // this log that matches the entries covers it.
                    Some(entry_sig::Signed::Legacy) => (i as u64) < covered,
                    None => false,
                }
            }
            Some(sig) => match seen.get(sig.as_slice()) {
                Some(first) => {
                    copied.insert(i, *first);
                    false
                }
                None => {
                    seen.insert(sig, i as u64 + 1);
                    entry_sig::well_formed(sig)
                }
            },
            None => false,
        })
        .collect();
    let n = signed.len() as u64;
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    let first_signed = signed.iter().position(|s| *s).map(|i| i as u64 + 1);
    let history_end = first_signed.map_or(n, |f| f - 1);

    if let Some(first) = first_signed {
        if let Some(i) = (first as usize..signed.len()).find(|i| !signed[*i]) {
            let seq = i as u64 + 1;
            let why = match &log.entries[i].sig {
                _ if copied.contains_key(&i) => format!(
                    "its signature is a copy of entry {}'s, and a signature vouches for one entry only",
                    copied[&i]
                ),
                Some(s) if !s.is_empty() && keyed => format!(
                    "its signature does not verify under {}: it was written without the signing key, or changed since",
                    verifiers.names()
                ),
                Some(s) if !s.is_empty() => "its signature is malformed".to_owned(),
                _ => format!(
                    "it carries no signature, though every entry from {first} on is signed: it was written without the signing key"
                ),
            };
            found.push(damage(seq, DamageKind::Forged, why));
        }
        for (i, p) in parsed.iter().enumerate().skip(first as usize - 1) {
            let seq = i as u64 + 1;
            let due = p.as_ref().is_some_and(|p| p.kind == "run_end")
                || seq % super::sql::CHECKPOINT_EVERY == 0;
            if signed[i] && due && !good.contains(&seq) {
                found.push(damage(
                    seq,
                    DamageKind::MissingCheckpoint,
                    format!(
                        "entry {seq} was signed by the key and calls for a checkpoint of size {seq}, but there is no valid one: checkpoints were removed"
                    ),
                ));
                break;
            }
        }
        // Only the signed ones: an entry past them that is not signed is damage, reported
        // as such, not an entry waiting for its checkpoint.
        // A checkpoint the key signed covers what it signed even where the entries no
        // longer match it: that is damage, reported as such, not entries waiting for one.
        let from = covered.max(attested).max(history_end) + 1;
        let last_signed = signed.iter().rposition(|s| *s).map_or(0, |i| i as u64 + 1);
        if from <= last_signed {
            warnings.push(Warning {
                from,
                to: last_signed,
                kind: WarningKind::Uncovered,
            });
        }
    } else if keyed && n > 0 && good.is_empty() {
        found.push(damage(
            1,
            DamageKind::BadSignature,
            format!(
                "no entry and no checkpoint of this log is signed by {}",
                verifiers.names()
            ),
        ));
    }
    let signing_in_use = keyed || first_signed.is_some() || !log.checkpoints.is_empty();
    if signing_in_use && history_end > 0 {
        warnings.insert(
            0,
            Warning {
                from: 1,
                to: history_end,
                kind: WarningKind::Unauthenticated,
            },
        );
    }
    Authenticity {
        signed: signed.iter().filter(|s| **s).count() as u64,
        authentic: if keyed { signed.clone() } else { Vec::new() },
        damage: found,
        warnings,
    }
}

/// The entry at index `i` claims `seq`, which an earlier entry claims too: one of them was
/// inserted. It is the later one — a replay of a signed entry at a later place, or a copy
/// — unless the chain carries on from it, so that the earlier claimant is the one that
/// was slipped in before it.
fn second_claim(parsed: &[Option<Parsed>], leaves: &[Hash], i: usize, seq: u64) -> Damage {
    let e = i as u64 + 1;
    let earlier = (0..i)
        .rev()
        .find(|j| parsed[*j].as_ref().is_some_and(|p| p.seq == seq));
    let copy = earlier.is_some_and(|j| leaves[j] == leaves[i]);
    let chain_goes_on = i + 1 < parsed.len()
        && parsed[i + 1]
            .as_ref()
            .is_some_and(|next| next.prev == link(Some(&leaves[i])));
    match earlier {
        Some(j) if chain_goes_on && !copy => damage(
            j as u64 + 1,
            DamageKind::Inserted,
            format!(
                "entry {} claims seq {seq}, and so does entry {e}, which the chain goes on from",
                j + 1
            ),
        ),
        _ if copy => damage(
            e,
            DamageKind::Inserted,
            format!("entry {e} is a copy of the entry with seq {seq}"),
        ),
        _ => damage(
            e,
            DamageKind::Inserted,
            format!("entry {e} claims seq {seq}, which an earlier entry holds"),
        ),
    }
}

/// Walks the entries in stored order and returns the first broken link or number.
fn scan_chain(
    entries: &[StoredEntry],
    parsed: &[Option<Parsed>],
    leaves: &[Hash],
) -> Option<Damage> {
    let n = entries.len();
    for i in 0..n {
        let e = i as u64 + 1;
        let Some(p) = &parsed[i] else {
            return Some(damage(
                e,
                DamageKind::Edited,
                "the line is no longer an audit entry (no JSON object with seq and prev)",
            ));
        };
        if p.seq > e {
            let seq_of = |j: usize| parsed.get(j).and_then(|p| p.as_ref()).map(|p| p.seq);
            if (i + 1..n).any(|j| seq_of(j) == Some(e)) {
                return Some(damage(
                    e,
                    DamageKind::Reordered,
                    format!("seq {e} appears after seq {}", p.seq),
                ));
            }
            if i + 1 == n || seq_of(i + 1) == Some(p.seq + 1) {
                let detail = if p.seq == e + 1 {
                    format!("seq {e} is missing")
                } else {
                    format!("seq {e}..={} are missing", p.seq - 1)
                };
                return Some(damage(e, DamageKind::Removed, detail));
            }
            return Some(damage(
                e,
                DamageKind::Edited,
                format!("the entry at position {e} reads seq {}", p.seq),
            ));
        }
        if p.seq < e {
            return Some(second_claim(parsed, leaves, i, p.seq));
        }
        if let Some(stored) = &entries[i].leaf_hash {
            if stored.as_slice() != leaves[i].as_slice() {
                return Some(damage(
                    e,
                    DamageKind::Edited,
                    "the bytes no longer hash to the stored leaf hash",
                ));
            }
        }
        if entries[i].seq != e {
            return Some(damage(
                e,
                DamageKind::Edited,
                format!("entry {e} is stored under seq {}", entries[i].seq),
            ));
        }
        let want = link(i.checked_sub(1).map(|j| &leaves[j]));
        if p.prev != want {
            if i == 0 {
                return Some(damage(
                    1,
                    DamageKind::Edited,
                    "the first entry does not start the chain",
                ));
            }
            let prev_of = |j: usize| parsed.get(j).and_then(|p| p.as_ref()).map(|p| &p.prev);
            if (i + 1..n).any(|j| prev_of(j) == Some(&want)) {
                return Some(damage(
                    e,
                    DamageKind::Inserted,
                    format!("entry {e} is not linked to entry {}, a later one is", e - 1),
                ));
            }
            let next_broken = i + 1 < n && prev_of(i + 1) != Some(&link(Some(&leaves[i])));
            return Some(if next_broken {
                damage(
                    e,
                    DamageKind::Edited,
                    format!("entry {e} links to neither its predecessor nor its successor"),
                )
            } else {
                damage(
                    e - 1,
                    DamageKind::Edited,
                    format!(
                        "entry {} no longer hashes to the `prev` of entry {e}",
                        e - 1
                    ),
                )
            });
        }
    }
    None
}
