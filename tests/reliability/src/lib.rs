//! `chatsync-reliability`: harnesses that show, with real parts, that chatsync loses
//! nothing and always converges (issue 10; figures in `docs/reliability.md`).
//!
//! Everything here runs the real `chatsync` client and cache against the real
//! reference server (`chatsync-server`) over loopback, or against a deliberately
//! hostile server in the bad-input matrix. Nothing is mocked.
//!
//! - [`knobs`]: run sizes from `CHATSYNC_REL_*` environment variables (short CI
//!   defaults; `tests/reliability/run.sh --long` raises them);
//! - [`serverdb`]: read-only queries of the reference server's SQLite file (what the
//!   server really stored: every `clientTempId`, every message);
//! - [`worker`]: the protocol between the crash harness and its victim process
//!   (`chatsync-crash-worker`);
//! - [`report`]: the JSON figures each harness writes for `docs/reliability.md`;
//! - [`panics`]: a process-wide panic counter (client tasks run on tokio, where a
//!   panic would otherwise vanish silently).

pub mod knobs;
pub mod panics;
pub mod report;
pub mod serverdb;
pub mod worker;

/// A plain HTTP client for raw requests in tests (a second party posting, probing
/// the server directly), on the same rustls configuration as the chatsync client.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls((*chatsync::net::tls::client_config()).clone())
        .build()
        .expect("a reqwest client with the chatsync TLS configuration")
}
