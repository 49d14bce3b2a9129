//! `retention migrate`: create or upgrade the tool's own tables in the state store.

use crate::exit::Status;
use crate::stores::sql::SqlPool;
use anyhow::Result;
use secrecy::ExposeSecret;
use std::path::Path;

pub async fn run(config: &Path) -> Result<Status> {
    let config = super::load_config(config)?;
    let (name, url) = super::state_url(&config)?;
    let pool = SqlPool::create(&name, url.expose_secret()).await?;
    crate::state::migrate::migrate(&pool).await?;
    crate::outln!("The state store `{name}` is up to date.")?;
    Ok(Status::Done)
}
