//! Crash safety (issue 10, part 1): a real client process is SIGKILLed at random
//! moments while it works against the reference server under load, restarted, and
//! checked after every kill.
//!
//! Knobs (environment): `CHATSYNC_REL_CRASH_KILLS` (default 25), the longest a
//! worker lives before its kill `CHATSYNC_REL_CRASH_MAX_ALIVE_MS` (default 1200),
//! `CHATSYNC_REL_SEED`.
//!
//! After each kill, with the worker dead, the harness opens the cache file itself:
//! - `MessageCache::integrity_check` (PRAGMA integrity_check plus runs/outbox
//!   consistency) passes;
//! - every message the cache held at the previous check is still there, same id at
//!   the same sequence (nothing committed is lost);
//! - every message of the side log (durably queued: `send_message` returned) is still
//!   in the outbox or cached as sent; so is every entry of the previous outbox;
//! - on the server (its SQLite file), each `clientTempId` of the requester exists at
//!   most once, no content was stored twice, and each one is known to the cache.
//!
//! On most restarts (always on the last) the worker settles first: the load pauses,
//! the worker drains its outbox and waits for every chat to settle, and the harness
//! checks that every chat is SYNCED and its newest window equals the server's
//! messages, and that every logged message is on the server exactly once. The other
//! restarts are killed at a random moment of start-up (recovery, resync, re-sends).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chatsync::cache::{CacheOptions, EvictionLimits, MessageCache};
use chatsync_reliability::serverdb::ServerDb;
use chatsync_reliability::worker::{SETTLED_PREFIX, TOKEN_ENV, WorkerReport, read_side_log};
use chatsync_reliability::{knobs, panics, report};
use chatsync_server::{RandomPushFaults, Role, RunningServer, Server, ServerConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const WORKER: &str = env!("CARGO_BIN_EXE_chatsync-crash-worker");

/// What the cache held at the previous check.
#[derive(Default)]
struct Snapshot {
    /// chat -> seq -> message id.
    messages: HashMap<String, BTreeMap<i64, String>>,
    /// Queued `clientTempId`s.
    outbox: HashSet<String>,
}

#[derive(Default, Debug)]
struct Figures {
    kills: u64,
    kills_during_startup: u64,
    settled_checks: u64,
    integrity_checks: u64,
    messages_logged: u64,
    queued_at_kill: u64,
    unlogged_sends: u64,
    max_cached_messages: u64,
    settle_ms_max: u64,
}

struct Harness {
    server: RunningServer,
    db: ServerDb,
    dir: PathBuf,
    cache: PathBuf,
    side_log: PathBuf,
    chats: Vec<String>,
    token: String,
    requester: String,
    snapshot: Snapshot,
    figures: Figures,
}

fn cache_options() -> CacheOptions {
    CacheOptions {
        eviction: EvictionLimits::unlimited(),
        ..CacheOptions::default()
    }
}

impl Harness {
    fn spawn_worker(&self, settle: bool, n: u64) -> Child {
        let stderr = std::fs::File::create(self.dir.join(format!("worker-{n}.stderr")))
            .expect("a stderr file");
        let mut command = Command::new(WORKER);
        command
            .arg("--base-url")
            .arg(self.server.base_url())
            .arg("--cache")
            .arg(&self.cache)
            .arg("--log")
            .arg(&self.side_log)
            .arg("--chats")
            .arg(self.chats.join(","))
            .env(TOKEN_ENV, &self.token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        if settle {
            command.arg("--settle");
        }
        command.spawn().expect("the worker starts")
    }

    /// The checks made with the worker dead (see the file's documentation).
    fn check_after_kill(&mut self, kill: u64) {
        let cache = MessageCache::open(&self.cache, cache_options())
            .unwrap_or_else(|e| panic!("kill {kill}: the cache does not open: {e}"));
        cache
            .integrity_check()
            .unwrap_or_else(|e| panic!("kill {kill}: integrity check failed: {e}"));
        self.figures.integrity_checks += 1;
        let mut now = Snapshot::default();
        let mut sent_in_cache = HashSet::new();
        let mut total = 0u64;
        for chat in &self.chats {
            let messages = cache.get_cached_messages(chat, None).expect("readable");
            let mut by_seq = BTreeMap::new();
            for m in messages {
                if let Some(seq) = m.sequence_number {
                    by_seq.insert(seq, m.id.clone());
                    if let Some(ctid) = m.client_temp_id {
                        sent_in_cache.insert(ctid);
                    }
                }
            }
            total += by_seq.len() as u64;
            if let Some(before) = self.snapshot.messages.get(chat) {
                for (seq, id) in before {
                    assert_eq!(
                        by_seq.get(seq),
                        Some(id),
                        "kill {kill}: chat {chat} lost message {id} at sequence {seq}"
                    );
                }
            }
            now.messages.insert(chat.clone(), by_seq);
        }
        self.figures.max_cached_messages = self.figures.max_cached_messages.max(total);
        now.outbox = cache
            .outbox()
            .expect("readable outbox")
            .into_iter()
            .map(|e| e.client_temp_id)
            .collect();
        self.figures.queued_at_kill += now.outbox.len() as u64;
        let known = |ctid: &str| now.outbox.contains(ctid) || sent_in_cache.contains(ctid);
        for ctid in &self.snapshot.outbox {
            assert!(known(ctid), "kill {kill}: outbox entry {ctid} vanished");
        }
        let logged = read_side_log(&self.side_log).expect("side log readable");
        for record in &logged {
            assert!(
                known(&record.client_temp_id),
                "kill {kill}: durably queued message {} ({}) is lost",
                record.client_temp_id,
                record.content
            );
        }
        let logged_ids: HashSet<&str> = logged.iter().map(|r| r.client_temp_id.as_str()).collect();
        let on_server = self
            .db
            .messages_with_client_temp_id(&self.requester)
            .expect("server db readable");
        let mut per_ctid: HashMap<&str, u32> = HashMap::new();
        let mut per_content: HashMap<&str, u32> = HashMap::new();
        let mut unlogged = 0;
        for m in &on_server {
            let ctid = m.client_temp_id.as_deref().unwrap_or_default();
            *per_ctid.entry(ctid).or_default() += 1;
            *per_content.entry(m.content.as_str()).or_default() += 1;
            assert!(
                known(ctid),
                "kill {kill}: the server stored {ctid} but the cache forgot it"
            );
            if !logged_ids.contains(ctid) {
                unlogged += 1;
            }
        }
        for (ctid, n) in per_ctid {
            assert_eq!(n, 1, "kill {kill}: {ctid} stored {n} times on the server");
        }
        for (content, n) in per_content {
            assert_eq!(n, 1, "kill {kill}: {content:?} sent {n} times");
        }
        self.figures.unlogged_sends = unlogged;
        self.figures.messages_logged = logged.len() as u64;
        drop(cache);
        self.snapshot = now;
    }

    /// The checks of a settled worker: SYNCED, equal to the server, outbox delivered once.
    fn check_settled(&mut self, report: &WorkerReport, n: u64) {
        assert_eq!(
            report.outbox, 0,
            "run {n}: the outbox did not drain: {report:?}"
        );
        for chat in &report.chats {
            assert_eq!(
                chat.state, "SYNCED",
                "run {n}: chat {} settled {}",
                chat.id, chat.state
            );
            assert_eq!(
                chat.local_pending, 0,
                "run {n}: chat {} shows unsent messages",
                chat.id
            );
            let start = chat.window_start.expect("a settled chat has a window");
            let server: Vec<(i64, String, String)> = self
                .db
                .messages_from(&chat.id, start)
                .expect("server db readable")
                .into_iter()
                .map(|m| (m.seq, m.id, m.content))
                .collect();
            assert!(
                server == chat.window,
                "run {n}: chat {} differs from the server from sequence {start}: \
                 client has {} messages up to {:?}, server {} up to {:?}",
                chat.id,
                chat.window.len(),
                chat.window.last().map(|m| m.0),
                server.len(),
                server.last().map(|m| m.0),
            );
        }
        let on_server: HashMap<String, String> = self
            .db
            .messages_with_client_temp_id(&self.requester)
            .expect("server db readable")
            .into_iter()
            .map(|m| (m.client_temp_id.unwrap_or_default(), m.content))
            .collect();
        for record in read_side_log(&self.side_log).expect("side log readable") {
            assert_eq!(
                on_server.get(&record.client_temp_id),
                Some(&record.content),
                "run {n}: queued message {} never reached the server",
                record.client_temp_id
            );
        }
        self.figures.settled_checks += 1;
        self.figures.settle_ms_max = self.figures.settle_ms_max.max(report.settle_ms);
    }
}

/// Reads stdout until the `SETTLED` line.
async fn read_settled(child: &mut Child, n: u64, dir: &Path) -> WorkerReport {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await.expect("stdout readable") {
            if let Some(json) = line.strip_prefix(SETTLED_PREFIX) {
                return Some(serde_json::from_str::<WorkerReport>(json).expect("a report"));
            }
        }
        None
    };
    match tokio::time::timeout(Duration::from_secs(60), wait).await {
        Ok(Some(report)) => report,
        other => {
            let stderr =
                std::fs::read_to_string(dir.join(format!("worker-{n}.stderr"))).unwrap_or_default();
            panic!("run {n}: the worker did not settle ({other:?}); stderr:\n{stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_clients_lose_nothing_and_resync() {
    panics::install();
    let kills = knobs::u64_knob("crash_kills", 25);
    let max_alive_ms = knobs::u64_knob("crash_max_alive_ms", 1200).max(30);
    let seed = knobs::seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server_db = dir.path().join("server.sqlite");
    let config = ServerConfig {
        db: Some(server_db.clone()),
        ..ServerConfig::ephemeral().with_seed(3, 30)
    };
    let server = Server::start(config).await.expect("the server starts");
    let chats = server.ticket_ids().await.expect("tickets");
    let requester = server.first_user(Role::Requester).expect("a requester");
    let technician = server.first_user(Role::Technician).expect("a technician");
    let faults = server.faults();
    let mut harness = Harness {
        db: ServerDb::open(&server_db).expect("the server db opens"),
        server,
        dir: dir.path().to_path_buf(),
        cache: dir.path().join("cache.sqlite"),
        side_log: dir.path().join("side.log"),
        chats: chats.clone(),
        token: requester.token.clone(),
        requester: requester.id.clone(),
        snapshot: Snapshot::default(),
        figures: Figures::default(),
    };

    // Load: the technician posts into random chats; the gate pauses it.
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(0));
    let load = {
        let (gate, stop, posted) = (gate.clone(), stop.clone(), posted.clone());
        let server_url = harness.server.base_url();
        let token = technician.token.clone();
        let chats = chats.clone();
        let mut rng = StdRng::seed_from_u64(seed ^ 0x10ad);
        tokio::spawn(async move {
            // Posting over HTTP as the technician (a real second party), not in-process.
            let http = chatsync_reliability::http_client();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let chat = &chats[rng.random_range(0..chats.len())];
                let pause = rng.random_range(5..40);
                {
                    let _open = gate.lock().await;
                    n += 1;
                    let url = format!("{server_url}/api/v1/chat/requests/{chat}/messages");
                    let sent = http
                        .post(url)
                        .bearer_auth(&token)
                        .json(&json!({"content": format!("technician {n}"),
                                      "clientTempId": format!("tech-{n}")}))
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        posted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        })
    };
    let push_faults = |on: bool, seed: u64| {
        faults.set_random_push_faults(on.then_some(RandomPushFaults {
            seed,
            drop_rate: 0.03,
            duplicate_rate: 0.03,
            reorder_rate: 0.03,
        }))
    };

    for kill in 0..kills {
        let settle = kill == 0 || rng.random_bool(0.7);
        let mut child = if settle {
            let paused = gate.lock().await;
            push_faults(false, 0);
            let mut child = harness.spawn_worker(true, kill);
            let report = read_settled(&mut child, kill, dir.path()).await;
            harness.check_settled(&report, kill);
            push_faults(true, seed.wrapping_add(kill));
            drop(paused);
            let stdin = child.stdin.as_mut().expect("piped stdin");
            stdin
                .write_all(b"go\n")
                .await
                .expect("the worker reads stdin");
            stdin.flush().await.expect("flushed");
            child
        } else {
            harness.figures.kills_during_startup += 1;
            harness.spawn_worker(false, kill)
        };
        let alive = rng.random_range(20..max_alive_ms);
        tokio::time::sleep(Duration::from_millis(alive)).await;
        child.start_kill().expect("SIGKILL delivered");
        let status = child.wait().await.expect("the worker is reaped");
        assert!(
            !status.success(),
            "kill {kill}: the worker exited on its own: {status}"
        );
        harness.figures.kills += 1;
        harness.check_after_kill(kill);
    }

    // The last restart settles with the load stopped: everything logged is on the server once.
    stop.store(true, Ordering::Relaxed);
    load.await.expect("the load task ends");
    push_faults(false, 0);
    let mut child = harness.spawn_worker(true, kills);
    let report = read_settled(&mut child, kills, dir.path()).await;
    harness.check_settled(&report, kills);
    child.start_kill().expect("SIGKILL delivered");
    child.wait().await.expect("reaped");
    harness.check_after_kill(kills);
    assert_eq!(
        panics::count(),
        0,
        "a panic happened in the harness process"
    );

    let f = &harness.figures;
    report::write(
        "crash",
        &json!({
            "seed": seed,
            "kills": f.kills,
            "killsDuringStartup": f.kills_during_startup,
            "settledChecks": f.settled_checks,
            "integrityChecks": f.integrity_checks,
            "messagesQueuedAndLogged": f.messages_logged,
            "sendsOnServerNotInSideLog": f.unlogged_sends,
            "outboxEntriesPendingAtKills": f.queued_at_kill,
            "technicianPosts": posted.load(Ordering::Relaxed),
            "maxCachedMessages": f.max_cached_messages,
            "slowestSettleMs": f.settle_ms_max,
            "lostMessages": 0,
            "duplicateSends": 0,
            "elapsedSecs": started.elapsed().as_secs(),
        }),
    );
}
