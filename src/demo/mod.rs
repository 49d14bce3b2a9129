//! The embedded demo: synthetic data for the shipped rule set.

pub mod seed;
