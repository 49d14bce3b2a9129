//! Reading `retention.yaml` into a [`Config`]: parse with line numbers, expand the
//! environment, decode every section, and check the references between sections.
//!
//! Every problem is collected; the caller gets either a complete, valid configuration or
//! the full list of what to fix.

use super::env;
use super::{
    AuditConfig, AuditExport, Config, Defaults, Requests, S3Config, StoreConfig, SubjectLookup,
};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::rules::decode::{index, join, Decoder};
use crate::rules::yaml::{self, Kind, Node};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Store names appear in rule files and audit entries; keep them simple.
fn is_store_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Loads and validates the configuration file at `path`, expanding variables from the
/// process environment.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes, &|name| std::env::var(name).ok()),
        Err(e) => Err(vec![Diagnostic::new(
            path,
            0,
            "",
            format!("cannot read the configuration file: {e}; pass --config with the path of your retention.yaml"),
        )]
        .into()),
    }
}

/// Validates configuration bytes as if read from `path` (relative paths resolve against
/// its directory), looking variables up with `env`.
pub fn parse(
    path: &Path,
    bytes: &[u8],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Diagnostics> {
    let mut d = Decoder::new(path);
    let Ok(text) = std::str::from_utf8(bytes) else {
        d.err(0, "", "the file is not UTF-8 text");
        return Err(d.finish());
    };
    let mut root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            d.err(e.line, "", e.message);
            return Err(d.finish());
        }
    };
    expand_tree(&mut d, &mut root, "", env);

    let base_dir = base_dir(path);
    let Some(mut top) = d.map(&root, "", "the configuration") else {
        return Err(d.finish());
    };

    let stores = match top.require(
        &mut d,
        "stores",
        "name at least one store, e.g. `app: {url: ${APP_DATABASE_URL}}`",
    ) {
        Some(node) => decode_stores(&mut d, node, &base_dir),
        None => BTreeMap::new(),
    };
    let state = top
        .require(
            &mut d,
            "state",
            "name the SQL store that holds the tool's own tables",
        )
        .and_then(|node| {
            let name = d.text(node, "state")?;
            check_store_ref(&mut d, &stores, &name, node.line, "state", StoreKind::Sql);
            Some(name)
        });
    let audit = top
        .require(
            &mut d,
            "audit",
            "at least `pseudonym_key: ${RETENTION_PSEUDONYM_KEY}`",
        )
        .and_then(|node| decode_audit(&mut d, node, &stores, &base_dir));
    let rules_node = top.get("rules");
    let rules_dir = match rules_node {
        Some(node) => d.text(node, "rules").map(|p| anchor(&base_dir, &p)),
        None => Some(anchor(&base_dir, "rules")),
    };
    if let Some(dir) = rules_dir.as_ref().filter(|dir| !dir.is_dir()) {
        d.err(
            rules_node.map_or(root.line, |n| n.line),
            "rules",
            format!(
                "the rules directory {} does not exist; set `rules:` to the directory of rule files (relative to this file)",
                dir.display()
            ),
        );
    }
    let subjects = top
        .get("subjects")
        .and_then(|node| decode_subjects(&mut d, node, &stores));
    let requests = match top.get("requests") {
        Some(node) => decode_requests(&mut d, node),
        None => Some(Requests::default()),
    };
    let defaults = match top.get("defaults") {
        Some(node) => decode_defaults(&mut d, node),
        None => Some(Defaults::default()),
    };
    top.finish(&mut d);

    match (state, audit, rules_dir, requests, defaults) {
        (Some(state), Some(audit), Some(rules_dir), Some(requests), Some(defaults))
            if !d.has_errors() =>
        {
            Ok(Config {
                path: path.to_path_buf(),
                base_dir,
                stores,
                state,
                audit,
                rules_dir,
                subjects,
                requests,
                defaults,
                digest: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
            })
        }
        _ => d.finish().into_result(unreachable_config()),
    }
}

/// `into_result` needs a value for the (impossible) empty case; reaching the fallback
/// arm means at least one problem was recorded, since every `None` above records one.
fn unreachable_config() -> Config {
    Config {
        path: PathBuf::new(),
        base_dir: PathBuf::new(),
        stores: BTreeMap::new(),
        state: String::new(),
        audit: AuditConfig {
            pseudonym_key: SecretString::from(String::new()),
            signing_key: None,
            verifier_key: None,
            origin: None,
            unsigned_history: 0,
            export: None,
            file: None,
        },
        rules_dir: PathBuf::new(),
        subjects: None,
        requests: Requests::default(),
        defaults: Defaults::default(),
        digest: String::new(),
    }
}

