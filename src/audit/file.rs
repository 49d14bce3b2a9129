//! The JSON-lines file sink: the same entries, byte for byte, one per line, in a local file
//! (`audit.file`), with their checkpoints in a sidecar file `<file>.checkpoints` (one JSON
//! object `{"size": N, "note": "…"}` per line) and their signatures in `<file>.sigs` (one
//! `{"seq": N, "sig": "<base64>"}` per signed entry, written before the entry, so a crash
//! can leave a signature without its entry but never an entry without its signature).
//!
//! Lines are appended and the file is fsynced once per batch. The database stays the
//! source of truth: when the file lags behind it (a crash between a commit and the file
//! write), the missing entries are copied from the database before the next one, and a
//! torn last line is cut off when the file is opened. Verification reads the file with
//! the same verifier as the database (`audit::verify`).

use super::sql::{StoredCheckpoint, StoredEntry, StoredLog};
use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An open JSON-lines audit file and its checkpoint sidecar.
pub struct FileSink {
    path: PathBuf,
    entries: File,
    checkpoints: File,
    sigs: File,
    last_seq: u64,
    last_checkpoint: u64,
}

#[derive(Serialize, Deserialize)]
struct CheckpointLine {
    size: u64,
    note: String,
}

#[derive(Serialize, Deserialize)]
struct SigLine {
    seq: u64,
    sig: String,
}

/// An entry to append: its `seq`, its exact line and its signature, if any.
pub type EntryRow<'a> = (u64, &'a [u8], Option<&'a [u8]>);

/// The sidecar that holds a file log's entry signatures.
pub fn sigs_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sigs");
    PathBuf::from(name)
}

/// The sidecar that holds a file log's checkpoints.
pub fn checkpoints_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".checkpoints");
    PathBuf::from(name)
}

impl FileSink {
    /// Opens (or creates) the file and its sidecar, cutting off a torn last line.
    pub fn open(path: &Path) -> Result<FileSink> {
        let mut entries = open_append(path)?;
        let last = cut_torn_tail(&mut entries, path)?;
        let last_seq = match last {
            Some(line) => seq_of(&line).with_context(|| {
                format!(
                    "{}: the last line is not an audit entry: run `retention audit verify`",
                    path.display()
                )
            })?,
            None => 0,
        };
        let cp_path = checkpoints_path(path);
        let mut checkpoints = open_append(&cp_path)?;
        let last_checkpoint = match cut_torn_tail(&mut checkpoints, &cp_path)? {
            Some(line) => {
                serde_json::from_slice::<CheckpointLine>(&line)
                    .with_context(|| {
                        format!("{}: the last line is not a checkpoint", cp_path.display())
                    })?
                    .size
            }
            None => 0,
        };
        let sigs_path = sigs_path(path);
        let mut sigs = open_append(&sigs_path)?;
        cut_torn_tail(&mut sigs, &sigs_path)?;
        Ok(FileSink {
            path: path.to_owned(),
            entries,
            checkpoints,
            sigs,
            last_seq,
            last_checkpoint,
        })
    }

    /// The `seq` of the last entry in the file (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The size of the last checkpoint in the sidecar (0 when none).
    pub fn last_checkpoint(&self) -> u64 {
        self.last_checkpoint
    }

    /// Appends entries that continue the file (with their signatures, if any), then fsyncs
    /// once. Entries the file already holds are skipped; a gap is an error (the caller
    /// catches up from the database).
    pub fn append(&mut self, entries: &[EntryRow<'_>]) -> Result<()> {
        let mut buf = Vec::new();
        let mut sig_buf = Vec::new();
        let mut last = self.last_seq;
        for (seq, line, sig) in entries {
            if *seq <= last {
                continue;
            }
            anyhow::ensure!(
                *seq == last + 1,
                "{}: entry {seq} would leave a gap after {last}",
                self.path.display()
            );
            buf.extend_from_slice(line);
            buf.push(b'\n');
            if let Some(sig) = sig {
                let line = SigLine {
                    seq: *seq,
                    sig: BASE64.encode(sig),
                };
                serde_json::to_writer(&mut sig_buf, &line).context("cannot encode a signature")?;
                sig_buf.push(b'\n');
            }
            last = *seq;
        }
        if buf.is_empty() {
            return Ok(());
        }
        if !sig_buf.is_empty() {
            self.sigs
                .write_all(&sig_buf)
                .and_then(|()| self.sigs.sync_data())
                .with_context(|| format!("cannot append to {}", sigs_path(&self.path).display()))?;
        }
        self.entries
            .write_all(&buf)
            .and_then(|()| self.entries.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))?;
        self.last_seq = last;
        Ok(())
    }

