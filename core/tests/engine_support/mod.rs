//! Shared test harness of the engine tests: a simulated server, an in-memory cache
//! model built on `SeqRuns` (the cache's own semantics), and a driver that executes
//! the engine's commands against them with simulated time.
//!
//! The harness plays the role of the real driver exactly as `Command`'s docs demand:
//! every page, push and send answer is stored before the engine hears of it, cache
//! commands are applied and answered with `CacheUpdated` at once, timers fire in
//! order of their due time. After every event it checks the engine's invariants.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chatsync::engine::{Command, Engine, EngineConfig, Event, FailureKind, FetchQuery, TimerKey};
use chatsync::{SeqRange, SeqRuns, SeqSummary, SyncState, validate};

/// One message on the simulated server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMsg {
    pub id: String,
    pub client_temp_id: Option<String>,
}

/// The simulated server: per chat, messages with gapless sequences 1..=n.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub chats: BTreeMap<String, Vec<ServerMsg>>,
    counter: u64,
}

/// A page the server returns.
#[derive(Debug, Clone)]
pub struct Page {
    pub seqs: Vec<i64>,
    pub has_more: bool,
    pub last: i64,
}

impl Server {
    pub fn last(&self, chat: &str) -> i64 {
        self.chats.get(chat).map_or(0, |m| m.len() as i64)
    }

    /// Posts one message; with a `client_temp_id` already stored, returns that one's
    /// sequence instead (idempotency).
    pub fn post(&mut self, chat: &str, client_temp_id: Option<&str>) -> i64 {
        let msgs = self.chats.entry(chat.to_string()).or_default();
        if let Some(ct) = client_temp_id
            && let Some(pos) = msgs
                .iter()
                .position(|m| m.client_temp_id.as_deref() == Some(ct))
        {
            return pos as i64 + 1;
        }
        self.counter += 1;
        msgs.push(ServerMsg {
            id: format!("m{}", self.counter),
            client_temp_id: client_temp_id.map(str::to_string),
        });
        msgs.len() as i64
    }

    /// Grows the chat to at least `n` messages.
    pub fn fill_to(&mut self, chat: &str, n: i64) {
        while self.last(chat) < n {
            self.post(chat, None);
        }
    }

    /// The server was restored from a backup: only messages `<= seq` remain.
    pub fn restore_to(&mut self, chat: &str, seq: i64) {
        if let Some(m) = self.chats.get_mut(chat) {
            m.truncate(seq.max(0) as usize);
        }
    }

    pub fn msg(&self, chat: &str, seq: i64) -> Option<&ServerMsg> {
        self.chats.get(chat)?.get((seq - 1) as usize)
    }

    pub fn page(&self, chat: &str, query: FetchQuery, limit: i64) -> Page {
        let last = self.last(chat);
        let (lo, hi) = match query {
            FetchQuery::After(a) => (a.max(0) + 1, (a.max(0) + limit).min(last)),
            FetchQuery::Before(b) => ((b - limit).max(1), (b - 1).min(last)),
            FetchQuery::Latest => ((last - limit + 1).max(1), last),
        };
        let seqs: Vec<i64> = if lo <= hi {
            (lo..=hi).collect()
        } else {
            Vec::new()
        };
        let has_more = match query {
            FetchQuery::After(_) => hi < last,
            _ => lo > 1 && !seqs.is_empty(),
        };
        Page {
            seqs,
            has_more,
            last,
        }
    }
}

/// The cache model of one chat.
#[derive(Debug, Clone, Default)]
pub struct CachedChat {
    pub runs: SeqRuns,
    pub ids: BTreeMap<i64, String>,
    pub state: SyncState,
    pub backend: Option<i64>,
    /// Outbox rows: client_temp_id -> status (`pending` / `failed`).
    pub outbox: BTreeMap<String, String>,
}

/// The cache model: what the real SQLite cache persists.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    pub chats: BTreeMap<String, CachedChat>,
}

impl Cache {
    pub fn chat(&mut self, id: &str) -> &mut CachedChat {
        self.chats.entry(id.to_string()).or_default()
    }

    pub fn summary(&self, id: &str) -> SeqSummary {
        self.chats
            .get(id)
            .map_or_else(SeqSummary::empty, |c| c.runs.summary())
    }

