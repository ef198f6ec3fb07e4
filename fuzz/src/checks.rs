//! Properties checked on every fuzz input. Each function never panics on a correct
//! chatsync: a panic (an assertion here, or a panic or overflow inside chatsync) is a
//! finding. Shared by the cargo-fuzz targets and the stable regression tests.

use std::collections::{BTreeMap, HashSet};

use chatsync::cache::{CacheOptions, MessageCache};
use chatsync::engine::{Command, Engine, EngineConfig, Event, FailureKind, TicketSeq, TimerKey};
use chatsync::wire::{
    self, MAX_ID_BYTES, MAX_TEXT_BYTES, PageQuery, RealtimeFrame, decode_message_page,
    decode_realtime_frame, decode_sent_message, decode_ticket_list,
};
use chatsync::{SyncState, validate};

/// `decode_ticket_list`: an accepted list has unique, sane ids and no negative sequence.
pub fn ticket_list(data: &[u8]) {
    let Ok(tickets) = decode_ticket_list(data) else {
        return;
    };
    let mut seen = HashSet::new();
    for t in &tickets {
        assert!(
            !t.id.is_empty() && t.id.len() <= MAX_ID_BYTES,
            "ticket id size"
        );
        assert!(t.title.len() <= MAX_TEXT_BYTES, "title size");
        assert!(seen.insert(t.id.as_str()), "duplicate ticket accepted");
        assert!(
            t.last_message_sequence.is_none_or(|s| s >= 0),
            "negative sequence"
        );
        assert!(t.unread_count >= 0, "negative unread count");
        if let Some(last) = &t.last_message {
            assert!(last.sequence_number >= 1, "lastMessage sequence");
        }
    }
}

/// The page query and limit encoded in the first three bytes of an input.
fn page_query(head: &[u8]) -> (PageQuery, u32) {
    let n = i64::from(head[2]) - 8;
    let query = match head[1] % 3 {
        0 => PageQuery::After(n),
        1 => PageQuery::Before(n),
        _ => PageQuery::Latest,
    };
    (query, u32::from(head[0] % 64) + 1)
}

/// `decode_message_page` (query and limit from the first 3 bytes, the body after):
/// an accepted page is ascending, unique, positive, of the chat, inside the query,
/// within the limit and not above its `lastMessageSequence`.
pub fn message_page(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (head, body) = data.split_at(3);
    let (query, limit) = page_query(head);
    let Ok(page) = decode_message_page(body, "t1", query, limit, 0) else {
        return;
    };
    assert!(page.messages.len() <= limit as usize, "over the limit");
    assert!(
        page.last_message_sequence.is_none_or(|s| s >= 0),
        "negative last"
    );
    let mut previous = 0;
    for m in &page.messages {
        let seq = m.sequence_number.expect("a page message has a sequence");
        assert!(
            seq >= 1 && seq > previous,
            "not ascending, unique and positive"
        );
        assert_eq!(m.request_id, "t1", "message of another chat");
        assert!(
            page.last_message_sequence.is_none_or(|l| seq <= l),
            "above last"
        );
        match query {
            PageQuery::After(n) => assert!(seq > n, "outside After"),
            PageQuery::Before(n) => assert!(seq < n, "outside Before"),
            PageQuery::Latest => {}
        }
        previous = seq;
    }
}

/// `decode_sent_message`: an accepted answer is the chat's, carries the sent key
/// and a positive sequence.
pub fn sent_message(data: &[u8]) {
    let Ok(m) = decode_sent_message(data, "t1", "c1", 0) else {
        return;
    };
    assert_eq!(m.request_id, "t1");
    assert_eq!(m.client_temp_id.as_deref(), Some("c1"));
    assert!(m.sequence_number.is_some_and(|s| s >= 1));
}

