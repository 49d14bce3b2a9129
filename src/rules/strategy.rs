//! Anonymisation strategies as written in rule files (SPEC §4), decoded and checked
//! against the kind of target they are used on.
//!
//! Column strategies (`null`, `hmac`, `{round: N}` …) belong to tables, object strategies
//! (`strip_gps`, `strip_metadata`) to prefixes; using one where the other belongs is an
//! error that says which would fit.

use super::decode::{join, Decoder};
use super::model::{ColumnStrategy, DatePart, ObjectStrategy};
use super::yaml::{Kind, Node};

const COLUMN_STRATEGIES: &str = "null, hmac, truncate_ip, {replace: VALUE}, {round: N}, {truncate_date: day|month|year}, {mask: {keep_last: N}}";
const OBJECT_STRATEGIES: &str = "strip_gps, strip_metadata";

/// Decimals beyond this are not anonymisation: they keep the value as it was.
const MAX_ROUND: u64 = 6;

/// A column strategy, e.g. the value in `latitude: {round: 1}`.
pub fn column(d: &mut Decoder, node: &Node, path: &str) -> Option<ColumnStrategy> {
    if node.is_null() {
        return Some(ColumnStrategy::Null);
    }
    match &node.kind {
        Kind::Scalar { text, .. } => match text.as_str() {
            "null" => Some(ColumnStrategy::Null),
            "hmac" => Some(ColumnStrategy::Hmac),
            "truncate_ip" => Some(ColumnStrategy::TruncateIp),
            "strip_gps" | "strip_metadata" => {
                d.err(node.line, path, format!("`{text}` applies to objects, not table columns; use one of: {COLUMN_STRATEGIES}"));
                None
            }
            "round" | "replace" | "truncate_date" | "mask" => {
                d.err(node.line, path, format!("`{text}` needs a parameter, e.g. {{round: 1}}, {{replace: 'x'}}, {{truncate_date: month}} or {{mask: {{keep_last: 4}}}}"));
                None
            }
            other => {
                d.err(
                    node.line,
                    path,
                    format!(
                        "unknown strategy `{}`; use one of: {COLUMN_STRATEGIES}",
                        other.escape_default()
                    ),
                );
                None
            }
        },
        Kind::Map(entries) if entries.len() == 1 => {
            let e = &entries[0];
            let p = join(path, &e.key);
            let v = &e.value;
            match e.key.as_str() {
                "round" => d
                    .uint(v, &p, 0, MAX_ROUND)
                    .map(|n| ColumnStrategy::Round(n as u32)),
                "replace" => {
                    if v.is_null() {
                        d.err(
                            v.line,
                            &p,
                            "to set NULL, write the strategy `null` instead of {replace: null}",
                        );
                        return None;
                    }
                    d.scalar(v, &p).map(ColumnStrategy::Replace)
                }
                "truncate_date" => match d.text(v, &p)?.as_str() {
                    "day" => Some(ColumnStrategy::TruncateDate(DatePart::Day)),
                    "month" => Some(ColumnStrategy::TruncateDate(DatePart::Month)),
                    "year" => Some(ColumnStrategy::TruncateDate(DatePart::Year)),
                    other => {
                        d.err(
                            v.line,
                            &p,
                            format!(
                                "`{}` is not a period to truncate to; use day, month or year",
                                other.escape_default()
                            ),
                        );
                        None
                    }
                },
                "mask" => {
                    let mut f = d.map(v, &p, "the mask settings, e.g. {keep_last: 4}")?;
                    let keep = f
                        .require(
                            d,
                            "keep_last",
                            "how many trailing characters stay visible, e.g. 4",
                        )
                        .and_then(|n| d.uint(n, &join(&p, "keep_last"), 0, 16));
                    f.finish(d);
                    keep.map(|n| ColumnStrategy::MaskKeepLast(n as u32))
                }
                other => {
                    d.err(
                        e.key_line,
                        &p,
                        format!(
                            "unknown strategy `{}`; use one of: {COLUMN_STRATEGIES}",
                            other.escape_default()
                        ),
                    );
                    None
                }
            }
        }
        _ => {
            d.err(
                node.line,
                path,
                format!("expected one strategy; use one of: {COLUMN_STRATEGIES}"),
            );
            None
        }
    }
}

/// An object strategy, the value of an object target's `anonymise`.
pub fn object(d: &mut Decoder, node: &Node, path: &str) -> Option<ObjectStrategy> {
    match &node.kind {
        Kind::Scalar { text, .. } if !node.is_null() => match text.as_str() {
            "strip_gps" => Some(ObjectStrategy::StripGps),
            "strip_metadata" => Some(ObjectStrategy::StripMetadata),
            "null" | "hmac" | "truncate_ip" => {
                d.err(node.line, path, format!("`{text}` applies to table columns, not objects; use one of: {OBJECT_STRATEGIES}"));
                None
            }
            other => {
                d.err(
                    node.line,
                    path,
                    format!(
                        "unknown object strategy `{}`; use one of: {OBJECT_STRATEGIES}",
                        other.escape_default()
                    ),
                );
                None
            }
        },
        Kind::Map(_) => {
            d.err(node.line, path, format!("column strategies such as {{round: …}} apply to tables; an object target takes one of: {OBJECT_STRATEGIES}"));
            None
        }
        _ => {
            d.err(
                node.line,
                path,
                format!("expected one object strategy: {OBJECT_STRATEGIES}"),
            );
            None
        }
    }
}

/// Whether a later run can tell an anonymised value from real data without a marker
/// column: NULL and a fixed replacement are recognisable, derived values are not.
pub fn is_recognisable(s: &ColumnStrategy) -> bool {
    matches!(s, ColumnStrategy::Null | ColumnStrategy::Replace(_))
}

/// The name of a strategy, for messages.
pub fn name(s: &ColumnStrategy) -> &'static str {
    match s {
        ColumnStrategy::Null => "null",
        ColumnStrategy::Replace(_) => "replace",
        ColumnStrategy::Hmac => "hmac",
        ColumnStrategy::Round(_) => "round",
        ColumnStrategy::TruncateIp => "truncate_ip",
        ColumnStrategy::TruncateDate(_) => "truncate_date",
        ColumnStrategy::MaskKeepLast(_) => "mask",
    }
}
