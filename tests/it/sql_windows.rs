//! PostgreSQL expiry deletes over an indexed timestamp walk time windows, several in
//! flight at once: exactly the expired rows go (integer and text keys, timestamps in no
//! particular physical order, NULLs kept), the batches' audit counts add up to what was
//! deleted, and a batch's `keys_digest` is the digest of exactly the keys it deleted —
//! also when other sessions change the rows of a window while it is read.

use crate::support::cli::{retention, write_files, Paused, Run};
use crate::support::db::{Db, TestDb};
use sha2::{Digest, Sha256};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

/// Where the audit log lives: in the events' own database, where a batch and its entry
/// commit together (windows one at a time), or in a SQLite file (windows in flight at once,
/// an intent before each and its outcome after).
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    SameDb,
    Elsewhere,
}

/// A fresh PostgreSQL database seeded with `rows` events, and a migrated config directory
/// with the given `defaults`.
async fn setup(rows: i64, defaults: &str) -> (TestDb, tempfile::TempDir) {
    setup_with(rows, defaults, &[EVENTS, CODES], State::SameDb).await
}

async fn setup_with(
    rows: i64,
    defaults: &str,
    targets: &[&str],
    state: State,
) -> (TestDb, tempfile::TempDir) {
    let db = TestDb::fresh(Db::Postgres).await;
    seed(&db, rows).await;
    let dir = tempfile::tempdir().unwrap();
    let (state_store, state_name) = match state {
        State::SameDb => ("", "app"),
        State::Elsewhere => ("  log:\n    url: \"sqlite://state.db?mode=rwc\"\n", "log"),
    };
    let cfg = format!(
        "stores:\n  app:\n    url: ${{APP_URL}}\n{state_store}state: {state_name}\naudit:\n  pseudonym_key: {KEY}\nrules: ./rules\ndefaults: {defaults}\n"
    );
    write_files(
        dir.path(),
        &[
            ("retention.yaml", &cfg),
            ("rules/events.yaml", &rule(targets)),
        ],
    );
    cli(&dir, &db, &["migrate"]).expect_code(0);
    (db, dir)
}

/// The events rule over `targets` (YAML list items): expired after 90 days, deleted.
fn rule(targets: &[&str]) -> String {
    format!(
        "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 90d
on_expiry: delete
allow_mass_delete: true
targets:
{}",
        targets.concat()
    )
}

const EVENTS: &str = "  - store: app
    table: events
    key: [id]
    timestamp: created_at
";

const CODES: &str = "  - store: app
    table: codes
    key: [code]
    timestamp: created_at
";

/// The events of accounts (`account_id`, added by the test that uses it).
const EVENTS_BY_ACCOUNT: &str = "  - store: app
    table: events
    key: [id]
    timestamp: created_at
    subject: account_id
";

/// `rows` events and `rows / 10` codes. Of the events, ids ending in 0 have no timestamp,
/// 1–6 are expired (scattered over the year before the cutoff, so the physical order says
/// nothing about the time order), 7–9 are fresh. Codes with an odd number are expired.
async fn seed(db: &TestDb, rows: i64) {
    db.exec(&format!(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ NULL, payload TEXT);
         CREATE INDEX events_created_at ON events (created_at);
         INSERT INTO events
           SELECT g, CASE WHEN g % 10 = 0 THEN NULL
                          WHEN g % 10 <= 6 THEN now() - interval '100 days' - ((g * 7919) % 500000) * interval '1 minute'
                          ELSE now() - (g % 1000) * interval '1 minute' END,
                  md5(g::text)
           FROM generate_series(1, {rows}) g;
         CREATE TABLE codes (code TEXT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL);
         CREATE INDEX codes_created_at ON codes (created_at);
         INSERT INTO codes
           SELECT 'c-' || (g * 37 % 1000) || '-' || g,
                  CASE WHEN g % 2 = 1 THEN now() - interval '200 days' - g * interval '1 hour'
                       ELSE now() - interval '1 day' END
           FROM generate_series(1, {rows} / 10) g;"
    ))
    .await;
}