/// `decode_realtime_frame`: an accepted frame is consistent (ids, sequences).
pub fn realtime_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match decode_realtime_frame(text, 0) {
        Ok(RealtimeFrame::MessageNew {
            request_id,
            message,
        }) => {
            assert_eq!(request_id, message.request_id);
            assert!(message.sequence_number.is_some_and(|s| s >= 1));
            assert!(message.content.len() <= MAX_TEXT_BYTES);
        }
        Ok(RealtimeFrame::TicketUpdated {
            last_message_sequence,
            history,
            ..
        }) => {
            assert!(last_message_sequence.is_none_or(|s| s >= 0));
            assert!(history.is_none_or(|h| h.epoch >= 0
                && h.previous_epoch.is_none_or(|p| (0..h.epoch).contains(&p))
                && h.kept_through_sequence.is_none_or(|k| k >= 0)));
        }
        Ok(RealtimeFrame::Ignored) | Err(_) => {}
    }
}

/// A sequence from the input: mostly small, sometimes an extreme.
fn seq_from(bytes: &mut impl Iterator<Item = u8>) -> i64 {
    let b = bytes.next().unwrap_or(0);
    match b {
        0..=199 => i64::from(b % 48) + 1,
        200..=209 => 0,
        210..=219 => -i64::from(b - 209),
        220..=229 => i64::MAX - i64::from(b - 220),
        230..=234 => i64::MIN + i64::from(b - 230),
        235..=239 => (1 << 53) + i64::from(b - 235),
        _ => i64::from(bytes.next().unwrap_or(0)) * 1000 + 1,
    }
}

/// Applies the engine's cache commands like the driver does, and keeps its timers.
struct MiniDriver {
    cache: MessageCache,
    engine: Engine,
    timers: BTreeMap<TimerKey, i64>,
    fetches: Vec<(String, u64)>,
    now: i64,
}

impl MiniDriver {
    fn handle(&mut self, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            for command in self.engine.handle(event) {
                let now = self.now;
                match command {
                    Command::PersistBackendSeq { request_id, seq } => {
                        self.cache
                            .update_backend_sequence(&request_id, Some(seq))
                            .expect("backend sequence stored");
                    }
                    Command::PersistSyncState {
                        request_id,
                        state,
                        validated_at_ms,
                    } => self
                        .cache
                        .update_sync_state(&request_id, state, validated_at_ms)
                        .expect("state stored"),
                    Command::SetWindowStart { request_id, seq } => {
                        let summary = self
                            .cache
                            .set_window_start(&request_id, seq)
                            .expect("window start stored");
                        queue.push(Event::CacheUpdated {
                            request_id,
                            summary,
                            now_ms: now,
                        });
                    }
                    Command::TruncateAbove { request_id, seq } => {
                        let change = self
                            .cache
                            .truncate_above(&request_id, seq)
                            .expect("truncated");
                        queue.push(Event::CacheUpdated {
                            request_id,
                            summary: change.summary,
                            now_ms: now,
                        });
                    }
                    Command::ScheduleTimer { key, at_ms } => {
                        self.timers.insert(key, at_ms);
                    }
                    Command::CancelTimer { key } => {
                        self.timers.remove(&key);
                    }
                    Command::FetchMessages {
                        request_id,
                        fetch_id,
                        ..
                    } => self.fetches.push((request_id, fetch_id)),
                    _ => {}
                }
            }
        }
    }

    /// The invariants after every step.
    fn check(&self, chat: &str) {
        let fast = self.cache.validate_sequences(chat).expect("validates");
        let scan = self
            .cache
            .validate_sequences_full_scan(chat)
            .expect("scans");
        assert_eq!(fast, scan, "persisted runs disagree with the rows");
        let summary = self.cache.summary(chat).expect("summary");
        if let Some(seen) = self.engine.summary(chat) {
            assert_eq!(seen, &summary, "the engine's summary is not the cache's");
        }
        if self.engine.sync_state(chat) == SyncState::Synced {
            assert!(
                validate(&summary, self.engine.backend_seq(chat)).valid,
                "SYNCED on an invalid cache"
            );
        }
    }
}

