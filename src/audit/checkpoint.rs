//! Signed checkpoints of the audit log: C2SP tlog-checkpoint bodies in C2SP signed notes.
//!
//! A checkpoint body is `origin\nsize\nbase64(root)\n` (further lines are extensions and
//! are ignored). It is signed with an Ed25519 key in the signed-note formats of
//! golang.org/x/mod/sumdb/note (`PRIVATE+KEY+<name>+<hash>+<base64>`, verifier key
//! `<name>+<hash>+<base64>`), through the `signed_note` crate, a port of that package. The
//! origin is the log's own name ([`super::origin`]); the key's name only labels signatures.
//! The same key signs every entry ([`super::entry_sig`]).

use super::tree::Hash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use signed_note::{Note, NoteError, StandardSigner, StandardVerifier, Verifier, VerifierList};

/// Why a key could not be used. The key itself never appears in a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key is not a signed-note private key (PRIVATE+KEY+<name>+<hash>+<base64>, as printed by `retention audit keygen`)")]
    MalformedSigningKey,
    #[error("the verifier key is not a signed-note verifier key (<name>+<hash>+<base64>)")]
    MalformedVerifierKey,
    #[error(
        "`{0}` cannot name a log: use a name without spaces or `+`, e.g. example.com/retention"
    )]
    BadName(String),
}

/// The signed statement "the log `origin` had `size` entries with tree head `root`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The tlog-checkpoint body, ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a tlog-checkpoint body (the text of a note).
    pub fn parse_body(text: &[u8]) -> Option<Checkpoint> {
        let text = std::str::from_utf8(text).ok()?;
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty())?.to_owned();
        let size_text = lines.next()?;
        // The size is a decimal without leading zeros, so each checkpoint has one spelling.
        if size_text.is_empty() || (size_text.len() > 1 && size_text.starts_with('0')) {
            return None;
        }
        let size = size_text.parse().ok()?;
        let root: Hash = BASE64.decode(lines.next()?).ok()?.try_into().ok()?;
        if !text.ends_with('\n') {
            return None;
        }
        Some(Checkpoint { origin, size, root })
    }
}

/// Signs checkpoints and entries with the configured `audit.signing_key`.
pub struct CheckpointSigner {
    signer: StandardSigner,
    name: String,
    verifier_key: String,
    verifiers: Verifiers,
    /// `audit.unsigned_history`: the unsigned entries (seq 1 to this) the operator took as
    /// written before signing began; 0 for none.
    unsigned_history: u64,
}

impl CheckpointSigner {
    /// Reads a signed-note private key.
    pub fn from_private_key(skey: &str) -> Result<Self, KeyError> {
        let skey = skey.trim();
        let signer = StandardSigner::new(skey).map_err(|_| KeyError::MalformedSigningKey)?;
        // Base64 may itself contain `+`, so only the first four separate fields.
        let parts: Vec<&str> = skey.splitn(5, '+').collect();
        let [_, _, name, _, key64] = parts[..] else {
            return Err(KeyError::MalformedSigningKey);
        };
        let key = BASE64
            .decode(key64)
            .map_err(|_| KeyError::MalformedSigningKey)?;
        let seed: [u8; 32] = key
            .get(1..)
            .and_then(|s| s.try_into().ok())
            .ok_or(KeyError::MalformedSigningKey)?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let verifier_key = signed_note::new_ed25519_verifier_key(name, &signing.verifying_key());
        let verifiers = Verifiers::from_keys(&[&verifier_key])?;
        Ok(CheckpointSigner {
            signer,
            name: name.to_owned(),
            verifier_key,
            verifiers,
            unsigned_history: 0,
        })
    }

    /// The same signer, taking entries 1 to `last` as unsigned history.
    pub fn with_unsigned_history(mut self, last: u64) -> Self {
        self.unsigned_history = last;
        self
    }

    /// The last `seq` of the unsigned history it accepts (0: none).
    pub fn unsigned_history(&self) -> u64 {
        self.unsigned_history
    }

    /// The key's name, as it appears in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signer's own verifier key, to check what it signed before.
    pub fn verifiers(&self) -> &Verifiers {
        &self.verifiers
    }

    /// The signature of entry `seq` of the log `origin` with leaf hash `leaf`
    /// ([`super::entry_sig`]).
    pub fn sign_entry(&self, origin: &str, seq: u64, leaf: &Hash) -> Vec<u8> {
        super::entry_sig::sign(&self.signer, origin, seq, leaf)
    }

