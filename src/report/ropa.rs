//! `retention ropa`: the retention column of the record of processing activities (GDPR
//! Art. 30(1)(f), "the envisaged time limits for erasure of the different categories of
//! data"), from the rule set alone. Per category: what the data is, where the policy
//! promises it, how long it is kept and from when, what expiry and an erasure request do,
//! the legal reason to keep it, and where it lives. As Markdown, one self-contained HTML
//! page, or CSV (one row per category).

use super::csv::row;
use super::html::{esc, page};
use crate::config::StoreConfig;
use crate::rules::{Action, ObjectTimestamp, Rule, Target};
use crate::time::{Period, Retain};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write;

/// What the record is made from.
pub struct RopaInput<'a> {
    pub rules: &'a [Rule],
    pub stores: &'a BTreeMap<String, StoreConfig>,
    /// The rule set's digest, so a record can be tied to the rules it was made from.
    pub rules_digest: &'a str,
    pub generated: DateTime<Utc>,
}

/// One category, worded for the record.
struct Entry<'a> {
    rule: &'a Rule,
    retention: String,
    on_expiry: String,
    on_erasure: String,
    places: Vec<String>,
}

impl<'a> Entry<'a> {
    fn new(rule: &'a Rule, stores: &BTreeMap<String, StoreConfig>) -> Entry<'a> {
        Entry {
            rule,
            retention: retention(rule.retain),
            on_expiry: match rule.retain {
                Retain::Forever => "kept (no time limit)".to_owned(),
                Retain::For(_) => action(rule.on_expiry).to_owned(),
            },
            on_erasure: match rule.on_erasure {
                Action::Keep => "kept, for the legal reason given".to_owned(),
                a => action(a).to_owned(),
            },
            places: rule.targets.iter().map(|t| place(t, stores)).collect(),
        }
    }

    fn keep_reason(&self) -> &str {
        self.rule
            .keep_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("")
    }

    fn rule_file(&self) -> String {
        self.rule
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A retention period in words: `90 days`, `13 months`, `7 years`.
pub fn retention(r: Retain) -> String {
    let (n, unit) = match r {
        Retain::Forever => return "no time limit".to_owned(),
        Retain::For(Period::Hours(n)) => (n, "hour"),
        Retain::For(Period::Days(n)) => (n, "day"),
        Retain::For(Period::Weeks(n)) => (n, "week"),
        Retain::For(Period::Months(n)) => (n, "month"),
        Retain::For(Period::Years(n)) => (n, "year"),
    };
    super::view::plural(i64::from(n), unit)
}

fn action(a: Action) -> &'static str {
    match a {
        Action::Delete => "deleted",
        Action::Anonymise => "anonymised",
        Action::Keep => "kept",
    }
}

/// Where a target lives and what its period is measured from:
/// `accounts (app, SQL database), from closed_at`.
fn place(t: &Target, stores: &BTreeMap<String, StoreConfig>) -> String {
    let kind = match stores.get(t.store()) {
        Some(StoreConfig::Sql { .. }) => "SQL database".to_owned(),
        Some(StoreConfig::S3(s3)) => format!("S3 bucket {}", s3.bucket),
        Some(StoreConfig::Dir { .. }) => "directory".to_owned(),
        None => "store".to_owned(),
    };
    let from = match t {
        Target::Table(t) => t.timestamp.as_ref().map(|ts| ts.column.to_string()),
        Target::Objects(o) => o.timestamp.as_ref().map(|ts| match ts {
            ObjectTimestamp::LastModified => "the object's last write".to_owned(),
            ObjectTimestamp::Metadata(m) => format!("metadata {m}"),
        }),
    };
    match from {
        Some(f) => format!("{} ({}, {kind}), from {f}", t.name(), t.store()),
        None => format!("{} ({}, {kind})", t.name(), t.store()),
    }
}

fn entries<'a>(input: &RopaInput<'a>) -> Vec<Entry<'a>> {
    input
        .rules
        .iter()
        .map(|r| Entry::new(r, input.stores))
        .collect()
}

const INTRO: &str = "The retention column of the record of processing activities (GDPR Art. \
30(1)(f): the envisaged time limits for erasure of the different categories of data), made \
from the rule files that `retention` enforces. A period runs from the column or object date \
named under each place.";

