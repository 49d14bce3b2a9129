//! The signer's check before it signs: every entry a new checkpoint will cover, beyond the
//! last checkpoint it signed itself, must be one the signing key authenticated, linked to
//! its predecessor and numbered without a gap. Nothing stored is trusted for this: the
//! head row is a cache, the `leaf_hash` column is not read, a checkpoint row counts only
//! when its note verifies under the signer's own key, names this log's origin, and its
//! stored frontier folds to the root it signs.
//!
//! Unsigned entries before the first one the key signed are history (written before a
//! signing key was configured, or by a version of the tool that did not sign entries) —
//! but only as far as the operator took them as such (`audit.unsigned_history`, 0 by
//! default): otherwise whoever can insert rows could slip entries in before a log's first
//! signed run and have it sign over them. `audit verify` names the history. From the
//! first signed entry on, and beyond the history, an entry without a valid signature
//! stops the check; so does a row whose seq is not positive (runs read from seq 1 on and
//! would never see it).

use super::checkpoint::{self, CheckpointSigner, Opened, Verifiers};
use super::entry_sig;
use super::tree::{leaf_hash, Frontier, Hash};
use crate::stores::sql::SqlConn;
use anyhow::{Context, Result};
use futures::TryStreamExt;

/// What to do about an unsigned log under a signing key, said by every refusal of one.
pub(super) const UNSIGNED_HISTORY_ADVICE: &str = "If the log predates the key, set \
    audit.unsigned_history to the number of entries written without it (`retention audit \
    show` lists them; docs/audit.md, \"History: logs that were not always signed\"); \
    otherwise `retention audit verify` shows the damage";

/// Why the tail cannot be signed over. Each names the first `seq` at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TailError {
    #[error(
        "entry {0} of the audit log was not authenticated by the signing key ({1}): it was \
         forged, or changed after it was written. No checkpoint will cover it and no entry \
         is appended after it; `retention audit verify` shows the damage and docs/audit.md \
         says how to recover"
    )]
    NotAuthenticated(u64, &'static str),
    #[error(
        "entry {0} of the audit log carries no signature, and no entry before it does: the \
         log was written before audit.signing_key was configured, or the entry was forged. \
         {UNSIGNED_HISTORY_ADVICE}"
    )]
    UnsignedHistory(u64),
    #[error(
        "entry {0} of the audit log does not follow entry {1} ({2}); `retention audit verify` \
         shows the damage"
    )]
    Broken(u64, u64, &'static str),
    #[error(
        "the audit log holds a row with seq {0}, and seqs start at 1: it was inserted around \
         the log, where no run would read it. No checkpoint is signed and no entry is \
         appended until it is dealt with; `retention audit verify` and docs/audit.md"
    )]
    NotPositive(i64),
    #[error(
        "the audit head records entry {head} but the log's last entry is {last}: the head was \
         moved, or entries were written around it; `retention audit verify` shows the damage"
    )]
    HeadMismatch { head: u64, last: u64 },
    #[error(
        "the audit head records entry {head}, but the log goes on to entry {last} and the \
         signing key authenticated every entry up to it: the head was moved back. The entries \
         and checkpoints are authentic: delete nothing, set the head forward to entry {last} \
         (docs/audit.md, \"After a refusal\"); `retention audit verify` shows the same"
    )]
    HeadBehind { head: u64, last: u64 },
    #[error(
        "this log's origin is `{configured}`, but its newest checkpoint names `{signed}`: a log \
         keeps its origin for life. If audit.origin was changed, set it back to `{signed}` \
         (or leave it empty); if it was not, a checkpoint row of another log was copied in: \
         `retention audit verify` names it, and docs/audit.md says how to recover"
    )]
    OriginChanged { configured: String, signed: String },
    #[error(
        "the checkpoint row of size {0} is signed for this log's origin but does not match \
         this log's entries: it was copied in from another log under the same origin. No \
         checkpoint is signed and no entry is appended until it is dealt with; `retention \
         audit verify` shows the damage and docs/audit.md says how to recover"
    )]
    NotThisLog(u64),
    #[error(
        "entry {seq} of the audit log no longer matches the checkpoint of size {size}, which \
         the signing key signed for this log: {why}. The checkpoint is authentic (do not \
         delete it); the entries were changed after it was signed (an entry edited and the \
         chain after it rebuilt, or entries removed). No checkpoint is signed and no entry is \
         appended until it is dealt with; `retention audit verify` shows the damage and \
         docs/audit.md says how to recover"
    )]
    EntriesChanged {
        seq: u64,
        size: u64,
        why: &'static str,
    },
}