    /// The verifier key that checks this signer's notes.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// A signed note: the log `origin` had `size` entries with tree head `root`.
    pub fn sign(&self, origin: &str, size: u64, root: &Hash) -> String {
        let body = Checkpoint {
            origin: origin.to_owned(),
            size,
            root: *root,
        }
        .body();
        let mut note =
            Note::new(body.as_bytes(), &[]).expect("a checkpoint body is a well-formed note text");
        note.add_sigs(&[&self.signer])
            .expect("a key that parsed has a valid name and signs any text");
        String::from_utf8(note.to_bytes()).expect("a note is UTF-8")
    }
}

/// A new signing key and its verifier key for the log `name`, in signed-note formats.
pub fn keygen(name: &str) -> Result<(String, String), KeyError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(KeyError::BadName(name.to_owned()));
    }
    Ok(signed_note::generate_key(&mut rand::rngs::OsRng, name))
}

/// The verifier keys trusted to sign checkpoints.
#[derive(Clone, Default)]
pub struct Verifiers {
    keys: Vec<StandardVerifier>,
}

impl Verifiers {
    /// No keys: signatures cannot be checked, only the tree heads they sign.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn from_keys<S: AsRef<str>>(vkeys: &[S]) -> Result<Self, KeyError> {
        let keys = vkeys
            .iter()
            .map(|k| StandardVerifier::new(k.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| KeyError::MalformedVerifierKey)?;
        Ok(Verifiers { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, for checking entry signatures.
    pub fn keys(&self) -> &[StandardVerifier] {
        &self.keys
    }

    /// The keys' names, for messages (`a, b`).
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.keys.iter().map(|k| k.name()).collect();
        names.join(", ")
    }
}

/// What opening a note found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The body parsed and a trusted key signed it (or no keys were given to check with).
    Ok(Checkpoint),
    /// The note or its body is malformed.
    Malformed,
    /// No trusted key signed it, or a signature by a trusted key does not verify.
    BadSignature(String),
}

/// Parses a signed checkpoint and, when `verifiers` has keys, checks its signature.
pub fn open(note: &[u8], verifiers: &Verifiers) -> Opened {
    let Ok(parsed) = Note::from_bytes(note) else {
        return Opened::Malformed;
    };
    if !verifiers.is_empty() {
        let list = VerifierList::new(
            verifiers
                .keys
                .iter()
                .map(|k| Box::new(k.clone()) as Box<dyn signed_note::Verifier>)
                .collect(),
        );
        match parsed.verify(&list) {
            Ok(_) => {}
            Err(NoteError::UnverifiedNote) => {
                return Opened::BadSignature("no trusted key signed this checkpoint".into())
            }
            Err(e) => return Opened::BadSignature(e.to_string()),
        }
        if let Some(why) = failing_signature(note, parsed.text(), verifiers) {
            return Opened::BadSignature(why);
        }
    }
    match Checkpoint::parse_body(parsed.text()) {
        Some(cp) => Opened::Ok(cp),
        None => Opened::Malformed,
    }
}

/// A signature line by a trusted key (its name and key ID) that does not verify, even
/// where another line by the same key does: the signed-note verifiers that check every
/// line (the C2SP spec's "a signature from a known key that fails to verify" rejects the
/// note; the Python verifier of docs/audit-proofs.md, aics-tlog) refuse such a note, while
/// `Note::verify`, like Go's `note.Open`, skips a key's lines after its first. A note is
/// refused here whatever the order of its lines, so no proof carries one.
fn failing_signature(note: &[u8], text: &[u8], verifiers: &Verifiers) -> Option<String> {
    // `Note::from_bytes` already parsed the same lines: the block after the last blank line.
    let note = std::str::from_utf8(note).ok()?;
    let (_, block) = note.rsplit_once("\n\n")?;
    block
        .strip_suffix('\n')?
        .split('\n')
        .filter_map(|line| signed_note::Signature::from_bytes(line.as_bytes()).ok())
        .find_map(|sig| {
            let key = verifiers
                .keys
                .iter()
                .find(|k| k.name() == sig.name() && k.key_id() == sig.id())?;
            (!key.verify(text, sig.signature())).then(|| {
                format!(
                    "a signature line for the trusted key {}+{:08x} does not verify (a note with a \
                     failing signature of a known key is rejected, whatever else signs it)",
                    sig.name(),
                    sig.id()
                )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published vectors of golang.org/x/mod/sumdb/note (note_test.go).
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SIGNED: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n\
                          \n\
                          — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_verifier_key_derived_from_the_go_vector_private_key_is_the_published_one() {
        let signer = CheckpointSigner::from_private_key(SKEY).unwrap();
        assert_eq!(signer.verifier_key(), VKEY);
        assert_eq!(signer.name(), "PeterNeumann");
    }

    #[test]
    fn the_published_go_note_verifies_with_the_published_key() {
        let verifiers = Verifiers::from_keys(&[VKEY]).unwrap();
        let parsed = Note::from_bytes(SIGNED.as_bytes()).unwrap();
        let list = VerifierList::new(vec![Box::new(verifiers.keys[0].clone())]);
        assert!(parsed.verify(&list).is_ok());
        let forged = SIGNED.replace("answer", "Answer");
        let parsed = Note::from_bytes(forged.as_bytes()).unwrap();
        assert!(parsed.verify(&list).is_err());
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_verifier_key_and_not_with_another() {
        let signer = CheckpointSigner::from_private_key(SKEY).unwrap();
        let root = [7u8; 32];
        let note = signer.sign("PeterNeumann", 42, &root);
        assert!(note.starts_with("PeterNeumann\n42\nBwcH"));
        let good = Verifiers::from_keys(&[VKEY]).unwrap();
        assert_eq!(
            open(note.as_bytes(), &good),
            Opened::Ok(Checkpoint {
                origin: "PeterNeumann".into(),
                size: 42,
                root
            })
        );
        let (_, other) = keygen("PeterNeumann").unwrap();
        let other = Verifiers::from_keys(&[other]).unwrap();
        assert!(matches!(
            open(note.as_bytes(), &other),
            Opened::BadSignature(_)
        ));
    }

    #[test]
    fn a_failing_signature_line_of_a_trusted_key_rejects_the_note_wherever_it_stands() {
        let signer = CheckpointSigner::from_private_key(SKEY).unwrap();
        let note = signer.sign("PeterNeumann", 42, &[7u8; 32]);
        let good = Verifiers::from_keys(&[VKEY]).unwrap();
        let line = note.trim_end().lines().last().unwrap();
        let (name, sig) = line.rsplit_once(' ').unwrap();
        let mut bytes = BASE64.decode(sig).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let bad = format!("{name} {}\n", BASE64.encode(bytes));
        let after = format!("{note}{bad}");
        let (body, good_line) = note.split_at(note.find("\n\n").unwrap() + 2);
        let before = format!("{body}{bad}{good_line}");
        for doubled in [after, before] {
            assert!(
                matches!(open(doubled.as_bytes(), &good), Opened::BadSignature(_)),
                "{doubled}"
            );
        }
        // The same valid line twice is still the key's signature.
        let twice = format!("{note}{good_line}");
        assert!(matches!(open(twice.as_bytes(), &good), Opened::Ok(_)));
        // A line of another key under the same name is not this key's: ignored.
        let (_, other) = keygen("PeterNeumann").unwrap();
        let other = signed_note::StandardVerifier::new(&other).unwrap();
        let foreign = format!(
            "{note}— PeterNeumann {}\n",
            BASE64.encode([&other.key_id().to_be_bytes()[..], &[0u8; 64]].concat())
        );
        assert!(matches!(open(foreign.as_bytes(), &good), Opened::Ok(_)));
    }

    #[test]
    fn keygen_prints_keys_in_the_signed_note_formats_that_work_together() {
        let (skey, vkey) = keygen("example.com/retention").unwrap();
        assert!(skey.starts_with("PRIVATE+KEY+example.com/retention+"));
        assert!(vkey.starts_with("example.com/retention+"));
        let signer = CheckpointSigner::from_private_key(&skey).unwrap();
        assert_eq!(signer.verifier_key(), vkey);
        assert!(matches!(keygen("has space"), Err(KeyError::BadName(_))));
    }

    #[test]
    fn checkpoint_bodies_parse_only_in_their_one_spelling() {
        let cp = Checkpoint {
            origin: "o".into(),
            size: 3,
            root: [1; 32],
        };
        assert_eq!(
            Checkpoint::parse_body(cp.body().as_bytes()),
            Some(cp.clone())
        );
        let body = cp.body();
        assert_eq!(
            Checkpoint::parse_body(body.replace("\n3\n", "\n03\n").as_bytes()),
            None
        );
        assert_eq!(Checkpoint::parse_body(body.trim_end().as_bytes()), None);
        assert!(CheckpointSigner::from_private_key("PRIVATE+KEY+x").is_err());
    }
}
