//! The erasure request queue in the state store (`retention_requests`).
//!
//! This table is a stable interface (docs/requests.md): `retention request add` writes
//! to it, and so may a ticketing system, with a plain `INSERT (ticket, subject)`. `run`
//! processes the `pending` rows before retention work and writes back `status`,
//! `processed_at`, `run_id` and `outcome`; `erase` records its ticket here too, so one
//! table answers "what happened to ticket T". Queueing is a `request_queued` audit entry
//! (ticket, subject pseudonym, when): written with the row by `request add`, and by the
//! next run for a row a ticketing system inserted itself (`queued_seq` marks the rows the
//! log already shows).

use super::timestamps;
use crate::audit::{AuditLog, EntryDraft, Kind};
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::{execute, is_unique_violation};
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
    #[error(
        "--ticket: a ticket id holds letters, digits and - _ . : / # only: it is written to \
         the audit log as it is, which keeps no names, emails or free text (use the \
         ticketing system's id)"
    )]
    TicketChars,
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
    if !ticket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/#".contains(c))
    {
        return Err(BadRequest::TicketChars);
    }
    if subject.trim().is_empty() {
        return Err(BadRequest::EmptySubject);
    }
    Ok(())
}

/// The `request_queued` entry of `ticket`.
fn queued(audit: &AuditLog, ticket: &str, subject: &str, at: DateTime<Utc>) -> EntryDraft {
    EntryDraft {
        ticket: Some(ticket.to_owned()),
        subject: Some(audit.pseudonym(subject)),
        queued_at: Some(at),
        ..EntryDraft::new(Kind::RequestQueued)
    }
}

/// Queues a request, with its `request_queued` entry in the same transaction. A ticket id
/// that exists already is refused, and nothing is written.
pub async fn add(
    pool: &SqlPool,
    audit: &AuditLog,
    ticket: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    const HINT: &str =
        "queueing the request (run `retention migrate` first if the state store is new)";
    let mut tx = pool.begin().await.context(HINT)?;
    let appended = audit
        .append_in(tx.conn(), queued(audit, ticket, subject, now))
        .await?;
    let q = SqlText::statement(
        pool.dialect(),
        "INSERT INTO retention_requests (ticket, subject, status, created_at, queued_seq) VALUES (?, ?, 'pending', ?, ?)",
        vec![
            Value::Text(ticket.to_owned()),
            Value::Text(subject.to_owned()),
            stamp(pool.dialect(), now),
            Value::I64(i64::try_from(appended.seq).context("seq out of range")?),
        ],
    );
    match execute(&mut tx.conn(), &q).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(BadRequest::Duplicate(ticket.to_owned()).into())
        }
        Err(e) => return Err(e.context(HINT)),
    }
    tx.commit().await.context(HINT)?;
    audit.after_commit(&appended).await
}

/// Writes a `request_queued` entry for every pending request the log does not show yet
/// (rows a ticketing system inserted itself), dated when the row was created, and marks
/// the row in the same transaction. Returns how many were recorded.
pub async fn audit_queued(pool: &SqlPool, audit: &AuditLog) -> Result<usize> {
    const Q: &str =
        "SELECT ticket FROM retention_requests WHERE status = 'pending' AND queued_seq IS NULL";
    let tickets: Vec<(String,)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(Q).fetch_all(p).await,
        SqlPool::My(p) => sqlx::query_as(Q).fetch_all(p).await,
        SqlPool::Lite(p) => sqlx::query_as(Q).fetch_all(p).await,
    }
    .context(
        "reading erasure requests (run `retention migrate` first if the state store is new)",
    )?;
    let unlogged: Vec<Request> = pending(pool)
        .await?
        .into_iter()
        .filter(|r| tickets.iter().any(|(t,)| *t == r.ticket))
        // A row without a subject is failed by the run, not queued.
        .filter(|r| validate(&r.ticket, &r.subject).is_ok())
        .collect();
    for r in &unlogged {
        let mut tx = pool.begin().await.context("recording a queued request")?;
        let at = r.created_at.unwrap_or_else(Utc::now);
        let appended = audit
            .append_in(tx.conn(), queued(audit, &r.ticket, &r.subject, at))
            .await?;
        let q = SqlText::statement(
            pool.dialect(),
            "UPDATE retention_requests SET queued_seq = ? WHERE ticket = ? AND queued_seq IS NULL",
            vec![
                Value::I64(i64::try_from(appended.seq).context("seq out of range")?),
                Value::Text(r.ticket.clone()),
            ],
        );
        execute(&mut tx.conn(), &q)
            .await
            .context("recording a queued request")?;
        tx.commit().await.context("recording a queued request")?;
        audit.after_commit(&appended).await?;
    }
    Ok(unlogged.len())
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
        for personal in ["erase alice.smith@example.com", "Alice Smith", "a@b", "tél"] {
            assert_eq!(
                validate(personal, "42"),
                Err(BadRequest::TicketChars),
                "{personal}"
            );
        }
        assert!(validate("JIRA-PRIV:1042/a#2_b.c", "42").is_ok());
        assert_eq!(
            validate(&"T".repeat(192), "42"),
            Err(BadRequest::LongTicket)
        );
        assert_eq!(validate("DSAR-1", "42"), Ok(()));
    }
}
