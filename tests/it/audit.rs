//! The audit log in a real state store (PostgreSQL, MariaDB, SQLite): an untouched log
//! verifies, every kind of tampering is caught at the right `seq`, the database refuses
//! changes to the audit tables even for their owner, and proofs check out offline.
//!
//! To tamper, a test first does what an attacker with owner rights would: it switches the
//! append-only triggers off.

use crate::support::{exec, fresh_store, TestStore, Val};
use retention::audit::checkpoint::{self, CheckpointSigner, Verifiers};
use retention::audit::prove::{check_proof, prove, Proof};
use retention::audit::show::{select, Filter};
use retention::audit::sql::read_log;
use retention::audit::tree::{leaf_hash, Frontier};
use retention::audit::verify::{verify, DamageKind, VerifyReport};
use retention::audit::{AuditLog, EntryDraft, Kind, Outcome, Reason, Totals};
use retention::config::AuditConfig;
use retention::rules::Action;
use retention::stores::sql::{Dialect, SqlConn, SqlPool};
use secrecy::SecretString;
use std::path::PathBuf;

pub const ORIGIN: &str = "retention.test/audit";
pub const SUBJECT: &str = "acct-4711";

/// A state store holding two runs of seven entries each (checkpoints at 7 and 14), with
/// the file sink written beside it.
pub struct Scenario {
    pub store: TestStore,
    /// Holds the file sink; removed with the scenario.
    pub _dir: tempfile::TempDir,
    pub file: PathBuf,
    pub config: AuditConfig,
    pub vkey: String,
}

impl Scenario {
    pub fn verifiers(&self) -> Verifiers {
        Verifiers::from_keys(&[&self.vkey]).unwrap()
    }

    pub fn pool(&self) -> &SqlPool {
        &self.store.pool
    }

    pub async fn verify(&self) -> VerifyReport {
        verify(self.pool(), &self.verifiers(), None, Some(ORIGIN))
            .await
            .unwrap()
    }
}

fn batch(i: u64, ticket: Option<&str>, subject: Option<String>) -> EntryDraft {
    EntryDraft {
        action: Some(Action::Delete),
        reason: Some(if ticket.is_some() {
            Reason::Request
        } else {
            Reason::Expired
        }),
        category: Some("location".into()),
        rule_sha256: Some(format!("sha256:{}", "ab".repeat(32))),
        store: Some("app".into()),
        target: Some("device_locations".into()),
        count: Some(10 + i),
        keys_digest: Some(format!(
            "sha256:{}",
            hex::encode(leaf_hash(&i.to_be_bytes()))
        )),
        subject,
        ticket: ticket.map(str::to_owned),
        ..EntryDraft::new(Kind::Batch)
    }
}

pub async fn scenario(dialect: Dialect) -> Scenario {
    let store = fresh_store(dialect).await;
    let (skey, vkey) = checkpoint::keygen(ORIGIN).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let config = AuditConfig {
        pseudonym_key: SecretString::from("p".repeat(32)),
        signing_key: Some(SecretString::from(skey)),
        verifier_key: None,
        origin: Some(ORIGIN.to_owned()),
        unsigned_history: 0,
        export: None,
        file: Some(file.clone()),
    };
    for run in 0..2u64 {
        let log = AuditLog::new(&config, store.pool.clone(), format!("run-{run}"), false);
        log.append(EntryDraft {
            config_sha256: Some(format!("sha256:{}", "cd".repeat(32))),
            rules_sha256: Some(format!("sha256:{}", "ef".repeat(32))),
            ..EntryDraft::new(Kind::RunStart)
        })
        .await
        .unwrap();
        for b in 0..5u64 {
            let draft = if b == 2 {
                batch(b, Some("DSAR-1"), Some(log.pseudonym(SUBJECT)))
            } else {
                batch(b, None, None)
            };
            if b == 3 {
                // A batch on the state store: the entry commits in the batch's transaction.
                let appended = in_transaction(&log, &store.pool, draft).await;
                log.after_commit(&appended).await.unwrap();
            } else {
                log.append(draft).await.unwrap();
            }
        }
        log.append(EntryDraft {
            totals: Some(Totals {
                deleted: 60,
                ..Totals::default()
            }),
            outcome: Some(Outcome::Ok),
            ..EntryDraft::new(Kind::RunEnd)
        })
        .await
        .unwrap();
        log.finish().await.unwrap();
    }
    Scenario {
        store,
        _dir: dir,
        file,
        config,
        vkey,
    }
}

