//! The one integration-test binary (one link step for every suite).

mod support;

mod scratch;
mod sql_enforcement;
