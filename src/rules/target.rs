//! One entry of a rule's `targets:` list: a table in a SQL store, or objects under a
//! prefix in an S3 bucket or directory (SPEC §3).
//!
//! Besides decoding, this is where a target is checked against its rule: a timestamp
//! unless the rule retains forever, strategies when the rule anonymises, and the marker
//! rule — an anonymised row must never be selected again.

use super::decode::{index, join, Decoder, Fields};
use super::model::*;
use super::strategy;
use super::yaml::{Kind, Node};
use crate::config::StoreConfig;
use crate::ident::Ident;
use std::collections::BTreeMap;

/// What a target needs to know about the rule it belongs to.
pub struct RuleContext<'a> {
    pub stores: &'a BTreeMap<String, StoreConfig>,
    /// `retain: forever`: no timestamp is needed.
    pub forever: bool,
    /// `on_expiry` or `on_erasure` is `anonymise`.
    pub anonymises: bool,
    /// `on_expiry` is `delete` (whole partitions may then go).
    pub expiry_deletes: bool,
}

pub fn decode(d: &mut Decoder, node: &Node, path: &str, ctx: &RuleContext) -> Option<Target> {
    let mut f = d.map(node, path, "a target")?;
    // Peek at the discriminating fields without marking them used yet.
    let has = |k: &str| matches!(&node.kind, Kind::Map(es) if es.iter().any(|e| e.key == k));
    match (has("table"), has("prefix")) {
        (true, false) => table(d, f, ctx).map(Target::Table),
        (false, true) => objects(d, f, ctx).map(Target::Objects),
        (true, true) => {
            d.err(node.line, path, "a target is either a table (`table:`) or objects (`prefix:`), not both; split it into two targets");
            None
        }
        (false, false) => {
            let _ = f.get("store");
            d.err(
                node.line,
                path,
                "a target needs `table: NAME` (a SQL table) or `prefix: PATH/` (objects)",
            );
            None
        }
    }
}

/// The target's store, which must exist and be of the kind the target needs.
fn store(d: &mut Decoder, f: &mut Fields, ctx: &RuleContext, sql: bool) -> Option<String> {
    let node = f.require(
        d,
        "store",
        "the store this target lives in, as named under `stores:` in retention.yaml",
    )?;
    let field = f.field("store");
    let name = d.text(node, &field)?;
    match ctx.stores.get(&name) {
        None => {
            let known: Vec<&str> = ctx.stores.keys().map(String::as_str).collect();
            d.err(
                node.line,
                &field,
                format!(
                    "there is no store `{}` in the configuration; use one of: {}",
                    name.escape_default(),
                    known.join(", ")
                ),
            );
            None
        }
        Some(s) if sql && !s.is_sql() => {
            d.err(node.line, &field, format!("a table target must name a SQL store, and `{name}` holds objects; use `prefix:` for objects or name a SQL store"));
            None
        }
        Some(s) if !sql && s.is_sql() => {
            d.err(node.line, &field, format!("an object target must name an s3 or dir store, and `{name}` is a SQL database; use `table:` for tables"));
            None
        }
        Some(_) => Some(name),
    }
}

