//! Convergence under faults (issue 10, part 2): a time-bounded soak of one real
//! client against the reference server with its fault injection on.
//!
//! Knobs (environment): `CHATSYNC_REL_SOAK_SECS` (total budget, default 60),
//! `CHATSYNC_REL_SOAK_SCHEDULE_SECS` (length of one fault schedule, default 7),
//! `CHATSYNC_REL_SEED`.
//!
//! The soak runs fault *schedules* one after another until the budget is spent. Each
//! schedule draws, from its seed, random push fault rates (lost, duplicated,
//! reordered) and then, for its duration, a random mix of: technician posts, client
//! sends, push delays, slow HTTP answers (some beyond the client's request timeout),
//! 503 answers, truncated bodies, `lastMessageSequence: null`, WebSocket disconnects,
//! server restarts (same database file, same port), manual resyncs, chat re-opens and
//! app resumes. Then the faults stop and the schedule *converges* when every open
//! chat is SYNCED, its newest window equals the server's messages and the outbox is
//! delivered, each message exactly once on the server.
//!
//! The observer property, checked from the event log: for every
//! `SyncStateChanged(SYNCED)` of chat `c`, the observer reads
//! `client.cache().validate_sequences(c)` (the persisted runs and the persisted last
//! known backend sequence) while the event is delivered. Either that passes — the
//! newest run has no hole and ends at the backend sequence known then — or a later
//! `SyncStateChanged(c)` with another state is delivered: the cache moved on
//! between the engine's decision and the delivery (events are delivered after the
//! lock is released), and the engine noticed. A SYNCED delivery on an invalid cache
//! that is never followed by a state change is a violation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use chatsync::cache::EvictionLimits;
use chatsync::net::api::StaticToken;
use chatsync::observe::Observer;
use chatsync::{ChatSyncClient, ClientConfig, SyncEvent, SyncState};
use chatsync_reliability::serverdb::ServerDb;
use chatsync_reliability::{knobs, panics, report};
use chatsync_server::{
    EndpointKind, PushKind, RandomPushFaults, Role, RunningServer, Server, ServerConfig, UserSpec,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const REQUESTER: &str = "requester-1";
const TECHNICIAN: &str = "technician-1";
const REQUESTER_TOKEN: &str = "soak-requester-token";

#[derive(Debug, Clone)]
struct StateRecord {
    chat: String,
    state: SyncState,
    /// `validate_sequences` at delivery (SYNCED only); `Err` text when unreadable.
    valid_at_delivery: Option<Result<bool, String>>,
}

/// Records state changes, checking the cache when SYNCED is delivered.
#[derive(Default)]
struct Auditor {
    client: OnceLock<Weak<ChatSyncClient>>,
    states: Mutex<Vec<StateRecord>>,
    errors: Mutex<HashMap<String, u64>>,
}

impl Observer<SyncEvent> for Auditor {
    fn on_event(&self, event: SyncEvent) {
        match event {
            SyncEvent::SyncStateChanged { request_id, state } => {
                let valid_at_delivery = (state == SyncState::Synced).then(|| {
                    match self.client.get().and_then(Weak::upgrade) {
                        Some(client) => client
                            .cache()
                            .validate_sequences(&request_id)
                            .map(|r| r.valid)
                            .map_err(|e| e.to_string()),
                        None => Err("client gone".into()),
                    }
                });
                self.states.lock().unwrap().push(StateRecord {
                    chat: request_id,
                    state,
                    valid_at_delivery,
                });
            }
            SyncEvent::Error { kind, .. } => {
                *self
                    .errors
                    .lock()
                    .unwrap()
                    .entry(kind.as_str().to_string())
                    .or_default() += 1;
            }
            _ => {}
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Audit {
    synced_reports: u64,
    valid_at_delivery: u64,
    raced_then_left_synced: u64,
}

/// Checks the observer property over the whole log; panics on a violation.
fn audit(states: &[StateRecord]) -> Audit {
    let mut audit = Audit::default();
    for (i, record) in states.iter().enumerate() {
        let Some(valid) = &record.valid_at_delivery else {
            continue;
        };
        audit.synced_reports += 1;
        match valid {
            Ok(true) => audit.valid_at_delivery += 1,
            Ok(false) => {
                let left = states[i + 1..]
                    .iter()
                    .any(|later| later.chat == record.chat && later.state != SyncState::Synced);
                assert!(
                    left,
                    "chat {} was reported SYNCED (event {i}) on an invalid cache and never left SYNCED",
                    record.chat
                );
                audit.raced_then_left_synced += 1;
            }
            Err(e) => panic!("the cache was unreadable at a SYNCED delivery: {e}"),
        }
    }
    audit
}

fn users() -> Vec<UserSpec> {
    vec![
        UserSpec::new(REQUESTER, Role::Requester, "Dana Whitfield").with_token(REQUESTER_TOKEN),
        UserSpec::new(TECHNICIAN, Role::Technician, "Sam Ortega").with_token("soak-tech-token"),
    ]
}

fn server_config(db: &Path, addr: SocketAddr) -> ServerConfig {
    ServerConfig {
        addr,
        db: Some(db.to_path_buf()),
        ..ServerConfig::ephemeral()
            .with_seed(4, 40)
            .with_users(users())
    }
}

async fn start_server(db: &Path, addr: SocketAddr) -> RunningServer {
    let mut last = None;
    for _ in 0..50 {
        match Server::start(server_config(db, addr)).await {
            Ok(server) => return server,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server does not restart on {addr}: {last:?}");
}

fn client_config(base_url: String, cache: PathBuf) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Some(cache));
    config.gap_grace = Duration::from_millis(200);
    config.retry_base = Duration::from_millis(100);
    config.retry_cap = Duration::from_millis(1000);
    config.reconnect_base = Duration::from_millis(100);
    config.reconnect_cap = Duration::from_millis(1000);
    config.revalidate_interval = Duration::from_millis(1500);
    config.request_timeout = Duration::from_secs(2);
    config.eviction = EvictionLimits::unlimited();
    config
}

#[derive(Default, Debug)]
struct Figures {
    schedules: u64,
    posts: u64,
    sends: u64,
    restarts: u64,
    disconnects: u64,
    http_failures: u64,
    truncations: u64,
    slow_phases: u64,
    timeouts_forced: u64,
    null_phases: u64,
    slowest_convergence_ms: u64,
}

/// Server counters summed over every instance (a restart starts them at zero).
#[derive(Default, Debug)]
struct Totals {
    dropped: u64,
    duplicated: u64,
    reordered: u64,
    failed: u64,
    truncated: u64,
}

impl Totals {
    fn add(&mut self, stats: &chatsync_server::StatsSnapshot) {
        self.dropped += stats.pushes_dropped;
        self.duplicated += stats.pushes_duplicated;
        self.reordered += stats.pushes_reordered;
        self.failed += stats.http_failures_injected;
        self.truncated += stats.http_bodies_truncated;
    }
}

/// Why the chats have not converged yet (`None` once they have).
fn divergence(
    client: &ChatSyncClient,
    db: &ServerDb,
    open: &[String],
    sent: &HashMap<String, String>,
) -> Option<String> {
    for chat in open {
        let state = client.sync_state(chat);
        if state != SyncState::Synced {
            return Some(format!("{chat} is {state:?}"));
        }
        let start = client.cache().summary(chat).ok()?.window_start?;
        let cached: Vec<(i64, String, String)> = client
            .get_cached_messages(chat, None)
            .ok()?
            .into_iter()
            .filter_map(|m| Some((m.sequence_number?, m.id, m.content)))
            .filter(|m| m.0 >= start)
            .collect();
        let server: Vec<(i64, String, String)> = db
            .messages_from(chat, start)
            .ok()?
            .into_iter()
            .map(|m| (m.seq, m.id, m.content))
            .collect();
        if cached != server {
            return Some(format!(
                "{chat}: cache has {} messages up to {:?}, server {} up to {:?} (from {start})",
                cached.len(),
                cached.last().map(|m| m.0),
                server.len(),
                server.last().map(|m| m.0)
            ));
        }
    }
    let outbox = client.cache().outbox().ok()?;
    if !outbox.is_empty() {
        return Some(format!(
            "{} outgoing message(s) not delivered",
            outbox.len()
        ));
    }
    let stored = db.messages_with_client_temp_id(REQUESTER).ok()?;
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for m in &stored {
        *seen
            .entry(m.client_temp_id.as_deref().unwrap_or_default())
            .or_default() += 1;
    }
    for (ctid, content) in sent {
        let matching = stored
            .iter()
            .find(|m| m.client_temp_id.as_deref() == Some(ctid.as_str()));
        match matching {
            Some(m) if &m.content == content && seen[ctid.as_str()] == 1 => {}
            other => return Some(format!("sent message {ctid} on the server as {other:?}")),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_chat_converges_under_faults() {
    panics::install();
    let budget = knobs::secs_knob("soak_secs", 60);
    let schedule_len = knobs::secs_knob("soak_schedule_secs", 7);
    let seed = knobs::seed();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db_path = dir.path().join("server.sqlite");
    let mut server = start_server(&db_path, SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let addr = server.addr();
    let db = ServerDb::open(&db_path).expect("the server db opens");
    let tickets = server.ticket_ids().await.expect("tickets");
    // Three chats stay open; the fourth is only touched by the ticket list.
    let open: Vec<String> = tickets[..3].to_vec();

    let auditor = Arc::new(Auditor::default());
    let client = Arc::new(
        ChatSyncClient::new(
            client_config(server.base_url(), dir.path().join("cache.sqlite")),
            Arc::new(StaticToken(REQUESTER_TOKEN.into())),
        )
        .expect("the client builds"),
    );
    let _ = auditor.client.set(Arc::downgrade(&client));
    let _subscription = client.subscribe(auditor.clone(), None);
    client.start();
    for chat in &open {
        client.open_chat(chat).expect("open");
    }

    let mut figures = Figures::default();
    let mut totals = Totals::default();
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0u64;
    while figures.schedules == 0 || started.elapsed() + schedule_len < budget {
        let schedule_seed: u64 = rng.random();
        let mut srng = StdRng::seed_from_u64(schedule_seed);
        let rates = RandomPushFaults {
            seed: schedule_seed,
            drop_rate: [0.0, 0.05, 0.2][srng.random_range(0..3)],
            duplicate_rate: [0.0, 0.1][srng.random_range(0..2)],
            reorder_rate: [0.0, 0.1, 0.3][srng.random_range(0..3)],
        };
        server.faults().set_random_push_faults(Some(rates));
        let until = Instant::now() + schedule_len;
        while Instant::now() < until {
            let action = srng.random_range(0..100u32);
            let chat = tickets[srng.random_range(0..tickets.len())].clone();
            let faults = server.faults();
            match action {
                0..=44 => {
                    n += 1;
                    let posted = server
                        .post_message(&chat, TECHNICIAN, &format!("technician {n}"), None)
                        .await;
                    if posted.is_ok() {
                        figures.posts += 1;
                    }
                }
                45..=54 => {
                    let target = &open[srng.random_range(0..open.len())];
                    n += 1;
                    let content = format!("soak send {schedule_seed:x} {n}");
                    let message = client.send_message(target, &content).await.expect("queued");
                    sent.insert(message.client_temp_id.expect("a key"), content);
                    figures.sends += 1;
                }
                55..=58 => faults.set_push_delay(Duration::from_millis(srng.random_range(0..300))),
                59..=62 => {
                    // Slow answers; sometimes slower than the client's 2 s timeout.
                    let ms = if srng.random_bool(0.25) {
                        figures.timeouts_forced += 1;
                        2_500
                    } else {
                        srng.random_range(50..700)
                    };
                    faults.set_http_delay(Duration::from_millis(ms));
                    figures.slow_phases += 1;
                }
                63..=65 => faults.set_http_delay(Duration::ZERO),
                66..=70 => {
                    let target = [
                        None,
                        Some(EndpointKind::Tickets),
                        Some(EndpointKind::Messages),
                        Some(EndpointKind::Send),
                    ][srng.random_range(0..4)];
                    faults.fail_next_http(srng.random_range(1..4), target);
                    figures.http_failures += 1;
                }
                71..=74 => {
                    let target = [
                        None,
                        Some(EndpointKind::Tickets),
                        Some(EndpointKind::Messages),
                        Some(EndpointKind::Send),
                    ][srng.random_range(0..4)];
                    faults.truncate_next_responses(srng.random_range(1..3), target);
                    figures.truncations += 1;
                }
                75..=77 => {
                    faults.drop_next_pushes(srng.random_range(1..4), PushKind::Any);
                }
                78..=80 => {
                    server.disconnect_all_websockets();
                    figures.disconnects += 1;
                }
                81 => {
                    faults.set_null_last_sequence(true);
                    figures.null_phases += 1;
                }
                82..=83 => faults.set_null_last_sequence(false),
                84 => {
                    totals.add(&server.stats());
                    server.shutdown().await.expect("the server stops");
                    tokio::time::sleep(Duration::from_millis(srng.random_range(50..800))).await;
                    server = start_server(&db_path, addr).await;
                    server.faults().set_random_push_faults(Some(rates));
                    figures.restarts += 1;
                }
                85..=88 => {
                    let client = client.clone();
                    let target = open[srng.random_range(0..open.len())].clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(5),
                            client.manual_resync(&target),
                        )
                        .await;
                    });
                }
                89..=91 => {
                    let target = &open[srng.random_range(0..open.len())];
                    client.close_chat(target);
                    client.open_chat(target).expect("re-open");
                }
                92..=93 => client.on_app_resume(),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(srng.random_range(5..120))).await;
        }
        // The faults stop; the client must converge on its own.
        server.faults().reset();
        let converging = Instant::now();
        let deadline = converging + Duration::from_secs(30);
        loop {
            match divergence(&client, &db, &open, &sent) {
                None => break,
                Some(why) if Instant::now() > deadline => panic!(
                    "schedule {} (seed {schedule_seed}) did not converge in 30 s: {why}",
                    figures.schedules
                ),
                Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        figures.slowest_convergence_ms = figures
            .slowest_convergence_ms
            .max(converging.elapsed().as_millis() as u64);
        figures.schedules += 1;
    }
    client.flush_observers();
    let states = auditor.states.lock().unwrap().clone();
    let audit = audit(&states);
    for chat in &open {
        let last = states
            .iter()
            .rev()
            .find(|r| &r.chat == chat)
            .map(|r| r.state);
        assert_eq!(
            last,
            Some(SyncState::Synced),
            "the last reported state of {chat}"
        );
    }
    assert_eq!(panics::count(), 0, "a panic happened during the soak");
    totals.add(&server.stats());
    let errors = auditor.errors.lock().unwrap().clone();
    report::write(
        "soak",
        &json!({
            "seed": seed,
            "schedulesConverged": figures.schedules,
            "scheduleSecs": schedule_len.as_secs(),
            "technicianPosts": figures.posts,
            "clientSends": figures.sends,
            "serverRestarts": figures.restarts,
            "websocketDisconnects": figures.disconnects,
            "http503Bursts": figures.http_failures,
            "truncationBursts": figures.truncations,
            "slowHttpPhases": figures.slow_phases,
            "forcedTimeoutPhases": figures.timeouts_forced,
            "nullLastSequencePhases": figures.null_phases,
            "pushesDropped": totals.dropped,
            "pushesDuplicated": totals.duplicated,
            "pushesReordered": totals.reordered,
            "http503Answers": totals.failed,
            "bodiesTruncated": totals.truncated,
            "observerErrorsByKind": errors,
            "syncedReports": audit.synced_reports,
            "syncedValidAtDelivery": audit.valid_at_delivery,
            "syncedRacedThenLeft": audit.raced_then_left_synced,
            "violations": 0,
            "lostMessages": 0,
            "slowestConvergenceMs": figures.slowest_convergence_ms,
            "elapsedSecs": started.elapsed().as_secs(),
        }),
    );
}
