//! Removing whole expired partitions (`partitions: drop | detach`), each with the audit
//! entries a row batch gets, before the pass's row batches take what is left.
//!
//! PostgreSQL, per partition `stores::sql::partitions` judged removable:
//! 1. an `intent` entry (kind `batch`, action `delete`, the partition's row count);
//! 2. `COMMENT ON TABLE` marks the partition as being detached by the tool;
//! 3. `ALTER TABLE parent DETACH PARTITION p CONCURRENTLY` (plain `DETACH` when the
//!    parent has a default partition), outside a transaction, `lock_timeout` 2 s, retried;
//! 4. one transaction: `LOCK TABLE p IN ACCESS EXCLUSIVE MODE`, recount (every row still
//!    selected, or the partition is attached again and the target fails), read the keys
//!    for the digest, `DROP TABLE p` (with `detach`: mark it kept), and — when the table
//!    lives in the state store — the outcome entry (count, keys digest), committed
//!    together; elsewhere the outcome entry follows the commit.
//!
//! A crash after step 2 leaves the partition attached (a rerun judges it again), pending
//! detach (the rerun runs `DETACH PARTITION … FINALIZE`) or detached with its mark and
//! its intent entry (the rerun takes it from step 4). Partition names never enter the
//! log: the entry names the target table, as a row batch's does, and the keys digest
//! says which rows went.
//!
//! MySQL/MariaDB: an `intent` entry, then `LOCK TABLES parent WRITE`, the keys read
//! again and compared with those judged (same digest), `ALTER TABLE parent DROP
//! PARTITION p`, `UNLOCK TABLES`, and the outcome entry.

use super::pause::pause_at;
use super::table::{int_keys_digest, TablePass};
use super::{draft, keys_digest, PassReport};
use crate::audit::{Kind, Outcome, Reason};
use crate::rules::{Action, PartitionMode};
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::execute;
use crate::stores::sql::partitions::{
    self as parts, ddl_with_retries, quoted, Leaf, LeafKeys, PartitionPlan, Verdict,
};
use crate::stores::sql::{Dialect, SqlPool};
use anyhow::{anyhow, bail, Context, Result};
use std::borrow::Cow;

/// Whether whole partitions may leave in this pass (`partitions: drop | detach` on an
/// expiry delete).
pub fn applies(tp: &TablePass<'_, '_, '_>) -> bool {
    tp.table.target.partitions.whole()
        && tp.sel.reason == Reason::Expired
        && tp.sel.action == Action::Delete
        && tp.table.partitioning.is_some()
}

/// Finishes what a crashed run left: partitions pending detach, and tables it detached
/// to drop and did not drop. Counts what it drops into `pass`.
pub async fn recover(tp: &TablePass<'_, '_, '_>, pass: &mut PassReport) -> Result<()> {
    if !applies(tp) || tp.table.dialect != Dialect::Postgres {
        return Ok(());
    }
    let pool = tp.pool()?;
    // Only the tool's own detaches (marked) are finished, in the connection's schema.
    for (name, parent) in parts::pending_detaches(pool, tp.table).await? {
        let comment = comment_of(pool, &name).await?;
        if comment.as_deref() != Some(&parts::detach_comment(&parent, true))
            && comment.as_deref() != Some(&parts::detach_comment(&parent, false))
        {
            continue;
        }
        let leaf = bare_leaf(name, parent);
        let mut c = pool.acquire().await?;
        if finalize(&mut c.conn(), &leaf).await? == Detached::Pending {
            pending_warning(tp, &leaf);
        }
    }
    let leaves = parts::leaves(pool, tp.table).await?;
    let mut parents: Vec<String> = leaves.iter().map(|l| l.parent.clone()).collect();
    parents.push(tp.table.target.table.as_str().to_owned());
    parents.sort();
    parents.dedup();
    for name in parts::stale_marks(pool, &parents).await? {
        let mut c = pool.acquire().await?;
        let sql = format!(
            "COMMENT ON TABLE {} IS NULL",
            quoted(Dialect::Postgres, &name)?
        );
        ddl_with_retries(&mut c.conn(), &sql, "unmarking an attached partition", 10).await?;
        tracing::info!(category = %pass.category, target = %pass.target, "Removed the tool's mark from a partition that is attached.");
    }
    let drops = tp.table.target.partitions == PartitionMode::Drop;
    for (name, parent) in parts::detached_to_drop(pool, &parents, drops).await? {
        match finish_pg(tp, &bare_leaf(name, parent), PartitionMode::Drop).await {
            Ok(n) => {
                tracing::info!(category = %pass.category, target = %pass.target, count = n, "Dropped a partition a previous run had detached.");
                pass.done += n;
                pass.batches += 1;
            }
            // Rows of it are no longer selected (a hold added since it was detached):
            // it stays a detached table, out of the live one, and the pass goes on.
            Err(e) if e.is::<KeptDetached>() => {
                tracing::warn!(category = %pass.category, target = %pass.target, error = %format!("{e:#}"), "A table a previous run detached is kept for now.");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A table an earlier run detached holds rows the pass no longer selects (their
/// subject came under a hold since): it is not dropped, and stays detached.
#[derive(Debug, thiserror::Error)]
#[error(
    "table `{table}`, detached from `{parent}` by an earlier run, holds {kept} of its {rows} rows that are no longer selected (a legal hold since, or a changed rule): it stays detached, out of `{parent}`, and is dropped by a later run once all of its rows are selected again; nothing of it was deleted"
)]
pub struct KeptDetached {
    table: String,
    parent: String,
    kept: u64,
    rows: u64,
}

/// A partition (or a table the tool detached) in the connection's schema known by its
/// name and parent only.
fn bare_leaf(name: String, parent: String) -> Leaf {
    Leaf {
        name,
        parent,
        uppers: Vec::new(),
        default: false,
        detach_pending: false,
        bound: String::new(),
        schema: String::new(),
        elsewhere: false,
    }
}

/// Whether the partitioned table `parent` has a default partition.
async fn has_default(pool: &SqlPool, parent: &str) -> Result<bool> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(false);
    };
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table pt
           JOIN pg_class c ON c.oid = pt.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relname = $1 AND pt.partdefid <> 0)",
    )
    .bind(parent)
    .fetch_one(pg)
    .await?)
}

