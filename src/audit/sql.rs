//! The audit log in the state store: appending entries (in the caller's transaction or in
//! one of their own) and reading them back for verification.
//!
//! An append locks the head row first, so `seq` has no gaps and `prev` is exact even with
//! concurrent shards. With a signing key, it checks the head's signature before extending
//! it, signs the new entry in the same transaction, and before each checkpoint checks
//! every entry since the last one ([`super::tail`]): the head row is a cache that is
//! checked, never trusted. Each checkpoint stores its frontier, so the next one costs only
//! the entries since.

use super::checkpoint::CheckpointSigner;
use super::entry::{seal, EntryDraft, Kind};
use super::entry_sig;
use super::tree::{leaf_hash, Hash};
use super::Appended;
use crate::stores::sql::{SqlConn, SqlPool};
use anyhow::{Context, Result};
use chrono::Utc;

/// A checkpoint is written every this many entries, besides every `run_end`.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// One stored entry as read back: the `seq` column, the exact line, the `leaf_hash` column
/// and the entry's signature ([`super::entry_sig`]), where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub line: Vec<u8>,
    pub leaf_hash: Option<Vec<u8>>,
    pub sig: Option<Vec<u8>>,
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
    /// The `seq` of rows stored below 1, where no entry can be: inserted rows, kept out of
    /// `entries` so that the entries keep their places.
    pub below_one: Vec<i64>,
    /// Checkpoint rows stored under a negative size: inserted rows, kept out of
    /// `checkpoints`.
    pub negative_checkpoints: Vec<i64>,
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
    signing: Option<Signing<'_>>,
    draft: &EntryDraft,
) -> Result<Appended> {
    const COMMIT: &str = "cannot commit an audit entry";
    let mut tx = pool
        .begin()
        .await
        .context("cannot begin a transaction on the state store")?;
    let appended = append_in(tx.conn(), run, dry_run, signing, draft).await?;
    tx.commit().await.context(COMMIT)?;
    Ok(appended)
}

/// The signing key and the log's origin, when a signing key is configured.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    pub signer: &'a CheckpointSigner,
    pub origin: &'a str,
}

/// Why an append refuses to extend the head it found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error(
        "entry {0}, the last of the audit log, is not authenticated by the signing key: it \
         was forged, or the head was moved. No entry is appended after it; `retention audit \
         verify` shows the damage and docs/audit.md says how to recover"
    )]
    NotAuthenticated(u64),
    #[error(
        "entry {0}, the last of the audit log, carries no signature, and no entry does: the \
         log was written before audit.signing_key was configured, or it was forged. {advice}",
        advice = super::tail::UNSIGNED_HISTORY_ADVICE
    )]
    UnsignedHistory(u64),
    #[error(
        "this audit log is signed (its last entry, {0}, carries a signature) but \
         audit.signing_key is not configured: entries written without the key could not be \
         told from forgeries. Configure the signing key"
    )]
    KeyMissing(u64),
    #[error(
        "the audit log holds a checkpoint row of size {size}, but its last entry is {last}: \
         the row was inserted ahead of the log, where this run's own checkpoint would have \
         to go. Nothing is changed until it is dealt with; `retention audit verify` names it \
         and docs/audit.md says how to recover"
    )]
    CheckpointAhead { size: i64, last: u64 },
    #[error(
        "the audit head records entry {head}, but the log's entries go on to {last} and its \
         checkpoint of size {size} covers them: the head was moved back (or entries were \
         written around it). The checkpoint row is not at fault: do not delete it. Nothing is \
         changed until it is dealt with; `retention audit verify` names the damage and \
         docs/audit.md says how to recover"
    )]
    HeadBehind { head: u64, size: i64, last: u64 },
}

/// The head row, locked for the rest of the transaction.
pub struct Head {
    pub seq: u64,
    pub leaf_hash: Vec<u8>,
    pub sig: Vec<u8>,
}

