//! Measurement 2: opening a chat from the cache, to the first rendered page (the latest
//! 50 messages and the meta), through the Rust API (`ChatSyncClient::open_chat` with
//! `open_message_limit = 50`), next to the cache layer alone and the bare SQLite query
//! of the same 50 rows, all on the same file in the same run; then the same opens
//! through the generated Kotlin bindings on the JVM ([`crate::kotlin`]) and the Python
//! bindings ([`crate::python`]), each in its own process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatsync::cache::EvictionLimits;
use chatsync::net::api::StaticToken;
use chatsync::{ChatSyncClient, ClientConfig, SyncState};
use serde::Serialize;

use crate::fixtures::{floor_query, read_only, step_only_query};
use crate::harness::ensure;
use crate::measure::{Latency, Sampler, ratio, sample};
use crate::{BenchError, Progress};

/// Messages on the first page.
pub const FIRST_PAGE: u32 = 50;
/// Target: p99 of `open_chat` at 100k messages, in microseconds.
pub const TARGET_P99_US: f64 = 200.0;
/// Target through the bindings, in microseconds.
pub const TARGET_BINDINGS_P99_US: f64 = 1000.0;

/// One chat size's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenRow {
    /// Messages in the chat.
    pub messages: i64,
    /// `ChatSyncClient::open_chat` (cache read, validation, engine, meta).
    pub rust_api: Latency,
    /// The cache layer alone: `get_cached_messages(50)` + `get_sync_meta`.
    pub cache_layer: Latency,
    /// The two sync-state writes every open makes through the engine (UNKNOWN, then
    /// SYNCED: `update_sync_state` twice), measured alone.
    pub state_writes: Latency,
    /// The bare SQLite query of the same 50 rows, every column read into owned values
    /// (the floor of any reader of those rows).
    pub sqlite_floor: Latency,
    /// The same query stepping over the rows without reading a column (SQLite's share).
    pub sqlite_step_only: Latency,
    /// `rust_api.p50 / sqlite_floor.p50` (medians: the p99s are dominated by preemption
    /// on a shared machine).
    pub p50_vs_floor: Option<f64>,
}

/// Measurement 2's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenReport {
    /// Timed opens per size (after a warm-up).
    pub iterations: usize,
    /// One row per chat size.
    pub rows: Vec<OpenRow>,
    /// `measured`, or why the Python bindings were not measured.
    pub bindings: String,
    /// `open_chat` through the generated Python bindings, per size (empty when not measured).
    pub python: Vec<crate::python::PythonRow>,
    /// The Rust p99 target (< 0.2 ms at 100k) was met; `None` when 100k was not measured.
    pub target_met: Option<bool>,
    /// The bindings' p99 target (< 1 ms at 100k) was met, judged on Kotlin when it was
    /// measured at 100k, else on Python; `None` when neither was.
    pub bindings_target_met: Option<bool>,
    /// `kotlin` or `python`: which bindings `bindings_target_met` judges; `None` when
    /// neither was measured at 100k.
    pub bindings_target_judged_on: Option<String>,
    /// The Python figure against the bindings' target (informational when Kotlin is
    /// measured); `None` when not measured at 100k.
    pub python_target_met: Option<bool>,
    /// `measured`, or why the Kotlin bindings were not measured.
    pub kotlin_status: String,
    /// `open_chat` through the generated Kotlin bindings on the JVM (`None` when not measured).
    pub kotlin: Option<crate::kotlin::KotlinRun>,
}

/// Whether the bindings' p99 target was met at 100k, from (messages, p99 µs) rows;
/// `None` when 100k is not among them.
fn bindings_target(mut rows: impl Iterator<Item = (i64, f64)>) -> Option<bool> {
    rows.find(|&(n, _)| n == 100_000)
        .map(|(_, p99)| p99 < TARGET_BINDINGS_P99_US)
}

/// The chat id of the fixture chat with `n` messages.
pub fn chat_id(n: i64) -> String {
    format!("chat-{n}")
}

