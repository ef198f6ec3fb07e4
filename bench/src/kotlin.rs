//! Measurement 2 through the generated Kotlin bindings on the JVM: a `java` process runs
//! `dev.chatsync.bench.OpenChatBenchKt` (android/jvm-bench), which opens the same cache
//! file as the Rust measurement through the UniFFI Kotlin bindings (`dev.chatsync.ffi`,
//! over JNA) on the release build of the FFI library, and times
//! `ChatSyncClient.openChat` (wall: `System.nanoTime`; CPU: the calling thread's CPU
//! time from `ThreadMXBean`, on which the Rust side of the call runs too).
//!
//! Inputs, from the workspace's target directory (`CARGO_TARGET_DIR` or `target/`):
//! `bench-kotlin/classpath.txt` (the program's jar and its dependencies) and
//! `release/libchatsync_ffi.so`, both made by `bench/scripts/kotlin.sh`. The runtime is
//! `java` (or `CHATSYNC_BENCH_JAVA`). The bench never builds them (no Maven in a bench
//! run, quick or full): when one is missing the figure is reported as not measured,
//! saying why and the command that makes it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::measure::Latency;

/// The command that builds the inputs.
pub const BUILD_COMMAND: &str = "bench/scripts/kotlin.sh";

/// The program's main class.
const MAIN_CLASS: &str = "dev.chatsync.bench.OpenChatBenchKt";

/// Untimed opens before any timing in a full run, round-robin over the chats (the JIT
/// warm-up). HotSpot compiles a method with C2 after about 5,000 calls, later while its
/// compile queue is busy. The per-record lifting runs 50 times per open and reaches C2
/// within a few hundred opens, but the per-open code (`ChatSyncClient.openChat` /
/// `closeChat`, the buffer lifting and freeing) runs once per open: in JIT logs
/// (`-Xlog:jit+compilation`) of runs on this 2-core machine, `openChat` reached C2 after
/// 8,000 to 13,000 calls (tier 2, then 3, then 4). 20,000 leaves a margin; each row
/// reports the JIT time during its timed opens, to show when it did not suffice.
pub const JIT_WARMUP: usize = 20_000;

/// The warm-up opens of each chat just before its timed ones, in a full run:
/// `max(2000, iterations / 10)` (its SQLite pages and the client's state for that chat;
/// the quick smoke run uses fewer, and no JIT warm-up: its figures are not
/// representative anyway).
pub fn warmup(iterations: usize) -> usize {
    (iterations / 10).max(2_000)
}

/// JVM options: a fixed 256 MiB heap (no resizing while timing; 2,000 results of 50
/// records are far below it).
const JVM_OPTIONS: [&str; 2] = ["-Xms256m", "-Xmx256m"];

/// One chat size through the Kotlin bindings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KotlinRow {
    /// Messages in the chat.
    pub messages: i64,
    /// `openChat` from Kotlin: wall and thread CPU percentiles.
    pub open_chat: Latency,
    /// Garbage collections during the timed opens (their pauses are in the wall times).
    pub gc_count: u64,
    /// Their accumulated time, in milliseconds, as the JVM reports it.
    pub gc_time_ms: u64,
    /// JIT compilation time during the timed opens, in milliseconds (0: the timed code
    /// was compiled before; compilation runs on other threads, so it shows only in wall
    /// times on a busy machine).
    pub jit_ms: u64,
}

/// A Kotlin run's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KotlinRun {
    /// One row per chat size, in the order asked.
    pub rows: Vec<KotlinRow>,
    /// Untimed opens before any timing, round-robin over the chats.
    pub jit_warmup: usize,
    /// Untimed opens of each chat just before its timed ones.
    pub warmup: usize,
    /// The JVM's name and version.
    pub jvm: String,
}

/// What a run needs: the runtime, the classpath and the FFI library's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KotlinInputs {
    /// The `java` executable.
    pub java: OsString,
    /// The file holding the classpath (one line, `:`-separated).
    pub classpath_file: PathBuf,
    /// The release `libchatsync_ffi.so`.
    pub library: PathBuf,
}

impl KotlinInputs {
    /// The default inputs: `java` (or `CHATSYNC_BENCH_JAVA`) and the files
    /// `bench/scripts/kotlin.sh` writes under the workspace's target directory.
    pub fn default_paths() -> KotlinInputs {
        let target = crate::target_dir();
        KotlinInputs {
            java: std::env::var_os("CHATSYNC_BENCH_JAVA").unwrap_or_else(|| "java".into()),
            classpath_file: target.join("bench-kotlin/classpath.txt"),
            library: target.join("release/libchatsync_ffi.so"),
        }
    }