/// Locks the head row and reads it.
pub async fn lock_head(conn: &mut SqlConn<'_>) -> Result<Head> {
    // The no-op UPDATE takes the head row's write lock on every dialect (SQLite included,
    // where a SELECT first would only take a shared lock and could deadlock on upgrade).
    const LOCK: &str = "UPDATE retention_audit_head SET seq = seq WHERE id = 1";
    const HEAD: &str = "SELECT seq, leaf_hash, sig FROM retention_audit_head WHERE id = 1";
    // InnoDB: a plain SELECT under REPEATABLE READ reads the transaction's snapshot, which
    // an earlier statement of the batch may have taken before another append committed
    // (and a no-op UPDATE leaves no version of its own to read): a locking read returns
    // the newest head.
    const HEAD_LOCKED: &str =
        "SELECT seq, leaf_hash, sig FROM retention_audit_head WHERE id = 1 FOR UPDATE";
    let head = match conn {
        SqlConn::My(_) => HEAD_LOCKED,
        _ => HEAD,
    };
    let (seq, leaf_hash, sig): (i64, Vec<u8>, Vec<u8>) = each_conn!(*conn, c => {
        sqlx::query(LOCK).execute(&mut **c).await.context("cannot lock the audit head")?;
        sqlx::query_as(head).fetch_one(&mut **c).await.context("cannot read the audit head (has `retention migrate` run?)")?
    });
    Ok(Head {
        seq: u64::try_from(seq).context("the audit head holds a negative sequence number")?,
        leaf_hash,
        sig,
    })
}

/// Whether any entry carries a signature (the log is signed from some entry on).
async fn any_signed(conn: &mut SqlConn<'_>) -> Result<bool> {
    const Q: &str = "SELECT seq FROM retention_audit WHERE sig IS NOT NULL LIMIT 1";
    let row: Option<(i64,)> = each_conn!(*conn, c => {
        sqlx::query_as(Q).fetch_optional(&mut **c).await.context("cannot read the audit log")?
    });
    Ok(row.is_some())
}

/// Checks that the head an append will extend is authentic: its entry signed by the key
/// (a head that is a forged entry, or was moved, fails here, before anything follows it).
/// Without a key, a signed log is refused rather than extended with unsigned entries.
pub async fn check_head(
    conn: &mut SqlConn<'_>,
    head: &Head,
    signing: Option<Signing<'_>>,
) -> Result<()> {
    if head.seq == 0 {
        return Ok(());
    }
    match signing {
        None if head.sig.is_empty() => Ok(()),
        None => Err(HeadError::KeyMissing(head.seq).into()),
        Some(Signing { signer, origin }) => {
            let leaf: Option<Hash> = head.leaf_hash.as_slice().try_into().ok();
            let signed = leaf.and_then(|leaf| {
                let keys = signer.verifiers().keys();
                entry_sig::verify(keys, Some(origin), head.seq, &leaf, &head.sig)
            });
            let authentic = match signed {
                Some(entry_sig::Signed::ForThisLog) => true,
                Some(entry_sig::Signed::Legacy) => {
                    checkpoint_covers(conn, signer, origin, head.seq).await?
                }
                None => false,
            };
            // An unsigned head is history only within the history the operator took as
            // unsigned (`audit.unsigned_history`), and while no entry has been signed yet.
            let history = head.seq <= signer.unsigned_history();
            let none_signed = head.sig.is_empty() && !any_signed(conn).await?;
            if authentic || (history && none_signed) {
                Ok(())
            } else if none_signed {
                Err(HeadError::UnsignedHistory(head.seq).into())
            } else {
                Err(HeadError::NotAuthenticated(head.seq).into())
            }
        }
    }
}

/// Whether a checkpoint the signer's key signed for `origin` covers entry `seq` (what a
/// version 1 entry signature, which names no log, needs to count as this log's).
async fn checkpoint_covers(
    conn: &mut SqlConn<'_>,
    signer: &CheckpointSigner,
    origin: &str,
    seq: u64,
) -> Result<bool> {
    let q = "SELECT note FROM retention_checkpoints ORDER BY size DESC";
    let notes: Vec<String> = each_conn!(*conn, c => {
        sqlx::query_scalar(q).fetch_all(&mut **c).await.context("cannot read retention_checkpoints")?
    });
    Ok(notes.iter().any(|note| {
        matches!(
            super::checkpoint::open(note.as_bytes(), signer.verifiers()),
            super::checkpoint::Opened::Ok(body) if body.origin == origin && body.size >= seq
        )
    }))
}

