//! The JSON-lines file sink: it holds the same bytes as the database, the same verifier
//! catches tampering with it, and it heals after a crash (a torn line, a lagging file).

use crate::audit::{scenario, Scenario, ORIGIN};
use retention::audit::checkpoint::{self, CheckpointSigner, Verifiers};
use retention::audit::file::checkpoints_path;
use retention::audit::sql::read_log;
use retention::audit::tree::leaf_hash;
use retention::audit::verify::{verify_file, DamageKind, VerifyReport};
use retention::audit::{AuditLog, EntryDraft, Kind};
use retention::stores::sql::Dialect;
use std::path::Path;

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .strip_suffix(b"\n")
        .unwrap()
        .split(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut out = lines.join(&b'\n');
    out.push(b'\n');
    std::fs::write(path, out).unwrap();
}

fn verify(s: &Scenario, trusted: Option<&str>) -> VerifyReport {
    verify_file(
        &s.file,
        &s.verifiers(),
        trusted.map(str::as_bytes),
        Some(ORIGIN),
    )
    .unwrap()
}

fn assert_damage(report: &VerifyReport, seq: u64, kind: DamageKind) {
    let d = report
        .damage
        .as_ref()
        .unwrap_or_else(|| panic!("tampering went unnoticed: {report}"));
    assert_eq!((d.seq, d.kind), (seq, kind), "{report}");
}

#[tokio::test]
async fn the_file_sink_holds_the_database_bytes_and_verifies() {
    let s = scenario(Dialect::Sqlite).await;
    let db = read_log(s.pool()).await.unwrap();
    let file = read_lines(&s.file);
    let db_lines: Vec<Vec<u8>> = db.entries.iter().map(|e| e.line.clone()).collect();
    assert_eq!(file, db_lines);
    let report = verify(&s, None);
    assert!(report.intact(), "{report}");
    assert_eq!((report.entries, report.checkpoints), (14, 2));
}

#[tokio::test]
async fn every_kind_of_tampering_with_the_file_is_caught_at_its_seq() {
    let s = scenario(Dialect::Sqlite).await;
    let original = read_lines(&s.file);
    let cp_path = checkpoints_path(&s.file);
    let original_cps = std::fs::read(&cp_path).unwrap();
    let trusted = read_log(s.pool()).await.unwrap().checkpoints[1]
        .note
        .clone();

    type Mutation = fn(&mut Vec<Vec<u8>>);
    let cases: Vec<(&str, Mutation, u64, DamageKind)> = vec![
        (
            "an edited byte",
            |l| {
                l[3] = String::from_utf8(l[3].clone())
                    .unwrap()
                    .replace("\"count\":12", "\"count\":13")
                    .into_bytes()
            },
            4,
            DamageKind::Edited,
        ),
        (
            "a deleted line",
            |l| {
                l.remove(4);
            },
            5,
            DamageKind::Removed,
        ),
        (
            "two swapped lines",
            |l| l.swap(4, 5),
            5,
            DamageKind::Reordered,
        ),
        (
            "a duplicated line",
            |l| {
                let d = l[4].clone();
                l.insert(5, d);
            },
            6,
            DamageKind::Inserted,
        ),
        (
            "sorted keys",
            |l| {
                let map: std::collections::BTreeMap<String, serde_json::Value> =
                    serde_json::from_slice(&l[3]).unwrap();
                l[3] = serde_json::to_vec(&map).unwrap();
            },
            4,
            DamageKind::Edited,
        ),
        (
            "an edited last line",
            |l| {
                let n = l.len() - 1;
                l[n] = String::from_utf8(l[n].clone())
                    .unwrap()
                    .replace("\"deleted\":60", "\"deleted\":6")
                    .into_bytes();
            },
            // Entries 8..=13 still verify under the key; the edited one does not.
            14,
            DamageKind::Edited,
        ),
    ];
    for (name, mutate, seq, kind) in cases {
        let mut lines = original.clone();
        mutate(&mut lines);
        write_lines(&s.file, &lines);
        let report = verify(&s, None);
        let d = report
            .damage
            .as_ref()
            .unwrap_or_else(|| panic!("{name} went unnoticed"));
        assert_eq!((d.seq, d.kind), (seq, kind), "{name}: {report}");
    }

    // A truncated tail, with the sidecar's later checkpoint gone too: only the trusted
    // checkpoint reveals it.
    write_lines(&s.file, &original[..7]);
    let first_cp: Vec<u8> = original_cps.split(|b| *b == b'\n').next().unwrap().to_vec();
    std::fs::write(&cp_path, [first_cp, b"\n".to_vec()].concat()).unwrap();
    assert!(verify(&s, None).intact());
    assert_damage(&verify(&s, Some(&trusted)), 8, DamageKind::Truncated);

    // A checkpoint re-signed with another key of the same name.
    write_lines(&s.file, &original);
    let root = {
        let checkpoint::Opened::Ok(cp) = checkpoint::open(trusted.as_bytes(), &Verifiers::none())
        else {
            panic!("the checkpoint does not parse")
        };
        cp.root
    };
    let (other, _) = checkpoint::keygen(ORIGIN).unwrap();
    let forged = CheckpointSigner::from_private_key(&other)
        .unwrap()
        .sign(ORIGIN, 14, &root);
    let sidecar = String::from_utf8(original_cps.clone()).unwrap();
    let second = sidecar.lines().nth(1).unwrap().to_owned();
    let replaced = serde_json::json!({"size": 14, "note": forged}).to_string();
    std::fs::write(&cp_path, sidecar.replace(&second, &replaced)).unwrap();
    assert_damage(&verify(&s, None), 14, DamageKind::BadSignature);
}

#[tokio::test]
async fn a_torn_last_line_is_cut_and_a_lagging_file_is_caught_up_from_the_database() {
    let s = scenario(Dialect::Sqlite).await;
    // A crash after three commits but before their file writes, and mid-way through
    // writing the line before that.
    let lines = read_lines(&s.file);
    write_lines(&s.file, &lines[..11]);
    let mut bytes = std::fs::read(&s.file).unwrap();
    bytes.extend_from_slice(&lines[11][..20]);
    std::fs::write(&s.file, bytes).unwrap();

    let log = AuditLog::new(&s.config, s.pool().clone(), "run-2".into(), false);
    let appended = log.append(EntryDraft::new(Kind::RunStart)).await.unwrap();
    assert_eq!(appended.seq, 15);
    let report = verify(&s, None);
    assert!(report.intact(), "{report}");
    assert_eq!(report.entries, 15);
    assert_eq!(read_lines(&s.file)[14], appended.line);
    assert_eq!(leaf_hash(&read_lines(&s.file)[14]), appended.leaf_hash);
}
