//! The forgery of issue 14, on every dialect, through the real binary: someone holding
//! exactly the job's database role (on PostgreSQL and MariaDB a real restricted role
//! with the grants docs/audit.md lists; on SQLite the triggers are all there is) appends a
//! copy of a batch entry with a larger count, `prev` naming the real last leaf and the
//! real entry's signature copied beside it, and moves the head onto it. The next `retention
//! run` refuses to extend or sign over it and changes nothing; `audit verify`, with the
//! signing key's verifier or with the public verifier key alone, exits 1 naming the
//! forged seq; `audit prove` gives no proof of it; and without any key verify still
//! names it, saying loudly that signatures were not checked.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb};
use crate::support::{exec, Val};
use chrono::{Duration, Utc};
use retention::audit::checkpoint;
use retention::audit::sql::read_log;
use retention::audit::tree::leaf_hash;
use retention::stores::sql::SqlPool;
use std::path::Path;

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

const CONFIG: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
  signing_key: ${RETENTION_SIGNING_KEY:-}
rules: ./rules
defaults:
  batch_size: 50
";

/// An auditor's configuration: the state store and no private key.
const AUDITOR: &str = "stores:
  app:
    url: ${APP_URL}
state: app
audit:
  pseudonym_key: ${RETENTION_PSEUDONYM_KEY}
rules: ./rules
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
";

/// The grants the job's role needs, and no more (docs/audit.md, \"The job's role\").
const PG_GRANTS: &[&str] = &[
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT ON retention_audit, retention_checkpoints TO {role}",
    "GRANT SELECT, UPDATE ON retention_audit_head TO {role}",
    "GRANT SELECT ON retention_audit_origin TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON retention_runs, retention_lock, retention_holds, retention_requests TO {role}",
    "GRANT SELECT, DELETE ON events TO {role}",
];

const MY_GRANTS: &[&str] = &[
    "GRANT SELECT, INSERT ON {db}.retention_audit TO {role}",
    "GRANT SELECT, INSERT ON {db}.retention_checkpoints TO {role}",
    "GRANT SELECT, UPDATE ON {db}.retention_audit_head TO {role}",
    "GRANT SELECT ON {db}.retention_audit_origin TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.retention_runs TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.retention_lock TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.retention_holds TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.retention_requests TO {role}",
    "GRANT SELECT, DELETE ON {db}.events TO {role}",
];

/// Replaces the user of a server URL (`scheme://user[:pw]@host…`).
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}")
}

/// The database name of a server URL.
fn database(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap();
    path.split('?').next().unwrap().to_owned()
}

/// Creates a login role with the job's grants and returns its connection URL. SQLite has
/// no roles: the job's URL is the owner's.
async fn job_role(db: &TestDb) -> String {
    let role = format!("rt_job_{:08x}", rand::random::<u32>());
    match db.kind {
        Db::Postgres => {
            db.exec(&format!("CREATE ROLE {role} LOGIN PASSWORD 'job-pw'"))
                .await;
            for g in PG_GRANTS {
                db.exec(&g.replace("{role}", &role)).await;
            }
            with_user(&db.url, &role, "job-pw")
        }
        Db::MySql => {
            let user = format!("'{role}'@'%'");
            db.exec(&format!("CREATE USER {user} IDENTIFIED BY 'job-pw'"))
                .await;
            let name = database(&db.url);
            for g in MY_GRANTS {
                db.exec(&g.replace("{db}", &name).replace("{role}", &user))
                    .await;
            }
            with_user(&db.url, &role, "job-pw")
        }
        Db::Sqlite => db.url.clone(),
    }
}

async fn seed_expired(db: &TestDb, from: i64, n: i64) {
    let old = (Utc::now() - Duration::days(90)).format("%Y-%m-%d %H:%M:%S");
    let rows: Vec<String> = (from..from + n)
        .map(|i| format!("({i}, '{old}')"))
        .collect();
    db.exec(&format!("INSERT INTO events VALUES {}", rows.join(", ")))
        .await;
}

struct Setup {
    db: TestDb,
    dir: tempfile::TempDir,
    job_url: String,
    skey: String,
    vkey: String,
}