/// Appends one entry inside the caller's transaction, and the checkpoint it calls for.
pub async fn append_in(
    mut conn: SqlConn<'_>,
    run: &str,
    dry_run: bool,
    signing: Option<Signing<'_>>,
    draft: &EntryDraft,
) -> Result<Appended> {
    let head = lock_head(&mut conn).await?;
    check_head(&mut conn, &head, signing).await?;
    let seq = head.seq + 1;
    let prev: Option<Hash> = head.leaf_hash.as_slice().try_into().ok();
    let line = seal(draft, seq, Utc::now(), run, dry_run, prev.as_ref());
    let leaf = leaf_hash(&line);
    let sig = signing.map(|s| s.signer.sign_entry(s.origin, seq, &leaf));
    let seq_i = i64::try_from(seq).context("the audit log is full")?;

    let insert = sql(
        &conn,
        "INSERT INTO retention_audit (seq, line, leaf_hash, sig) VALUES (?, ?, ?, ?)",
    );
    // The frontier column of the head is no longer kept (checkpoints carry their own);
    // it is emptied so that nothing stale lies there.
    let update = sql(
        &conn,
        "UPDATE retention_audit_head SET seq = ?, leaf_hash = ?, sig = ?, frontier = ? WHERE id = 1",
    );
    let head_sig = sig.clone().unwrap_or_default();
    each_conn!(conn, c => {
        sqlx::query(&insert)
            .bind(seq_i)
            .bind(&line)
            .bind(&leaf[..])
            .bind(sig.as_deref())
            .execute(&mut **c)
            .await
            .context("cannot insert the audit entry")?;
        sqlx::query(&update)
            .bind(seq_i)
            .bind(&leaf[..])
            .bind(&head_sig)
            .bind(Vec::<u8>::new())
            .execute(&mut **c)
            .await
            .context("cannot advance the audit head")?;
    });

    let due = draft.kind == Some(Kind::RunEnd) || seq % CHECKPOINT_EVERY == 0;
    let checkpoint = match signing {
        Some(s) if due => Some(write_checkpoint(&mut conn, s, seq).await?),
        _ => None,
    };
    Ok(Appended {
        seq,
        line,
        leaf_hash: leaf,
        sig,
        checkpoint,
    })
}

/// Signs a checkpoint of the first `size` entries, after checking every entry since the
/// last checkpoint the key signed ([`super::tail`]), and stores it with its frontier.
async fn write_checkpoint(
    conn: &mut SqlConn<'_>,
    s: Signing<'_>,
    size: u64,
) -> Result<StoredCheckpoint> {
    let tail = super::tail::authenticate(conn, s.signer, s.origin, Some(size)).await?;
    anyhow::ensure!(
        tail.frontier.size() == size,
        "the audit log holds {} entries where {size} were expected: run `retention audit verify`",
        tail.frontier.size()
    );
    let note = s.signer.sign(s.origin, size, &tail.frontier.root());
    let insert = sql(
        conn,
        "INSERT INTO retention_checkpoints (size, note, created_at, frontier) VALUES (?, ?, ?, ?)",
    );
    let size_i = i64::try_from(size).context("the audit log is full")?;
    let frontier = tail.frontier.to_bytes();
    each_conn!(*conn, c => {
        sqlx::query(&insert)
            .bind(size_i)
            .bind(&note)
            .bind(Utc::now())
            .bind(&frontier)
            .execute(&mut **c)
            .await
            .context("cannot store the audit checkpoint")?;
    });
    Ok(StoredCheckpoint { size, note })
}

