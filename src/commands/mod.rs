//! One module per command: load what it needs, call the library, report, and return the
//! exit status. `main` stays thin; tests drive these through the binary.

pub mod audit;
pub mod check;
pub mod coverage;
pub mod demo;
pub mod erase;
pub mod export;
pub mod hold;
pub mod migrate;
pub mod plan;
pub mod request;
pub mod ropa;
pub mod run;
pub mod schedule;

use crate::audit::AuditLog;
use crate::cli::{Cli, Command, LogFormat};
use crate::config::{Config, StoreConfig};
use crate::exit::{Refusal, Status};
use crate::rules::RuleSet;
use crate::stores::sql::SqlPool;
use anyhow::Result;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

/// Whether long work shows a progress bar (see [`crate::logging::progress_bars`]).
pub fn progress_bars() -> bool {
    crate::logging::progress_bars()
}

/// Sets up logging on stderr (see [`crate::logging`]).
pub fn init_logging(format: LogFormat) {
    crate::logging::init(format)
}

/// Runs one command.
pub async fn dispatch(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Check { connect } => check::run(&cli.config, connect).await,
        Command::Audit(cmd) => audit::run(&cli.config, cmd).await,
        Command::Migrate => migrate::run(&cli.config).await,
        Command::Plan(args) => plan::run(&cli.config, args).await,
        Command::Run(args) => run::run(&cli.config, args).await,
        Command::Erase(args) => erase::run(&cli.config, args).await,
        Command::Request(cmd) => request::run(&cli.config, cmd).await,
        Command::Hold(cmd) => hold::run(&cli.config, cmd).await,
        Command::Export { subject, out } => export::run(&cli.config, subject, out).await,
        Command::Coverage(args) => coverage::run(&cli.config, args).await,
        Command::Ropa(args) => ropa::run(&cli.config, args),
        Command::Schedule {
            max_runs,
            metrics_file,
        } => schedule::run(&cli.config, max_runs, metrics_file).await,
        Command::Demo { dir } => demo::run(dir).await,
    }
}

/// Loads and validates the configuration; every problem becomes one exit-2 error.
pub fn load_config(path: &Path) -> Result<Config> {
    crate::config::load(path).map_err(|d| Refusal::from(d).into())
}

/// Loads the configuration and its rules; every problem becomes one exit-2 error, and
/// every warning of the rule files is shown on stderr (`file:line: field: message`).
pub fn load(path: &Path) -> Result<(Config, RuleSet)> {
    let config = load_config(path)?;
    let loaded = crate::rules::load(&config).map_err(Refusal::from)?;
    for w in loaded.warnings.iter() {
        crate::logging::warning(&w.to_string());
    }
    Ok((config, loaded.rules))
}

/// Writes a report to `out`, or to stdout when none is given.
pub fn write_report(out: Option<&Path>, text: &str) -> Result<()> {
    use anyhow::Context;
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display())),
        None => crate::output::bytes(text.as_bytes()),
    }
}

/// Connects to the state store alone, for the commands that touch no data store (holds,
/// requests, the audit log), and refuses (exit 2) before `retention migrate` has created
/// the tool's tables (see [`crate::state::require_migrated`]).
pub async fn state_pool(config: &Config) -> Result<SqlPool> {
    let (name, url) = state_url(config)?;
    let pool = SqlPool::connect(&name, url.expose_secret()).await?;
    crate::state::require_migrated(&name, &pool).await?;
    Ok(pool)
}

/// The audit log for a command that writes one entry outside a run: checked before it
/// writes, like a run's ([`AuditLog::open`]), under an id of its own.
pub async fn audit_log(config: &Config, pool: &SqlPool) -> Result<AuditLog> {
    let id = uuid::Uuid::now_v7().to_string();
    AuditLog::open(&config.audit, pool.clone(), id, false).await
}

/// The state store's name and URL.
pub fn state_url(config: &Config) -> Result<(String, SecretString)> {
    match config.stores.get(&config.state) {
        Some(StoreConfig::Sql { url }) => Ok((config.state.clone(), url.clone())),
        _ => Err(Refusal::Invalid(format!(
            "{}: state: `{}` must name a SQL store",
            config.path.display(),
            config.state
        ))
        .into()),
    }
}