impl Setup {
    fn env<'a>(&'a self, url: &'a str, signing: bool) -> Vec<(&'static str, &'a str)> {
        let mut env = vec![("APP_URL", url), ("RETENTION_PSEUDONYM_KEY", KEY)];
        if signing {
            env.push(("RETENTION_SIGNING_KEY", self.skey.as_str()));
        }
        env
    }

    /// The job: `retention.yaml` as the restricted role, with the signing key.
    fn job(&self, args: &[&str]) -> Run {
        retention(self.dir.path(), args, &self.env(&self.job_url, true))
    }

    /// An auditor: `auditor.yaml` (no private key), as the database owner.
    fn auditor(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", "auditor.yaml"];
        all.extend_from_slice(args);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_retention"));
        cmd.current_dir(self.dir.path())
            .args(&all)
            .env("RETENTION_LOG", "warn");
        for (k, v) in self.env(&self.db.url, false) {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

async fn setup(kind: Db) -> Setup {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, created_at {ts} NOT NULL)"
    ))
    .await;
    seed_expired(&db, 1, 120).await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("retention.yaml", CONFIG),
            ("auditor.yaml", AUDITOR),
            ("rules/events.yaml", RULE),
        ],
    );
    let (skey, vkey) = checkpoint::keygen("forgery.test/audit-key").unwrap();
    // The owner migrates; the job runs with its role's grants only.
    retention(
        dir.path(),
        &["migrate"],
        &[("APP_URL", &db.url), ("RETENTION_PSEUDONYM_KEY", KEY)],
    )
    .expect_code(0);
    let job_url = job_role(&db).await;
    Setup {
        db,
        dir,
        job_url,
        skey,
        vkey,
    }
}

/// What the forger does, over the job role's own connection: INSERT into the log, UPDATE
/// of the head. Returns the forged seq.
async fn forge(job: &SqlPool) -> u64 {
    let log = read_log(job).await.unwrap();
    let last = log.entries.last().unwrap();
    let batch = log
        .entries
        .iter()
        .rev()
        .find(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.line).unwrap();
            v["kind"] == "batch" && v["outcome"] == "ok"
        })
        .expect("the first run wrote batch entries");
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&batch.line).unwrap();
    let seq = last.seq + 1;
    let count = v["count"].as_u64().unwrap();
    v.insert("seq".into(), seq.into());
    v.insert("count".into(), (count * 100).into());
    v.insert(
        "prev".into(),
        format!("sha256:{}", hex::encode(leaf_hash(&last.line))).into(),
    );
    let forged = serde_json::to_vec(&v).unwrap();
    // The real entry's signature goes along, as if it could vouch for the copy.
    let sig = batch.sig.clone().expect("the job signs its entries");
    plant(job, seq as i64, &forged, Some(&sig)).await;
    move_head(job, seq as i64, &forged, Some(&sig)).await;
    seq
}

/// What the job's role may do to the log: insert the row `line` at `seq` (its leaf hash
/// computed from the line), with the signature `sig` or none.
async fn plant(job: &SqlPool, seq: i64, line: &[u8], sig: Option<&[u8]>) {
    let mut vals = vec![
        Val::I64(seq),
        Val::Bytes(line.to_vec()),
        Val::Bytes(leaf_hash(line).to_vec()),
    ];
    let sql = match sig {
        Some(sig) => {
            vals.push(Val::Bytes(sig.to_vec()));
            "INSERT INTO retention_audit (seq, line, leaf_hash, sig) VALUES (?, ?, ?, ?)"
        }
        None => "INSERT INTO retention_audit (seq, line, leaf_hash, sig) VALUES (?, ?, ?, NULL)",
    };
    exec(job, sql, &vals)
        .await
        .expect("the job's role may insert into the log");
}

/// What the job's role may do to the head: move it onto `line` at `seq`, with the
/// signature `sig` (or leaving the head's signature as it was).
async fn move_head(job: &SqlPool, seq: i64, line: &[u8], sig: Option<&[u8]>) {
    let mut vals = vec![Val::I64(seq), Val::Bytes(leaf_hash(line).to_vec())];
    let sql = match sig {
        Some(sig) => {
            vals.push(Val::Bytes(sig.to_vec()));
            "UPDATE retention_audit_head SET seq = ?, leaf_hash = ?, sig = ? WHERE id = 1"
        }
        None => "UPDATE retention_audit_head SET seq = ?, leaf_hash = ? WHERE id = 1",
    };
    exec(job, sql, &vals)
        .await
        .expect("the job's role may move the head forward");
}

