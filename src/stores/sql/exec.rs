//! Running a built [`SqlText`] on a connection (or a pool) of any dialect and decoding the
//! few row shapes the tool reads back.

use super::dialect::SqlText;
use super::pool::{SqlConn, SqlPool};
use super::value::bind_values;
use anyhow::{bail, Result};
use sqlx::Row;

/// Executes a statement; returns the number of rows it affected.
pub async fn execute(conn: &mut SqlConn<'_>, q: &SqlText) -> Result<u64> {
    Ok(match conn {
        SqlConn::Pg(c) => bind_values!(pg, sqlx::query(&q.sql), &q.values)
            .execute(&mut **c)
            .await?
            .rows_affected(),
        SqlConn::My(c) => bind_values!(sqlx::query(&q.sql), &q.values)
            .execute(&mut **c)
            .await?
            .rows_affected(),
        SqlConn::Lite(c) => bind_values!(sqlx::query(&q.sql), &q.values)
            .execute(&mut **c)
            .await?
            .rows_affected(),
    })
}

/// Runs fixed statements without parameters, several separated by `;`, in one round trip
/// (the simple query protocol).
pub async fn execute_script(conn: &mut SqlConn<'_>, sql: &str) -> Result<()> {
    match conn {
        SqlConn::Pg(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ())?,
        SqlConn::My(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ())?,
        SqlConn::Lite(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ())?,
    }
    Ok(())
}

impl SqlPool {
    /// Executes a statement on a connection of the pool, outside any transaction; returns
    /// the number of rows it affected.
    pub async fn execute(&self, q: &SqlText) -> Result<u64> {
        let mut c = self.acquire().await?;
        execute(&mut c.conn(), q).await
    }
}

/// Whether an error of [`execute`] or [`SqlPool::execute`] is the database refusing a
/// duplicate key.
pub fn is_unique_violation(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<sqlx::Error>(),
        Some(sqlx::Error::Database(e)) if e.is_unique_violation()
    )
}

/// Whether an error is the database giving up a transaction that another one overtook:
/// a serialization failure (PostgreSQL: a snapshot's row changed meanwhile; SQLSTATE
/// 40001, also InnoDB's deadlock) or a PostgreSQL deadlock (40P01). Taking the whole
/// transaction again is the documented answer to each.
pub fn is_serialization_failure(err: &anyhow::Error) -> bool {
    has_sqlstate(err, &["40001", "40P01"])
}

/// Whether an error is PostgreSQL refusing a delete because a row it removes is still
/// referenced (SQLSTATE 23503): a batch only deletes rows no child references, so this
/// is a child committed while the batch's statement ran, and taking the batch again
/// (in a new snapshot, which sees the child and keeps its parent) is the answer.
pub fn is_fk_race(err: &anyhow::Error) -> bool {
    has_sqlstate(err, &["23503"])
}

/// Whether some cause of `err` is a database error with one of these SQLSTATEs.
fn has_sqlstate(err: &anyhow::Error, codes: &[&str]) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Database(e)) if e.code().is_some_and(|c| codes.contains(&c.as_ref()))
        )
    })
}

/// Fetches rows whose first `width` columns are text (NULL reads as `None`).
pub async fn fetch_texts(
    conn: &mut SqlConn<'_>,
    q: &SqlText,
    width: usize,
) -> Result<Vec<Vec<Option<String>>>> {
    fn decode<R: Row>(rows: Vec<R>, width: usize) -> Result<Vec<Vec<Option<String>>>>
    where
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        usize: sqlx::ColumnIndex<R>,
    {
        rows.iter()
            .map(|r| {
                (0..width)
                    .map(|i| Ok(r.try_get::<Option<String>, _>(i)?))
                    .collect()
            })
            .collect()
    }
    match conn {
        SqlConn::Pg(c) => decode(
            bind_values!(pg, sqlx::query(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?,
            width,
        ),
        SqlConn::My(c) => decode(
            bind_values!(sqlx::query(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?,
            width,
        ),
        SqlConn::Lite(c) => decode(
            bind_values!(sqlx::query(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?,
            width,
        ),
    }
}

/// Fetches the first column of every row as a 64-bit integer.
pub async fn fetch_ints(conn: &mut SqlConn<'_>, q: &SqlText) -> Result<Vec<i64>> {
    Ok(match conn {
        SqlConn::Pg(c) => {
            bind_values!(pg, sqlx::query_scalar::<_, i64>(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?
        }
        SqlConn::My(c) => {
            bind_values!(sqlx::query_scalar::<_, i64>(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?
        }
        SqlConn::Lite(c) => {
            bind_values!(sqlx::query_scalar::<_, i64>(&q.sql), &q.values)
                .fetch_all(&mut **c)
                .await?
        }
    })
}

/// PostgreSQL: the one value of a statement that returns one `bigint[]` (NULL: empty).
pub async fn fetch_int_array(conn: &mut SqlConn<'_>, q: &SqlText) -> Result<Vec<i64>> {
    let SqlConn::Pg(c) = conn else {
        bail!("an array of keys is read from PostgreSQL only");
    };
    let v: Option<Vec<i64>> = bind_values!(pg, sqlx::query_scalar(&q.sql), &q.values)
        .fetch_one(&mut **c)
        .await?;
    Ok(v.unwrap_or_default())
}

/// PostgreSQL: the one value of a statement that returns one `text[]` (NULL: empty).
pub async fn fetch_text_array(conn: &mut SqlConn<'_>, q: &SqlText) -> Result<Vec<Option<String>>> {
    let SqlConn::Pg(c) = conn else {
        bail!("an array of keys is read from PostgreSQL only");
    };
    let v: Option<Vec<Option<String>>> = bind_values!(pg, sqlx::query_scalar(&q.sql), &q.values)
        .fetch_one(&mut **c)
        .await?;
    Ok(v.unwrap_or_default())
}

/// Fetches one row of integer counts followed by one optional float.
pub async fn fetch_counts(
    conn: &mut SqlConn<'_>,
    q: &SqlText,
    counts: usize,
) -> Result<(Vec<i64>, Option<f64>)> {
    fn decode<R: Row>(row: R, counts: usize) -> Result<(Vec<i64>, Option<f64>)>
    where
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        usize: sqlx::ColumnIndex<R>,
    {
        let mut out = Vec::with_capacity(counts);
        for i in 0..counts {
            out.push(row.try_get::<i64, _>(i)?);
        }
        Ok((out, row.try_get::<Option<f64>, _>(counts)?))
    }
    match conn {
        SqlConn::Pg(c) => decode(
            bind_values!(pg, sqlx::query(&q.sql), &q.values)
                .fetch_one(&mut **c)
                .await?,
            counts,
        ),
        SqlConn::My(c) => decode(
            bind_values!(sqlx::query(&q.sql), &q.values)
                .fetch_one(&mut **c)
                .await?,
            counts,
        ),
        SqlConn::Lite(c) => decode(
            bind_values!(sqlx::query(&q.sql), &q.values)
                .fetch_one(&mut **c)
                .await?,
            counts,
        ),
    }
}