async fn in_transaction(
    log: &AuditLog,
    pool: &SqlPool,
    draft: EntryDraft,
) -> retention::audit::Appended {
    match pool {
        SqlPool::Pg(p) => {
            let mut tx = p.begin().await.unwrap();
            let a = log.append_in(SqlConn::Pg(&mut tx), draft).await.unwrap();
            tx.commit().await.unwrap();
            a
        }
        SqlPool::My(p) => {
            let mut tx = p.begin().await.unwrap();
            let a = log.append_in(SqlConn::My(&mut tx), draft).await.unwrap();
            tx.commit().await.unwrap();
            a
        }
        SqlPool::Lite(p) => {
            let mut tx = p.begin().await.unwrap();
            let a = log.append_in(SqlConn::Lite(&mut tx), draft).await.unwrap();
            tx.commit().await.unwrap();
            a
        }
    }
}

// ---- The attacker's tools -------------------------------------------------------------

/// Switches off the append-only triggers (and, on MariaDB, the truncate guards).
pub async fn disable_guards(pool: &SqlPool) {
    let statements: &[&str] = match pool.dialect() {
        Dialect::Postgres => &[
            "ALTER TABLE retention_audit DISABLE TRIGGER USER",
            "ALTER TABLE retention_checkpoints DISABLE TRIGGER USER",
            "ALTER TABLE retention_audit_head DISABLE TRIGGER USER",
        ],
        Dialect::MySql => &[
            "DROP TRIGGER retention_audit_no_update",
            "DROP TRIGGER retention_audit_no_delete",
            "DROP TRIGGER retention_checkpoints_no_update",
            "DROP TRIGGER retention_checkpoints_no_delete",
            "DROP TRIGGER retention_audit_head_forward_only",
        ],
        Dialect::Sqlite => &[
            "DROP TRIGGER retention_audit_no_update",
            "DROP TRIGGER retention_audit_no_delete",
            "DROP TRIGGER retention_checkpoints_no_update",
            "DROP TRIGGER retention_checkpoints_no_delete",
            "DROP TRIGGER retention_audit_head_forward_only",
        ],
    };
    for s in statements {
        exec(pool, s, &[]).await.unwrap();
    }
}

async fn lines(pool: &SqlPool) -> Vec<Vec<u8>> {
    read_log(pool)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.line)
        .collect()
}

async fn set_line(pool: &SqlPool, seq: u64, line: &[u8], recompute_leaf: bool) {
    let n = if recompute_leaf {
        exec(
            pool,
            "UPDATE retention_audit SET line = ?, leaf_hash = ? WHERE seq = ?",
            &[
                Val::Bytes(line.to_vec()),
                Val::Bytes(leaf_hash(line).to_vec()),
                Val::I64(seq as i64),
            ],
        )
        .await
    } else {
        exec(
            pool,
            "UPDATE retention_audit SET line = ? WHERE seq = ?",
            &[Val::Bytes(line.to_vec()), Val::I64(seq as i64)],
        )
        .await
    };
    assert_eq!(n.unwrap(), 1);
}

fn replace(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(line.to_vec()).unwrap();
    assert!(s.contains(from), "{from} not in {s}");
    s.replacen(from, to, 1).into_bytes()
}

fn link(h: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(h))
}

