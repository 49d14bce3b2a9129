//! `audit show`: entries filtered by run, ticket or subject, as a table or as their exact
//! JSON lines. A subject id is matched by computing its pseudonym, so the log never has to
//! hold the id itself.

use super::sql::StoredEntry;
use serde_json::Value;
use std::fmt::Write as _;

/// Which entries to show; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub run: Option<String>,
    pub ticket: Option<String>,
    /// The subject's pseudonym (`hmac:<kid>:<hex>`), not its id.
    pub subject_pseudonym: Option<String>,
}

impl Filter {
    fn matches(&self, v: &Value) -> bool {
        let field = |k: &str| v.get(k).and_then(Value::as_str);
        let ok =
            |want: &Option<String>, k: &str| want.as_deref().map_or(true, |w| field(k) == Some(w));
        ok(&self.run, "run") && ok(&self.ticket, "ticket") && ok(&self.subject_pseudonym, "subject")
    }
}

/// The entries that match, in log order. Lines that are not entries are skipped (they are
/// `audit verify`'s business).
pub fn select<'a>(entries: &'a [StoredEntry], filter: &Filter) -> Vec<&'a StoredEntry> {
    entries
        .iter()
        .filter(|e| {
            serde_json::from_slice::<Value>(&e.line)
                .map(|v| filter.matches(&v))
                .unwrap_or(false)
        })
        .collect()
}

/// The exact stored lines, one per line.
pub fn render_json(entries: &[&StoredEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.line);
        out.push(b'\n');
    }
    out
}

/// A table: seq, time, kind, action, reason, category, target, count, outcome, ticket.
pub fn render_text(entries: &[&StoredEntry]) -> String {
    const COLUMNS: [&str; 10] = [
        "seq", "time", "kind", "action", "reason", "category", "target", "count", "outcome",
        "ticket",
    ];
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.to_string()).collect()];
    for e in entries {
        let Ok(v) = serde_json::from_slice::<Value>(&e.line) else {
            continue;
        };
        rows.push(
            COLUMNS
                .iter()
                .map(|c| match v.get(*c) {
                    None | Some(Value::Null) => "-".to_owned(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "{} entries", rows.len() - 1);
    out
}
