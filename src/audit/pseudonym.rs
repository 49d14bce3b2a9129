//! Subject pseudonyms: the only form in which a subject id may appear in the audit log.
//!
//! `hmac:<kid>:<hex>` = HMAC-SHA256(pseudonym key, `"retention-subject/v1\0"` ‖ subject id).
//! The key id (`kid`) is a short fingerprint of the key, so entries made under a rotated
//! key can be told apart without revealing the key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Computes subject pseudonyms with one key.
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
    kid: String,
}

impl Pseudonymiser {
    pub fn new(key: &[u8]) -> Self {
        let kid = {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(b"retention-kid/v1");
            hex::encode(&mac.finalize().into_bytes()[..4])
        };
        Pseudonymiser {
            key: key.to_vec(),
            kid,
        }
    }

    /// The pseudonym of `subject_id`.
    pub fn subject(&self, subject_id: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"retention-subject/v1\0");
        mac.update(subject_id.as_bytes());
        format!(
            "hmac:{}:{}",
            self.kid,
            hex::encode(mac.finalize().into_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_the_keyed_hmac_of_the_domain_separated_subject_id() {
        let p = Pseudonymiser::new(b"k");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap();
        mac.update(b"retention-subject/v1\0acct-17");
        let want = hex::encode(mac.finalize().into_bytes());
        let got = p.subject("acct-17");
        assert!(got.starts_with("hmac:"));
        assert!(got.ends_with(&want));
        assert!(!got.contains("acct-17"));
        assert_ne!(Pseudonymiser::new(b"other").subject("acct-17"), got);
    }
}
