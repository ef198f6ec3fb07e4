//! `chatsync-server`: the reference backend of chatsync, implementing
//! `docs/protocol.md` (the wire contract v1) over axum + SQLite.
//!
//! It gives every ticket gapless per-ticket sequences (1, 2, 3, ... assigned inside
//! the write transaction), serves the ticket list with `lastMessageSequence`, message
//! pages (`afterSequence`, `beforeSequence`, latest) with `hasMore`, idempotent posts by
//! `clientTempId`, read pointers, a per-ticket `history` epoch that changes whenever a
//! restore rewrites the chat, and a WebSocket with `message.new` and `ticket.updated`
//! pushes. For tests it injects faults (lost, duplicated, reordered, delayed pushes;
//! delayed, failed, truncated HTTP answers; `lastMessageSequence: null`; restores from
//! a backup) deterministically, in-process or through admin endpoints.
//!
//! It does not depend on the `chatsync` client crate: the two are independent
//! implementations of the same document, so a contract bug shows up as a failing test.
//!
//! # In-process use
//!
//! ```no_run
//! use chatsync_server::{PushKind, Role, Server, ServerConfig};
//!
//! # async fn demo() -> Result<(), chatsync_server::ServerError> {
//! let server = Server::start(ServerConfig::ephemeral().with_seed(3, 50)).await?;
//! let requester = server.first_user(Role::Requester).expect("default users");
//! println!("{} as {}", server.base_url(), requester.token);
//! let ticket = server.ticket_ids().await?[0].clone();
//! server.faults().drop_next_pushes(1, PushKind::MessageNew);
//! let posted = server.post_message(&ticket, &requester.id, "hello", Some("tmp-1")).await?;
//! assert_eq!(posted.message.sequence_number, 51);
//! server.shutdown().await
//! # }
//! ```
//!
//! # As a process
//!
//! `chatsync-server --addr 127.0.0.1:0 --seed-tickets 100 --seed-messages 1000 --faults`
//! prints one JSON line (see [`startup_line`]) once listening; SIGTERM stops it.

mod admin;
mod cli;
mod config;
mod error;
mod etag;
mod faults;
mod http;
mod hub;
mod seed;
mod server;
mod stats;
mod store;
pub mod wire;

pub use cli::{ServeArgs, init_tracing, run};
pub use config::{
    DEFAULT_PAGE_LIMIT, MAX_CLIENT_TEMP_ID_BYTES, MAX_CONTENT_CHARS, MAX_REQUEST_BODY_BYTES,
    PAGE_LIMIT_RANGE, Role, SeedSpec, ServerConfig, UserSpec, UsersFile, WsConfig, default_users,
};
pub use error::{ApiError, ServerError};
pub use faults::{
    FaultController, FaultSettings, HttpCount, PushCount, PushKind, RandomPushFaults, TargetedDrop,
};
pub use server::{RunningServer, Server, UserInfo, startup_line};
pub use stats::{EndpointKind, StatsSnapshot};
pub use store::{PostOutcome, RestoreOutcome};
pub use wire::History;
