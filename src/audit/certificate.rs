//! `audit certificate --ticket T`: what was done for one erasure request, as one file a
//! DPO can hand to a regulator or the data subject. It holds every entry of the request
//! (queued, each batch, held or locked data skipped, the outcome) and every `hold` entry of
//! the same subject (which explains data that survived), each with its inclusion proof
//! against one checkpoint, the checkpoint itself, and the name of the key that signed it.
//! Anyone can check it offline with the verifier key ([`check_certificate`], or any RFC
//! 6962 and signed-note implementation, docs/audit-proofs.md).

use super::checkpoint::{self, Checkpoint, Opened, Verifiers};
use super::entry_sig;
use super::prove::newest_checkpoint;
use super::sql::StoredLog;
use super::tree::{self, Hash, LineTree};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `format` of every certificate this version writes.
pub const FORMAT: &str = "retention-erasure-certificate/v1";

/// An erasure certificate (docs/audit-proofs.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Always [`FORMAT`].
    pub format: String,
    pub ticket: String,
    /// The subject's pseudonym as the entries carry it (never the subject id).
    pub subject: Option<String>,
    /// The log's origin (the checkpoint's first line).
    pub origin: String,
    /// The size of the tree every proof is against.
    pub tree_size: u64,
    /// The signed checkpoint (a C2SP signed note).
    pub checkpoint: String,
    /// The name of the key that signed the checkpoint and the entries.
    pub key_name: Option<String>,
    /// The verifier key, when the issuer has it configured. A relying party should take
    /// the key from the organisation, not from the certificate it is checking.
    pub verifier_key: Option<String>,
    pub entries: Vec<CertifiedEntry>,
}

/// One entry of the request with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedEntry {
    pub seq: u64,
    /// `seq - 1`.
    pub leaf_index: u64,
    /// The exact line.
    pub line: String,
    /// `base64` of `SHA-256(0x00 ‖ line)`.
    pub leaf_hash: String,
    /// `base64` of the entry's signature, or null for an unsigned entry.
    pub entry_signature: Option<String>,
    /// The RFC 6962 audit path, leaf side first, each `base64`.
    pub inclusion_proof: Vec<String>,
}

/// Why no certificate can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("no audit entry carries ticket `{0}`")]
    NoEntries(String),
    #[error(
        "ticket `{0}` has entries up to seq {1}, but no valid signed checkpoint covers them yet \
         (the newest covers {2}): checkpoints are written only with audit.signing_key set \
         (`retention audit keygen` makes one), at the end of every run; with the key set, run \
         `retention run` first, or check `retention audit verify`"
    )]
    NotCovered(String, u64, u64),
}

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Builds the certificate of `ticket`.
pub fn certificate(
    log: &StoredLog,
    ticket: &str,
    verifiers: &Verifiers,
    verifier_key: Option<&str>,
) -> Result<Certificate, CertificateError> {
    let parsed: Vec<Option<Value>> = log
        .entries
        .iter()
        .map(|e| serde_json::from_slice(&e.line).ok())
        .collect();
    let of_ticket = |v: &Value| field(v, "ticket") == Some(ticket);
    let subject = parsed
        .iter()
        .flatten()
        .filter(|v| of_ticket(v))
        .find_map(|v| field(v, "subject"))
        .map(str::to_owned);
    let wanted: Vec<usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v.as_ref().is_some_and(|v| {
                of_ticket(v)
                    || (field(v, "kind") == Some("hold")
                        && subject.is_some()
                        && field(v, "subject") == subject.as_deref())
            })
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&last) = wanted.last() else {
        return Err(CertificateError::NoEntries(ticket.to_owned()));
    };
    let leaves: Vec<Hash> = log
        .entries
        .iter()
        .map(|e| tree::leaf_hash(&e.line))
        .collect();
    let (size, note, origin) = match newest_checkpoint(log, &leaves, verifiers) {
        Some(cp) if cp.0 > last as u64 => cp,
        other => {
            return Err(CertificateError::NotCovered(
                ticket.to_owned(),
                last as u64 + 1,
                other.map_or(0, |c| c.0),
            ))
        }
    };
    let tree = LineTree::new(
        log.entries[..size as usize]
            .iter()
            .map(|e| e.line.as_slice()),
    );
    let key_name = signer_name(&note);
    let entries = wanted
        .into_iter()
        .map(|i| {
            let e = &log.entries[i];
            let path = tree
                .inclusion_proof(i as u64)
                .expect("an entry within the checkpoint's size is in its tree");
            CertifiedEntry {
                seq: i as u64 + 1,
                leaf_index: i as u64,
                line: String::from_utf8_lossy(&e.line).into_owned(),
                leaf_hash: BASE64.encode(leaves[i]),
                entry_signature: e.sig.as_ref().map(|s| BASE64.encode(s)),
                inclusion_proof: path.iter().map(|h| BASE64.encode(h)).collect(),
            }
        })
        .collect();
    Ok(Certificate {
        format: FORMAT.to_owned(),
        ticket: ticket.to_owned(),
        subject,
        origin,
        tree_size: size,
        checkpoint: note,
        key_name,
        verifier_key: verifier_key.map(str::to_owned),
        entries,
    })
}

