//! Random logs of up to 200 entries, each mutated once at random: the verifier catches
//! every mutation.

use proptest::prelude::*;
use retention::audit::checkpoint::{self, CheckpointSigner, Verifiers};
use retention::audit::entry::seal;
use retention::audit::sql::{StoredCheckpoint, StoredEntry, StoredLog};
use retention::audit::tree::{leaf_hash, Frontier};
use retention::audit::verify::verify_log;
use retention::audit::{EntryDraft, Kind};
use std::sync::OnceLock;

const ORIGIN: &str = "retention.test/property";

fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| checkpoint::keygen("retention.test/property").unwrap())
}

/// A log as the writer makes it: a checkpoint every `every` entries and one at the end,
/// each entry signed when `signed`.
fn make_log(n: usize, every: usize, with_leaf_column: bool, signed: bool) -> StoredLog {
    let signer = CheckpointSigner::from_private_key(&keys().0).unwrap();
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let mut frontier = Frontier::new();
    let mut prev = None;
    let time = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    for i in 0..n {
        let seq = i as u64 + 1;
        let draft = EntryDraft {
            count: Some(i as u64 % 7),
            category: Some("orders".into()),
            ..EntryDraft::new(if i + 1 == n {
                Kind::RunEnd
            } else {
                Kind::Batch
            })
        };
        let line = seal(&draft, seq, time, "run", false, prev.as_ref());
        let leaf = leaf_hash(&line);
        frontier.push(leaf);
        prev = Some(leaf);
        entries.push(StoredEntry {
            seq,
            line,
            leaf_hash: with_leaf_column.then(|| leaf.to_vec()),
            sig: signed.then(|| signer.sign_entry(ORIGIN, seq, &leaf)),
        });
        if seq as usize % every == 0 || i + 1 == n {
            checkpoints.push(StoredCheckpoint {
                size: seq,
                note: signer.sign(ORIGIN, seq, &frontier.root()),
            });
        }
    }
    StoredLog {
        entries,
        checkpoints,
        head: None,
        below_one: Vec::new(),
        negative_checkpoints: Vec::new(),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { entry: usize, at: usize, bit: u8 },
    Delete { entry: usize },
    Swap { a: usize, b: usize },
    Duplicate { entry: usize, to: usize },
    SortKeys { entry: usize },
    Truncate { keep: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), 0u8..8).prop_map(|(entry, at, bit)| Mutation::FlipByte {
            entry,
            at,
            bit
        }),
        any::<usize>().prop_map(|entry| Mutation::Delete { entry }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
        (any::<usize>(), any::<usize>()).prop_map(|(entry, to)| Mutation::Duplicate { entry, to }),
        any::<usize>().prop_map(|entry| Mutation::SortKeys { entry }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
    ]
}

/// Applies the mutation the way an attacker with write access to the rows would: entries
/// keep the position (`seq` column) of the row they land in. Returns the trusted
/// checkpoint to check against when the mutation needs one, or `None` when the mutation
/// turned out to be a no-op.
fn apply(log: &mut StoredLog, m: &Mutation) -> Option<Option<String>> {
    let n = log.entries.len();
    let renumber = |entries: &mut Vec<StoredEntry>| {
        for (i, e) in entries.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
    };
    match *m {
        Mutation::FlipByte { entry, at, bit } => {
            let line = &mut log.entries[entry % n].line;
            let at = at % line.len();
            line[at] ^= 1 << bit;
        }
        Mutation::Delete { entry } => {
            log.entries.remove(entry % n);
            renumber(&mut log.entries);
        }
        Mutation::Swap { a, b } => {
            let (a, b) = (a % n, b % n);
            if a == b {
                return None;
            }
            let (la, lb) = (log.entries[a].clone(), log.entries[b].clone());
            log.entries[a] = StoredEntry { seq: la.seq, ..lb };
            log.entries[b] = StoredEntry { seq: lb.seq, ..la };
        }
        Mutation::Duplicate { entry, to } => {
            let copy = log.entries[entry % n].clone();
            log.entries.insert(to % (n + 1), copy);
            renumber(&mut log.entries);
        }
        Mutation::SortKeys { entry } => {
            let line = &mut log.entries[entry % n].line;
            let map: std::collections::BTreeMap<String, serde_json::Value> =
                serde_json::from_slice(line).unwrap();
            *line = serde_json::to_vec(&map).unwrap();
        }
        Mutation::Truncate { keep } => {
            let keep = keep % n;
            let trusted = log.checkpoints.last().unwrap().note.clone();
            log.entries.truncate(keep);
            log.checkpoints.retain(|c| c.size as usize <= keep);
            return Some(Some(trusted));
        }
    }
    Some(None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_mutation_of_a_random_log_is_caught(
        n in 1usize..=200,
        every in 1usize..=250,
        with_leaf_column in any::<bool>(),
        signed in any::<bool>(),
        m in mutation(),
    ) {
        let verifiers = Verifiers::from_keys(&[&keys().1]).unwrap();
        let mut log = make_log(n, every, with_leaf_column, signed);
        let untouched = verify_log(&log, &verifiers, None, Some(ORIGIN)).unwrap();
        prop_assert!(untouched.intact(), "{}", untouched);
        let Some(trusted) = apply(&mut log, &m) else { return Ok(()) };
        let report =
            verify_log(&log, &verifiers, trusted.as_deref().map(str::as_bytes), Some(ORIGIN)).unwrap();
        prop_assert!(!report.intact(), "{:?} went unnoticed", m);
    }
}

/// Entries signed by a version before entry statements named the log (`v1`: no origin)
/// count as this log's only where one of its checkpoints covers them: an old log verifies
/// intact, while the same entries without that log's checkpoints — copied into another log
/// signed by the same key — are not authenticated.
#[test]
fn legacy_entry_signatures_count_only_under_a_checkpoint_of_this_log() {
    use base64::Engine;
    use signed_note::Signer;
    let verifiers = Verifiers::from_keys(&[&keys().1]).unwrap();
    let signer = signed_note::StandardSigner::new(&keys().0).unwrap();
    let mut log = make_log(12, 5, true, true);
    for e in &mut log.entries {
        let statement = format!(
            "retention-audit-entry/v1 {} {}\n",
            e.seq,
            base64::engine::general_purpose::STANDARD.encode(leaf_hash(&e.line))
        );
        let sig = signer.sign(statement.as_bytes()).unwrap();
        e.sig = Some([signer.key_id().to_be_bytes().as_slice(), &sig].concat());
    }
    let old = verify_log(&log, &verifiers, None, Some(ORIGIN)).unwrap();
    assert!(old.intact(), "{old}");
    assert_eq!(old.signed_entries, 12);

    // Past the last checkpoint, a legacy signature authenticates nothing.
    let mut uncovered = log.clone();
    uncovered.checkpoints.retain(|c| c.size <= 10);
    let report = verify_log(&uncovered, &verifiers, None, Some(ORIGIN)).unwrap();
    assert_eq!(report.damage.as_ref().map(|d| d.seq), Some(11), "{report}");

    // Copied without its checkpoints into a log of another origin: nothing is this log's.
    let mut copied = log.clone();
    copied.checkpoints.clear();
    let report = verify_log(&copied, &verifiers, None, Some("retention.test/production")).unwrap();
    assert!(!report.intact(), "{report}");
    assert_eq!(report.signed_entries, 0, "{report}");
}
