//! Runs every `core/tests/scenarios/*.scenario` file against the sans-I/O engine.
//!
//! # The scenario format
//!
//! One instruction per line; `#` starts a comment. Chats are named by their id
//! (`42`). Ranges are `a..b` (inclusive) or a single number. Each *action* line
//! feeds the engine one or more events through the test driver (which stores data
//! in an in-memory cache model built on `SeqRuns` before telling the engine, like
//! the real driver); each `expect` line checks the state after the last action, or
//! the commands that action produced. Invariants (never SYNCED on invalid data, at
//! most one fetch in flight per chat, syncing only with a fetch in flight) are
//! checked after every event.
//!
//! Set-up:
//! - `config window=200 page=50 grace=500 revalidate=300000 retry=1000` (any subset)
//! - `server 42 1..10`: the server holds messages 1..=10 of chat 42
//! - `cache 42 1..8 12..15 [window 12]`: the cache holds these sequences (window start 12)
//! - `cache-backend 42 10`: the cache's persisted `last_known_backend_seq`
//!
//! Actions:
//! - `start`, `open 42`, `close 42`, `resync 42`, `manual-resync 42`, `load-earlier 42`
//! - `tickets` (answer the pending ticket refresh from the server), `tickets 42=10 7=3`
//!   (answer it with these values, e.g. a snapshot older than a push), `tickets-fail KIND`
//! - `post 42 [N]`: the other party posts N messages (server only, no push)
//! - `push 42 12`: deliver message 12 by realtime (the server grows to 12 if needed)
//! - `bad-push [42]`: a realtime frame that fails validation (the driver stores nothing)
//! - `ticket-updated 42 15` (a push-sourced backend sequence), `backend 42 15` (`update_backend_sequence`)
//! - `respond [42]`: answer the oldest pending fetch (of chat 42); `respond-all`; `fail 42 KIND`
//! - `respond-short 42`: the server answers with its `lastMessageSequence` but without the messages
//! - `advance MS`: let time pass, firing due timers
//! - `offline`, `online`, `ws-connected`, `ws-disconnected`, `resume`, `background`, `credentials`
//! - `send 42 t1`, `send-ok`, `send-fail KIND [stored]`, `retry-send 42 t1`
//! - `outbox-at-start 42 t1 [failed]`: an outbox row the driver found at start-up
//! - `server-restore 42 7`: the server is restored from a backup holding only 1..=7
//! - `sign-out`
//!
//! Expectations (KIND is `network`, `timeout`, `server5xx`, `unauthorized`, `bad-data`, `not-found`, `rejected`):
//! - `expect state 42 SYNCED|UNKNOWN|OUT_OF_SYNC`, `expect syncing 42 true|false`
//! - `expect emitted <command>`: the last action emitted exactly this command line, e.g.
//!   `fetch 42 after 10 limit 5`, `refresh-tickets`, `notify state 42 SYNCED`
//! - `expect not emitted <prefix>`: no command of the last action starts with it (e.g. `fetch`)
//! - `expect order a ; b ; c`: the last action emitted these commands in this order (others may come between)
//! - `expect no commands`: the last action emitted nothing
//! - `expect fetches N`: the last action emitted N fetches
//! - `expect cache 42 1..12 20..30`, `expect window 42 12`, `expect history-gaps 42 1..4800|none`
//! - `expect backend 42 15` (the engine's), `expect cache-backend 42 15` (the stored one), `expect server 42 12`
//! - `expect outbox 42 t1 pending|sending|failed`, `expect outbox 42 empty`
//! - `expect timer gap-grace 42 at 1500`, `expect no timer gap-grace 42`
//! - `expect matches-server 42`: every cached message is the server's, and the window ends at the server's last

mod engine_support;

use std::path::Path;

use chatsync::engine::{EngineConfig, Event, FailureKind, OutgoingState, TicketSeq};
use chatsync::{SeqRange, SyncState};
use engine_support::{Harness, ServerMsg};