async fn a_forged_entry_is_never_signed_and_verify_names_it(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 0);
    s.job(&["audit", "verify"]).expect_code(0);

    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    // The role is really restricted: it cannot rewrite what is there.
    assert!(
        exec(&job, "DELETE FROM retention_audit WHERE seq = 1", &[])
            .await
            .is_err(),
        "the job's role could delete an entry"
    );
    let forged = forge(&job).await;
    let checkpoints_before =
        s.db.count("SELECT COUNT(*) FROM retention_checkpoints")
            .await;

    // New work arrives; the next run refuses to extend the forged log, and touches nothing.
    seed_expired(&s.db, 1000, 30).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(
        run.stderr.contains(&format!("entry {forged}")),
        "the refusal names the forged entry:\n{}",
        run.stderr
    );
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM events").await,
        30,
        "a run that refused deleted nothing"
    );
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM retention_checkpoints")
            .await,
        checkpoints_before,
        "no checkpoint was signed"
    );
    let newest =
        s.db.count("SELECT COALESCE(MAX(size), 0) FROM retention_checkpoints")
            .await;
    assert!(newest < forged as i64, "no checkpoint covers the forgery");

    // With the signing key's verifier, with the public key alone, and with no key at all.
    let needle = format!("tampered: seq {forged}: forged");
    let verify = s.job(&["audit", "verify"]).expect_code(1);
    assert!(verify.stdout.contains(&needle), "{}", verify.stdout);
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(verify.stdout.contains(&needle), "{}", verify.stdout);
    assert!(
        !verify
            .stdout
            .contains(&format!("{forged}: signed, but no checkpoint")),
        "the forged entry is not called signed: {}",
        verify.stdout
    );
    let key_file = s.dir.path().join("auditor.vkey");
    std::fs::write(&key_file, format!("{}\n", s.vkey)).unwrap();
    let verify = s
        .auditor(&["audit", "verify", "--key", key_file.to_str().unwrap()])
        .expect_code(1);
    assert!(verify.stdout.contains(&needle), "{}", verify.stdout);
    let blind = s.auditor(&["audit", "verify"]).expect_code(1);
    assert!(blind.stdout.contains(&needle), "{}", blind.stdout);
    assert!(
        blind.stdout.contains("signatures were NOT checked"),
        "{}",
        blind.stdout
    );

    // No proof of the forged erasure, signed or otherwise.
    let prove = s.job(&["audit", "prove", "--seq", &forged.to_string()]);
    assert_eq!(prove.code, 1, "{}\n{}", prove.stdout, prove.stderr);
    assert!(prove.stdout.is_empty(), "{}", prove.stdout);
}

/// Two more ways in for the job's role (found by an adversarial review): an unsigned
/// entry planted before a signed log's first run (it once passed as history written
/// before signing began, and the first run signed a checkpoint over it), and a row with
/// seq 0 (runs read from seq 1, so they never saw it, while it broke verify and every
/// proof). Both now stop the run before it changes or signs anything.
async fn entries_planted_before_the_first_run_or_below_seq_1_are_never_signed(kind: Db) {
    let s = setup(kind).await;
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let planted = serde_json::json!({"v": 1, "seq": 1, "time": "2026-01-01T00:00:00.000Z",
        "run": "forged", "kind": "request", "reason": "request", "ticket": "DSAR-1",
        "count": 1000, "outcome": "ok", "dry_run": false,
        "prev": format!("sha256:{}", "0".repeat(64))});
    let line = serde_json::to_vec(&planted).unwrap();
    plant(&job, 1, &line, None).await;
    move_head(&job, 1, &line, None).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(run.stderr.contains("entry 1"), "{}", run.stderr);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 120);
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM retention_checkpoints")
            .await,
        0,
        "no checkpoint covers the planted entry"
    );

    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let first = read_log(&job).await.unwrap().entries[0].clone();
    plant(&job, 0, &first.line, first.sig.as_deref()).await;
    let checkpoints =
        s.db.count("SELECT COUNT(*) FROM retention_checkpoints")
            .await;
    seed_expired(&s.db, 1000, 30).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(run.stderr.contains("seq 0"), "{}", run.stderr);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM retention_checkpoints")
            .await,
        checkpoints
    );
    // `audit verify` names them as inserted rows (not an authentic entry, and not as a
    // log it cannot read), a negative seq too.
    plant(&job, -5, &first.line, None).await;
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify.stdout.contains("tampered: seq 0: inserted")
            && verify.stdout.contains("seq -5, 0 lie below"),
        "{}",
        verify.stdout
    );
}

/// The job's role replays an authentic, signed entry — its exact bytes and signature — at
/// the end of the log and moves the head onto it: runs refuse to extend the log, and
/// `audit verify` names the replayed row, not the authentic entry it copies (whose
/// deletion, as the recovery steps say, would take authentic entries with it).
async fn a_replayed_entry_is_named_where_it_was_put(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let log = read_log(&job).await.unwrap();
    let n = log.entries.len() as i64;
    let batch = log
        .entries
        .iter()
        .find(|e| String::from_utf8_lossy(&e.line).contains("\"kind\":\"batch\""))
        .expect("a batch entry")
        .clone();
    let sig = batch.sig.clone().expect("the job signs its entries");
    plant(&job, n + 1, &batch.line, Some(&sig)).await;
    move_head(&job, n + 1, &batch.line, Some(&sig)).await;
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify
            .stdout
            .contains(&format!("tampered: seq {}: inserted", n + 1)),
        "names the replayed row, not entry {}: {}",
        batch.seq,
        verify.stdout
    );
    seed_expired(&s.db, 1000, 30).await;
    s.job(&["run"]).expect_code(1);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);
}