fn cli(dir: &tempfile::TempDir, db: &TestDb, args: &[&str]) -> Run {
    retention(dir.path(), args, &[("APP_URL", db.url.as_str())])
}

/// The `batch` entries of a target with outcome `ok`, in the log's order: (count,
/// keys_digest).
async fn batches(db: &TestDb, target: &str) -> Vec<(u64, String)> {
    let lines = db
        .texts("SELECT convert_from(line, 'UTF8') FROM retention_audit ORDER BY seq")
        .await;
    ok_batches(lines.into_iter().flatten(), target)
}

/// [`batches`] of a log in the events' database or elsewhere (read through the binary).
async fn batches_in(
    db: &TestDb,
    dir: &tempfile::TempDir,
    state: State,
    target: &str,
) -> Vec<(u64, String)> {
    match state {
        State::SameDb => batches(db, target).await,
        State::Elsewhere => {
            let shown = cli(dir, db, &["audit", "show", "--format", "json"]).expect_code(0);
            ok_batches(shown.stdout.lines().map(str::to_owned), target)
        }
    }
}

fn ok_batches(lines: impl Iterator<Item = String>, target: &str) -> Vec<(u64, String)> {
    lines
        .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
        .filter(|e| e["kind"] == "batch" && e["outcome"] == "ok" && e["target"] == target)
        .map(|e| {
            (
                e["count"].as_u64().unwrap(),
                e["keys_digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn digest_of(mut keys: Vec<String>, numeric: bool) -> String {
    if numeric {
        keys.sort_by_key(|k| k.parse::<i64>().unwrap());
    } else {
        keys.sort();
    }
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

async fn texts(db: &TestDb, sql: &str) -> Vec<String> {
    db.texts(sql).await.into_iter().flatten().collect()
}

#[tokio::test]
async fn windows_in_flight_delete_exactly_the_expired_rows_and_account_for_each_batch() {
    windows_delete_exactly_the_expired_rows(State::Elsewhere).await;
}

#[tokio::test]
async fn windows_beside_the_audit_log_delete_exactly_the_expired_rows_and_account_for_each_batch() {
    windows_delete_exactly_the_expired_rows(State::SameDb).await;
}

async fn windows_delete_exactly_the_expired_rows(state: State) {
    // Small first batches and a short target duration: many windows, four at a time
    // where the log is elsewhere.
    let (db, dir) = setup_with(
        30_000,
        "{batch_size: 100, batch_time: 20ms, batches_in_flight: 4}",
        &[EVENTS, CODES],
        state,
    )
    .await;
    let expired_events = db
        .count("SELECT COUNT(*) FROM events WHERE created_at < now() - interval '90 days'")
        .await;
    assert_eq!(expired_events, 18_000);
    let kept: Vec<String> = texts(
        &db,
        "SELECT CAST(id AS TEXT) FROM events WHERE created_at IS NULL OR created_at >= now() - interval '90 days' ORDER BY id",
    )
    .await;
    let kept_codes = texts(
        &db,
        "SELECT code FROM codes WHERE created_at >= now() - interval '90 days' ORDER BY code",
    )
    .await;

    cli(&dir, &db, &["run"]).expect_code(0);

    let left = texts(&db, "SELECT CAST(id AS TEXT) FROM events ORDER BY id").await;
    assert_eq!(
        left, kept,
        "exactly the expired events go; undated and fresh ones stay"
    );
    let left_codes = texts(&db, "SELECT code FROM codes ORDER BY code").await;
    assert_eq!(left_codes, kept_codes);

    let events = batches_in(&db, &dir, state, "events").await;
    assert!(
        events.len() >= 5,
        "many windows, not one statement: {}",
        events.len()
    );
    assert_eq!(events.iter().map(|b| b.0).sum::<u64>(), 18_000);
    let codes = batches_in(&db, &dir, state, "codes").await;
    assert_eq!(codes.iter().map(|b| b.0).sum::<u64>(), 1_500);
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn a_window_batch_digests_exactly_the_keys_it_deleted() {
    // A first batch as large as the whole selection: one window, one batch per table.
    let (db, dir) = setup(3_000, "{batch_size: 100000}").await;
    let expired = texts(
        &db,
        "SELECT CAST(id AS TEXT) FROM events WHERE created_at < now() - interval '90 days'",
    )
    .await;
    let expired_codes = texts(
        &db,
        "SELECT code FROM codes WHERE created_at < now() - interval '90 days'",
    )
    .await;

    cli(&dir, &db, &["run"]).expect_code(0);

    assert_eq!(
        batches(&db, "events").await,
        vec![(1_800, digest_of(expired, true))]
    );
    assert_eq!(
        batches(&db, "codes").await,
        vec![(150, digest_of(expired_codes, false))]
    );
}

#[tokio::test]
async fn each_window_batch_digests_exactly_the_keys_of_its_window() {
    // Beside the log the windows go one at a time, in time order: the batches, in the
    // log's order, take the expired rows sorted by time, each its count of them.
    let (db, dir) = setup_with(
        20_000,
        "{batch_size: 100, batch_time: 10ms, batches_in_flight: 1}",
        &[EVENTS],
        State::SameDb,
    )
    .await;
    let by_time = texts(
        &db,
        "SELECT CAST(id AS TEXT) FROM events WHERE created_at < now() - interval '90 days' ORDER BY created_at, id",
    )
    .await;

    cli(&dir, &db, &["run"]).expect_code(0);

    let events = batches(&db, "events").await;
    assert!(events.len() >= 5, "many windows: {}", events.len());
    let mut rest = by_time.as_slice();
    for (i, (count, digest)) in events.iter().enumerate() {
        let (taken, after) = rest.split_at(*count as usize);
        assert_eq!(
            digest,
            &digest_of(taken.to_vec(), true),
            "batch {i} of {count} rows"
        );
        rest = after;
    }
    assert!(rest.is_empty(), "{} expired rows in no batch", rest.len());
}

#[tokio::test]
async fn rows_changed_while_a_window_is_read_fail_its_snapshot_and_the_window_is_taken_again() {
    // One window in flight beside the log: read and deleted in one snapshot.
    rows_changed_while_a_window_is_read(
        "{batch_size: 100, batch_time: 10ms, batches_in_flight: 1}",
    )
    .await;
}

#[tokio::test]
async fn rows_changed_after_a_window_read_its_keys_fail_its_delete_and_the_window_is_taken_again() {
    // Two windows in flight beside the log: each reads its keys, then deletes its rows by
    // those keys and checks the count (no snapshot held between the two).
    rows_changed_while_a_window_is_read(
        "{batch_size: 100, batch_time: 10ms, batches_in_flight: 2}",
    )
    .await;
}

#[tokio::test]
async fn a_row_swapped_into_a_window_after_its_keys_were_read_is_not_deleted_under_them() {
    // Two windows in flight beside the log, each deleting by the keys it read. While one
    // is paused after reading, another session deletes some of its rows and writes, for
    // each, a new expired row with the same timestamp: the window's count of rows is
    // unchanged, but they are other rows. Deleting by the window's condition alone would
    // delete the new rows under the digest of the old keys; deleting by the keys read
    // finds fewer rows, and the window is taken again, digesting the new ones.
    let (db, dir) = setup_with(
        20_000,
        "{batch_size: 100, batch_time: 10ms, batches_in_flight: 2}",
        &[EVENTS],
        State::SameDb,
    )
    .await;
    let before = db.count("SELECT COUNT(*) FROM events").await;
    let paused = Paused::run_at(dir.path(), "window-read", &[("APP_URL", &db.url)]);
    let swapped = db
        .count(
            "WITH d AS (DELETE FROM events WHERE id % 10 = 2 AND created_at < now() - interval '90 days' RETURNING id, created_at),
                  i AS (INSERT INTO events (id, created_at, payload) SELECT id + 1000000, created_at, 'new' FROM d RETURNING 1)
             SELECT COUNT(*) FROM i",
        )
        .await;
    assert!(swapped > 0);
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("met a concurrent change; taking it again"),
        "the paused window found fewer of its keys and was taken again"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE created_at < now() - interval '90 days'")
            .await,
        0,
        "every expired row went, the new ones too"
    );
    let after = db.count("SELECT COUNT(*) FROM events").await;
    let logged: u64 = batches(&db, "events").await.iter().map(|b| b.0).sum();
    assert_eq!(logged as i64, before - after);
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

async fn rows_changed_while_a_window_is_read(defaults: &str) {
    // The run pauses in a window after reading its keys; meanwhile another session makes
    // some expired rows fresh and deletes others. The window's DELETE then meets rows
    // changed since it read them, so that attempt is rolled back and taken again: the
    // fresh rows stay, and the log counts exactly the rows the run deleted.
    let (db, dir) = setup_with(20_000, defaults, &[EVENTS], State::SameDb).await;
    let before = db.count("SELECT COUNT(*) FROM events").await;
    let paused = Paused::run_at(dir.path(), "window-read", &[("APP_URL", &db.url)]);
    let refreshed = db
        .count("WITH u AS (UPDATE events SET created_at = now() WHERE id % 10 = 1 AND created_at < now() - interval '90 days' RETURNING 1) SELECT COUNT(*) FROM u")
        .await;
    let removed = db
        .count(
            "WITH d AS (DELETE FROM events WHERE id % 10 = 2 RETURNING 1) SELECT COUNT(*) FROM d",
        )
        .await;
    // With two windows in flight the other goes on meanwhile: what is left expired is
    // the paused window's rows and those of windows not yet taken.
    assert!(refreshed > 0 && removed > 0);
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("met a concurrent change; taking it again"),
        "the paused window's snapshot failed and was taken again"
    );

    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE created_at < now() - interval '90 days'")
            .await,
        0,
        "every expired row went"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE id % 10 = 1")
            .await,
        refreshed,
        "the rows made fresh stayed"
    );
    let after = db.count("SELECT COUNT(*) FROM events").await;
    let logged: u64 = batches(&db, "events").await.iter().map(|b| b.0).sum();
    assert_eq!(logged as i64, before - after - removed);
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn a_hold_added_while_a_run_is_in_progress_keeps_its_subjects_rows_from_the_next_batch_on() {
    // The run read the holds at its start (none); before its first batch a hold is added
    // on account 42. No row of that account goes; every other expired row does, those of
    // no account (a NULL subject, which no hold covers) included.
    let (db, dir) = events_of_accounts(1).await;
    db.exec("UPDATE events SET account_id = NULL WHERE id % 100 = 7")
        .await;
    const EXPIRED_42: &str = "SELECT COUNT(*) FROM events WHERE account_id = 42 AND created_at < now() - interval '90 days'";
    let held = db.count(EXPIRED_42).await;
    assert!(held > 100);
    let paused = Paused::run_at(dir.path(), "batch-start", &[("APP_URL", &db.url)]);
    let added = cli(
        &dir,
        &db,
        &["hold", "add", "--subject", "42", "--reason", "litigation"],
    )
    .expect_code(0);
    assert!(
        added
            .stderr
            .contains("keeps this subject's records from its next batch"),
        "{}",
        added.stderr
    );
    let (code, stderr) = paused.resume();
    assert_eq!(code, Some(0), "{stderr}");

    expired_left_only_of_account_42(&db, held).await;
    // The rows the hold kept count as held, with their `skip` entry, not as matched rows
    // the run failed to change.
    let skipped: Vec<u64> = db
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "skip" && e["outcome"] == "held" && e["target"] == "events")
        .filter_map(|e| e["held"].as_u64())
        .collect();
    assert_eq!(
        skipped,
        vec![held as u64],
        "one skip entry counts the held rows"
    );
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn windows_deleted_by_their_keys_keep_a_held_subjects_rows_and_take_those_of_no_subject() {
    // Two windows in flight beside the log, each reading its keys and deleting by them:
    // account 42 is held, some rows have no account (NULL, which no hold covers).
    let (db, dir) = events_of_accounts(2).await;
    db.exec("UPDATE events SET account_id = NULL WHERE id % 100 = 7")
        .await;
    cli(
        &dir,
        &db,
        &["hold", "add", "--subject", "42", "--reason", "litigation"],
    )
    .expect_code(0);
    const EXPIRED: &str = "created_at < now() - interval '90 days'";
    let held = db
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE account_id = 42 AND {EXPIRED}"
        ))
        .await;
    assert!(held > 100);

    let run = retention(
        dir.path(),
        &["run"],
        &[("APP_URL", db.url.as_str()), ("RETENTION_LOG", "debug")],
    )
    .expect_code(0);
    assert!(
        run.stderr.contains("= ANY($"),
        "windows deleted by their keys"
    );
    // Each is planned with its keys' values, which the executor hashes: a generic plan
    // (the server may settle on one after five executions of a prepared statement) would
    // test every row against each key in turn.
    let keyed = run.stderr.matches("= ANY($").count();
    let custom = run
        .stderr
        .matches("plan_cache_mode TO force_custom_plan")
        .count();
    assert!(
        custom >= keyed,
        "{keyed} windows deleted by their keys, {custom} of them planned with their values"
    );

    expired_left_only_of_account_42(&db, held).await;
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn a_child_committed_while_a_time_window_waits_for_it_is_not_cascaded_away() {
    child_committed_while_a_batch_waits("{batches_in_flight: 2}", true, "CASCADE").await;
}

#[tokio::test]
async fn a_child_committed_while_a_keyset_batch_waits_for_it_is_not_cascaded_away() {
    child_committed_while_a_batch_waits("{}", false, "CASCADE").await;
}

#[tokio::test]
async fn a_child_committed_while_a_batch_waits_under_a_plain_key_fails_no_target() {
    child_committed_while_a_batch_waits("{batches_in_flight: 2}", true, "NO ACTION").await;
}

/// Another session inserts a child of expired event 1 (`ON DELETE on_delete`) and holds
/// its transaction open; the run's batch waits for it on event 1's row lock; then it
/// commits. The child was not there when the batch's statement began, so its "no child
/// references this row" test passed: under `READ COMMITTED` the DELETE went on and the
/// cascade took the new child (a plain key failed the target). The batch must instead be
/// taken again, see the child, and
/// keep event 1 (locked), with every other expired event gone.
async fn child_committed_while_a_batch_waits(defaults: &str, indexed: bool, on_delete: &str) {
    use sqlx::Connection;
    let (db, dir) = setup_with(2_000, defaults, &[EVENTS], State::SameDb).await;
    db.exec(&format!("CREATE TABLE notes (id SERIAL PRIMARY KEY, event_id BIGINT REFERENCES events (id) ON DELETE {on_delete})"))
        .await;
    if !indexed {
        db.exec("DROP INDEX events_created_at").await;
    }
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO notes (event_id) VALUES (1)")
        .execute(&mut other)
        .await
        .unwrap();
    let mut run = crate::support::cli::spawn_run(dir.path(), &[("APP_URL", &db.url)]);
    let started = std::time::Instant::now();
    while db
        .count("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        .await
        == 0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the run's batch waits for the other session's child row"
        );
        if let Ok(Some(status)) = run.try_wait() {
            panic!("the run ended ({status}) without waiting for the child row");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM notes").await,
        1,
        "the child stays"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE id = 1").await,
        1,
        "its parent is kept"
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM events WHERE id <> 1 AND created_at < now() - interval '90 days'"
        )
        .await,
        0,
        "every other expired event went"
    );
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

#[tokio::test]
async fn an_erasure_a_hold_interrupts_is_partial_not_done() {
    // `erase` reads the holds at its start (none); before its first batch account 42
    // comes under a hold. Its rows stay, and the request is partial (held), not done.
    let (db, dir) = events_of_accounts(1).await;
    let rows = db
        .count("SELECT COUNT(*) FROM events WHERE account_id = 42")
        .await;
    let paused = Paused::command_at(
        dir.path(),
        &["erase", "--subject", "42", "--ticket", "T-1"],
        "batch-start",
        &[("APP_URL", &db.url)],
    );
    cli(
        &dir,
        &db,
        &["hold", "add", "--subject", "42", "--reason", "litigation"],
    )
    .expect_code(0);
    let (_, stderr) = paused.resume();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE account_id = 42")
            .await,
        rows,
        "{stderr}"
    );
    let status = texts(
        &db,
        "SELECT status FROM retention_requests WHERE ticket = 'T-1'",
    )
    .await;
    assert_eq!(status, vec!["partial".to_owned()], "{stderr}");
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}

/// 20,000 events of 100 accounts (`account_id = id % 100`) under [`EVENTS_BY_ACCOUNT`],
/// beside the audit log, one small batch at a time.
/// Checks that of the expired events only account 42's `held` rows are left: every
/// other account's went, and those of no account (a NULL subject, which no hold covers).
async fn expired_left_only_of_account_42(db: &TestDb, held: i64) {
    for (which, want) in [
        ("account_id = 42", held),
        ("account_id IS NULL", 0),
        ("account_id <> 42", 0),
    ] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM events WHERE {which} AND created_at < now() - interval '90 days'"
            ))
            .await,
            want,
            "expired rows left where {which}"
        );
    }
}

