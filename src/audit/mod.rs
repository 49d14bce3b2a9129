//! The tamper-evident audit log (SPEC §7).
//!
//! Every action the tool takes is appended here as one JSON line, stored as the exact
//! bytes that were hashed. Lines are leaves of an RFC 6962 Merkle tree, and each carries
//! the previous leaf's hash in `prev`. Appends take the head row's lock, so sequence
//! numbers have no gaps even with concurrent shards.
//!
//! Only the fields of [`EntryDraft`] can ever reach an entry: there is no free-text field,
//! subjects appear only as keyed pseudonyms, keys only as digests.

pub mod entry;
pub mod sql;

pub use entry::{EntryDraft, Kind, Outcome, Reason, Totals};

use crate::config::AuditConfig;
use crate::stores::sql::{SqlConn, SqlPool};
use anyhow::Result;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

/// A sealed entry: its sequence number, its exact bytes and its leaf hash.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    pub line: Vec<u8>,
    pub leaf_hash: [u8; 32],
}

/// The audit log of one run.
pub struct AuditLog {
    state: SqlPool,
    run_id: String,
    dry_run: bool,
    pseudonyms: Pseudonymiser,
}

impl AuditLog {
    /// Opens the log kept in the state store for the run `run_id`.
    pub fn new(config: &AuditConfig, state: SqlPool, run_id: String, dry_run: bool) -> Self {
        AuditLog {
            state,
            run_id,
            dry_run,
            pseudonyms: Pseudonymiser::new(config.pseudonym_key.expose_secret().as_bytes()),
        }
    }

    /// The keyed pseudonym that stands for a subject id in entries.
    pub fn pseudonym(&self, subject_id: &str) -> String {
        self.pseudonyms.subject(subject_id)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Appends one entry in its own transaction on the state store.
    pub async fn append(&self, draft: EntryDraft) -> Result<Appended> {
        sql::append_standalone(&self.state, &self.run_id, self.dry_run, &draft).await
    }

    /// Appends one entry inside the caller's transaction (a batch on the state store),
    /// so the batch and its entry commit or roll back together.
    pub async fn append_in(&self, conn: SqlConn<'_>, draft: EntryDraft) -> Result<Appended> {
        sql::append_in(conn, &self.run_id, self.dry_run, &draft).await
    }
}

/// Computes subject pseudonyms: `hmac:<kid>:<hex>` = HMAC-SHA256(key, "retention-subject/v1\0" ‖ id).
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
    kid: String,
}

impl Pseudonymiser {
    pub fn new(key: &[u8]) -> Self {
        // The key id is a short fingerprint of the key, so entries made under a rotated
        // key can be told apart without revealing the key.
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