/// A log written before its signing key (a run without one), then signed: the signer
/// refuses the unsigned entries until the operator takes them as history with
/// `audit.unsigned_history: N`, then extends and signs the log; a value that is not a
/// number is a config error naming the file, line and field.
async fn unsigned_history_is_taken_only_as_far_as_the_operator_says(kind: Db) {
    let s = setup(kind).await;
    retention(s.dir.path(), &["run"], &s.env(&s.db.url, false)).expect_code(0);
    let written = s.db.count("SELECT COUNT(*) FROM retention_audit").await;
    assert!(written > 0);
    seed_expired(&s.db, 1000, 30).await;
    let refused = s.job(&["run"]).expect_code(1);
    // The refusal says what the operator most likely faces — a log older than its key —
    // and the setting that takes it as history, beside the other possibility.
    assert!(
        refused
            .stderr
            .contains("carries no signature, and no entry")
            && refused
                .stderr
                .contains("before audit.signing_key was configured")
            && refused.stderr.contains("set audit.unsigned_history")
            && refused.stderr.contains("forged"),
        "{}",
        refused.stderr
    );
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);

    let config = s.dir.path().join("retention.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  signing_key:", "  unsigned_history: many\n  signing_key:"),
    )
    .unwrap();
    let bad = s.job(&["check"]).expect_code(2);
    assert!(
        bad.stderr.contains("retention.yaml:") && bad.stderr.contains("audit.unsigned_history"),
        "{}",
        bad.stderr
    );
    std::fs::write(
        &config,
        text.replace(
            "  signing_key:",
            &format!("  unsigned_history: {written}\n  signing_key:"),
        ),
    )
    .unwrap();
    s.job(&["run"]).expect_code(0);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 0);
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(0);
    assert!(verify.stdout.contains("intact"), "{}", verify.stdout);
}

/// Two logs signed by one key (staging and production sharing a Secret): the job's role
/// in production copies staging's signed entries, signatures and all, into production's
/// empty log and moves the head. Entry signatures name their log's origin, so the next
/// production run refuses to extend or sign over them and deletes nothing, and `audit
/// verify` names the first copied entry (no entry of this log is signed by the key).
async fn entries_signed_for_another_log_with_the_same_key_are_refused(kind: Db) {
    let staging = setup(kind).await;
    staging.job(&["run"]).expect_code(0);
    let mut production = setup(kind).await;
    production.skey = staging.skey.clone();
    production.vkey = staging.vkey.clone();

    let staged = read_log(&SqlPool::connect("staging", &staging.db.url).await.unwrap())
        .await
        .unwrap()
        .entries;
    assert!(staged.len() > 2 && staged.iter().all(|e| e.sig.is_some()));
    let job = SqlPool::connect("job", &production.job_url).await.unwrap();
    for e in &staged {
        plant(&job, e.seq as i64, &e.line, e.sig.as_deref()).await;
    }
    let last = staged.last().unwrap();
    move_head(&job, last.seq as i64, &last.line, last.sig.as_deref()).await;

    let run = production.job(&["run"]).expect_code(1);
    assert!(
        run.stderr.contains("not authenticated by the signing key"),
        "{}",
        run.stderr
    );
    assert_eq!(
        production.db.count("SELECT COUNT(*) FROM events").await,
        120
    );
    assert_eq!(
        production
            .db
            .count("SELECT COUNT(*) FROM retention_checkpoints")
            .await,
        0,
        "no checkpoint was signed over the copies"
    );
    let verify = production
        .auditor(&["audit", "verify", "--key", &production.vkey])
        .expect_code(1);
    assert!(
        verify.stdout.contains("tampered: seq 1: "),
        "{}",
        verify.stdout
    );
    // The staging log itself is intact under the shared key.
    staging
        .auditor(&["audit", "verify", "--key", &staging.vkey])
        .expect_code(0);
}

