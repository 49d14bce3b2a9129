//! `retention coverage` rendered: text for a terminal, JSON for scripts, Markdown and a
//! self-contained HTML page for a DPO, and the "Not covered by any rule" section the
//! plan's md and html reports carry. A [`Coverage`] holds names, kinds and counts only,
//! so nothing here can show a sampled value.

use super::html::{esc, esc_breakable, esc_with_code, page};
use super::text::table;
use super::view::{count, instant};
use crate::coverage::tables::Gap;
use crate::coverage::{ColumnFinding, Coverage, StoreSummary};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// The gap in a few words: `no rule`, `anonymising (account) leaves it`.
fn gap(g: &Gap) -> String {
    match g {
        Gap::NoRule => "no rule".to_owned(),
        Gap::LeftByAnonymisation { category } => {
            format!("rule {category} anonymises the row but leaves it")
        }
    }
}

/// What was looked at in one store, in one sentence.
fn looked_at(s: &StoreSummary) -> String {
    match s.kind {
        "sql" => format!(
            "store {}: {}, {} holding personal data ({} with a rule), {} sampled",
            s.store,
            super::view::plural(s.tables.unwrap_or(0) as i64, "table"),
            s.personal_tables.unwrap_or(0),
            s.covered_tables.unwrap_or(0),
            super::view::plural(s.sampled_columns.unwrap_or(0) as i64, "text column")
        ),
        _ => {
            let mut line = format!(
                "store {}: {} listed",
                s.store,
                super::text::plural(s.objects_listed.unwrap_or(0), "object", "objects")
            );
            if s.listing_truncated == Some(true) {
                line.push_str(" (the listing stopped there; later objects were not looked at)");
            }
            if let Some(n) = s.locked_objects.filter(|n| *n > 0) {
                let _ = write!(
                    line,
                    ", {} under Object Lock (listed without their keys, so not placed in a folder)",
                    count(n)
                );
            }
            line
        }
    }
}

fn summary(c: &Coverage) -> String {
    let tables: std::collections::BTreeSet<(&str, &str)> = c
        .columns
        .iter()
        .filter(|f| f.gap == Gap::NoRule)
        .map(|f| (f.store.as_str(), f.table.as_str()))
        .collect();
    let left = c.columns.iter().filter(|f| f.gap != Gap::NoRule).count();
    let objects: u64 = c.prefixes.iter().map(|p| p.objects).sum();
    format!(
        "{} with personal data under no rule ({}); {} left unchanged by an anonymising rule; {} with objects under no rule ({}).",
        super::view::plural(tables.len() as i64, "table"),
        super::view::plural((c.columns.len() - left) as i64, "column"),
        super::view::plural(left as i64, "column"),
        super::view::plural(c.prefixes.len() as i64, "folder"),
        super::text::plural(objects, "object", "objects")
    )
}

