//! The command line (SPEC §5): clap definitions only, no behaviour.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Enforce a privacy policy's retention and erasure promises on live data.
///
/// `retention` reads per-category rules, finds the records and objects that are past
/// their retention period, flagged for erasure, or named in an erasure request, and
/// deletes or anonymises them in safe batches. Every action lands in a tamper-evident
/// audit log.
///
/// Start with `retention demo` to see a whole run on an embedded example, then
/// `retention check` and `retention plan` against your own configuration.
///
/// Exit codes: 0 done; 1 a target or request failed; 2 invalid usage, configuration or
/// rules (nothing ran); 3 the safety guard refused a target; 4 another run holds the lock.
#[derive(Debug, Parser)]
#[command(name = "retention", version, max_term_width = 100)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "retention.yaml",
        env = "RETENTION_CONFIG"
    )]
    pub config: PathBuf,

    /// How log lines are written to stderr: sentences for a terminal, JSON for a cluster.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The command line with `--config` hidden where nothing reads it (`demo` makes its own,
/// `audit keygen` reads none) and `--log-format` hidden on `audit keygen`, which logs
/// nothing. Both stay accepted there: they are global options (SPEC §5).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    cmd.mut_subcommand("demo", |c| c.mut_arg("config", |a| a.hide(true)))
        .mut_subcommand("audit", |c| {
            c.mut_subcommand("keygen", |k| {
                k.mut_arg("config", |a| a.hide(true))
                    .mut_arg("log_format", |a| a.hide(true))
            })
        })
}

