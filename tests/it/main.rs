//! The one integration-test binary (one link step for every suite). Each module is a
//! suite against real files and services; shared helpers live in `support`.

mod audit;
mod audit_crash;
mod audit_dsar;
mod audit_file;
mod audit_forgery;
mod audit_property;
mod audit_third_party;
mod audit_trust;
mod check_connect;
mod compliance;
mod config_errors;
mod coverage;
mod demo_seed;
mod dsar;
mod exact_rows;
mod objects;
mod objects_cli;
mod objects_compat;
mod objects_faults;
mod objects_gps;
mod objects_s3;
mod objects_throttle;
mod operations;
mod report;
mod report_browser;
mod report_cli;
mod rules_errors;
mod rules_fuzz;
mod rules_shipped;
mod sql_enforcement;
mod sql_inventory;
mod sql_windows;
mod strategy_types;
mod support;
mod time_and_types;
