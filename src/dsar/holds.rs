//! Legal holds in the state store (`retention_holds`): while a hold stands, nothing of the
//! subject is deleted or anonymised, by `run` or by `erase`; the held records are counted
//! and reported instead. A hold may lapse by itself (`until`).
//!
//! Which holds are in force at a run's `as_of` is [`crate::state::holds::in_force`]; this
//! module adds, lifts and lists them.

use super::timestamps;
use crate::stores::sql::dialect::{placeholder_or_null, SqlText};
use crate::stores::sql::value::{ColumnKind, Value};
use crate::stores::sql::{Dialect, SqlPool};
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};

/// One hold as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub subject: String,
    pub reason: String,
    /// When the hold lapses; `None`: until lifted.
    pub until: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// Why a hold cannot be stored as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadHold {
    #[error("--subject: the subject id is empty")]
    EmptySubject,
    #[error("--reason: say why the subject is held (a case or matter reference, say)")]
    EmptyReason,
    #[error("--subject: a subject id is at most 191 characters")]
    LongSubject,
}

/// Checks a hold's fields before anything is written.
pub fn validate(subject: &str, reason: &str) -> Result<(), BadHold> {
    if subject.trim().is_empty() {
        return Err(BadHold::EmptySubject);
    }
    if subject.chars().count() > 191 {
        return Err(BadHold::LongSubject);
    }
    if reason.trim().is_empty() {
        return Err(BadHold::EmptyReason);
    }
    Ok(())
}

/// Puts `subject` under hold, or replaces the reason and expiry of its existing hold.
pub async fn add(
    pool: &SqlPool,
    subject: &str,
    reason: &str,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let dialect = pool.dialect();
    let upsert = match dialect {
        Dialect::MySql => {
            "ON DUPLICATE KEY UPDATE reason = VALUES(reason), until_at = VALUES(until_at)"
        }
        _ => "ON CONFLICT (subject) DO UPDATE SET reason = excluded.reason, until_at = excluded.until_at",
    };
    // MySQL/MariaDB stores DATETIME in UTC; the others take the instant as it is.
    let kind = match dialect {
        Dialect::MySql => ColumnKind::Naive,
        _ => ColumnKind::Instant,
    };
    let (until_sql, until) = placeholder_or_null(until.map(|t| kind.instant(t)));
    let mut values = vec![
        Value::Text(subject.to_owned()),
        Value::Text(reason.to_owned()),
    ];
    values.extend(until);
    values.push(kind.instant(now));
    let q = SqlText::statement(
        dialect,
        &format!("INSERT INTO retention_holds (subject, reason, until_at, created_at) VALUES (?, ?, {until_sql}, ?) {upsert}"),
        values,
    );
    pool.execute(&q)
        .await
        .map(drop)
        .context("storing the hold (run `retention migrate` first if the state store is new)")
}

/// Lifts the hold on `subject`; `false` when there was none.
pub async fn remove(pool: &SqlPool, subject: &str) -> Result<bool> {
    let q = SqlText::statement(
        pool.dialect(),
        "DELETE FROM retention_holds WHERE subject = ?",
        vec![Value::Text(subject.to_owned())],
    );
    let n = pool.execute(&q).await.context("lifting the hold")?;
    Ok(n > 0)
}

/// Every stored hold, lapsed ones included (the caller marks them), by subject.
pub async fn list(pool: &SqlPool) -> Result<Vec<Hold>> {
    const Q: &str =
        "SELECT subject, reason, until_at, created_at FROM retention_holds ORDER BY subject";
    let rows = match pool {
        SqlPool::Pg(p) => {
            sqlx::query_as::<_, (String, String, Option<DateTime<Utc>>, DateTime<Utc>)>(Q)
                .fetch_all(p)
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|(subject, reason, until, created)| Hold {
                            subject,
                            reason,
                            until,
                            created_at: Some(created),
                        })
                        .collect::<Vec<_>>()
                })
        }
        SqlPool::My(p) => {
            sqlx::query_as::<_, (String, String, Option<NaiveDateTime>, NaiveDateTime)>(Q)
                .fetch_all(p)
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|(subject, reason, until, created)| Hold {
                            subject,
                            reason,
                            until: timestamps::from_naive(until),
                            created_at: timestamps::from_naive(Some(created)),
                        })
                        .collect()
                })
        }
        SqlPool::Lite(p) => {
            sqlx::query_as::<_, (String, String, Option<String>, Option<String>)>(Q)
                .fetch_all(p)
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|(subject, reason, until, created)| Hold {
                            subject,
                            reason,
                            until: timestamps::from_text(until),
                            created_at: timestamps::from_text(created),
                        })
                        .collect()
                })
        }
    }
    .context("reading legal holds (run `retention migrate` first if the state store is new)")?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_needs_a_subject_and_a_reason() {
        assert_eq!(validate("", "case 7"), Err(BadHold::EmptySubject));
        assert_eq!(validate("42", "  "), Err(BadHold::EmptyReason));
        assert_eq!(validate(&"x".repeat(192), "r"), Err(BadHold::LongSubject));
        assert_eq!(validate("42", "Litigation hold, matter 2026-17"), Ok(()));
    }
}
