//! Measurement 4: realtime ingest. The real server posts; its `message.new` frames
//! travel over the loopback WebSocket to a real `ChatSyncClient`, which decodes,
//! commits each to its SQLite file and calls an observer (`MessagesChanged`). The
//! rate from frame to callback is compared with raw rusqlite inserts of the same rows
//! into the same schema in the same run: one transaction, and one commit per row
//! (the like-for-like baseline: every push is its own transaction).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chatsync::{ChatMessage, SyncState};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;

use crate::fixtures::{raw_insert_commit_per_row, raw_insert_one_transaction, raw_messages_db};
use crate::harness::{Env, Probe, ensure, eventually};
use crate::measure::{Latency, ratio, thread_cpu, threads_cpu};
use crate::{BenchError, Progress};

/// Target: ingest rate at least this fraction of the raw commit-per-row insert rate.
pub const TARGET_VS_RAW: f64 = 0.5;
/// The client's threads: its runtime's workers and blocking pool, its observer
/// dispatch thread (names as `/proc` truncates them to 15 bytes).
const CLIENT_THREADS: &[&str] = &["chatsync-runtim", "chatsync-observ"];
/// The suite's runtime, which runs the in-process server and the posting loop.
const SERVER_THREADS: &[&str] = &["chatsync-bench-"];

/// Posts in flight (posted, callback not yet seen) during the throughput run: below
/// the server's per-connection queue (256 frames), so no frame is dropped for lag.
pub const IN_FLIGHT: u64 = 64;

/// Posts awaited at once during the throughput run.
pub const POSTERS: usize = 8;

/// Measurement 4's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestReport {
    /// Messages pushed in the throughput run.
    pub messages: usize,
    /// Posts kept in flight during it.
    pub in_flight: u64,
    /// Pushed messages per second, from the first post to the last callback.
    pub ingest_per_s: f64,
    /// The server's own post rate with no client connected (an upper bound of the test).
    pub server_post_per_s: f64,
    /// Raw rusqlite inserts of the same rows, one transaction, rows per second.
    pub raw_one_transaction_per_s: f64,
    /// Raw rusqlite inserts of the same rows, one commit per row, rows per second.
    pub raw_commit_per_row_per_s: f64,
    /// `ingest_per_s / raw_commit_per_row_per_s`: end to end, wall clock (the client
    /// shares the 2 cores with the in-process server that posts).
    pub vs_raw_commit_per_row: Option<f64>,
    /// CPU time of the client's threads (runtime, observer dispatch) per push, in µs.
    pub client_cpu_per_push_us: f64,
    /// CPU time of the bench runtime's threads (the server posting and pushing) per push, in µs.
    pub server_cpu_per_push_us: f64,
    /// CPU time of the raw commit-per-row insert per row, in µs.
    pub raw_commit_per_row_cpu_us: f64,
    /// CPU time of the raw one-transaction insert per row, in µs.
    pub raw_one_transaction_cpu_us: f64,
    /// The same rows through the cache API alone, one `store_pushed` call (one
    /// transaction: the row and the backend sequence it proves) per row: CPU µs per row.
    pub cache_store_pushed_per_row_cpu_us: f64,
    /// `raw_commit_per_row_cpu_us / client_cpu_per_push_us`: the client's ingest capacity
    /// per core against the raw insert's, independent of the server and the load.
    pub cpu_vs_raw_commit_per_row: Option<f64>,
    /// `ingest_per_s / raw_one_transaction_per_s`.
    pub vs_raw_one_transaction: Option<f64>,
    /// Post call to observer callback, one message at a time.
    pub latency_paced: Latency,
    /// Post call to observer callback during the throughput run.
    pub latency_under_load: Latency,
    /// `vs_raw_commit_per_row >= 0.5` (end to end, wall clock).
    pub target_met: bool,
    /// `cpu_vs_raw_commit_per_row >= 0.5` (per-core capacity, CPU time).
    pub cpu_target_met: bool,
}