async fn comment_of(pool: &SqlPool, table: &str) -> Result<Option<String>> {
    let SqlPool::Pg(pg) = pool else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar(
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relname = $1",
    )
    .bind(table)
    .fetch_optional(pg)
    .await?
    .flatten())
}

/// Removes every partition judged removable; returns how many rows went.
pub async fn run(tp: &TablePass<'_, '_, '_>, pass: &mut PassReport) -> Result<()> {
    if !applies(tp) {
        return Ok(());
    }
    let pool = tp.pool()?;
    if tp.table.dialect == Dialect::Postgres
        && !parts::pending_detaches(pool, tp.table).await?.is_empty()
    {
        // PostgreSQL detaches one partition of a table at a time: while one is pending
        // (an old snapshot), the others go by rows this run.
        return Ok(());
    }
    let plans = parts::plan(pool, tp.table, tp.sel, true).await?;
    for plan in plans.iter().filter(|p| p.verdict == Verdict::Drop) {
        if tp.stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        // A legal hold added since the run began may cover a row of this partition: the
        // partitions left then go by rows, which keep the held subjects' rows.
        if matches!(tp.with_current_holds().await?, Cow::Owned(_)) {
            return Ok(());
        }
        let n = match tp.table.dialect {
            Dialect::Postgres => match drop_pg(tp, plan).await? {
                Some(n) => n,
                // Pending: no other partition of the table can be detached meanwhile.
                None => return Ok(()),
            },
            Dialect::MySql => drop_my(tp, plan).await?,
            Dialect::Sqlite => bail!("SQLite has no partitions"),
        };
        tracing::info!(category = %pass.category, target = %pass.target, count = n, mode = tp.table.target.partitions.as_str(), "Removed an expired partition whole.");
        pass.done += n;
        pass.batches += 1;
    }
    Ok(())
}

fn intent(tp: &TablePass<'_, '_, '_>, count: u64) -> crate::audit::EntryDraft {
    let mut d = draft(tp.p, tp.sel, tp.who, Kind::Batch, Outcome::Intent);
    d.count = Some(count);
    d
}

/// How a detach ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detached {
    Done,
    /// The first step of `DETACH … CONCURRENTLY` is done and the second cannot finish
    /// yet: a transaction older than the detach (a long report, a `pg_dump`) still holds
    /// a snapshot. The parent no longer shows the partition's rows; a later run finishes
    /// the detach (`FINALIZE`) and drops it.
    Pending,
}

