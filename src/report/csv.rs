//! `plan --format csv`: one row per pass (target and reason), every figure in its own
//! column, for a spreadsheet or a data warehouse. Instants are RFC 3339; counts are plain
//! integers; the quoting is RFC 4180. Requests, holds and rule problems are not rows of
//! this table: they are in the md, html and json reports.

use crate::execute::Report;
use crate::plan::Guard;
use crate::time::rfc3339;

const HEADER: [&str; 19] = [
    "as_of",
    "category",
    "source",
    "retain",
    "cutoff",
    "store",
    "target",
    "action",
    "reason",
    "total",
    "matched",
    "held",
    "locked",
    "oldest",
    "oldest_age_days",
    "guard",
    "guard_reason",
    "status",
    "error",
];

/// The plan as CSV, with a header row.
pub fn plan(report: &Report) -> String {
    let mut out = String::new();
    row(&mut out, HEADER.iter().map(|s| s.to_string()));
    let as_of = report.as_of.map(rfc3339).unwrap_or_default();
    for p in &report.passes {
        let inv = &p.inventory;
        let age_days = match (inv.oldest, report.as_of) {
            (Some(o), Some(t)) => (t - o).num_days().to_string(),
            _ => String::new(),
        };
        let status = match (&p.error, &p.guard) {
            (Some(_), _) => "failed",
            (None, Guard::Refused(_)) => "refused",
            (None, Guard::Ok) => "ok",
        };
        let guard_reason = match &p.guard {
            Guard::Refused(why) => why.clone(),
            Guard::Ok => String::new(),
        };
        row(
            &mut out,
            [
                as_of.clone(),
                p.category.clone(),
                p.source.clone(),
                p.retain.clone(),
                p.cutoff.map(rfc3339).unwrap_or_default(),
                p.store.clone(),
                p.target.clone(),
                p.action.as_str().to_owned(),
                p.reason.as_str().to_owned(),
                inv.total.to_string(),
                inv.matched.to_string(),
                inv.held.to_string(),
                inv.locked.to_string(),
                inv.oldest.map(rfc3339).unwrap_or_default(),
                age_days,
                super::guard_verdict(p).unwrap_or_default().to_owned(),
                guard_reason,
                status.to_owned(),
                p.error.clone().unwrap_or_default(),
            ]
            .into_iter(),
        );
    }
    out
}

pub(crate) fn row(out: &mut String, cells: impl Iterator<Item = String>) {
    let mut first = true;
    for c in cells {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&field(&c));
    }
    out.push_str("\r\n");
}

/// One RFC 4180 field: quoted when it holds a comma, quote or line break, with quotes
/// doubled. A leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet shows a
/// rule's text instead of evaluating it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        for (raw, want) in [
            ("plain", "plain"),
            ("a, b", "\"a, b\""),
            ("Policy, 'Location'", "\"Policy, 'Location'\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ] {
            assert_eq!(field(raw), want);
        }
    }
}
