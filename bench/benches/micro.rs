//! Micro benchmarks of the open and validation paths (`cargo bench -p chatsync-bench`):
//!
//! - `open_chat/{1k,10k,100k}`: `ChatSyncClient::open_chat` (50 messages + meta) of a
//!   valid cached chat (target at 100k: well under 200 µs);
//! - `sqlite_floor/{1k,10k,100k}`: the bare SQLite query of those 50 rows (the floor);
//! - `validate/o1/*` and `validate/full_scan/*`: the O(1) path and the seed's O(n) scan.
//!
//! The end-to-end figures (resync bytes, ingest, memory) are in `chatsync bench`.
//! Smoke mode for CI: `CHATSYNC_BENCH_QUICK=1` (few samples), or `cargo test --benches`
//! (each benchmark once).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chatsync::cache::{EvictionLimits, MessageCache};
use chatsync::net::api::StaticToken;
use chatsync::{ChatSyncClient, ClientConfig};
use chatsync_bench::fixtures::{fill, floor_query, read_only, unlimited};
use criterion::{Criterion, criterion_group, criterion_main};

const SIZES: [(i64, &str); 3] = [(1_000, "1k"), (10_000, "10k"), (100_000, "100k")];

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("micro.sqlite");
    {
        let cache = MessageCache::open(&path, unlimited()).expect("the cache opens");
        for (n, name) in SIZES {
            fill(&cache, name, n).expect("the fill succeeds");
        }
    }
    let mut config = ClientConfig::new("http://127.0.0.1:9", Some(path.clone()));
    config.open_message_limit = 50;
    config.eviction = EvictionLimits::unlimited();
    config.revalidate_interval = Duration::from_secs(3600);
    let client = Arc::new(
        ChatSyncClient::new(config, Arc::new(StaticToken("unused".into())))
            .expect("the client builds"),
    );

    let mut group = c.benchmark_group("open_chat");
    for (_, name) in SIZES {
        group.bench_function(name, |b| {
            b.iter(|| {
                let opened = client.open_chat(black_box(name)).expect("open");
                assert_eq!(opened.messages.len(), 50);
                client.close_chat(name);
                black_box(opened)
            })
        });
    }
    group.finish();
    assert_eq!(
        client.net_stats().http_requests,
        0,
        "a valid cache opens offline"
    );

    let conn = read_only(&path).expect("a read-only connection");
    let mut group = c.benchmark_group("sqlite_floor");
    for (_, name) in SIZES {
        group.bench_function(name, |b| {
            b.iter(|| black_box(floor_query(&conn, black_box(name), 50).expect("query")))
        });
    }
    group.finish();

    let cache = client.cache();
    let mut group = c.benchmark_group("validate");
    for (_, name) in SIZES {
        group.bench_function(format!("o1/{name}"), |b| {
            b.iter(|| black_box(cache.validate_sequences(black_box(name)).expect("validate")))
        });
        group.bench_function(format!("full_scan/{name}"), |b| {
            b.iter(|| {
                black_box(
                    cache
                        .validate_sequences_full_scan(black_box(name))
                        .expect("validate"),
                )
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    if std::env::var_os("CHATSYNC_BENCH_QUICK").is_some() {
        Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500))
    } else {
        Criterion::default()
    }
}

criterion_group! {
    name = micro;
    config = config();
    targets = benches
}
criterion_main!(micro);
