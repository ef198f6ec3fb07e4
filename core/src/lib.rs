//! `chatsync`: deterministic, sequence-based chat sync for requester apps.
//!
//! Layers, from the inside out (see `docs/architecture.md`):
//! - [`types`]: the stored / API types shared by every layer (no I/O);
//! - [`validate`](mod@validate): the pure sequence validator (the seed's rules);
//! - [`runs`]: `SeqRuns`, the one definition of runs, the newest window and history gaps;
//! - [`engine`]: the sans-I/O sync engine (state + event -> commands);
//! - [`cache`]: the SQLite message cache (`MessageCache`), persisting `SeqRuns`;
//! - the async driver builds on these.

pub mod cache;
pub mod clock;
pub mod engine;
pub mod net;
pub mod observe;
pub mod runs;
pub mod types;
pub mod validate;
pub mod wire;

pub use cache::{CacheError, CacheOptions, MessageCache};
pub use runs::SeqRuns;
pub use types::*;
pub use validate::{SeqSummary, validate};