fn parse_range(text: &str) -> Result<SeqRange, String> {
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let a: i64 = a.parse().map_err(|_| format!("bad range {text}"))?;
    let b: i64 = b.parse().map_err(|_| format!("bad range {text}"))?;
    if a > b || a < 1 {
        return Err(format!("bad range {text}"));
    }
    Ok(SeqRange::new(a, b))
}

fn parse_ranges(words: &[&str]) -> Result<Vec<SeqRange>, String> {
    words.iter().map(|w| parse_range(w)).collect()
}

fn kind(word: Option<&&str>) -> Result<FailureKind, String> {
    let w = word.ok_or("missing failure kind")?;
    FailureKind::parse(w).ok_or_else(|| format!("unknown failure kind {w}"))
}

fn num(word: Option<&&str>) -> Result<i64, String> {
    let w = word.ok_or("missing number")?;
    w.trim_end_matches("ms")
        .parse()
        .map_err(|_| format!("bad number {w}"))
}

fn chat<'a>(word: Option<&&'a str>) -> Result<&'a str, String> {
    word.copied().ok_or_else(|| "missing chat id".to_string())
}

fn ranges_text(runs: &[SeqRange]) -> String {
    if runs.is_empty() {
        return "none".to_string();
    }
    runs.iter()
        .map(|r| {
            if r.start == r.end {
                r.start.to_string()
            } else {
                format!("{}..{}", r.start, r.end)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Runner {
    h: Harness,
    config: EngineConfig,
    started: bool,
}

impl Runner {
    fn harness(&mut self) -> &mut Harness {
        if !self.started {
            self.started = true;
            let mut h = Harness::new(self.config.clone());
            std::mem::swap(&mut h.server, &mut self.h.server);
            std::mem::swap(&mut h.cache, &mut self.h.cache);
            self.h = h;
        }
        &mut self.h
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&verb, rest)) = words.split_first() else {
            return Ok(());
        };
        if verb == "expect" {
            return self.expect(rest);
        }
        // Set-up lines (before the engine exists).
        match verb {
            "config" => {
                if self.started {
                    return Err("config must come first".into());
                }
                for kv in rest {
                    let (k, v) = kv.split_once('=').ok_or(format!("bad config {kv}"))?;
                    let v: i64 = v.parse().map_err(|_| format!("bad config {kv}"))?;
                    match k {
                        "window" => self.config.resync_window = v,
                        "page" => self.config.page_size = v,
                        "grace" => self.config.gap_grace_ms = v,
                        "revalidate" => self.config.revalidate_interval_ms = v,
                        "retry" => self.config.retry_base_ms = v,
                        _ => return Err(format!("unknown config {k}")),
                    }
                }
                return Ok(());
            }
            "server" => {
                let c = chat(rest.first())?;
                let r = parse_range(rest.get(1).ok_or("missing range")?)?;
                if r.start != 1 {
                    return Err("server messages start at 1".into());
                }
                self.h.server.fill_to(c, r.end);
                return Ok(());
            }
            "cache" => {
                let c = chat(rest.first())?;
                let (ranges, window) = match rest.iter().position(|w| *w == "window") {
                    Some(i) => (&rest[1..i], Some(num(rest.get(i + 1))?)),
                    None => (&rest[1..], None),
                };
                for r in parse_ranges(ranges)? {
                    for seq in r.start..=r.end {
                        let msg = self.h.server.msg(c, seq).cloned().unwrap_or(ServerMsg {
                            id: format!("stale-{seq}"),
                            client_temp_id: None,
                        });
                        self.h.cache.store(c, seq, &msg);
                    }
                }
                if let Some(w) = window {
                    self.h.cache.chat(c).runs.set_window_start(w);
                }
                return Ok(());
            }
            "cache-backend" => {
                let c = chat(rest.first())?;
                self.h.cache.chat(c).backend = Some(num(rest.get(1))?);
                return Ok(());
            }
            "post" => {
                let c = chat(rest.first())?;
                let n = rest.get(1).map_or(Ok(1), |w| num(Some(w)))?;
                for _ in 0..n {
                    self.h.server.post(c, None);
                }
                return Ok(());
            }
            "server-restore" => {
                let c = chat(rest.first())?;
                self.h.server.restore_to(c, num(rest.get(1))?);
                return Ok(());
            }
            _ => {}
        }
        let h = self.harness();
        h.begin_step();
        let now = h.now;
        match verb {
            "start" => h.feed(Event::Started { now_ms: now }),
            "open" => h.open(chat(rest.first())?),
            "close" => h.close(chat(rest.first())?),
            "resync" => h.feed(Event::ResyncRequested {
                request_id: chat(rest.first())?.to_string(),
                now_ms: now,
            }),
            "manual-resync" => h.feed(Event::ManualResyncRequested {
                request_id: chat(rest.first())?.to_string(),
                now_ms: now,
            }),
            "load-earlier" => {
                if !h.load_earlier(chat(rest.first())?) {
                    return Err("no history gap to load".into());
                }
            }
            "tickets" => {
                if h.tickets_pending == 0 {
                    return Err("no ticket refresh pending".into());
                }
                if rest.is_empty() {
                    h.respond_tickets();
                } else {
                    // Explicit values: an answer computed earlier than now (stale).
                    let mut tickets = Vec::new();
                    for kv in rest {
                        let (c, v) = kv.split_once('=').ok_or(format!("bad ticket {kv}"))?;
                        tickets.push(TicketSeq {
                            request_id: c.to_string(),
                            last_message_sequence: Some(num(Some(&v))?),
                        });
                    }
                    h.tickets_pending -= 1;
                    h.feed(Event::TicketsLoaded {
                        tickets,
                        now_ms: now,
                    });
                }
            }
            "tickets-fail" => {
                if h.tickets_pending == 0 {
                    return Err("no ticket refresh pending".into());
                }
                h.tickets_pending -= 1;
                h.feed(Event::TicketsFailed {
                    error: kind(rest.first())?,
                    now_ms: now,
                });
            }
            "push" => {
                let c = chat(rest.first())?;
                let seq = num(rest.get(1))?;
                h.server.fill_to(c, seq);
                h.push(c, seq);
            }
            "bad-push" => h.feed(Event::PushRejected {
                request_id: rest.first().map(|c| c.to_string()),
                now_ms: now,
            }),
            "ticket-updated" | "backend" => h.feed(Event::BackendSeqObserved {
                request_id: chat(rest.first())?.to_string(),
                seq: num(rest.get(1))?,
                authoritative: verb == "backend",
                now_ms: now,
            }),
            "respond" => {
                let index = match rest.first() {
                    Some(c) => h.fetches.iter().position(|f| f.chat == *c),
                    None => (!h.fetches.is_empty()).then_some(0),
                }
                .ok_or("no fetch pending")?;
                h.respond_fetch(index);
            }
            "respond-short" => {
                let c = chat(rest.first())?;
                let index = h
                    .fetches
                    .iter()
                    .position(|f| f.chat == c)
                    .ok_or("no fetch pending")?;
                h.respond_fetch_with(index, true);
            }
            "respond-all" => {
                let mut n = 0;
                while !h.fetches.is_empty() {
                    h.respond_fetch(0);
                    n += 1;
                    if n > 200 {
                        return Err("respond-all did not settle".into());
                    }
                }
            }
            "fail" => {
                let c = chat(rest.first())?;
                let index = h
                    .fetches
                    .iter()
                    .position(|f| f.chat == c)
                    .ok_or("no fetch pending")?;
                h.fail_fetch(index, kind(rest.get(1))?);
            }
            "advance" => h.advance(num(rest.first())?),
            "offline" => h.feed(Event::ConnectivityLost { now_ms: now }),
            "online" => h.feed(Event::ConnectivityRestored { now_ms: now }),
            "ws-connected" => {
                h.realtime_connect_pending = false;
                h.feed(Event::RealtimeConnected { now_ms: now })
            }
            "ws-disconnected" => {
                h.realtime_connect_pending = false;
                h.feed(Event::RealtimeDisconnected { now_ms: now })
            }
            "resume" => h.feed(Event::AppResumed { now_ms: now }),
            "background" => h.feed(Event::BackgroundRevalidate { now_ms: now }),
            "credentials" => h.feed(Event::CredentialsRenewed { now_ms: now }),
            "send" => h.queue_outgoing(chat(rest.first())?, rest.get(1).ok_or("missing id")?),
            "outbox-at-start" => {
                // An outbox row found in the cache when the app starts.
                let c = chat(rest.first())?;
                let id = rest.get(1).ok_or("missing id")?;
                let failed = rest.get(2) == Some(&"failed");
                let status = if failed { "failed" } else { "pending" };
                h.cache
                    .chat(c)
                    .outbox
                    .insert(id.to_string(), status.to_string());
                h.feed(Event::OutgoingQueued {
                    request_id: c.to_string(),
                    client_temp_id: id.to_string(),
                    failed,
                    now_ms: now,
                });
            }
            "send-ok" => {
                if h.sends.is_empty() {
                    return Err("no send pending".into());
                }
                h.respond_send(0);
            }
            "send-fail" => {
                if h.sends.is_empty() {
                    return Err("no send pending".into());
                }
                let stored = rest.get(1) == Some(&"stored");
                h.fail_send(0, kind(rest.first())?, stored);
            }
            "retry-send" => h.feed(Event::RetrySend {
                request_id: chat(rest.first())?.to_string(),
                client_temp_id: rest.get(1).ok_or("missing id")?.to_string(),
                now_ms: now,
            }),
            "sign-out" => h.feed(Event::SignedOut { now_ms: now }),
            _ => return Err(format!("unknown instruction {verb}")),
        }
        Ok(())
    }

    fn expect(&mut self, words: &[&str]) -> Result<(), String> {
        let h = self.harness();
        let text = words.join(" ");
        let fail = |what: String| Err(format!("expected {text}, but {what}"));
        match words {
            ["state", c, s] => {
                let want = SyncState::parse(s).ok_or(format!("bad state {s}"))?;
                let got = h.engine.sync_state(c);
                if got != want {
                    return fail(format!("it is {}", got.as_str()));
                }
            }
            ["syncing", c, v] => {
                let got = h.engine.is_chat_syncing(c);
                if got.to_string() != *v {
                    return fail(format!("it is {got}"));
                }
            }
            ["emitted", ..] => {
                let want = words[1..].join(" ");
                if !h.step_log.contains(&want) {
                    return fail(format!("the commands were {:?}", h.step_log));
                }
            }
            ["not", "emitted", ..] => {
                let prefix = words[2..].join(" ");
                if let Some(hit) = h.step_log.iter().find(|c| c.starts_with(&prefix)) {
                    return fail(format!("{hit} was emitted"));
                }
            }
            ["order", ..] => {
                let wanted = words[1..].join(" ");
                let mut rest = h.step_log.iter();
                for item in wanted.split(';').map(str::trim) {
                    if !rest.any(|c| c == item) {
                        return fail(format!("the commands were {:?}", h.step_log));
                    }
                }
            }
            ["no", "commands"] => {
                if !h.step_log.is_empty() {
                    return fail(format!("the commands were {:?}", h.step_log));
                }
            }
            ["fetches", n] => {
                let got = h.step_fetches.len();
                if got.to_string() != *n {
                    return fail(format!("there were {got}: {:?}", h.step_log));
                }
            }
            ["cache", c, ranges @ ..] => {
                let want = ranges_text(&parse_ranges(ranges)?);
                let runs: Vec<SeqRange> = h.cache.chat(c).runs.runs().collect();
                let got = ranges_text(&runs);
                if got != want {
                    return fail(format!("the cache holds {got}"));
                }
            }
            ["window", c, w] => {
                let got = h.cache.chat(c).runs.window_start();
                if got != Some(num(Some(w))?) {
                    return fail(format!("it is {got:?}"));
                }
            }
            ["history-gaps", c, ranges @ ..] => {
                let want = if ranges == ["none"] {
                    "none".to_string()
                } else {
                    ranges_text(&parse_ranges(ranges)?)
                };
                let got = ranges_text(&h.cache.chat(c).runs.history_gaps());
                if got != want {
                    return fail(format!("they are {got}"));
                }
            }
            ["backend", c, n] => {
                let got = h.engine.backend_seq(c);
                if got != Some(num(Some(n))?) {
                    return fail(format!("it is {got:?}"));
                }
            }
            ["cache-backend", c, n] => {
                let got = h.cache.chats.get(*c).and_then(|chat| chat.backend);
                if got != Some(num(Some(n))?) {
                    return fail(format!("it is {got:?}"));
                }
            }
            ["server", c, n] => {
                let got = h.server.last(c);
                if got != num(Some(n))? {
                    return fail(format!("it is {got}"));
                }
            }
            ["outbox", c, "empty"] => {
                let got = h.engine.outbox(c);
                if !got.is_empty() || !h.cache.chat(c).outbox.is_empty() {
                    return fail(format!(
                        "engine {got:?}, cache {:?}",
                        h.cache.chat(c).outbox
                    ));
                }
            }
            ["outbox", c, id, state] => {
                let want = match *state {
                    "pending" => OutgoingState::Pending,
                    "sending" => OutgoingState::Sending,
                    "failed" => OutgoingState::Failed,
                    _ => return Err(format!("bad outbox state {state}")),
                };
                let got = h.engine.outbox(c);
                if !got.iter().any(|(ct, s)| ct == id && *s == want) {
                    return fail(format!("the outbox is {got:?}"));
                }
            }
            ["timer", ..] | ["no", "timer", ..] => {
                let negate = words[0] == "no";
                let spec = words[usize::from(negate) + 1..].join(" ");
                let timers: Vec<String> = h
                    .engine
                    .pending_timers()
                    .map(|(k, at)| format!("{k} at {at}"))
                    .collect();
                let found = timers
                    .iter()
                    .any(|t| *t == spec || (negate && t.starts_with(&format!("{spec} at "))));
                if found == negate {
                    return fail(format!("the timers are {timers:?}"));
                }
            }
            ["matches-server", c] => {
                let last = h.server.last(c);
                let chat = h.cache.chat(c).clone();
                if chat.runs.max_seq().unwrap_or(0) != last {
                    return fail(format!(
                        "cache max {:?}, server {last}",
                        chat.runs.max_seq()
                    ));
                }
                for (seq, id) in &chat.ids {
                    let server = h.server.msg(c, *seq).map(|m| m.id.clone());
                    if server.as_ref() != Some(id) {
                        return fail(format!("seq {seq} is {id}, server has {server:?}"));
                    }
                }
            }
            _ => return Err(format!("unknown expectation {text}")),
        }
        Ok(())
    }
}

fn run_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut runner = Runner {
        h: Harness::new(EngineConfig::default()),
        config: EngineConfig::default(),
        started: false,
    };
    let mut expectations = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("expect") {
            expectations += 1;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.line(line)))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("invariant broken: {msg}"))
            });
        result.map_err(|e| format!("{}:{}: `{line}`: {e}", path.display(), n + 1))?;
    }
    if expectations == 0 {
        return Err(format!(
            "{}: a scenario without expectations",
            path.display()
        ));
    }
    Ok(expectations)
}

#[test]
fn every_scenario_file_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenario dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scenario"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        match run_file(file) {
            Ok(n) => println!("ok   {} ({n} expectations)", file.display()),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(files.len() >= 20, "only {} scenario files", files.len());
}
