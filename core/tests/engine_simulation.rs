//! Property tests of the sans-I/O engine under a simulated server and network.
//!
//! Random interleavings of server posts by the other party, lost, duplicated,
//! reordered and delayed pushes, failed requests, disconnects, socket drops, opens,
//! closes, manual resyncs, back-pagination and outgoing sends are executed against
//! the shared harness (a `SeqRuns` cache model and a gapless server). The harness
//! checks after every event that no chat is SYNCED while its cache fails validation
//! against the backend sequence the engine knows, and that at most one fetch per
//! chat is in flight. After the faults stop, the test restores connectivity, opens
//! every chat, lets time pass beyond every timer (and one revalidation interval),
//! and requires every chat SYNCED with its cache equal to the server.

mod engine_support;

use chatsync::engine::{EngineConfig, Event, FailureKind, FetchQuery};
use chatsync::{SeqRange, SyncState};
use engine_support::Harness;
use proptest::prelude::*;

const CHATS: [&str; 2] = ["a", "b"];

/// The number of cases: `default` (fast enough for every `cargo test`), or
/// `CHATSYNC_SIM_CASES` for a deep run (e.g. 5000 in release mode).
fn cases(default: u32) -> u32 {
    std::env::var("CHATSYNC_SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone)]
enum Op {
    Post(usize),
    Deliver(usize),
    Duplicate(usize),
    Drop(usize),
    RespondFetch(usize),
    FailFetch(usize, FailureKind),
    RespondTickets,
    FailTickets,
    RespondSend(usize),
    FailSend(usize, bool),
    Open(usize),
    Close(usize),
    Advance(i64),
    Disconnect,
    Reconnect,
    SocketDrop,
    SocketResult(bool),
    Send(usize),
    Manual(usize),
    LoadEarlier(usize),
    /// The server pushes `ticket.updated` with the chat's current sequence.
    TicketUpdated(usize),
    Resume,
    Background,
}

fn failure() -> impl Strategy<Value = FailureKind> {
    prop_oneof![
        3 => Just(FailureKind::Network),
        2 => Just(FailureKind::Timeout),
        2 => Just(FailureKind::Server5xx),
        1 => Just(FailureKind::BadData),
        1 => Just(FailureKind::Unauthorized),
    ]
}

fn retryable() -> impl Strategy<Value = FailureKind> {
    prop_oneof![
        Just(FailureKind::Network),
        Just(FailureKind::Timeout),
        Just(FailureKind::Server5xx),
        Just(FailureKind::BadData),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let chat = 0usize..CHATS.len();
    let idx = 0usize..16;
    prop_oneof![
        6 => chat.clone().prop_map(Op::Post),
        6 => idx.clone().prop_map(Op::Deliver),
        1 => idx.clone().prop_map(Op::Duplicate),
        2 => idx.clone().prop_map(Op::Drop),
        6 => idx.clone().prop_map(Op::RespondFetch),
        2 => (idx.clone(), failure()).prop_map(|(i, k)| Op::FailFetch(i, k)),
        3 => Just(Op::RespondTickets),
        1 => Just(Op::FailTickets),
        3 => idx.clone().prop_map(Op::RespondSend),
        1 => (idx.clone(), any::<bool>()).prop_map(|(i, s)| Op::FailSend(i, s)),
        3 => chat.clone().prop_map(Op::Open),
        2 => chat.clone().prop_map(Op::Close),
        4 => (0i64..3_000).prop_map(Op::Advance),
        1 => Just(Op::Disconnect),
        1 => Just(Op::Reconnect),
        1 => Just(Op::SocketDrop),
        2 => any::<bool>().prop_map(Op::SocketResult),
        2 => chat.clone().prop_map(Op::Send),
        1 => chat.clone().prop_map(Op::Manual),
        1 => chat.clone().prop_map(Op::LoadEarlier),
        1 => chat.prop_map(Op::TicketUpdated),
        1 => Just(Op::Resume),
        1 => Just(Op::Background),
    ]
}

/// Faults while the socket stays up: lost, reordered, duplicated and delayed pushes,
/// failed requests (retried), opens, closes, sends.
fn lossless_op() -> impl Strategy<Value = Op> {
    let chat = 0usize..CHATS.len();
    let idx = 0usize..16;
    prop_oneof![
        6 => chat.clone().prop_map(Op::Post),
        6 => idx.clone().prop_map(Op::Deliver),
        2 => idx.clone().prop_map(Op::Duplicate),
        2 => idx.clone().prop_map(Op::Drop),
        6 => idx.clone().prop_map(Op::RespondFetch),
        2 => (idx.clone(), retryable()).prop_map(|(i, k)| Op::FailFetch(i, k)),
        3 => idx.clone().prop_map(Op::RespondSend),
        1 => (idx, any::<bool>()).prop_map(|(i, s)| Op::FailSend(i, s)),
        3 => chat.clone().prop_map(Op::Open),
        1 => chat.clone().prop_map(Op::Close),
        4 => (0i64..1_500).prop_map(Op::Advance),
        2 => chat.prop_map(Op::Send),
    ]
}

fn config() -> EngineConfig {
    EngineConfig {
        resync_window: 12,
        page_size: 4,
        revalidate_interval_ms: 10_000,
        gap_grace_ms: 500,
        retry_base_ms: 100,
        retry_cap_ms: 2_000,
        reconnect_base_ms: 100,
        reconnect_cap_ms: 1_000,
        jitter_seed: 7,
    }
}

/// The simulated world around the harness: the push stream and the link state.
struct Sim {
    h: Harness,
    /// Frames on their way: (chat, sequence, true for `ticket.updated`).
    pushes: Vec<(String, i64, bool)>,
    online: bool,
    socket_up: bool,
    sends_made: usize,
    /// A push was lost while the socket stayed up: only revalidation can notice.
    lost_push: bool,
    /// Checked after every step when set: pending fetches of one chat never overlap.
    check_overlap: bool,
}

impl Sim {
    fn new(initial: &[i64]) -> Sim {
        Sim::with_config(initial, config())
    }

    fn with_config(initial: &[i64], config: EngineConfig) -> Sim {
        let mut h = Harness::new(config);
        for (chat, &n) in CHATS.iter().zip(initial) {
            h.server.fill_to(chat, n);
        }
        // Every chat starts with a cache of its first messages (a previous session).
        for (chat, &n) in CHATS.iter().zip(initial) {
            for seq in 1..=n / 2 {
                let msg = h.server.msg(chat, seq).expect("seq").clone();
                h.cache.store(chat, seq, &msg);
            }
        }
        let mut sim = Sim {
            h,
            pushes: Vec::new(),
            online: true,
            socket_up: false,
            sends_made: 0,
            lost_push: false,
            check_overlap: false,
        };
        let now = sim.h.now;
        sim.h.feed(Event::Started { now_ms: now });
        sim
    }

    fn now(&self) -> i64 {
        self.h.now
    }

    fn deliver(&mut self, (chat, seq, meta): (String, i64, bool)) {
        if meta {
            let now = self.now();
            self.h.feed(Event::BackendSeqObserved {
                request_id: chat,
                seq,
                authoritative: false,
                now_ms: now,
            });
        } else {
            self.h.push(&chat, seq);
        }
    }

    /// The server stored something new: the socket (if up) pushes it.
    fn announce(&mut self, chat: &str, seq: i64) {
        if self.socket_up {
            self.pushes.push((chat.to_string(), seq, false));
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Post(c) => {
                let seq = self.h.server.post(CHATS[c], None);
                self.announce(CHATS[c], seq);
            }
            Op::Deliver(i) | Op::Duplicate(i) if !self.pushes.is_empty() => {
                let index = i % self.pushes.len();
                let frame = if matches!(op, Op::Deliver(_)) {
                    self.pushes.remove(index)
                } else {
                    self.pushes[index].clone()
                };
                self.deliver(frame);
            }
            Op::Drop(i) if !self.pushes.is_empty() => {
                let index = i % self.pushes.len();
                self.pushes.remove(index);
                self.lost_push = true;
            }
            Op::RespondFetch(i) if self.online && !self.h.fetches.is_empty() => {
                let index = i % self.h.fetches.len();
                self.h.respond_fetch(index);
            }
            Op::FailFetch(i, kind) if !self.h.fetches.is_empty() => {
                let index = i % self.h.fetches.len();
                self.h.fail_fetch(index, kind);
            }
            Op::RespondTickets if self.online && self.h.tickets_pending > 0 => {
                self.h.respond_tickets()
            }
            Op::FailTickets if self.h.tickets_pending > 0 => {
                self.h.tickets_pending -= 1;
                let now = self.now();
                self.h.feed(Event::TicketsFailed {
                    error: FailureKind::Network,
                    now_ms: now,
                });
            }
            Op::RespondSend(i) if self.online && !self.h.sends.is_empty() => {
                let index = i % self.h.sends.len();
                let chat = self.h.sends[index].0.clone();
                let before = self.h.server.last(&chat);
                let seq = self.h.respond_send(index);
                if seq > before {
                    self.announce(&chat, seq);
                }
            }
            Op::FailSend(i, stored) if !self.h.sends.is_empty() => {
                let index = i % self.h.sends.len();
                let chat = self.h.sends[index].0.clone();
                let before = self.h.server.last(&chat);
                self.h
                    .fail_send(index, FailureKind::Timeout, stored && self.online);
                let after = self.h.server.last(&chat);
                if after > before {
                    self.announce(&chat, after);
                }
            }
            Op::Open(c) if !self.h.engine.is_open(CHATS[c]) => self.h.open(CHATS[c]),
            Op::Close(c) if self.h.engine.is_open(CHATS[c]) => self.h.close(CHATS[c]),
            Op::Advance(ms) => self.h.advance(ms),
            Op::Disconnect if self.online => self.disconnect(),
            Op::Reconnect if !self.online => {
                self.online = true;
                let now = self.now();
                self.h.feed(Event::ConnectivityRestored { now_ms: now });
            }
            Op::SocketDrop if self.socket_up => {
                self.socket_up = false;
                self.pushes.clear();
                let now = self.now();
                self.h.feed(Event::RealtimeDisconnected { now_ms: now });
            }
            Op::SocketResult(up) if self.h.realtime_connect_pending => {
                self.h.realtime_connect_pending = false;
                let now = self.now();
                if up && self.online {
                    self.socket_up = true;
                    self.h.feed(Event::RealtimeConnected { now_ms: now });
                } else {
                    self.h.feed(Event::RealtimeDisconnected { now_ms: now });
                }
            }
            Op::Send(c) => {
                self.sends_made += 1;
                let id = format!("t{}", self.sends_made);
                self.h.queue_outgoing(CHATS[c], &id);
            }
            Op::Manual(c) => {
                let now = self.now();
                self.h.feed(Event::ManualResyncRequested {
                    request_id: CHATS[c].to_string(),
                    now_ms: now,
                });
            }
            Op::LoadEarlier(c) => {
                self.h.load_earlier(CHATS[c]);
            }
            Op::TicketUpdated(c) if self.socket_up => {
                let seq = self.h.server.last(CHATS[c]);
                self.pushes.push((CHATS[c].to_string(), seq, true));
            }
            Op::Resume => {
                let now = self.now();
                self.h.feed(Event::AppResumed { now_ms: now });
            }
            Op::Background => {
                let now = self.now();
                self.h.feed(Event::BackgroundRevalidate { now_ms: now });
            }
            _ => {}
        }
        if self.check_overlap {
            assert_no_overlapping_fetches(&self.h);
        }
    }

    /// The link goes down: requests in flight fail, the socket and its queue are lost.
    fn disconnect(&mut self) {
        self.online = false;
        let now = self.now();
        self.h.feed(Event::ConnectivityLost { now_ms: now });
        while !self.h.fetches.is_empty() {
            self.h.fail_fetch(0, FailureKind::Network);
        }
        while self.h.tickets_pending > 0 {
            self.h.tickets_pending -= 1;
            self.h.feed(Event::TicketsFailed {
                error: FailureKind::Network,
                now_ms: now,
            });
        }
        while !self.h.sends.is_empty() {
            self.h.fail_send(0, FailureKind::Network, false);
        }
        self.pushes.clear();
        if self.socket_up || self.h.realtime_connect_pending {
            self.socket_up = false;
            self.h.realtime_connect_pending = false;
            self.h.feed(Event::RealtimeDisconnected { now_ms: now });
        }
    }

    /// Faults stop: deliver and answer everything, firing timers, until nothing is left.
    fn settle(&mut self) {
        for _ in 0..5_000 {
            let now = self.now();
            if self.h.engine.is_auth_blocked() {
                self.h.feed(Event::CredentialsRenewed { now_ms: now });
            } else if self.h.realtime_connect_pending {
                self.h.realtime_connect_pending = false;
                self.socket_up = true;
                self.h.feed(Event::RealtimeConnected { now_ms: now });
            } else if !self.pushes.is_empty() {
                let frame = self.pushes.remove(0);
                self.deliver(frame);
            } else if !self.h.fetches.is_empty() {
                self.h.respond_fetch(0);
            } else if self.h.tickets_pending > 0 {
                self.h.respond_tickets();
            } else if !self.h.sends.is_empty() {
                let chat = self.h.sends[0].0.clone();
                let before = self.h.server.last(&chat);
                let seq = self.h.respond_send(0);
                if seq > before {
                    self.announce(&chat, seq);
                }
            } else if !self.h.fire_next_non_periodic_timer() {
                return;
            }
        }
        panic!("the simulation did not settle");
    }

    fn quiesce_and_check(&mut self) {
        if !self.online {
            self.online = true;
            let now = self.now();
            self.h.feed(Event::ConnectivityRestored { now_ms: now });
        }
        for chat in CHATS {
            if !self.h.engine.is_open(chat) {
                self.h.open(chat);
            }
        }
        self.settle();
        // Before any periodic revalidation, every chat is SYNCED with respect to what
        // it knows: gaps revealed by later pushes were healed by the grace timers,
        // failures by retries, disconnects by restoration.
        for chat in CHATS {
            assert_eq!(
                self.h.engine.sync_state(chat),
                SyncState::Synced,
                "{chat} did not heal before revalidation"
            );
            if !self.lost_push {
                let max = self.h.cache.chat(chat).runs.max_seq().unwrap_or(0);
                assert_eq!(
                    max,
                    self.h.server.last(chat),
                    "{chat} behind with nothing lost"
                );
            }
        }
        // One revalidation interval: catches pushes lost while the socket stayed up.
        let interval = self.h.engine.config().revalidate_interval_ms;
        self.h.advance(interval);
        self.settle();
        for chat in CHATS {
            let state = self.h.engine.sync_state(chat);
            assert_eq!(state, SyncState::Synced, "{chat} did not converge");
            assert!(self.h.engine.outbox(chat).is_empty(), "{chat} outbox left");
            assert!(
                self.h.cache.chat(chat).outbox.is_empty(),
                "{chat} outbox rows left"
            );
            let cached = self.h.cache.chat(chat).clone();
            assert_eq!(cached.runs.max_seq().unwrap_or(0), self.h.server.last(chat));
            assert!(cached.runs.summary().window_holes.is_empty());
            // Back-pagination fills every recorded history gap...
            let mut pages = 0;
            while self.h.load_earlier(chat) {
                self.settle();
                pages += 1;
                assert!(pages < 100, "load_earlier does not progress");
            }
            // ...and then the cache equals the server, message for message.
            let cached = self.h.cache.chat(chat).clone();
            let server: Vec<String> = self
                .h
                .server
                .chats
                .get(chat)
                .map_or_else(Vec::new, |m| m.iter().map(|m| m.id.clone()).collect());
            let local: Vec<String> = cached.ids.values().cloned().collect();
            assert_eq!(local, server, "{chat}: cache differs from the server");
            // Every outgoing message reached the server exactly once.
            let msgs = self.h.server.chats.get(chat).cloned().unwrap_or_default();
            let mut keys: Vec<&String> = msgs
                .iter()
                .filter_map(|m| m.client_temp_id.as_ref())
                .collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(
                keys.len(),
                n,
                "{chat}: an outgoing message was stored twice"
            );
        }
        let sent: usize = CHATS
            .iter()
            .map(|c| {
                self.h.server.chats.get(*c).map_or(0, |m| {
                    m.iter().filter(|m| m.client_temp_id.is_some()).count()
                })
            })
            .sum();
        assert_eq!(
            sent, self.sends_made,
            "every outgoing message is on the server"
        );
    }
}

/// The sequence range a pending fetch can return (server-independent upper bounds).
fn fetch_range(query: FetchQuery, limit: i64, server_last: i64) -> Option<SeqRange> {
    let (lo, hi) = match query {
        FetchQuery::After(a) => (a + 1, a + limit),
        FetchQuery::Before(b) => ((b - limit).max(1), b - 1),
        FetchQuery::Latest => ((server_last - limit + 1).max(1), server_last.max(1)),
    };
    (lo <= hi).then(|| SeqRange::new(lo.max(1), hi.max(1)))
}

fn assert_no_overlapping_fetches(h: &Harness) {
    for chat in CHATS {
        let ranges: Vec<SeqRange> = h
            .fetches
            .iter()
            .filter(|f| f.chat == chat)
            .filter_map(|f| fetch_range(f.query, f.limit, h.server.last(chat)))
            .collect();
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                assert!(
                    a.end < b.start || b.end < a.start,
                    "{chat}: overlapping fetches {a:?} and {b:?} in flight"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), ..ProptestConfig::default() })]

    /// Whatever happened, once faults stop every chat converges to SYNCED with the
    /// cache equal to the server; never SYNCED on invalid data along the way.
    #[test]
    fn converges_to_synced_and_equal_to_server(
        initial in proptest::collection::vec(0i64..30, CHATS.len()),
        ops in proptest::collection::vec(op(), 1..150),
    ) {
        let mut sim = Sim::new(&initial);
        for op in ops {
            sim.apply(op);
        }
        sim.quiesce_and_check();
    }

    /// The engine never has two fetches of overlapping ranges of one chat in flight.
    #[test]
    fn never_two_overlapping_fetches_in_flight(
        initial in proptest::collection::vec(0i64..40, CHATS.len()),
        ops in proptest::collection::vec(op(), 1..150),
    ) {
        let mut sim = Sim::new(&initial);
        sim.check_overlap = true;
        for op in ops {
            sim.apply(op);
        }
        sim.quiesce_and_check();
        assert_no_overlapping_fetches(&sim.h);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), ..ProptestConfig::default() })]

    /// With the socket up and no metadata refresh, gaps revealed by pushes heal
    /// through the gap grace period alone, before any periodic revalidation.
    #[test]
    fn push_gaps_heal_by_grace_without_revalidation(
        initial in proptest::collection::vec(0i64..30, CHATS.len()),
        ops in proptest::collection::vec(lossless_op(), 1..120),
    ) {
        // No periodic revalidation and no ticket answers during the faults: only the
        // gap grace timers (and retries) can heal what reordering broke.
        let config = EngineConfig { revalidate_interval_ms: 1_000_000_000, ..config() };
        let mut sim = Sim::with_config(&initial, config);
        sim.apply(Op::SocketResult(true));
        while sim.h.tickets_pending > 0 {
            sim.apply(Op::RespondTickets);
        }
        for op in ops {
            sim.apply(op);
        }
        sim.quiesce_and_check();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(32), ..ProptestConfig::default() })]

    /// Deterministic: the same events produce the same commands, every time.
    #[test]
    fn same_events_same_commands(
        initial in proptest::collection::vec(0i64..30, CHATS.len()),
        ops in proptest::collection::vec(op(), 1..100),
    ) {
        let mut first = Sim::new(&initial);
        let mut second = Sim::new(&initial);
        for op in ops {
            first.apply(op.clone());
            second.apply(op);
        }
        prop_assert!(!first.h.full_log.is_empty());
        prop_assert_eq!(&first.h.full_log, &second.h.full_log);
    }
}

/// A fixed storm (for a readable regression): a burst of reordered pushes with a
/// loss, a disconnect mid-resync, then quiescence.
#[test]
fn storm_of_reordered_and_lost_pushes_converges() {
    let mut sim = Sim::new(&[10, 4]);
    sim.apply(Op::SocketResult(true));
    sim.apply(Op::RespondTickets);
    sim.apply(Op::RespondTickets);
    sim.apply(Op::Open(0));
    for _ in 0..6 {
        sim.apply(Op::Post(0));
    }
    sim.apply(Op::Deliver(3));
    sim.apply(Op::Drop(0));
    sim.apply(Op::Deliver(1));
    sim.apply(Op::Advance(600));
    sim.apply(Op::Disconnect);
    sim.apply(Op::Post(0));
    sim.apply(Op::Reconnect);
    sim.quiesce_and_check();
    assert_eq!(sim.h.server.last("a"), 17);
}
