//! Measurement 2 through the generated Python bindings: a `python3` process imports
//! the UniFFI-generated `chatsync_ffi` module over the release build of the FFI
//! library and times `ChatSyncClient.open_chat` on the same cache file as the Rust
//! measurement (wall: `perf_counter_ns`; CPU: `thread_time_ns` of the calling thread,
//! on which the Rust side of `open_chat` runs).
//!
//! Inputs, from the workspace's target directory (`CARGO_TARGET_DIR` or `target/`):
//! `bindings/python/chatsync_ffi.py` and `release/libchatsync_ffi.so`, both made by
//! `bindings/scripts/generate.sh --release`. The interpreter is `python3` (or
//! `CHATSYNC_BENCH_PYTHON`). When one is missing the figure is reported as not
//! measured, saying why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::measure::Latency;

/// The timing script run by the interpreter (arguments: the module directory, the
/// cache file, iterations, chat ids); prints one JSON object.
const SCRIPT: &str = r#"
import json, sys, time
module_dir, cache_path, iterations, *chats = sys.argv[1:]
sys.path.insert(0, module_dir)
import chatsync_ffi as cs

class Token(cs.AuthTokenProvider):
    def token(self, rejected):
        return "unused"

config = cs.default_client_config("http://127.0.0.1:9", cache_path)
config.open_message_limit = 50
config.max_messages_per_chat = None
config.max_messages_total = None
config.revalidate_interval_ms = 3_600_000
client = cs.ChatSyncClient(config, Token())
n = int(iterations)
out = {}
for chat in chats:
    first = client.open_chat(chat)
    if len(first.messages) != 50 or first.meta.sync_state != cs.SyncState.SYNCED:
        raise SystemExit(f"{chat}: {len(first.messages)} messages, {first.meta.sync_state}")
    client.close_chat(chat)
    for _ in range(max(20, n // 10)):
        client.open_chat(chat)
        client.close_chat(chat)
    wall, cpu = [], []
    for _ in range(n):
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        opened = client.open_chat(chat)
        t1 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        client.close_chat(chat)
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
    out[chat] = {"wallNs": wall, "cpuNs": cpu}
print(json.dumps({"results": out, "requests": client.net_stats().http_requests}))
"#;

/// One chat size through the bindings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PythonRow {
    /// Messages in the chat.
    pub messages: i64,
    /// `open_chat` from Python: wall and thread CPU percentiles.
    pub open_chat: Latency,
}

/// The module and library to load, if both exist.
fn inputs() -> Result<(PathBuf, PathBuf), String> {
    let target = crate::target_dir();
    let module = target.join("bindings/python/chatsync_ffi.py");
    let library = target.join("release/libchatsync_ffi.so");
    for file in [&module, &library] {
        if !file.is_file() {
            return Err(format!(
                "not measured: {} is missing (run bindings/scripts/generate.sh --release)",
                file.display()
            ));
        }
    }
    if let Some(stale) = crate::stale_ffi_build(&library) {
        return Err(format!(
            "not measured: {stale} (run bindings/scripts/generate.sh --release)"
        ));
    }
    Ok((module, library))
}

/// Times `open_chat` through the bindings for `chats` (id, size); `Err` says why it
/// was not measured.
pub fn run(
    cache: &Path,
    chats: &[(String, i64)],
    iterations: usize,
) -> Result<Vec<PythonRow>, String> {
    let (module, library) = inputs()?;
    let dir = tempfile::tempdir().map_err(|e| format!("not measured: {e}"))?;
    let copy = |from: &Path| {
        let name = from.file_name().unwrap_or_default();
        std::fs::copy(from, dir.path().join(name)).map_err(|e| format!("not measured: {e}"))
    };
    copy(&module)?;
    copy(&library)?;
    let script = dir.path().join("open_chat.py");
    std::fs::write(&script, SCRIPT).map_err(|e| format!("not measured: {e}"))?;
    let python = std::env::var_os("CHATSYNC_BENCH_PYTHON").unwrap_or_else(|| "python3".into());
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .arg(cache)
        .arg(iterations.to_string())
        .args(chats.iter().map(|(id, _)| id))
        .output()
        .map_err(|e| format!("not measured: cannot run {}: {e}", python.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "failed: the Python run exited {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse(&output.stdout, chats)
}

fn parse(stdout: &[u8], chats: &[(String, i64)]) -> Result<Vec<PythonRow>, String> {
    let value = crate::offline_opens_output(stdout, "Python")?;
    let durations = |v: &serde_json::Value| -> Vec<Duration> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_u64())
                    .map(Duration::from_nanos)
                    .collect()
            })
            .unwrap_or_default()
    };
    chats
        .iter()
        .map(|(id, n)| {
            let r = &value["results"][id];
            let (wall, cpu) = (durations(&r["wallNs"]), durations(&r["cpuNs"]));
            if wall.is_empty() || wall.len() != cpu.len() {
                return Err(format!("failed: no samples for {id}"));
            }
            Ok(PythonRow {
                messages: *n,
                open_chat: Latency::of(&wall).with_cpu(&cpu),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_output_is_parsed_and_checked() {
        let chats = vec![("chat-1000".to_string(), 1000)];
        let ok = br#"{"results": {"chat-1000": {"wallNs": [1000, 3000], "cpuNs": [900, 2000]}}, "requests": 0}"#;
        let rows = parse(ok, &chats).unwrap();
        assert_eq!(rows[0].messages, 1000);
        assert!((rows[0].open_chat.p50_us - 1.0).abs() < 1e-9);
        assert_eq!(rows[0].open_chat.cpu_p99_us, Some(2.0));
        let requests = br#"{"results": {}, "requests": 2}"#;
        assert!(parse(requests, &chats).unwrap_err().contains("2 requests"));
        assert!(parse(b"nope", &chats).is_err());
    }
}