    /// Appends checkpoints newer than the last one in the sidecar, then fsyncs.
    pub fn append_checkpoints(&mut self, checkpoints: &[StoredCheckpoint]) -> Result<()> {
        let mut buf = Vec::new();
        let mut last = self.last_checkpoint;
        for cp in checkpoints {
            if cp.size <= last {
                continue;
            }
            let line = CheckpointLine {
                size: cp.size,
                note: cp.note.clone(),
            };
            serde_json::to_writer(&mut buf, &line).context("cannot encode a checkpoint")?;
            buf.push(b'\n');
            last = cp.size;
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.checkpoints
            .write_all(&buf)
            .and_then(|()| self.checkpoints.sync_data())
            .with_context(|| {
                format!(
                    "cannot append to {}",
                    checkpoints_path(&self.path).display()
                )
            })?;
        self.last_checkpoint = last;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open the audit file {}", path.display()))
}

/// Cuts a last line that has no newline (a write torn by a crash) and returns the last
/// complete line, if any.
fn cut_torn_tail(file: &mut File, path: &Path) -> Result<Option<Vec<u8>>> {
    let ctx = || format!("cannot read the audit file {}", path.display());
    let len = file.metadata().with_context(ctx)?.len();
    if len == 0 {
        return Ok(None);
    }
    // Lines are a few hundred bytes; look back far enough to find the last two newlines.
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).with_context(ctx)?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).with_context(ctx)?;
        let complete_end = match tail.iter().rposition(|b| *b == b'\n') {
            Some(i) => i,
            None if start == 0 => {
                file.set_len(0).with_context(ctx)?;
                return Ok(None);
            }
            None => {
                window *= 4;
                continue;
            }
        };
        if complete_end + 1 < tail.len() {
            file.set_len(start + complete_end as u64 + 1)
                .with_context(ctx)?;
        }
        let body = &tail[..complete_end];
        match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => return Ok(Some(body[i + 1..].to_vec())),
            None if start == 0 => return Ok(Some(body.to_vec())),
            None => window *= 4,
        }
    }
}

fn seq_of(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// Reads a file log and its sidecar for verification. Each entry's position (its line
/// number) stands in for the `seq` column a database would have.
pub fn read_log(path: &Path) -> Result<StoredLog> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the audit file {}", path.display()))?;
    let mut entries = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if !body.is_empty() {
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            entries.push(StoredEntry {
                seq: i as u64 + 1,
                line: line.to_vec(),
                leaf_hash: None,
                sig: None,
            });
        }
    }
    let sigs = read_sigs(&sigs_path(path))?;
    for e in &mut entries {
        e.sig = sigs.get(&e.seq).cloned();
    }
    let cp_path = checkpoints_path(path);
    let mut checkpoints = Vec::new();
    match std::fs::read(&cp_path) {
        Ok(cp) => {
            for (i, line) in cp.split(|b| *b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                let cp: CheckpointLine = serde_json::from_slice(line).with_context(|| {
                    format!(
                        "{}:{}: not a checkpoint line ({{\"size\": N, \"note\": \"…\"}})",
                        cp_path.display(),
                        i + 1
                    )
                })?;
                checkpoints.push(StoredCheckpoint {
                    size: cp.size,
                    note: cp.note,
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", cp_path.display()));
        }
    }
    checkpoints.sort_by_key(|c| c.size);
    Ok(StoredLog {
        entries,
        checkpoints,
        head: None,
        below_one: Vec::new(),
        negative_checkpoints: Vec::new(),
    })
}

/// Reads the signature sidecar: `seq` → signature. A missing sidecar means no entry is
/// signed; a line that does not parse is an error naming it.
fn read_sigs(path: &Path) -> Result<HashMap<u64, Vec<u8>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut sigs = HashMap::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || {
            format!(
                "{}:{}: not a signature line ({{\"seq\": N, \"sig\": \"<base64>\"}})",
                path.display(),
                i + 1
            )
        };
        let l: SigLine = serde_json::from_slice(line).with_context(bad)?;
        let sig = BASE64.decode(&l.sig).with_context(bad)?;
        // A crash between the two writes can repeat a signature; the first one stands.
        sigs.entry(l.seq).or_insert(sig);
    }
    Ok(sigs)
}