/// Rewrites every entry from `from` on so each `prev` links again, with fresh leaf hashes
/// and head: what an attacker does to hide an edit from the chain.
async fn rebuild_chain(pool: &SqlPool, from: u64) {
    let mut all = lines(pool).await;
    let mut frontier = Frontier::new();
    for i in 0..all.len() {
        let seq = i as u64 + 1;
        if seq > from {
            let prev = leaf_hash(&all[i - 1]);
            let s = String::from_utf8(all[i].clone()).unwrap();
            let at = s.rfind("\"prev\":\"").unwrap() + 8;
            let fixed = format!("{}{}\"}}", &s[..at], link(&prev));
            all[i] = fixed.into_bytes();
            set_line(pool, seq, &all[i], true).await;
        }
        frontier.push(leaf_hash(&all[i]));
    }
    set_head(
        pool,
        all.len() as u64,
        &leaf_hash(all.last().unwrap()),
        &frontier,
    )
    .await;
}

async fn set_head(pool: &SqlPool, seq: u64, leaf: &[u8; 32], frontier: &Frontier) {
    exec(
        pool,
        "UPDATE retention_audit_head SET seq = ?, leaf_hash = ?, frontier = ? WHERE id = 1",
        &[
            Val::I64(seq as i64),
            Val::Bytes(leaf.to_vec()),
            Val::Bytes(frontier.to_bytes()),
        ],
    )
    .await
    .unwrap();
}

fn assert_damage(report: &VerifyReport, seq: u64, kind: DamageKind) {
    let d = report
        .damage
        .as_ref()
        .unwrap_or_else(|| panic!("tampering went unnoticed: {report}"));
    assert_eq!((d.seq, d.kind), (seq, kind), "{report}");
}

// ---- The behaviours, run on each dialect ---------------------------------------------

async fn an_untouched_log_verifies(dialect: Dialect) {
    let s = scenario(dialect).await;
    let report = s.verify().await;
    assert!(report.intact(), "{report}");
    assert_eq!((report.entries, report.checkpoints), (14, 2));
    assert!(report.signatures_checked);
    s.store.remove().await;
}

async fn an_edited_byte_is_caught_at_its_seq(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let line = &lines(s.pool()).await[3];
    set_line(
        s.pool(),
        4,
        &replace(line, "\"count\":12", "\"count\":13"),
        false,
    )
    .await;
    assert_damage(&s.verify().await, 4, DamageKind::Edited);
    s.store.remove().await;
}

async fn an_edited_entry_with_its_leaf_hash_recomputed_is_caught_at_its_seq(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let line = &lines(s.pool()).await[3];
    set_line(
        s.pool(),
        4,
        &replace(line, "\"count\":12", "\"count\":13"),
        true,
    )
    .await;
    assert_damage(&s.verify().await, 4, DamageKind::Edited);
    s.store.remove().await;
}

async fn an_edit_with_the_whole_chain_rebuilt_is_caught_by_the_signed_checkpoint(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let line = &lines(s.pool()).await[9];
    set_line(
        s.pool(),
        10,
        &replace(line, "\"count\":11", "\"count\":99"),
        true,
    )
    .await;
    rebuild_chain(s.pool(), 10).await;
    // The links all hold now; only checkpoint 14 disagrees, and checkpoint 7 still holds,
    // so the damage lies in 8..=14; entries 8 and 9 still verify under the key, entry 10
    // does not: it is named.
    let report = s.verify().await;
    assert_damage(&report, 10, DamageKind::Edited);
    assert!(report.damage.unwrap().detail.contains("8..=14"));
    s.store.remove().await;
}

async fn a_deleted_entry_is_caught(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    exec(s.pool(), "DELETE FROM retention_audit WHERE seq = 5", &[])
        .await
        .unwrap();
    assert_damage(&s.verify().await, 5, DamageKind::Removed);
    s.store.remove().await;
}

async fn two_swapped_entries_are_caught(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let all = lines(s.pool()).await;
    set_line(s.pool(), 5, &all[5], true).await;
    set_line(s.pool(), 6, &all[4], true).await;
    assert_damage(&s.verify().await, 5, DamageKind::Reordered);
    s.store.remove().await;
}

