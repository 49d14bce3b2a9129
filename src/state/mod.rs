//! The tool's own tables in the state store: migrations, the run lock, runs and holds.

pub mod holds;
pub mod lock;
pub mod migrate;
pub mod runs;

use crate::exit::Refusal;
use crate::stores::sql::{catalog, SqlPool};
use anyhow::{Context, Result};

/// Whether `retention migrate` has created the tool's tables in the state store. `plan`
/// and dry runs work before it has (no holds, no requests yet) and say so.
pub async fn is_migrated(pool: &SqlPool) -> Result<bool> {
    Ok(catalog::table(pool, "retention_holds")
        .await
        .context("looking for the tool's own tables in the state store")?
        .is_some())
}

/// What plans and dry runs say when the state store has no tables yet.
pub const NOT_MIGRATED: &str = "The state store has no tables yet, so no legal holds or erasure requests exist: run `retention migrate` before the first run.";

/// Refuses a command that reads or writes the tool's tables (holds, requests, the audit
/// log, a real run) when `retention migrate` has not created them in the state store
/// `store`, with one sentence that says so, instead of the database's "no such table".
///
/// The exit status is 2, not 1: SPEC §5 keeps 1 for "a target or request failed (the
/// others still ran)", while here nothing ran at all — the state store is not set up yet,
/// a problem of the installation that the operator fixes before anything can run, like
/// an invalid configuration. `audit verify` already exits 2 when it cannot read the log,
/// so every command that needs the tables answers the same way.
pub async fn require_migrated(store: &str, pool: &SqlPool) -> Result<()> {
    if is_migrated(pool).await? {
        return Ok(());
    }
    Err(Refusal::Invalid(format!(
        "the state store `{store}` has no tables of the tool yet (legal holds, erasure \
         requests, the audit log): run `retention migrate` to create them"
    ))
    .into())
}
