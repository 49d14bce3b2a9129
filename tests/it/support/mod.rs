//! Helpers shared by the integration tests: fresh databases on the real servers, and the
//! real binary run in a temporary directory.

#![allow(dead_code)]

pub mod cli;
pub mod db;
