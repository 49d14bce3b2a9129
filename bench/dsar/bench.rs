//! Benchmark driver for erasing one subject (run through `bench/dsar/run.sh`).
//!
//! Erases one subject from the `*_ours` tables of the database at URL exactly as
//! `retention erase --subject ID --ticket T` does (connect, catalog, run lock, audit log,
//! children first, one `request` entry), and prints the elapsed seconds on stdout. The
//! configuration is built here rather than read from a file, so the benchmark measures
//! the erasure and nothing else.
//!
//! Usage: dsar_bench URL SUBJECT TICKET

use anyhow::{bail, Context};
use retention::cli::EraseArgs;
use retention::config::{AuditConfig, Config, StoreConfig};
use retention::exit::Status;
use retention::ident::Ident;
use retention::rules::{Action, Rule, RuleSet, SubjectColumn, TableTarget, Target};
use std::collections::BTreeMap;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, subject, ticket] = args.as_slice() else {
        bail!("usage: dsar_bench URL SUBJECT TICKET");
    };
    let (config, rules) = setup(url)?;
    // The tool's own tables, as `retention migrate` creates them (not timed).
    let pool = retention::stores::sql::SqlPool::connect("app", url).await?;
    retention::state::migrate::migrate(&pool).await?;
    drop(pool);
    let started = Instant::now();
    let mut out = Vec::new();
    let status = retention::commands::erase::run_loaded(
        config,
        rules,
        EraseArgs {
            subject: Some(subject.clone()),
            email: None,
            phone: None,
            ticket: ticket.clone(),
            dry_run: false,
        },
        &mut out,
    )
    .await?;
    let took = started.elapsed().as_secs_f64();
    eprint!("{}", String::from_utf8_lossy(&out));
    if status != Status::Done {
        bail!("the erasure did not finish cleanly");
    }
    println!("{took:.4}");
    Ok(())
}

fn setup(url: &str) -> anyhow::Result<(Config, RuleSet)> {
    let id = |s: &str| Ident::parse(s).context("identifier");
    let mut stores = BTreeMap::new();
    stores.insert(
        "app".to_owned(),
        StoreConfig::Sql {
            url: url.to_owned().into(),
        },
    );
    let config = Config {
        path: "bench".into(),
        base_dir: ".".into(),
        stores,
        state: "app".into(),
        audit: AuditConfig {
            pseudonym_key: "bench-pseudonym-key-0123456789abcdef0123456789".into(),
            signing_key: None,
            verifier_key: None,
            origin: None,
            unsigned_history: 0,
            export: None,
            file: None,
        },
        rules_dir: ".".into(),
        subjects: None,
        requests: Default::default(),
        defaults: Default::default(),
        digest: "sha256:bench".into(),
    };
    let mut rules = Vec::new();
    for (category, table, subject) in [
        ("accounts", "accounts_ours", "id"),
        ("sessions", "sessions_ours", "account_id"),
        ("events", "events_ours", "account_id"),
        ("locations", "locations_ours", "account_id"),
    ] {
        rules.push(Rule {
            category: category.into(),
            file: format!("{category}.yaml").into(),
            description: String::new(),
            source: "benchmark".into(),
            retain: "forever".parse().context("retain")?,
            on_expiry: Action::Keep,
            on_erasure: Action::Delete,
            keep_reason: None,
            schedule: None,
            allow_mass_delete: false,
            sha256: format!("sha256:{category}"),
            targets: vec![Target::Table(TableTarget {
                places: Default::default(),
                store: "app".into(),
                table: id(table)?,
                key: vec![id("id")?],
                timestamp: None,
                subject: Some(SubjectColumn::Column(id(subject)?)),
                erasure_flag: None,
                filter: vec![],
                anonymise: vec![],
                marker: None,
                export_exclude: Vec::new(),
                partitions: Default::default(),
            })],
        });
    }
    Ok((
        config,
        RuleSet {
            rules,
            digest: "sha256:bench".into(),
        },
    ))
}
