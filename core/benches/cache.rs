//! Benchmarks of the SQLite message cache (`cargo bench -p chatsync --bench cache`).
//!
//! - `read/latest_50_of_100k`: the latest 50 messages of a 100k-message chat;
//! - `validate/o1/*`: the O(1) validation path at 1k, 10k and 100k messages, and on a
//!   100k chat with 1000 history runs below its window (target: < 10 µs at any size);
//! - `validate/full_scan/100k`: the seed's literal O(n) check on the 100k chat;
//! - `upsert_10k/*`: `upsert_messages` of 10k new messages in one call, against a raw
//!   rusqlite insert of the same rows into the same schema (prepared statement, one
//!   transaction) in the same run (target: the cache at least half the raw rate).
//!
//! Quick mode for CI smoke runs: `CHATSYNC_BENCH_QUICK=1` (10 samples, short warm-up
//! and measurement); criterion's own `--quick` works too.
//!
//! Clock: wall time by default. `CHATSYNC_BENCH_CLOCK=thread-cpu` measures the
//! benchmark thread's CPU time instead (from `/proc/thread-self/schedstat`, Linux), which
//! stays meaningful on a machine shared with other work; the cache does all its work on
//! the calling thread, so for reads this is the cost of the call. (For writes it leaves
//! out time blocked in the kernel, e.g. a WAL checkpoint's fsync, equally for both sides.)
//! The kernel advances that counter at scheduler ticks, so this mode samples flat (every
//! sample the same, long, iteration count) to keep each sample far above a tick.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use chatsync::cache::{CacheOptions, EvictionLimits, MessageCache};
use chatsync::{ChatMessage, MessageStatus, Sender};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};

fn options() -> CacheOptions {
    CacheOptions {
        eviction: EvictionLimits::unlimited(),
        ..CacheOptions::default()
    }
}

fn message(chat: &str, seq: i64) -> ChatMessage {
    ChatMessage {
        id: format!("{chat}-{seq}"),
        request_id: chat.to_string(),
        sender_id: Some(format!("user-{}", seq % 7)),
        sender: Some(Sender {
            id: format!("user-{}", seq % 7),
            full_name: "Requester Name".into(),
            is_technician: seq % 3 == 0,
        }),
        content: format!("Message number {seq}: the printer on floor 3 is still jammed."),
        sequence_number: Some(seq),
        is_screenshot: false,
        screenshot_file_name: None,
        is_read_by_current_user: seq % 2 == 0,
        created_at: "2024-05-01T12:00:00.000Z".into(),
        updated_at: None,
        status: MessageStatus::Sent,
        temp_id: None,
        client_temp_id: None,
        is_system_message: false,
        file_name: None,
        file_size: None,
        file_mime_type: None,
        cached_at: 1_714_564_800_000 + seq,
    }
}

fn messages(chat: &str, seqs: impl IntoIterator<Item = i64>) -> Vec<ChatMessage> {
    seqs.into_iter().map(|s| message(chat, s)).collect()
}

fn fill(cache: &MessageCache, chat: &str, n: i64) {
    for start in (1..=n).step_by(10_000) {
        let end = (start + 9_999).min(n);
        cache
            .upsert_messages(chat, &messages(chat, start..=end))
            .expect("fill");
    }
    cache
        .update_backend_sequence(chat, Some(n))
        .expect("backend");
}

/// A benchmark group, sampled flat under the thread-CPU clock (see the module docs).
fn new_group<'a, M: Measurement>(c: &'a mut Criterion<M>, name: &str) -> BenchmarkGroup<'a, M> {
    let mut group = c.benchmark_group(name);
    if std::env::var("CHATSYNC_BENCH_CLOCK").as_deref() == Ok("thread-cpu") {
        group.sampling_mode(SamplingMode::Flat);
    }
    group
}

fn reads<M: Measurement>(c: &mut Criterion<M>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = MessageCache::open(&dir.path().join("bench.sqlite3"), options()).expect("open");
    fill(&cache, "big", 100_000);
    fill(&cache, "mid", 10_000);
    fill(&cache, "small", 1_000);
    // 100k messages with 1000 history runs below a contiguous window of 1000.
    let history: Vec<i64> = (0..1000)
        .flat_map(|r| (r * 100 + 1)..=(r * 100 + 99))
        .collect();
    cache
        .upsert_messages("runs", &messages("runs", history))
        .expect("history");
    cache
        .upsert_messages("runs", &messages("runs", 200_001..=201_000))
        .expect("window");
    cache
        .set_window_start("runs", 200_001)
        .expect("window start");
    cache
        .update_backend_sequence("runs", Some(201_000))
        .expect("backend");
    assert!(cache.validate_sequences("big").expect("validate").valid);
    assert!(cache.validate_sequences("runs").expect("validate").valid);

    let mut group = new_group(c, "read");
    group.bench_function("latest_50_of_100k", |b| {
        b.iter(|| {
            black_box(
                cache
                    .get_cached_messages(black_box("big"), Some(50))
                    .expect("read"),
            )
        })
    });
    group.finish();

    let mut group = new_group(c, "validate");
    for (name, chat) in [
        ("o1/1k", "small"),
        ("o1/10k", "mid"),
        ("o1/100k", "big"),
        ("o1/100k_1000_runs", "runs"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(cache.validate_sequences(black_box(chat)).expect("validate")))
        });
    }
    group.bench_function("full_scan/100k", |b| {
        b.iter(|| {
            black_box(
                cache
                    .validate_sequences_full_scan(black_box("big"))
                    .expect("scan"),
            )
        })
    });
    group.finish();
}