    /// The classpath, when the files exist; `Err` says which is missing.
    fn classpath(&self) -> Result<String, String> {
        let missing = |file: &Path| {
            format!(
                "not measured: {} is missing (run {BUILD_COMMAND})",
                file.display()
            )
        };
        for file in [&self.classpath_file, &self.library] {
            if !file.is_file() {
                return Err(missing(file));
            }
        }
        if let Some(stale) = crate::stale_ffi_build(&self.library) {
            return Err(format!("not measured: {stale} (run {BUILD_COMMAND})"));
        }
        let classpath = std::fs::read_to_string(&self.classpath_file)
            .map_err(|e| format!("not measured: {}: {e}", self.classpath_file.display()))?;
        let classpath = classpath.trim().to_string();
        if classpath.is_empty() {
            return Err(format!(
                "not measured: {} is empty (run {BUILD_COMMAND})",
                self.classpath_file.display()
            ));
        }
        if let Some(entry) = classpath
            .split(':')
            .find(|entry| !entry.is_empty() && !Path::new(entry).exists())
        {
            return Err(format!(
                "not measured: {entry}, on the classpath, is missing (run {BUILD_COMMAND})"
            ));
        }
        Ok(classpath)
    }
}

/// The untimed opens of a run: before any timing, and per chat before its timed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmup {
    /// Round-robin over the chats before any timing.
    pub jit: usize,
    /// Of each chat, just before its timed opens.
    pub per_chat: usize,
}

impl Warmup {
    /// A full run's: [`JIT_WARMUP`], then [`warmup`]`(iterations)` per chat.
    pub fn full(iterations: usize) -> Warmup {
        Warmup {
            jit: JIT_WARMUP,
            per_chat: warmup(iterations),
        }
    }
}

/// Times `open_chat` through the Kotlin bindings for `chats` (id, size) on the cache at
/// `cache`, `iterations` times per chat after the `warmup` opens, with the default
/// inputs; `Err` says why it was not measured.
pub fn run(
    cache: &Path,
    chats: &[(String, i64)],
    iterations: usize,
    warmup: Warmup,
) -> Result<KotlinRun, String> {
    run_with(
        &KotlinInputs::default_paths(),
        cache,
        chats,
        iterations,
        warmup,
    )
}