/// Rows the job's role plants after the log's end that break the chain around authentic
/// entries: `audit verify` names the planted row — never the authentic, signed entry the
/// chain check meets first — so the recovery steps delete only what was planted; a
/// checkpoint row under a negative size is named as an inserted row (exit 1, not a log
/// that cannot be read).
async fn verify_names_the_planted_row_not_the_authentic_entry_before_it(kind: Db) {
    use serde_json::Value as J;
    let line_with = |line: &[u8], seq: u64, prev: &str| -> Vec<u8> {
        let mut v: J = serde_json::from_slice(line).unwrap();
        v["seq"] = J::from(seq);
        v["prev"] = J::from(prev);
        v["time"] = J::from("2026-01-01T00:00:00.000Z");
        serde_json::to_vec(&v).unwrap()
    };
    let link = |line: &[u8]| format!("sha256:{}", hex::encode(leaf_hash(line)));

    // A row after the end whose `prev` names nothing.
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let log = read_log(&job).await.unwrap().entries;
    let n = log.len() as u64;
    let planted = line_with(
        &log[n as usize - 1].line,
        n + 1,
        &format!("sha256:{}", "ab".repeat(32)),
    );
    plant(&job, n as i64 + 1, &planted, None).await;
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify
            .stdout
            .contains(&format!("tampered: seq {}: ", n + 1)),
        "{}",
        verify.stdout
    );

    // Two rows after the end: the first claims seq 1, the second links to it.
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let log = read_log(&job).await.unwrap().entries;
    let n = log.len() as u64;
    let first = line_with(&log[0].line, 1, &link(&log[n as usize - 1].line));
    let second = line_with(&log[1].line, n + 2, &link(&first));
    for (seq, line) in [(n + 1, &first), (n + 2, &second)] {
        plant(&job, seq as i64, line, None).await;
    }
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify
            .stdout
            .contains(&format!("tampered: seq {}: ", n + 1)),
        "{}",
        verify.stdout
    );

    // A checkpoint row under a negative size.
    exec(
        &job,
        "INSERT INTO retention_checkpoints (size, note, created_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
        &[Val::I64(-1), Val::Text("x\n1\nAAAA\n".into())],
    )
    .await
    .unwrap();
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify.stdout.contains("tampered: seq 0: inserted")
            && verify
                .stdout
                .contains("checkpoint rows stored under size -1"),
        "{}",
        verify.stdout
    );
}

/// A checkpoint row the job's role plants ahead of the log, where the next run's own
/// checkpoint would go: the run refuses before it deletes anything (it used to delete,
/// then fail on its checkpoint), and `audit verify` names the row as a checkpoint row.
async fn a_checkpoint_row_planted_ahead_of_the_log_stops_runs_before_any_change(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    let n = read_log(&job).await.unwrap().entries.len() as i64;
    exec(
        &job,
        "INSERT INTO retention_checkpoints (size, note, created_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
        &[Val::I64(n + 3), Val::Text("x\n1\nAAAA\n".into())],
    )
    .await
    .expect("the job's role may insert checkpoints");
    seed_expired(&s.db, 1000, 30).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(
        run.stderr
            .contains(&format!("checkpoint row of size {}", n + 3)),
        "{}",
        run.stderr
    );
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify
            .stdout
            .contains(&format!("the checkpoint row of size {}", n + 3)),
        "{}",
        verify.stdout
    );
}

/// Runs `statements` in order on one connection of `url` (session settings carry over),
/// as simple queries; the first error, if any.
async fn on_one_connection(kind: Db, url: &str, statements: &[&str]) -> Result<(), String> {
    use sqlx::{Connection, Executor};
    macro_rules! run {
        ($conn:ty) => {{
            let mut c = <$conn>::connect(url).await.map_err(|e| e.to_string())?;
            for s in statements {
                c.execute(*s).await.map_err(|e| format!("{s}: {e}"))?;
            }
            Ok(())
        }};
    }
    match kind {
        Db::Postgres => run!(sqlx::PgConnection),
        Db::MySql => run!(sqlx::MySqlConnection),
        Db::Sqlite => run!(sqlx::SqliteConnection),
    }
}

/// What the table owner (or a superuser) does to get past the append-only triggers: the
/// entries' UPDATE trigger and the head's forward-only one.
async fn triggers_off(db: &TestDb) {
    match db.kind {
        Db::Postgres => {
            db.exec(
                "ALTER TABLE retention_audit DISABLE TRIGGER USER; \
                 ALTER TABLE retention_audit_head DISABLE TRIGGER USER",
            )
            .await
        }
        Db::MySql | Db::Sqlite => {
            db.exec(
                "DROP TRIGGER retention_audit_no_update; \
                 DROP TRIGGER retention_audit_head_forward_only",
            )
            .await
        }
    }
}