/// `ALTER TABLE parent DETACH PARTITION leaf [CONCURRENTLY]`, retried while a lock is
/// not granted; a concurrent detach left pending (its second step waited out its lock
/// timeout) is finished with `FINALIZE` when it can be.
async fn detach(pool: &SqlPool, leaf: &Leaf, concurrently: bool) -> Result<Detached> {
    let mut c = pool.acquire().await?;
    let sql = format!(
        "ALTER TABLE {} DETACH PARTITION {}{}",
        quoted(Dialect::Postgres, &leaf.parent)?,
        quoted(Dialect::Postgres, &leaf.name)?,
        if concurrently { " CONCURRENTLY" } else { "" }
    );
    match ddl_with_retries(&mut c.conn(), &sql, "detaching the partition", 10).await {
        Ok(()) => Ok(Detached::Done),
        Err(e) if concurrently && parts::pending_detach(pool, &leaf.name).await? => {
            tracing::debug!(error = %format!("{e:#}"), "The detach is pending; finishing it.");
            finalize(&mut c.conn(), leaf).await
        }
        Err(e) => Err(e),
    }
}

/// `DETACH PARTITION … FINALIZE` of a pending detach, a few tries: `Pending` when old
/// snapshots still keep it from finishing.
async fn finalize(conn: &mut crate::stores::sql::SqlConn<'_>, leaf: &Leaf) -> Result<Detached> {
    let sql = format!(
        "ALTER TABLE {} DETACH PARTITION {} FINALIZE",
        quoted(Dialect::Postgres, &leaf.parent)?,
        quoted(Dialect::Postgres, &leaf.name)?
    );
    match ddl_with_retries(conn, &sql, "finishing the detach", 3).await {
        Ok(()) => Ok(Detached::Done),
        Err(e) if parts::lock_not_available(&e) => Ok(Detached::Pending),
        Err(e) => Err(e),
    }
}

fn pending_warning(tp: &TablePass<'_, '_, '_>, leaf: &Leaf) {
    tracing::warn!(
        category = %tp.p.rule.category,
        target = %tp.p.target.name(),
        "An expired partition is detached only in part: a transaction older than the detach still holds a snapshot (a long query, a pg_dump). Its rows no longer show in `{}`; a later run finishes the detach and drops it, with its audit entry.",
        leaf.parent
    );
}

/// Removes one partition judged removable: the rows it held, or `None` when its detach
/// is left pending for a later run.
async fn drop_pg(tp: &TablePass<'_, '_, '_>, plan: &PartitionPlan) -> Result<Option<u64>> {
    let pool = tp.pool()?;
    let leaf = &plan.leaf;
    let mode = tp.table.target.partitions;
    let name = quoted(Dialect::Postgres, &leaf.name)?;
    tp.audit.append(intent(tp, plan.rows)).await?;
    let mut c = pool.acquire().await?;
    // The mark is a plain-identifier sentence, so it can be written as a literal.
    let mark = parts::detach_comment(&leaf.parent, mode == PartitionMode::Drop);
    ddl_with_retries(
        &mut c.conn(),
        &format!("COMMENT ON TABLE {name} IS '{mark}'"),
        "marking the partition",
        10,
    )
    .await?;
    pause_at("partition-marked").await;
    // CONCURRENTLY is refused when the parent has a default partition.
    let default_sibling = has_default(pool, &leaf.parent).await?;
    drop(c);
    let started = std::time::Instant::now();
    let detached = detach(pool, leaf, !default_sibling)
        .await
        .with_context(|| format!("detaching an expired partition of `{}`", leaf.parent))?;
    tracing::info!(
        target = %tp.p.target.name(),
        concurrently = !default_sibling,
        detach_ms = started.elapsed().as_millis() as u64,
        "Detached an expired partition."
    );
    if detached == Detached::Pending {
        pending_warning(tp, leaf);
        return Ok(None);
    }
    pause_at("partition-detached").await;
    finish_pg(tp, leaf, mode).await.map(Some)
}

