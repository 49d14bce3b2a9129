//! The one integration-test binary (one link step for every suite).

mod support;

mod report;
mod report_browser;
mod report_cli;
mod scratch;
mod sql_enforcement;