/// The directory of the config file, made absolute so later `chdir`s cannot move it.
fn base_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&parent).unwrap_or(parent)
}

/// `rel` resolved against `base`, with `.` components dropped so messages show clean
/// paths. An absolute `rel` stays as it is.
fn anchor(base: &Path, rel: &str) -> PathBuf {
    base.join(rel).components().collect()
}

/// Expands `${…}` in every scalar value (not in keys: keys are names, not data).
fn expand_tree(d: &mut Decoder, node: &mut Node, path: &str, env: &dyn Fn(&str) -> Option<String>) {
    match &mut node.kind {
        Kind::Scalar { text, .. } => {
            if text.contains('$') {
                match env::expand(text, env) {
                    Ok(expanded) => *text = expanded,
                    Err(message) => d.poison(node.line, path, message),
                }
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_tree(d, item, &index(path, i), env);
            }
        }
        Kind::Map(entries) => {
            for e in entries {
                let p = join(path, &e.key);
                expand_tree(d, &mut e.value, &p, env);
            }
        }
    }
}

fn decode_stores(d: &mut Decoder, node: &Node, base: &Path) -> BTreeMap<String, StoreConfig> {
    let mut stores = BTreeMap::new();
    let Some(fields) = d.map(node, "stores", "the stores") else {
        return stores;
    };
    if fields.entries().is_empty() {
        d.err(
            node.line,
            "stores",
            "no stores are defined; name at least one",
        );
    }
    for e in fields.entries() {
        let path = join("stores", &e.key);
        if !is_store_name(&e.key) {
            d.err(
                e.key_line,
                &path,
                "a store name may use only letters, digits, `_` and `-`",
            );
            continue;
        }
        if let Some(store) = decode_store(d, &e.value, &path, base) {
            stores.insert(e.key.clone(), store);
        }
    }
    stores
}

fn decode_store(d: &mut Decoder, node: &Node, path: &str, base: &Path) -> Option<StoreConfig> {
    let mut f = d.map(node, path, "a store")?;
    let url = f.get_raw("url");
    let s3 = f.get_raw("s3");
    let dir = f.get_raw("dir");
    f.finish(d);
    let store = match (url, s3, dir) {
        (Some(url), None, None) => {
            let p = join(path, "url");
            let text = d.text(url, &p)?;
            let url = resolve_sql_url(&text, base)
                .map_err(|m| d.err(url.line, &p, m))
                .ok()?;
            StoreConfig::Sql {
                url: SecretString::from(url),
            }
        }
        (None, Some(s3), None) => StoreConfig::S3(decode_s3(d, s3, &join(path, "s3"))?),
        (None, None, Some(dir)) => {
            let p = join(path, "dir");
            let text = d.text(dir, &p)?;
            if text.trim().is_empty() {
                d.err(
                    dir.line,
                    &p,
                    "the directory is empty; write a path such as ./data/exports",
                );
                return None;
            }
            StoreConfig::Dir {
                path: anchor(base, &text),
            }
        }
        _ => {
            d.err(
                node.line,
                path,
                "a store is exactly one of `url: …` (SQL), `s3: {bucket: …}` or `dir: PATH`",
            );
            return None;
        }
    };
    Some(store)
}

/// Checks the scheme of a SQL URL and anchors a relative SQLite file at the config
/// directory. A missing SQLite file is created only by `migrate` and `demo`.
/// Messages never quote the URL: it may carry a password.
fn resolve_sql_url(url: &str, base: &Path) -> Result<String, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("the URL is empty; set the environment variable it names, e.g. postgres://user@host/db, mysql://…, or sqlite://file.db".to_owned());
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, query) = match rest.split_once('?') {
            Some((f, q)) => (f, q),
            None => (rest, ""),
        };
        if file.is_empty() {
            return Err("the SQLite URL names no file; write sqlite://path/to/file.db".to_owned());
        }
        let file = if file == ":memory:" || Path::new(file).is_absolute() {
            file.to_owned()
        } else {
            anchor(base, file).to_string_lossy().into_owned()
        };
        return Ok(match query.is_empty() {
            true => format!("sqlite://{file}"),
            false => format!("sqlite://{file}?{query}"),
        });
    }
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme {
        Some("postgres" | "postgresql" | "mysql" | "mariadb") => Ok(url.to_owned()),
        _ => Err(
            "the URL must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite://"
                .to_owned(),
        ),
    }
}

