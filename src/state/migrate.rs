//! `retention migrate`: create or upgrade the tool's own tables, one migration folder per
//! dialect under `migrations/`, embedded in the binary.

use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};

/// Applies every pending migration to the state store.
pub async fn migrate(pool: &SqlPool) -> Result<()> {
    match pool {
        SqlPool::Pg(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
        SqlPool::My(p) => sqlx::migrate!("./migrations/mysql").run(p).await,
        SqlPool::Lite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
    }
    .context("applying the tool's migrations to the state store")
}
