//! `chatsync`: deterministic, sequence-based chat sync for requester apps.
//!
//! Layers, from the inside out (see `docs/architecture.md`):
//! - [`types`]: the stored / API types shared by every layer (no I/O);
//! - [`validate`](mod@validate): the pure sequence validator (the seed's rules);
//! - [`runs`]: `SeqRuns`, the one definition of runs, the newest window and history gaps;
//! - [`engine`]: the sans-I/O sync engine (state + event -> commands);
//! - [`cache`]: the SQLite message cache (persists `SeqRuns`, the outbox, tickets);
//! - [`client`]: `ChatSyncClient`, the async driver that executes the engine's
//!   commands against the cache, the server ([`net`]) and timers.

pub mod cache;
pub mod client;
pub mod clock;
pub mod engine;
pub mod history;
pub mod net;
pub mod observe;
pub mod runs;
pub mod types;
pub mod validate;
pub mod wire;

pub use cache::{CacheError, CacheOptions, MessageCache};
pub use client::{ChatSyncClient, ClientConfig, ClientError, SyncEvent};
pub use runs::SeqRuns;
pub use types::*;
pub use validate::{SeqSummary, validate};
