//! `retention coverage`: personal data in the configured stores that no rule covers.
//!
//! A retention policy is only kept if every place that holds personal data has a rule.
//! For every SQL store this reads the catalog and finds the columns that look personal —
//! by name in the usual spellings ([`names`]), by type (`inet`, `geometry`), by a foreign
//! key to a table of people, and, for text columns that say nothing by name or type, by a
//! small read-only sample of values that look like emails, phone numbers or IP addresses
//! ([`values`]) — then reports those on tables no rule targets, and those an anonymising
//! rule leaves as they are ([`tables`]). For every object store it reports the folders
//! holding objects under no target prefix ([`objects`]). Each finding says why it looks
//! personal and suggests the closest shipped category ([`kinds`]).
//!
//! A finding never carries a value: sampled values are classified where they are read
//! and dropped; object keys are reduced to folder names that are plain words.

pub mod kinds;
pub mod names;
pub mod objects;
mod sql;
pub mod tables;
pub mod values;

use crate::workspace::Workspace;
use kinds::Kind;
use serde::Serialize;
use tables::{Evidence, Gap};

/// One personal column that no rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnFinding {
    pub store: String,
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub kind: Kind,
    /// Why it looks personal, in one phrase.
    pub why: String,
    pub evidence: Evidence,
    #[serde(flatten)]
    pub gap: Gap,
    /// The closest category of the shipped rule set (`rules/<category>.yaml`).
    pub suggested_category: &'static str,
}

/// A folder of an object store holding objects under no target prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefixFinding {
    pub store: String,
    /// The folder (`avatars/`), or a placeholder when its name may hold an id.
    pub prefix: String,
    pub objects: u64,
    /// The closest shipped category, when the folder's name says what it holds.
    pub suggested_category: Option<&'static str>,
}

/// What was looked at in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSummary {
    pub store: String,
    /// `sql` or `objects`.
    pub kind: &'static str,
    /// SQL: base tables looked at (the tool's own left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<usize>,
    /// SQL: tables that hold personal data, and how many of them some rule targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_tables: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered_tables: Option<usize>,
    /// SQL: text columns whose values were sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled_columns: Option<usize>,
    /// Objects: how many were listed, whether the listing stopped at its limit, and how
    /// many were under Object Lock (listed without a key, so not placed under a folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects_listed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_objects: Option<u64>,
}

/// Everything `coverage` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub columns: Vec<ColumnFinding>,
    pub prefixes: Vec<PrefixFinding>,
    pub stores: Vec<StoreSummary>,
    /// Stores or tables that could not be read, and why (never a value).
    pub problems: Vec<String>,
}

impl Coverage {
    /// Whether some store could not be surveyed at all.
    pub fn incomplete(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// Surveys every configured store against the whole rule set. Reads only.
pub async fn survey(ws: &Workspace) -> Coverage {
    let rules = &ws.rules.rules;
    let mut out = Coverage::default();
    for (name, pool) in &ws.sql {
        match sql::survey(name, pool, rules).await {
            Ok(s) => {
                out.stores.push(StoreSummary {
                    store: name.clone(),
                    kind: "sql",
                    tables: Some(s.tables),
                    personal_tables: Some(s.outcome.personal_tables),
                    covered_tables: Some(s.outcome.covered_tables),
                    sampled_columns: Some(s.sampled_columns),
                    objects_listed: None,
                    listing_truncated: None,
                    locked_objects: None,
                });
                out.columns.extend(s.outcome.findings);
                out.problems.extend(s.problems);
            }
            Err(e) => out.problems.push(format!("{e:#}")),
        }
    }
    let audit_prefix = ws.config.audit.export.as_ref();
    for (name, store) in &ws.objects {
        let extra = audit_prefix
            .filter(|a| &a.store == name)
            .map(|a| a.prefix.as_str());
        let covered = objects::covered_prefixes(rules, name, extra);
        match objects::survey(store, &covered).await {
            Ok(s) => {
                out.stores.push(StoreSummary {
                    store: name.clone(),
                    kind: "objects",
                    tables: None,
                    personal_tables: None,
                    covered_tables: None,
                    sampled_columns: None,
                    objects_listed: Some(s.listed),
                    listing_truncated: Some(s.truncated),
                    locked_objects: Some(s.locked),
                });
                out.prefixes.extend(s.findings);
            }
            Err(e) => out
                .problems
                .push(format!("store `{name}`: cannot list its objects: {e:#}")),
        }
    }
    out
}
