//! Which columns of a SQL store hold personal data that no rule covers: decided from the
//! catalog (names, types, foreign keys), the rules, and what a sample of values looked
//! like. Pure: the catalog and the samples are read by [`super::sql`].

use super::kinds::{suggest, Kind};
use super::names::{by_name, by_type};
use super::values::SampleMatch;
use super::ColumnFinding;
use crate::rules::{Action, Rule, TableTarget, Target};
use crate::stores::sql::catalog::{ForeignKey, SchemaTable};
use crate::stores::sql::value::ColumnKind;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Why a column looks personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Evidence {
    /// Its name, through this word or words.
    Name { word: String },
    /// Its catalog type (`inet`, `geometry`).
    Type { type_name: String },
    /// A foreign key to a table that holds personal data itself.
    ForeignKey { references: String },
    /// Of the values sampled from the start of the table, this many looked like the kind.
    Values { matched: u32, sampled: u32 },
}

impl Evidence {
    /// Why, in one phrase: `its name (email)`, `12 of 20 sampled values look like email
    /// addresses`.
    pub fn describe(&self, kind: Kind) -> String {
        match self {
            Evidence::Name { word } => format!("its name ({word})"),
            Evidence::Type { type_name } => format!("its type ({type_name})"),
            Evidence::ForeignKey { references } => {
                format!("a foreign key to `{references}`, which holds personal data")
            }
            Evidence::Values { matched, sampled } => format!(
                "{matched} of {sampled} sampled values look like {}",
                kind.label()
            ),
        }
    }
}

/// How the rules leave a personal column uncovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gap", rename_all = "snake_case")]
pub enum Gap {
    /// No rule has a target on the table.
    NoRule,
    /// The table is a target of a rule that anonymises, but its `anonymise` list leaves
    /// this column as it is.
    LeftByAnonymisation { category: String },
}

/// Tables the tool itself owns: its state (`retention_*`) and the migration ledger.
pub fn is_own_table(name: &str) -> bool {
    name.starts_with("retention_") || name == "_sqlx_migrations"
}

/// What the catalog alone says about a column: name first, then type.
fn catalog_signal(table: &str, column: &str, type_name: &str) -> Option<(Kind, Evidence)> {
    if let Some(kind) = by_type(type_name) {
        return Some((
            kind,
            Evidence::Type {
                type_name: type_name.to_owned(),
            },
        ));
    }
    let is_time = matches!(
        ColumnKind::classify(type_name),
        ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date
    );
    by_name(table, column)
        // A date or timestamp column holds when, not who: only a birth date is personal.
        .filter(|m| !is_time || m.kind == Kind::BirthDate)
        .map(|m| (m.kind, Evidence::Name { word: m.word }))
}

/// The columns worth sampling: text columns of tables not owned by the tool that neither
/// their name nor their type already marks, by table.
pub fn sample_candidates(tables: &[SchemaTable]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in tables.iter().filter(|t| !is_own_table(&t.name)) {
        let cols: Vec<String> = t
            .columns
            .iter()
            .filter(|(c, ty)| {
                ColumnKind::classify(ty) == ColumnKind::Text
                    && catalog_signal(&t.name, c, ty).is_none()
            })
            .map(|(c, _)| c.clone())
            .collect();
        if !cols.is_empty() {
            out.insert(t.name.clone(), cols);
        }
    }
    out
}

/// The targets of `rules` on `store.table`, with their rules.
fn targets_on<'r>(rules: &'r [Rule], store: &str, table: &str) -> Vec<(&'r Rule, &'r TableTarget)> {
    rules
        .iter()
        .flat_map(|r| r.targets.iter().map(move |t| (r, t)))
        .filter_map(|(r, t)| match t {
            Target::Table(t) if t.store == store && t.table.as_str() == table => Some((r, t)),
            _ => None,
        })
        .collect()
}

/// What a store's catalog and samples say, against the rules.
pub struct StoreFacts<'a> {
    pub store: &'a str,
    pub tables: &'a [SchemaTable],
    pub foreign_keys: &'a [ForeignKey],
    /// `(table, column)` → what its sample looked like (only columns whose sample matched).
    pub samples: &'a BTreeMap<(String, String), SampleMatch>,
}

/// What [`analyse`] found in one store.
#[derive(Debug, Default)]
pub struct TablesOutcome {
    pub findings: Vec<ColumnFinding>,
    /// Tables that hold personal data (covered or not).
    pub personal_tables: usize,
    /// Of those, tables some rule has a target on.
    pub covered_tables: usize,
}