/// Realtime frame handling: the input is a program of frames (built as JSON and
/// passed through `decode_realtime_frame`, or raw text), time steps and failed
/// fetches, run against an in-memory cache and the real engine the way the driver
/// runs them. After every step: the persisted runs equal a scan of the rows, the
/// engine's summary equals the cache's, and SYNCED implies validation passes.
pub fn realtime_handling(data: &[u8]) {
    let chat = "t1";
    let cache = MessageCache::open_in_memory(CacheOptions::default()).expect("in-memory cache");
    let mut driver = MiniDriver {
        cache,
        engine: Engine::new(EngineConfig::default()),
        timers: BTreeMap::new(),
        fetches: Vec::new(),
        now: 0,
    };
    driver.handle(Event::Started { now_ms: 0 });
    driver.handle(Event::TicketsLoaded {
        tickets: vec![TicketSeq {
            request_id: chat.into(),
            last_message_sequence: Some(0),
        }],
        now_ms: 0,
    });
    let summary = driver.cache.summary(chat).expect("summary");
    driver.handle(Event::ChatOpened {
        request_id: chat.into(),
        summary,
        stored_backend_seq: Some(0),
        now_ms: 0,
    });
    let mut bytes = data.iter().copied();
    let mut steps = 0;
    while let Some(op) = bytes.next() {
        steps += 1;
        if steps > 256 {
            break;
        }
        driver.now += 50;
        let now = driver.now;
        let text = match op % 8 {
            0..=3 => {
                let seq = seq_from(&mut bytes);
                let id = format!("m{}", bytes.next().unwrap_or(0) % 64);
                let target = if op % 8 == 3 { "t2" } else { chat };
                Some(
                    serde_json::json!({"type": "message.new", "requestId": target, "message": {
                        "id": id, "requestId": target, "content": "x", "sequenceNumber": seq,
                        "createdAt": "2026-11-25T10:00:00Z", "status": "sent"}})
                    .to_string(),
                )
            }
            4 => {
                let seq = seq_from(&mut bytes);
                Some(
                    serde_json::json!({"type": "ticket.updated", "requestId": chat,
                        "lastMessageSequence": seq})
                    .to_string(),
                )
            }
            5 => {
                // Raw text up to a newline.
                let raw: Vec<u8> = bytes.by_ref().take_while(|&b| b != b'\n').collect();
                Some(String::from_utf8_lossy(&raw).into_owned())
            }
            6 => {
                // Time passes: due timers fire.
                driver.now += 2_000;
                let due: Vec<TimerKey> = driver
                    .timers
                    .iter()
                    .filter(|(_, at)| **at <= driver.now)
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in due {
                    driver.timers.remove(&key);
                    let now = driver.now;
                    driver.handle(Event::TimerFired { key, now_ms: now });
                }
                None
            }
            _ => {
                // The network fails every fetch in flight.
                for (request_id, fetch_id) in std::mem::take(&mut driver.fetches) {
                    driver.handle(Event::FetchFailed {
                        request_id,
                        fetch_id,
                        error: FailureKind::Network,
                        now_ms: now,
                    });
                }
                None
            }
        };
        if let Some(text) = text {
            match wire::decode_realtime_frame(&text, now) {
                Ok(RealtimeFrame::MessageNew {
                    request_id,
                    message,
                }) => {
                    let seq = message.sequence_number.unwrap_or_default();
                    match driver
                        .cache
                        .store_pushed(&request_id, std::slice::from_ref(&*message))
                    {
                        Ok(change) => driver.handle(Event::PushStored {
                            request_id,
                            seq,
                            summary: change.summary,
                            now_ms: now,
                        }),
                        Err(_) => driver.handle(Event::PushRejected {
                            request_id: Some(request_id),
                            now_ms: now,
                        }),
                    }
                }
                Ok(RealtimeFrame::TicketUpdated {
                    request_id,
                    last_message_sequence: Some(seq),
                    ..
                }) => driver.handle(Event::BackendSeqObserved {
                    request_id,
                    seq,
                    authoritative: false,
                    now_ms: now,
                }),
                Ok(_) => {}
                Err(_) => driver.handle(Event::PushRejected {
                    request_id: None,
                    now_ms: now,
                }),
            }
        }
        driver.check(chat);
        driver.check("t2");
    }
    driver.cache.integrity_check().expect("integrity check");
}
