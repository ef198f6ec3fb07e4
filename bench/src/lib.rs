//! `chatsync-bench`: the chatsync benchmark suite, as a library behind
//! `chatsync bench [--json] [--quick]` and the `cargo bench -p chatsync-bench` targets.
//!
//! [`run`] measures, in one run and each as a ratio against a reference taken in the
//! same run, with the real `ChatSyncClient`, the real reference server in-process on
//! loopback and real SQLite files in a temporary directory:
//!
//! 1. [`resync`]: requests, messages and bytes to bring a chat up to date, for chatsync,
//!    blind polling and the physical minimum, over a scenario matrix;
//! 2. [`open`]: `open_chat` to the first page (50 messages + meta) at 1k / 10k / 100k
//!    messages, p50 / p99, against the bare SQLite query of those rows, and through the
//!    generated Kotlin (JVM, [`kotlin`]) and Python ([`python`]) bindings;
//! 3. [`validation`]: the O(1) validation path against the seed's O(n) scan, up to 1M;
//! 4. [`ingest`]: pushed messages per second from WebSocket frame to committed row and
//!    observer callback, against raw rusqlite inserts of the same rows;
//! 5. [`memory`]: peak RSS while syncing 100 chats of 1,000 messages; the FFI library size.
//!
//! Guarantees: nothing leaves 127.0.0.1; every temporary file is removed when the run
//! ends; a measurement whose precondition fails (a client that does not settle, a push
//! that never arrives) is an error, never a silently wrong figure; targets are
//! reported as met or missed, never enforced (no timing makes the run fail).

pub mod fixtures;
mod harness;
pub mod ingest;
pub mod kotlin;
pub mod machine;
pub mod measure;
pub mod memory;
pub mod open;
pub mod python;
mod report;
pub mod rest;
pub mod resync;
pub mod validation;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

pub use harness::Cost;
pub use machine::Machine;
pub use report::{Row, Verdict};

/// A section of the suite, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Resync cost vs the minimum and blind polling.
    Resync,
    /// Opening a chat from the cache.
    Open,
    /// O(1) validation vs the full scan.
    Validation,
    /// Realtime ingest vs raw inserts.
    Ingest,
    /// Peak RSS and the FFI library size.
    Memory,
}

/// The command-line arguments of `chatsync bench`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct BenchArgs {
    /// Print the report as one JSON object on one line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Smoke mode: every measurement on small sizes, in a few seconds (for CI; the
    /// figures are not representative).
    #[arg(long)]
    pub quick: bool,
    /// Run only these sections (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Print the table as Markdown (for docs/performance.md).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

impl BenchArgs {
    /// True when `section` is selected.
    pub fn selected(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The reference server failed.
    #[error("reference server: {0}")]
    Server(#[from] chatsync_server::ServerError),
    /// The chatsync client failed.
    #[error("chatsync client: {0}")]
    Client(#[from] chatsync::ClientError),
    /// The chatsync cache failed.
    #[error("chatsync cache: {0}")]
    Cache(#[from] chatsync::CacheError),
    /// A raw SQLite baseline failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file or the runtime could not be created.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A request of a comparison client failed.
    #[error("http: {0}")]
    Http(String),
    /// A measurement's precondition did not hold (e.g. a client did not settle).
    #[error("measurement precondition failed: {0}")]
    Invariant(String),
    /// Where an error happened (the section or scenario).
    #[error("{during}: {source}")]
    During {
        /// The section or scenario that failed.
        during: String,
        /// The error.
        #[source]
        source: Box<BenchError>,
    },
}

impl BenchError {
    /// This error, as having happened during `during`.
    pub fn during(self, during: impl Into<String>) -> BenchError {
        BenchError::During {
            during: during.into(),
            source: Box::new(self),
        }
    }
}

/// Progress lines on stderr (`[  12.3s] ...`), unless quiet.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    started: Instant,
}

impl Progress {
    /// Progress output, on when `enabled`.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            started: Instant::now(),
        }
    }

    /// Prints one line on stderr when enabled.
    pub fn say(&self, line: &str) {
        if self.enabled {
            eprintln!("[{:6.1}s] {line}", self.started.elapsed().as_secs_f64());
        }
    }
}

/// `quick` or `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The smoke run (`--quick`).
    Quick,
    /// The full run.
    Full,
}