/// The same with explicit inputs.
pub fn run_with(
    inputs: &KotlinInputs,
    cache: &Path,
    chats: &[(String, i64)],
    iterations: usize,
    warmup: Warmup,
) -> Result<KotlinRun, String> {
    let classpath = inputs.classpath()?;
    // A private copy of the library: a concurrent cargo build may rewrite the original.
    let dir = tempfile::tempdir().map_err(|e| format!("not measured: {e}"))?;
    let name = inputs.library.file_name().unwrap_or_default();
    std::fs::copy(&inputs.library, dir.path().join(name))
        .map_err(|e| format!("not measured: {}: {e}", inputs.library.display()))?;
    let output = std::process::Command::new(&inputs.java)
        .args(JVM_OPTIONS)
        .arg(format!("-Djna.library.path={}", dir.path().display()))
        .arg("-cp")
        .arg(&classpath)
        .arg(MAIN_CLASS)
        .arg(cache)
        .arg(iterations.to_string())
        .arg(warmup.jit.to_string())
        .arg(warmup.per_chat.to_string())
        .args(chats.iter().map(|(id, _)| id))
        .output()
        .map_err(|e| {
            format!(
                "not measured: cannot run {}: {e} (install Java 17, then run {BUILD_COMMAND})",
                inputs.java.to_string_lossy()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "failed: the Kotlin run exited {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse(&output.stdout, chats, iterations)
}

/// Reads the program's JSON output for `chats`, each with `iterations` samples.
pub fn parse(
    stdout: &[u8],
    chats: &[(String, i64)],
    iterations: usize,
) -> Result<KotlinRun, String> {
    let value = crate::offline_opens_output(stdout, "Kotlin")?;
    let durations = |v: &serde_json::Value| -> Option<Vec<Duration>> {
        v.as_array()?
            .iter()
            .map(|n| n.as_u64().map(Duration::from_nanos))
            .collect()
    };
    let rows = chats
        .iter()
        .map(|(id, n)| {
            let r = &value["results"][id];
            let (Some(wall), Some(cpu)) = (durations(&r["wallNs"]), durations(&r["cpuNs"]))
            else {
                return Err(format!("failed: no samples for {id} in the Kotlin output"));
            };
            if wall.len() != iterations || cpu.len() != iterations {
                return Err(format!(
                    "failed: the Kotlin output has {} wall and {} CPU samples for {id}, not {iterations}",
                    wall.len(),
                    cpu.len()
                ));
            }
            Ok(KotlinRow {
                messages: *n,
                open_chat: Latency::of(&wall).with_cpu(&cpu),
                gc_count: r["gcCount"].as_u64().unwrap_or(0),
                gc_time_ms: r["gcTimeMs"].as_u64().unwrap_or(0),
                jit_ms: r["jitMs"].as_u64().unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let count = |key: &str| {
        value[key]
            .as_u64()
            .and_then(|w| usize::try_from(w).ok())
            .unwrap_or(0)
    };
    Ok(KotlinRun {
        rows,
        jit_warmup: count("jitWarmup"),
        warmup: count("warmup"),
        jvm: value["jvm"].as_str().unwrap_or("unknown").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chats() -> Vec<(String, i64)> {
        vec![
            ("chat-1000".to_string(), 1000),
            ("chat-10000".to_string(), 10_000),
        ]
    }

    #[test]
    fn the_program_output_is_parsed_and_checked() {
        let ok = br#"{"results":{"chat-1000":{"wallNs":[1000,3000],"cpuNs":[900,2000],"gcCount":1,"gcTimeMs":4,"jitMs":2,"timedFromMs":9000},
            "chat-10000":{"wallNs":[5000,7000],"cpuNs":[4000,6000],"gcCount":0,"gcTimeMs":0}},
            "requests":0,"jitWarmup":20000,"warmup":2000,"cpuOverheadNs":300,"checksum":12,"jvm":"OpenJDK 64-Bit Server VM 17"}"#;
        let run = parse(ok, &chats(), 2).unwrap();
        assert_eq!(run.warmup, 2000);
        assert_eq!(run.jvm, "OpenJDK 64-Bit Server VM 17");
        assert_eq!(run.rows.len(), 2);
        assert_eq!(run.rows[0].messages, 1000);
        assert!((run.rows[0].open_chat.p50_us - 1.0).abs() < 1e-9);
        assert_eq!(run.rows[0].open_chat.cpu_p99_us, Some(2.0));
        assert_eq!((run.rows[0].gc_count, run.rows[0].gc_time_ms), (1, 4));
        assert_eq!(run.rows[0].jit_ms, 2);
        assert_eq!(run.jit_warmup, 20_000);
        assert!((run.rows[1].open_chat.p99_us - 7.0).abs() < 1e-9);
    }

    #[test]
    fn bad_output_is_an_error_never_a_figure() {
        let requests = br#"{"results":{},"requests":3}"#;
        assert!(
            parse(requests, &chats(), 2)
                .unwrap_err()
                .contains("3 requests")
        );
        let missing = br#"{"results":{"chat-1000":{"wallNs":[1],"cpuNs":[1]}},"requests":0}"#;
        assert!(
            parse(missing, &chats(), 1)
                .unwrap_err()
                .contains("chat-10000")
        );
        let short = br#"{"results":{"chat-1000":{"wallNs":[1],"cpuNs":[1]},"chat-10000":{"wallNs":[1],"cpuNs":[1]}},"requests":0}"#;
        assert!(parse(short, &chats(), 2).unwrap_err().contains("not 2"));
        let negative = br#"{"results":{"chat-1000":{"wallNs":[-1],"cpuNs":[1]},"chat-10000":{"wallNs":[1],"cpuNs":[1]}},"requests":0}"#;
        assert!(parse(negative, &chats(), 1).is_err());
        assert!(parse(b"OpenChatBench: boom", &chats(), 1).is_err());
    }

    #[test]
    fn a_full_run_warms_up_the_jit_then_each_chat() {
        assert_eq!(warmup(200), 2_000);
        assert_eq!(warmup(2000), 2_000);
        assert_eq!(warmup(50_000), 5_000);
        assert_eq!(
            Warmup::full(2000),
            Warmup {
                jit: 20_000,
                per_chat: 2_000
            }
        );
    }
}
