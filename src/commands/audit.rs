//! `retention audit verify|prove|keygen|show`.

use crate::cli::AuditCommand;
use crate::exit::Status;
use anyhow::{bail, Result};
use std::path::Path;

pub async fn run(_config: &Path, _cmd: AuditCommand) -> Result<Status> {
    bail!("`retention audit` is not available in this build yet")
}