fn decode_s3(d: &mut Decoder, node: &Node, path: &str) -> Option<S3Config> {
    let mut f = d.map(node, path, "an S3 bucket")?;
    let bucket = f
        .require(d, "bucket", "the bucket name")
        .and_then(|n| d.text(n, &join(path, "bucket")));
    let region = f
        .get("region")
        .and_then(|n| d.text(n, &join(path, "region")));
    let endpoint = f
        .get("endpoint")
        .and_then(|n| d.text(n, &join(path, "endpoint")))
        .filter(|e| !e.trim().is_empty());
    let path_style = match f.get("path_style") {
        Some(n) => d.bool(n, &join(path, "path_style"))?,
        None => false,
    };
    f.finish(d);
    let bucket = bucket?;
    if bucket.trim().is_empty() {
        d.err(node.line, &join(path, "bucket"), "the bucket name is empty");
        return None;
    }
    Some(S3Config {
        bucket,
        region: region.filter(|r| !r.trim().is_empty()),
        endpoint,
        path_style,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Sql,
    Objects,
}

/// Checks that `name` is a store of the right kind, recording a problem otherwise.
fn check_store_ref(
    d: &mut Decoder,
    stores: &BTreeMap<String, StoreConfig>,
    name: &str,
    line: usize,
    field: &str,
    kind: StoreKind,
) -> bool {
    match (stores.get(name), kind) {
        // Declared, but its definition failed on a problem already reported.
        (None, _) if d.poisoned_under(&join("stores", name)) => false,
        (None, _) => {
            let known: Vec<&str> = stores.keys().map(String::as_str).collect();
            d.err(
                line,
                field,
                format!(
                    "there is no store `{}`; define it under `stores:` or use one of: {}",
                    name.escape_default(),
                    known.join(", ")
                ),
            );
            false
        }
        (Some(s), StoreKind::Sql) if !s.is_sql() => {
            d.err(
                line,
                field,
                format!("store `{name}` is not a SQL database; name a store with a `url:`"),
            );
            false
        }
        (Some(s), StoreKind::Objects) if !s.is_objects() => {
            d.err(
                line,
                field,
                format!("store `{name}` is a SQL database; name an `s3:` or `dir:` store"),
            );
            false
        }
        _ => true,
    }
}

fn decode_audit(
    d: &mut Decoder,
    node: &Node,
    stores: &BTreeMap<String, StoreConfig>,
    base: &Path,
) -> Option<AuditConfig> {
    let mut f = d.map(node, "audit", "the audit settings")?;
    let key = f
        .require(d, "pseudonym_key", "write `pseudonym_key: ${RETENTION_PSEUDONYM_KEY}` and export a random key of at least 32 bytes")
        .and_then(|n| {
            let key = d.text(n, "audit.pseudonym_key")?;
            if key.len() < 32 {
                d.err(
                    n.line,
                    "audit.pseudonym_key",
                    format!("the key is {} bytes long; use at least 32 random bytes (e.g. `openssl rand -hex 32`)", key.len()),
                );
                return None;
            }
            Some(SecretString::from(key))
        });
    let signing_key = match f.get("signing_key") {
        Some(n) => match d.text(n, "audit.signing_key") {
            Some(k) if k.trim().is_empty() => Some(None),
            Some(k) if k.trim().starts_with("PRIVATE+KEY+") => {
                Some(Some(SecretString::from(k.trim().to_owned())))
            }
            Some(_) => {
                d.err(n.line, "audit.signing_key", "expected a signed-note private key (PRIVATE+KEY+…) as printed by `retention audit keygen`");
                None
            }
            None => None,
        },
        None => Some(None),
    };
    let verifier_key = match f.get("verifier_key") {
        Some(n) => match d.text(n, "audit.verifier_key") {
            Some(k) if k.trim().is_empty() => Some(None),
            Some(k) => match crate::audit::checkpoint::Verifiers::from_keys(&[k.trim()]) {
                Ok(_) => Some(Some(k.trim().to_owned())),
                Err(e) => {
                    d.err(n.line, "audit.verifier_key", e.to_string());
                    None
                }
            },
            None => None,
        },
        None => Some(None),
    };
    let origin = match f.get("origin") {
        Some(n) => match d.text(n, "audit.origin") {
            Some(o) if o.trim().is_empty() => Some(None),
            Some(o) => match crate::audit::origin::validate(o.trim()) {
                Ok(()) => Some(Some(o.trim().to_owned())),
                Err(e) => {
                    d.err(n.line, "audit.origin", e);
                    None
                }
            },
            None => None,
        },
        None => Some(None),
    };
    let unsigned_history = match f.get("unsigned_history") {
        Some(n) => match d.text(n, "audit.unsigned_history") {
            Some(t) => match t.trim().parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    d.err(n.line, "audit.unsigned_history", "expected the last seq of the entries written before signing began (a whole number, as `audit verify` names it)");
                    None
                }
            },
            None => None,
        },
        None => Some(0),
    };
    let export = match f.get("export") {
        Some(n) => decode_export(d, n, stores).map(Some),
        None => Some(None),
    };
    let file = match f.get("file") {
        Some(n) => d.text(n, "audit.file").map(|p| Some(anchor(base, &p))),
        None => Some(None),
    };
    f.finish(d);
    Some(AuditConfig {
        pseudonym_key: key?,
        signing_key: signing_key?,
        verifier_key: verifier_key?,
        origin: origin?,
        unsigned_history: unsigned_history?,
        export: export?,
        file: file?,
    })
}