/// Measures every size in `sizes` on the fixture cache at `path`, `iterations` timed
/// opens each (the Kotlin program after the `kotlin_warmup` untimed ones).
pub fn run(
    path: &Path,
    sizes: &[i64],
    iterations: usize,
    kotlin_warmup: crate::kotlin::Warmup,
    progress: &Progress,
) -> Result<OpenReport, BenchError> {
    // No server: a valid cache opens with zero requests (checked below), so the
    // address is never contacted.
    let mut config = ClientConfig::new("http://127.0.0.1:9", Some(path.to_path_buf()));
    config.open_message_limit = FIRST_PAGE;
    config.eviction = EvictionLimits::unlimited();
    config.revalidate_interval = Duration::from_secs(3600);
    let client = Arc::new(ChatSyncClient::new(
        config,
        Arc::new(StaticToken("unused".into())),
    )?);
    let floor_conn = read_only(path)?;
    let warmup = (iterations / 10).max(20);
    let mut rows = Vec::new();
    for &n in sizes {
        progress.say(&format!("open: {n} messages"));
        let chat = chat_id(n);
        let first = client.open_chat(&chat)?;
        ensure(
            first.messages.len() == FIRST_PAGE as usize
                && first.meta.sync_state == SyncState::Synced,
            || {
                format!(
                    "opening {chat} gave {} messages, {:?}",
                    first.messages.len(),
                    first.meta.sync_state
                )
            },
        )?;
        client.close_chat(&chat);
        for _ in 0..warmup {
            client.open_chat(&chat)?;
            client.close_chat(&chat);
        }
        let mut sampler = Sampler::new(iterations);
        for _ in 0..iterations {
            let opened = sampler.time(|| client.open_chat(&chat))?;
            std::hint::black_box(&opened);
            client.close_chat(&chat);
        }
        let rust_api = sampler.latency();
        let cache = client.cache();
        let cache_layer = sample(warmup, iterations, || {
            let messages = cache.get_cached_messages(&chat, Some(FIRST_PAGE as usize))?;
            let meta = cache.get_sync_meta(&chat)?;
            std::hint::black_box((messages, meta));
            Ok::<_, BenchError>(())
        })?;
        let state_writes = sample(warmup, iterations, || {
            cache.update_sync_state(&chat, SyncState::Unknown, None)?;
            cache.update_sync_state(&chat, SyncState::Synced, Some(chatsync::clock::now_ms()))?;
            Ok::<_, BenchError>(())
        })?;
        let sqlite_floor = sample(warmup, iterations, || {
            let n = floor_query(&floor_conn, &chat, i64::from(FIRST_PAGE))?;
            ensure(n == FIRST_PAGE as usize, || {
                format!("the floor query read {n} rows")
            })
        })?;
        let sqlite_step_only = sample(warmup, iterations, || {
            let n = step_only_query(&floor_conn, &chat, i64::from(FIRST_PAGE))?;
            ensure(n == FIRST_PAGE as usize, || {
                format!("the step-only query read {n} rows")
            })
        })?;
        rows.push(OpenRow {
            messages: n,
            p50_vs_floor: ratio(rust_api.p50_us, sqlite_floor.p50_us),
            sqlite_step_only,
            rust_api,
            cache_layer,
            state_writes,
            sqlite_floor,
        });
    }
    let requests = client.net_stats().http_requests;
    ensure(requests == 0, || {
        format!("opening valid caches made {requests} requests")
    })?;
    drop(client);
    let target_met = rows
        .iter()
        .find(|r| r.messages == 100_000)
        .map(|r| r.rust_api.p99_us < TARGET_P99_US);
    progress.say("open: through the Python bindings");
    let chats: Vec<(String, i64)> = sizes.iter().map(|&n| (chat_id(n), n)).collect();
    let (bindings, python) = match crate::python::run(path, &chats, iterations) {
        Ok(python) => ("measured".to_string(), python),
        Err(reason) => (reason, Vec::new()),
    };
    progress.say("open: through the Kotlin bindings (JVM)");
    let (kotlin_status, kotlin) = match crate::kotlin::run(path, &chats, iterations, kotlin_warmup)
    {
        Ok(run) => ("measured".to_string(), Some(run)),
        Err(reason) => (reason, None),
    };
    let python_target_met =
        bindings_target(python.iter().map(|r| (r.messages, r.open_chat.p99_us)));
    let kotlin_target_met = kotlin
        .as_ref()
        .and_then(|k| bindings_target(k.rows.iter().map(|r| (r.messages, r.open_chat.p99_us))));
    let (bindings_target_met, bindings_target_judged_on) =
        match (kotlin_target_met, python_target_met) {
            (Some(met), _) => (Some(met), Some("kotlin".to_string())),
            (None, Some(met)) => (Some(met), Some("python".to_string())),
            (None, None) => (None, None),
        };
    Ok(OpenReport {
        iterations,
        rows,
        bindings,
        python,
        target_met,
        bindings_target_met,
        bindings_target_judged_on,
        python_target_met,
        kotlin_status,
        kotlin,
    })
}