/// The tree the signer vouches for: its frontier, and its last entry.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub frontier: Frontier,
    pub last_leaf: Option<Hash>,
}

/// The fields of a line the check reads.
#[derive(serde::Deserialize)]
struct Link {
    seq: u64,
    prev: String,
}

fn link(h: Option<&Hash>) -> String {
    match h {
        Some(h) => format!("sha256:{}", hex::encode(h)),
        None => format!("sha256:{}", "0".repeat(64)),
    }
}

/// Walks entries in order, checking each against the one before.
struct Walker<'v> {
    verifiers: &'v Verifiers,
    origin: &'v str,
    frontier: Frontier,
    last_seq: u64,
    last_leaf: Option<Hash>,
    /// Whether an entry the key signed has been seen (or the walk starts at a checkpoint):
    /// from then on every entry must be signed.
    signed_region: bool,
    /// The last seq an unsigned entry may have (`audit.unsigned_history`).
    history: u64,
}

impl Walker<'_> {
    fn push(&mut self, row_seq: i64, line: &[u8], sig: Option<&[u8]>) -> Result<(), TailError> {
        let want = self.last_seq + 1;
        let Some(parsed) = serde_json::from_slice::<Link>(line).ok() else {
            return Err(TailError::Broken(
                want,
                self.last_seq,
                "it is not an audit entry",
            ));
        };
        if u64::try_from(row_seq).ok() != Some(want) || parsed.seq != want {
            return Err(TailError::Broken(
                want,
                self.last_seq,
                "its seq is out of order",
            ));
        }
        if parsed.prev != link(self.last_leaf.as_ref()) {
            return Err(TailError::Broken(
                want,
                self.last_seq,
                "its prev is not the leaf hash of the entry before",
            ));
        }
        let leaf = leaf_hash(line);
        // After the checkpoint the walk starts from, an entry must be signed for this log.
        let signed = sig.is_some_and(|s| {
            entry_sig::verify(self.verifiers.keys(), Some(self.origin), want, &leaf, s)
                == Some(entry_sig::Signed::ForThisLog)
        });
        if !signed && (self.signed_region || want > self.history) {
            let unsigned = !sig.is_some_and(|s| !s.is_empty());
            if unsigned && !self.signed_region {
                return Err(TailError::UnsignedHistory(want));
            }
            let why = if unsigned {
                "it carries no signature"
            } else {
                "its signature does not verify"
            };
            return Err(TailError::NotAuthenticated(want, why));
        }
        self.signed_region |= signed;
        self.frontier.push(leaf);
        self.last_seq = want;
        self.last_leaf = Some(leaf);
        Ok(())
    }
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

