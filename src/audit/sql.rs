//! Appending audit entries to the state store, in the caller's transaction or in one of
//! their own. The head row is locked first, so `seq` has no gaps and `prev` is exact.

use super::entry::{leaf_hash, seal, EntryDraft};
use super::Appended;
use crate::stores::sql::{SqlConn, SqlPool};
use anyhow::{Context, Result};
use chrono::Utc;

/// Appends one entry in a transaction of its own.
pub async fn append_standalone(
    pool: &SqlPool,
    run: &str,
    dry_run: bool,
    draft: &EntryDraft,
) -> Result<Appended> {
    let appended = match pool {
        SqlPool::Pg(p) => {
            let mut tx = p.begin().await?;
            let a = append_in(SqlConn::Pg(&mut tx), run, dry_run, draft).await?;
            tx.commit().await?;
            a
        }
        SqlPool::My(p) => {
            let mut tx = p.begin().await?;
            let a = append_in(SqlConn::My(&mut tx), run, dry_run, draft).await?;
            tx.commit().await?;
            a
        }
        SqlPool::Lite(p) => {
            let mut tx = p.begin().await?;
            let a = append_in(SqlConn::Lite(&mut tx), run, dry_run, draft).await?;
            tx.commit().await?;
            a
        }
    };
    Ok(appended)
}

/// Appends one entry inside the caller's transaction.
pub async fn append_in(
    mut conn: SqlConn<'_>,
    run: &str,
    dry_run: bool,
    draft: &EntryDraft,
) -> Result<Appended> {
    // The no-op UPDATE takes the head row's write lock on every dialect (SQLite included,
    // where a SELECT first would only take a shared lock and could deadlock on upgrade).
    const LOCK: &str = "UPDATE retention_audit_head SET seq = seq WHERE id = 1";
    const HEAD: &str = "SELECT seq, leaf_hash FROM retention_audit_head WHERE id = 1";
    let (seq, prev): (i64, Vec<u8>) = match conn {
        SqlConn::Pg(ref mut c) => {
            sqlx::query(LOCK).execute(&mut **c).await?;
            sqlx::query_as(HEAD).fetch_one(&mut **c).await?
        }
        SqlConn::My(ref mut c) => {
            sqlx::query(LOCK).execute(&mut **c).await?;
            sqlx::query_as(HEAD).fetch_one(&mut **c).await?
        }
        SqlConn::Lite(ref mut c) => {
            sqlx::query(LOCK).execute(&mut **c).await?;
            sqlx::query_as(HEAD).fetch_one(&mut **c).await?
        }
    };
    let seq = u64::try_from(seq).context("the audit head holds a negative sequence number")? + 1;
    let prev: Option<[u8; 32]> = prev.as_slice().try_into().ok();
    let line = seal(draft, seq, Utc::now(), run, dry_run, prev.as_ref());
    let leaf = leaf_hash(&line);
    let seq_i = i64::try_from(seq).context("the audit log is full")?;
    match conn {
        SqlConn::Pg(c) => {
            sqlx::query("INSERT INTO retention_audit (seq, line, leaf_hash) VALUES ($1, $2, $3)")
                .bind(seq_i)
                .bind(&line)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE retention_audit_head SET seq = $1, leaf_hash = $2 WHERE id = 1")
                .bind(seq_i)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
        }
        SqlConn::My(c) => {
            sqlx::query("INSERT INTO retention_audit (seq, line, leaf_hash) VALUES (?, ?, ?)")
                .bind(seq_i)
                .bind(&line)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE retention_audit_head SET seq = ?, leaf_hash = ? WHERE id = 1")
                .bind(seq_i)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
        }
        SqlConn::Lite(c) => {
            sqlx::query("INSERT INTO retention_audit (seq, line, leaf_hash) VALUES (?, ?, ?)")
                .bind(seq_i)
                .bind(&line)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE retention_audit_head SET seq = ?, leaf_hash = ? WHERE id = 1")
                .bind(seq_i)
                .bind(&leaf[..])
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(Appended {
        seq,
        line,
        leaf_hash: leaf,
    })
}
