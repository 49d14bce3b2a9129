//! What the audit log promises beyond "untouched" (SPEC §7, issue 14): what a crash leaves
//! is a warning with its range, a signed `run_end` without its checkpoint is damage, every
//! pair of checkpoints is consistent, each log has an origin of its own that it keeps, a
//! signed log is never extended without its key, and proofs check out offline in their
//! documented format.

use crate::audit::{scenario, Scenario, ORIGIN};
use crate::support::{exec, fresh_store};
use retention::audit::checkpoint::{self, Opened, Verifiers};
use retention::audit::prove::{check_proof, prove, ProofError, ProveError, FORMAT};
use retention::audit::sql::read_log;
use retention::audit::tree::{verify_consistency, LineTree};
use retention::audit::verify::{verify, DamageKind, WarningKind};
use retention::audit::{AuditLog, EntryDraft, Kind};
use retention::config::AuditConfig;
use retention::stores::sql::Dialect;
use secrecy::SecretString;

fn config_with(skey: Option<String>, origin: Option<&str>) -> AuditConfig {
    AuditConfig {
        pseudonym_key: SecretString::from("p".repeat(32)),
        signing_key: skey.map(SecretString::from),
        verifier_key: None,
        origin: origin.map(str::to_owned),
        unsigned_history: 0,
        export: None,
        file: None,
    }
}

async fn verify_s(s: &Scenario) -> retention::audit::verify::VerifyReport {
    verify(s.pool(), &s.verifiers(), None, Some(ORIGIN))
        .await
        .unwrap()
}

async fn a_crashed_runs_signed_tail_is_a_warning_with_its_range(dialect: Dialect) {
    let s = scenario(dialect).await;
    // A third run that dies after its start and two batches: no run_end, no checkpoint.
    let log = AuditLog::open(&s.config, s.pool().clone(), "run-2".into(), false)
        .await
        .unwrap();
    for _ in 0..3 {
        log.append(EntryDraft::new(Kind::Batch)).await.unwrap();
    }
    let report = verify_s(&s).await;
    assert!(report.intact(), "{report}");
    assert_eq!(report.warnings.len(), 1, "{report}");
    let w = &report.warnings[0];
    assert_eq!((w.from, w.to, w.kind), (15, 17, WarningKind::Uncovered));
    assert!(
        report.to_string().contains("warning: seq 15..=17"),
        "{report}"
    );

    // The next run checks that tail, extends it, and its checkpoint covers it.
    let next = AuditLog::open(&s.config, s.pool().clone(), "run-3".into(), false)
        .await
        .unwrap();
    let end = next.append(EntryDraft::new(Kind::RunEnd)).await.unwrap();
    assert_eq!(end.checkpoint.map(|c| c.size), Some(18));
    let report = verify_s(&s).await;
    assert!(report.intact() && report.warnings.is_empty(), "{report}");
    s.store.remove().await;
}

async fn a_signed_run_end_without_its_checkpoint_is_damage(dialect: Dialect) {
    let s = scenario(dialect).await;
    crate::audit::disable_guards(s.pool()).await;
    exec(
        s.pool(),
        "DELETE FROM retention_checkpoints WHERE size = 14",
        &[],
    )
    .await
    .unwrap();
    let report = verify_s(&s).await;
    let d = report.damage.expect("a removed checkpoint went unnoticed");
    assert_eq!(
        (d.seq, d.kind),
        (14, DamageKind::MissingCheckpoint),
        "{d:?}"
    );
    s.store.remove().await;
}