/// The signer's name from a signed note's first signature line (`— <name> <sig>`).
fn signer_name(note: &str) -> Option<String> {
    note.lines()
        .find_map(|l| l.strip_prefix("\u{2014} "))
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_owned)
}

/// Why a certificate does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateCheckError {
    #[error("the certificate's format is `{0}`; this version checks `{FORMAT}`")]
    Format(String),
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("entry {0}: {1}")]
    Entry(u64, &'static str),
}

/// Checks every proof of a certificate against its checkpoint, and the checkpoint and
/// entry signatures with `verifiers` (which must not be empty: a certificate is only worth
/// what the key that signed it is). Returns the checkpoint.
pub fn check_certificate(
    cert: &Certificate,
    verifiers: &Verifiers,
) -> Result<Checkpoint, CertificateCheckError> {
    if cert.format != FORMAT {
        return Err(CertificateCheckError::Format(cert.format.clone()));
    }
    if verifiers.is_empty() {
        return Err(CertificateCheckError::Checkpoint(
            "no verifier key to check it with".into(),
        ));
    }
    let cp = match checkpoint::open(cert.checkpoint.as_bytes(), verifiers) {
        Opened::Ok(cp) => cp,
        Opened::Malformed => return Err(CertificateCheckError::Checkpoint("malformed".into())),
        Opened::BadSignature(why) => return Err(CertificateCheckError::Checkpoint(why)),
    };
    if cp.size != cert.tree_size || cp.origin != cert.origin {
        return Err(CertificateCheckError::Checkpoint(
            "its size or origin is not the certificate's".into(),
        ));
    }
    for e in &cert.entries {
        let leaf = tree::leaf_hash(e.line.as_bytes());
        let seq = serde_json::from_str::<Value>(&e.line)
            .ok()
            .and_then(|v| v.get("seq").and_then(Value::as_u64));
        if seq != Some(e.seq) || e.leaf_index + 1 != e.seq {
            return Err(CertificateCheckError::Entry(
                e.seq,
                "its seq or leaf index is wrong",
            ));
        }
        if BASE64.decode(&e.leaf_hash).ok().as_deref() != Some(&leaf[..]) {
            return Err(CertificateCheckError::Entry(
                e.seq,
                "its leaf hash is wrong",
            ));
        }
        if let Some(sig) = &e.entry_signature {
            let sig = BASE64.decode(sig).unwrap_or_default();
            // The certificate's checkpoint, signed for this log, covers every entry in it.
            if entry_sig::verify(verifiers.keys(), Some(&cert.origin), e.seq, &leaf, &sig).is_none()
            {
                return Err(CertificateCheckError::Entry(
                    e.seq,
                    "its signature does not verify",
                ));
            }
        }
        let path: Option<Vec<Hash>> = e
            .inclusion_proof
            .iter()
            .map(|h| BASE64.decode(h).ok().and_then(|b| b.try_into().ok()))
            .collect();
        let included = path.is_some_and(|p| {
            tree::verify_inclusion(e.line.as_bytes(), e.leaf_index, cp.size, &cp.root, &p)
        });
        if !included {
            return Err(CertificateCheckError::Entry(
                e.seq,
                "it is not included in the checkpointed tree",
            ));
        }
    }
    Ok(cp)
}