/// Step 4 on a detached partition: recount, digest, drop (or keep), outcome entry.
async fn finish_pg(tp: &TablePass<'_, '_, '_>, leaf: &Leaf, mode: PartitionMode) -> Result<u64> {
    let pool = tp.pool()?;
    let name = quoted(Dialect::Postgres, &leaf.name)?;
    let same_db = tp.same_db();
    let mut tx = pool.begin().await?;
    // The lock is waited for briefly; the recount and the digest of a large partition
    // may take longer than a `statement_timeout` the database or role sets, which would
    // otherwise fail this step on every run.
    for setting in [
        "SET LOCAL lock_timeout = '10s'",
        "SET LOCAL statement_timeout = 0",
    ] {
        let mut q = SqlText::new(Dialect::Postgres);
        q.push(setting);
        execute(&mut tx.conn(), &q).await?;
    }
    let mut q = SqlText::new(Dialect::Postgres);
    q.push(&format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"));
    execute(&mut tx.conn(), &q)
        .await
        .context("locking the detached partition")?;
    let locked = std::time::Instant::now();
    let (rows, actionable) =
        parts::count_actionable(&mut tx.conn(), tp.table, tp.sel, leaf).await?;
    if actionable != rows && leaf.bound.is_empty() {
        return Err(KeptDetached {
            table: leaf.name.clone(),
            parent: leaf.parent.clone(),
            kept: rows - actionable.min(rows),
            rows,
        }
        .into());
    }
    if actionable != rows {
        drop(tx);
        let back = attach_back(pool, leaf).await?;
        bail!(
            "an expired partition of `{}` changed while it was detached ({} of its {rows} rows are no longer selected); {}, and nothing of it was deleted",
            leaf.parent,
            rows - actionable.min(rows),
            back.describe(leaf)
        );
    }
    let crate::stores::sql::SqlConn::Pg(pg) = tx.conn() else {
        bail!("not a PostgreSQL store");
    };
    let (streamed, digest) = match parts::pg_leaf_digest(pg, tp.table, leaf).await {
        Ok(d) => d,
        Err(e) => {
            drop(tx);
            let back = attach_back(pool, leaf).await?;
            return Err(e.context(format!(
                "reading the keys of an expired partition of `{}` ({}; nothing of it was deleted)",
                leaf.parent,
                back.describe(leaf)
            )));
        }
    };
    if streamed != rows {
        bail!(
            "partition `{}` gave {streamed} keys for its {rows} rows; nothing of it was deleted",
            leaf.name
        );
    }
    let mut q = SqlText::new(Dialect::Postgres);
    match mode {
        PartitionMode::Detach => {
            let kept = parts::detach_comment(&leaf.parent, false);
            q.push(&format!("COMMENT ON TABLE {name} IS '{kept}'"));
        }
        _ => {
            q.push(&format!("DROP TABLE {name}"));
        }
    }
    if let Err(e) = execute(&mut tx.conn(), &q).await {
        // Something the plan did not see depends on it: never leave it detached.
        drop(tx);
        let back = attach_back(pool, leaf).await?;
        return Err(e.context(format!(
            "dropping an expired partition of `{}` ({}; nothing of it was deleted)",
            leaf.parent,
            back.describe(leaf)
        )));
    }
    let outcome = || {
        let mut d = draft(
            tp.p,
            tp.sel,
            tp.who,
            Kind::Batch,
            if mode == PartitionMode::Detach {
                Outcome::Intent
            } else {
                Outcome::Ok
            },
        );
        d.count = Some(rows);
        d.keys_digest = Some(digest.clone());
        d
    };
    let mut appended = None;
    if same_db {
        appended = Some(tp.audit.append_in(tx.conn(), outcome()).await?);
    }
    tx.commit().await?;
    tracing::info!(
        target = %tp.p.target.name(),
        count = rows,
        access_exclusive_ms = locked.elapsed().as_millis() as u64,
        "Dropped a detached partition (ACCESS EXCLUSIVE on it alone)."
    );
    if let Some(a) = appended {
        tp.audit.after_commit(&a).await?;
    } else {
        pause_at("partition-dropped").await;
        tp.audit.append(outcome()).await?;
    }
    Ok(rows)
}

/// Whether [`attach_back`] could attach the partition back.
enum AttachedBack {
    Yes,
    /// Known by name only (a table an earlier run detached): it stays detached.
    Unknown,
}

impl AttachedBack {
    fn describe(&self, leaf: &Leaf) -> String {
        match self {
            AttachedBack::Yes => "it was attached back".to_owned(),
            AttachedBack::Unknown => format!(
                "it stays detached as table `{}`, its rows out of `{}` but kept: attach it back with `ALTER TABLE {} ATTACH PARTITION {} FOR VALUES …` with the bound it had, or drop what keeps it",
                leaf.name, leaf.parent, leaf.parent, leaf.name
            ),
        }
    }
}

/// Attaches a partition the tool detached back to its parent with its own bound, and
/// removes the tool's mark; a table known by name only (found by recovery) stays as it is.
async fn attach_back(pool: &SqlPool, leaf: &Leaf) -> Result<AttachedBack> {
    if leaf.bound.is_empty() || !leaf.bound.starts_with("FOR VALUES ") || leaf.bound.contains(';') {
        return Ok(AttachedBack::Unknown);
    }
    let name = quoted(Dialect::Postgres, &leaf.name)?;
    let mut c = pool.acquire().await?;
    let sql = format!(
        "ALTER TABLE {} ATTACH PARTITION {name} {}",
        quoted(Dialect::Postgres, &leaf.parent)?,
        leaf.bound
    );
    ddl_with_retries(&mut c.conn(), &sql, "attaching the partition back", 10).await?;
    let sql = format!("COMMENT ON TABLE {name} IS NULL");
    ddl_with_retries(&mut c.conn(), &sql, "unmarking the partition", 10).await?;
    Ok(AttachedBack::Yes)
}

async fn drop_my(tp: &TablePass<'_, '_, '_>, plan: &PartitionPlan) -> Result<u64> {
    let pool = tp.pool()?;
    let leaf = &plan.leaf;
    let SqlPool::My(_) = pool else {
        return Err(anyhow!("not a MySQL/MariaDB store"));
    };
    let parent = quoted(Dialect::MySql, &leaf.parent)?;
    let name = quoted(Dialect::MySql, &leaf.name)?;
    // The recount under the lock reads the tables its condition names: the target as `t`,
    // and the table a `via` subject is found in as `p` (InnoDB refuses foreign keys to or
    // from a partitioned table, so no child table is named).
    let mut lock = format!("LOCK TABLES {parent} WRITE, {parent} AS t WRITE");
    if !tp.table.referencing.is_empty() {
        bail!(
            "`{}` is referenced by a foreign key, which its partitions cannot be dropped under",
            leaf.parent
        );
    }
    if let Some(crate::rules::SubjectColumn::Via { table, .. }) = &tp.table.target.subject {
        lock.push_str(&format!(
            ", {} AS p READ",
            quoted(Dialect::MySql, table.as_str())?
        ));
    }
    // The holds in force now: the recount keeps the partition if any covers a row of it.
    let sel = tp.with_current_holds().await?;
    // The keys as judged (the plan's counts were taken just before).
    let judged = {
        let mut c = pool.acquire().await?;
        digest_of(parts::leaf_keys(&mut c.conn(), tp.table, leaf).await?)
    };
    tp.audit.append(intent(tp, plan.rows)).await?;
    let mut c = pool.acquire().await?;
    let run = |sql: String| SqlText::statement(Dialect::MySql, &sql, Vec::new());
    execute(
        &mut c.conn(),
        &run("SET SESSION lock_wait_timeout = 10".into()),
    )
    .await?;
    execute(&mut c.conn(), &run(lock))
        .await
        .context("locking the partitioned table")?;
    let locked = std::time::Instant::now();
    let result = async {
        let now = digest_of(parts::leaf_keys(&mut c.conn(), tp.table, leaf).await?);
        // Every row still selected — none held (a row inserted or changed since the
        // verdict may belong to a held subject, or fail a filter) — and the same rows.
        let (rows, actionable) =
            parts::count_actionable(&mut c.conn(), tp.table, &sel, leaf).await?;
        if now.1 != judged.1 || actionable != rows {
            bail!(
                "an expired partition of `{}` changed between judging and dropping it; nothing of it was deleted (the next run judges it again)",
                leaf.parent
            );
        }
        execute(
            &mut c.conn(),
            &run(format!("ALTER TABLE {parent} DROP PARTITION {name}")),
        )
        .await
        .context("dropping the partition")?;
        Ok(now)
    }
    .await;
    let _ = execute(&mut c.conn(), &run("UNLOCK TABLES".into())).await;
    tracing::info!(
        target = %tp.p.target.name(),
        table_lock_ms = locked.elapsed().as_millis() as u64,
        "Dropped an expired partition (the table write-locked meanwhile)."
    );
    let (count, digest) = result?;
    pause_at("partition-dropped").await;
    let mut d = draft(tp.p, tp.sel, tp.who, Kind::Batch, Outcome::Ok);
    d.count = Some(count);
    d.keys_digest = Some(digest);
    tp.audit.append(d).await?;
    Ok(count)
}

fn digest_of(keys: LeafKeys) -> (u64, String) {
    match keys {
        LeafKeys::Ints(mut ints) => (ints.len() as u64, int_keys_digest(&mut ints)),
        LeafKeys::Texts(keys) => (keys.len() as u64, keys_digest(&keys)),
    }
}
