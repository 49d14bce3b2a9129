//! `audit prove --seq N [--from-size M]`: an inclusion proof of one entry against the
//! newest checkpoint, and optionally the consistency proof from an older tree, as one JSON
//! object in the versioned format of docs/audit-proofs.md. It can be checked offline with
//! [`check_proof`] or any RFC 6962 / RFC 9162 and C2SP signed-note implementation, so a
//! single erasure can be shown without revealing the rest of the log.

use super::checkpoint::{self, Checkpoint, Opened, Verifiers};
use super::entry_sig;
use super::sql::StoredLog;
use super::tree::{self, Frontier, Hash, LineTree};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` of every proof this version prints.
pub const FORMAT: &str = "retention-audit-proof/v1";

/// The origin written into an unsigned checkpoint, when the log has no signing at all.
pub const UNSIGNED_ORIGIN: &str = "retention/unsigned";

/// An inclusion proof as printed by `audit prove` (docs/audit-proofs.md, field by field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always [`FORMAT`].
    pub format: String,
    /// The log's origin, as in the checkpoint's first line.
    pub origin: String,
    /// The entry's `seq`.
    pub seq: u64,
    /// Its leaf index in the tree: `seq - 1`.
    pub leaf_index: u64,
    /// The number of entries in the tree the proof is against.
    pub tree_size: u64,
    /// The entry's exact line (UTF-8, no trailing newline).
    pub line: String,
    /// `base64` of the leaf hash, `SHA-256(0x00 ‖ line)`.
    pub leaf_hash: String,
    /// `base64` of the entry's signature (4-byte key ID ‖ Ed25519 signature of
    /// `retention-audit-entry/v1 <seq> <leaf_hash>\n`), or null for an unsigned entry.
    pub entry_signature: Option<String>,
    /// The RFC 6962 audit path, leaf side first, each `base64`.
    pub inclusion_proof: Vec<String>,
    /// The checkpoint: a signed note, or a bare tlog-checkpoint body when `signed` is false.
    pub checkpoint: String,
    pub signed: bool,
    /// With `--from-size M`: the proof that the tree of size M is a prefix of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// A consistency proof (RFC 9162 §2.1.4) from an older tree to the proof's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// The older tree's size, M.
    pub from_size: u64,
    /// `base64` of the older tree's head, as the log computes it: compare it with the root
    /// of the checkpoint of size M you hold.
    pub from_root: String,
    /// The log's own checkpoint of size M, when it has one.
    pub from_checkpoint: Option<String>,
    /// The consistency proof, each `base64`.
    pub proof: Vec<String>,
}

/// Why no proof can be given (the request is fine, the log cannot back it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    #[error("there is no entry {0}: the log holds entries 1..={1}")]
    NoSuchEntry(u64, u64),
    #[error(
        "entry {0} is not covered by a valid checkpoint yet (the newest covers {1} entries): \
         the next run's checkpoint covers it, unless the entry is not authentic \
         (`retention audit verify` tells)"
    )]
    NotCovered(u64, u64),
    #[error("--from-size {0}: give a tree size from 1 to {1}, the size of the checkpoint the proof is against")]
    BadFromSize(u64, u64),
}

/// Tree heads at the given sizes, from one pass over the leaves.
pub fn roots_at(leaves: &[Hash], sizes: &[u64]) -> BTreeMap<u64, Hash> {
    let mut out = BTreeMap::new();
    let mut f = Frontier::new();
    if sizes.contains(&0) {
        out.insert(0, f.root());
    }
    for l in leaves {
        f.push(*l);
        if sizes.contains(&f.size()) {
            out.insert(f.size(), f.root());
        }
    }
    out
}

/// The newest checkpoint whose root matches the entries (and, with keys, whose signature
/// verifies): `(size, note, origin)`.
pub fn newest_checkpoint(
    log: &StoredLog,
    leaves: &[Hash],
    verifiers: &Verifiers,
) -> Option<(u64, String, String)> {
    let n = leaves.len() as u64;
    let sizes: Vec<u64> = log
        .checkpoints
        .iter()
        .map(|c| c.size)
        .filter(|s| *s <= n)
        .collect();
    let roots = roots_at(leaves, &sizes);
    log.checkpoints
        .iter()
        .rev()
        .filter(|c| c.size <= n)
        .find_map(|c| match checkpoint::open(c.note.as_bytes(), verifiers) {
            Opened::Ok(cp) if cp.size == c.size && roots.get(&c.size) == Some(&cp.root) => {
                Some((c.size, c.note.clone(), cp.origin))
            }
            _ => None,
        })
}

/// Builds the proof of entry `seq` against the newest valid checkpoint (with `verifiers`,
/// one they verify), or, for a log that has never been signed, against the whole log
/// unsigned. With `from_size`, adds the consistency proof from that tree size.
pub fn prove(
    log: &StoredLog,
    seq: u64,
    from_size: Option<u64>,
    verifiers: &Verifiers,
) -> Result<Proof, ProveError> {
    let n = log.entries.len() as u64;
    if seq == 0 || seq > n {
        return Err(ProveError::NoSuchEntry(seq, n));
    }
    let leaves: Vec<Hash> = log
        .entries
        .iter()
        .map(|e| tree::leaf_hash(&e.line))
        .collect();
    let never_signed = log.checkpoints.is_empty() && log.entries.iter().all(|e| e.sig.is_none());
    let (size, note, origin, signed) = match newest_checkpoint(log, &leaves, verifiers) {
        Some((size, note, origin)) if size >= seq => (size, note, origin, true),
        Some((size, ..)) => return Err(ProveError::NotCovered(seq, size)),
        None if never_signed => {
            let body = Checkpoint {
                origin: UNSIGNED_ORIGIN.to_owned(),
                size: n,
                root: tree::root_of(&leaves),
            };
            (n, body.body(), UNSIGNED_ORIGIN.to_owned(), false)
        }
        None => return Err(ProveError::NotCovered(seq, 0)),
    };
    let tree = LineTree::new(
        log.entries[..size as usize]
            .iter()
            .map(|e| e.line.as_slice()),
    );
    let entry = &log.entries[seq as usize - 1];
    let line = String::from_utf8_lossy(&entry.line).into_owned();
    let path = tree
        .inclusion_proof(seq - 1)
        .expect("an entry within the checkpoint's size is in its tree");
    let consistency = match from_size {
        None => None,
        Some(m) if m == 0 || m > size => return Err(ProveError::BadFromSize(m, size)),
        Some(m) => {
            let proof = if m == size {
                Vec::new()
            } else {
                tree.consistency_proof(m)
                    .expect("a size from 1 to the tree's size has a consistency proof")
            };
            let from_root = roots_at(&leaves, &[m])[&m];
            Some(Consistency {
                from_size: m,
                from_root: BASE64.encode(from_root),
                from_checkpoint: log
                    .checkpoints
                    .iter()
                    .find(|c| c.size == m)
                    .map(|c| c.note.clone()),
                proof: path_b64(&proof),
            })
        }
    };
    Ok(Proof {
        format: FORMAT.to_owned(),
        origin,
        seq,
        leaf_index: seq - 1,
        tree_size: size,
        leaf_hash: BASE64.encode(leaves[seq as usize - 1]),
        line,
        entry_signature: entry.sig.as_ref().map(|s| BASE64.encode(s)),
        inclusion_proof: path_b64(&path),
        checkpoint: note,
        signed,
        consistency,
    })
}

fn path_b64(path: &[Hash]) -> Vec<String> {
    path.iter().map(|h| BASE64.encode(h)).collect()
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof's format is `{0}`; this version checks `{FORMAT}`")]
    Format(String),
    #[error("the checkpoint is malformed")]
    MalformedCheckpoint,
    #[error("the checkpoint's signature does not verify: {0}")]
    BadSignature(String),
    #[error("the proof is unsigned, but a verifier key was given")]
    Unsigned,
    #[error("the proof says {0} entries but the checkpoint says {1}")]
    SizeMismatch(u64, u64),
    #[error("the proof says origin `{0}` but the checkpoint says `{1}`")]
    OriginMismatch(String, String),
    #[error("the line is entry {0}, not entry {1}")]
    WrongSeq(u64, u64),
    #[error("the leaf index is {index}; entry {seq} is leaf {}", seq - 1)]
    WrongIndex { index: u64, seq: u64 },
    #[error("a hash in the proof is not base64 of 32 bytes")]
    MalformedHash,
    #[error("the leaf hash is not SHA-256(0x00 ‖ line)")]
    WrongLeafHash,
    #[error("the entry's signature does not verify with the verifier key")]
    BadEntrySignature,
    #[error("the line is not included in the checkpointed tree")]
    NotIncluded,
    #[error("the tree of size {0} is not a prefix of the checkpointed tree")]
    NotConsistent(u64),
}

fn hashes(list: &[String]) -> Result<Vec<Hash>, ProofError> {
    list.iter().map(|h| hash(h)).collect::<Result<Vec<_>, _>>()
}

fn hash(h: &str) -> Result<Hash, ProofError> {
    BASE64
        .decode(h)
        .ok()
        .and_then(|b| <Hash>::try_from(b).ok())
        .ok_or(ProofError::MalformedHash)
}

/// Checks a proof offline; returns the checkpoint it was proved against. With verifier
/// keys, the checkpoint must be signed by one of them, and so must the entry where it
/// carries a signature.
pub fn check_proof(proof: &Proof, verifiers: &Verifiers) -> Result<Checkpoint, ProofError> {
    if proof.format != FORMAT {
        return Err(ProofError::Format(proof.format.clone()));
    }
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
    if cp.origin != proof.origin {
        return Err(ProofError::OriginMismatch(proof.origin.clone(), cp.origin));
    }
    let line_seq = serde_json::from_str::<serde_json::Value>(&proof.line)
        .ok()
        .and_then(|v| v.get("seq").and_then(|s| s.as_u64()));
    if line_seq != Some(proof.seq) {
        return Err(ProofError::WrongSeq(line_seq.unwrap_or(0), proof.seq));
    }
    if proof.seq == 0 || proof.leaf_index != proof.seq - 1 {
        return Err(ProofError::WrongIndex {
            index: proof.leaf_index,
            seq: proof.seq.max(1),
        });
    }
    let leaf = tree::leaf_hash(proof.line.as_bytes());
    if hash(&proof.leaf_hash)? != leaf {
        return Err(ProofError::WrongLeafHash);
    }
    if let (Some(sig), false) = (&proof.entry_signature, verifiers.is_empty()) {
        let sig = BASE64
            .decode(sig)
            .map_err(|_| ProofError::BadEntrySignature)?;
        if entry_sig::verify(
            verifiers.keys(),
            Some(&proof.origin),
            proof.seq,
            &leaf,
            &sig,
        )
        .is_none()
        {
            return Err(ProofError::BadEntrySignature);
        }
    }
    let path = hashes(&proof.inclusion_proof)?;
    if !tree::verify_inclusion(
        proof.line.as_bytes(),
        proof.leaf_index,
        proof.tree_size,
        &cp.root,
        &path,
    ) {
        return Err(ProofError::NotIncluded);
    }
    if let Some(c) = &proof.consistency {
        let from_root = hash(&c.from_root)?;
        let path = hashes(&c.proof)?;
        if !tree::verify_consistency(c.from_size, &from_root, cp.size, &cp.root, &path) {
            return Err(ProofError::NotConsistent(c.from_size));
        }
    }
    Ok(cp)
}