fn decode_export(
    d: &mut Decoder,
    node: &Node,
    stores: &BTreeMap<String, StoreConfig>,
) -> Option<AuditExport> {
    let mut f = d.map(node, "audit.export", "the audit export")?;
    let store = f
        .require(d, "store", "the object store the audit log is exported to")
        .and_then(|n| {
            let name = d.text(n, "audit.export.store")?;
            check_store_ref(
                d,
                stores,
                &name,
                n.line,
                "audit.export.store",
                StoreKind::Objects,
            )
            .then_some(name)
        });
    let prefix = match f.get("prefix") {
        Some(n) => d.text(n, "audit.export.prefix"),
        None => Some("audit/".to_owned()),
    };
    let days = match f.get("object_lock_days") {
        Some(n) => d
            .uint(n, "audit.export.object_lock_days", 1, 36_500)
            .map(|v| Some(v as u32)),
        None => Some(None),
    };
    f.finish(d);
    Some(AuditExport {
        store: store?,
        prefix: prefix?,
        object_lock_days: days?,
    })
}

fn decode_subjects(
    d: &mut Decoder,
    node: &Node,
    stores: &BTreeMap<String, StoreConfig>,
) -> Option<SubjectLookup> {
    let mut f = d.map(node, "subjects", "the subject lookup")?;
    let lookup = f.require(
        d,
        "lookup",
        "e.g. `lookup: {store: app, table: accounts, key: id, by: [email, phone]}`",
    );
    f.finish(d);
    let mut f = d.map(lookup?, "subjects.lookup", "the subject lookup")?;
    let p = "subjects.lookup";
    let store = f
        .require(d, "store", "the SQL store with the accounts table")
        .and_then(|n| {
            let name = d.text(n, &join(p, "store"))?;
            check_store_ref(d, stores, &name, n.line, &join(p, "store"), StoreKind::Sql)
                .then_some(name)
        });
    let table = f
        .require(
            d,
            "table",
            "the table that maps emails or phones to subject ids",
        )
        .and_then(|n| d.ident(n, &join(p, "table")));
    let key = f
        .require(d, "key", "the subject id column")
        .and_then(|n| d.ident(n, &join(p, "key")));
    let by = f
        .require(d, "by", "the columns to search, e.g. [email, phone]")
        .and_then(|n| d.idents(n, &join(p, "by")));
    f.finish(d);
    Some(SubjectLookup {
        store: store?,
        table: table?,
        key: key?,
        by: by?,
    })
}

fn decode_requests(d: &mut Decoder, node: &Node) -> Option<Requests> {
    let mut f = d.map(node, "requests", "the erasure request settings")?;
    let deadline = match f.get("deadline") {
        Some(n) => d.text(n, "requests.deadline").and_then(|t| {
            match t.parse::<crate::time::Retain>() {
                Ok(crate::time::Retain::For(p)) => Some(p),
                _ => {
                    d.err(
                        n.line,
                        "requests.deadline",
                        format!(
                            "`{}` is not a deadline; write a period such as 30d (GDPR Art. 12(3): one month), 4w or 1mo",
                            t.escape_default()
                        ),
                    );
                    None
                }
            }
        }),
        None => Some(Requests::default().deadline),
    };
    f.finish(d);
    Some(Requests {
        deadline: deadline?,
    })
}

