//! The erasure request queue in the state store (`retention_requests`).
//!
//! This table is a stable interface (docs/requests.md): `retention request add` writes
//! to it, and so may a ticketing system, with a plain `INSERT (ticket, subject)`. `run`
//! processes the `pending` rows before retention work and writes back `status`,
//! `processed_at`, `run_id` and `outcome`; `erase` records its ticket here too, so one
//! table answers "what happened to ticket T".

use super::timestamps;
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::is_unique_violation;
use crate::stores::sql::value::{ColumnKind, Value};
use crate::stores::sql::{Dialect, SqlPool};
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};

/// Where a request stands. Stored as lowercase text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the next run.
    Pending,
    /// Every record of the subject was erased, anonymised, or kept by a rule's obligation.
    Done,
    /// Some records remain because the subject is held, or they are locked (still
    /// referenced by kept records, or under Object Lock).
    Partial,
    /// A target failed; the outcome names the reason class.
    Failed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Partial => "partial",
            Status::Failed => "failed",
        }
    }
}

/// One request as stored. `outcome` is the JSON object described in docs/requests.md.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub ticket: String,
    pub subject: String,
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    pub run_id: Option<String>,
    pub outcome: Option<String>,
}

/// Why a request cannot be queued as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadRequest {
    #[error("--ticket: the ticket id is empty")]
    EmptyTicket,
    #[error("--ticket: a ticket id is at most 191 characters")]
    LongTicket,
    #[error("--subject: the subject id is empty")]
    EmptySubject,
    #[error("--ticket: ticket `{0}` already exists (ticket ids are unique; `retention request list` shows it)")]
    Duplicate(String),
    #[error("--ticket: ticket `{0}` already belongs to another subject; use a new ticket id")]
    OtherSubject(String),
}

/// Checks a request's fields before anything is written.
pub fn validate(ticket: &str, subject: &str) -> Result<(), BadRequest> {
    if ticket.trim().is_empty() {
        return Err(BadRequest::EmptyTicket);
    }
    if ticket.chars().count() > 191 {
        return Err(BadRequest::LongTicket);
    }
    if subject.trim().is_empty() {
        return Err(BadRequest::EmptySubject);
    }
    Ok(())
}

/// Queues a request. A ticket id that exists already is refused.
pub async fn add(pool: &SqlPool, ticket: &str, subject: &str, now: DateTime<Utc>) -> Result<()> {
    let q = SqlText::statement(
        pool.dialect(),
        "INSERT INTO retention_requests (ticket, subject, status, created_at) VALUES (?, ?, 'pending', ?)",
        vec![
            Value::Text(ticket.to_owned()),
            Value::Text(subject.to_owned()),
            stamp(pool.dialect(), now),
        ],
    );
    match pool.execute(&q).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(BadRequest::Duplicate(ticket.to_owned()).into()),
        Err(e) => Err(e.context(
            "queueing the request (run `retention migrate` first if the state store is new)",
        )),
    }
}

/// Every request, oldest first.
pub async fn list(pool: &SqlPool) -> Result<Vec<Request>> {
    read(pool, false).await
}

/// The pending requests, oldest first (ties by ticket).
pub async fn pending(pool: &SqlPool) -> Result<Vec<Request>> {
    read(pool, true).await
}

/// The stored request of `ticket`, if any.
pub async fn find(pool: &SqlPool, ticket: &str) -> Result<Option<Request>> {
    Ok(list(pool).await?.into_iter().find(|r| r.ticket == ticket))
}

