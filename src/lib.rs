//! `retention` enforces a privacy policy's retention and erasure promises on live data.
//!
//! The binary in `main.rs` is thin; everything lives here so that integration tests and
//! benchmarks can drive the same code. See `ARCHITECTURE.md` for the code map.

pub mod anonymise;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod coverage;
pub mod demo;
pub mod diagnostics;
pub mod dsar;
pub mod execute;
pub mod exit;
pub mod ident;
pub mod logging;
pub mod output;
pub mod plan;
pub mod report;
pub mod rules;
pub mod state;
pub mod stores;
pub mod time;
pub mod workspace;