/// Every personal column of the store that no rule covers, or that a rule's
/// anonymisation leaves as it is, in table and column order.
pub fn analyse(facts: &StoreFacts<'_>, rules: &[Rule]) -> TablesOutcome {
    let tables: Vec<&SchemaTable> = facts
        .tables
        .iter()
        .filter(|t| !is_own_table(&t.name))
        .collect();
    // First pass: what each column says by itself (name, type, values).
    let mut direct: BTreeMap<(&str, &str), (Kind, Evidence)> = BTreeMap::new();
    for t in &tables {
        for (c, ty) in &t.columns {
            let signal = catalog_signal(&t.name, c, ty).or_else(|| {
                facts.samples.get(&(t.name.clone(), c.clone())).map(|m| {
                    (
                        m.kind,
                        Evidence::Values {
                            matched: m.matched,
                            sampled: m.sampled,
                        },
                    )
                })
            });
            if let Some(s) = signal {
                direct.insert((t.name.as_str(), c.as_str()), s);
            }
        }
    }
    // Tables of people: those whose schema declares data that identifies or describes a
    // person by itself (by name or type; a sample is evidence about a column, not about
    // what the table's rows are).
    let people: BTreeSet<&str> = direct
        .iter()
        .filter(|(_, (kind, evidence))| {
            kind.is_direct() && !matches!(evidence, Evidence::Values { .. })
        })
        .map(|((table, _), _)| *table)
        .collect();
    // Second pass: a foreign key to such a table makes its column a link to a person
    // (stronger evidence than a name like `customer_id`).
    for fk in facts.foreign_keys {
        if !people.contains(fk.parent.as_str()) || is_own_table(&fk.child) {
            continue;
        }
        let Some(child) = tables.iter().find(|t| t.name == fk.child) else {
            continue;
        };
        for c in &fk.child_cols {
            let key = (child.name.as_str(), c.as_str());
            let weak = direct.get(&key).map_or(true, |(k, _)| !k.is_direct());
            if weak && child.columns.iter().any(|(name, _)| name == c) {
                direct.insert(
                    key,
                    (
                        Kind::PersonLink,
                        Evidence::ForeignKey {
                            references: fk.parent.clone(),
                        },
                    ),
                );
            }
        }
    }
    let mut out = TablesOutcome::default();
    for t in &tables {
        let mut personal: Vec<(&str, &str, Kind, Evidence)> = Vec::new();
        for (c, ty) in &t.columns {
            let Some((kind, evidence)) = direct.get(&(t.name.as_str(), c.as_str())) else {
                continue;
            };
            // A table's own single-column key names the row, not someone else: it is
            // personal through the table's other columns.
            if *kind == Kind::PersonLink && t.primary_key == [c.clone()] {
                continue;
            }
            personal.push((c, ty, *kind, evidence.clone()));
        }
        if personal.is_empty() {
            continue;
        }
        out.personal_tables += 1;
        let targets = targets_on(rules, facts.store, &t.name);
        if !targets.is_empty() {
            out.covered_tables += 1;
        }
        for (column, type_name, kind, evidence) in personal {
            let gap = if targets.is_empty() {
                Some(Gap::NoRule)
            } else {
                left_by_anonymisation(&targets, column, kind)
            };
            if let Some(gap) = gap {
                out.findings.push(ColumnFinding {
                    store: facts.store.to_owned(),
                    table: t.name.clone(),
                    column: column.to_owned(),
                    type_name: type_name.to_owned(),
                    kind,
                    why: evidence.describe(kind),
                    evidence,
                    gap,
                    suggested_category: suggest(kind, &t.name),
                });
            }
        }
    }
    out
}

