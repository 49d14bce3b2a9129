//! `audit prove --seq N`: an inclusion proof of one entry with the checkpoint it is proved
//! against, as one JSON object that can be checked offline with [`check_proof`] (or any
//! RFC 6962 verifier), so a single erasure can be shown without revealing the rest of
//! the log.

use super::checkpoint::{self, Checkpoint, Opened, Verifiers};
use super::sql::StoredLog;
use super::tree::{self, Hash, LineTree};
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The origin written into an unsigned checkpoint, when no signing key is configured.
pub const UNSIGNED_ORIGIN: &str = "retention/unsigned";

/// An inclusion proof as printed by `audit prove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// The entry's `seq`; its leaf index is `seq - 1`.
    pub seq: u64,
    /// The number of entries in the tree the proof is against.
    pub tree_size: u64,
    /// The entry's exact line.
    pub line: String,
    /// `base64` of the leaf hash, `SHA-256(0x00 ‖ line)`.
    pub leaf_hash: String,
    /// The RFC 6962 audit path, leaf side first, each `base64`.
    pub inclusion_proof: Vec<String>,
    /// The checkpoint: a signed note, or a bare tlog-checkpoint body when `signed` is false.
    pub checkpoint: String,
    pub signed: bool,
}

/// Builds the proof of entry `seq` against the newest stored checkpoint that covers it, or
/// against the whole log (unsigned) when none does.
pub fn prove(log: &StoredLog, seq: u64) -> Result<Proof> {
    let n = log.entries.len() as u64;
    if seq == 0 || seq > n {
        bail!("there is no entry {seq}: the log holds entries 1..={n}");
    }
    let covering = log
        .checkpoints
        .iter()
        .filter(|c| c.size >= seq && c.size <= n)
        .max_by_key(|c| c.size);
    let size = covering.map_or(n, |c| c.size);
    let lines = log.entries[..size as usize]
        .iter()
        .map(|e| e.line.as_slice());
    let tree = LineTree::new(lines);
    let root = tree.root();
    let (note, signed) = match covering {
        Some(c) => {
            let body = match checkpoint::open(c.note.as_bytes(), &Verifiers::none()) {
                Opened::Ok(body) => body,
                _ => bail!(
                    "checkpoint {} is malformed: run `retention audit verify`",
                    c.size
                ),
            };
            if body.root != root {
                bail!(
                    "the log no longer matches checkpoint {}: run `retention audit verify`",
                    c.size
                );
            }
            (c.note.clone(), true)
        }
        None => {
            let body = Checkpoint {
                origin: UNSIGNED_ORIGIN.to_owned(),
                size,
                root,
            };
            (body.body(), false)
        }
    };
    let entry = &log.entries[seq as usize - 1];
    let line = String::from_utf8(entry.line.clone())
        .with_context(|| format!("entry {seq} is not UTF-8: run `retention audit verify`"))?;
    let path = tree
        .inclusion_proof(seq - 1)
        .context("the entry is outside the tree")?;
    Ok(Proof {
        seq,
        tree_size: size,
        leaf_hash: BASE64.encode(tree::leaf_hash(line.as_bytes())),
        line,
        inclusion_proof: path.iter().map(|h| BASE64.encode(h)).collect(),
        checkpoint: note,
        signed,
    })
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the checkpoint is malformed")]
    MalformedCheckpoint,
    #[error("the checkpoint's signature does not verify: {0}")]
    BadSignature(String),
    #[error("the proof is unsigned, but a verifier key was given")]
    Unsigned,
    #[error("the proof says {0} entries but the checkpoint says {1}")]
    SizeMismatch(u64, u64),
    #[error("the line is entry {0}, not entry {1}")]
    WrongSeq(u64, u64),
    #[error("a hash in the proof is not base64 of 32 bytes")]
    MalformedHash,
    #[error("the line is not included in the checkpointed tree")]
    NotIncluded,
}

/// Checks a proof offline; returns the checkpoint it was proved against. With verifier
/// keys, the checkpoint must be signed by one of them.
pub fn check_proof(proof: &Proof, verifiers: &Verifiers) -> Result<Checkpoint, ProofError> {
    let cp = if proof.signed {
        match checkpoint::open(proof.checkpoint.as_bytes(), verifiers) {
            Opened::Ok(cp) => cp,
            Opened::Malformed => return Err(ProofError::MalformedCheckpoint),
            Opened::BadSignature(why) => return Err(ProofError::BadSignature(why)),
        }
    } else {
        if !verifiers.is_empty() {
            return Err(ProofError::Unsigned);
        }
        Checkpoint::parse_body(proof.checkpoint.as_bytes())
            .ok_or(ProofError::MalformedCheckpoint)?
    };
    if cp.size != proof.tree_size {
        return Err(ProofError::SizeMismatch(proof.tree_size, cp.size));
    }
    let line_seq = serde_json::from_str::<serde_json::Value>(&proof.line)
        .ok()
        .and_then(|v| v.get("seq").and_then(|s| s.as_u64()));
    if line_seq != Some(proof.seq) {
        return Err(ProofError::WrongSeq(line_seq.unwrap_or(0), proof.seq));
    }
    let path = proof
        .inclusion_proof
        .iter()
        .map(|h| BASE64.decode(h).ok().and_then(|b| <Hash>::try_from(b).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or(ProofError::MalformedHash)?;
    if proof.seq == 0
        || !tree::verify_inclusion(
            proof.line.as_bytes(),
            proof.seq - 1,
            proof.tree_size,
            &cp.root,
            &path,
        )
    {
        return Err(ProofError::NotIncluded);
    }
    Ok(cp)
}
