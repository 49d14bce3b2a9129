//! `retention audit verify|prove|certificate|keygen|show`.
//!
//! `verify` exits 0 when the log is intact, 1 when it was tampered with (naming the first
//! bad `seq` and the kind of damage), 2 when it cannot be read — also before `retention
//! migrate` has created it, when every subcommand that reads the log exits 2, as `hold`
//! and `request` do. It checks the state store's log and, when `audit.file` is
//! configured, the file sink too. Signatures are checked with `--key`, else
//! `audit.verifier_key`, else the key of `audit.signing_key`; without any, the report
//! says loudly that they were not checked.

use crate::audit::checkpoint::{self, CheckpointSigner, Verifiers};
use crate::audit::show::{self, Filter};
use crate::audit::{certificate, prove, sql, verify, Pseudonymiser};
use crate::cli::{AuditCommand, CertificateFormat, ReportFormat};
use crate::config::Config;
use crate::exit::{Refusal, Status};
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
    crate::output::bytes(&out)?;
    status
}

/// Runs an `audit` subcommand against a loaded configuration, writing to `out`.
pub async fn run_loaded(config: &Config, cmd: AuditCommand, out: &mut Vec<u8>) -> Result<Status> {
    match cmd {
        AuditCommand::Keygen { name } => keygen(&name, out),
        AuditCommand::Verify { trusted, key } => {
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
            let verifiers = verifiers(config, key.as_deref())?;
            verify_all(config, &verifiers, trusted.as_deref(), out).await
        }
        AuditCommand::Prove { seq, from_size } => {
            let pool = super::state_pool(config).await?;
            let log = sql::read_log(&pool).await?;
            let verifiers = verifiers(config, None)?;
            let proof = match prove::prove(&log, seq, from_size, &verifiers) {
                Ok(p) => p,
                Err(e @ prove::ProveError::NotCovered(..)) => {
                    crate::logging::error(&e.to_string());
                    return Ok(Status::Failed);
                }
                Err(e) => return Err(Refusal::Invalid(e.to_string()).into()),
            };
            if !proof.signed {
                crate::logging::warning(
                    "this log has no signing key, so the proof is unsigned: it shows \
                     the entry is in the tree, not who wrote the tree",
                );
            }
            serde_json::to_writer_pretty(&mut *out, &proof)?;
            writeln!(out)?;
            Ok(Status::Done)
        }
        AuditCommand::Certificate {
            ticket,
            format,
            out: path,
        } => {
            let pool = super::state_pool(config).await?;
            let log = sql::read_log(&pool).await?;
            let verifiers = verifiers(config, None)?;
            let vkey = verifier_key_text(config)?;
            let cert = match certificate::certificate(&log, &ticket, &verifiers, vkey.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    crate::logging::error(&e.to_string());
                    return Ok(Status::Failed);
                }
            };
            let text = match format {
                CertificateFormat::Json => serde_json::to_string_pretty(&cert)? + "\n",
                CertificateFormat::Html => crate::report::certificate::html(&cert),
            };
            emit(path.as_deref(), text.as_bytes(), out, "the certificate")?;
            Ok(Status::Done)
        }
        AuditCommand::Runs => {
            let pool = super::state_pool(config).await?;
            let log = sql::read_log(&pool).await?;
            out.extend_from_slice(show::render_runs(&log.entries).as_bytes());
            Ok(Status::Done)
        }
        AuditCommand::Show {
            run,
            ticket,
            subject,
            format,
            out: path,
        } => {
            let pool = super::state_pool(config).await?;
            let log = sql::read_log(&pool).await?;
            let pseudonyms =
                Pseudonymiser::new(config.audit.pseudonym_key.expose_secret().as_bytes());
            // A wrong or partial run id is an error, not "0 entries".
            let run = match run {
                Some(r) => Some(
                    show::resolve_run(&log.entries, &r)
                        .map_err(|e| Refusal::Invalid(e.to_string()))?,
                ),
                None => None,
            };
            let filter = Filter {
                run,
                ticket,
                subject_pseudonym: subject.map(|id| pseudonyms.subject(&id)),
            };
            let found = show::select(&log.entries, &filter);
            let text: Vec<u8> = match format {
                ReportFormat::Text => show::render_text(&found).into_bytes(),
                ReportFormat::Json => show::render_json(&found),
                ReportFormat::Md | ReportFormat::Html => {
                    // The rule set adds policy clauses and kept categories; a report
                    // without them is still a report.
                    let rules = crate::rules::load(config).ok().map(|l| l.rules);
                    let html = matches!(format, ReportFormat::Html);
                    show::render_report(&log, &found, &filter, html, rules.as_ref())?.into_bytes()
                }
                ReportFormat::Csv => {
                    return Err(Refusal::Invalid(
                        "`audit show` prints text, json, md or html; csv is for plans".into(),
                    )
                    .into())
                }
            };
            emit(path.as_deref(), &text, out, "the entries")?;
            Ok(Status::Done)
        }
    }
}

