//! The audit log in the state store: appending entries (in the caller's transaction or in
//! one of their own) and reading them back for verification.
//!
//! An append locks the head row first, so `seq` has no gaps and `prev` is exact even with
//! concurrent shards. The head row also keeps the tree's [`Frontier`], so a checkpoint
//! written in the same transaction costs O(log n).

use super::checkpoint::CheckpointSigner;
use super::entry::{seal, EntryDraft, Kind};
use super::tree::{leaf_hash, Frontier, Hash};
use super::Appended;
use crate::stores::sql::{SqlConn, SqlPool};
use anyhow::{Context, Result};
use chrono::Utc;

/// A checkpoint is written every this many entries, besides every `run_end`.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// One stored entry as read back: the `seq` column, the exact line, the `leaf_hash` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub line: Vec<u8>,
    pub leaf_hash: Option<Vec<u8>>,
}

/// One stored checkpoint: the `size` column and the signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

/// Everything `audit verify` reads from a log.
#[derive(Debug, Clone, Default)]
pub struct StoredLog {
    pub entries: Vec<StoredEntry>,
    pub checkpoints: Vec<StoredCheckpoint>,
    /// The head row (`seq`, `leaf_hash`), where the log has one.
    pub head: Option<(u64, Vec<u8>)>,
}

/// Runs `$body` with `$c` bound to the connection of whichever dialect `$conn` is.
macro_rules! each_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            SqlConn::Pg(ref mut $c) => $body,
            SqlConn::My(ref mut $c) => $body,
            SqlConn::Lite(ref mut $c) => $body,
        }
    };
}

/// Runs `$body` with `$p` bound to the pool of whichever dialect `$pool` is.
macro_rules! each_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            SqlPool::Pg($p) => $body,
            SqlPool::My($p) => $body,
            SqlPool::Lite($p) => $body,
        }
    };
}

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL.
fn sql(conn: &SqlConn<'_>, text: &str) -> String {
    match conn {
        SqlConn::Pg(_) => {
            let mut out = String::with_capacity(text.len() + 8);
            let mut n = 0;
            for ch in text.chars() {
                if ch == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(ch);
                }
            }
            out
        }
        _ => text.to_owned(),
    }
}

/// Appends one entry in a transaction of its own.
pub async fn append_standalone(
    pool: &SqlPool,
    run: &str,
    dry_run: bool,
    signer: Option<&CheckpointSigner>,
    draft: &EntryDraft,
) -> Result<Appended> {
    const BEGIN: &str = "cannot begin a transaction on the state store";
    const COMMIT: &str = "cannot commit an audit entry";
    let appended = match pool {
        SqlPool::Pg(p) => {
            let mut tx = p.begin().await.context(BEGIN)?;
            let a = append_in(SqlConn::Pg(&mut tx), run, dry_run, signer, draft).await?;
            tx.commit().await.context(COMMIT)?;
            a
        }
        SqlPool::My(p) => {
            let mut tx = p.begin().await.context(BEGIN)?;
            let a = append_in(SqlConn::My(&mut tx), run, dry_run, signer, draft).await?;
            tx.commit().await.context(COMMIT)?;
            a
        }
        SqlPool::Lite(p) => {
            let mut tx = p.begin().await.context(BEGIN)?;
            let a = append_in(SqlConn::Lite(&mut tx), run, dry_run, signer, draft).await?;
            tx.commit().await.context(COMMIT)?;
            a
        }
    };
    Ok(appended)
}

