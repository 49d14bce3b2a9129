//! The tamper-evident audit log (SPEC §7).
//!
//! Every action the tool takes is appended here as one JSON line, stored as the exact
//! bytes that were hashed. Lines are leaves of an RFC 6962 Merkle tree ([`tree`]), and each
//! carries the previous leaf's hash in `prev`. Appends take the head row's lock, so
//! sequence numbers have no gaps even with concurrent shards ([`sql`]). With a signing key,
//! every entry is signed in the transaction that writes it ([`entry_sig`]), and a signed
//! C2SP checkpoint ([`checkpoint`]) of the log's [`origin`] is written in the same
//! transaction as every `run_end` entry and every 1,000th entry, after the signer checked
//! every entry since its last checkpoint ([`tail`]): nothing the key did not authenticate
//! is ever covered by a checkpoint (docs/audit.md). A JSON-lines file ([`file`]) can hold a
//! second copy. [`verify`], [`prove`], [`certificate`] and [`show`] read the log back.
//!
//! Only the fields of [`EntryDraft`] can ever reach an entry: there is no free-text field,
//! subjects appear only as keyed pseudonyms ([`pseudonym`]), keys only as digests.
//!
//! The database refuses UPDATE, DELETE and TRUNCATE on the audit tables (migration
//! `0002_audit_append_only.sql` of each dialect, which also documents the REVOKE for the
//! job's role).
//!
//! # What the caller does
//!
//! 1. `AuditLog::open(&config.audit, state_pool, run_id, dry_run).await` once per run.
//! 2. For a batch on the state store: `append_in(conn, draft)` inside the batch's
//!    transaction, commit, then `after_commit(&appended)`. Elsewhere: `append(draft)`,
//!    which commits and calls `after_commit` itself.
//! 3. At the end of the run, after the `run_end` entry: `finish()`.

pub mod certificate;
pub mod checkpoint;
pub mod entry;
pub mod entry_sig;
pub mod file;
pub mod origin;
pub mod prove;
pub mod pseudonym;
pub mod show;
pub mod sql;
pub mod tail;
pub mod tree;
pub mod verify;

pub use entry::{EntryDraft, HoldEvent, Kind, Outcome, PassOutcome, Reason, Totals};
pub use pseudonym::Pseudonymiser;

use crate::config::AuditConfig;
use crate::stores::sql::{SqlConn, SqlPool};
use anyhow::{anyhow, Context, Result};
use checkpoint::CheckpointSigner;
use file::FileSink;
use secrecy::ExposeSecret;
use sql::{Signing, StoredCheckpoint};
use std::path::PathBuf;
use tokio::sync::{Mutex, OnceCell};

/// A sealed entry: its sequence number, its exact bytes, its leaf hash, its signature and
/// the checkpoint written with it, if any.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    pub line: Vec<u8>,
    pub leaf_hash: [u8; 32],
    pub sig: Option<Vec<u8>>,
    pub checkpoint: Option<StoredCheckpoint>,
}

/// The audit log of one run.
pub struct AuditLog {
    state: SqlPool,
    run_id: String,
    dry_run: bool,
    pseudonyms: Pseudonymiser,
    /// The signer, or why the configured key cannot be used (reported by the first
    /// append, so that a bad key stops the run before it changes anything).
    signer: Result<Option<CheckpointSigner>, String>,
    /// `audit.origin`; when unset, the origin recorded in the state store is read once,
    /// by the first append that needs it.
    configured_origin: Option<String>,
    origin: OnceCell<String>,
    file: Option<(PathBuf, Mutex<Option<FileSink>>)>,
}

impl AuditLog {
    /// Opens the log kept in the state store for the run `run_id`. Nothing is read yet:
    /// [`AuditLog::open`] also checks the log before anything is written.
    pub fn new(config: &AuditConfig, state: SqlPool, run_id: String, dry_run: bool) -> Self {
        let signer = match &config.signing_key {
            Some(k) if !k.expose_secret().trim().is_empty() => {
                CheckpointSigner::from_private_key(k.expose_secret())
                    .map(|s| Some(s.with_unsigned_history(config.unsigned_history)))
                    .map_err(|e| format!("audit.signing_key: {e}"))
            }
            _ => Ok(None),
        };
        AuditLog {
            state,
            run_id,
            dry_run,
            pseudonyms: Pseudonymiser::new(config.pseudonym_key.expose_secret().as_bytes()),
            signer,
            configured_origin: config.origin.clone(),
            origin: OnceCell::new(),
            file: config.file.clone().map(|p| (p, Mutex::new(None))),
        }
    }

