//! `retention demo`: a self-contained run on SQLite and a local directory.
//!
//! [`seed`] creates the configuration, rules, database and files; the command itself
//! (migrate, plan, run, verify) lives with the other commands.

pub mod seed;