/// Appends one entry inside the caller's transaction, and the checkpoint it calls for.
pub async fn append_in(
    mut conn: SqlConn<'_>,
    run: &str,
    dry_run: bool,
    signer: Option<&CheckpointSigner>,
    draft: &EntryDraft,
) -> Result<Appended> {
    // The no-op UPDATE takes the head row's write lock on every dialect (SQLite included,
    // where a SELECT first would only take a shared lock and could deadlock on upgrade).
    const LOCK: &str = "UPDATE retention_audit_head SET seq = seq WHERE id = 1";
    const HEAD: &str = "SELECT seq, leaf_hash, frontier FROM retention_audit_head WHERE id = 1";
    let (seq, prev, frontier): (i64, Vec<u8>, Vec<u8>) = each_conn!(conn, c => {
        sqlx::query(LOCK).execute(&mut **c).await.context("cannot lock the audit head")?;
        sqlx::query_as(HEAD).fetch_one(&mut **c).await.context("cannot read the audit head (has `retention migrate` run?)")?
    });
    let last = u64::try_from(seq).context("the audit head holds a negative sequence number")?;
    let mut frontier = match Frontier::from_bytes(last, &frontier) {
        Some(f) => f,
        None => rebuild_frontier(&mut conn, last).await?,
    };
    let seq = last + 1;
    let prev: Option<Hash> = prev.as_slice().try_into().ok();
    let line = seal(draft, seq, Utc::now(), run, dry_run, prev.as_ref());
    let leaf = leaf_hash(&line);
    frontier.push(leaf);
    let seq_i = i64::try_from(seq).context("the audit log is full")?;

    let insert = sql(
        &conn,
        "INSERT INTO retention_audit (seq, line, leaf_hash) VALUES (?, ?, ?)",
    );
    let update = sql(
        &conn,
        "UPDATE retention_audit_head SET seq = ?, leaf_hash = ?, frontier = ? WHERE id = 1",
    );
    let frontier_bytes = frontier.to_bytes();
    each_conn!(conn, c => {
        sqlx::query(&insert)
            .bind(seq_i)
            .bind(&line)
            .bind(&leaf[..])
            .execute(&mut **c)
            .await
            .context("cannot insert the audit entry")?;
        sqlx::query(&update)
            .bind(seq_i)
            .bind(&leaf[..])
            .bind(&frontier_bytes)
            .execute(&mut **c)
            .await
            .context("cannot advance the audit head")?;
    });

    let due = draft.kind == Some(Kind::RunEnd) || seq % CHECKPOINT_EVERY == 0;
    let checkpoint = match signer {
        Some(signer) if due => {
            let note = signer.sign(seq, &frontier.root());
            let insert = sql(
                &conn,
                "INSERT INTO retention_checkpoints (size, note, created_at) VALUES (?, ?, ?)",
            );
            each_conn!(conn, c => {
                sqlx::query(&insert)
                    .bind(seq_i)
                    .bind(&note)
                    .bind(Utc::now())
                    .execute(&mut **c)
                    .await
                    .context("cannot store the audit checkpoint")?;
            });
            Some(StoredCheckpoint { size: seq, note })
        }
        _ => None,
    };
    Ok(Appended {
        seq,
        line,
        leaf_hash: leaf,
        checkpoint,
    })
}

/// Recomputes the frontier from the stored leaf hashes, for a head written before the
/// frontier column existed.
async fn rebuild_frontier(conn: &mut SqlConn<'_>, size: u64) -> Result<Frontier> {
    const LEAVES: &str = "SELECT leaf_hash FROM retention_audit ORDER BY seq";
    let leaves: Vec<(Vec<u8>,)> = each_conn!(*conn, c => {
        sqlx::query_as(LEAVES).fetch_all(&mut **c).await.context("cannot read the audit leaves")?
    });
    let mut f = Frontier::new();
    for (l,) in leaves {
        let l: Hash = l
            .as_slice()
            .try_into()
            .context("a stored audit leaf hash is not 32 bytes: run `retention audit verify`")?;
        f.push(l);
    }
    anyhow::ensure!(
        f.size() == size,
        "the audit head says {size} entries but the log holds {}: run `retention audit verify`",
        f.size()
    );
    Ok(f)
}

