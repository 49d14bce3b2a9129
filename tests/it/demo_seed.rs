//! The demo's seed data fits the shipped rules: the generated configuration and rules
//! load, and every table, column and prefix the rules name exists.

use chrono::{DateTime, Utc};
use retention::rules::{ObjectSubject, SubjectColumn, Target};
use sqlx::{Connection, Row, SqliteConnection};
use std::collections::BTreeSet;

async fn columns(conn: &mut SqliteConnection, table: &str) -> BTreeSet<String> {
    sqlx::query("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(conn)
        .await
        .expect("read the table's columns")
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .collect()
}

#[tokio::test]
async fn every_table_and_column_named_by_the_shipped_rules_exists_in_the_demo_database() {
    let dir = tempfile::tempdir().unwrap();
    let as_of: DateTime<Utc> = "2026-11-23T03:00:00Z".parse().unwrap();
    let paths = retention::demo::seed::seed(dir.path(), as_of)
        .await
        .expect("seed");

    let config = retention::config::load(&paths.config).unwrap_or_else(|d| panic!("{d}"));
    let rules = retention::rules::load(&config)
        .unwrap_or_else(|d| panic!("{d}"))
        .rules;
    assert!(rules.rules.len() >= 12);

    let url = format!("sqlite://{}?mode=ro", paths.database.display());
    let mut conn = SqliteConnection::connect(&url).await.expect("open demo.db");
    let mut missing = Vec::new();
    for rule in &rules.rules {
        for target in &rule.targets {
            match target {
                Target::Table(t) => {
                    let have = columns(&mut conn, t.table.as_str()).await;
                    let mut want: Vec<String> = t.key.iter().map(|c| c.to_string()).collect();
                    want.extend(t.timestamp.iter().map(|ts| ts.column.to_string()));
                    want.extend(t.erasure_flag.iter().map(|c| c.to_string()));
                    want.extend(t.marker.iter().map(|c| c.to_string()));
                    want.extend(t.filter.iter().map(|f| f.column.to_string()));
                    want.extend(t.anonymise.iter().map(|(c, _)| c.to_string()));
                    match &t.subject {
                        Some(SubjectColumn::Column(c)) => want.push(c.to_string()),
                        Some(SubjectColumn::Via {
                            column,
                            table,
                            key,
                            subject,
                        }) => {
                            want.push(column.to_string());
                            let other = columns(&mut conn, table.as_str()).await;
                            for c in [key, subject] {
                                if !other.contains(c.as_str()) {
                                    missing.push(format!("{}: {table}.{c}", rule.category));
                                }
                            }
                        }
                        None => {}
                    }
                    for c in want {
                        if !have.contains(&c) {
                            missing.push(format!("{}: {}.{c}", rule.category, t.table));
                        }
                    }
                    let rows: i64 =
                        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\"", t.table))
                            .fetch_one(&mut conn)
                            .await
                            .unwrap();
                    assert!(rows >= 20, "{} has only {rows} rows", t.table);
                }
                Target::Objects(o) => {
                    let prefix_dir = paths.media.join(&o.prefix);
                    let files = std::fs::read_dir(&prefix_dir)
                        .unwrap_or_else(|e| panic!("{}: {e}", prefix_dir.display()))
                        .count();
                    assert!(files > 0, "no objects under {}", o.prefix);
                    if let Some(ObjectSubject::KeyPattern(p)) = &o.subject {
                        assert!(p.starts_with(&o.prefix));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "missing in demo.db: {missing:#?}");
}

#[tokio::test]
async fn the_demo_data_holds_expired_fresh_flagged_and_undated_rows() {
    let dir = tempfile::tempdir().unwrap();
    let as_of: DateTime<Utc> = "2026-11-23T03:00:00Z".parse().unwrap();
    let paths = retention::demo::seed::seed(dir.path(), as_of)
        .await
        .expect("seed");
    let url = format!("sqlite://{}?mode=ro", paths.database.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let cutoff: DateTime<Utc> = "2026-08-25T03:00:00Z".parse().unwrap(); // 90 days
    let count = |sql: &'static str| sql;
    let expired: i64 = sqlx::query_scalar(count(
        "SELECT count(*) FROM device_locations WHERE recorded_at < ?",
    ))
    .bind(cutoff)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let fresh: i64 = sqlx::query_scalar(count(
        "SELECT count(*) FROM device_locations WHERE recorded_at >= ?",
    ))
    .bind(cutoff)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let flagged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM accounts WHERE erase_requested_at IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts WHERE closed_at IS NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(expired > 0 && fresh > 0, "expired {expired}, fresh {fresh}");
    assert!(flagged > 0, "no flagged accounts");
    assert!(open > 0, "no accounts with a NULL closing time");

    // The same as_of gives the same data.
    let again = tempfile::tempdir().unwrap();
    let paths2 = retention::demo::seed::seed(again.path(), as_of)
        .await
        .unwrap();
    let mut conn2 =
        SqliteConnection::connect(&format!("sqlite://{}?mode=ro", paths2.database.display()))
            .await
            .unwrap();
    let digest =
        "SELECT group_concat(email || coalesce(closed_at, '-'), ',') FROM accounts ORDER BY id";
    let a: String = sqlx::query_scalar(digest)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let b: String = sqlx::query_scalar(digest)
        .fetch_one(&mut conn2)
        .await
        .unwrap();
    assert_eq!(a, b);
}
