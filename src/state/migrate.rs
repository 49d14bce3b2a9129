//! `retention migrate`: create or upgrade the tool's own tables, one migration folder per
//! dialect under `migrations/`, embedded in the binary.

use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};
use sqlx::migrate::{Migrate, MigrateError, Migrator};

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static MYSQL: Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// What one `migrate` did: the migrations it applied (version and description, in order)
/// and how many the store had before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub now: Vec<(i64, String)>,
    pub before: usize,
}

/// Applies every pending migration to the state store and says which it applied.
pub async fn migrate(pool: &SqlPool) -> Result<Applied> {
    apply(pool)
        .await
        .context("applying the tool's migrations to the state store")
}

/// Reads which migrations the store already has, then runs the migrator on the same
/// connection: it applied those it holds that the store did not. (Of two `migrate`s at
/// once, both may name a migration only one of them applied: the migrator takes the
/// database's lock, the reading before it does not.)
async fn apply(pool: &SqlPool) -> Result<Applied, MigrateError> {
    let (migrator, before) = match pool {
        SqlPool::Pg(p) => {
            let mut c = p.acquire().await?;
            let before = versions(&mut *c).await?;
            POSTGRES.run(&mut *c).await?;
            (&POSTGRES, before)
        }
        SqlPool::My(p) => {
            let mut c = p.acquire().await?;
            let before = versions(&mut *c).await?;
            MYSQL.run(&mut *c).await?;
            (&MYSQL, before)
        }
        SqlPool::Lite(p) => {
            let mut c = p.acquire().await?;
            let before = versions(&mut *c).await?;
            SQLITE.run(&mut *c).await?;
            (&SQLITE, before)
        }
    };
    let now = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !before.contains(&m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    Ok(Applied {
        now,
        before: before.len(),
    })
}

/// The versions already applied (creating sqlx's bookkeeping table when it is missing, as
/// the migrator would).
async fn versions(conn: &mut impl Migrate) -> Result<Vec<i64>, MigrateError> {
    conn.ensure_migrations_table().await?;
    Ok(conn
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect())
}