fn table(d: &mut Decoder, mut f: Fields, ctx: &RuleContext) -> Option<TableTarget> {
    let path = f.path.clone();
    let line = f.line;
    let places = places(&f, line);
    let store = store(d, &mut f, ctx, true);
    let table = f
        .require(d, "table", "the table name")
        .and_then(|n| d.ident(n, &f.field("table")));
    let key = f
        .require(d, "key", "the primary-key columns, e.g. [id]")
        .and_then(|n| d.idents(n, &f.field("key")));
    let timestamp = match f.get("timestamp") {
        Some(n) => Some(table_timestamp(d, n, &f.field("timestamp"))),
        None if ctx.forever => Some(None),
        None => {
            d.err(line, &f.field("timestamp"), "this field is required unless the rule says `retain: forever`: the column the retention period is measured from, e.g. `created_at` or {column: created_ms, unit: ms}");
            None
        }
    };
    let subject = match f.get("subject") {
        Some(n) => table_subject(d, n, &f.field("subject")).map(Some),
        None => Some(None),
    };
    let erasure_flag = match f.get("erasure_flag") {
        Some(n) => d.ident(n, &f.field("erasure_flag")).map(Some),
        None => Some(None),
    };
    let filter = match f.get("filter") {
        Some(n) => filters(d, n, &f.field("filter")),
        None => Some(Vec::new()),
    };
    let anonymise_node = f.get_raw("anonymise");
    let anonymise_line = f.key_line("anonymise").unwrap_or(line);
    let anonymise = match anonymise_node {
        Some(n) if !n.is_null() => columns(d, n, &f.field("anonymise")),
        _ => Some(Vec::new()),
    };
    let marker = match f.get("marker") {
        Some(n) => d.ident(n, &f.field("marker")).map(Some),
        None => Some(None),
    };
    let export_exclude = match f.get("export_exclude") {
        Some(n) => export_exclude(d, n, &f.field("export_exclude")),
        None => Some(Vec::new()),
    };
    let partitions = match f.get("partitions") {
        Some(n) => partitions(d, n, &f.field("partitions"), ctx),
        None => Some(PartitionMode::Rows),
    };
    f.finish(d);

    let (key, anonymise, marker) = (key?, anonymise?, marker?);
    for (column, _) in &anonymise {
        if key.contains(column) {
            let l = anonymise_node
                .and_then(|n| n.lookup(column.as_str()))
                .map_or(line, |n| n.line);
            d.err(l, &join(&join(&path, "anonymise"), column.as_str()), "a primary-key column cannot be anonymised: batches walk the key; anonymise the other columns, or delete the row");
        }
    }
    if ctx.anonymises {
        let field = join(&path, "anonymise");
        let l = anonymise_line;
        if anonymise.is_empty() {
            d.err(l, &field, "the rule anonymises (on_expiry or on_erasure is `anonymise`), so list the columns and strategies, e.g. `anonymise: {ip_address: truncate_ip, email: null}`");
        } else if marker.is_none() {
            let opaque: Vec<String> = anonymise
                .iter()
                .filter(|(_, s)| !strategy::is_recognisable(s))
                .map(|(c, s)| format!("{c} ({})", strategy::name(s)))
                .collect();
            if !opaque.is_empty() {
                d.err(l, &join(&path, "marker"), format!(
                    "an anonymised row must never be selected again, but {} leave values that look like real data; add `marker: anonymised_at` (a nullable timestamp column the tool sets) or use only `null` and {{replace: …}}",
                    opaque.join(", ")
                ));
            }
        }
    }
    Some(TableTarget {
        places,
        store: store?,
        table: table?,
        key,
        timestamp: timestamp?,
        subject: subject?,
        erasure_flag: erasure_flag?,
        filter: filter?,
        anonymise,
        marker,
        export_exclude: export_exclude?,
        partitions: partitions?,
    })
}

/// `partitions: rows | drop | detach`. Whole partitions only ever leave by expiry, so
/// `drop` and `detach` need `on_expiry: delete`.
fn partitions(
    d: &mut Decoder,
    node: &Node,
    path: &str,
    ctx: &RuleContext,
) -> Option<PartitionMode> {
    let mode = match d.text(node, path)?.as_str() {
        "rows" => PartitionMode::Rows,
        "drop" => PartitionMode::Drop,
        "detach" => PartitionMode::Detach,
        other => {
            d.err(
                node.line,
                path,
                format!(
                    "`{}` is not a partition mode; use rows (row batches, the default), drop or detach",
                    other.escape_default()
                ),
            );
            return None;
        }
    };
    if mode.whole() && !ctx.expiry_deletes {
        d.err(
            node.line,
            path,
            format!(
                "`partitions: {}` removes expired partitions whole, which is a delete, and this rule's on_expiry does not delete; set `on_expiry: delete` or write `partitions: rows`",
                mode.as_str()
            ),
        );
        return None;
    }
    Some(mode)
}

