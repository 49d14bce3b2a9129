//! Rule files: one YAML file per data category (SPEC §3).
//!
//! [`model`] holds the resolved, validated types every other module works with. Loading
//! (`load`) reads a directory of rule files, keeps line numbers for every field, and
//! validates everything at once so a user sees every problem in one go.

pub mod model;

pub use model::*;
// SHIM-BEGIN
pub fn load(_c: &crate::config::Config) -> Result<RuleSet, String> {
    Err("shim".into())
}
// SHIM-END
