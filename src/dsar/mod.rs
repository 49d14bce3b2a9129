//! The on-demand half of the tool: erasure requests (DSARs), legal holds, and the
//! portability export.
//!
//! An erasure request is not a separate engine. It becomes one `Selection` per target
//! with `reason: request` and the subject's id, and goes through the same executor,
//! batches, foreign-key order and audit entries as retention work
//! ([`crate::execute::enforce_request`]). This module adds what is specific to requests:
//! resolving an email or phone to a subject ([`lookup`]), the queue in the state store
//! ([`requests`]), holds ([`holds`]), turning an executor report into an outcome that a
//! ticketing system can read ([`erase`]), the export ([`export`]), and the index check
//! that keeps one erasure fast ([`index`]).

pub mod erase;
pub mod export;
pub mod holds;
pub mod lookup;
pub mod requests;
mod timestamps;
