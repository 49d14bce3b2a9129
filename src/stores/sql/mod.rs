//! SQL stores: PostgreSQL, MySQL/MariaDB and SQLite through sqlx.
//!
//! [`SqlPool`] is a closed enum over the three drivers rather than `sqlx::Any`, so each
//! dialect keeps its native types (timestamptz, inet, bytea) and its own SQL where that
//! is faster or safer. Statements are built in [`dialect`] and [`select`] from validated
//! identifiers; values are always bound.

pub mod batch;
pub mod catalog;
pub mod copy_digest;
pub mod dialect;
pub mod exec;
pub mod fit;
pub mod inventory;
pub mod partitions;
pub mod pool;
pub mod select;
pub mod value;

pub use pool::{Dialect, SqlConn, SqlPool, SqlTx};