/// Everything one run measured. `Display` prints the table; it serialises to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    /// Quick or full.
    pub mode: Mode,
    /// When the run started (UTC, RFC 3339).
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// `/proc/loadavg`'s 1, 5 and 15 minute load averages when the run started (other
    /// work on the machine skews latencies, p99 first).
    pub load_average: String,
    /// Wall time of the whole run, in seconds.
    pub elapsed_seconds: f64,
    /// The table: one row per figure, each against its reference.
    pub rows: Vec<Row>,
    /// Measurement 1, when selected.
    pub resync: Option<resync::ResyncReport>,
    /// Measurement 2, when selected.
    pub open: Option<open::OpenReport>,
    /// Measurement 3, when selected.
    pub validation: Option<validation::ValidationReport>,
    /// Measurement 4, when selected.
    pub ingest: Option<ingest::IngestReport>,
    /// Measurement 5, when selected.
    pub memory: Option<memory::MemoryReport>,
}

impl BenchReport {
    /// The report as the table (default), Markdown, or JSON on one line, as `args` asks.
    pub fn render(&self, args: &BenchArgs) -> String {
        if args.json {
            serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        } else if args.markdown {
            report::markdown(self)
        } else {
            self.to_string()
        }
    }

    /// Rows whose target was missed.
    pub fn missed(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Missed)
            .collect()
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&report::table(self))
    }
}

/// The sizes of a quick or full run.
struct Sizes {
    resync: resync::ResyncPlan,
    open: Vec<i64>,
    open_iterations: usize,
    open_kotlin_warmup: kotlin::Warmup,
    validation: Vec<i64>,
    ingest_paced: usize,
    ingest_messages: usize,
    memory_chats: u32,
    memory_messages: u32,
}

impl Sizes {
    fn of(quick: bool) -> Sizes {
        if quick {
            Sizes {
                resync: resync::ResyncPlan::quick(),
                open: vec![1_000, 10_000],
                open_iterations: 200,
                open_kotlin_warmup: kotlin::Warmup {
                    jit: 0,
                    per_chat: 200,
                },
                validation: vec![1_000, 10_000],
                ingest_paced: 30,
                ingest_messages: 300,
                memory_chats: 10,
                memory_messages: 200,
            }
        } else {
            Sizes {
                resync: resync::ResyncPlan::full(),
                open: vec![1_000, 10_000, 100_000],
                open_iterations: 2_000,
                open_kotlin_warmup: kotlin::Warmup::full(2_000),
                validation: vec![1_000, 10_000, 100_000, 1_000_000],
                ingest_paced: 300,
                ingest_messages: 5_000,
                memory_chats: 100,
                memory_messages: 1_000,
            }
        }
    }
}

/// Runs the selected sections and returns the report. Blocks the calling thread (the
/// suite runs on its own thread and tokio runtime, so it may be called from anywhere,
/// including from inside an async runtime). A full run takes a few minutes on a
/// 2-core machine; `quick` takes seconds.
pub fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("chatsync-bench".into())
            .spawn_scoped(scope, || run_here(args))?
            .join()
            .unwrap_or_else(|_| {
                Err(BenchError::Invariant(
                    "the benchmark thread panicked".into(),
                ))
            })
    })
}

