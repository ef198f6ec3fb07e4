//! Shared harness of the `chatsync` command tests: the real reference server
//! in-process on loopback (its own runtime, so tests can block on child processes),
//! real cache files in a temporary directory, and the built binary run as a process.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use chatsync_server::{FaultController, RunningServer, Server, ServerConfig, StatsSnapshot};
use serde_json::Value;

/// The requester's fixed token.
pub const TOKEN: &str = "requester-token";
/// The seeded technician.
pub const TECHNICIAN: &str = "technician-1";

/// The `chatsync` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chatsync")
}

/// A running reference server and a directory for cache files.
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// `tickets` seeded tickets of `messages` messages, faults allowed, token [`TOKEN`].
    pub fn start(tickets: u32, messages: u32) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let users = chatsync_server::default_users()
            .into_iter()
            .map(|u| {
                if u.role == chatsync_server::Role::Requester {
                    u.with_token(TOKEN)
                } else {
                    u
                }
            })
            .collect();
        let config = ServerConfig::ephemeral()
            .with_seed(tickets, messages)
            .with_faults()
            .with_users(users);
        let server = runtime
            .block_on(Server::start(config))
            .expect("the server starts");
        TestServer {
            runtime,
            server: Some(server),
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("running")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server().base_url()
    }

    /// A cache file path in the test's directory.
    pub fn cache(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Ticket ids in creation order.
    pub fn tickets(&self) -> Vec<String> {
        self.runtime
            .block_on(self.server().ticket_ids())
            .expect("ticket ids")
    }

    /// The technician posts; returns the new sequence.
    pub fn post(&self, ticket: &str, text: &str) -> i64 {
        self.runtime
            .block_on(self.server().post_message(ticket, TECHNICIAN, text, None))
            .expect("the post succeeds")
            .message
            .sequence_number
    }

    /// The ticket's last sequence on the server.
    pub fn last(&self, ticket: &str) -> i64 {
        self.runtime
            .block_on(self.server().last_sequence(ticket))
            .expect("a known ticket")
    }

    /// The server's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.server().stats()
    }

    /// The fault controls.
    pub fn faults(&self) -> FaultController {
        self.server().faults()
    }

    /// Open WebSocket connections.
    pub fn websockets(&self) -> usize {
        self.server().websocket_connections()
    }

    /// `chatsync client --server URL --token TOKEN --db CACHE ARGS...`.
    pub fn client(&self, cache: &str, args: &[&str]) -> Run {
        client_at(&self.url(), &self.cache(cache), args)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}

/// A finished `chatsync` process.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as exactly one JSON document (panics with the output otherwise).
    pub fn json(&self) -> Value {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "exactly one JSON document expected: {self:?}"
        );
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Stdout as one JSON object per line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}")))
            .collect()
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `chatsync ARGS...` to completion.
pub fn chatsync(args: &[&str]) -> Run {
    Command::new(bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("CHATSYNC_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
        .into()
}

/// `chatsync client` against any `url`.
pub fn client_at(url: &str, cache: &std::path::Path, args: &[&str]) -> Run {
    let cache = cache.to_string_lossy().into_owned();
    let mut all = vec!["client", "--server", url, "--token", TOKEN, "--db", &cache];
    all.extend_from_slice(args);
    chatsync(&all)
}

/// An origin nobody listens on (a port that was free a moment ago).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object expected: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// `names`, sorted, as owned strings.
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

/// The sequences of a `messages` array.
pub fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("messages array")
        .iter()
        .filter_map(|m| m["sequenceNumber"].as_i64())
        .collect()
}
