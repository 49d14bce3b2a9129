//! The tool's own tables in the state store: migrations, the run lock, runs and holds.

pub mod holds;
pub mod lock;
pub mod migrate;
pub mod runs;

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