async fn an_inserted_entry_is_caught(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let all = lines(s.pool()).await;
    // Make room at seq 5, one row at a time from the end so the key never collides.
    for seq in (5..=14).rev() {
        exec(
            s.pool(),
            "UPDATE retention_audit SET seq = ? WHERE seq = ?",
            &[Val::I64(seq + 1), Val::I64(seq)],
        )
        .await
        .unwrap();
    }
    // A forged entry that links perfectly to entry 4.
    let forged = replace(&all[3], "\"seq\":4,", "\"seq\":5,");
    let at = String::from_utf8(forged.clone())
        .unwrap()
        .rfind("\"prev\":\"")
        .unwrap()
        + 8;
    let mut forged = forged[..at].to_vec();
    forged.extend_from_slice(format!("{}\"}}", link(&leaf_hash(&all[3]))).as_bytes());
    exec(
        s.pool(),
        "INSERT INTO retention_audit (seq, line, leaf_hash) VALUES (?, ?, ?)",
        &[
            Val::I64(5),
            Val::Bytes(forged.clone()),
            Val::Bytes(leaf_hash(&forged).to_vec()),
        ],
    )
    .await
    .unwrap();
    assert_damage(&s.verify().await, 5, DamageKind::Inserted);
    s.store.remove().await;
}

async fn a_tail_truncated_after_a_checkpoint_is_caught_with_the_trusted_checkpoint(
    dialect: Dialect,
) {
    let s = scenario(dialect).await;
    let trusted = read_log(s.pool()).await.unwrap().checkpoints[1]
        .note
        .clone();
    disable_guards(s.pool()).await;
    exec(s.pool(), "DELETE FROM retention_audit WHERE seq > 7", &[])
        .await
        .unwrap();
    exec(
        s.pool(),
        "DELETE FROM retention_checkpoints WHERE size > 7",
        &[],
    )
    .await
    .unwrap();
    let all = lines(s.pool()).await;
    let mut frontier = Frontier::new();
    all.iter().for_each(|l| frontier.push(leaf_hash(l)));
    set_head(s.pool(), 7, &leaf_hash(&all[6]), &frontier).await;

    // A clean cut with the head and checkpoints fixed up looks like a shorter log …
    assert!(s.verify().await.intact());
    // … until it is held against a checkpoint kept elsewhere.
    let report = verify(
        s.pool(),
        &s.verifiers(),
        Some(trusted.as_bytes()),
        Some(ORIGIN),
    )
    .await
    .unwrap();
    assert_damage(&report, 8, DamageKind::Truncated);
    s.store.remove().await;
}

async fn a_checkpoint_re_signed_with_another_key_is_caught(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    let log = read_log(s.pool()).await.unwrap();
    let body = checkpoint::open(log.checkpoints[0].note.as_bytes(), &Verifiers::none());
    let checkpoint::Opened::Ok(body) = body else {
        panic!("the stored checkpoint does not parse")
    };
    let (other, _) = checkpoint::keygen(ORIGIN).unwrap();
    let forged = CheckpointSigner::from_private_key(&other).unwrap().sign(
        &body.origin,
        body.size,
        &body.root,
    );
    exec(
        s.pool(),
        "UPDATE retention_checkpoints SET note = ? WHERE size = 7",
        &[Val::Text(forged)],
    )
    .await
    .unwrap();
    assert_damage(&s.verify().await, 7, DamageKind::BadSignature);
    s.store.remove().await;
}

async fn a_jsonb_style_key_reordering_is_caught(dialect: Dialect) {
    let s = scenario(dialect).await;
    disable_guards(s.pool()).await;
    if dialect == Dialect::Postgres {
        // The real thing: a round trip through jsonb, which sorts keys and adds spaces.
        exec(
            s.pool(),
            "UPDATE retention_audit SET line = convert_to((convert_from(line, 'UTF8')::jsonb)::text, 'UTF8') WHERE seq = 4",
            &[],
        )
        .await
        .unwrap();
    } else {
        let line = &lines(s.pool()).await[3];
        let map: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(line).unwrap();
        set_line(s.pool(), 4, &serde_json::to_vec(&map).unwrap(), false).await;
    }
    let line = &lines(s.pool()).await[3];
    let same: serde_json::Value = serde_json::from_slice(line).unwrap();
    assert_eq!(same["seq"], 4, "the entry still means the same");
    assert_damage(&s.verify().await, 4, DamageKind::Edited);
    s.store.remove().await;
}

