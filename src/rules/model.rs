//! The resolved rule model: what a rule file means once it has been parsed and validated.
//!
//! Every value here is already checked: identifiers are [`Ident`]s, periods are parsed,
//! cron expressions compiled, strategies fit their columns as far as the file can tell.
//! Nothing in this module does I/O.

use crate::ident::Ident;
use crate::time::Retain;
use std::path::PathBuf;

/// All rules of a configuration, in a stable order (by category).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// `sha256:<hex>` over every rule file's name and bytes, in order; recorded at `run_start`.
    pub digest: String,
}

/// One category's rule (one file).
#[derive(Debug, Clone)]
pub struct Rule {
    /// The category name, unique across the rule set (`location`, `orders`, …).
    pub category: String,
    /// The file the rule came from, for messages.
    pub file: PathBuf,
    pub description: String,
    /// Where in the privacy policy the promise is made.
    pub source: String,
    pub retain: Retain,
    pub on_expiry: Action,
    pub on_erasure: Action,
    /// Required (non-empty) when `on_erasure` is `keep`: the legal obligation to keep.
    pub keep_reason: Option<String>,
    /// Optional cron schedule used by `retention schedule`.
    pub schedule: Option<CronSchedule>,
    /// The rule allows matches above the mass-delete guard (SPEC §6).
    pub allow_mass_delete: bool,
    /// `sha256:<hex>` of the rule file's bytes; every audit entry of this rule carries it.
    pub sha256: String,
    pub targets: Vec<Target>,
}

/// A cron schedule as written, and compiled.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The expression as written in the rule (5 fields, or 6–7 with seconds).
    pub expression: String,
    pub schedule: cron::Schedule,
}

/// What happens to a matched record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Delete,
    Anonymise,
    Keep,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Anonymise => "anonymise",
            Action::Keep => "keep",
        }
    }
}

/// A place that holds data of a category.
// A rule set holds a few dozen targets, built once per command: boxing the larger
// variant would save nothing worth an indirection at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Target {
    Table(TableTarget),
    Objects(ObjectTarget),
}

impl Target {
    /// The store name the target lives in.
    pub fn store(&self) -> &str {
        match self {
            Target::Table(t) => &t.store,
            Target::Objects(o) => &o.store,
        }
    }

    /// The name reports and audit entries use: the table name or the prefix.
    pub fn name(&self) -> &str {
        match self {
            Target::Table(t) => t.table.as_str(),
            Target::Objects(o) => &o.prefix,
        }
    }

    /// Whether the target can be tied to a subject (erasure requests, holds).
    pub fn has_subject(&self) -> bool {
        match self {
            Target::Table(t) => t.subject.is_some(),
            Target::Objects(o) => o.subject.is_some(),
        }
    }
}

/// Where a target's fields stand in its rule file: its path (`targets[2]`) and the line
/// of each field (`key`, `filter[0]`, `anonymise.dob`; the target itself under `""`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    pub path: String,
    pub lines: std::collections::BTreeMap<String, usize>,
}

impl Places {
    /// `targets[2].anonymise.dob` and the line it is on (the nearest enclosing field's
    /// line when the field itself was not written, e.g. `filter[0].eq` → `filter[0]`).
    pub fn locate(&self, field: &str) -> (String, usize) {
        let mut probe = field;
        let line = loop {
            if let Some(l) = self.lines.get(probe) {
                break *l;
            }
            match probe.rfind(['.', '[']) {
                Some(i) => probe = &probe[..i],
                None => break self.lines.get("").copied().unwrap_or(0),
            }
        };
        let path = match (self.path.is_empty(), field.is_empty()) {
            (_, true) => self.path.clone(),
            (true, false) => field.to_owned(),
            (false, false) => format!("{}.{field}", self.path),
        };
        (path, line)
    }
}