/// Reads the whole log, its checkpoints and its head, in `seq` order.
pub async fn read_log(pool: &SqlPool) -> Result<StoredLog> {
    const ENTRIES: &str = "SELECT seq, line, leaf_hash FROM retention_audit ORDER BY seq";
    const CHECKPOINTS: &str = "SELECT size, note FROM retention_checkpoints ORDER BY size";
    const HEAD: &str = "SELECT seq, leaf_hash FROM retention_audit_head WHERE id = 1";
    type Rows = (
        Vec<(i64, Vec<u8>, Vec<u8>)>,
        Vec<(i64, String)>,
        Option<(i64, Vec<u8>)>,
    );
    let (entries, checkpoints, head): Rows = each_pool!(pool, p => (
        sqlx::query_as(ENTRIES).fetch_all(p).await.context("cannot read retention_audit")?,
        sqlx::query_as(CHECKPOINTS).fetch_all(p).await.context("cannot read retention_checkpoints")?,
        sqlx::query_as(HEAD).fetch_optional(p).await.context("cannot read retention_audit_head")?,
    ));
    let entries = entries
        .into_iter()
        .map(|(seq, line, leaf)| {
            Ok(StoredEntry {
                seq: u64::try_from(seq).context("a stored seq is negative")?,
                line,
                leaf_hash: Some(leaf),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let checkpoints = checkpoints
        .into_iter()
        .map(|(size, note)| {
            Ok(StoredCheckpoint {
                size: u64::try_from(size).context("a stored checkpoint size is negative")?,
                note,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let head = match head {
        Some((seq, leaf)) => Some((
            u64::try_from(seq).context("the audit head seq is negative")?,
            leaf,
        )),
        None => None,
    };
    Ok(StoredLog {
        entries,
        checkpoints,
        head,
    })
}

/// Reads the entries after `after` (for catching a file sink up with the database).
pub async fn read_after(pool: &SqlPool, after: u64) -> Result<Vec<StoredEntry>> {
    let after = i64::try_from(after).context("seq out of range")?;
    let rows: Vec<(i64, Vec<u8>)> = match pool {
        SqlPool::Pg(p) => {
            sqlx::query_as("SELECT seq, line FROM retention_audit WHERE seq > $1 ORDER BY seq")
                .bind(after)
                .fetch_all(p)
                .await
        }
        SqlPool::My(p) => {
            sqlx::query_as("SELECT seq, line FROM retention_audit WHERE seq > ? ORDER BY seq")
                .bind(after)
                .fetch_all(p)
                .await
        }
        SqlPool::Lite(p) => {
            sqlx::query_as("SELECT seq, line FROM retention_audit WHERE seq > ? ORDER BY seq")
                .bind(after)
                .fetch_all(p)
                .await
        }
    }
    .context("cannot read retention_audit")?;
    rows.into_iter()
        .map(|(seq, line)| {
            Ok(StoredEntry {
                seq: u64::try_from(seq).context("a stored seq is negative")?,
                line,
                leaf_hash: None,
            })
        })
        .collect()
}

/// Reads the checkpoints of size greater than `after`.
pub async fn read_checkpoints_after(pool: &SqlPool, after: u64) -> Result<Vec<StoredCheckpoint>> {
    let all = read_checkpoints(pool).await?;
    Ok(all.into_iter().filter(|c| c.size > after).collect())
}

async fn read_checkpoints(pool: &SqlPool) -> Result<Vec<StoredCheckpoint>> {
    const CHECKPOINTS: &str = "SELECT size, note FROM retention_checkpoints ORDER BY size";
    let rows: Vec<(i64, String)> = each_pool!(pool, p => {
        sqlx::query_as(CHECKPOINTS).fetch_all(p).await.context("cannot read retention_checkpoints")?
    });
    rows.into_iter()
        .map(|(size, note)| {
            Ok(StoredCheckpoint {
                size: u64::try_from(size).context("a stored checkpoint size is negative")?,
                note,
            })
        })
        .collect()
}