async fn the_database_refuses_update_delete_and_truncate_even_for_the_owner(dialect: Dialect) {
    let s = scenario(dialect).await;
    let mut attempts = vec![
        "UPDATE retention_audit SET line = line WHERE seq = 3",
        "UPDATE retention_audit SET seq = seq + 100",
        "DELETE FROM retention_audit WHERE seq = 14",
        "DELETE FROM retention_audit",
        "UPDATE retention_checkpoints SET note = note",
        "DELETE FROM retention_checkpoints",
        "DELETE FROM retention_audit_head",
    ];
    if dialect != Dialect::Sqlite {
        attempts.extend([
            "TRUNCATE TABLE retention_audit",
            "TRUNCATE TABLE retention_checkpoints",
        ]);
    }
    // The head moves forward only, on every dialect.
    attempts.push("UPDATE retention_audit_head SET seq = 3");
    for sql in attempts {
        let result = exec(s.pool(), sql, &[]).await;
        assert!(result.is_err(), "`{sql}` was allowed on {}", dialect.name());
    }
    let report = s.verify().await;
    assert!(report.intact(), "{report}");
    assert_eq!(report.entries, 14);
    // Appending still works after all that.
    let log = AuditLog::new(&s.config, s.pool().clone(), "run-2".into(), false);
    assert_eq!(
        log.append(EntryDraft::new(Kind::RunStart))
            .await
            .unwrap()
            .seq,
        15
    );
    s.store.remove().await;
}

async fn a_printed_proof_verifies_offline(dialect: Dialect) {
    let s = scenario(dialect).await;
    let log = read_log(s.pool()).await.unwrap();
    let printed =
        serde_json::to_string_pretty(&prove(&log, 4, None, &Verifiers::none()).unwrap()).unwrap();
    drop(log);
    s.store.remove().await;

    // Offline: only the printed JSON and the verifier key.
    let proof: Proof = serde_json::from_str(&printed).unwrap();
    let verifiers = Verifiers::from_keys(&[&s.vkey]).unwrap();
    let cp = check_proof(&proof, &verifiers).unwrap();
    // Proved against the newest checkpoint that covers the entry.
    assert_eq!((cp.origin.as_str(), cp.size), (ORIGIN, 14));
    assert!(proof.line.contains("\"seq\":4,"));

    let mut doctored = proof.clone();
    doctored.line = doctored.line.replace("\"count\":12", "\"count\":13");
    assert!(check_proof(&doctored, &verifiers).is_err());
    let (_, stranger) = checkpoint::keygen(ORIGIN).unwrap();
    assert!(check_proof(&proof, &Verifiers::from_keys(&[stranger]).unwrap()).is_err());
}

async fn show_finds_a_subjects_entries_by_pseudonym_only(dialect: Dialect) {
    let s = scenario(dialect).await;
    let log = read_log(s.pool()).await.unwrap();
    let pseudonym =
        retention::audit::Pseudonymiser::new("p".repeat(32).as_bytes()).subject(SUBJECT);
    let found = select(
        &log.entries,
        &Filter {
            subject_pseudonym: Some(pseudonym),
            ..Filter::default()
        },
    );
    let seqs: Vec<u64> = found.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![4, 11]);
    let by_ticket = select(
        &log.entries,
        &Filter {
            ticket: Some("DSAR-1".into()),
            run: Some("run-1".into()),
            ..Filter::default()
        },
    );
    assert_eq!(by_ticket.len(), 1);
    for e in &log.entries {
        assert!(!String::from_utf8_lossy(&e.line).contains(SUBJECT));
    }
    s.store.remove().await;
}

