//! MySQL/MariaDB deletes over a table whose key is one integer column walk disjoint lanes
//! of the key in parallel (`batches_in_flight`): exactly the rows an SQL oracle selects go
//! — the rows at the lanes' bounds, NULL timestamps, held subjects and NULL subjects
//! included — and the batches' audit counts add up to what was deleted.

use crate::support::case::Case;
use crate::support::cli::{retention, write_files};
use crate::support::db::{Db, APP_CONFIG};
use std::collections::HashSet;

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
    subject: account_id
";

/// `rows` events with ids 1..=rows: three in four expired (those with `id % 4 <> 3`,
/// so every multiple of 4 — the lanes' bounds among them — is), one in 13 without a
/// timestamp, one in 11 without an account; accounts `id % 50`.
async fn seed(case: &Case, rows: i64) {
    case.db
        .exec(&format!(
            "CREATE TABLE events (id BIGINT PRIMARY KEY, account_id BIGINT NULL,
               created_at DATETIME(6) NULL, payload VARCHAR(32), KEY (created_at));
             INSERT INTO events
               SELECT seq, CASE WHEN seq % 11 = 0 THEN NULL ELSE seq % 50 END,
                      CASE WHEN seq % 13 = 0 THEN NULL
                           WHEN seq % 4 <> 3 THEN UTC_TIMESTAMP(6) - INTERVAL 100 DAY - INTERVAL (seq * 7919 % 500000) MINUTE
                           ELSE UTC_TIMESTAMP(6) - INTERVAL (seq % 1000) MINUTE END,
                      MD5(seq)
               FROM seq_1_to_{rows}"
        ))
        .await;
}

/// The ids an oracle keeps: fresh or undated rows, and every row of a held account.
const KEPT: &str = "SELECT CAST(id AS CHAR) FROM events
    WHERE created_at IS NULL OR created_at >= UTC_TIMESTAMP(6) - INTERVAL 90 DAY
       OR account_id IN (7, 21)
    ORDER BY id";

#[tokio::test]
async fn lanes_of_the_key_delete_exactly_the_oracles_rows_and_account_for_each_batch() {
    lanes_delete_exactly_the_oracles_rows(
        30_000,
        "{batch_size: 100, batch_time: 10ms, batches_in_flight: 3}",
        3,
    )
    .await;
}

#[tokio::test]
async fn lanes_walk_the_primary_key_where_the_optimizer_would_take_the_timestamp_index() {
    // At this size, with a nullable timestamp and the README's defaults, MariaDB's
    // optimizer picks the timestamp's index (and a sort) for a lane's locking SELECT,
    // which then locks every expired row it reads, the other lane's too: the two lanes
    // deadlocked on every try and the target failed. Each lane walks the primary key.
    lanes_delete_exactly_the_oracles_rows(
        300_000,
        "{batch_size: 1000, batch_time: 250ms, batches_in_flight: 2}",
        2,
    )
    .await;
}

async fn lanes_delete_exactly_the_oracles_rows(rows: i64, defaults: &str, lanes: usize) {
    let case = Case::new(Db::MySql, &[("events.yaml", RULE)]).await;
    write_files(
        case.dir.path(),
        &[(
            "retention.yaml",
            &format!("{APP_CONFIG}defaults: {defaults}\n"),
        )],
    );
    seed(&case, rows).await;
    case.expect(&["migrate"], 0);
    for account in ["7", "21"] {
        case.expect(
            &[
                "hold",
                "add",
                "--subject",
                account,
                "--reason",
                "litigation",
            ],
            0,
        );
    }
    let kept: Vec<String> = case.column(KEPT).await.into_iter().flatten().collect();
    let before = case.ids("events").await.len();
    assert!(kept.len() < before / 2);

    let run = retention(
        case.dir.path(),
        &["run"],
        &[("APP_URL", &case.db.url), ("RETENTION_LOG", "debug")],
    )
    .expect_code(0);
    assert!(
        run.stderr.contains("Deleting lanes of the key in parallel")
            && run.stderr.contains(&format!("lanes={lanes}")),
        "{lanes} lanes: {}",
        run.stderr
    );

    let left = case.ids("events").await;
    let (left_set, kept_set): (HashSet<&String>, HashSet<&String>) =
        (left.iter().collect(), kept.iter().collect());
    let stayed: Vec<&&String> = left_set.difference(&kept_set).take(10).collect();
    let went: Vec<&&String> = kept_set.difference(&left_set).take(10).collect();
    assert!(
        stayed.is_empty() && went.is_empty() && left.len() == kept.len(),
        "exactly the expired rows of accounts not held go, the lanes' bounds included: left though expired {stayed:?}, gone though kept {went:?}"
    );
    let counts: Vec<u64> = case
        .db
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "batch" && e["outcome"] == "ok" && e["target"] == "events")
        .map(|e| e["count"].as_u64().unwrap_or(0))
        .collect();
    assert!(counts.len() >= 6, "several batches per lane: {counts:?}");
    assert_eq!(
        counts.iter().sum::<u64>() as usize,
        before - kept.len(),
        "the batches account for every deleted row"
    );
    case.expect(&["audit", "verify"], 0);
}

#[tokio::test]
async fn a_pass_over_a_small_share_of_the_table_leaves_the_index_to_the_optimizer() {
    // One row in about seventy expired, as in a daily run: walking the primary key would
    // read (and, under REPEATABLE READ, lock) the whole table for a sliver of it, so the
    // pass takes one lane and lets the optimizer read the expired rows through the
    // timestamp's index.
    let case = Case::new(Db::MySql, &[("events.yaml", RULE)]).await;
    seed(&case, 30_000).await;
    case.db
        .exec("UPDATE events SET created_at = UTC_TIMESTAMP(6) WHERE id % 50 <> 0 AND created_at IS NOT NULL")
        .await;
    case.db.exec("ANALYZE TABLE events").await;
    case.expect(&["migrate"], 0);
    let kept: Vec<String> = case.column(KEPT).await.into_iter().flatten().collect();
    let run = retention(
        case.dir.path(),
        &["run"],
        &[("APP_URL", &case.db.url), ("RETENTION_LOG", "debug")],
    )
    .expect_code(0);
    assert!(
        !run.stderr.contains("Deleting lanes of the key") && !run.stderr.contains("FORCE INDEX"),
        "one lane, the optimizer's index"
    );
    assert_eq!(case.ids("events").await, kept);
    case.expect(&["audit", "verify"], 0);
}