/// Writes `bytes` to `path`, or to `out` (stdout) without one.
fn emit(path: Option<&Path>, bytes: &[u8], out: &mut Vec<u8>, what: &str) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {what} to {}", p.display()))
        }
        None => {
            out.extend_from_slice(bytes);
            Ok(())
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

/// The keys signatures are checked with: `--key` (a verifier key, or a file holding one),
/// else `audit.verifier_key`, else the key of `audit.signing_key`; none when none is
/// configured.
pub fn verifiers(config: &Config, key: Option<&str>) -> Result<Verifiers> {
    let text = match key {
        Some(k) => Some(read_key_arg(k)?),
        None => verifier_key_text(config)?,
    };
    match text {
        Some(t) => {
            Verifiers::from_keys(&[&t]).map_err(|e| Refusal::Invalid(format!("--key: {e}")).into())
        }
        None => Ok(Verifiers::none()),
    }
}

/// `--key VERIFIER`: the key itself, or a file that holds it.
fn read_key_arg(arg: &str) -> Result<String> {
    if Verifiers::from_keys(&[arg]).is_ok() {
        return Ok(arg.trim().to_owned());
    }
    match std::fs::read_to_string(arg) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(_) => Err(Refusal::Invalid(format!(
            "--key: `{arg}` is neither a verifier key (<name>+<hash>+<base64>, the second line \
             `retention audit keygen` prints) nor a readable file holding one"
        ))
        .into()),
    }
}

/// The configured verifier key: `audit.verifier_key`, or the one of `audit.signing_key`.
fn verifier_key_text(config: &Config) -> Result<Option<String>> {
    if let Some(v) = &config.audit.verifier_key {
        return Ok(Some(v.clone()));
    }
    match &config.audit.signing_key {
        Some(k) if !k.expose_secret().trim().is_empty() => {
            let signer = CheckpointSigner::from_private_key(k.expose_secret())
                .map_err(|e| Refusal::Invalid(format!("audit.signing_key: {e}")))?;
            Ok(Some(signer.verifier_key().to_owned()))
        }
        _ => Ok(None),
    }
}

/// Verifies the state store's log and the file sink; exit 1 if either was tampered with,
/// 2 if either cannot be read.
async fn verify_all(
    config: &Config,
    verifiers: &Verifiers,
    trusted: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<Status> {
    let mut status = Status::Done;
    let mut origin = config.audit.origin.clone();
    let db = async {
        let pool = super::state_pool(config).await?;
        if origin.is_none() {
            // A state store migrated before origins were recorded has none to check.
            origin = crate::audit::origin::recorded(&pool).await.ok();
        }
        verify::verify(&pool, verifiers, trusted, origin.as_deref()).await
    }
    .await;
    status = status.max(report(&format!("state store `{}`", config.state), db, out)?);
    let signing = config
        .audit
        .signing_key
        .as_ref()
        .is_some_and(|k| !k.expose_secret().trim().is_empty());
    if signing && config.audit.origin.is_none() {
        crate::logging::warning(&origin_unpinned(origin.as_deref()));
    }
    if let Some(file) = &config.audit.file {
        let result = verify::verify_file(file, verifiers, trusted, origin.as_deref());
        status = status.max(report(&file.display().to_string(), result, out)?);
    }
    Ok(status)
}

/// Why a signing key without `audit.origin` leaves one forgery unseen (docs/audit.md).
pub fn origin_unpinned(recorded: Option<&str>) -> String {
    let set = match recorded {
        Some(o) => format!("set audit.origin: {o}"),
        None => "set audit.origin".to_owned(),
    };
    format!(
        "audit.signing_key is configured without audit.origin, so the log's origin is read \
         from the state store it vouches for: a superuser who replaces all four audit tables \
         with another log signed by the same key would pass `audit verify` and the next run \
         would sign on. {set} (the origin verify prints), and keep a checkpoint elsewhere \
         (`audit verify --trusted NOTE`)"
    )
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
        // A state store `migrate` has not set up, or one that is not a SQL store: the
        // refusal's own sentence names the store.
        Err(e) if e.is::<Refusal>() => {
            writeln!(out, "{e}")?;
            Status::Invalid
        }
        Err(e) => {
            writeln!(out, "{what}: cannot read the audit log: {e:#}")?;
            Status::Invalid
        }
    })
}