crate::support::on_every_dialect!(
    Dialect:
    an_untouched_log_verifies,
    an_edited_byte_is_caught_at_its_seq,
    an_edited_entry_with_its_leaf_hash_recomputed_is_caught_at_its_seq,
    an_edit_with_the_whole_chain_rebuilt_is_caught_by_the_signed_checkpoint,
    a_deleted_entry_is_caught,
    two_swapped_entries_are_caught,
    an_inserted_entry_is_caught,
    a_tail_truncated_after_a_checkpoint_is_caught_with_the_trusted_checkpoint,
    a_checkpoint_re_signed_with_another_key_is_caught,
    a_jsonb_style_key_reordering_is_caught,
    the_database_refuses_update_delete_and_truncate_even_for_the_owner,
    a_printed_proof_verifies_offline,
    show_finds_a_subjects_entries_by_pseudonym_only,
);

mod command {
    //! `audit verify|prove|show|keygen` through [`run_loaded`], with a loaded configuration
    //! (the config file loader is wired by the binary).
    use super::*;
    use retention::cli::{AuditCommand, ReportFormat};
    use retention::commands::audit::run_loaded;
    use retention::config::{Config, Defaults, StoreConfig};
    use retention::exit::Status;

    fn config(s: &Scenario) -> Config {
        Config {
            path: s.file.with_file_name("retention.yaml"),
            base_dir: s.file.parent().unwrap().to_owned(),
            stores: [(
                "app".to_owned(),
                StoreConfig::Sql {
                    url: SecretString::from(s.store.url.clone()),
                },
            )]
            .into(),
            state: "app".into(),
            audit: s.config.clone(),
            rules_dir: s.file.with_file_name("rules"),
            subjects: None,
            requests: Default::default(),
            defaults: Defaults::default(),
            digest: String::new(),
        }
    }

