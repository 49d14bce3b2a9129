//! One rule file: the category's fields and its targets, decoded into a [`Rule`].
//!
//! Checks that involve several fields of the rule (a keep needs a reason, anonymising
//! needs strategies) live here or in [`target`](super::target); checks across files
//! (duplicate categories) live in [`load`](super::load).

use super::decode::{index, Decoder};
use super::model::*;
use super::target::{self, RuleContext};
use super::yaml::Node;
use crate::config::StoreConfig;
use crate::time::Retain;
use std::collections::BTreeMap;
use std::path::Path;

/// A decoded rule and the line of its `category`, for duplicate reports.
pub struct Decoded {
    pub rule: Rule,
    pub category_line: usize,
}

pub fn decode(
    d: &mut Decoder,
    root: &Node,
    stores: &BTreeMap<String, StoreConfig>,
    file: &Path,
    sha256: String,
) -> Option<Decoded> {
    let mut f = d.map(root, "", "a rule")?;
    let category_node = f.require(
        d,
        "category",
        "the data category this file is about, e.g. `category: location`",
    );
    let category = category_node.and_then(|n| {
        let c = d.text(n, "category")?;
        let ok = !c.is_empty()
            && c.len() <= 63
            && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
        if !ok {
            d.err(n.line, "category", "a category name uses lowercase letters, digits, `_` and `-`, e.g. `location` or `device_ids`");
        }
        ok.then_some(c)
    });
    let description = f
        .require(
            d,
            "description",
            "what data this category covers, in the policy's words",
        )
        .and_then(|n| non_empty(d, n, "description"));
    let source = f
        .require(d, "source", "where the privacy policy makes the promise, e.g. \"Privacy Policy, 'Location information'\"")
        .and_then(|n| non_empty(d, n, "source"));
    let retain_node = f.require(
        d,
        "retain",
        "how long the data is kept: 12h, 30d, 8w, 6mo, 7y or `forever`",
    );
    let retain = retain_node.and_then(|n| {
        let text = d.text(n, "retain")?;
        match text.parse::<Retain>() {
            Ok(r) => Some(r),
            Err(e) => {
                d.err(n.line, "retain", e.to_string());
                None
            }
        }
    });
    let forever = retain == Some(Retain::Forever);
    let on_expiry = match f.get("on_expiry") {
        Some(n) => action(d, n, "on_expiry").inspect(|a| {
            // SPEC §3 allows `forever` with any action, so this is not refused; but
            // nothing ever expires, and the author probably meant a period.
            if forever && *a != Action::Keep {
                d.warn(
                    n.line,
                    "on_expiry",
                    format!(
                        "`retain: forever` means nothing ever expires, so `on_expiry: {}` never \
                         acts; write `on_expiry: keep` (or leave it out), or give `retain` a \
                         period such as 7y",
                        a.as_str()
                    ),
                );
            }
        }),
        None if forever => Some(Action::Keep),
        None => {
            d.err(
                f.line,
                "on_expiry",
                "this field is required: what happens to expired data — delete, anonymise or keep",
            );
            None
        }
    };
    let on_erasure_node = f.get("on_erasure");
    let on_erasure = match on_erasure_node {
        Some(n) => action(d, n, "on_erasure"),
        None => Some(Action::Delete),
    };
    let keep_reason_node = f.get_raw("keep_reason");
    let keep_reason = match keep_reason_node {
        Some(n) if !n.is_null() => d.text(n, "keep_reason").map(|t| t.trim().to_owned()),
        _ => Some(String::new()),
    };
    let schedule = match f.get("schedule") {
        Some(n) => d.text(n, "schedule").and_then(|t| match cron(&t) {
            Ok(s) => Some(Some(s)),
            Err(m) => {
                d.err(n.line, "schedule", m);
                None
            }
        }),
        None => Some(None),
    };
    let allow_mass_delete = match f.get("allow_mass_delete") {
        Some(n) => d.bool(n, "allow_mass_delete"),
        None => Some(false),
    };
    let targets_node = f.require(
        d,
        "targets",
        "the tables and object prefixes holding this category's data",
    );
    f.finish(d);

    if on_erasure == Some(Action::Keep) && keep_reason.as_deref() == Some("") {
        let line = keep_reason_node
            .or(on_erasure_node)
            .map_or(root.line, |n| n.line);
        d.err(line, "keep_reason", "`on_erasure: keep` needs the legal obligation that requires keeping the data, e.g. \"Tax law: invoices are kept 7 years\"");
    }

    let ctx = RuleContext {
        stores,
        forever,
        anonymises: on_expiry == Some(Action::Anonymise) || on_erasure == Some(Action::Anonymise),
        expiry_deletes: on_expiry == Some(Action::Delete),
    };
    let targets = targets_node.and_then(|node| {
        let items = d.seq(node, "targets", "targets")?;
        if items.is_empty() {
            d.err(node.line, "targets", "the list is empty; name at least one table or prefix");
            return None;
        }
        let mut out: Vec<Target> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = index("targets", i);
            match target::decode(d, item, &path, &ctx) {
                Some(t) => {
                    if out.iter().any(|o| o.store() == t.store() && o.name() == t.name()) {
                        d.err(item.line, &path, format!("`{}` in store `{}` is already a target of this rule; merge the two entries", t.name(), t.store()));
                        ok = false;
                    }
                    out.push(t);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    });

    let keep_reason = keep_reason?;
    Some(Decoded {
        category_line: category_node.map_or(1, |n| n.line),
        rule: Rule {
            category: category?,
            file: file.to_path_buf(),
            description: description?,
            source: source?,
            retain: retain?,
            on_expiry: on_expiry?,
            on_erasure: on_erasure?,
            keep_reason: (!keep_reason.is_empty()).then_some(keep_reason),
            schedule: schedule?,
            allow_mass_delete: allow_mass_delete?,
            sha256,
            targets: targets?,
        },
    })
}

fn non_empty(d: &mut Decoder, n: &Node, field: &str) -> Option<String> {
    let t = d.text(n, field)?;
    if t.trim().is_empty() {
        d.err(n.line, field, "this field is empty; write a sentence");
        return None;
    }
    Some(t)
}

fn action(d: &mut Decoder, n: &Node, field: &str) -> Option<Action> {
    match d.text(n, field)?.as_str() {
        "delete" => Some(Action::Delete),
        "anonymise" => Some(Action::Anonymise),
        "keep" => Some(Action::Keep),
        "anonymize" => {
            d.err(
                n.line,
                field,
                "write `anonymise` (the tool uses the British spelling)",
            );
            None
        }
        other => {
            d.err(
                n.line,
                field,
                format!(
                    "`{}` is not an action; use delete, anonymise or keep",
                    other.escape_default()
                ),
            );
            None
        }
    }
}

/// Compiles a cron expression: 5 fields (minute first) get a leading `0` for seconds;
/// 6 and 7 fields (seconds first, optional year) are taken as they are.
pub fn cron(expression: &str) -> Result<CronSchedule, String> {
    let fields = expression.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {}", expression.trim()),
        6 | 7 => expression.trim().to_owned(),
        _ => {
            return Err(format!(
                "`{}` has {fields} fields; write 5 (minute hour day month weekday, e.g. \"0 3 * * *\") or 6–7 with seconds first",
                expression.escape_default()
            ))
        }
    };
    match full.parse::<cron::Schedule>() {
        Ok(schedule) => Ok(CronSchedule {
            expression: expression.to_owned(),
            schedule,
        }),
        Err(e) => Err(format!(
            "`{}` is not a valid cron expression ({}); e.g. \"0 3 * * *\" runs daily at 03:00 UTC",
            expression.escape_default(),
            cron_reason(&e.to_string())
        )),
    }
}

/// The reason in the cron crate's error, as one clause. The crate shows the expression it
/// parsed (with the seconds field this module prepends to 5 fields) and a caret, then the
/// reason, which words a bound it accepts as one it does not ("Minutes must be less than
/// 59. ('61' specified.)" — its bounds are inclusive): only the reason is kept, saying
/// "at most" and "at least".
fn cron_reason(message: &str) -> String {
    let reason = message
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(message);
    reason
        .replace("must be less than", "must be at most")
        .replace("must be greater than or equal to", "must be at least")
        .replace(". ('", ", `")
        .replace("' specified.)", "` given")
}

#[cfg(test)]
mod tests {
    use super::cron;

    #[test]
    fn cron_accepts_five_six_and_seven_fields() {
        for ok in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 0 3 * * *",
            "0 0 3 * * Mon 2030",
            "0 3 * * Sun",
        ] {
            assert!(cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "61 3 * * *",
            "0 25 * * *",
            "not cron at all x",
            "0 3 * * * * * *",
        ] {
            assert!(cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_value_out_of_range_is_refused_with_its_inclusive_bound() {
        let said = cron("61 3 * * *").err().unwrap_or_default();
        assert!(
            said.contains("(Minutes must be at most 59, `61` given)"),
            "{said}"
        );
        assert!(
            !said.contains("less than") && !said.contains('\n'),
            "{said}"
        );
        assert!(cron("59 23 * * *").is_ok(), "59 and 23 are allowed");
        let said = cron("0 3 0 * *").err().unwrap_or_default();
        assert!(said.contains("must be at least 1"), "{said}");
    }
}
