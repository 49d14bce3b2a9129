//! The one integration-test binary: every module below runs against real services.

mod objects;
mod objects_faults;
mod objects_gps;
mod objects_s3;
mod objects_throttle;
mod support;
