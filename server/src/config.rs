//! Server configuration: addresses, storage, users, seed data, WebSocket timing
//! and the limits of `docs/protocol.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest message `content` accepted by `POST .../messages`, in Unicode scalar values
/// (characters). Longer content gets 400.
pub const MAX_CONTENT_CHARS: usize = 10_000;
/// Largest request body accepted, in bytes. Larger bodies get 413.
pub const MAX_REQUEST_BODY_BYTES: usize = 128 * 1024;
/// Longest `clientTempId` accepted, in bytes.
pub const MAX_CLIENT_TEMP_ID_BYTES: usize = 128;
/// Smallest and largest `limit` of a message page.
pub const PAGE_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=500;
/// `limit` used when a page request has none.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;

/// The two sides of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person who opened the ticket (the requester apps' user).
    Requester,
    /// The person working on it.
    Technician,
}

impl Role {
    /// The wire name: `requester` or `technician`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Technician => "technician",
        }
    }

    /// Parses the wire name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "requester" => Some(Role::Requester),
            "technician" => Some(Role::Technician),
            _ => None,
        }
    }
}

/// A user the server knows, with the bearer token that authenticates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSpec {
    /// Stable user id (appears as `senderId`).
    pub id: String,
    /// Requester or technician.
    pub role: Role,
    /// Display name (appears as `sender.fullName`).
    pub full_name: String,
    /// Bearer token; `None` lets the server generate a random one.
    #[serde(default)]
    pub token: Option<String>,
}

impl UserSpec {
    /// A user with a generated token.
    pub fn new(id: impl Into<String>, role: Role, full_name: impl Into<String>) -> Self {
        UserSpec {
            id: id.into(),
            role,
            full_name: full_name.into(),
            token: None,
        }
    }

    /// The same user with a fixed token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// The JSON file of `--users-file`: `{"users": [UserSpec, ...], "adminToken": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersFile {
    /// The users (at least one requester and one technician when seeding).
    pub users: Vec<UserSpec>,
    /// Admin token (used only when faults are allowed).
    #[serde(default)]
    pub admin_token: Option<String>,
}

/// Seed data created at start when the database holds no tickets yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSpec {
    /// Tickets to create, all between the first requester and the first technician.
    pub tickets: u32,
    /// Messages in each ticket (sequences 1..=M).
    pub messages_per_ticket: u32,
    /// Seed of the generator: the same spec gives the same ids, titles and contents.
    pub rng_seed: u64,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            tickets: 0,
            messages_per_ticket: 0,
            rng_seed: 0x5eed,
        }
    }
}

impl SeedSpec {
    /// `tickets` tickets of `messages_per_ticket` messages each, default generator seed.
    pub fn new(tickets: u32, messages_per_ticket: u32) -> Self {
        SeedSpec {
            tickets,
            messages_per_ticket,
            ..SeedSpec::default()
        }
    }
}

/// WebSocket timing and buffering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// The server pings each connection this often.
    pub ping_interval: Duration,
    /// A connection that sends nothing (no pong, no frame) this long after a ping is dropped;
    /// a frame write that takes longer than this also drops the connection.
    pub pong_timeout: Duration,
    /// Frames queued per connection; a connection that falls further behind is dropped.
    pub queue_capacity: usize,
    /// A push held back by a reorder fault is released after this long if no later push comes.
    pub reorder_hold_max: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(10),
            queue_capacity: 256,
            reorder_hold_max: Duration::from_secs(1),
        }
    }
}

/// Everything [`crate::Server::start`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Listening address; port 0 picks a free port (the default is `127.0.0.1:0`,
    /// unlike the binary's `127.0.0.1:8787`).
    pub addr: SocketAddr,
    /// SQLite file (WAL); `None` keeps everything in memory.
    pub db: Option<PathBuf>,
    /// Seed data.
    pub seed: SeedSpec,
    /// Enables the admin HTTP endpoints (and generates an admin token if none is given).
    /// The in-process [`crate::FaultController`] works either way.
    pub faults_allowed: bool,
    /// Users to create or update; empty means a default requester and technician
    /// (unless the database already has users).
    pub users: Vec<UserSpec>,
    /// Admin token; generated when `None` and faults are allowed.
    pub admin_token: Option<String>,
    /// WebSocket timing.
    pub ws: WsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: None,
            seed: SeedSpec::default(),
            faults_allowed: false,
            users: Vec::new(),
            admin_token: None,
            ws: WsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// An in-memory server on an ephemeral loopback port with the default users.
    pub fn ephemeral() -> Self {
        ServerConfig::default()
    }

    /// The same config with seed data.
    pub fn with_seed(mut self, tickets: u32, messages_per_ticket: u32) -> Self {
        self.seed = SeedSpec {
            tickets,
            messages_per_ticket,
            ..self.seed
        };
        self
    }

    /// The same config with the admin endpoints enabled.
    pub fn with_faults(mut self) -> Self {
        self.faults_allowed = true;
        self
    }

    /// The same config with an explicit user list.
    pub fn with_users(mut self, users: Vec<UserSpec>) -> Self {
        self.users = users;
        self
    }
}

/// The users created when none are configured and the database has none.
pub fn default_users() -> Vec<UserSpec> {
    vec![
        UserSpec::new("requester-1", Role::Requester, "Dana Whitfield"),
        UserSpec::new("technician-1", Role::Technician, "Sam Ortega"),
    ]
}
