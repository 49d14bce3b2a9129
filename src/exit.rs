//! Exit codes of SPEC §5 and the error kinds that map onto them.
//!
//! Code deep in the call stack returns `anyhow::Error`; where the exit code must differ
//! from "a target failed", it wraps a [`Refusal`] so `main` can find it with
//! `downcast_ref` and pick the code.

use std::process::ExitCode;

/// The documented exit statuses. Scripts depend on these numbers (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 0: everything done.
    Done = 0,
    /// 1: a target or request failed; the others still ran.
    Failed = 1,
    /// 2: invalid usage, configuration or rules; nothing ran.
    Invalid = 2,
    /// 3: the safety guard refused a target.
    Refused = 3,
    /// 4: another run holds the lock.
    Locked = 4,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s as u8)
    }
}

/// An error that decides the exit status on its own.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Configuration or rules are invalid (exit 2). The message already lists every problem.
    #[error("{0}")]
    Invalid(String),
    /// Another run holds the state store's lock (exit 4).
    #[error("{0}")]
    Locked(String),
}

impl Refusal {
    /// The exit status this refusal maps to.
    pub fn status(&self) -> Status {
        match self {
            Refusal::Invalid(_) => Status::Invalid,
            Refusal::Locked(_) => Status::Locked,
        }
    }
}