async fn every_pair_of_checkpoints_is_consistent(dialect: Dialect) {
    let s = scenario(dialect).await;
    // A third run, so there are three checkpoints (7, 14, 21).
    let log = AuditLog::open(&s.config, s.pool().clone(), "run-2".into(), false)
        .await
        .unwrap();
    for _ in 0..6 {
        log.append(EntryDraft::new(Kind::Batch)).await.unwrap();
    }
    log.append(EntryDraft::new(Kind::RunEnd)).await.unwrap();
    let stored = read_log(s.pool()).await.unwrap();
    let heads: Vec<(u64, [u8; 32])> = stored
        .checkpoints
        .iter()
        .map(
            |c| match checkpoint::open(c.note.as_bytes(), &s.verifiers()) {
                Opened::Ok(cp) => (cp.size, cp.root),
                other => panic!("checkpoint {} does not open: {other:?}", c.size),
            },
        )
        .collect();
    assert_eq!(heads.iter().map(|h| h.0).collect::<Vec<_>>(), [7, 14, 21]);
    for (i, (m, old_root)) in heads.iter().enumerate() {
        for (n, new_root) in &heads[i + 1..] {
            let tree = LineTree::new(
                stored.entries[..*n as usize]
                    .iter()
                    .map(|e| e.line.as_slice()),
            );
            let proof = tree.consistency_proof(*m).unwrap();
            assert!(
                verify_consistency(*m, old_root, *n, new_root, &proof),
                "{m} → {n}"
            );
            assert!(!verify_consistency(*m, new_root, *n, old_root, &proof));
        }
    }
    // The same through `prove --from-size`, against the newest checkpoint.
    for (m, _) in &heads {
        let p = prove(&stored, 3, Some(*m), &s.verifiers()).unwrap();
        assert_eq!(check_proof(&p, &s.verifiers()).unwrap().size, 21);
        assert_eq!(p.consistency.as_ref().unwrap().from_size, *m);
    }
    s.store.remove().await;
}

async fn each_store_has_an_origin_of_its_own_that_the_log_keeps(dialect: Dialect) {
    let a = fresh_store(dialect).await;
    let b = fresh_store(dialect).await;
    let origin_a = retention::audit::origin::recorded(&a.pool).await.unwrap();
    let origin_b = retention::audit::origin::recorded(&b.pool).await.unwrap();
    assert!(origin_a.starts_with("retention/"), "{origin_a}");
    assert_ne!(origin_a, origin_b, "two state stores share an origin");

    let (skey, vkey) = checkpoint::keygen("key.test/audit").unwrap();
    let config = config_with(Some(skey.clone()), None);
    let log = AuditLog::open(&config, a.pool.clone(), "r".into(), false)
        .await
        .unwrap();
    let end = log.append(EntryDraft::new(Kind::RunEnd)).await.unwrap();
    let note = end.checkpoint.unwrap().note;
    assert!(
        note.starts_with(&format!("{origin_a}\n1\n")),
        "the checkpoint names the store's origin, not the key's name:\n{note}"
    );
    let verifiers = Verifiers::from_keys(&[&vkey]).unwrap();
    let report = verify(&a.pool, &verifiers, None, Some(&origin_a))
        .await
        .unwrap();
    assert!(report.intact(), "{report}");
    // Checked against another log's origin, the checkpoint is not this log's.
    let report = verify(&a.pool, &verifiers, None, Some(&origin_b))
        .await
        .unwrap();
    assert_eq!(
        report.damage.map(|d| (d.seq, d.kind)),
        Some((1, DamageKind::BadSignature))
    );
    // A configured origin that differs from the one the log signed under is refused.
    let renamed = config_with(Some(skey), Some("elsewhere.test/log"));
    let err = AuditLog::open(&renamed, a.pool.clone(), "r2".into(), false)
        .await
        .err()
        .expect("a log changed its origin");
    assert!(format!("{err:#}").contains("keeps its origin"), "{err:#}");
    a.remove().await;
    b.remove().await;
}

async fn a_signed_log_is_not_extended_without_its_key(dialect: Dialect) {
    let s = scenario(dialect).await;
    let unsigned = config_with(None, None);
    let err = AuditLog::open(&unsigned, s.pool().clone(), "r".into(), false)
        .await
        .err()
        .expect("a signed log was opened for unsigned entries");
    assert!(
        format!("{err:#}").contains("audit.signing_key is not configured"),
        "{err:#}"
    );
    let err = AuditLog::new(&unsigned, s.pool().clone(), "r".into(), false)
        .append(EntryDraft::new(Kind::RunStart))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("signing key"), "{err:#}");
    assert_eq!(read_log(s.pool()).await.unwrap().entries.len(), 14);
    s.store.remove().await;
}

