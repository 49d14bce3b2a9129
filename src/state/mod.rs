//! The tool's own tables in the state store: migrations, the run lock, runs and holds.

pub mod holds;
pub mod lock;
pub mod migrate;
pub mod runs;