/// For a terminal: two aligned tables and what was looked at.
pub fn text(c: &Coverage) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", summary(c));
    if !c.columns.is_empty() {
        let rows: Vec<Vec<String>> = c
            .columns
            .iter()
            .map(|f| {
                vec![
                    format!("{}/{}", f.store, f.table),
                    f.column.clone(),
                    f.kind.label().to_owned(),
                    f.why.clone(),
                    gap(&f.gap),
                    f.suggested_category.to_owned(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "table",
                "column",
                "looks like",
                "because of",
                "gap",
                "suggested category",
            ],
            &rows,
        ));
        out.push('\n');
    }
    if !c.prefixes.is_empty() {
        let rows: Vec<Vec<String>> = c
            .prefixes
            .iter()
            .map(|p| {
                vec![
                    p.store.clone(),
                    p.prefix.clone(),
                    p.objects.to_string(),
                    p.suggested_category.unwrap_or("-").to_owned(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["store", "folder", "objects", "suggested category"],
            &rows,
        ));
        out.push('\n');
    }
    let _ = writeln!(out, "Looked at:");
    for s in &c.stores {
        let _ = writeln!(out, "  {}", looked_at(s));
    }
    for p in &c.problems {
        let _ = writeln!(out, "\nproblem: {p}");
    }
    out
}

/// For scripts: the [`Coverage`] as one JSON object.
pub fn json(c: &Coverage) -> String {
    serde_json::to_string_pretty(c).unwrap_or_else(|_| "{}".to_owned()) + "\n"
}

/// A whole Markdown document.
pub fn md(c: &Coverage, generated: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Coverage of personal data\n");
    let _ = writeln!(
        out,
        "Generated {}. Every table and column of the configured stores that looks personal, \
         and every folder of objects, that no retention rule covers. Names, kinds and counts \
         only: no sampled value, key or record is shown.\n",
        instant(generated)
    );
    md_findings(&mut out, c, "##");
    let _ = writeln!(
        out,
        "---\n\n*Generated by retention {}.*",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The plan's "Not covered by any rule" section.
pub fn md_section(out: &mut String, c: Option<&Coverage>) {
    let _ = writeln!(out, "## Not covered by any rule\n");
    match c {
        None => {
            let _ = writeln!(
                out,
                "Coverage was not checked for this report (`retention coverage` does).\n"
            );
        }
        Some(c) => md_findings(out, c, "###"),
    }
}

fn md_findings(out: &mut String, c: &Coverage, h: &str) {
    let _ = writeln!(out, "{}\n", summary(c));
    let _ = writeln!(out, "{h} Personal data in tables\n");
    if c.columns.is_empty() {
        let _ = writeln!(
            out,
            "None found: every table that looks personal has a rule.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "| Table | Column | Looks like | Because of | Gap | Suggested category |"
        );
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
        for f in &c.columns {
            let _ = writeln!(
                out,
                "| `{}/{}` | `{}` | {} | {} | {} | {} |",
                f.store,
                f.table,
                f.column,
                f.kind.label(),
                cell(&f.why),
                cell(&gap(&f.gap)),
                f.suggested_category
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{h} Objects\n");
    if c.prefixes.is_empty() {
        let _ = writeln!(out, "None found: every object is under a rule's prefix.\n");
    } else {
        let _ = writeln!(out, "| Store | Folder | Objects | Suggested category |");
        let _ = writeln!(out, "| --- | --- | ---: | --- |");
        for p in &c.prefixes {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                cell(&p.store),
                p.prefix.replace('`', "'"),
                count(p.objects),
                p.suggested_category.unwrap_or("–")
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{h} What was looked at\n");
    for s in &c.stores {
        let _ = writeln!(out, "- {}", looked_at(s));
    }
    for p in &c.problems {
        let _ = writeln!(out, "- **problem:** {}", cell(p));
    }
    out.push('\n');
}

/// A whole self-contained HTML page.
pub fn html(c: &Coverage, generated: DateTime<Utc>) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<header class=\"masthead\"><div><p class=\"eyebrow\">Read-only survey · names and counts only</p>\
         <h1>Coverage of personal data</h1><p class=\"lede\">Every table and column of the \
         configured stores that looks personal, and every folder of objects, that no retention \
         rule covers. No sampled value, key or record is shown.</p></div>\
         <dl class=\"meta\"><dt>Generated</dt><dd>{}</dd><dt>Stores</dt><dd>{}</dd>\
         <dt>Generated by</dt><dd>retention {}</dd></dl></header>",
        esc(&instant(generated)),
        c.stores.len(),
        env!("CARGO_PKG_VERSION")
    );
    html_findings(&mut body, c, "h2");
    page(
        &format!("Coverage of personal data — {}", instant(generated)),
        &body,
    )
}

/// The plan's "Not covered by any rule" section.
pub fn html_section(out: &mut String, c: Option<&Coverage>) {
    out.push_str("<section id=\"coverage\"><h2>Not covered by any rule</h2>");
    match c {
        None => out.push_str(
            "<p class=\"quiet\">Coverage was not checked for this report (<code>retention coverage</code> does).</p>",
        ),
        Some(c) => html_findings(out, c, "h3"),
    }
    out.push_str("</section>");
}

fn html_findings(out: &mut String, c: &Coverage, h: &str) {
    let _ = write!(out, "<p>{}</p>", esc(&summary(c)));
    let _ = write!(out, "<{h}>Personal data in tables</{h}>");
    if c.columns.is_empty() {
        out.push_str(
            "<p class=\"quiet\">None found: every table that looks personal has a rule.</p>",
        );
    } else {
        out.push_str(
            "<table class=\"coverage\"><thead><tr><th>Table</th><th>Column</th><th>Looks like</th>\
             <th>Because of</th><th>Gap</th><th>Suggested category</th></tr></thead><tbody>",
        );
        for f in &c.columns {
            html_row(out, f);
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(out, "<{h}>Objects</{h}>");
    if c.prefixes.is_empty() {
        out.push_str("<p class=\"quiet\">None found: every object is under a rule's prefix.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>Store</th><th>Folder</th><th class=\"n\">Objects</th>\
             <th>Suggested category</th></tr></thead><tbody>",
        );
        for p in &c.prefixes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&p.store),
                esc_breakable(&p.prefix),
                count(p.objects),
                p.suggested_category.unwrap_or("–")
            );
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(out, "<{h}>What was looked at</{h}><ul class=\"problems\">");
    for s in &c.stores {
        let _ = write!(out, "<li>{}</li>", esc(&looked_at(s)));
    }
    for p in &c.problems {
        let _ = write!(
            out,
            "<li class=\"error\"><strong>problem</strong> {}</li>",
            esc_with_code(p)
        );
    }
    out.push_str("</ul>");
}

fn html_row(out: &mut String, f: &ColumnFinding) {
    let _ = write!(
        out,
        "<tr><td><code>{}/{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td></tr>",
        esc(&f.store),
        esc_breakable(&f.table),
        esc_breakable(&f.column),
        esc(f.kind.label()),
        esc_with_code(&f.why),
        esc(&gap(&f.gap)),
        esc(f.suggested_category)
    );
}

fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