/// Where the target's fields are written, for problems found later against the live
/// schema: the target itself, each field, each filter and each anonymised column.
fn places(f: &Fields, line: usize) -> Box<Places> {
    let mut lines = BTreeMap::new();
    lines.insert(String::new(), line);
    for e in f.entries() {
        lines.insert(e.key.clone(), e.key_line);
        match (e.key.as_str(), &e.value.kind) {
            ("filter", Kind::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    lines.insert(index("filter", i), item.line);
                }
            }
            ("anonymise", Kind::Map(cols)) => {
                for c in cols {
                    lines.insert(join("anonymise", &c.key), c.key_line);
                }
            }
            _ => {}
        }
    }
    Box::new(Places {
        path: f.path.clone(),
        lines,
    })
}

/// `export_exclude: [password_hash, ...]`: a list of column names, each named once.
fn export_exclude(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<Ident>> {
    let items = d.seq(node, path, "column names, e.g. [password_hash, api_token]")?;
    let mut out: Vec<Ident> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        match d.ident(item, &p) {
            Some(c) if out.contains(&c) => {
                d.err(
                    item.line,
                    &p,
                    format!("column `{c}` is listed twice; name it once"),
                );
                ok = false;
            }
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `timestamp: recorded_at` or `timestamp: {column: created_ms, unit: ms}`.
fn table_timestamp(d: &mut Decoder, node: &Node, path: &str) -> Option<TimestampColumn> {
    if let Kind::Map(_) = node.kind {
        let mut f = d.map(node, path, "a timestamp")?;
        let column = f
            .require(d, "column", "the column holding the time")
            .and_then(|n| d.ident(n, &f.field("column")));
        let unit = match f.get("unit") {
            None => Some(TimeUnit::Native),
            Some(n) => match d.text(n, &f.field("unit")).as_deref() {
                Some("s") => Some(TimeUnit::Seconds),
                Some("ms") => Some(TimeUnit::Millis),
                Some("us") => Some(TimeUnit::Micros),
                Some(other) => {
                    d.err(n.line, &f.field("unit"), format!("`{}` is not an epoch unit; use s, ms or us (or leave `unit` out for date/time columns)", other.escape_default()));
                    None
                }
                None => None,
            },
        };
        f.finish(d);
        return Some(TimestampColumn {
            column: column?,
            unit: unit?,
        });
    }
    d.ident(node, path).map(|column| TimestampColumn {
        column,
        unit: TimeUnit::Native,
    })
}

/// `subject: account_id` or `subject: {column: order_id, via: {table, key, subject}}`.
fn table_subject(d: &mut Decoder, node: &Node, path: &str) -> Option<SubjectColumn> {
    if !matches!(node.kind, Kind::Map(_)) {
        return d.ident(node, path).map(SubjectColumn::Column);
    }
    let mut f = d.map(node, path, "a subject")?;
    let column = f
        .require(
            d,
            "column",
            "the column of this table that leads to the subject",
        )
        .and_then(|n| d.ident(n, &f.field("column")));
    let via = f.get("via");
    f.finish(d);
    let Some(via) = via else {
        return column.map(SubjectColumn::Column);
    };
    let vp = join(path, "via");
    let mut v = d.map(
        via,
        &vp,
        "one hop to another table, e.g. {table: orders, key: id, subject: account_id}",
    )?;
    let table = v
        .require(d, "table", "the table `column` refers to")
        .and_then(|n| d.ident(n, &v.field("table")));
    let key = v
        .require(d, "key", "that table's column `column` refers to, e.g. id")
        .and_then(|n| d.ident(n, &v.field("key")));
    let subject = v
        .require(
            d,
            "subject",
            "that table's subject id column, e.g. account_id",
        )
        .and_then(|n| d.ident(n, &v.field("subject")));
    v.finish(d);
    Some(SubjectColumn::Via {
        column: column?,
        table: table?,
        key: key?,
        subject: subject?,
    })
}

/// One filter or a list of them; all must hold.
fn filters(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<Filter>> {
    match &node.kind {
        Kind::Seq(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match filter(d, item, &index(path, i)) {
                    Some(f) => out.push(f),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        _ => filter(d, node, path).map(|f| vec![f]),
    }
}

const FILTER_OPS: &str = "eq, ne, in, not_in, is_null";

fn filter(d: &mut Decoder, node: &Node, path: &str) -> Option<Filter> {
    let mut f = d.map(
        node,
        path,
        "a filter such as {column: source, not_in: [manual]}",
    )?;
    let column = f
        .require(d, "column", "the column to filter on")
        .and_then(|n| d.ident(n, &f.field("column")));
    let ops: Vec<(&'static str, &Node)> = ["eq", "ne", "in", "not_in", "is_null"]
        .into_iter()
        .filter_map(|k| f.get_raw(k).map(|n| (k, n)))
        .collect();
    f.finish(d);
    let op = match ops.as_slice() {
        [(k, n)] => {
            let p = join(path, k);
            match *k {
                "eq" => d.scalar(n, &p).map(FilterOp::Eq),
                "ne" => d.scalar(n, &p).map(FilterOp::NotEq),
                "in" | "not_in" => {
                    let items = d.seq(n, &p, "values")?;
                    if items.is_empty() {
                        d.err(n.line, &p, "the list is empty; give at least one value");
                        return None;
                    }
                    let values: Option<Vec<Scalar>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| d.scalar(item, &index(&p, i)))
                        .collect::<Vec<_>>()
                        .into_iter()
                        .collect();
                    values.map(|v| {
                        if *k == "in" {
                            FilterOp::In(v)
                        } else {
                            FilterOp::NotIn(v)
                        }
                    })
                }
                _ => d.bool(n, &p).map(|b| {
                    if b {
                        FilterOp::IsNull
                    } else {
                        FilterOp::IsNotNull
                    }
                }),
            }
        }
        [] => {
            d.err(
                node.line,
                path,
                format!("a filter needs one condition: {FILTER_OPS}"),
            );
            None
        }
        _ => {
            d.err(
                node.line,
                path,
                "a filter has exactly one condition; write a list of filters to combine several",
            );
            None
        }
    };
    Some(Filter {
        column: column?,
        op: op?,
    })
}

/// `anonymise:` of a table: column -> strategy, in file order.
fn columns(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<(Ident, ColumnStrategy)>> {
    let f = d.map(
        node,
        path,
        "columns and their strategies, e.g. {latitude: {round: 1}}",
    )?;
    let mut out = Vec::new();
    let mut ok = true;
    for e in f.entries() {
        let p = join(path, &e.key);
        let column = match Ident::parse(&e.key) {
            Ok(c) => Some(c),
            Err(err) => {
                d.err(
                    e.key_line,
                    &p,
                    format!("{err}; rename it or pick another column"),
                );
                None
            }
        };
        match (column, strategy::column(d, &e.value, &p)) {
            (Some(c), Some(s)) => out.push((c, s)),
            _ => ok = false,
        }
    }
    // Every key is a column name, so none is "unknown"; duplicates were reported by `map`.
    ok.then_some(out)
}

fn objects(d: &mut Decoder, mut f: Fields, ctx: &RuleContext) -> Option<ObjectTarget> {
    let line = f.line;
    let store = store(d, &mut f, ctx, false);
    let prefix = f.require(d, "prefix", "the folder the objects live under, e.g. photos/").and_then(|n| {
        let p = d.text(n, &f.field("prefix"))?;
        let bad = if p.trim().is_empty() {
            Some("the prefix is empty and would cover the whole store; name a folder such as photos/")
        } else if p.starts_with('/')
            || p.contains('\\')
            || p.split('/').any(|s| s == ".." || s == ".")
            // An empty folder name (`photos//`), except after the trailing slash.
            || p.split('/').rev().skip(1).any(str::is_empty)
        {
            Some("write a relative prefix such as photos/ (no leading `/`, no `.` or `..`, no empty folder such as `//`, no `\\`)")
        } else {
            None
        };
        match bad {
            Some(m) => {
                d.err(n.line, &f.field("prefix"), m);
                None
            }
            None => Some(p),
        }
    });
    let subject = match f.get("subject") {
        Some(n) => object_subject(d, n, &f.field("subject"), prefix.as_deref()).map(Some),
        None => Some(None),
    };
    let timestamp = match f.get("timestamp") {
        Some(n) => object_timestamp(d, n, &f.field("timestamp")).map(Some),
        None if ctx.forever => Some(None),
        None => {
            d.err(line, &f.field("timestamp"), "this field is required unless the rule says `retain: forever`: `last_modified` or {metadata: NAME}");
            None
        }
    };
    let anonymise = match f.get("anonymise") {
        Some(n) => strategy::object(d, n, &f.field("anonymise")).map(Some),
        None => Some(None),
    };
    if ctx.anonymises && matches!(anonymise, Some(None)) {
        d.err(line, &f.field("anonymise"), "the rule anonymises (on_expiry or on_erasure is `anonymise`), so name an object strategy: strip_gps or strip_metadata");
    }
    f.finish(d);
    Some(ObjectTarget {
        store: store?,
        prefix: prefix?,
        subject: subject?,
        timestamp: timestamp?,
        anonymise: anonymise?,
    })
}

/// `{key: "photos/{subject}/"}`, `{metadata: account-id}` or `{tag: subject}`.
fn object_subject(
    d: &mut Decoder,
    node: &Node,
    path: &str,
    prefix: Option<&str>,
) -> Option<ObjectSubject> {
    let mut f = d.map(
        node,
        path,
        "where the subject id is, e.g. {key: \"photos/{subject}/\"}",
    )?;
    let found: Vec<(&'static str, &Node)> = ["key", "metadata", "tag"]
        .into_iter()
        .filter_map(|k| f.get(k).map(|n| (k, n)))
        .collect();
    f.finish(d);
    let [(kind, n)] = found.as_slice() else {
        d.err(
            node.line,
            path,
            "name exactly one of {key: \"prefix/{subject}/\"}, {metadata: NAME} or {tag: NAME}",
        );
        return None;
    };
    let p = join(path, kind);
    let text = d.text(n, &p)?;
    match *kind {
        "key" => {
            let placeholders = text.matches("{subject}").count();
            let braces = text.matches(['{', '}']).count();
            if placeholders != 1 || braces != 2 {
                d.err(n.line, &p, "a key pattern has exactly one `{subject}` placeholder and no other braces, e.g. \"photos/{subject}/\"");
                return None;
            }
            let before = text.split("{subject}").next().unwrap_or_default();
            if let Some(prefix) = prefix {
                if !before.starts_with(prefix) {
                    d.err(n.line, &p, format!("the key pattern must start with the target's prefix `{}`, e.g. \"{}{{subject}}/\"", prefix.escape_default(), prefix.escape_default()));
                    return None;
                }
            }
            Some(ObjectSubject::KeyPattern(text))
        }
        _ if text.trim().is_empty() => {
            d.err(n.line, &p, "the name is empty");
            None
        }
        "metadata" => Some(ObjectSubject::Metadata(text)),
        _ => Some(ObjectSubject::Tag(text)),
    }
}

fn object_timestamp(d: &mut Decoder, node: &Node, path: &str) -> Option<ObjectTimestamp> {
    if let Kind::Map(_) = node.kind {
        let mut f = d.map(node, path, "a timestamp")?;
        let name = f
            .require(
                d,
                "metadata",
                "the user-metadata field holding RFC 3339 or epoch seconds",
            )
            .and_then(|n| d.text(n, &f.field("metadata")));
        f.finish(d);
        return name.map(ObjectTimestamp::Metadata);
    }
    match d.text(node, path)?.as_str() {
        "last_modified" => Some(ObjectTimestamp::LastModified),
        other => {
            d.err(
                node.line,
                path,
                format!(
                    "`{}` is not an object timestamp; write `last_modified` or {{metadata: NAME}}",
                    other.escape_default()
                ),
            );
            None
        }
    }
}