/// The job's role tried to move the head back with values the forward-only trigger's
/// `NEW.seq < OLD.seq` does not see as smaller (found by an adversarial tester): a NULL
/// under MariaDB's `sql_mode = ''` (stored as 0), a text or a real on SQLite (kept as
/// they are; text sorts above every number); also a changed `id` with MariaDB's CHECK
/// constraints switched off for the session, and SQLite's `INSERT OR REPLACE`, which
/// deletes without firing DELETE triggers. Every one is refused, the head stays where it
/// was, and the job runs on.
async fn the_head_cannot_be_moved_back_through_a_null_or_a_non_integer(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let head = "SELECT seq FROM retention_audit_head WHERE id = 1";
    let n = s.db.count(head).await;
    assert!(n > 2);
    let mut attempts: Vec<Vec<&str>> = vec![
        vec!["UPDATE retention_audit_head SET seq = NULL WHERE id = 1"],
        vec!["UPDATE retention_audit_head SET seq = 1 WHERE id = 1"],
        vec!["UPDATE retention_audit_head SET id = 2 WHERE id = 1"],
    ];
    match kind {
        Db::MySql => attempts.extend([
            vec![
                "SET SESSION sql_mode = ''",
                "UPDATE retention_audit_head SET seq = NULL WHERE id = 1",
            ],
            vec![
                "SET SESSION sql_mode = ''",
                "UPDATE retention_audit_head SET seq = 'abc' WHERE id = 1",
            ],
            vec![
                "SET SESSION check_constraint_checks = 0",
                "UPDATE retention_audit_head SET id = 2 WHERE id = 1",
            ],
        ]),
        Db::Sqlite => attempts.extend([
            vec!["UPDATE retention_audit_head SET seq = 'abc' WHERE id = 1"],
            vec!["UPDATE retention_audit_head SET seq = 6.5 WHERE id = 1"],
            vec!["INSERT OR REPLACE INTO retention_audit_head (id, seq, leaf_hash) VALUES (1, 0, X'')"],
            vec!["INSERT OR REPLACE INTO retention_audit (seq, line, leaf_hash) VALUES (1, X'7B7D', X'00')"],
            vec!["INSERT OR REPLACE INTO retention_checkpoints (size, note, created_at) \
                  SELECT size, 'x', created_at FROM retention_checkpoints"],
        ]),
        Db::Postgres => {}
    }
    for stmts in &attempts {
        let r = on_one_connection(kind, &s.job_url, stmts).await;
        assert!(r.is_err(), "the job's role got through: {stmts:?}");
        assert_eq!(s.db.count(head).await, n, "the head moved: {stmts:?}");
    }
    s.job(&["audit", "verify"]).expect_code(0);
    seed_expired(&s.db, 1000, 30).await;
    s.job(&["run"]).expect_code(0);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 0);
}

/// A head moved back behind the log's own entries and checkpoint (as the job's role could
/// before the trigger refused a NULL; here the owner, triggers off): the run's refusal and
/// `audit verify` say the head was moved back, and blame neither the authentic checkpoint
/// (the recovery once read "delete that row") nor the entries; setting the head forward,
/// as docs/audit.md says, is the whole recovery.
async fn a_head_moved_back_is_named_as_such_not_the_checkpoint(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let n = s.db.count("SELECT COUNT(*) FROM retention_audit").await;
    triggers_off(&s.db).await;
    s.db.exec("UPDATE retention_audit_head SET seq = 0 WHERE id = 1")
        .await;
    seed_expired(&s.db, 1000, 30).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(
        run.stderr.contains("the head was moved back")
            && !run.stderr.contains("inserted ahead")
            && !run.stderr.contains("the row was inserted"),
        "{}",
        run.stderr
    );
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify.stdout.contains("head moved back")
            && verify.stdout.contains("delete nothing")
            && !verify.stdout.contains(": inserted"),
        "{}",
        verify.stdout
    );
    // The recovery: the head forward to the last entry (its leaf hash and signature never
    // changed), which the job's role itself may do.
    let job = SqlPool::connect("job", &s.job_url).await.unwrap();
    exec(
        &job,
        "UPDATE retention_audit_head SET seq = ? WHERE id = 1",
        &[Val::I64(n)],
    )
    .await
    .unwrap();
    s.job(&["run"]).expect_code(0);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 0);
    s.auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(0);
}