fn placeholders(conn: &SqlConn<'_>, text: &str) -> String {
    match conn {
        SqlConn::Pg(_) => {
            let mut n = 0;
            text.chars()
                .map(|c| {
                    if c == '?' {
                        n += 1;
                        format!("${n}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        }
        _ => text.to_owned(),
    }
}

/// The newest checkpoint the signer itself made for this log (at most `upto` entries),
/// with its frontier: the point the check starts from.
async fn base(
    conn: &mut SqlConn<'_>,
    verifiers: &Verifiers,
    origin: &str,
    upto: u64,
    history: u64,
) -> Result<Option<(u64, Frontier)>> {
    const PAGE: i64 = 16;
    let q = placeholders(
        conn,
        "SELECT size, note, frontier FROM retention_checkpoints \
         WHERE frontier IS NOT NULL AND size <= ? ORDER BY size DESC LIMIT ?",
    );
    let mut below = i64::try_from(upto).context("the audit log is too long")?;
    loop {
        let rows: Vec<(i64, String, Vec<u8>)> = each_conn!(*conn, c => {
            sqlx::query_as(&q).bind(below).bind(PAGE).fetch_all(&mut **c).await
                .context("cannot read the audit checkpoints")?
        });
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(None);
        };
        for (size, note, frontier) in rows.iter() {
            let Ok(size) = u64::try_from(*size) else {
                continue;
            };
            let Opened::Ok(cp) = checkpoint::open(note.as_bytes(), verifiers) else {
                continue;
            };
            let Some(f) = Frontier::from_bytes(size, frontier) else {
                continue;
            };
            if cp.size != size || f.root() != cp.root {
                continue;
            }
            if cp.origin != origin {
                return Err(TailError::OriginChanged {
                    configured: origin.to_owned(),
                    signed: cp.origin,
                }
                .into());
            }
            // The frontier is the checkpoint's own; that it is this log's shows in its
            // rightmost subtree, rebuilt from this log's entries.
            if !rightmost_subtree_matches(conn, size, &f).await? {
                // The checkpoint is signed for this log: if the entries it covers are not
                // all the key's own at their seqs, they are what changed; only over
                // authentic entries is the checkpoint the stranger.
                return Err(
                    match changed_entry(conn, verifiers, origin, size, history).await? {
                        Some((seq, why)) => TailError::EntriesChanged { seq, size, why },
                        None => TailError::NotThisLog(size),
                    }
                    .into(),
                );
            }
            return Ok(Some((size, f)));
        }
        below = last - 1;
    }
}

/// The first of entries 1 to `size` that is missing, or whose signature does not verify
/// at its seq (an unsigned entry within the operator's unsigned history excepted): what
/// was changed under a checkpoint the key signed. Read only when a refusal is certain.
async fn changed_entry(
    conn: &mut SqlConn<'_>,
    verifiers: &Verifiers,
    origin: &str,
    size: u64,
    history: u64,
) -> Result<Option<(u64, &'static str)>> {
    let q = placeholders(
        conn,
        "SELECT seq, line, sig FROM retention_audit WHERE seq >= 1 AND seq <= ? ORDER BY seq",
    );
    let to = i64::try_from(size).context("the audit log is too long")?;
    let mut want = 1u64;
    let mut found = None;
    each_conn!(*conn, c => {
        let mut rows = sqlx::query_as::<_, (i64, Vec<u8>, Option<Vec<u8>>)>(&q)
            .bind(to)
            .fetch(&mut **c);
        while let Some((seq, line, sig)) = rows.try_next().await.context("cannot read the audit log")? {
            if u64::try_from(seq).ok() != Some(want) {
                found = Some((want, "it is missing"));
                break;
            }
            let verifies = sig.as_deref().is_some_and(|s| {
                entry_sig::verify(verifiers.keys(), Some(origin), want, &leaf_hash(&line), s).is_some()
            });
            if !verifies && (sig.is_some() || want > history) {
                found = Some((want, "its signature does not verify at its seq"));
                break;
            }
            want += 1;
        }
    });
    if found.is_none() && want <= size {
        found = Some((want, "it is missing"));
    }
    Ok(found)
}

/// Whether the last `size & -size` entries of this log hash to the frontier's rightmost
/// subtree (a checkpoint at an odd size: its last entry alone).
async fn rightmost_subtree_matches(
    conn: &mut SqlConn<'_>,
    size: u64,
    frontier: &Frontier,
) -> Result<bool> {
    let width = size & size.wrapping_neg();
    let Some(want) = frontier.last_node() else {
        return Ok(true);
    };
    let q = placeholders(
        conn,
        "SELECT line FROM retention_audit WHERE seq > ? AND seq <= ? ORDER BY seq",
    );
    let from = i64::try_from(size - width).context("the audit log is too long")?;
    let to = i64::try_from(size).context("the audit log is too long")?;
    let lines: Vec<Vec<u8>> = each_conn!(*conn, c => {
        sqlx::query_scalar(&q).bind(from).bind(to).fetch_all(&mut **c).await
            .context("cannot read the audit log")?
    });
    if lines.len() as u64 != width {
        return Ok(false);
    }
    let leaves: Vec<Hash> = lines.iter().map(|l| leaf_hash(l)).collect();
    Ok(&super::tree::root_of(&leaves) == want)
}

/// Checks the entries after the last checkpoint the signer made, up to `upto` (all of
/// them when `None`), and returns the tree they make.
pub async fn authenticate(
    conn: &mut SqlConn<'_>,
    signer: &CheckpointSigner,
    origin: &str,
    upto: Option<u64>,
) -> Result<Authenticated> {
    let verifiers = signer.verifiers();
    let q = "SELECT MIN(seq) FROM retention_audit";
    let lowest: Option<i64> = each_conn!(*conn, c => {
        sqlx::query_scalar(q).fetch_one(&mut **c).await.context("cannot read the audit log")?
    });
    if let Some(seq) = lowest.filter(|s| *s < 1) {
        return Err(TailError::NotPositive(seq).into());
    }
    let history = signer.unsigned_history();
    let (start, frontier) = base(
        conn,
        verifiers,
        origin,
        upto.unwrap_or(i64::MAX as u64),
        history,
    )
    .await?
    .unwrap_or((0, Frontier::new()));
    let mut walker = Walker {
        verifiers,
        origin,
        frontier,
        last_seq: start,
        last_leaf: None,
        signed_region: start > 0,
        history,
    };
    if start > 0 {
        // The checkpoint's own last entry: its leaf is what the next `prev` must name.
        let q = placeholders(conn, "SELECT line, sig FROM retention_audit WHERE seq = ?");
        let row: Option<(Vec<u8>, Option<Vec<u8>>)> = each_conn!(*conn, c => {
            sqlx::query_as(&q).bind(start as i64).fetch_optional(&mut **c).await
                .context("cannot read the audit log")?
        });
        let (line, sig) = row.ok_or(TailError::Broken(
            start,
            start,
            "it is missing though a checkpoint covers it",
        ))?;
        let leaf = leaf_hash(&line);
        // The checkpoint covers it: a version 1 signature is this log's too.
        if !sig.is_some_and(|s| {
            entry_sig::verify(verifiers.keys(), Some(origin), start, &leaf, &s).is_some()
        }) {
            return Err(TailError::NotAuthenticated(start, "its signature does not verify").into());
        }
        walker.last_leaf = Some(leaf);
    }
    let upto = i64::try_from(upto.unwrap_or(i64::MAX as u64)).unwrap_or(i64::MAX);
    let q = placeholders(
        conn,
        "SELECT seq, line, sig FROM retention_audit WHERE seq > ? AND seq <= ? ORDER BY seq",
    );
    each_conn!(*conn, c => {
        let mut rows = sqlx::query_as::<_, (i64, Vec<u8>, Option<Vec<u8>>)>(&q)
            .bind(start as i64)
            .bind(upto)
            .fetch(&mut **c);
        while let Some((seq, line, sig)) = rows.try_next().await.context("cannot read the audit log")? {
            walker.push(seq, &line, sig.as_deref())?;
        }
    });
    Ok(Authenticated {
        frontier: walker.frontier,
        last_leaf: walker.last_leaf,
    })
}

/// Before a run (or any command that writes entries) with a signing key: the log's tail
/// must be authentic and the head must sit on its last entry.
pub async fn check_before_writing(
    conn: &mut SqlConn<'_>,
    signer: &CheckpointSigner,
    origin: &str,
    head: (u64, &[u8]),
) -> Result<()> {
    let tail = authenticate(conn, signer, origin, None).await?;
    let last = tail.frontier.size();
    let head_leaf: Option<Hash> = head.1.try_into().ok();
    if head.0 < last {
        // Every entry up to `last` passed the walk: the key wrote them, so the head fell
        // behind them (an UPDATE moving it back), not entries around it.
        return Err(TailError::HeadBehind { head: head.0, last }.into());
    }
    if last != head.0 || (last > 0 && tail.last_leaf != head_leaf) {
        return Err(TailError::HeadMismatch { head: head.0, last }.into());
    }
    Ok(())
}
