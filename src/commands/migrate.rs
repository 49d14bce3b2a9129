//! `retention migrate`: create or upgrade the tool's own tables in the state store, and
//! say what it did: the tables it created, the migrations it applied, or that there was
//! nothing to do.

use crate::exit::Status;
use crate::state::migrate::Applied;
use crate::stores::sql::SqlPool;
use anyhow::Result;
use secrecy::ExposeSecret;
use std::path::Path;

pub async fn run(config: &Path) -> Result<Status> {
    let config = super::load_config(config)?;
    let (name, url) = super::state_url(&config)?;
    let pool = SqlPool::create(&name, url.expose_secret()).await?;
    let applied = crate::state::migrate::migrate(&pool).await?;
    crate::outln!("{}", said(&name, &applied))?;
    Ok(Status::Done)
}

/// One sentence: what `migrate` did to the state store `store`.
fn said(store: &str, applied: &Applied) -> String {
    let list = applied
        .now
        .iter()
        .map(|(version, description)| format!("{version:04} {description}"))
        .collect::<Vec<_>>()
        .join(", ");
    let n = crate::report::text::plural(applied.now.len() as u64, "migration", "migrations");
    match (applied.before, applied.now.len()) {
        (_, 0) => format!(
            "The state store `{store}` is up to date: nothing to apply ({} applied before).",
            crate::report::text::plural(applied.before as u64, "migration", "migrations")
        ),
        (0, _) => {
            format!("Created the tool's tables in the state store `{store}`: applied {n} ({list}).")
        }
        _ => format!("Upgraded the state store `{store}`: applied {n} ({list})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_says_what_it_applied_and_up_to_date_only_when_nothing() {
        let applied = |before, now: &[(i64, &str)]| Applied {
            before,
            now: now.iter().map(|(v, d)| (*v, d.to_string())).collect(),
        };
        assert_eq!(
            said(
                "app",
                &applied(0, &[(1, "state"), (2, "audit append only")])
            ),
            "Created the tool's tables in the state store `app`: applied 2 migrations \
             (0001 state, 0002 audit append only)."
        );
        assert_eq!(
            said("app", &applied(2, &[(5, "audit head refuses null")])),
            "Upgraded the state store `app`: applied 1 migration (0005 audit head refuses null)."
        );
        assert_eq!(
            said("app", &applied(4, &[])),
            "The state store `app` is up to date: nothing to apply (4 migrations applied before)."
        );
    }
}