/// A superuser edits an entry under a checkpoint and rebuilds the chain after it, keeping
/// the old signatures: the run's refusal names the edited entry and calls the checkpoint
/// authentic (it used to call it "copied in from another log"), and `audit verify` names
/// the edit without also calling the entries before it uncovered.
async fn an_entry_edited_under_a_checkpoint_is_blamed_not_the_checkpoint(kind: Db) {
    let s = setup(kind).await;
    s.job(&["run"]).expect_code(0);
    let n1 = s.db.count("SELECT COUNT(*) FROM retention_audit").await as u64;
    seed_expired(&s.db, 1000, 30).await;
    s.job(&["run"]).expect_code(0);
    let owner = SqlPool::connect("owner", &s.db.url).await.unwrap();
    let log = read_log(&owner).await.unwrap();
    let n2 = log.entries.len() as u64;
    let edited = n1 + 2;
    assert!(n2 > edited, "the second run wrote {} entries", n2 - n1);
    assert!(log.checkpoints.iter().any(|c| c.size == n1));
    assert!(log.checkpoints.iter().any(|c| c.size == n2));

    triggers_off(&s.db).await;
    let mut prev = leaf_hash(&log.entries[edited as usize - 2].line);
    for e in &log.entries[edited as usize - 1..] {
        let mut v: serde_json::Value = serde_json::from_slice(&e.line).unwrap();
        if e.seq == edited {
            v["time"] = "2020-01-01T00:00:00.000Z".into();
        }
        v["prev"] = format!("sha256:{}", hex::encode(prev)).into();
        let line = serde_json::to_vec(&v).unwrap();
        prev = leaf_hash(&line);
        exec(
            &owner,
            "UPDATE retention_audit SET line = ?, leaf_hash = ? WHERE seq = ?",
            &[
                Val::Bytes(line),
                Val::Bytes(prev.to_vec()),
                Val::I64(e.seq as i64),
            ],
        )
        .await
        .unwrap();
    }
    exec(
        &owner,
        "UPDATE retention_audit_head SET leaf_hash = ? WHERE id = 1",
        &[Val::Bytes(prev.to_vec())],
    )
    .await
    .unwrap();

    seed_expired(&s.db, 2000, 30).await;
    let run = s.job(&["run"]).expect_code(1);
    assert!(
        run.stderr.contains(&format!("entry {edited} "))
            && run.stderr.contains(&format!(
                "checkpoint of size {n2}, which the signing key signed"
            ))
            && !run.stderr.contains("copied in from another log"),
        "{}",
        run.stderr
    );
    assert_eq!(s.db.count("SELECT COUNT(*) FROM events").await, 30);
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify
            .stdout
            .contains(&format!("tampered: seq {edited}: edited"))
            && !verify.stdout.contains("no checkpoint covers them yet"),
        "{}",
        verify.stdout
    );
}

crate::support::on_every_dialect!(
    Db:
    unsigned_history_is_taken_only_as_far_as_the_operator_says,
    the_head_cannot_be_moved_back_through_a_null_or_a_non_integer,
    a_head_moved_back_is_named_as_such_not_the_checkpoint,
    an_entry_edited_under_a_checkpoint_is_blamed_not_the_checkpoint,
    a_forged_entry_is_never_signed_and_verify_names_it,
    entries_planted_before_the_first_run_or_below_seq_1_are_never_signed,
    a_replayed_entry_is_named_where_it_was_put,
    entries_signed_for_another_log_with_the_same_key_are_refused,
    verify_names_the_planted_row_not_the_authentic_entry_before_it,
    a_checkpoint_row_planted_ahead_of_the_log_stops_runs_before_any_change,
);

/// The fields of `--key` and config are checked before anything is read.
#[test]
fn a_verifier_key_that_is_neither_a_key_nor_a_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("retention.yaml", CONFIG), ("rules/events.yaml", RULE)],
    );
    let run = retention(
        dir.path(),
        &["audit", "verify", "--key", "not-a-key"],
        &[
            ("APP_URL", "sqlite://missing.db"),
            ("RETENTION_PSEUDONYM_KEY", KEY),
        ],
    )
    .expect_code(2);
    assert!(run.stderr.contains("--key"), "{}", run.stderr);
    assert!(!Path::new(&dir.path().join("missing.db")).exists());
}

/// A signed note with one more signature line for `key`'s name and key ID whose
/// signature does not verify (the last byte of the valid one flipped).
fn with_failing_second_signature(note: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let line = note.trim_end().lines().last().unwrap();
    let (name_part, sig) = line.rsplit_once(' ').unwrap();
    let mut bytes = b64.decode(sig).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    format!("{note}{name_part} {}\n", b64.encode(bytes))
}