async fn events_of_accounts(batches_in_flight: usize) -> (TestDb, tempfile::TempDir) {
    let (db, dir) = setup_with(
        20_000,
        &format!("{{batch_size: 100, batch_time: 10ms, batches_in_flight: {batches_in_flight}}}"),
        &[EVENTS_BY_ACCOUNT],
        State::SameDb,
    )
    .await;
    db.exec(
        "ALTER TABLE events ADD COLUMN account_id BIGINT; UPDATE events SET account_id = id % 100",
    )
    .await;
    (db, dir)
}

/// A key of a narrower integer type (`INTEGER`) is deleted by its keys as fast as a
/// `BIGINT` one: compared as read, the keys form a hash table; a cross-type comparison
/// could not, and tested each row against every key of its window (seconds a window).
/// Under a DBA's one-second `statement_timeout` that failed the run.
#[tokio::test]
async fn windows_of_an_integer_key_delete_within_a_one_second_statement_timeout() {
    let (db, dir) = setup_with(250_000, "{batches_in_flight: 2}", &[EVENTS], State::SameDb).await;
    db.exec("ALTER TABLE events ALTER COLUMN id TYPE INTEGER")
        .await;
    let name = db
        .texts("SELECT current_database()")
        .await
        .remove(0)
        .unwrap_or_default();
    db.exec(&format!(
        "ALTER DATABASE \"{name}\" SET statement_timeout = '1s'"
    ))
    .await;
    const EXPIRED: &str = "created_at < now() - interval '90 days'";
    let kept = db
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE NOT ({EXPIRED}) OR created_at IS NULL"
        ))
        .await;

    let run = retention(
        dir.path(),
        &["run"],
        &[("APP_URL", db.url.as_str()), ("RETENTION_LOG", "debug")],
    )
    .expect_code(0);

    assert!(
        run.stderr.contains("= ANY($"),
        "windows deleted by their keys"
    );
    assert_eq!(
        db.count(&format!("SELECT COUNT(*) FROM events WHERE {EXPIRED}"))
            .await,
        0
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, kept);
    cli(&dir, &db, &["audit", "verify"]).expect_code(0);
}