/// The record as Markdown.
pub fn md(input: &RopaInput<'_>) -> String {
    let entries = entries(input);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Record of processing: retention and erasure\n");
    let _ = writeln!(w, "{INTRO}\n");
    let _ = writeln!(
        w,
        "- **Generated:** {}\n- **Rule set:** {} categories, digest `{}`\n",
        super::view::instant(input.generated),
        entries.len(),
        input.rules_digest
    );
    let _ = writeln!(
        w,
        "| Category | Retention | On expiry | On erasure request | Legal reason to keep |"
    );
    let _ = writeln!(w, "| --- | --- | --- | --- | --- |");
    for e in &entries {
        let _ = writeln!(
            w,
            "| [{}](#{}) | {} | {} | {} | {} |",
            cell(&e.rule.category),
            e.rule.category,
            e.retention,
            e.on_expiry,
            e.on_erasure,
            if e.keep_reason().is_empty() {
                "–".to_owned()
            } else {
                cell(e.keep_reason())
            }
        );
    }
    w.push('\n');
    for e in &entries {
        let _ = writeln!(w, "## {}\n", cell(&e.rule.category));
        let _ = writeln!(w, "{}\n", line(&e.rule.description));
        let _ = writeln!(w, "- **Policy source:** {}", line(&e.rule.source));
        let _ = writeln!(w, "- **Retention period:** {}", e.retention);
        let _ = writeln!(w, "- **On expiry:** {}", e.on_expiry);
        let _ = writeln!(w, "- **On an erasure request:** {}", e.on_erasure);
        if !e.keep_reason().is_empty() {
            let _ = writeln!(w, "- **Legal reason to keep:** {}", line(e.keep_reason()));
        }
        let _ = writeln!(w, "- **Where:**");
        for p in &e.places {
            let _ = writeln!(w, "  - {}", line(p));
        }
        let _ = writeln!(
            w,
            "- **Rule file:** `{}` (`{}`)\n",
            e.rule_file(),
            e.rule.sha256
        );
    }
    let _ = writeln!(
        w,
        "---\n\n*Generated by retention {} from the rule set.*",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The record as a self-contained HTML page.
pub fn html(input: &RopaInput<'_>) -> String {
    let entries = entries(input);
    let mut body = String::new();
    let w = &mut body;
    let generated = super::view::instant(input.generated);
    let _ = write!(
        w,
        "<header class=\"masthead\"><div><p class=\"eyebrow\">GDPR Art. 30(1)(f) · from the rule set</p>\
         <h1>Record of processing: retention and erasure</h1><p class=\"lede\">{}</p></div>\
         <dl class=\"meta\"><dt>Generated</dt><dd>{}</dd><dt>Categories</dt><dd>{}</dd>\
         <dt>Rule set</dt><dd><code>{}</code></dd></dl></header>",
        esc(INTRO).replace("`retention`", "<code>retention</code>"),
        esc(&generated),
        entries.len(),
        esc(&short(input.rules_digest)),
    );
    w.push_str(
        "<section id=\"record\"><h2>Retention by category</h2><table class=\"ropa\"><thead><tr>\
         <th>Category</th><th>Retention</th><th>On expiry</th><th>On erasure request</th>\
         <th>Legal reason to keep</th></tr></thead><tbody>",
    );
    for e in &entries {
        let _ = write!(
            w,
            "<tr><td><a href=\"#ropa-{0}\">{0}</a></td><td class=\"nw\">{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
            esc(&e.rule.category),
            esc(&e.retention),
            esc(&e.on_expiry),
            esc(&e.on_erasure),
            if e.keep_reason().is_empty() {
                "–".to_owned()
            } else {
                esc(e.keep_reason())
            }
        );
    }
    w.push_str("</tbody></table></section><section id=\"categories\"><h2>Categories</h2>");
    for e in &entries {
        let _ = write!(
            w,
            "<article class=\"category\" id=\"ropa-{0}\"><header><h3>{0}</h3></header>\
             <p class=\"desc\">{1}</p><dl class=\"facts\"><dt>Policy source</dt><dd>{2}</dd>\
             <dt>Retention period</dt><dd>{3}</dd><dt>On expiry</dt><dd>{4}</dd>\
             <dt>On an erasure request</dt><dd>{5}</dd>",
            esc(&e.rule.category),
            esc(&e.rule.description),
            esc(&e.rule.source),
            esc(&e.retention),
            esc(&e.on_expiry),
            esc(&e.on_erasure),
        );
        if !e.keep_reason().is_empty() {
            let _ = write!(
                w,
                "<dt>Legal reason to keep</dt><dd>{}</dd>",
                esc(e.keep_reason())
            );
        }
        w.push_str("<dt>Where</dt><dd><ul class=\"places\">");
        for p in &e.places {
            let _ = write!(w, "<li>{}</li>", esc(p));
        }
        let _ = write!(
            w,
            "</ul></dd><dt>Rule file</dt><dd><code>{}</code></dd></dl></article>",
            esc(&e.rule_file())
        );
    }
    w.push_str("</section>");
    page(
        &format!("Record of processing: retention — {generated}"),
        &body,
    )
}

const CSV_HEADER: [&str; 12] = [
    "category",
    "description",
    "source",
    "retain",
    "retention_period",
    "on_expiry",
    "on_erasure",
    "keep_reason",
    "stores",
    "targets",
    "rule_file",
    "rule_sha256",
];

/// The record as CSV (RFC 4180), one row per category. `stores` and `targets` hold
/// several values separated by `; `.
pub fn csv(input: &RopaInput<'_>) -> String {
    let mut out = String::new();
    row(&mut out, CSV_HEADER.iter().map(|s| s.to_string()));
    for e in entries(input) {
        let mut stores: Vec<&str> = e.rule.targets.iter().map(Target::store).collect();
        stores.dedup();
        row(
            &mut out,
            [
                e.rule.category.clone(),
                line(&e.rule.description),
                line(&e.rule.source),
                e.rule.retain.to_string(),
                e.retention.clone(),
                e.on_expiry.clone(),
                e.on_erasure.clone(),
                line(e.keep_reason()),
                stores.join("; "),
                e.places.join("; "),
                e.rule_file(),
                e.rule.sha256.clone(),
            ]
            .into_iter(),
        );
    }
    out
}

/// A digest shortened for a page header; the full one is in the Markdown and CSV.
fn short(d: &str) -> String {
    match d.char_indices().nth(19) {
        Some((i, _)) => format!("{}…", &d[..i]),
        None => d.to_owned(),
    }
}

/// Text folded to one line.
fn line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text for a Markdown table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    line(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_worded_for_people() {
        for (written, want) in [
            ("12h", "12 hours"),
            ("1d", "1 day"),
            ("8w", "8 weeks"),
            ("13mo", "13 months"),
            ("7y", "7 years"),
            ("forever", "no time limit"),
        ] {
            assert_eq!(retention(written.parse().unwrap()), want);
        }
    }
}
