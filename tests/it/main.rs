//! The one integration-test binary (one link step for every suite). Each module is a
//! suite against real services; shared helpers live in `support`.

mod audit;
mod audit_file;
mod audit_property;
mod dsar;
mod objects;
mod objects_faults;
mod objects_gps;
mod objects_s3;
mod objects_throttle;
mod operations;
mod scratch;
mod sql_enforcement;
mod support;