/// Before a command writes entries: with a signing key, the whole tail since the last
/// checkpoint must be authentic and the head must sit on its last entry; without one, the
/// log must not be a signed one. Takes the head's lock for the length of the check.
pub async fn check_before_writing(pool: &SqlPool, signing: Option<Signing<'_>>) -> Result<()> {
    let mut tx = pool
        .begin()
        .await
        .context("cannot begin a transaction on the state store")?;
    let mut conn = tx.conn();
    let head = lock_head(&mut conn).await?;
    // A checkpoint row beyond the log would make this run fail at its own checkpoint, after
    // its deletions: refuse now, before anything changes.
    let q = "SELECT MAX(size) FROM retention_checkpoints";
    let ahead: Option<i64> = each_conn!(conn, c => {
        sqlx::query_scalar(q).fetch_one(&mut **c).await.context("cannot read retention_checkpoints")?
    });
    if let Some(size) = ahead.filter(|s| u64::try_from(*s).is_ok_and(|s| s > head.seq)) {
        // Ahead of the head is not always ahead of the log: a head moved back leaves the
        // log's own checkpoints beyond it. Only a row beyond the last entry is planted.
        let q = "SELECT MAX(seq) FROM retention_audit";
        let last: Option<i64> = each_conn!(conn, c => {
            sqlx::query_scalar(q).fetch_one(&mut **c).await.context("cannot read the audit log")?
        });
        let last = last.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        if size.unsigned_abs() > last {
            return Err(HeadError::CheckpointAhead { size, last }.into());
        }
        // With a key, the tail walk below tells a head moved back over the key's own
        // entries from entries forged around it; without one, say what is certain.
        if signing.is_none() {
            return Err(HeadError::HeadBehind {
                head: head.seq,
                size,
                last,
            }
            .into());
        }
    }
    // The tail first: it names a changed origin as such, where the head's signature
    // (which names the origin) would only fail to verify.
    if let Some(s) = signing {
        super::tail::check_before_writing(
            &mut conn,
            s.signer,
            s.origin,
            (head.seq, &head.leaf_hash),
        )
        .await?;
    }
    check_head(&mut conn, &head, signing).await?;
    tx.commit().await.context("cannot release the audit head")
}

/// Reads the whole log, its checkpoints and its head, in `seq` order.
pub async fn read_log(pool: &SqlPool) -> Result<StoredLog> {
    const ENTRIES: &str = "SELECT seq, line, leaf_hash, sig FROM retention_audit ORDER BY seq";
    const CHECKPOINTS: &str = "SELECT size, note FROM retention_checkpoints ORDER BY size";
    const HEAD: &str = "SELECT seq, leaf_hash FROM retention_audit_head WHERE id = 1";
    type Rows = (
        Vec<(i64, Vec<u8>, Vec<u8>, Option<Vec<u8>>)>,
        Vec<(i64, String)>,
        Option<(i64, Vec<u8>)>,
    );
    let (entries, checkpoints, head): Rows = each_pool!(pool, p => (
        sqlx::query_as(ENTRIES).fetch_all(p).await.context("cannot read retention_audit")?,
        sqlx::query_as(CHECKPOINTS).fetch_all(p).await.context("cannot read retention_checkpoints")?,
        sqlx::query_as(HEAD).fetch_optional(p).await.context("cannot read retention_audit_head")?,
    ));
    let (below_one, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.0 < 1);
    let below_one = below_one.into_iter().map(|e| e.0).collect();
    let entries = entries
        .into_iter()
        .map(|(seq, line, leaf, sig)| StoredEntry {
            seq: seq.unsigned_abs(),
            line,
            leaf_hash: Some(leaf),
            sig,
        })
        .collect();
    let (negative, checkpoints): (Vec<_>, Vec<_>) = checkpoints.into_iter().partition(|c| c.0 < 0);
    let negative_checkpoints = negative.into_iter().map(|c| c.0).collect();
    let checkpoints = checkpoints
        .into_iter()
        .map(|(size, note)| StoredCheckpoint {
            size: size.unsigned_abs(),
            note,
        })
        .collect();
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
        below_one,
        negative_checkpoints,
    })
}

/// Reads the entries after `after` (for catching a file sink up with the database).
pub async fn read_after(pool: &SqlPool, after: u64) -> Result<Vec<StoredEntry>> {
    let after = i64::try_from(after).context("seq out of range")?;
    let q = |p: &str| {
        format!("SELECT seq, line, sig FROM retention_audit WHERE seq > {p} ORDER BY seq")
    };
    type Row = (i64, Vec<u8>, Option<Vec<u8>>);
    let rows: Vec<Row> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(&q("$1")).bind(after).fetch_all(p).await,
        SqlPool::My(p) => sqlx::query_as(&q("?")).bind(after).fetch_all(p).await,
        SqlPool::Lite(p) => sqlx::query_as(&q("?")).bind(after).fetch_all(p).await,
    }
    .context("cannot read retention_audit")?;
    rows.into_iter()
        .map(|(seq, line, sig)| {
            Ok(StoredEntry {
                seq: u64::try_from(seq).context("a stored seq is negative")?,
                line,
                leaf_hash: None,
                sig,
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