/// A table in a SQL store.
#[derive(Debug, Clone)]
pub struct TableTarget {
    /// Where the target is written in its rule file, for problems found later.
    pub places: Box<Places>,
    pub store: String,
    pub table: Ident,
    /// Primary-key columns, in order; keyset pagination walks them.
    pub key: Vec<Ident>,
    /// Required unless the rule retains forever.
    pub timestamp: Option<TimestampColumn>,
    pub subject: Option<SubjectColumn>,
    /// Rows where this column is not NULL are erased at the next run, whatever their age.
    pub erasure_flag: Option<Ident>,
    pub filter: Vec<Filter>,
    /// Column -> strategy, in file order. Empty when the rule never anonymises.
    pub anonymise: Vec<(Ident, ColumnStrategy)>,
    /// Column set to the run's time when a row is anonymised; anonymised rows are never
    /// selected again (`marker IS NULL` joins every anonymise selection).
    pub marker: Option<Ident>,
    /// Columns `export` leaves out, besides the credential-like ones it always leaves out.
    pub export_exclude: Vec<Ident>,
    /// How expiry treats a range-partitioned table's wholly expired partitions.
    pub partitions: PartitionMode,
}

/// `partitions:` of a table target (SPEC §3): what expiry does with a partition of a
/// range-partitioned table whose every row is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionMode {
    /// Row batches, like any table (the default).
    #[default]
    Rows,
    /// Remove the partition whole when that is exactly the same as deleting its rows
    /// (PostgreSQL: detach, then drop; MySQL/MariaDB: `DROP PARTITION`).
    Drop,
    /// PostgreSQL: detach the partition and keep it as a table of its own.
    Detach,
}

impl PartitionMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            PartitionMode::Rows => "rows",
            PartitionMode::Drop => "drop",
            PartitionMode::Detach => "detach",
        }
    }

    /// Whether whole partitions may leave the table (`drop` or `detach`).
    pub fn whole(&self) -> bool {
        !matches!(self, PartitionMode::Rows)
    }
}

/// The timestamp a record's age is measured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampColumn {
    pub column: Ident,
    pub unit: TimeUnit,
}

/// How a timestamp column stores time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// A native date/time type (timestamptz, timestamp, datetime, date, or ISO text in SQLite).
    Native,
    /// Integer seconds since the Unix epoch.
    Seconds,
    Millis,
    Micros,
}

impl TimeUnit {
    /// How many of this unit make one second; `None` for native types.
    pub fn per_second(&self) -> Option<i64> {
        match self {
            TimeUnit::Native => None,
            TimeUnit::Seconds => Some(1),
            TimeUnit::Millis => Some(1_000),
            TimeUnit::Micros => Some(1_000_000),
        }
    }
}

/// How a row is tied to its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectColumn {
    /// The subject id is a column of the table.
    Column(Ident),
    /// One hop: `column` references `table.key`, whose row has the subject in `subject`.
    Via {
        column: Ident,
        table: Ident,
        key: Ident,
        subject: Ident,
    },
}

/// A structured row filter (never raw SQL). All filters of a target must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: Ident,
    pub op: FilterOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterOp {
    Eq(Scalar),
    NotEq(Scalar),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    IsNull,
    IsNotNull,
}

/// A literal value from a rule file; always bound as a parameter, never spliced, and
/// converted to the type of the column it meets (a text column compares text, whatever
/// YAML made of the literal).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    /// The literal as the rule file wrote it (numbers are kept as numbers only when they
    /// read back exactly so).
    pub fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// A column anonymisation strategy (SPEC §4).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnStrategy {
    Null,
    Replace(Scalar),
    /// Keyed HMAC-SHA256 pseudonym (hex) with the pseudonym key.
    Hmac,
    Round(u32),
    TruncateIp,
    TruncateDate(DatePart),
    MaskKeepLast(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Day,
    Month,
    Year,
}

/// Objects under a prefix in an S3 bucket or a local directory.
#[derive(Debug, Clone)]
pub struct ObjectTarget {
    pub store: String,
    pub prefix: String,
    pub subject: Option<ObjectSubject>,
    /// Required unless the rule retains forever.
    pub timestamp: Option<ObjectTimestamp>,
    pub anonymise: Option<ObjectStrategy>,
}

/// Where an object's subject id is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectSubject {
    /// A key pattern with one `{subject}` placeholder, e.g. `location-snapshots/{subject}/`.
    KeyPattern(String),
    /// A user-metadata field.
    Metadata(String),
    /// An object tag.
    Tag(String),
}

/// Where an object's age is measured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectTimestamp {
    LastModified,
    /// A user-metadata field holding RFC 3339 or epoch seconds.
    Metadata(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectStrategy {
    StripGps,
    StripMetadata,
}
