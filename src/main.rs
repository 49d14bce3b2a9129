//! The `retention` binary: parse the command line, set up logging, run the command, and
//! map its outcome to an exit status (SPEC §5).

use retention::exit::{Refusal, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match retention::cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors exit 2, as a JSON
            // line when the command line asked for JSON logs.
            if e.use_stderr() && json_requested() {
                retention::logging::init(retention::cli::LogFormat::Json);
                let text = e.render().to_string();
                let text = text.trim().trim_start_matches("error: ");
                retention::logging::fatal(text, Status::Invalid as u8);
                return Status::Invalid.into();
            }
            let _ = e.print();
            return if e.use_stderr() {
                Status::Invalid.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    retention::commands::init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            retention::logging::fatal(
                &format!("cannot start the async runtime: {e}"),
                Status::Failed as u8,
            );
            return Status::Failed.into();
        }
    };
    match runtime.block_on(retention::commands::dispatch(cli)) {
        Ok(status) => status.into(),
        Err(e) => {
            let status = e
                .downcast_ref::<Refusal>()
                .map(Refusal::status)
                .unwrap_or(Status::Failed);
            retention::logging::fatal(&format!("{e:#}"), status as u8);
            status.into()
        }
    }
}

/// Whether the arguments ask for JSON logs (`--log-format json` or `--log-format=json`),
/// for a command line clap refused.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--log-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--log-format" && w[1] == "json")
}
