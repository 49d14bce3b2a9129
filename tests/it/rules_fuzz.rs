//! Property tests: no input, however mangled, makes the config or rule loader panic.
//! Every input either loads or comes back as diagnostics with a file and a message.

use crate::support::{BASE_CONFIG, GOOD_RULE};
use proptest::prelude::*;
use retention::config::StoreConfig;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn stores() -> BTreeMap<String, StoreConfig> {
    BTreeMap::from([
        (
            "app".to_owned(),
            StoreConfig::Sql {
                url: SecretString::from("sqlite://x.db".to_owned()),
            },
        ),
        (
            "media".to_owned(),
            StoreConfig::Dir {
                path: PathBuf::from("media"),
            },
        ),
    ])
}

/// Loads one rule file; diagnostics must be well-formed when it fails.
fn load_rule(bytes: Vec<u8>) {
    let files = vec![(PathBuf::from("rules/fuzz.yaml"), bytes)];
    if let Err(diags) = retention::rules::parse(&files, &stores()) {
        assert!(!diags.is_empty());
        for d in diags.iter() {
            assert!(d.file.ends_with("fuzz.yaml"));
            assert!(!d.message.is_empty());
        }
    }
}

/// One edit to a text: delete, insert or replace a character, or swap two lines.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let yamlish = prop::sample::select(vec![
        ':', '-', ' ', '\n', '{', '}', '[', ']', '"', '\'', '&', '*', '!', '#', '|', '>', '\t',
        'x', '0', 'а', '%', '@', '`', ';',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), yamlish.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), yamlish).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn mutate(text: &str, edits: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in edits {
        let n = chars.len().max(1);
        match *m {
            Mutation::Delete(i) if !chars.is_empty() => {
                chars.remove(i % n);
            }
            Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Mutation::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
            Mutation::SwapLines(a, b) => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let len = lines.len();
                    lines.swap(a % len, b % len);
                }
                chars = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_rule_files_never_panic_the_loader(edits in prop::collection::vec(mutation(), 1..8)) {
        load_rule(mutate(GOOD_RULE, &edits).into_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load_rule(bytes);
    }

    #[test]
    fn arbitrary_yaml_like_text_never_panics_the_loader(text in "[a-z_:{}\\[\\], \n\"'&*!-]{0,300}") {
        load_rule(text.into_bytes());
    }

    #[test]
    fn mutated_configs_never_panic_the_loader(edits in prop::collection::vec(mutation(), 1..8)) {
        let text = mutate(BASE_CONFIG, &edits);
        let env = |name: &str| (name == "SET").then(|| "value".to_owned());
        let _ = retention::config::parse(Path::new("/nonexistent/retention.yaml"), text.as_bytes(), &env);
    }
}