    async fn run(config: &Config, cmd: AuditCommand) -> (Status, String) {
        let mut out = Vec::new();
        let status = run_loaded(config, cmd, &mut out).await.unwrap();
        (status, String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn verify_exits_0_when_intact_1_when_tampered_naming_the_seq_and_2_when_unreadable() {
        let s = scenario(Dialect::Sqlite).await;
        let config = config(&s);
        let (status, out) = run(
            &config,
            AuditCommand::Verify {
                trusted: None,
                key: None,
            },
        )
        .await;
        assert_eq!(status, Status::Done, "{out}");
        assert_eq!(
            out.matches("intact: 14 entries, 2 checkpoints (signatures checked)")
                .count(),
            2,
            "{out}"
        );

        disable_guards(s.pool()).await;
        exec(s.pool(), "DELETE FROM retention_audit WHERE seq = 9", &[])
            .await
            .unwrap();
        let (status, out) = run(
            &config,
            AuditCommand::Verify {
                trusted: None,
                key: None,
            },
        )
        .await;
        assert_eq!(status, Status::Failed, "{out}");
        assert!(out.contains("tampered: seq 9: removed"), "{out}");

        let missing = s.file.with_file_name("elsewhere.note");
        let (status, _) = run(
            &config,
            AuditCommand::Verify {
                trusted: Some(missing),
                key: None,
            },
        )
        .await;
        assert_eq!(status, Status::Invalid);
        std::fs::remove_file(&s.file).unwrap();
        let mut lost_file = config.clone();
        lost_file.audit.file = Some(s.file.with_file_name("gone.jsonl"));
        let (status, out) = run(
            &lost_file,
            AuditCommand::Verify {
                trusted: None,
                key: None,
            },
        )
        .await;
        assert_eq!(status, Status::Invalid, "{out}");
        assert!(out.contains("cannot read the audit log"), "{out}");
    }

    #[tokio::test]
    async fn prove_prints_json_that_checks_out_and_show_prints_the_exact_lines() {
        let s = scenario(Dialect::Sqlite).await;
        let config = config(&s);
        let (status, out) = run(
            &config,
            AuditCommand::Prove {
                seq: 11,
                from_size: None,
            },
        )
        .await;
        assert_eq!(status, Status::Done);
        let proof: Proof = serde_json::from_str(&out).unwrap();
        check_proof(&proof, &s.verifiers()).unwrap();

        let (status, out) = run(
            &config,
            AuditCommand::Show {
                run: None,
                ticket: None,
                subject: Some(SUBJECT.into()),
                format: ReportFormat::Json,
                out: None,
            },
        )
        .await;
        assert_eq!(status, Status::Done);
        let all = lines(s.pool()).await;
        let want = [
            all[3].clone(),
            b"\n".to_vec(),
            all[10].clone(),
            b"\n".to_vec(),
        ]
        .concat();
        assert_eq!(out.as_bytes(), want.as_slice());

        let (_, text) = run(
            &config,
            AuditCommand::Show {
                run: Some("run-0".into()),
                ticket: None,
                subject: None,
                format: ReportFormat::Text,
                out: None,
            },
        )
        .await;
        assert!(text.starts_with("seq  time"), "{text}");
        assert!(text.ends_with("7 entries\n"), "{text}");
    }

    #[tokio::test]
    async fn keygen_prints_a_private_key_and_its_verifier_key() {
        let s = scenario(Dialect::Sqlite).await;
        let (status, out) = run(
            &config(&s),
            AuditCommand::Keygen {
                name: "example.com/retention".into(),
            },
        )
        .await;
        assert_eq!(status, Status::Done);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let signer = CheckpointSigner::from_private_key(lines[0]).unwrap();
        assert_eq!(signer.verifier_key(), lines[1]);
    }
}

#[tokio::test]
async fn a_checkpoint_is_signed_every_thousand_entries_and_at_every_run_end() {
    let store = fresh_store(Dialect::Sqlite).await;
    let (skey, vkey) = checkpoint::keygen(ORIGIN).unwrap();
    let config = AuditConfig {
        pseudonym_key: SecretString::from("p".repeat(32)),
        signing_key: Some(SecretString::from(skey)),
        verifier_key: None,
        origin: Some(ORIGIN.to_owned()),
        unsigned_history: 0,
        export: None,
        file: None,
    };
    let log = AuditLog::new(&config, store.pool.clone(), "long".into(), false);
    for i in 0..1001u64 {
        let a = log.append(batch(i, None, None)).await.unwrap();
        assert_eq!(a.checkpoint.is_some(), a.seq == 1000, "seq {}", a.seq);
    }
    let end = log.append(EntryDraft::new(Kind::RunEnd)).await.unwrap();
    assert_eq!(end.checkpoint.map(|c| c.size), Some(1002));
    let stored = read_log(&store.pool).await.unwrap();
    let sizes: Vec<u64> = stored.checkpoints.iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![1000, 1002]);
    let report = verify(
        &store.pool,
        &Verifiers::from_keys(&[vkey]).unwrap(),
        None,
        Some(ORIGIN),
    )
    .await
    .unwrap();
    assert!(report.intact(), "{report}");
}

#[tokio::test]
async fn an_unusable_signing_key_stops_the_first_append() {
    let store = fresh_store(Dialect::Sqlite).await;
    let config = AuditConfig {
        pseudonym_key: SecretString::from("p".repeat(32)),
        signing_key: Some(SecretString::from("PRIVATE+KEY+oops".to_owned())),
        verifier_key: None,
        origin: None,
        unsigned_history: 0,
        export: None,
        file: None,
    };
    let log = AuditLog::new(&config, store.pool.clone(), "r".into(), false);
    let err = log
        .append(EntryDraft::new(Kind::RunStart))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("audit.signing_key"), "{err:#}");
    assert!(
        !format!("{err:#}").contains("oops"),
        "the key leaked: {err:#}"
    );
    assert!(read_log(&store.pool).await.unwrap().entries.is_empty());
    assert!(
        AuditLog::open(&config, store.pool.clone(), "r".into(), false)
            .await
            .is_err()
    );
}
