//! Stores: SQL databases and object stores behind one small surface.

pub mod live_check;
pub mod objects;
pub mod sql;

pub use live_check::check_live;
