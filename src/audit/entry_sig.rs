//! Entry signatures: every entry authenticated by the signing key in the transaction that
//! writes it (docs/audit.md, docs/audit-proofs.md).
//!
//! The signing key signs the *statement* `retention-audit-entry/v1 <seq> <base64 leaf
//! hash>\n`: a one-line signed-note text, so it can never be mistaken for a checkpoint
//! (which has at least three lines) and any signed-note verifier checks it. The stored
//! signature is the signed-note signature: the key's 4-byte key ID (big-endian) followed
//! by the 64-byte Ed25519 signature. The statement does not name the log: the entry's
//! `prev` and `seq`, inside the signed leaf hash, already tie it to one place in one log.

use super::tree::Hash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use signed_note::{Signer, StandardSigner, StandardVerifier, Verifier};

/// The first word of an entry statement: what is signed, and in which version.
pub const STATEMENT_TYPE: &str = "retention-audit-entry/v1";

/// The length of a stored entry signature: key ID and Ed25519 signature.
pub const SIGNATURE_LEN: usize = 4 + 64;

/// The text the signing key signs for entry `seq` with leaf hash `leaf`.
pub fn statement(seq: u64, leaf: &Hash) -> String {
    format!("{STATEMENT_TYPE} {seq} {}\n", BASE64.encode(leaf))
}

/// Signs entry `seq`: the key ID, then the Ed25519 signature of its statement.
pub fn sign(signer: &StandardSigner, seq: u64, leaf: &Hash) -> Vec<u8> {
    let sig = signer
        .sign(statement(seq, leaf).as_bytes())
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

/// Whether one of `keys` signed entry `seq` with leaf hash `leaf`.
pub fn verify(keys: &[StandardVerifier], seq: u64, leaf: &Hash, sig: &[u8]) -> bool {
    if !well_formed(sig) {
        return false;
    }
    let (id, sig) = sig.split_at(4);
    let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let text = statement(seq, leaf);
    keys.iter()
        .filter(|k| k.key_id() == id)
        .any(|k| k.verify(text.as_bytes(), sig))
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
        let sig = sign(&signer, 812, &leaf);
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert!(verify(std::slice::from_ref(&verifier), 812, &leaf, &sig));
        assert!(!verify(std::slice::from_ref(&verifier), 813, &leaf, &sig));
        assert!(!verify(
            std::slice::from_ref(&verifier),
            812,
            &[8u8; 32],
            &sig
        ));

        // The same bytes, as a note, verify with the signed-note implementation.
        let note = format!(
            "{}\n{}",
            statement(812, &leaf),
            note_line("example.org/log", &sig)
        );
        let parsed = Note::from_bytes(note.as_bytes()).unwrap();
        let list = VerifierList::new(vec![Box::new(verifier)]);
        assert!(parsed.verify(&list).is_ok());
    }

    #[test]
    fn a_statement_is_one_line_and_never_a_checkpoint() {
        let s = statement(3, &[0u8; 32]);
        assert_eq!(s.matches('\n').count(), 1);
        assert!(super::super::checkpoint::Checkpoint::parse_body(s.as_bytes()).is_none());
    }
}
