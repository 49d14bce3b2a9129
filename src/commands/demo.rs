//! `retention demo`: a self-contained run on SQLite and a local directory. Seeds synthetic
//! data for the shipped rule set, then does what an operator would: migrate, plan, run,
//! verify the audit log, and says what happened.

use crate::cli::{AuditCommand, PlanArgs, ReportFormat, RunArgs};
use crate::exit::Status;
use anyhow::{Context, Result};
use chrono::Utc;
use std::path::PathBuf;

pub async fn run(dir: Option<PathBuf>) -> Result<Status> {
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => tempfile_dir()?,
    };
    let paths = crate::demo::seed::seed(&dir, Utc::now()).await?;
    let config = paths.config.clone();
    println!("Seeded a demo shop in {}:", dir.display());
    println!("  database  {}", paths.database.display());
    println!("  files     {}", paths.media.display());
    println!("  config    {}\n", config.display());

    step("retention migrate");
    super::migrate::run(&config).await?;

    step("retention plan   (a dry run: what would happen, touching nothing)");
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

    step("retention run --allow-mass-delete   (the demo data is mostly old on purpose)");
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

    step("retention audit verify");
    let verified = super::audit::run(
        &config,
        AuditCommand::Verify {
            trusted: None,
            key: None,
        },
    )
    .await?;

    println!(
        "\nDone. Everything the run did is in the audit log: try\n  retention --config {} audit show\n",
        config.display()
    );
    Ok(status.max(verified))
}

fn step(title: &str) {
    println!("\n== {title}\n");
}

/// A fresh directory that outlives the process, so the user can look at what the demo did.
fn tempfile_dir() -> Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("retention-demo-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