async fn read(pool: &SqlPool, only_pending: bool) -> Result<Vec<Request>> {
    let q = format!(
        "SELECT ticket, subject, status, created_at, processed_at, run_id, outcome \
         FROM retention_requests{} ORDER BY created_at, ticket",
        if only_pending {
            " WHERE status = 'pending'"
        } else {
            ""
        }
    );
    type Row<T> = (
        String,
        String,
        String,
        Option<T>,
        Option<T>,
        Option<String>,
        Option<String>,
    );
    let build = |r: Row<()>, created, processed| Request {
        ticket: r.0,
        subject: r.1,
        status: r.2,
        created_at: created,
        processed_at: processed,
        run_id: r.5,
        outcome: r.6,
    };
    let rows = match pool {
        SqlPool::Pg(p) => sqlx::query_as::<_, Row<DateTime<Utc>>>(&q)
            .fetch_all(p)
            .await
            .map(|rows| {
                rows.into_iter()
                    .map(|r| build((r.0, r.1, r.2, None, None, r.5, r.6), r.3, r.4))
                    .collect::<Vec<_>>()
            }),
        SqlPool::My(p) => sqlx::query_as::<_, Row<NaiveDateTime>>(&q)
            .fetch_all(p)
            .await
            .map(|rows| {
                rows.into_iter()
                    .map(|r| {
                        let (c, d) = (timestamps::from_naive(r.3), timestamps::from_naive(r.4));
                        build((r.0, r.1, r.2, None, None, r.5, r.6), c, d)
                    })
                    .collect()
            }),
        SqlPool::Lite(p) => sqlx::query_as::<_, Row<String>>(&q)
            .fetch_all(p)
            .await
            .map(|rows| {
                rows.into_iter()
                    .map(|r| {
                        let (c, d) = (timestamps::from_text(r.3), timestamps::from_text(r.4));
                        build((r.0, r.1, r.2, None, None, r.5, r.6), c, d)
                    })
                    .collect()
            }),
    }
    .context(
        "reading erasure requests (run `retention migrate` first if the state store is new)",
    )?;
    Ok(rows)
}

/// Records a request's outcome: updates the row of `ticket`, or inserts it (an `erase`
/// that was not queued first).
pub async fn record(
    pool: &SqlPool,
    ticket: &str,
    subject: &str,
    status: Status,
    run_id: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let (dialect, s) = (pool.dialect(), status.as_str());
    let update = SqlText::statement(
        dialect,
        "UPDATE retention_requests SET status = ?, processed_at = ?, run_id = ?, outcome = ? WHERE ticket = ?",
        vec![
            Value::Text(s.to_owned()),
            stamp(dialect, now),
            Value::Text(run_id.to_owned()),
            Value::Text(outcome.to_owned()),
            Value::Text(ticket.to_owned()),
        ],
    );
    let updated = pool
        .execute(&update)
        .await
        .context("recording the request's outcome")?;
    if updated > 0 {
        return Ok(());
    }
    let insert = SqlText::statement(
        dialect,
        "INSERT INTO retention_requests (ticket, subject, status, created_at, processed_at, run_id, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            Value::Text(ticket.to_owned()),
            Value::Text(subject.to_owned()),
            Value::Text(s.to_owned()),
            stamp(dialect, now),
            stamp(dialect, now),
            Value::Text(run_id.to_owned()),
            Value::Text(outcome.to_owned()),
        ],
    );
    pool.execute(&insert)
        .await
        .map(drop)
        .context("recording the request's outcome")
}

/// The value written for the instant `t` in a timestamp column of this table: the
/// instant on PostgreSQL, its UTC wall-clock time on MySQL/MariaDB, RFC 3339 text on
/// SQLite.
fn stamp(dialect: Dialect, t: DateTime<Utc>) -> Value {
    let kind = match dialect {
        Dialect::Postgres => ColumnKind::Instant,
        Dialect::MySql => ColumnKind::Naive,
        Dialect::Sqlite => ColumnKind::Text,
    };
    kind.instant(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_a_ticket_and_a_subject() {
        assert_eq!(validate(" ", "42"), Err(BadRequest::EmptyTicket));
        assert_eq!(validate("DSAR-1", ""), Err(BadRequest::EmptySubject));
        assert_eq!(
            validate(&"T".repeat(192), "42"),
            Err(BadRequest::LongTicket)
        );
        assert_eq!(validate("DSAR-1", "42"), Ok(()));
    }
}