/// A stored checkpoint that carries, after its valid signature, a second line for the
/// same key whose signature fails: the documented third-party verifiers reject such a
/// note, so `audit verify` names it as a bad signature (exit 1) and `audit prove` never
/// carries it (it proves against the checkpoint before).
#[tokio::test]
async fn a_checkpoint_with_a_failing_second_signature_of_the_key_is_forged() {
    let s = setup(Db::Sqlite).await;
    s.job(&["run"]).expect_code(0);
    seed_expired(&s.db, 1000, 30).await;
    s.job(&["run"]).expect_code(0);
    let owner = SqlPool::connect("owner", &s.db.url).await.unwrap();
    let log = read_log(&owner).await.unwrap();
    let newest = log.checkpoints.last().unwrap().clone();
    let doubled = with_failing_second_signature(&newest.note);
    s.db.exec("DROP TRIGGER retention_checkpoints_no_update")
        .await;
    exec(
        &owner,
        "UPDATE retention_checkpoints SET note = ? WHERE size = ?",
        &[Val::Text(doubled.clone()), Val::I64(newest.size as i64)],
    )
    .await
    .unwrap();
    let verify = s
        .auditor(&["audit", "verify", "--key", &s.vkey])
        .expect_code(1);
    assert!(
        verify.stdout.contains(&format!(
            "tampered: seq {}: bad signature: the checkpoint row of size {}",
            newest.size, newest.size
        )),
        "{}",
        verify.stdout
    );
    let prove = s.job(&["audit", "prove", "--seq", "1"]).expect_code(0);
    let proof: serde_json::Value = serde_json::from_str(&prove.stdout).unwrap();
    let carried = proof["checkpoint"].as_str().unwrap();
    assert_ne!(carried, doubled, "the proof carries the doubled note");
    assert!(!carried.starts_with(&newest.note[..newest.note.find("\n\n").unwrap()]));
}

/// `--trusted` with a checkpoint of another log (another origin, signed by the same key):
/// the log fails verification (exit 1, saying it is not the trusted checkpoint's log),
/// not "cannot read" (exit 2). A trusted note file with whitespace after the note (an
/// editor's extra newline) is the note. `audit verify` prints the origin it verified,
/// and warns that without `audit.origin` that origin came from the database itself.
#[tokio::test]
async fn a_trusted_checkpoint_of_another_log_fails_verification_and_the_origin_is_shown() {
    let s = setup(Db::Sqlite).await;
    s.job(&["run"]).expect_code(0);
    let owner = SqlPool::connect("owner", &s.db.url).await.unwrap();
    let log = read_log(&owner).await.unwrap();
    let newest = log.checkpoints.last().unwrap().clone();
    let origin = newest.note.lines().next().unwrap().to_owned();

    let own = s.dir.path().join("own.note");
    std::fs::write(&own, format!("{}\n\n \n", newest.note)).unwrap();
    let verify = s
        .auditor(&[
            "audit",
            "verify",
            "--key",
            &s.vkey,
            "--trusted",
            own.to_str().unwrap(),
        ])
        .expect_code(0);
    assert!(
        verify.stdout.contains(&format!(
            "extends the trusted checkpoint of size {}",
            newest.size
        )) && verify.stdout.contains(&format!("origin {origin}")),
        "{}",
        verify.stdout
    );

    let signer = checkpoint::CheckpointSigner::from_private_key(&s.skey).unwrap();
    let other = signer.sign("staging.test/another-log", newest.size, &[9u8; 32]);
    let other_file = s.dir.path().join("other.note");
    std::fs::write(&other_file, other).unwrap();
    let verify = s.auditor(&[
        "audit",
        "verify",
        "--key",
        &s.vkey,
        "--trusted",
        other_file.to_str().unwrap(),
    ]);
    assert_eq!(verify.code, 1, "{}\n{}", verify.stdout, verify.stderr);
    assert!(
        verify
            .stdout
            .contains("not the log the trusted checkpoint vouches for")
            && verify.stdout.contains("staging.test/another-log"),
        "{}",
        verify.stdout
    );

    // The job's own configuration: a signing key, no audit.origin.
    let job = s.job(&["audit", "verify"]).expect_code(0);
    assert!(
        job.stdout.contains(&format!("origin {origin}"))
            && job.stderr.contains("without audit.origin"),
        "{}\n{}",
        job.stdout,
        job.stderr
    );
    // `check` says so too, before anything runs; the auditor's configuration (no signing
    // key) has nothing to pin.
    let check = s.job(&["check"]).expect_code(0);
    assert!(
        check.stderr.contains("without audit.origin"),
        "{}",
        check.stderr
    );
    let check = s.auditor(&["check"]);
    assert!(
        !check.stderr.contains("without audit.origin"),
        "{}",
        check.stderr
    );
}
