//! The audit log checked by code that is not this project's: `tests/audit/
//! third_party_verify.py` verifies checkpoints, entry signatures, tree heads, inclusion
//! proofs, consistency proofs between every pair of checkpoints, `audit prove` output and an
//! erasure certificate with aics-tlog (PyPI: RFC 6962 / RFC 9162 and C2SP signed notes,
//! Ed25519 through `cryptography`). The log is written by the real binary; a doctored
//! bundle must fail, so the check can fail.
//!
//! aics-tlog is installed into `target/third-party-python` when missing (tests/run-all.sh
//! does it first). Without it the test skips saying why; under CI (`CI=true`) it fails.

use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, TestDb};
use chrono::{Duration, Utc};
use retention::audit::checkpoint;
use retention::audit::sql::read_log;
use retention::audit::tree::LineTree;
use retention::stores::sql::SqlPool;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";
/// The version the script was written against.
const PACKAGE: &str = "aics-tlog==0.2.1";

const CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
  signing_key: ${RETENTION_SIGNING_KEY}
rules: ./rules
defaults:
  batch_size: 7
";

const RULE: &str = "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
    subject: account_id
";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/third_party_verify.py")
}

fn python_dir() -> PathBuf {
    match std::env::var_os("RETENTION_THIRD_PARTY_PYTHON") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("third-party-python"),
    }
}

fn importable(dir: &Path) -> bool {
    Command::new("python3")
        .args(["-c", "import aics_tlog, cryptography"])
        .env("PYTHONPATH", dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The directory to put on PYTHONPATH, installing the package there when missing. The
/// package asks for Python 3.12; its code runs on this machine's 3.11, and the test
/// below is what shows it.
fn third_party() -> Option<PathBuf> {
    let dir = python_dir();
    if importable(&dir) {
        return Some(dir);
    }
    let _ = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--ignore-requires-python",
            "--target",
        ])
        .arg(&dir)
        .arg(PACKAGE)
        .output();
    importable(&dir).then_some(dir)
}

fn run_script(dir: &Path, bundle: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(script())
        .arg(bundle)
        .env("PYTHONPATH", dir)
        .output()
        .expect("python3 runs")
}

#[tokio::test]
async fn proofs_consistency_proofs_checkpoints_and_certificates_pass_a_third_party_verifier() {
    let Some(python) = third_party() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the third-party verifier is required under CI: pip install --target {} --no-deps --ignore-requires-python {PACKAGE}",
            python_dir().display()
        );
        eprintln!("SKIPPED: {PACKAGE} could not be installed; the audit log was not checked by third-party code.");
        return;
    };

    // A log written by the binary: three runs (three run_end checkpoints), an erasure
    // request, and batches small enough that there are many leaves.
    let db = TestDb::fresh(Db::Sqlite).await;
    db.exec(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, account_id TEXT, created_at TEXT NOT NULL)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("retention.yaml", CONFIG), ("rules/events.yaml", RULE)],
    );
    let (skey, vkey) = checkpoint::keygen("third-party.test/key").unwrap();
    let env = [
        ("APP_URL", db.url.as_str()),
        ("RETENTION_PSEUDONYM_KEY", KEY),
        ("RETENTION_SIGNING_KEY", skey.as_str()),
    ];
    let cli = |args: &[&str]| retention(dir.path(), args, &env);
    cli(&["migrate"]).expect_code(0);
    let old = (Utc::now() - Duration::days(60)).format("%Y-%m-%d %H:%M:%S");
    let fresh = (Utc::now() - Duration::days(1)).format("%Y-%m-%d %H:%M:%S");
    for round in 0..3i64 {
        let rows: Vec<String> = (0..20)
            .map(|i| {
                let id = round * 100 + i;
                let when = if i % 4 == 0 { &fresh } else { &old };
                format!("({id}, 'acct-{}', '{when}')", i % 5)
            })
            .collect();
        db.exec(&format!("INSERT INTO events VALUES {}", rows.join(", ")))
            .await;
        if round == 1 {
            cli(&[
                "request",
                "add",
                "--subject",
                "acct-0",
                "--ticket",
                "DSAR-3P",
            ])
            .expect_code(0);
        }
        cli(&["run"]).expect_code(0);
    }

    let pool = SqlPool::connect("state", &db.url).await.unwrap();
    let log = read_log(&pool).await.unwrap();
    let origin = retention::audit::origin::recorded(&pool).await.unwrap();
    let sizes: Vec<u64> = log.checkpoints.iter().map(|c| c.size).collect();
    assert_eq!(sizes.len(), 3, "one checkpoint per run: {sizes:?}");
    let mut consistency = Vec::new();
    for (i, m) in sizes.iter().enumerate() {
        for n in &sizes[i + 1..] {
            let tree = LineTree::new(log.entries[..*n as usize].iter().map(|e| e.line.as_slice()));
            let proof: Vec<String> = tree
                .consistency_proof(*m)
                .unwrap()
                .iter()
                .map(|h| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(h)
                })
                .collect();
            consistency.push(json!({"from_size": m, "to_size": n, "proof": proof}));
        }
    }
    let mut proofs = Vec::new();
    for seq in [1, 2, sizes[0], sizes[1] + 1, sizes[2]] {
        for m in &sizes {
            let out = cli(&[
                "audit",
                "prove",
                "--seq",
                &seq.to_string(),
                "--from-size",
                &m.to_string(),
            ])
            .expect_code(0);
            proofs.push(serde_json::from_str::<Value>(&out.stdout).unwrap());
        }
    }
    let cert = cli(&[
        "audit",
        "certificate",
        "--ticket",
        "DSAR-3P",
        "--format",
        "json",
    ])
    .expect_code(0);
    let entries: Vec<Value> = log
        .entries
        .iter()
        .map(|e| {
            use base64::Engine;
            json!({
                "line": String::from_utf8(e.line.clone()).unwrap(),
                "sig": base64::engine::general_purpose::STANDARD.encode(e.sig.as_ref().unwrap()),
            })
        })
        .collect();
    let bundle = json!({
        "verifier_key": vkey,
        "origin": origin,
        "checkpoints": log.checkpoints.iter().map(|c| c.note.clone()).collect::<Vec<_>>(),
        "entries": entries,
        "consistency": consistency,
        "proofs": proofs,
        "certificates": [serde_json::from_str::<Value>(&cert.stdout).unwrap()],
    });
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let out = run_script(&python, &path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the third-party verifier rejected the log:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("third-party check passed: 3 checkpoints"),
        "{stdout}"
    );

    // The check can fail: a proof whose line claims a larger count, a checkpoint under
    // another origin, a certificate entry signed for another seq.
    let doctored = [
        ("/proofs/0/line", "\"outcome\"", "\"outcome \""),
        ("/origin", "", "elsewhere.test/log"),
    ];
    for (pointer, from, to) in doctored {
        let mut bad = bundle.clone();
        let field = bad.pointer_mut(pointer).unwrap();
        let text = field.as_str().unwrap().to_owned();
        *field = Value::String(if from.is_empty() {
            to.to_owned()
        } else {
            text.replacen(from, to, 1)
        });
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = run_script(&python, &path);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{pointer} doctored and still passed"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
    }
    let mut bad = bundle.clone();
    let sig = bad
        .pointer("/certificates/0/entries/1/entry_signature")
        .cloned()
        .unwrap();
    *bad.pointer_mut("/certificates/0/entries/0/entry_signature")
        .unwrap() = sig;
    std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
    assert_eq!(
        run_script(&python, &path).status.code(),
        Some(1),
        "a moved signature passed"
    );
}