fn run_here(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into());
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let progress = Progress::new(!args.quiet);
    let sizes = Sizes::of(args.quick);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chatsync-bench-rt")
        .enable_all()
        .build()?;
    let (memory, resync, open, validation, ingest) = runtime.block_on(async {
        // Memory first, so earlier sections' allocations do not sit in the baseline.
        let memory = if args.selected(Section::Memory) {
            Some(
                memory::run(sizes.memory_chats, sizes.memory_messages, &progress)
                    .await
                    .map_err(|e| e.during("memory"))?,
            )
        } else {
            None
        };
        let resync = if args.selected(Section::Resync) {
            Some(resync::run(sizes.resync, &progress).await?)
        } else {
            None
        };
        let (mut open, mut validation) = (None, None);
        if args.selected(Section::Open) || args.selected(Section::Validation) {
            let mut needed: Vec<i64> = Vec::new();
            if args.selected(Section::Open) {
                needed.extend(&sizes.open);
            }
            if args.selected(Section::Validation) {
                needed.extend(&sizes.validation);
            }
            needed.sort_unstable();
            needed.dedup();
            let fixture = validation::Fixture::build(&needed, &progress)
                .map_err(|e| e.during("the size fixture"))?;
            if args.selected(Section::Open) {
                open = Some(
                    open::run(
                        &fixture.path,
                        &sizes.open,
                        sizes.open_iterations,
                        sizes.open_kotlin_warmup,
                        &progress,
                    )
                    .map_err(|e| e.during("open"))?,
                );
            }
            if args.selected(Section::Validation) {
                validation = Some(
                    validation::run(&fixture, &sizes.validation, args.quick, &progress)
                        .map_err(|e| e.during("validation"))?,
                );
            }
        }
        let ingest = if args.selected(Section::Ingest) {
            Some(
                ingest::run(sizes.ingest_paced, sizes.ingest_messages, &progress)
                    .await
                    .map_err(|e| e.during("ingest"))?,
            )
        } else {
            None
        };
        Ok::<_, BenchError>((memory, resync, open, validation, ingest))
    })?;
    runtime.shutdown_background();
    let mut report = BenchReport {
        mode: if args.quick { Mode::Quick } else { Mode::Full },
        date,
        machine: Machine::current(),
        load_average,
        elapsed_seconds: 0.0,
        rows: Vec::new(),
        resync,
        open,
        validation,
        ingest,
        memory,
    };
    report.rows = report::rows(&report);
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    progress.say("done");
    Ok(report)
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The workspace's cargo target directory: `CARGO_TARGET_DIR`, else `<root>/target`.
/// Where the suite looks for what the build scripts made (FFI library, bindings, jar).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The JSON a bindings program (`language`: Kotlin, Python) printed after timing its
/// opens, once checked that the opens made no request (they read the cache only).
pub(crate) fn offline_opens_output(
    stdout: &[u8],
    language: &str,
) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("failed: the {language} output is not JSON: {e}"))?;
    if value["requests"].as_u64() != Some(0) {
        return Err(format!(
            "failed: opening from {language} made {} requests",
            value["requests"]
        ));
    }
    Ok(value)
}

/// The sources the FFI library is built from, relative to the workspace root.
const FFI_SOURCES: [&str; 5] = [
    "core/src",
    "bindings/src",
    "core/Cargo.toml",
    "bindings/Cargo.toml",
    "Cargo.lock",
];

/// Why the built FFI library `artifact` cannot stand for this tree: `Some` when a source
/// it is built from (`core/src`, `bindings/src`, their manifests, `Cargo.lock`) was
/// modified after it (a build of another commit or checkout, e.g. left in a shared
/// target directory). A figure measured on such a build would belong to other code.
pub fn stale_ffi_build(artifact: &Path) -> Option<String> {
    let built = std::fs::metadata(artifact)
        .and_then(|m| m.modified())
        .ok()?;
    let root = workspace_root();
    let newer = FFI_SOURCES
        .iter()
        .filter_map(|source| newest_file(&root.join(source)))
        .filter(|(modified, _)| *modified > built)
        .max()?;
    Some(format!(
        "{} predates {} (a build of other sources)",
        artifact.display(),
        newer.1.display()
    ))
}

/// The most recently modified file at or below `path`, with its time.
fn newest_file(path: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return Some((meta.modified().ok()?, path.to_path_buf()));
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| newest_file(&entry.ok()?.path()))
        .max()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::stale_ffi_build;

    fn library_built_at(dir: &tempfile::TempDir, at: SystemTime) -> std::path::PathBuf {
        let path = dir.path().join("libchatsync_ffi.so");
        let file = std::fs::File::create(&path).unwrap();
        file.set_modified(at).unwrap();
        path
    }

    #[test]
    fn a_library_older_than_the_sources_is_stale_and_a_newer_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = library_built_at(&dir, SystemTime::UNIX_EPOCH + Duration::from_secs(1));
        let reason = stale_ffi_build(&old).expect("older than every source");
        assert!(reason.contains("predates"), "{reason}");
        let fresh = library_built_at(&dir, SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(stale_ffi_build(&fresh), None);
        assert_eq!(stale_ffi_build(&dir.path().join("absent.so")), None);
    }
}
