//! `retention.yaml` (SPEC §2): the resolved configuration.
//!
//! Loading happens in two stages, as in ripgrep: the raw YAML (with line numbers) is read
//! and `${VAR}` / `${VAR:-default}` expanded, then resolved into [`Config`], where
//! relative paths are anchored at the config file's directory and secrets are wrapped so
//! they never reach a log line.

mod env;
mod load;

pub use load::{load, parse, parse_batch_time};

use crate::ident::Ident;
use crate::time::Period;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The whole resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, for messages.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    pub stores: BTreeMap<String, StoreConfig>,
    /// Name of the SQL store that holds the tool's own tables.
    pub state: String,
    pub audit: AuditConfig,
    /// The directory of rule files (already resolved against `base_dir`).
    pub rules_dir: PathBuf,
    pub subjects: Option<SubjectLookup>,
    pub requests: Requests,
    pub defaults: Defaults,
    /// `sha256:<hex>` of the config file's bytes (before expansion, so no secret is hashed
    /// into something that could be brute-forced); recorded at `run_start`.
    pub digest: String,
}

/// One store.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// A SQL database. The URL may carry a password, so it is secret. SQLite URLs have
    /// their relative path already resolved against the config directory.
    Sql {
        url: SecretString,
    },
    S3(S3Config),
    /// A local directory used as an object store (resolved against the config directory).
    Dir {
        path: PathBuf,
    },
}

impl StoreConfig {
    /// Whether the store is a SQL database (tables live there).
    pub fn is_sql(&self) -> bool {
        matches!(self, StoreConfig::Sql { .. })
    }

    /// Whether the store holds objects (an S3 bucket or a directory).
    pub fn is_objects(&self) -> bool {
        !self.is_sql()
    }
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub region: Option<String>,
    /// `None`: the AWS default endpoint.
    pub endpoint: Option<String>,
    pub path_style: bool,
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// HMAC key (at least 32 bytes) for subject pseudonyms and the `hmac` strategy.
    pub pseudonym_key: SecretString,
    /// Optional signed-note Ed25519 private key (`PRIVATE+KEY+name+hash+base64`).
    pub signing_key: Option<SecretString>,
    /// Optional public verifier key (`name+hash+base64`): `audit verify` checks every
    /// signature with it (an auditor's configuration holds this and no private key).
    pub verifier_key: Option<String>,
    /// The log's origin, the first line of its checkpoints; `None`: the default recorded
    /// in the state store, unique to it.
    pub origin: Option<String>,
    /// The last `seq` of entries written before a signing key was configured, which the
    /// operator takes as the log's unsigned history (0: none). Any other unsigned entry
    /// stops a run that signs, since the key never authenticated it.
    pub unsigned_history: u64,
    pub export: Option<AuditExport>,
    /// Optional JSON-lines file the log is also (or only) appended to, resolved against
    /// the config directory.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct AuditExport {
    pub store: String,
    pub prefix: String,
    pub object_lock_days: Option<u32>,
}

/// `subjects.lookup`: resolve an email or phone to subject ids.
#[derive(Debug, Clone)]
pub struct SubjectLookup {
    pub store: String,
    pub table: Ident,
    pub key: Ident,
    pub by: Vec<Ident>,
}

/// `requests:`: how erasure requests are judged in plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// A pending request older than this is overdue (GDPR Art. 12(3): one month).
    pub deadline: Period,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            deadline: Period::Days(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Defaults {
    /// Rows or objects in the first batch.
    pub batch_size: usize,
    /// Later batches grow or shrink toward this duration.
    pub batch_time: Duration,
    /// The guard: a target matching more than this share of its table is refused.
    pub max_fraction: f64,
    /// How many batches of one target may run at once, each its own short transaction
    /// (PostgreSQL expiry deletes over an indexed timestamp, whose time windows are
    /// disjoint; everything else runs one batch at a time).
    pub batches_in_flight: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            batch_size: 1000,
            batch_time: Duration::from_millis(250),
            max_fraction: 0.5,
            batches_in_flight: 2,
        }
    }
}
