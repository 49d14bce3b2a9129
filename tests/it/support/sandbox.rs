//! Helpers shared by the integration tests.
//!
//! [`Sandbox`] is a fresh temporary directory to write a configuration and rule files
//! into; [`Sandbox::retention`] runs the built binary there and captures what a user
//! would see: stdout, stderr and the exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A temporary directory, removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` (creating parent directories) and returns the full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// Runs `retention ARGS…` with the sandbox as working directory.
    pub fn retention(&self, args: &[&str]) -> Output {
        retention(self.path(), args)
    }
}

/// Runs the built `retention` binary in `dir` with `args`, with no configuration coming
/// from the test runner's environment.
pub fn retention(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_retention"))
        .args(args)
        .current_dir(dir)
        .env_remove("RETENTION_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run the retention binary");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A configuration that references stores `app` (SQLite) and `media` (a directory).
pub const BASE_CONFIG: &str = "\
stores:
  app: {url: \"sqlite://app.db\"}
  media: {dir: ./media}
state: app
audit:
  pseudonym_key: \"0123456789abcdef0123456789abcdef\"
rules: ./rules
";

/// A valid rule using every kind of field; cases break one line of it.
pub const GOOD_RULE: &str = "\
category: location
description: Location samples
source: \"Privacy Policy, 'Location information'\"
retain: 90d
on_expiry: anonymise
on_erasure: delete
schedule: \"0 3 * * *\"
targets:
  - store: app
    table: device_locations
    key: [id]
    timestamp: recorded_at
    subject: account_id
    anonymise:
      latitude: {round: 1}
      cell_id: null
    marker: anonymised_at
  - store: media
    prefix: snapshots/
    subject: {key: \"snapshots/{subject}/\"}
    timestamp: last_modified
    anonymise: strip_gps
";

/// `text` with its line `n` (1-based) replaced by `new`; an empty `new` with `remove`
/// semantics is written as [`without_lines`].
pub fn with_line(text: &str, n: usize, new: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(n >= 1 && n <= lines.len(), "line {n} out of range");
    lines[n - 1] = new;
    lines.join("\n") + "\n"
}

/// `text` without lines `from..=to` (1-based).
pub fn without_lines(text: &str, from: usize, to: usize) -> String {
    text.lines()
        .enumerate()
        .filter(|(i, _)| !(from..=to).contains(&(i + 1)))
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// One malformed input and where the problem must be reported.
pub struct Invalid {
    /// The contents of `retention.yaml`.
    pub config: String,
    /// Rule files under `rules/`: (file name, contents).
    pub rules: Vec<(&'static str, String)>,
    /// The file the message must name (its file name).
    pub file: &'static str,
    pub line: usize,
    /// The field path the message must name; empty for YAML syntax errors.
    pub field: &'static str,
}

/// Runs `retention --config <tmp>/retention.yaml check` on the case and asserts exit 2,
/// a `file:line: field:` diagnostic on stderr, and that nothing was created.
pub fn check_invalid(case: &Invalid) {
    let sandbox = Sandbox::new();
    let config = sandbox.write("retention.yaml", &case.config);
    std::fs::create_dir_all(sandbox.path().join("rules")).expect("rules directory");
    for (name, text) in &case.rules {
        sandbox.write(&format!("rules/{name}"), text);
    }
    let before = listing(sandbox.path());
    let config = config.to_string_lossy().into_owned();
    let out = sandbox.retention(&["--config", &config, "check"]);
    let want = if case.field.is_empty() {
        format!("{}:{}: ", case.file, case.line)
    } else {
        format!("{}:{}: {}: ", case.file, case.line, case.field)
    };
    assert_eq!(
        out.code, 2,
        "exit code for {want}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.lines().any(|l| l.contains(&want)),
        "stderr does not name `{want}`:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(listing(sandbox.path()), before, "check changed files");
}

/// Every path under `dir`, sorted, to prove a command created nothing.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}