/// The raw baseline: the same rows into the same schema, one prepared statement, one transaction.
fn raw_insert(path: &Path, rows: &[ChatMessage]) -> rusqlite::Connection {
    let mut conn = rusqlite::Connection::open(path).expect("raw open");
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .expect("wal");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    let tx = conn.transaction().expect("tx");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (id, request_id, sender_id, sender_json, content,
                   sequence_number, is_screenshot, screenshot_file_name, is_read_by_current_user,
                   created_at, updated_at, status, temp_id, client_temp_id, is_system_message,
                   file_name, file_size, file_mime_type, cached_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19)",
            )
            .expect("prepare");
        for m in rows {
            let sender_json = m
                .sender
                .as_ref()
                .map(|s| serde_json::to_string(s).expect("json"));
            insert
                .execute(rusqlite::params![
                    m.id,
                    m.request_id,
                    m.sender_id,
                    sender_json,
                    m.content,
                    m.sequence_number,
                    m.is_screenshot as i64,
                    m.screenshot_file_name,
                    m.is_read_by_current_user as i64,
                    m.created_at,
                    m.updated_at,
                    m.status.as_str(),
                    m.temp_id,
                    m.client_temp_id,
                    m.is_system_message as i64,
                    m.file_name,
                    m.file_size,
                    m.file_mime_type,
                    m.cached_at
                ])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
    conn
}

fn upserts<M: Measurement>(c: &mut Criterion<M>) {
    let rows = messages("chat", 1..=10_000);
    let mut group = new_group(c, "upsert_10k");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("cache_upsert_messages", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let cache =
                    MessageCache::open(&dir.path().join("c.sqlite3"), options()).expect("open");
                (dir, cache)
            },
            |(dir, cache)| {
                cache
                    .upsert_messages("chat", black_box(&rows))
                    .expect("upsert");
                (dir, cache)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("raw_rusqlite_insert", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("r.sqlite3");
                // The same schema: created by the cache, then closed.
                drop(MessageCache::open(&path, options()).expect("open"));
                (dir, path)
            },
            |(dir, path)| {
                let conn = raw_insert(&path, black_box(&rows));
                (dir, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// CPU time of the calling thread, in nanoseconds (first field of `schedstat`).
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .expect("CHATSYNC_BENCH_CLOCK=thread-cpu needs /proc/thread-self/schedstat (Linux)")
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time like criterion formats wall time.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e-3, "µs cpu")
        } else if typical < 1e9 {
            (1e-6, "ms cpu")
        } else {
            (1e-9, "s cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match throughput {
            Throughput::Bits(n)
            | Throughput::Bytes(n)
            | Throughput::BytesDecimal(n)
            | Throughput::Elements(n) => *n as f64,
            Throughput::ElementsAndBytes { elements, .. } => *elements as f64,
        };
        let per_second = per_iteration * 1e9 / typical;
        let (factor, unit) = if per_second < 1e3 {
            (1.0, "elem/cpu-s")
        } else if per_second < 1e6 {
            (1e-3, "Kelem/cpu-s")
        } else {
            (1e-6, "Melem/cpu-s")
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iteration * 1e9 / *v * factor);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn config<M: Measurement>(criterion: Criterion<M>) -> Criterion<M> {
    let quick = std::env::var("CHATSYNC_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let criterion = if quick {
        criterion
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        criterion
            .sample_size(30)
            .measurement_time(Duration::from_secs(5))
    };
    criterion.configure_from_args()
}

fn run<M: Measurement>(mut criterion: Criterion<M>) {
    reads(&mut criterion);
    upserts(&mut criterion);
    criterion.final_summary();
}

fn main() {
    match std::env::var("CHATSYNC_BENCH_CLOCK").as_deref() {
        Ok("thread-cpu") => run(config(Criterion::default().with_measurement(ThreadCpu))),
        Ok("wall") | Err(_) => run(config(Criterion::default().with_measurement(WallTime))),
        Ok(other) => panic!("CHATSYNC_BENCH_CLOCK={other}: expected wall or thread-cpu"),
    }
}