async fn a_log_signed_late_names_its_unsigned_history(dialect: Dialect) {
    let store = fresh_store(dialect).await;
    let unsigned = config_with(None, Some(ORIGIN));
    let log = AuditLog::open(&unsigned, store.pool.clone(), "old".into(), false)
        .await
        .unwrap();
    for k in [Kind::RunStart, Kind::Batch, Kind::RunEnd] {
        log.append(EntryDraft::new(k)).await.unwrap();
    }
    let (skey, vkey) = checkpoint::keygen("late.test/audit").unwrap();
    // The operator takes the three entries written before the key as unsigned history.
    let signed = AuditConfig {
        unsigned_history: 3,
        ..config_with(Some(skey.clone()), Some(ORIGIN))
    };
    let refused = AuditLog::open(
        &config_with(Some(skey), Some(ORIGIN)),
        store.pool.clone(),
        "refused".into(),
        false,
    )
    .await;
    assert!(
        refused.is_err(),
        "without audit.unsigned_history, unsigned entries are not taken as history"
    );
    let log = AuditLog::open(&signed, store.pool.clone(), "new".into(), false)
        .await
        .unwrap();
    for k in [Kind::RunStart, Kind::RunEnd] {
        log.append(EntryDraft::new(k)).await.unwrap();
    }
    let verifiers = Verifiers::from_keys(&[&vkey]).unwrap();
    let report = verify(&store.pool, &verifiers, None, Some(ORIGIN))
        .await
        .unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!(report.signed_entries, 2);
    let w: Vec<_> = report
        .warnings
        .iter()
        .map(|w| (w.from, w.to, w.kind))
        .collect();
    assert_eq!(w, [(1, 3, WarningKind::Unauthenticated)], "{report}");
    store.remove().await;
}

/// A checkpoint row's note and frontier.
async fn checkpoint_row(pool: &retention::stores::sql::SqlPool, size: i64) -> (String, Vec<u8>) {
    use retention::stores::sql::SqlPool;
    const Q: &str = "SELECT note, frontier FROM retention_checkpoints WHERE size = ";
    let q = format!("{Q}{size}");
    match pool {
        SqlPool::Pg(p) => sqlx::query_as(&q).fetch_one(p).await,
        SqlPool::My(p) => sqlx::query_as(&q).fetch_one(p).await,
        SqlPool::Lite(p) => sqlx::query_as(&q).fetch_one(p).await,
    }
    .unwrap()
}

