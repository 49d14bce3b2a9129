//! The one integration-test binary (one link step for every suite). Each module is a
//! suite; shared helpers live in `support`.

mod audit;
mod audit_file;
mod audit_property;
mod dsar;
mod scratch;
mod sql_enforcement;
mod support;