/// A column of directly personal data that a covering rule anonymises around: the rule
/// anonymises (on expiry or on erasure) and its `anonymise` list does not name the
/// column. Links to a person are left out: they are how rows stay tied to the subject.
fn left_by_anonymisation(
    targets: &[(&Rule, &TableTarget)],
    column: &str,
    kind: Kind,
) -> Option<Gap> {
    if !kind.is_direct() {
        return None;
    }
    targets
        .iter()
        .find(|(rule, t)| {
            let anonymises =
                rule.on_expiry == Action::Anonymise || rule.on_erasure == Action::Anonymise;
            anonymises && !t.anonymise.iter().any(|(c, _)| c.as_str() == column)
        })
        .map(|(rule, _)| Gap::LeftByAnonymisation {
            category: rule.category.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: &[(&str, &str)], key: &[&str]) -> SchemaTable {
        SchemaTable {
            name: name.into(),
            columns: columns
                .iter()
                .map(|(c, t)| ((*c).into(), (*t).into()))
                .collect(),
            primary_key: key.iter().map(|k| (*k).into()).collect(),
        }
    }

    fn fk(child: &str, col: &str, parent: &str) -> ForeignKey {
        ForeignKey {
            child: child.into(),
            child_cols: vec![col.into()],
            parent: parent.into(),
            parent_cols: vec!["id".into()],
            child_schema: None,
            changes_children: false,
        }
    }

    fn rules(yaml: &str) -> Vec<Rule> {
        use crate::config::StoreConfig;
        use secrecy::SecretString;
        let stores = BTreeMap::from([(
            "app".to_owned(),
            StoreConfig::Sql {
                url: SecretString::from("sqlite://x.db".to_owned()),
            },
        )]);
        let files = vec![(
            std::path::PathBuf::from("rules/r.yaml"),
            yaml.as_bytes().to_vec(),
        )];
        crate::rules::parse(&files, &stores)
            .unwrap_or_else(|d| panic!("{d}"))
            .rules
    }

    #[test]
    fn a_personal_table_without_a_rule_is_reported_and_a_covered_one_is_not() {
        let tables = [
            table(
                "customer",
                &[("id", "int4"), ("email", "varchar"), ("name", "text")],
                &["id"],
            ),
            table(
                "invoice",
                &[
                    ("id", "int4"),
                    ("customer_ref", "int4"),
                    ("total", "numeric"),
                ],
                &["id"],
            ),
            table("genre", &[("id", "int4"), ("name", "text")], &["id"]),
            table(
                "sessions",
                &[("id", "int4"), ("peer", "inet"), ("note", "text")],
                &["id"],
            ),
            table(
                "retention_runs",
                &[("id", "text"), ("email", "text")],
                &["id"],
            ),
        ];
        let fks = [fk("invoice", "customer_ref", "customer")];
        let samples = BTreeMap::from([(
            ("sessions".to_owned(), "note".to_owned()),
            SampleMatch {
                kind: Kind::Email,
                matched: 3,
                sampled: 4,
            },
        )]);
        let facts = StoreFacts {
            store: "app",
            tables: &tables,
            foreign_keys: &fks,
            samples: &samples,
        };
        let rules = rules(
            "category: account\ndescription: d\nsource: s\nretain: 30d\non_expiry: delete\n\
             targets:\n  - {store: app, table: customer, key: [id], timestamp: created_at}\n",
        );
        let out = analyse(&facts, &rules);
        let found: Vec<(String, String, Kind, &str)> = out
            .findings
            .iter()
            .map(|f| {
                (
                    f.table.clone(),
                    f.column.clone(),
                    f.kind,
                    f.suggested_category,
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "invoice".into(),
                    "customer_ref".into(),
                    Kind::PersonLink,
                    "invoices"
                ),
                ("sessions".into(), "peer".into(), Kind::IpAddress, "logs"),
                ("sessions".into(), "note".into(), Kind::Email, "account"),
            ]
        );
        assert_eq!((out.personal_tables, out.covered_tables), (3, 1));
        assert_eq!(
            out.findings[2].why,
            "3 of 4 sampled values look like email addresses"
        );
    }

    #[test]
    fn an_anonymising_rule_that_leaves_a_personal_column_is_reported() {
        let tables = [table(
            "accounts",
            &[
                ("id", "int4"),
                ("email", "text"),
                ("phone", "text"),
                ("referrer_id", "int4"),
            ],
            &["id"],
        )];
        let samples = BTreeMap::new();
        let facts = StoreFacts {
            store: "app",
            tables: &tables,
            foreign_keys: &[],
            samples: &samples,
        };
        let rules = rules(
            "category: account\ndescription: d\nsource: s\nretain: 30d\non_expiry: anonymise\n\
             targets:\n  - store: app\n    table: accounts\n    key: [id]\n    timestamp: closed_at\n    anonymise: {email: null}\n",
        );
        let out = analyse(&facts, &rules);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].column, "phone");
        assert_eq!(
            out.findings[0].gap,
            Gap::LeftByAnonymisation {
                category: "account".into()
            }
        );
    }

    #[test]
    fn only_unmarked_text_columns_are_sampled() {
        let tables = [table(
            "t",
            &[
                ("id", "int4"),
                ("email", "text"),
                ("note", "varchar"),
                ("n", "int8"),
                ("peer", "inet"),
            ],
            &["id"],
        )];
        assert_eq!(
            sample_candidates(&tables),
            BTreeMap::from([("t".to_owned(), vec!["note".to_owned()])])
        );
    }
}
