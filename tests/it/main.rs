//! The one integration-test binary: every module runs the real `retention` binary or the
//! library against real files and services.

mod config_errors;
mod demo_seed;
mod rules_errors;
mod rules_fuzz;
mod rules_shipped;
mod support;
