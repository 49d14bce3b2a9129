//! One module per command: load what it needs, call the library, report, and return the
//! exit status. `main` stays thin; tests drive these through the binary.

pub mod audit;
pub mod check;

use crate::cli::{Cli, Command, LogFormat};
use crate::exit::Status;
use anyhow::{bail, Result};

/// Sets up `tracing` on stderr: sentences for a terminal, JSON lines with `--log-format json`.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RETENTION_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Runs one command.
pub async fn dispatch(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Check { connect } => check::run(&cli.config, connect).await,
        Command::Audit(cmd) => audit::run(&cli.config, cmd).await,
        other => bail!("`{other:?}` is not available in this build yet"),
    }
}
