//! Entry signatures: every entry authenticated by the signing key in the transaction that
//! writes it (docs/audit.md, docs/audit-proofs.md).
//!
//! The signing key signs the *statement* `retention-audit-entry/v2 <seq> <base64 leaf
//! hash> <origin>\n`: a one-line signed-note text, so it can never be mistaken for a
//! checkpoint (which has at least three lines) and any signed-note verifier checks it. The
//! stored signature is the signed-note signature: the key's 4-byte key ID (big-endian)
//! followed by the 64-byte Ed25519 signature.
//!
//! The statement names the log's origin, so that an entry signed for one log never
//! verifies in another signed by the same key (a staging log's signed prefix copied into
//! production's empty log). Version 1 statements (`retention-audit-entry/v1 <seq> <base64
//! leaf hash>\n`, without the origin) were written before that: they authenticate an
//! entry only where a checkpoint the key signed for this log's origin covers it, which
//! ties them to this log as the origin does.

use super::tree::Hash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use signed_note::{Signer, StandardSigner, StandardVerifier, Verifier};

/// The first word of an entry statement: what is signed, and in which version.
pub const STATEMENT_TYPE: &str = "retention-audit-entry/v2";

/// The first word of the statements written before they named the origin.
pub const STATEMENT_TYPE_V1: &str = "retention-audit-entry/v1";

/// The length of a stored entry signature: key ID and Ed25519 signature.
pub const SIGNATURE_LEN: usize = 4 + 64;

/// The text the signing key signs for entry `seq` of the log `origin` with leaf hash `leaf`.
pub fn statement(origin: &str, seq: u64, leaf: &Hash) -> String {
    format!("{STATEMENT_TYPE} {seq} {} {origin}\n", BASE64.encode(leaf))
}

/// The version 1 statement of entry `seq` (no origin).
fn statement_v1(seq: u64, leaf: &Hash) -> String {
    format!("{STATEMENT_TYPE_V1} {seq} {}\n", BASE64.encode(leaf))
}

/// Signs entry `seq` of the log `origin`: the key ID, then the Ed25519 signature of its
/// statement.
pub fn sign(signer: &StandardSigner, origin: &str, seq: u64, leaf: &Hash) -> Vec<u8> {
    let sig = signer
        .sign(statement(origin, seq, leaf).as_bytes())
        .expect("Ed25519 signs any message");
    let mut out = Vec::with_capacity(SIGNATURE_LEN);
    out.extend_from_slice(&signer.key_id().to_be_bytes());
    out.extend_from_slice(&sig);
    out
}

/// Whether `sig` has the shape of an entry signature (what can be said without a key).
pub fn well_formed(sig: &[u8]) -> bool {
    sig.len() == SIGNATURE_LEN
}

/// What an entry signature vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// Entry `seq` of the log `origin`.
    ForThisLog,
    /// Entry `seq` of some log the key signs (a version 1 statement): it authenticates
    /// the entry only where a checkpoint of this log the key signed covers it.
    Legacy,
}

/// Whether one of `keys` signed entry `seq` with leaf hash `leaf`, and for which log:
/// `origin` (when it is known), or in a version 1 statement.
pub fn verify(
    keys: &[StandardVerifier],
    origin: Option<&str>,
    seq: u64,
    leaf: &Hash,
    sig: &[u8],
) -> Option<Signed> {
    if !well_formed(sig) {
        return None;
    }
    let (id, sig) = sig.split_at(4);
    let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let keys: Vec<&StandardVerifier> = keys.iter().filter(|k| k.key_id() == id).collect();
    if let Some(text) = origin.map(|o| statement(o, seq, leaf)) {
        if keys.iter().any(|k| k.verify(text.as_bytes(), sig)) {
            return Some(Signed::ForThisLog);
        }
    }
    let v1 = statement_v1(seq, leaf);
    keys.iter()
        .any(|k| k.verify(v1.as_bytes(), sig))
        .then_some(Signed::Legacy)
}

/// The signature as a signed-note signature line (`— <name> <base64>`), for a note whose
/// text is the statement: what a third-party signed-note verifier checks.
pub fn note_line(key_name: &str, sig: &[u8]) -> String {
    format!("\u{2014} {key_name} {}\n", BASE64.encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use signed_note::{Note, VerifierList};

    #[test]
    fn an_entry_signature_is_a_signed_note_signature_over_its_statement() {
        let (skey, vkey) = signed_note::generate_key(&mut rand::rngs::OsRng, "example.org/log");
        let signer = StandardSigner::new(&skey).unwrap();
        let verifier = StandardVerifier::new(&vkey).unwrap();
        let leaf = [9u8; 32];
        let keys = std::slice::from_ref(&verifier);
        let log = Some("example.org/log");
        let sig = sign(&signer, "example.org/log", 812, &leaf);
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert_eq!(
            verify(keys, log, 812, &leaf, &sig),
            Some(Signed::ForThisLog)
        );
        assert_eq!(verify(keys, log, 813, &leaf, &sig), None);
        assert_eq!(verify(keys, log, 812, &[8u8; 32], &sig), None);
        // Another log signed by the same key: its entries do not verify here.
        assert_eq!(
            verify(keys, Some("example.org/staging"), 812, &leaf, &sig),
            None
        );
        assert_eq!(verify(keys, None, 812, &leaf, &sig), None);
        // A version 1 signature (no origin) verifies as a legacy one, in any log.
        let v1 = signer.sign(statement_v1(812, &leaf).as_bytes()).unwrap();
        let v1 = [signer.key_id().to_be_bytes().as_slice(), &v1].concat();
        assert_eq!(verify(keys, log, 812, &leaf, &v1), Some(Signed::Legacy));
        assert_eq!(verify(keys, log, 811, &leaf, &v1), None);

        // The same bytes, as a note, verify with the signed-note implementation.
        let note = format!(
            "{}\n{}",
            statement("example.org/log", 812, &leaf),
            note_line("example.org/log", &sig)
        );
        let parsed = Note::from_bytes(note.as_bytes()).unwrap();
        let list = VerifierList::new(vec![Box::new(verifier)]);
        assert!(parsed.verify(&list).is_ok());
    }

    #[test]
    fn a_statement_is_one_line_and_never_a_checkpoint() {
        let s = statement("example.org/log with spaces", 3, &[0u8; 32]);
        assert_eq!(s.matches('\n').count(), 1);
        assert!(super::super::checkpoint::Checkpoint::parse_body(s.as_bytes()).is_none());
    }
}