fn decode_defaults(d: &mut Decoder, node: &Node) -> Option<Defaults> {
    let mut f = d.map(node, "defaults", "the defaults")?;
    let base = Defaults::default();
    let batch_size = match f.get("batch_size") {
        Some(n) => d
            .uint(n, "defaults.batch_size", 1, 1_000_000)
            .map(|v| v as usize),
        None => Some(base.batch_size),
    };
    let batch_time = match f.get("batch_time") {
        Some(n) => d
            .text(n, "defaults.batch_time")
            .and_then(|t| match parse_batch_time(&t) {
                Some(v) => Some(v),
                None => {
                    d.err(
                        n.line,
                        "defaults.batch_time",
                        format!(
                            "`{}` is not a duration; write e.g. 250ms, 2s or 1m",
                            t.escape_default()
                        ),
                    );
                    None
                }
            }),
        None => Some(base.batch_time),
    };
    let max_fraction = match f.get("max_fraction") {
        Some(n) => d.float(n, "defaults.max_fraction").and_then(|v| {
            if v > 0.0 && v <= 1.0 {
                Some(v)
            } else {
                d.err(
                    n.line,
                    "defaults.max_fraction",
                    "must be above 0 and at most 1 (a share of the table, e.g. 0.5)",
                );
                None
            }
        }),
        None => Some(base.max_fraction),
    };
    let batches_in_flight = match f.get("batches_in_flight") {
        Some(n) => d
            .uint(n, "defaults.batches_in_flight", 1, 16)
            .map(|v| v as usize),
        None => Some(base.batches_in_flight),
    };
    f.finish(d);
    Some(Defaults {
        batch_size: batch_size?,
        batch_time: batch_time?,
        max_fraction: max_fraction?,
        batches_in_flight: batches_in_flight?,
    })
}

/// `250ms`, `2s`, `1m`: a positive whole number and a unit, at most ten minutes.
pub fn parse_batch_time(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (n > 0 && d <= Duration::from_secs(600)).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some(KEY.to_owned()),
            "DB" => Some("postgres://retention@127.0.0.1/app".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_full_config_resolves_paths_against_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("rules")).unwrap();
        let base = std::path::absolute(tmp.path()).unwrap();
        let text = "stores:\n  app: {url: 'sqlite://data/app.db'}\n  pg: {url: '${DB}'}\n  media: {dir: ./media}\n  s3:\n    s3: {bucket: b, endpoint: '${S3_ENDPOINT:-}', path_style: true}\n\
             state: app\naudit:\n  pseudonym_key: ${KEY}\n  file: audit.jsonl\n  export: {store: s3, prefix: audit/, object_lock_days: 7}\n\
             rules: ./rules\nsubjects:\n  lookup: {store: pg, table: accounts, key: id, by: [email, phone]}\n\
             requests: {deadline: 4w}\n\
             defaults: {batch_size: 500, batch_time: 2s, max_fraction: 0.25, batches_in_flight: 3}\n";
        let c = parse(&tmp.path().join("retention.yaml"), text.as_bytes(), &env)
            .unwrap_or_else(|e| panic!("{e}"));
        let StoreConfig::Sql { url } = &c.stores["app"] else {
            panic!()
        };
        assert_eq!(
            url.expose_secret(),
            format!("sqlite://{}", base.join("data/app.db").display())
        );
        let StoreConfig::Dir { path } = &c.stores["media"] else {
            panic!()
        };
        assert_eq!(path, &base.join("./media"));
        let StoreConfig::S3(s3) = &c.stores["s3"] else {
            panic!()
        };
        assert_eq!(s3.endpoint, None);
        assert_eq!(c.rules_dir, base.join("./rules"));
        assert_eq!(c.audit.file, Some(base.join("audit.jsonl")));
        assert_eq!(c.defaults.batch_time, Duration::from_secs(2));
        assert_eq!(c.defaults.batches_in_flight, 3);
        assert_eq!(c.requests.deadline, crate::time::Period::Weeks(4));
        assert!(c.digest.starts_with("sha256:") && c.digest.len() == 71);
    }

    #[test]
    fn sqlite_urls_keep_an_explicit_mode_and_absolute_paths() {
        let base = Path::new("/b");
        assert_eq!(
            resolve_sql_url("sqlite:x.db?mode=ro", base).unwrap(),
            "sqlite:///b/x.db?mode=ro"
        );
        assert_eq!(
            resolve_sql_url("sqlite:///abs/x.db", base).unwrap(),
            "sqlite:///abs/x.db"
        );
        assert_eq!(
            resolve_sql_url("sqlite://x.db?cache=shared", base).unwrap(),
            "sqlite:///b/x.db?cache=shared"
        );
        assert!(resolve_sql_url("redis://x", base).is_err());
    }

    #[test]
    fn batch_times_parse() {
        assert_eq!(parse_batch_time("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_batch_time("2s"), Some(Duration::from_secs(2)));
        for bad in ["", "0s", "2", "1.5s", "2 s", "1h", "ms"] {
            assert_eq!(parse_batch_time(bad), None, "{bad}");
        }
    }
}
