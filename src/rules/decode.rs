//! Reading typed values out of a [`yaml`](super::yaml) tree while collecting problems.
//!
//! A [`Decoder`] belongs to one file. Each accessor either returns the value or records a
//! diagnostic (with the node's line and the field path) and returns `None`, so a loader
//! can carry on and find the next problem. [`Fields`] walks a mapping and, when finished,
//! reports every key nobody asked for as an unknown field — the hand-written equivalent
//! of serde's `deny_unknown_fields`, with the list of fields that would have been valid.

use super::yaml::{Entry, Kind, Node};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::ident::Ident;
use crate::rules::model::Scalar;
use std::path::{Path, PathBuf};

/// Collects the diagnostics of one file.
pub struct Decoder {
    file: PathBuf,
    diags: Diagnostics,
    /// Fields already reported as unusable (an environment variable that could not be
    /// expanded): later checks of the same value would only repeat the problem in a
    /// misleading way, so they are not reported.
    poisoned: Vec<String>,
    /// Things that are valid but cannot do what the file seems to ask (a period that
    /// never ends and an action on expiry): shown, never refused.
    warnings: Diagnostics,
}

/// `parent.key`, or `key` at the top level.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// How a node's shape is described in messages.
fn shape(node: &Node) -> &'static str {
    match &node.kind {
        _ if node.is_null() => "nothing",
        Kind::Scalar { .. } => "a single value",
        Kind::Seq(_) => "a list",
        Kind::Map(_) => "a mapping",
    }
}

impl Decoder {
    pub fn new(file: &Path) -> Self {
        Decoder {
            file: file.to_path_buf(),
            diags: Diagnostics::new(),
            poisoned: Vec::new(),
            warnings: Diagnostics::new(),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Records a problem.
    pub fn err(&mut self, line: usize, field: &str, message: impl Into<String>) {
        if self.poisoned.iter().any(|p| p == field) {
            return;
        }
        self.diags
            .push(Diagnostic::new(&self.file, line, field, message));
    }

    /// Records a problem that makes the field's value meaningless, and keeps quiet
    /// about that field from now on.
    pub fn poison(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.err(line, field, message);
        self.poisoned.push(field.to_owned());
    }

    /// Whether `path`, or a field under it, was poisoned: its value is meaningless and a
    /// problem with it was already reported (a store whose URL names an unset variable),
    /// so what refers to it should not report it missing as well.
    pub fn poisoned_under(&self, path: &str) -> bool {
        self.poisoned
            .iter()
            .any(|p| p == path || (p.starts_with(path) && p[path.len()..].starts_with(['.', '['])))
    }

    /// Records something valid that the user should hear about.
    pub fn warn(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.warnings
            .push(Diagnostic::new(&self.file, line, field, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    pub fn finish(self) -> Diagnostics {
        self.diags
    }

    /// The problems and, apart, the warnings.
    pub fn finish_with_warnings(self) -> (Diagnostics, Diagnostics) {
        (self.diags, self.warnings)
    }

    /// A mapping's fields; a problem if the node is anything else.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<Fields<'n>> {
        match &node.kind {
            Kind::Map(entries) => {
                let mut seen: Vec<&str> = Vec::new();
                for e in entries {
                    if seen.contains(&e.key.as_str()) {
                        self.err(
                            e.key_line,
                            &join(path, &e.key),
                            "this field appears twice; keep one of them",
                        );
                    }
                    seen.push(&e.key);
                }
                Some(Fields {
                    line: node.line,
                    path: path.to_owned(),
                    entries,
                    used: vec![false; entries.len()],
                    asked: Vec::new(),
                })
            }
            _ => {
                self.err(
                    node.line,
                    path,
                    format!(
                        "expected {what} (a mapping of fields), found {}",
                        shape(node)
                    ),
                );
                None
            }
        }
    }

    /// The items of a list; a problem if the node is anything else.
    pub fn seq<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.line,
                    path,
                    format!("expected a list of {what}, found {}", shape(node)),
                );
                None
            }
        }
    }