/// Parses the process's arguments with [`command`].
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and every rule file; with --connect, also the live
    /// tables, columns, keys, indexes and buckets.
    Check {
        /// Also connect to every store and check the rules against the live schemas.
        #[arg(long)]
        connect: bool,
    },
    /// Dry run: show what a run would do, touching nothing (not even the tool's own tables).
    Plan(PlanArgs),
    /// Enforce retention: queued erasure requests first, then flags and expiry.
    Run(RunArgs),
    /// Erase one subject now, in every category, honouring holds and keep obligations.
    Erase(EraseArgs),
    /// Queue erasure requests for the next run, or list them.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Legal holds: nothing of a held subject is deleted or anonymised.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Everything held about a subject, as JSON (the portability right).
    Export {
        /// The subject id.
        #[arg(long, value_name = "ID")]
        subject: String,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read, verify and prove the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Personal data in the configured stores that no rule covers: tables and columns
    /// that look personal (by name, type, foreign key, or a small read-only sample of
    /// values), and folders of objects under no target prefix. Never prints a value.
    Coverage(CoverageArgs),
    /// The retention column of the record of processing (GDPR Art. 30(1)(f)), from the
    /// rule set: per category its description, policy source, retention period, action on
    /// expiry and on erasure, legal reason to keep, stores and targets.
    Ropa(RopaArgs),
    /// Stay up and run each rule on its cron `schedule`, never overlapping itself.
    ///
    /// Rules without a `schedule` are not run by this command. Runs happen one at a time
    /// in this process; a tick that falls during a run is taken when the run ends.
    Schedule {
        /// Exit after this many runs (default: run until SIGTERM).
        #[arg(long)]
        max_runs: Option<u64>,
        /// Also write Prometheus metrics after every run (see `run --metrics-file`).
        #[arg(long, value_name = "FILE")]
        metrics_file: Option<PathBuf>,
    },
    /// Create or upgrade the tool's own tables in the state store.
    Migrate,
    /// A self-contained run on SQLite and a local directory, with synthetic data.
    Demo {
        /// Where to create the demo's database, files and config (default: a new
        /// temporary directory, kept and printed at the end).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan as if it were this time (RFC 3339 or a date), e.g. the end of next month.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only these categories (repeatable).
    #[arg(long = "rule", value_name = "CATEGORY")]
    pub rules: Vec<String>,
    /// text for a terminal, json for scripts (SPEC §5), md or html for a compliance
    /// officer, csv for a spreadsheet.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// text for a terminal, json for scripts, md or html for a compliance officer.
    #[arg(long, value_enum, default_value_t = CoverageFormat::Text)]
    pub format: CoverageFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    Text,
    Json,
    Md,
    Html,
}

#[derive(Debug, Args)]
pub struct RopaArgs {
    /// md (default) or html for the record itself, csv for a spreadsheet.
    #[arg(long, value_enum, default_value_t = RopaFormat::Md)]
    pub format: RopaFormat,
    /// Write the record to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RopaFormat {
    Md,
    Html,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Md,
    Html,
    Csv,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Select and count exactly as a real run would, but change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these categories (repeatable).
    #[arg(long = "rule", value_name = "CATEGORY")]
    pub rules: Vec<String>,
    /// Process only shard I of N (0-based), e.g. `--shard 2/7`. Defaults to
    /// JOB_COMPLETION_INDEX of RETENTION_SHARDS when run as a Kubernetes Indexed Job.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Let targets through the mass-delete guard (SPEC §6). Use after reading the plan.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Write Prometheus metrics (rows deleted, anonymised, held, locked, errors, duration,
    /// last success) to this file after the run, for node_exporter's textfile collector.
    #[arg(long, value_name = "FILE", env = "RETENTION_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

/// Exactly one of `--subject`, `--email`, `--phone` names whom to erase; `--ticket` is
/// always required and `--dry-run` combines with any of them.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).multiple(false).args(["subject", "email", "phone"])))]
pub struct EraseArgs {
    /// The subject id.
    #[arg(long, value_name = "ID")]
    pub subject: Option<String>,
    /// Resolve the subject by email (needs `subjects.lookup` in the config).
    #[arg(long)]
    pub email: Option<String>,
    /// Resolve the subject by phone number (needs `subjects.lookup` in the config).
    #[arg(long)]
    pub phone: Option<String>,
    /// The erasure request's ticket id (required; stored with the outcome).
    #[arg(long)]
    pub ticket: String,
    /// Show what would be erased, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Queue an erasure request; the next `run` processes it before retention work.
    Add {
        /// The subject id to erase everywhere.
        #[arg(long, value_name = "ID")]
        subject: String,
        /// The request's ticket id (e.g. DSAR-17), unique; reports and the audit log
        /// name the request by it.
        #[arg(long, value_name = "TICKET")]
        ticket: String,
    },
    /// List erasure requests and their outcomes.
    List,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Put a subject under legal hold; on a held subject, replace its reason and expiry
    /// (and say so).
    Add {
        /// The subject id to hold.
        #[arg(long, value_name = "ID")]
        subject: String,
        /// Why (shown in `hold list` and reports; keep personal data out of it).
        #[arg(long)]
        reason: String,
        /// When the hold lapses by itself (RFC 3339 or a date); default: never.
        #[arg(long)]
        until: Option<String>,
    },
    /// Lift a subject's hold.
    Remove {
        /// The held subject's id.
        #[arg(long, value_name = "ID")]
        subject: String,
    },
    /// List the holds, in force or lapsed.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Rebuild the Merkle tree and check every link, sequence number, checkpoint and
    /// signature. Exit 0 intact, 1 tampered (naming the first bad seq), 2 unreadable.
    Verify {
        /// A checkpoint (signed note file) kept elsewhere; the log must extend it.
        #[arg(long, value_name = "NOTE")]
        trusted: Option<PathBuf>,
        /// The public verifier key (`name+hash+base64`, or a file holding it): check every
        /// signature with it alone, as an auditor does. Default: `audit.verifier_key`, or
        /// the key of `audit.signing_key`.
        #[arg(long, value_name = "VERIFIER")]
        key: Option<String>,
    },
    /// Print an inclusion proof of entry N with the newest checkpoint (docs/audit-proofs.md).
    Prove {
        /// The entry's sequence number (`seq` in `audit show`).
        #[arg(long, value_name = "N")]
        seq: u64,
        /// Also prove that the tree of size M (an older checkpoint) is a prefix of it.
        #[arg(long, value_name = "M")]
        from_size: Option<u64>,
    },
    /// What was done for one erasure request, each entry with its inclusion proof and the
    /// covering checkpoint, as one file a regulator or the data subject can check offline.
    Certificate {
        /// The erasure request's ticket.
        #[arg(long, value_name = "TICKET")]
        ticket: String,
        /// html: a page that checks its own proofs in the browser; json for machines.
        #[arg(long, value_enum, default_value_t = CertificateFormat::Html)]
        format: CertificateFormat,
        /// Write the certificate to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the runs in the audit log, oldest first: id, start, end, outcome and totals.
    Runs,
    /// Print a new Ed25519 signing key (PRIVATE+KEY+…) and its verifier key.
    Keygen {
        /// The key's name, e.g. `retention.example.com/audit` (it labels signatures).
        #[arg(long)]
        name: String,
    },
    /// Show entries, filtered by run, ticket or subject (every entry without a filter);
    /// md and html give a run's report for a compliance officer.
    Show {
        /// A run id from `audit runs`, or the start of exactly one.
        #[arg(long, value_name = "ID")]
        run: Option<String>,
        /// An erasure request's ticket.
        #[arg(long, value_name = "TICKET")]
        ticket: Option<String>,
        /// A subject id; matched through its pseudonym.
        #[arg(long, value_name = "ID")]
        subject: Option<String>,
        /// text: a table; json: the exact stored lines; md, html: a run report.
        #[arg(
            long,
            default_value = "text",
            value_parser = clap::builder::TypedValueParser::map(
                clap::builder::PossibleValuesParser::new(["text", "json", "md", "html"]),
                |s: String| <ReportFormat as ValueEnum>::from_str(&s, false).unwrap_or(ReportFormat::Text),
            )
        )]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The formats of `audit certificate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertificateFormat {
    Html,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(path: &[&str]) -> String {
        let mut cmd = command();
        let mut sub = &mut cmd;
        for p in path {
            sub = sub.find_subcommand_mut(p).expect("a subcommand");
        }
        sub.render_long_help().to_string()
    }

    #[test]
    fn demo_and_keygen_do_not_offer_options_they_ignore() {
        assert!(!help(&["demo"]).contains("--config"));
        assert!(help(&["demo"]).contains("--log-format"));
        assert!(!help(&["audit", "keygen"]).contains("--config"));
        assert!(!help(&["audit", "keygen"]).contains("--log-format"));
        assert!(help(&["plan"]).contains("--config"));
    }

    #[test]
    fn every_option_and_subcommand_has_a_description() {
        fn walk(cmd: &clap::Command, path: String, bare: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && !["help", "version"].contains(&id) {
                    bare.push(format!("{path} --{id}"));
                }
            }
            for s in cmd.get_subcommands() {
                if s.get_about().is_none() && s.get_name() != "help" {
                    bare.push(format!("{path} {}", s.get_name()));
                }
                walk(s, format!("{path} {}", s.get_name()), bare);
            }
        }
        let mut bare = Vec::new();
        walk(&command(), "retention".into(), &mut bare);
        assert!(bare.is_empty(), "without a description: {bare:?}");
    }

    #[test]
    fn audit_show_does_not_offer_csv() {
        let h = help(&["audit", "show"]);
        assert!(h.contains("html") && !h.contains("csv"), "{h}");
        let e = command()
            .try_get_matches_from(["retention", "audit", "show", "--format", "csv"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
