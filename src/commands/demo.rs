//! `retention demo`: a self-contained run on SQLite and a local directory. Seeds synthetic
//! data for the shipped rule set, then does what an operator would: migrate, plan, run,
//! verify the audit log, and says what happened.

use crate::cli::{AuditCommand, PlanArgs, ReportFormat, RunArgs};
use crate::exit::{Refusal, Status};
use anyhow::{Context, Result};
use chrono::Utc;
use std::path::{Path, PathBuf};

/// The file that marks a directory as a demo's.
const MARKER: &str = ".retention-demo";

pub async fn run(dir: Option<PathBuf>) -> Result<Status> {
    let dir = match dir {
        Some(d) => {
            refuse_occupied(&d)?;
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => tempfile_dir()?,
    };
    let paths = crate::demo::seed::seed(&dir, Utc::now()).await?;
    let marker = dir.join(MARKER);
    std::fs::write(
        &marker,
        "This directory was made by `retention demo`; remove it to start over.\n",
    )
    .with_context(|| format!("cannot write {}", marker.display()))?;
    let config = paths.config.clone();
    crate::outln!("Seeded a demo shop in {}:", dir.display())?;
    crate::outln!("  database  {}", paths.database.display())?;
    crate::outln!("  files     {}", paths.media.display())?;
    crate::outln!("  config    {}\n", config.display())?;

    step("retention migrate")?;
    super::migrate::run(&config).await?;

    step("retention plan   (a dry run: what would happen, touching nothing)")?;
    super::plan::run(
        &config,
        PlanArgs {
            as_of: None,
            rules: Vec::new(),
            format: ReportFormat::Text,
            out: None,
        },
    )
    .await?;

    step("retention run --allow-mass-delete   (the demo data is mostly old on purpose)")?;
    let status = super::run::run(
        &config,
        RunArgs {
            dry_run: false,
            rules: Vec::new(),
            shard: None,
            allow_mass_delete: true,
            metrics_file: None,
        },
    )
    .await?;

    step("retention audit verify")?;
    let verified = super::audit::run(
        &config,
        AuditCommand::Verify {
            trusted: None,
            key: None,
        },
    )
    .await?;

    crate::outln!(
        "\nDone. Everything the run did is in the audit log: try\n  retention --config {} audit show\n",
        config.display()
    )?;
    Ok(status.max(verified))
}

/// `--dir` must be new or empty: the demo writes
/// `retention.yaml`, `rules/`, `demo.db` and `media/` there, and a previous demo's
/// `demo.db` holds its audit log, holds and requests, which a new seed would replace.
fn refuse_occupied(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(Refusal::Invalid(format!("--dir {}: not a directory", dir.display())).into());
    }
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("--dir {}: cannot read the directory", dir.display()))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let previous = dir.join(MARKER).exists()
        || ["retention.yaml", "demo.db", "rules", "media"]
            .iter()
            .all(|f| dir.join(f).exists());
    let message = if previous {
        format!(
            "--dir {d}: a previous demo is there, with its audit log, holds and requests in \
             {d}/demo.db; the demo does not overwrite them. To look at it: `retention --config \
             {d}/retention.yaml audit show`. To start over: remove it first (`rm -r {d}`), or \
             pick another --dir",
            d = dir.display()
        )
    } else {
        format!(
            "--dir {d}: the directory is not empty and holds no demo; the demo writes \
             retention.yaml, rules/, demo.db and media/ there and would overwrite files of \
             yours. Pick a new or empty directory (or leave --dir out for a temporary one)",
            d = dir.display()
        )
    };
    Err(Refusal::Invalid(message).into())
}

fn step(title: &str) -> Result<()> {
    crate::outln!("\n== {title}\n")
}

/// A fresh directory that outlives the process, so the user can look at what the demo did.
fn tempfile_dir() -> Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("retention-demo-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
