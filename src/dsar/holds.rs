//! Legal holds in the state store (`retention_holds`): while a hold stands, nothing of the
//! subject is deleted or anonymised, by `run` or by `erase`; the held records are counted
//! and reported instead. A hold may lapse by itself (`until`).
//!
//! Which holds are in force at a run's `as_of` is [`crate::state::holds::in_force`]; this
//! module adds, lifts and lists them. Each change is a `hold` audit entry (added, removed,
//! and expired when a run notices a lapsed one) written in the same transaction: the
//! subject as a pseudonym and the hold's end, never the reason.

use super::timestamps;
use crate::audit::{AuditLog, EntryDraft, HoldEvent, Kind};
use crate::stores::sql::dialect::{placeholder_or_null, SqlText};
use crate::stores::sql::exec::execute;
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

/// The `hold` entry for `subject`.
fn entry(
    audit: &AuditLog,
    subject: &str,
    event: HoldEvent,
    until: Option<DateTime<Utc>>,
) -> EntryDraft {
    EntryDraft {
        subject: Some(audit.pseudonym(subject)),
        hold: Some(event),
        until,
        ..EntryDraft::new(Kind::Hold)
    }
}

/// Puts `subject` under hold, or replaces the reason and expiry of its existing hold, with
/// its `hold` (added) entry in the same transaction.
pub async fn add(
    pool: &SqlPool,
    audit: &AuditLog,
    subject: &str,
    reason: &str,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let dialect = pool.dialect();
    // A hold put back in place may lapse again, and that lapse is recorded again.
    let upsert = match dialect {
        Dialect::MySql => {
            "ON DUPLICATE KEY UPDATE reason = VALUES(reason), until_at = VALUES(until_at), lapse_seq = NULL"
        }
        _ => "ON CONFLICT (subject) DO UPDATE SET reason = excluded.reason, until_at = excluded.until_at, lapse_seq = NULL",
    };
    // MySQL/MariaDB stores DATETIME in UTC; the others take the instant as it is.
    let kind = match dialect {
        Dialect::MySql => ColumnKind::Naive,
        _ => ColumnKind::Instant,
    };
    let (until_sql, until_value) = placeholder_or_null(until.map(|t| kind.instant(t)));
    let mut values = vec![
        Value::Text(subject.to_owned()),
        Value::Text(reason.to_owned()),
    ];
    values.extend(until_value);
    values.push(kind.instant(now));
    let q = SqlText::statement(
        dialect,
        &format!("INSERT INTO retention_holds (subject, reason, until_at, created_at) VALUES (?, ?, {until_sql}, ?) {upsert}"),
        values,
    );
    const HINT: &str = "storing the hold (run `retention migrate` first if the state store is new)";
    let mut tx = pool.begin().await.context(HINT)?;
    execute(&mut tx.conn(), &q).await.context(HINT)?;
    let appended = audit
        .append_in(tx.conn(), entry(audit, subject, HoldEvent::Added, until))
        .await?;
    tx.commit().await.context(HINT)?;
    audit.after_commit(&appended).await
}

/// Lifts the hold on `subject`, with its `hold` (removed) entry; `false` when there was
/// none (and nothing is written).
pub async fn remove(pool: &SqlPool, audit: &AuditLog, subject: &str) -> Result<bool> {
    let q = SqlText::statement(
        pool.dialect(),
        "DELETE FROM retention_holds WHERE subject = ?",
        vec![Value::Text(subject.to_owned())],
    );
    let mut tx = pool.begin().await.context("lifting the hold")?;
    let n = execute(&mut tx.conn(), &q)
        .await
        .context("lifting the hold")?;
    if n == 0 {
        return Ok(false);
    }
    let appended = audit
        .append_in(tx.conn(), entry(audit, subject, HoldEvent::Removed, None))
        .await?;
    tx.commit().await.context("lifting the hold")?;
    audit.after_commit(&appended).await?;
    Ok(true)
}

/// Records every hold that lapsed by `as_of` and that the log does not show yet as a
/// `hold` (expired) entry, each with the mark that it was recorded, in one transaction.
/// Returns how many were recorded.
pub async fn audit_lapsed(pool: &SqlPool, audit: &AuditLog, as_of: DateTime<Utc>) -> Result<usize> {
    let lapsed: Vec<(String, DateTime<Utc>)> = unrecorded_ends(pool)
        .await?
        .into_iter()
        .filter(|(_, until)| *until <= as_of)
        .collect();
    for (subject, until) in &lapsed {
        let mut tx = pool.begin().await.context("recording a lapsed hold")?;
        let appended = audit
            .append_in(
                tx.conn(),
                entry(audit, subject, HoldEvent::Expired, Some(*until)),
            )
            .await?;
        let q = SqlText::statement(
            pool.dialect(),
            "UPDATE retention_holds SET lapse_seq = ? WHERE subject = ? AND lapse_seq IS NULL",
            vec![
                Value::I64(i64::try_from(appended.seq).context("seq out of range")?),
                Value::Text(subject.clone()),
            ],
        );
        execute(&mut tx.conn(), &q)
            .await
            .context("recording a lapsed hold")?;
        tx.commit().await.context("recording a lapsed hold")?;
        audit.after_commit(&appended).await?;
    }
    Ok(lapsed.len())
}

/// `subject` read as text: on MySQL/MariaDB the column is binary-collated (ids are
/// compared byte for byte), which sqlx would read as VARBINARY.
fn subject_text(pool: &SqlPool) -> String {
    pool.dialect().as_text("subject")
}

/// Holds with an end whose lapse is not recorded yet: (subject, until).
async fn unrecorded_ends(pool: &SqlPool) -> Result<Vec<(String, DateTime<Utc>)>> {
    let q = format!(
        "SELECT {}, until_at FROM retention_holds \
         WHERE until_at IS NOT NULL AND lapse_seq IS NULL ORDER BY subject",
        subject_text(pool)
    );
    let rows: Vec<(String, Option<DateTime<Utc>>)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as::<_, (String, DateTime<Utc>)>(&q)
            .fetch_all(p)
            .await
            .map(|r| r.into_iter().map(|(s, t)| (s, Some(t))).collect()),
        SqlPool::My(p) => sqlx::query_as::<_, (String, NaiveDateTime)>(&q)
            .fetch_all(p)
            .await
            .map(|r| {
                r.into_iter()
                    .map(|(s, t)| (s, timestamps::from_naive(Some(t))))
                    .collect()
            }),
        SqlPool::Lite(p) => sqlx::query_as::<_, (String, String)>(&q)
            .fetch_all(p)
            .await
            .map(|r| {
                r.into_iter()
                    .map(|(s, t)| (s, timestamps::from_text(Some(t))))
                    .collect()
            }),
    }
    .context("reading legal holds (run `retention migrate` first if the state store is new)")?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, t)| Some((s, t?)))
        .collect())
}

/// Every stored hold, lapsed ones included (the caller marks them), by subject.
pub async fn list(pool: &SqlPool) -> Result<Vec<Hold>> {
    let q = format!(
        "SELECT {}, reason, until_at, created_at FROM retention_holds ORDER BY subject",
        subject_text(pool)
    );
    let rows = match pool {
        SqlPool::Pg(p) => {
            sqlx::query_as::<_, (String, String, Option<DateTime<Utc>>, DateTime<Utc>)>(&q)
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
            sqlx::query_as::<_, (String, String, Option<NaiveDateTime>, NaiveDateTime)>(&q)
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
            sqlx::query_as::<_, (String, String, Option<String>, Option<String>)>(&q)
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