    /// A text value. Numbers and booleans are accepted as their text (a bucket may be
    /// called `2024`), but lists and mappings are not.
    pub fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.err(
                    node.line,
                    path,
                    format!("expected a text value, found {}", shape(node)),
                );
                None
            }
        }
    }

    /// A plain SQL identifier, checked by [`Ident::parse`].
    pub fn ident(&mut self, node: &Node, path: &str) -> Option<Ident> {
        let text = self.text(node, path)?;
        match Ident::parse(&text) {
            Ok(id) => Some(id),
            Err(e) => {
                self.err(
                    node.line,
                    path,
                    format!("{e}; rename it or pick another column"),
                );
                None
            }
        }
    }

    /// One identifier, or a list of them (`key: id` or `key: [a, b]`).
    pub fn idents(&mut self, node: &Node, path: &str) -> Option<Vec<Ident>> {
        match &node.kind {
            Kind::Seq(items) => {
                if items.is_empty() {
                    self.err(
                        node.line,
                        path,
                        "the list is empty; name at least one column",
                    );
                    return None;
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.ident(item, &index(path, i)) {
                        Some(id) => out.push(id),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            _ => self.ident(node, path).map(|id| vec![id]),
        }
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match plain(node) {
            Some("true" | "True" | "TRUE") => Some(true),
            Some("false" | "False" | "FALSE") => Some(false),
            _ => {
                self.err(node.line, path, "expected `true` or `false`");
                None
            }
        }
    }

    /// A whole number in `range` (inclusive).
    pub fn uint(&mut self, node: &Node, path: &str, min: u64, max: u64) -> Option<u64> {
        match plain(node).and_then(|t| t.replace('_', "").parse::<u64>().ok()) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    node.line,
                    path,
                    format!("expected a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A decimal number.
    pub fn float(&mut self, node: &Node, path: &str) -> Option<f64> {
        match plain(node).and_then(|t| t.parse::<f64>().ok()) {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.err(node.line, path, "expected a number such as 0.5");
                None
            }
        }
    }

    /// A literal for filters and `replace`: plain scalars keep their YAML type, quoted
    /// ones are text. Null is refused here; filters say `is_null` instead.
    pub fn scalar(&mut self, node: &Node, path: &str) -> Option<Scalar> {
        match &node.kind {
            Kind::Scalar { text, plain: false } => Some(Scalar::Text(text.clone())),
            Kind::Scalar { text, plain: true } if !node.is_null() => Some(match text.as_str() {
                // `True`, `FALSE` stay text, spelled as written: a text column compares
                // them so, and a boolean or integer column still reads them as booleans.
                "true" => Scalar::Bool(true),
                "false" => Scalar::Bool(false),
                // A number is kept as one only when it reads back exactly as written:
                // `042`, `+5`, `1.50` or `1e3` stay text, so a text column compares them
                // as written and a numeric column still parses them.
                t => match (t.parse::<i64>(), t.parse::<f64>()) {
                    (Ok(i), _) if i.to_string() == t => Scalar::Int(i),
                    (_, Ok(f)) if f.is_finite() && f.to_string() == t => Scalar::Float(f),
                    _ => Scalar::Text(t.to_owned()),
                },
            }),
            _ => {
                self.err(
                    node.line,
                    path,
                    format!(
                        "expected a single value (text, number or boolean), found {}",
                        shape(node)
                    ),
                );
                None
            }
        }
    }
}

/// The text of a plain (unquoted) scalar.
fn plain(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Scalar { text, plain: true } => Some(text.trim()),
        _ => None,
    }
}

/// The fields of one mapping, handed out on request.
pub struct Fields<'n> {
    /// The line the mapping starts on, for "missing field" problems.
    pub line: usize,
    pub path: String,
    entries: &'n [Entry],
    used: Vec<bool>,
    asked: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present and not null. Asking marks the key as known.
    pub fn get(&mut self, key: &'static str) -> Option<&'n Node> {
        self.get_raw(key).filter(|n| !n.is_null())
    }

    /// The value of `key` even when it is null (`cell_id: null` means something).
    pub fn get_raw(&mut self, key: &'static str) -> Option<&'n Node> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let mut found = None;
        for (e, used) in self.entries.iter().zip(self.used.iter_mut()) {
            if e.key == key {
                *used = true;
                // The last duplicate wins, as in YAML 1.1 loaders; the duplicate itself
                // has already been reported.
                found = Some(&e.value);
            }
        }
        found
    }

    /// A required field; a problem naming it when it is missing.
    pub fn require(&mut self, d: &mut Decoder, key: &'static str, hint: &str) -> Option<&'n Node> {
        let node = self.get(key);
        if node.is_none() {
            d.err(
                self.line,
                &self.field(key),
                format!("this field is required: {hint}"),
            );
        }
        node
    }

    /// The line of `key` itself (a block mapping value starts on the next line).
    pub fn key_line(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.key_line)
    }

    /// The path of one of this mapping's fields.
    pub fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Every key present, in file order, with its line (for column maps).
    pub fn entries(&self) -> &'n [Entry] {
        self.entries
    }

    /// Reports every key that no one asked for.
    pub fn finish(self, d: &mut Decoder) {
        for (e, used) in self.entries.iter().zip(&self.used) {
            if !used {
                d.err(
                    e.key_line,
                    &join(&self.path, &e.key),
                    format!(
                        "unknown field `{}`; expected one of: {}",
                        e.key.escape_default(),
                        self.asked.join(", ")
                    ),
                );
            }
        }
    }
}