/// Runs the paced latency run (`paced` messages) and the throughput run (`messages`).
pub async fn run(
    paced: usize,
    messages: usize,
    progress: &Progress,
) -> Result<IngestReport, BenchError> {
    let settle = Duration::from_secs(30);
    let env = Env::seeded(2, 10).await?;
    let tickets = env.server.ticket_ids().await?;
    let (chat, other) = (tickets[0].clone(), tickets[1].clone());

    progress.say("ingest: the server's post rate alone");
    let started = Instant::now();
    for i in 0..messages {
        env.post(&other, i).await?;
    }
    let server_post_per_s = messages as f64 / started.elapsed().as_secs_f64();

    let client = env.client(env.path("ingest.sqlite"), |_| {})?;
    client.start();
    client.open_chat(&chat)?;
    let state = client.wait_until_settled(&chat, settle).await;
    ensure(state == SyncState::Synced, || {
        format!("the initial load ended {state:?}")
    })?;
    // A new subscriber also receives events still queued from before it subscribed
    // (the initial load's): drain them so the probe counts pushes only.
    client.flush_observers();
    let (probe, _subscription) = Probe::attach(&client, &chat);
    ensure(probe.until(settle, Probe::realtime).await, || {
        "the realtime socket did not connect".into()
    })?;

    progress.say("ingest: paced latency");
    let mut paced_samples = Vec::with_capacity(paced);
    for i in 0..paced {
        let target = probe.inserted() + 1;
        let posted = Instant::now();
        let seq = env.post(&chat, i).await?;
        ensure(
            probe.until(settle, |p| p.inserted() >= target).await,
            || format!("push {seq} never reached the observer"),
        )?;
        let arrived = arrival(&probe, seq)?;
        paced_samples.push(arrived.saturating_duration_since(posted));
    }

    progress.say(&format!("ingest: {messages} pushes"));
    let base = probe.inserted();
    let mut posted_at: HashMap<i64, Instant> = HashMap::with_capacity(messages);
    let client_cpu = threads_cpu(CLIENT_THREADS);
    let server_cpu = threads_cpu(SERVER_THREADS);
    let started = Instant::now();
    // Several posts at once, so the posting side (one store transaction per post,
    // awaited) is not what limits the rate; at most IN_FLIGHT posts without callback.
    let mut posting = FuturesUnordered::new();
    let mut next = 0usize;
    while next < messages || !posting.is_empty() {
        while next < messages
            && posting.len() < POSTERS
            && (next as u64) < probe.inserted() - base + IN_FLIGHT
        {
            let i = next;
            next += 1;
            let env = &env;
            let chat = &chat;
            posting.push(async move {
                let at = Instant::now();
                env.post(chat, paced + i).await.map(|seq| (seq, at))
            });
        }
        match posting.next().await {
            Some(posted) => {
                let (seq, at) = posted?;
                posted_at.insert(seq, at);
            }
            None => {
                let needed = base + next as u64 + 1 - IN_FLIGHT;
                ensure(
                    probe.until(settle, |p| p.inserted() >= needed).await,
                    || "pushes stopped arriving".into(),
                )?;
            }
        }
    }
    let total = base + messages as u64;
    ensure(probe.until(settle, |p| p.inserted() >= total).await, || {
        format!("{} of {messages} pushes arrived", probe.inserted() - base)
    })?;
    client.flush_observers();
    let client_cpu = threads_cpu(CLIENT_THREADS).saturating_sub(client_cpu);
    let server_cpu = threads_cpu(SERVER_THREADS).saturating_sub(server_cpu);
    let arrivals: HashMap<i64, Instant> = probe.arrivals().into_iter().collect();
    let mut last = started;
    let mut load_samples = Vec::with_capacity(messages);
    for (seq, at) in &posted_at {
        let arrived = *arrivals
            .get(seq)
            .ok_or_else(|| BenchError::Invariant(format!("push {seq} was not reported")))?;
        last = last.max(arrived);
        load_samples.push(arrived.saturating_duration_since(*at));
    }
    let ingest_per_s = messages as f64 / last.duration_since(started).as_secs_f64();
    // The backend sequence is committed with the pushes that prove it; the last
    // ticket.updated frames may still be in flight: wait for them before validating.
    let last_seq = posted_at.keys().copied().max().unwrap_or_default();
    eventually(settle, || {
        client
            .get_sync_meta(&chat)
            .is_ok_and(|m| m.last_known_backend_seq == Some(last_seq))
    })
    .await;
    let validation = client.cache().validate_sequences(&chat)?;
    ensure(validation.valid, || {
        format!("the chat is not valid after the pushes: {validation:?}")
    })?;

    progress.say("ingest: raw rusqlite inserts of the same rows");
    let rows: Vec<ChatMessage> = client
        .get_cached_messages(&chat, None)?
        .into_iter()
        .filter(|m| {
            m.sequence_number
                .is_some_and(|s| posted_at.contains_key(&s))
        })
        .collect();
    ensure(rows.len() == messages, || {
        format!("{} rows cached of {messages}", rows.len())
    })?;
    drop(client);
    let per_row_us = |d: Duration| d.as_secs_f64() * 1e6 / messages as f64;
    let mut one = raw_messages_db(&env.path("raw-one.sqlite"))?;
    let (cpu, started) = (thread_cpu(), Instant::now());
    raw_insert_one_transaction(&mut one, &rows)?;
    let raw_one_transaction_per_s = messages as f64 / started.elapsed().as_secs_f64();
    let raw_one_transaction_cpu_us = per_row_us(thread_cpu().saturating_sub(cpu));
    let mut each = raw_messages_db(&env.path("raw-each.sqlite"))?;
    let (cpu, started) = (thread_cpu(), Instant::now());
    raw_insert_commit_per_row(&mut each, &rows)?;
    let raw_commit_per_row_per_s = messages as f64 / started.elapsed().as_secs_f64();
    let raw_commit_per_row_cpu_us = per_row_us(thread_cpu().saturating_sub(cpu));
    // The client's commit per push, through the cache API alone.
    let cache = chatsync::cache::MessageCache::open(
        &env.path("cache-alone.sqlite"),
        crate::fixtures::unlimited(),
    )?;
    let cpu = thread_cpu();
    for row in &rows {
        cache.store_pushed(&chat, std::slice::from_ref(row))?;
    }
    let cache_store_pushed_per_row_cpu_us = per_row_us(thread_cpu().saturating_sub(cpu));
    drop(cache);
    let client_cpu_per_push_us = per_row_us(client_cpu);
    let cpu_vs_raw_commit_per_row = ratio(raw_commit_per_row_cpu_us, client_cpu_per_push_us);

    let vs_raw_commit_per_row = ratio(ingest_per_s, raw_commit_per_row_per_s);
    Ok(IngestReport {
        messages,
        in_flight: IN_FLIGHT,
        ingest_per_s,
        server_post_per_s,
        raw_one_transaction_per_s,
        raw_commit_per_row_per_s,
        vs_raw_commit_per_row,
        client_cpu_per_push_us,
        server_cpu_per_push_us: per_row_us(server_cpu),
        raw_commit_per_row_cpu_us,
        raw_one_transaction_cpu_us,
        cache_store_pushed_per_row_cpu_us,
        cpu_vs_raw_commit_per_row,
        cpu_target_met: cpu_vs_raw_commit_per_row.is_some_and(|r| r >= TARGET_VS_RAW),
        vs_raw_one_transaction: ratio(ingest_per_s, raw_one_transaction_per_s),
        latency_paced: Latency::of(&paced_samples),
        latency_under_load: Latency::of(&load_samples),
        target_met: vs_raw_commit_per_row.is_some_and(|r| r >= TARGET_VS_RAW),
    })
}

fn arrival(probe: &Probe, seq: i64) -> Result<Instant, BenchError> {
    probe
        .arrivals()
        .into_iter()
        .rev()
        .find_map(|(s, at)| (s == seq).then_some(at))
        .ok_or_else(|| BenchError::Invariant(format!("push {seq} was not reported")))
}
