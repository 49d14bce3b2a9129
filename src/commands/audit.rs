//! `retention audit verify|prove|keygen|show`.
//!
//! `verify` exits 0 when the log is intact, 1 when it was tampered with (naming the first
//! bad `seq` and the kind of damage), 2 when it cannot be read. It checks the state store's
//! log and, when `audit.file` is configured, the file sink too. Checkpoint signatures are
//! checked with the verifier key derived from `audit.signing_key`.

use crate::audit::checkpoint::{self, CheckpointSigner, Verifiers};
use crate::audit::show::{self, Filter};
use crate::audit::{prove, sql, verify, Pseudonymiser};
use crate::cli::{AuditCommand, ReportFormat};
use crate::config::{Config, StoreConfig};
use crate::exit::{Refusal, Status};
use crate::stores::sql::SqlPool;
use anyhow::{Context, Result};
use secrecy::ExposeSecret;
use std::io::Write;
use std::path::Path;

/// Runs an `audit` subcommand, printing to stdout.
pub async fn run(config: &Path, cmd: AuditCommand) -> Result<Status> {
    let mut out = Vec::new();
    let status = match cmd {
        AuditCommand::Keygen { name } => keygen(&name, &mut out),
        cmd => {
            let config = super::load_config(config)?;
            run_loaded(&config, cmd, &mut out).await
        }
    };
    std::io::stdout()
        .write_all(&out)
        .context("cannot write to stdout")?;
    status
}

/// Loads the configuration.
// The loader (`crate::config::load`, issue 2) is being written in parallel; once it is
// in, this becomes `crate::config::load(path)` with its diagnostics mapped to exit 2.
/// Runs an `audit` subcommand against a loaded configuration, writing to `out`.
pub async fn run_loaded(config: &Config, cmd: AuditCommand, out: &mut Vec<u8>) -> Result<Status> {
    match cmd {
        AuditCommand::Keygen { name } => keygen(&name, out),
        AuditCommand::Verify { trusted } => {
            let trusted = match trusted {
                Some(path) => match std::fs::read(&path) {
                    Ok(note) => Some(note),
                    Err(e) => {
                        writeln!(
                            out,
                            "cannot read the trusted checkpoint {}: {e}",
                            path.display()
                        )?;
                        return Ok(Status::Invalid);
                    }
                },
                None => None,
            };
            verify_all(config, trusted.as_deref(), out).await
        }
        AuditCommand::Prove { seq } => {
            let pool = connect_state(config).await?;
            let log = sql::read_log(&pool).await?;
            let proof = prove::prove(&log, seq).map_err(|e| Refusal::Invalid(format!("{e:#}")))?;
            serde_json::to_writer_pretty(&mut *out, &proof)?;
            writeln!(out)?;
            Ok(Status::Done)
        }
        AuditCommand::Show {
            run,
            ticket,
            subject,
            format,
        } => {
            let pool = connect_state(config).await?;
            let log = sql::read_log(&pool).await?;
            let pseudonyms =
                Pseudonymiser::new(config.audit.pseudonym_key.expose_secret().as_bytes());
            let filter = Filter {
                run,
                ticket,
                subject_pseudonym: subject.map(|id| pseudonyms.subject(&id)),
            };
            let found = show::select(&log.entries, &filter);
            match format {
                ReportFormat::Text => out.extend_from_slice(show::render_text(&found).as_bytes()),
                ReportFormat::Json => out.extend_from_slice(&show::render_json(&found)),
                ReportFormat::Md | ReportFormat::Html => {
                    // A run report for compliance officers: what the run did, sealed by
                    // the first checkpoint that covers its last entry.
                    let entries = found
                        .iter()
                        .map(|e| crate::report::run::RunEntry::parse(&e.line))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| anyhow::anyhow!("an audit entry is not valid JSON: {e}"))?;
                    let cp = crate::report::run::covering_checkpoint(
                        &entries,
                        log.checkpoints.iter().map(|c| (c.size, c.note.as_str())),
                    );
                    let text = match format {
                        ReportFormat::Md => crate::report::run::md(&entries, cp),
                        _ => crate::report::run::html(&entries, cp),
                    };
                    out.extend_from_slice(text.as_bytes());
                }
                ReportFormat::Csv => {
                    return Err(Refusal::Invalid(
                        "`audit show` prints text, json, md or html; csv is for plans".into(),
                    )
                    .into())
                }
            }
            Ok(Status::Done)
        }
    }
}

fn keygen(name: &str, out: &mut Vec<u8>) -> Result<Status> {
    let (skey, vkey) = checkpoint::keygen(name).map_err(|e| Refusal::Invalid(e.to_string()))?;
    writeln!(out, "{skey}")?;
    writeln!(out, "{vkey}")?;
    eprintln!(
        "The first line is the private key: keep it secret and give it to the job as \
         audit.signing_key (e.g. RETENTION_SIGNING_KEY). The second is the verifier key: \
         publish it to whoever checks checkpoints."
    );
    Ok(Status::Done)
}

/// The verifier key of the configured signing key, if any.
pub fn verifiers(config: &Config) -> Result<Verifiers> {
    match &config.audit.signing_key {
        Some(k) if !k.expose_secret().trim().is_empty() => {
            let signer = CheckpointSigner::from_private_key(k.expose_secret())
                .map_err(|e| Refusal::Invalid(format!("audit.signing_key: {e}")))?;
            Ok(Verifiers::from_keys(&[signer.verifier_key()])?)
        }
        _ => Ok(Verifiers::none()),
    }
}

async fn connect_state(config: &Config) -> Result<SqlPool> {
    match config.stores.get(&config.state) {
        Some(StoreConfig::Sql { url }) => {
            SqlPool::connect(&config.state, url.expose_secret()).await
        }
        _ => Err(Refusal::Invalid(format!(
            "state: `{}` is not a SQL store in `stores`",
            config.state
        ))
        .into()),
    }
}

/// Verifies the state store's log and the file sink; exit 1 if either was tampered with,
/// 2 if either cannot be read.
async fn verify_all(config: &Config, trusted: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Status> {
    let verifiers = verifiers(config)?;
    let mut status = Status::Done;
    let db = async {
        let pool = connect_state(config).await?;
        verify::verify(&pool, &verifiers, trusted).await
    }
    .await;
    status = status.max(report(&format!("state store `{}`", config.state), db, out)?);
    if let Some(file) = &config.audit.file {
        let result = verify::verify_file(file, &verifiers, trusted);
        status = status.max(report(&file.display().to_string(), result, out)?);
    }
    Ok(status)
}

fn report(what: &str, result: Result<verify::VerifyReport>, out: &mut Vec<u8>) -> Result<Status> {
    Ok(match result {
        Ok(r) => {
            writeln!(out, "{what}: {r}")?;
            if r.intact() {
                Status::Done
            } else {
                Status::Failed
            }
        }
        Err(e) => {
            writeln!(out, "{what}: cannot read the audit log: {e:#}")?;
            Status::Invalid
        }
    })
}