/// Two logs under one origin (both configured with the same `audit.origin`) and one key:
/// a checkpoint row of one copied into the other is signed for the right origin, and its
/// frontier folds to its signed root, but it is not this log's tree. The signer checks the
/// checkpoint it starts from against this log's own entries and refuses to extend the log
/// (before, it started from the copied tree and signed the next checkpoint over it).
async fn a_checkpoint_copied_from_a_log_of_the_same_origin_is_not_a_starting_point(
    dialect: Dialect,
) {
    use crate::support::Val;
    let (skey, _) = checkpoint::keygen("key.test/audit").unwrap();
    let config = config_with(Some(skey), Some("shared.test/log"));
    let a = fresh_store(dialect).await;
    let b = fresh_store(dialect).await;
    let write = |pool: retention::stores::sql::SqlPool, batches: usize, run: &'static str| {
        let config = config.clone();
        async move {
            let log = AuditLog::open(&config, pool, run.into(), false)
                .await
                .unwrap();
            for _ in 0..batches {
                log.append(EntryDraft::new(Kind::Batch)).await.unwrap();
            }
            log.append(EntryDraft::new(Kind::RunEnd)).await.unwrap();
        }
    };
    // b: checkpoints at 4 and 10; a: a checkpoint at 7, which b lacks.
    // b: a checkpoint at 4, then a run stopped before its end (entries 5..=9); a: a
    // checkpoint at 7, which b lacks.
    write(b.pool.clone(), 3, "b1").await;
    let log = AuditLog::open(&config, b.pool.clone(), "b2".into(), false)
        .await
        .unwrap();
    for _ in 0..5 {
        log.append(EntryDraft::new(Kind::Batch)).await.unwrap();
    }
    write(a.pool.clone(), 6, "a1").await;
    let (note, frontier) = checkpoint_row(&a.pool, 7).await;
    exec(
        &b.pool,
        "INSERT INTO retention_checkpoints (size, note, frontier, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP)",
        &[Val::I64(7), Val::Text(note), Val::Bytes(frontier)],
    )
    .await
    .unwrap();
    let err = AuditLog::open(&config, b.pool.clone(), "b3".into(), false)
        .await
        .err()
        .expect("a copied checkpoint was taken as this log's");
    assert!(
        format!("{err:#}").contains("checkpoint row of size 7"),
        "{err:#}"
    );
    a.remove().await;
    b.remove().await;
}

crate::support::on_every_dialect!(
    Dialect:
    a_crashed_runs_signed_tail_is_a_warning_with_its_range,
    a_signed_run_end_without_its_checkpoint_is_damage,
    every_pair_of_checkpoints_is_consistent,
    each_store_has_an_origin_of_its_own_that_the_log_keeps,
    a_checkpoint_copied_from_a_log_of_the_same_origin_is_not_a_starting_point,
    a_signed_log_is_not_extended_without_its_key,
    a_log_signed_late_names_its_unsigned_history,
);

#[tokio::test]
async fn a_proof_in_the_documented_format_checks_out_and_nothing_in_it_can_be_bent() {
    let s = scenario(Dialect::Sqlite).await;
    let stored = read_log(s.pool()).await.unwrap();
    let proof = prove(&stored, 4, Some(7), &s.verifiers()).unwrap();
    assert_eq!(proof.format, FORMAT);
    assert_eq!((proof.seq, proof.leaf_index, proof.tree_size), (4, 3, 14));
    assert_eq!(proof.origin, ORIGIN);
    assert!(proof.entry_signature.is_some());
    let printed = serde_json::to_string_pretty(&proof).unwrap();
    let back: retention::audit::prove::Proof = serde_json::from_str(&printed).unwrap();
    check_proof(&back, &s.verifiers()).unwrap();

    let bent = |f: &dyn Fn(&mut retention::audit::prove::Proof)| {
        let mut p = back.clone();
        f(&mut p);
        check_proof(&p, &s.verifiers()).unwrap_err()
    };
    assert!(matches!(
        bent(&|p| p.format = "retention-audit-proof/v0".into()),
        ProofError::Format(_)
    ));
    assert!(matches!(
        bent(&|p| p.leaf_index = 4),
        ProofError::WrongIndex { .. }
    ));
    assert!(matches!(
        bent(&|p| p.line = p.line.replace("\"count\":12", "\"count\":13")),
        ProofError::WrongLeafHash
    ));
    assert!(matches!(
        bent(
            &|p| p.entry_signature = stored.entries[4].sig.as_ref().map(|s| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(s)
            })
        ),
        ProofError::BadEntrySignature
    ));
    assert!(matches!(
        bent(&|p| p.consistency.as_mut().unwrap().from_size = 6),
        ProofError::NotConsistent(6)
    ));
    // A tree size the proof cannot reach, and an entry that does not exist.
    assert!(matches!(
        prove(&stored, 4, Some(15), &s.verifiers()),
        Err(ProveError::BadFromSize(15, 14))
    ));
    assert!(matches!(
        prove(&stored, 15, None, &s.verifiers()),
        Err(ProveError::NoSuchEntry(15, 14))
    ));
}
