//! PostgreSQL expiry deletes over an indexed timestamp walk time windows, several in
//! flight at once: exactly the expired rows go (integer and text keys, timestamps in no
//! particular physical order, NULLs kept), the batches' audit counts add up to what was
//! deleted, and a batch's `keys_digest` is the digest of exactly the keys it deleted.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb};
use sha2::{Digest, Sha256};

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";

/// A fresh PostgreSQL database seeded with `rows` events, and a migrated config directory
/// with the given `defaults`.
async fn setup(rows: i64, defaults: &str) -> (TestDb, tempfile::TempDir) {
    let db = TestDb::fresh(Db::Postgres).await;
    seed(&db, rows).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "stores:\n  app:\n    url: ${{APP_URL}}\nstate: app\naudit:\n  pseudonym_key: {KEY}\nrules: ./rules\ndefaults: {defaults}\n"
    );
    write_files(
        dir.path(),
        &[("retention.yaml", &cfg), ("rules/events.yaml", RULE)],
    );
    cli(&dir, &db, &["migrate"]).expect_code(0);
    (db, dir)
}

const RULE: &str = "category: events
description: Usage events
source: \"Privacy Policy, 'Usage information'\"
retain: 90d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
  - store: app
    table: codes
    key: [code]
    timestamp: created_at
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

/// The `batch` entries of a target with outcome `ok`: (count, keys_digest).
async fn batches(db: &TestDb, target: &str) -> Vec<(u64, String)> {
    db.texts("SELECT convert_from(line, 'UTF8') FROM retention_audit ORDER BY seq")
        .await
        .into_iter()
        .flatten()
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
    // Small first batches and a short target duration: many windows, four at a time.
    let (db, dir) = setup(
        30_000,
        "{batch_size: 100, batch_time: 20ms, batches_in_flight: 4}",
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

    let events = batches(&db, "events").await;
    assert!(
        events.len() >= 8,
        "many windows, not one statement: {}",
        events.len()
    );
    assert_eq!(events.iter().map(|b| b.0).sum::<u64>(), 18_000);
    let codes = batches(&db, "codes").await;
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
