//! `retention export --subject ID [--out FILE]`: everything the targets hold about a
//! subject, as JSON (docs/requests.md describes the structure).

use crate::config::Config;
use crate::dsar::export;
use crate::exit::{Refusal, Status};
use crate::rules::RuleSet;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use chrono::Utc;
use std::io::Write;
use std::path::{Path, PathBuf};

pub async fn run(config: &Path, subject: String, out_file: Option<PathBuf>) -> Result<Status> {
    let (config, rules) = super::load(config)?;
    let mut out = Vec::new();
    let status = run_loaded(config, rules, &subject, out_file.as_deref(), &mut out).await;
    crate::output::bytes(&out)?;
    status
}

/// Runs `export` against a loaded configuration. The JSON goes to `out_file`, or to `out`
/// when none is given. Exit 1 when some target could not be read (listed under
/// `incomplete`, and on stderr).
pub async fn run_loaded(
    config: Config,
    rules: RuleSet,
    subject: &str,
    out_file: Option<&Path>,
    out: &mut Vec<u8>,
) -> Result<Status> {
    if subject.trim().is_empty() {
        return Err(Refusal::Invalid("--subject: the subject id is empty".into()).into());
    }
    let ws = Workspace::connect(config, rules).await?;
    let export = export::export(&ws, subject, Utc::now()).await?;
    let mut json = serde_json::to_vec_pretty(&export)?;
    json.push(b'\n');
    match out_file {
        Some(path) => write_private(path, &json)
            .with_context(|| format!("cannot write the export to {}", path.display()))?,
        None => out.extend_from_slice(&json),
    }
    for i in &export.incomplete {
        crate::logging::warning(&format!(
            "{}/{} was not exported: {}",
            i.store, i.target, i.reason
        ));
    }
    Ok(if export.complete() {
        Status::Done
    } else {
        Status::Failed
    })
}

/// Writes the export readable by its owner only: it is the subject's personal data.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}