    /// Like [`AuditLog::new`], but fails at once when the signing key is unusable, or
    /// when the log cannot be extended: with a key, an entry since the last checkpoint
    /// that the key did not authenticate, or a head that is not on the log's last entry;
    /// without one, a log that is signed.
    pub async fn open(
        config: &AuditConfig,
        state: SqlPool,
        run_id: String,
        dry_run: bool,
    ) -> Result<Self> {
        let log = Self::new(config, state, run_id, dry_run);
        let signing = log.signing().await?;
        sql::check_before_writing(&log.state, signing).await?;
        Ok(log)
    }

    fn signer(&self) -> Result<Option<&CheckpointSigner>> {
        self.signer
            .as_ref()
            .map(Option::as_ref)
            .map_err(|e| anyhow!("{e}"))
    }

    /// The signer and the log's origin, when a signing key is configured.
    async fn signing(&self) -> Result<Option<Signing<'_>>> {
        let Some(signer) = self.signer()? else {
            return Ok(None);
        };
        let origin = self
            .origin
            .get_or_try_init(|| origin::resolve(self.configured_origin.as_deref(), &self.state))
            .await?;
        Ok(Some(Signing { signer, origin }))
    }

    /// The keyed pseudonym that stands for a subject id in entries.
    pub fn pseudonym(&self, subject_id: &str) -> String {
        self.pseudonyms.subject(subject_id)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Appends one entry in its own transaction on the state store, then copies it to the
    /// file sink.
    pub async fn append(&self, draft: EntryDraft) -> Result<Appended> {
        let signing = self.signing().await?;
        let appended =
            sql::append_standalone(&self.state, &self.run_id, self.dry_run, signing, &draft)
                .await?;
        self.after_commit(&appended).await?;
        Ok(appended)
    }

    /// Appends one entry inside the caller's transaction (a batch on the state store),
    /// so the batch and its entry commit or roll back together. After the commit, call
    /// [`AuditLog::after_commit`] with the result.
    pub async fn append_in(&self, conn: SqlConn<'_>, draft: EntryDraft) -> Result<Appended> {
        let signing = self.signing().await?;
        sql::append_in(conn, &self.run_id, self.dry_run, signing, &draft).await
    }

    /// Copies a committed entry (and its checkpoint) to the file sink, catching the file
    /// up from the database first if it lags. Does nothing without `audit.file`.
    pub async fn after_commit(&self, appended: &Appended) -> Result<()> {
        let Some((path, sink)) = &self.file else {
            return Ok(());
        };
        let mut guard = sink.lock().await;
        let sink = match guard.as_mut() {
            Some(s) => s,
            None => guard.insert(FileSink::open(path)?),
        };
        if appended.seq == sink.last_seq() + 1 {
            sink.append(&[(appended.seq, &appended.line, appended.sig.as_deref())])?;
            if let Some(cp) = &appended.checkpoint {
                sink.append_checkpoints(std::slice::from_ref(cp))?;
            }
            Ok(())
        } else if appended.seq > sink.last_seq() {
            catch_up(&self.state, sink).await
        } else {
            Ok(())
        }
    }

    /// Brings the file sink level with the database. Call once at the end of a run.
    pub async fn finish(&self) -> Result<()> {
        let Some((path, sink)) = &self.file else {
            return Ok(());
        };
        let mut guard = sink.lock().await;
        let sink = match guard.as_mut() {
            Some(s) => s,
            None => guard.insert(FileSink::open(path)?),
        };
        catch_up(&self.state, sink).await
    }
}

/// Copies every entry and checkpoint the file lacks from the database.
async fn catch_up(state: &SqlPool, sink: &mut FileSink) -> Result<()> {
    let missing = sql::read_after(state, sink.last_seq())
        .await
        .context("cannot catch the audit file up with the database")?;
    let rows: Vec<file::EntryRow<'_>> = missing
        .iter()
        .map(|e| (e.seq, e.line.as_slice(), e.sig.as_deref()))
        .collect();
    sink.append(&rows)?;
    let checkpoints = sql::read_checkpoints_after(state, sink.last_checkpoint()).await?;
    sink.append_checkpoints(&checkpoints)
}
