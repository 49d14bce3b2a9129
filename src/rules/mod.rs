//! Rule files: one YAML file per data category (SPEC §3).
//!
//! [`model`] holds the resolved, validated types every other module works with. Loading
//! ([`load`]) reads a directory of rule files into a [`yaml`] tree that keeps the line of
//! every field, decodes it ([`decode`], `file`, `target`, `strategy`), and validates
//! everything at once so a user sees every problem in one go. [`shipped`] embeds the rule
//! set that ships with the tool, for the demo.

pub mod decode;
mod file;
mod load;
pub mod model;
pub mod shipped;
mod strategy;
mod target;
pub mod yaml;

pub use file::cron;
pub use load::{load, parse, Loaded};
pub use model::*;
