//! Standard output for reports and summaries, where a closed pipe stops the output and
//! not the command.
//!
//! `retention run | head -1` closes the read end of stdout after one line. `println!`
//! panics on the next write ("failed printing to stdout: Broken pipe"); the writers here
//! treat `BrokenPipe` as "nobody reads any more", as ripgrep does: the rest of the output
//! is dropped, the command finishes its work (a run still completes its batches and its
//! audit log), and it exits with its own status. Any other write error is returned.
//!
//! Use [`out!`](crate::out) and [`outln!`](crate::outln) instead of `print!` and
//! `println!`, and [`bytes`] for a buffer.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether stdout was found closed (a reader that went away).
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Writes `b` to stdout and flushes; a closed pipe is not an error (see the module doc).
pub fn bytes(b: &[u8]) -> anyhow::Result<()> {
    if closed() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(b).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// Writes formatted text to stdout (the body of [`out!`](crate::out)).
pub fn fmt(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    match args.as_str() {
        Some(s) => bytes(s.as_bytes()),
        None => bytes(args.to_string().as_bytes()),
    }
}

/// `print!` that survives a closed pipe; evaluates to `anyhow::Result<()>`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::fmt(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe; evaluates to `anyhow::Result<()>`.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::bytes(b"\n") };
    ($($arg:tt)*) => { $crate::output::fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
