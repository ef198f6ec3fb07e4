//! `chatsync`: deterministic, sequence-based chat sync for requester apps.
//!
//! Layers, from the inside out (see `docs/architecture.md`):
//! - [`types`]: the stored / API types shared by every layer (no I/O);
//! - [`validate`]: the pure sequence validator (the seed's rules);
//! - the SQLite cache, the sans-I/O sync engine and the async driver build on these.

pub mod engine;
pub mod runs;
pub mod types;
pub mod validate;

pub use runs::SeqRuns;
pub use types::*;
pub use validate::{SeqSummary, validate};
