//! Helpers shared by the integration tests: real services, fresh isolated data.

pub mod images;
pub mod objects;
pub mod s3;
