//! Reading a directory of rule files into a [`RuleSet`], with the checks that span files.
//!
//! Files are read in file-name order so the rule set and its digest do not depend on the
//! directory's listing order. Every file is decoded even when an earlier one fails, so
//! one `retention check` shows every problem.

use super::decode::Decoder;
use super::file;
use super::model::RuleSet;
use super::yaml;
use crate::config::{Config, StoreConfig};
use crate::diagnostics::{Diagnostic, Diagnostics};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A valid rule set and the warnings its files gave (valid, but worth a look).
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub rules: RuleSet,
    pub warnings: Diagnostics,
}

/// Loads every `*.yaml` / `*.yml` file in `config.rules_dir` (hidden files skipped), with
/// the warnings for the command to show.
pub fn load(config: &Config) -> Result<Loaded, Diagnostics> {
    let dir = &config.rules_dir;
    let unreadable = |e: std::io::Error| -> Diagnostics {
        vec![Diagnostic::new(
            dir,
            0,
            "",
            format!("cannot read the rules directory: {e}; set `rules:` in {} to the directory of rule files", config.path.display()),
        )]
        .into()
    };
    let mut names: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_rule = (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.');
        if is_rule && path.is_file() {
            names.push(path);
        }
    }
    names.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    for path in names {
        match std::fs::read(&path) {
            Ok(bytes) => files.push((path, bytes)),
            Err(e) => diags.push(Diagnostic::new(
                &path,
                0,
                "",
                format!("cannot read the rule file: {e}"),
            )),
        }
    }
    if files.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::new(
            dir,
            0,
            "",
            "the rules directory holds no *.yaml rule files; add one file per data category",
        ));
    }
    match parse_with_warnings(&files, &config.stores) {
        Ok(loaded) if diags.is_empty() => Ok(loaded),
        Ok(_) => diags.into_result(Loaded::default()),
        Err(more) => {
            diags.extend(more);
            diags.into_result(Loaded::default())
        }
    }
}

/// Decodes and validates rule files already read, in the order given, against the
/// configured stores.
pub fn parse(
    files: &[(PathBuf, Vec<u8>)],
    stores: &BTreeMap<String, StoreConfig>,
) -> Result<RuleSet, Diagnostics> {
    parse_with_warnings(files, stores).map(|l| l.rules)
}

/// [`parse`], keeping the warnings.
fn parse_with_warnings(
    files: &[(PathBuf, Vec<u8>)],
    stores: &BTreeMap<String, StoreConfig>,
) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut warnings = Diagnostics::new();
    let mut rules = Vec::new();
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    let mut digest = Sha256::new();
    for (path, bytes) in files {
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        digest.update(name);
        digest.update([0u8]);
        digest.update(bytes);
        let mut d = Decoder::new(path);
        if let Some(decoded) = decode_file(&mut d, path, bytes, stores) {
            let category = decoded.rule.category.clone();
            match seen.get(&category) {
                Some((first, line)) => d.err(
                    decoded.category_line,
                    "category",
                    format!("category `{category}` is already defined in {}:{line}; each category has one file", first.display()),
                ),
                None => {
                    seen.insert(category, (path.clone(), decoded.category_line));
                    rules.push(decoded.rule);
                }
            }
        }
        let (problems, warned) = d.finish_with_warnings();
        diags.extend(problems);
        warnings.extend(warned);
    }
    rules.sort_by(|a, b| a.category.cmp(&b.category));
    diags.into_result(Loaded {
        rules: RuleSet {
            rules,
            digest: format!("sha256:{}", hex::encode(digest.finalize())),
        },
        warnings,
    })
}

fn decode_file(
    d: &mut Decoder,
    path: &Path,
    bytes: &[u8],
    stores: &BTreeMap<String, StoreConfig>,
) -> Option<file::Decoded> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        d.err(0, "", "the file is not UTF-8 text");
        return None;
    };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            d.err(e.line, "", e.message);
            return None;
        }
    };
    let sha256 = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    let decoded = file::decode(d, &root, stores, path, sha256)?;
    // A rule is only usable when nothing in its file was wrong.
    (!d.has_errors()).then_some(decoded)
}