    /// Upserts a server message (and reconciles an outbox row with the same key).
    pub fn store(&mut self, id: &str, seq: i64, msg: &ServerMsg) {
        let chat = self.chat(id);
        chat.runs.insert(seq);
        chat.ids.insert(seq, msg.id.clone());
        if let Some(ct) = &msg.client_temp_id {
            chat.outbox.remove(ct);
        }
    }

    pub fn truncate_above(&mut self, id: &str, seq: i64) {
        let chat = self.chat(id);
        chat.runs.truncate_above(seq);
        chat.ids.retain(|&s, _| s <= seq);
    }
}

/// A fetch the engine asked for and the harness has not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFetch {
    pub chat: String,
    pub fetch_id: u64,
    pub query: FetchQuery,
    pub limit: i64,
}

/// Engine + server + cache + clock, executing commands like the real driver.
pub struct Harness {
    pub engine: Engine,
    pub server: Server,
    pub cache: Cache,
    pub now: i64,
    pub timers: BTreeMap<TimerKey, i64>,
    pub fetches: Vec<PendingFetch>,
    pub tickets_pending: usize,
    pub sends: Vec<(String, String)>,
    pub realtime_connect_pending: bool,
    /// Every command emitted since the last `begin_step`, rendered.
    pub step_log: Vec<String>,
    /// Every command ever emitted, rendered.
    pub full_log: Vec<String>,
    /// Fetches emitted since `begin_step`.
    pub step_fetches: Vec<PendingFetch>,
}

impl Harness {
    pub fn new(config: EngineConfig) -> Harness {
        Harness {
            engine: Engine::new(config),
            server: Server::default(),
            cache: Cache::default(),
            now: 0,
            timers: BTreeMap::new(),
            fetches: Vec::new(),
            tickets_pending: 0,
            sends: Vec::new(),
            realtime_connect_pending: false,
            step_log: Vec::new(),
            full_log: Vec::new(),
            step_fetches: Vec::new(),
        }
    }

    pub fn begin_step(&mut self) {
        self.step_log.clear();
        self.step_fetches.clear();
    }

