//! The log's origin: the first line of every checkpoint, naming this one log among all
//! others (C2SP tlog-checkpoint). `audit.origin` sets it; by default it is the name that
//! `retention migrate` recorded in the state store (`retention_audit_origin`), random and
//! so unique to that store. A log that had checkpoints before that table existed keeps the
//! origin they carry. A log keeps its origin for life: a checkpoint under another origin
//! would be a statement about another log.

use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};

/// Checks a configured origin: one line of printable text without spaces, so it can be
/// the first line of a note and never be confused with anything else.
pub fn validate(origin: &str) -> Result<(), String> {
    if origin.is_empty() {
        return Err("the origin is empty".into());
    }
    if origin.len() > 255 {
        return Err("an origin is at most 255 bytes".into());
    }
    if origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{origin}` cannot be a log origin: use one word without spaces, e.g. example.com/retention"
        ));
    }
    Ok(())
}

/// The default origin recorded in the state store.
pub async fn recorded(pool: &SqlPool) -> Result<String> {
    const Q: &str = "SELECT origin FROM retention_audit_origin WHERE id = 1";
    let row: Option<(String,)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(Q).fetch_optional(p).await,
        SqlPool::My(p) => sqlx::query_as(Q).fetch_optional(p).await,
        SqlPool::Lite(p) => sqlx::query_as(Q).fetch_optional(p).await,
    }
    .context("cannot read the audit log's origin (has `retention migrate` run?)")?;
    row.map(|(o,)| o)
        .context("the state store records no audit origin: run `retention migrate`")
}

/// The log's origin: the configured one, else the one recorded in the state store.
pub async fn resolve(configured: Option<&str>, pool: &SqlPool) -> Result<String> {
    match configured {
        Some(o) => Ok(o.to_owned()),
        None => recorded(pool).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_one_word_of_printable_text() {
        assert!(validate("example.com/retention").is_ok());
        assert!(validate("retention/0123abcd").is_ok());
        assert!(validate("").is_err());
        assert!(validate("two words").is_err());
        assert!(validate("line\nbreak").is_err());
        assert!(validate(&"x".repeat(256)).is_err());
    }
}
