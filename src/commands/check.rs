//! `retention check [--connect]`: validate the configuration and rules.

use crate::exit::Status;
use anyhow::{bail, Result};
use std::path::Path;

pub async fn run(_config: &Path, _connect: bool) -> Result<Status> {
    bail!("`retention check` is not available in this build yet")
}