    /// Feeds one event, executes the commands (feeding back `CacheUpdated` at once),
    /// then checks the invariants.
    pub fn feed(&mut self, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let commands = self.engine.handle(event);
            let mut feedback = Vec::new();
            for command in commands {
                if let Some(e) = self.execute(command) {
                    feedback.push(e);
                }
            }
            // Feedback events are handled in the order the commands were executed.
            feedback.reverse();
            queue.extend(feedback);
        }
        self.check_invariants();
    }

    fn execute(&mut self, command: Command) -> Option<Event> {
        let text = command.to_string();
        self.step_log.push(text.clone());
        self.full_log.push(text);
        match command {
            Command::FetchMessages {
                request_id,
                fetch_id,
                query,
                limit,
            } => {
                let f = PendingFetch {
                    chat: request_id,
                    fetch_id,
                    query,
                    limit,
                };
                self.step_fetches.push(f.clone());
                self.fetches.push(f);
                None
            }
            Command::SetWindowStart { request_id, seq } => {
                self.cache.chat(&request_id).runs.set_window_start(seq);
                Some(Event::CacheUpdated {
                    summary: self.cache.summary(&request_id),
                    request_id,
                    now_ms: self.now,
                })
            }
            Command::TruncateAbove { request_id, seq } => {
                self.cache.truncate_above(&request_id, seq);
                Some(Event::CacheUpdated {
                    summary: self.cache.summary(&request_id),
                    request_id,
                    now_ms: self.now,
                })
            }
            Command::PersistSyncState {
                request_id, state, ..
            } => {
                self.cache.chat(&request_id).state = state;
                None
            }
            Command::PersistBackendSeq { request_id, seq } => {
                self.cache.chat(&request_id).backend = Some(seq);
                None
            }
            Command::MarkAllUnknown => {
                for c in self.cache.chats.values_mut() {
                    c.state = SyncState::Unknown;
                }
                None
            }
            Command::RefreshTickets => {
                self.tickets_pending += 1;
                None
            }
            Command::SendOutgoing {
                request_id,
                client_temp_id,
            } => {
                self.sends.push((request_id, client_temp_id));
                None
            }
            Command::SetOutgoingStatus {
                request_id,
                client_temp_id,
                status,
            } => {
                self.cache
                    .chat(&request_id)
                    .outbox
                    .insert(client_temp_id, status.as_str().to_string());
                None
            }
            Command::ConnectRealtime => {
                self.realtime_connect_pending = true;
                None
            }
            Command::DisconnectRealtime => {
                self.realtime_connect_pending = false;
                None
            }
            Command::ScheduleTimer { key, at_ms } => {
                self.timers.insert(key, at_ms);
                None
            }
            Command::CancelTimer { key } => {
                self.timers.remove(&key);
                None
            }
            Command::ClearLocalData => {
                self.cache = Cache::default();
                None
            }
            Command::Notify(_) => None,
        }
    }

    /// The engine's guarantees, checked after every event.
    pub fn check_invariants(&self) {
        let ids: Vec<String> = self.engine.chat_ids().map(str::to_string).collect();
        for id in ids {
            let summary = self.cache.summary(&id);
            if self
                .engine
                .summary(&id)
                .is_some_and(|s| s.max_seq.is_some())
            {
                assert_eq!(
                    self.engine.summary(&id),
                    Some(&summary),
                    "engine's view of {id} differs from the cache"
                );
            }
            if self.engine.sync_state(&id) == SyncState::Synced {
                let r = validate(&summary, self.engine.backend_seq(&id));
                assert!(r.valid, "{id} SYNCED while {r:?}");
            }
            let in_flight = self.fetches.iter().filter(|f| f.chat == id).count();
            assert!(in_flight <= 1, "{in_flight} fetches in flight for {id}");
            if self.engine.is_chat_syncing(&id) {
                assert!(in_flight == 1, "{id} syncing with no fetch in flight");
            }
        }
    }

    // ------------------------------------------------------------- actions

    pub fn open(&mut self, chat: &str) {
        let stored = self.cache.chats.get(chat).and_then(|c| c.backend);
        self.feed(Event::ChatOpened {
            request_id: chat.to_string(),
            summary: self.cache.summary(chat),
            stored_backend_seq: stored,
            now_ms: self.now,
        });
    }

    pub fn close(&mut self, chat: &str) {
        self.feed(Event::ChatClosed {
            request_id: chat.to_string(),
            now_ms: self.now,
        });
    }

    /// Answers the `index`-th pending fetch from the server's current state.
    pub fn respond_fetch(&mut self, index: usize) {
        self.respond_fetch_with(index, false);
    }

    /// Like `respond_fetch`; with `lose_messages`, the server announces its last
    /// sequence but returns an empty page (it lost the messages it claims).
    pub fn respond_fetch_with(&mut self, index: usize, lose_messages: bool) {
        let f = self.fetches.remove(index);
        let mut page = self.server.page(&f.chat, f.query, f.limit);
        if lose_messages {
            page.seqs.clear();
            page.has_more = false;
        }
        for &seq in &page.seqs {
            let msg = self.server.msg(&f.chat, seq).expect("page seq").clone();
            self.cache.store(&f.chat, seq, &msg);
        }
        let range = match (page.seqs.first(), page.seqs.last()) {
            (Some(&a), Some(&b)) => Some(SeqRange::new(a, b)),
            _ => None,
        };
        self.feed(Event::FetchCompleted {
            summary: self.cache.summary(&f.chat),
            request_id: f.chat,
            fetch_id: f.fetch_id,
            last_message_sequence: Some(page.last),
            page: range,
            has_more: page.has_more,
            now_ms: self.now,
        });
    }

    pub fn fail_fetch(&mut self, index: usize, error: FailureKind) {
        let f = self.fetches.remove(index);
        self.feed(Event::FetchFailed {
            request_id: f.chat,
            fetch_id: f.fetch_id,
            error,
            now_ms: self.now,
        });
    }

    /// Answers a ticket refresh with the server's sequences of every known chat.
    pub fn respond_tickets(&mut self) {
        self.tickets_pending = self.tickets_pending.saturating_sub(1);
        let mut chats: BTreeSet<String> = self.server.chats.keys().cloned().collect();
        chats.extend(self.cache.chats.keys().cloned());
        let tickets = chats
            .into_iter()
            .map(|c| chatsync::engine::TicketSeq {
                last_message_sequence: Some(self.server.last(&c)),
                request_id: c,
            })
            .collect();
        self.feed(Event::TicketsLoaded {
            tickets,
            now_ms: self.now,
        });
    }

    /// Delivers message `seq` of the server as a push (stored first, like the driver).
    pub fn push(&mut self, chat: &str, seq: i64) {
        let msg = self
            .server
            .msg(chat, seq)
            .expect("pushed seq on server")
            .clone();
        self.cache.store(chat, seq, &msg);
        // As `MessageCache::store_pushed`: the backend sequence is raised in the same write.
        let stored = &mut self.cache.chat(chat).backend;
        *stored = Some(stored.map_or(seq, |b| b.max(seq)));
        self.feed(Event::PushStored {
            request_id: chat.to_string(),
            seq,
            summary: self.cache.summary(chat),
            now_ms: self.now,
        });
    }

    pub fn queue_outgoing(&mut self, chat: &str, client_temp_id: &str) {
        self.cache
            .chat(chat)
            .outbox
            .insert(client_temp_id.to_string(), "pending".to_string());
        self.feed(Event::OutgoingQueued {
            request_id: chat.to_string(),
            client_temp_id: client_temp_id.to_string(),
            failed: false,
            now_ms: self.now,
        });
    }

    /// The server stores the `index`-th pending send (idempotently) and answers it.
    /// Returns the sequence.
    pub fn respond_send(&mut self, index: usize) -> i64 {
        let (chat, ct) = self.sends.remove(index);
        let seq = self.server.post(&chat, Some(&ct));
        let msg = self.server.msg(&chat, seq).expect("posted").clone();
        self.cache.store(&chat, seq, &msg);
        self.feed(Event::SendSucceeded {
            summary: self.cache.summary(&chat),
            request_id: chat,
            client_temp_id: ct,
            seq,
            now_ms: self.now,
        });
        seq
    }

    /// Fails the `index`-th pending send; with `stored`, the server did store it
    /// (the answer was lost).
    pub fn fail_send(&mut self, index: usize, error: FailureKind, stored: bool) {
        let (chat, ct) = self.sends.remove(index);
        if stored {
            self.server.post(&chat, Some(&ct));
        }
        self.feed(Event::SendFailed {
            request_id: chat,
            client_temp_id: ct,
            error,
            now_ms: self.now,
        });
    }

    /// `load_earlier`: asks for the highest recorded history gap. False when none.
    pub fn load_earlier(&mut self, chat: &str) -> bool {
        let Some(gap) = self
            .cache
            .chats
            .get(chat)
            .and_then(|c| c.runs.history_gaps().last().copied())
        else {
            return false;
        };
        self.feed(Event::LoadEarlier {
            request_id: chat.to_string(),
            gap,
            now_ms: self.now,
        });
        true
    }

    /// Advances the clock by `ms`, firing every due timer in order.
    pub fn advance(&mut self, ms: i64) {
        let until = self.now + ms;
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, at)| **at <= until)
                .min_by_key(|(k, at)| (**at, (*k).clone()))
                .map(|(k, at)| (k.clone(), *at));
            let Some((key, at)) = next else { break };
            self.timers.remove(&key);
            self.now = self.now.max(at);
            self.feed(Event::TimerFired {
                key,
                now_ms: self.now,
            });
        }
        self.now = until;
    }

    /// Fires the earliest timer other than the periodic revalidation (which stays
    /// pending, late), moving the clock to its due time. False when there is none.
    pub fn fire_next_non_periodic_timer(&mut self) -> bool {
        let next = self
            .timers
            .iter()
            .filter(|(k, _)| !matches!(k, TimerKey::Revalidate(_)))
            .min_by_key(|(k, at)| (**at, (*k).clone()))
            .map(|(k, at)| (k.clone(), *at));
        let Some((key, at)) = next else {
            return false;
        };
        self.timers.remove(&key);
        self.now = self.now.max(at);
        self.feed(Event::TimerFired {
            key,
            now_ms: self.now,
        });
        true
    }

    /// The earliest due time of a timer other than the periodic revalidation.
    pub fn next_non_periodic_timer(&self) -> Option<i64> {
        self.timers
            .iter()
            .filter(|(k, _)| !matches!(k, TimerKey::Revalidate(_)))
            .map(|(_, at)| *at)
            .min()
    }
}
