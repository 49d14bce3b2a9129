//! Object stores: S3 buckets and local directories.
