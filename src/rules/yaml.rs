//! A YAML document as a tree of nodes that remember their line.
//!
//! Rule files and `retention.yaml` are decoded from this tree rather than straight into
//! serde structs, because a serde decoder stops at the first problem and forgets where
//! each value came from, while validation must report every problem with its line. The
//! tree is built from `yaml-rust2`'s marked events, so every mapping key, scalar and
//! collection carries the line it starts on: the tree *is* the path-to-line map.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Aliases may repeat a node many times; a cap keeps a "billion laughs" file from
/// exhausting memory. No honest rule file comes anywhere near it.
const MAX_NODES: usize = 100_000;

/// Nesting deeper than this is refused, so a hostile file cannot overflow the stack of
/// the recursive decoders.
const MAX_DEPTH: usize = 64;

/// One YAML node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
}

/// The shape of a node. Scalars keep their text and whether they were plain (unquoted),
/// because only plain scalars may mean null, a boolean or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; each key keeps its own line.
    Map(Vec<Entry>),
}

/// One mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_line: usize,
    pub value: Node,
}

/// A document that is not well-formed YAML, or not a shape the tool can read.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl Node {
    /// Whether the node is YAML null: `null`, `~`, or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The node at a dotted path such as `targets[1].anonymise.latitude`, for tests and
    /// for pointing at a field after the fact.
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (name, indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                node = match &node.kind {
                    Kind::Map(entries) => &entries.iter().find(|e| e.key == name)?.value,
                    _ => return None,
                };
            }
            for index in indexes.split('[').filter(|s| !s.is_empty()) {
                let i: usize = index.trim_end_matches(']').parse().ok()?;
                node = match &node.kind {
                    Kind::Seq(items) => items.get(i)?,
                    _ => return None,
                };
            }
        }
        Some(node)
    }
}

/// Parses one YAML document. An empty file is an empty mapping's worth of nothing: a
/// null node on line 1, which the decoders report as "expected a mapping".
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        return Err(SyntaxError {
            line: e.marker().line().max(1),
            message: format!("not valid YAML: {}", e.info()),
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node {
        line: 1,
        kind: Kind::Scalar {
            text: String::new(),
            plain: true,
        },
    }))
}

/// An open collection while events stream in.
enum Open {
    Seq(Node, usize),
    /// The mapping, and a key waiting for its value.
    Map(Node, usize, Option<(String, usize)>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, line: usize, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                line,
                message: message.into(),
            });
        }
    }

    /// Places a finished node into its parent (or as the root). `weight` is how many
    /// nodes it adds: 1 for a scalar or a collection whose items were already counted,
    /// the whole subtree for an alias's copy.
    fn push(&mut self, node: Node, anchor: usize, weight: usize) {
        self.nodes += weight;
        if self.nodes > MAX_NODES {
            self.fail(
                node.line,
                "the document is too large (aliases expand to more than 100,000 nodes)",
            );
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => match node.kind {
                    Kind::Scalar { text, .. } => *pending = Some((text, node.line)),
                    _ => {
                        let line = node.line;
                        self.fail(
                            line,
                            "mapping keys must be plain names, not lists or mappings",
                        );
                    }
                },
                Some((key, key_line)) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push(Entry {
                            key,
                            key_line,
                            value: node,
                        });
                    }
                }
            },
        }
    }
}

fn node_count(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Kind::Map(entries) => 1 + entries.iter().map(|e| node_count(&e.value)).sum::<usize>(),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push(
                    Node {
                        line,
                        kind: Kind::Scalar { text, plain },
                    },
                    anchor,
                    1,
                );
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(line, "the document is nested too deeply");
                    return;
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Open::Seq(
                        Node {
                            line,
                            kind: Kind::Seq(Vec::new()),
                        },
                        anchor,
                    )
                } else {
                    Open::Map(
                        Node {
                            line,
                            kind: Kind::Map(Vec::new()),
                        },
                        anchor,
                        None,
                    )
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, _)) => {
                    self.push(node, anchor, 1)
                }
                None => self.fail(line, "unbalanced YAML collection"),
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                // The copy takes the alias's line, so messages point where it is used.
                Some(mut node) => {
                    node.line = line;
                    let weight = node_count(&node);
                    self.push(node, 0, weight);
                }
                None => self.fail(
                    line,
                    "an alias refers to an anchor that is not defined before it",
                ),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
category: location
targets:
  - store: app
    table: device_locations
  - store: app
    table: x
    anonymise:
      latitude: {round: 1}
      cell_id: null
";

    #[test]
    fn every_field_knows_its_line() {
        let root = parse(DOC).unwrap();
        let line = |p: &str| root.lookup(p).map(|n| n.line);
        assert_eq!(line("category"), Some(1));
        assert_eq!(line("targets[0].table"), Some(4));
        assert_eq!(line("targets[1]"), Some(5));
        assert_eq!(line("targets[1].anonymise.latitude"), Some(8));
        assert_eq!(line("targets[1].anonymise.latitude.round"), Some(8));
        assert_eq!(line("targets[1].anonymise.cell_id"), Some(9));
        assert_eq!(line("targets[2]"), None);
        assert!(root
            .lookup("targets[1].anonymise.cell_id")
            .unwrap()
            .is_null());
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse("a: 1\n  b: 2\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn aliases_are_copied_and_bombs_refused() {
        let root = parse("a: &x {k: 1}\nb: *x\n").unwrap();
        assert_eq!(root.lookup("b").unwrap().line, 2);
        assert!(root.lookup("b.k").is_some());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, p) in ["b", "c", "d", "e", "f", "g"]
            .into_iter()
            .zip(["a", "b", "c", "d", "e", "f"])
        {
            let items = vec![format!("*{p}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        assert!(parse(&bomb).is_err());
    }

    #[test]
    fn quoted_scalars_are_not_null() {
        let root = parse("a: 'null'\nb: ~\nc:\n").unwrap();
        assert!(!root.lookup("a").unwrap().is_null());
        assert!(root.lookup("b").unwrap().is_null());
        assert!(root.lookup("c").unwrap().is_null());
    }
}
