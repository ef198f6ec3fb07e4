//! Measurement 3: sequence validation, the O(1) path (`validate_sequences`, from the
//! persisted runs) against the seed's full O(n) scan (`validate_sequences_full_scan`),
//! at growing chat sizes; and the fixture those and measurement 2 share.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chatsync::cache::MessageCache;
use serde::Serialize;

use crate::fixtures::{fill, unlimited};
use crate::harness::ensure;
use crate::measure::{Latency, Sampler, ratio, sample};
use crate::open::chat_id;
use crate::{BenchError, Progress};

/// Target: the O(1) path's p50 at the largest size at most this many times its p50 at
/// the smallest (it must not grow with the chat).
pub const TARGET_GROWTH: f64 = 2.0;

/// A cache file holding one valid chat per size (`chat-<n>`, messages `1..=n`).
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// The cache file.
    pub path: PathBuf,
    /// Seconds spent filling it.
    pub fill_seconds: f64,
    /// Rows written.
    pub rows: i64,
}

impl Fixture {
    /// Creates the file and fills one chat per size through `upsert_messages`
    /// (batches of [`crate::fixtures::FILL_BATCH`]).
    pub fn build(sizes: &[i64], progress: &Progress) -> Result<Fixture, BenchError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sized.sqlite");
        let cache = MessageCache::open(&path, unlimited())?;
        let started = Instant::now();
        for &n in sizes {
            progress.say(&format!("fixture: filling a chat of {n} messages"));
            fill(&cache, &chat_id(n), n)?;
        }
        let rows: i64 = sizes.iter().sum();
        Ok(Fixture {
            _dir: dir,
            path,
            fill_seconds: started.elapsed().as_secs_f64(),
            rows,
        })
    }

    /// The rate of the fill, rows per second.
    pub fn fill_rate(&self) -> f64 {
        self.rows as f64 / self.fill_seconds.max(1e-9)
    }
}

/// One size's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRow {
    /// Messages in the chat.
    pub messages: i64,
    /// `validate_sequences` (the O(1) path).
    pub o1: Latency,
    /// `validate_sequences_full_scan` (the seed's O(n) check).
    pub full_scan: Latency,
    /// `full_scan.p50 / o1.p50`.
    pub full_vs_o1_p50: Option<f64>,
}

/// Measurement 3's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    /// One row per size, ascending.
    pub rows: Vec<ValidationRow>,
    /// O(1) p50 at the largest size / at the smallest.
    pub o1_growth: Option<f64>,
    /// `o1_growth <= 2`.
    pub target_met: bool,
    /// Rows per second of the `upsert_messages` fill (10k-row batches).
    pub fill_rows_per_s: f64,
}

/// Measures every size on `fixture`.
pub fn run(
    fixture: &Fixture,
    sizes: &[i64],
    quick: bool,
    progress: &Progress,
) -> Result<ValidationReport, BenchError> {
    let cache = MessageCache::open(&fixture.path, unlimited())?;
    // The O(1) path, round-robin over the sizes (one call per size per round), so a
    // change in the machine's load during the run affects every size alike.
    progress.say("validation: the O(1) path, all sizes interleaved");
    let o1_iterations = if quick { 300 } else { 2_000 };
    let chats: Vec<String> = sizes.iter().map(|&n| chat_id(n)).collect();
    let mut samplers: Vec<Sampler> = chats.iter().map(|_| Sampler::new(o1_iterations)).collect();
    for round in 0..o1_iterations + o1_iterations / 10 {
        for (chat, sampler) in chats.iter().zip(samplers.iter_mut()) {
            if round < o1_iterations / 10 {
                std::hint::black_box(cache.validate_sequences(chat)?);
            } else {
                sampler.time(|| cache.validate_sequences(chat).map(std::hint::black_box))?;
            }
        }
    }
    let mut rows = Vec::new();
    for (&n, sampler) in sizes.iter().zip(&samplers) {
        progress.say(&format!("validation: full scan of {n} messages"));
        let chat = chat_id(n);
        let fast = cache.validate_sequences(&chat)?;
        let full = cache.validate_sequences_full_scan(&chat)?;
        ensure(fast.valid && fast == full, || {
            format!("validation of {chat} disagrees or fails: {fast:?} vs {full:?}")
        })?;
        let scan_iterations = if quick {
            (200_000 / n).clamp(5, 100)
        } else {
            (2_000_000 / n).clamp(5, 300)
        } as usize;
        let o1 = sampler.latency();
        let full_scan = sample(2, scan_iterations, || {
            std::hint::black_box(cache.validate_sequences_full_scan(&chat)?);
            Ok::<_, BenchError>(())
        })?;
        rows.push(ValidationRow {
            messages: n,
            full_vs_o1_p50: ratio(full_scan.p50_us, o1.p50_us),
            o1,
            full_scan,
        });
    }
    let o1_growth = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => ratio(b.o1.p50_us, a.o1.p50_us),
        _ => None,
    };
    Ok(ValidationReport {
        target_met: o1_growth.is_some_and(|g| g <= TARGET_GROWTH),
        o1_growth,
        rows,
        fill_rows_per_s: fixture.fill_rate(),
    })
}

/// The file's size on disk (with its WAL), in bytes.
pub fn file_bytes(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
