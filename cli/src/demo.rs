//! `chatsync demo`: the reference server in-process (in-memory database, seed data,
//! fault injection) and requester clients over one temporary cache file, walked live
//! through the seed's verification checklist.
//!
//! Every verdict is computed from what was observed during the step: the client's
//! states and observer events, the cache's contents, and the deltas of the server's
//! request counters (`server.stats()`) and the client's (`net_stats()`). Nothing is
//! hard-coded except the expectations, which are printed next to the observations.

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatsync::net::NetStats;
use chatsync::net::api::StaticToken;
use chatsync::observe::Subscription;
use chatsync::{ChatSyncClient, ClientConfig, MessageStatus, SyncEvent, SyncState};
use chatsync_server::{PushKind, Role, RunningServer, Server, ServerConfig, StatsSnapshot};
use serde_json::{Map, Value, json};

use crate::Outcome;
use crate::output;
use crate::progress::Spinner;
use crate::recorder::Recorder;

/// `chatsync demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Print one JSON object per step on stdout, then a summary object.
    #[arg(long)]
    pub json: bool,
}

/// Seed data: tickets and messages per ticket.
const TICKETS: u32 = 3;
const MESSAGES: u32 = 30;
/// The longest any single wait of a step may take.
const STEP_WAIT: Duration = Duration::from_secs(10);
/// Demo client settings (shorter than the defaults so the walk takes seconds).
const GAP_GRACE: Duration = Duration::from_millis(300);
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_millis(800);
/// The server delays its answers this long during the manual resync, so the
/// indicator can be seen (and sampled) while the request runs.
const RESYNC_DELAY: Duration = Duration::from_millis(250);

/// One check of a step: what was expected, what was observed.
struct Check {
    what: String,
    expected: String,
    observed: String,
    ok: bool,
}

/// A step's outcome, built while it runs.
#[derive(Default)]
struct Step {
    checks: Vec<Check>,
    facts: Map<String, Value>,
    story: Vec<String>,
}

impl Step {
    /// Records a check with its own verdict.
    fn check(&mut self, what: &str, expected: impl Display, observed: impl Display, ok: bool) {
        self.checks.push(Check {
            what: what.to_string(),
            expected: expected.to_string(),
            observed: observed.to_string(),
            ok,
        });
    }

    /// Records `expected == observed`.
    fn eq<T: PartialEq + serde::Serialize>(&mut self, what: &str, expected: T, observed: T) {
        let ok = expected == observed;
        self.check(what, render(&expected), render(&observed), ok);
    }

    /// A fact for the JSON details.
    fn fact(&mut self, key: &str, value: impl serde::Serialize) {
        self.facts.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
    }

    /// A sentence of what happened.
    fn say(&mut self, line: impl Into<String>) {
        self.story.push(line.into());
    }

    fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }
}

/// A value as the output shows it: strings bare, everything else as compact JSON.
fn render(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_string(),
    }
}

/// The server-side request counters that matter here, as a delta.
fn server_delta(before: &StatsSnapshot, after: &StatsSnapshot) -> Value {
    json!({
        "ticketListRequests": after.ticket_list_requests - before.ticket_list_requests,
        "pageRequests": after.page_requests - before.page_requests,
        "messagesReturned": after.messages_returned - before.messages_returned,
        "sendRequests": after.send_requests - before.send_requests,
        "messagesCreated": after.messages_created - before.messages_created,
        "pushesSent": after.pushes_sent - before.pushes_sent,
        "pushesDropped": after.pushes_dropped - before.pushes_dropped,
        "pushesReordered": after.pushes_reordered - before.pushes_reordered,
    })
}

/// The client-side counters, as a delta.
fn client_delta(before: &NetStats, after: &NetStats) -> Value {
    json!({
        "httpRequests": after.http_requests - before.http_requests,
        "ticketListRequests": after.ticket_list_requests - before.ticket_list_requests,
        "messagePageRequests": after.message_page_requests - before.message_page_requests,
        "messagesFetched": after.messages_fetched - before.messages_fetched,
        "sendRequests": after.send_requests - before.send_requests,
    })
}

/// "1 page request, 30 messages" from a server delta.
fn fetch_words(before: &StatsSnapshot, after: &StatsSnapshot) -> String {
    let pages = after.page_requests - before.page_requests;
    let messages = after.messages_returned - before.messages_returned;
    format!(
        "{pages} message request{} returning {messages} message{}",
        plural(pages),
        plural(messages)
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn states_text(states: &[SyncState]) -> String {
    if states.is_empty() {
        return "unchanged".to_string();
    }
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Polls `done` every 10 ms until it holds or `timeout` passes.
async fn eventually(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `future` with a spinner labelled `label` on stderr (if a terminal).
async fn waiting<T>(label: &str, future: impl Future<Output = T>) -> T {
    let spinner = Spinner::start(label);
    let result = future.await;
    spinner.finish();
    result
}

/// The sequences cached for `chat`, ascending.
fn cached_seqs(client: &ChatSyncClient, chat: &str) -> Vec<i64> {
    client
        .get_cached_messages(chat, None)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.sequence_number)
        .collect()
}

/// `1..=n` as the cache should hold it.
fn one_to(n: i64) -> Vec<i64> {
    (1..=n).collect()
}

/// `1..=30`, or the list when it is not contiguous from 1.
fn seqs_text(seqs: &[i64]) -> String {
    if !seqs.is_empty() && *seqs == one_to(seqs.len() as i64) {
        format!("1..={}", seqs.len())
    } else {
        format!("{seqs:?}")
    }
}

/// A requester client as a new app launch: its own state, the shared cache file.
struct App {
    client: Arc<ChatSyncClient>,
    recorder: Arc<Recorder>,
    _subscription: Subscription,
}

impl App {
    /// A mark after every event published so far (they are delivered asynchronously).
    fn mark(&self) -> usize {
        self.client.flush_observers();
        self.recorder.mark()
    }
}

struct Demo {
    server: RunningServer,
    _dir: tempfile::TempDir,
    cache: PathBuf,
    fresh_cache: PathBuf,
    token: String,
    technician: String,
    tickets: Vec<String>,
    runtime: tokio::runtime::Handle,
    json: bool,
    results: Vec<(String, bool)>,
}

impl Demo {
    /// Starts the server (3 seeded tickets of 30 messages, faults allowed).
    async fn start(json: bool, runtime: tokio::runtime::Handle) -> Result<Demo, String> {
        let config = ServerConfig::ephemeral()
            .with_seed(TICKETS, MESSAGES)
            .with_faults();
        let server = Server::start(config)
            .await
            .map_err(|e| format!("the reference server did not start: {e}"))?;
        let token = server
            .first_user(Role::Requester)
            .ok_or("the server has no requester")?
            .token;
        let technician = server
            .first_user(Role::Technician)
            .ok_or("the server has no technician")?
            .id;
        let tickets = server
            .ticket_ids()
            .await
            .map_err(|e| format!("cannot list the seeded tickets: {e}"))?;
        if tickets.len() < 3 {
            return Err(format!(
                "expected 3 seeded tickets, found {}",
                tickets.len()
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("chatsync-demo-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let cache = dir.path().join("cache.sqlite");
        let fresh_cache = dir.path().join("fresh-install.sqlite");
        Ok(Demo {
            server,
            _dir: dir,
            cache,
            fresh_cache,
            token,
            technician,
            tickets,
            runtime,
            json,
            results: Vec::new(),
        })
    }

    fn config(&self, path: &Path) -> ClientConfig {
        let mut config = ClientConfig::new(self.server.base_url(), Some(path.to_path_buf()));
        config.gap_grace = GAP_GRACE;
        config.retry_base = RETRY_BASE;
        config.retry_cap = RETRY_CAP;
        config.reconnect_base = RETRY_BASE;
        config.reconnect_cap = RETRY_CAP;
        config
    }

    /// A new client over `path` with a recorder attached.
    fn launch(&self, path: &Path) -> Result<App, String> {
        let client = ChatSyncClient::with_runtime(
            self.config(path),
            Arc::new(StaticToken(self.token.clone())),
            self.runtime.clone(),
        )
        .map_err(|e| format!("the client did not start: {e}"))?;
        let client = Arc::new(client);
        let (recorder, subscription) = Recorder::attach(&client);
        Ok(App {
            client,
            recorder,
            _subscription: subscription,
        })
    }

    async fn post(&self, chat: &str, text: &str) -> Result<i64, String> {
        self.server
            .post_message(chat, &self.technician, text, None)
            .await
            .map(|o| o.message.sequence_number)
            .map_err(|e| format!("the technician's post failed: {e}"))
    }

    async fn server_last(&self, chat: &str) -> i64 {
        self.server.last_sequence(chat).await.unwrap_or(-1)
    }

    fn header(&self) {
        if self.json {
            return;
        }
        let text = format!(
            "chatsync demo: the seed's verification checklist, live\n\
             server  {} (in-process reference server, in-memory database, {TICKETS} tickets x {MESSAGES} messages, fault injection on)\n\
             client  requester, cache {}\n\
             \x20       demo settings: gap grace {} ms, retries {}..{} ms (defaults: 500 ms, 1 s..60 s)\n",
            self.server.base_url(),
            self.cache.display(),
            GAP_GRACE.as_millis(),
            RETRY_BASE.as_millis(),
            RETRY_CAP.as_millis(),
        );
        let _ = output::print_out(&text);
    }

    /// Prints a finished step and records its verdict.
    fn report(&mut self, name: &str, step: Step) {
        let number = self.results.len() + 1;
        let passed = step.passed();
        self.results.push((name.to_string(), passed));
        let result = if passed { "PASS" } else { "FAIL" };
        if self.json {
            let mut details = step.facts.clone();
            details.insert("happened".into(), json!(step.story));
            details.insert(
                "checks".into(),
                Value::Array(
                    step.checks
                        .iter()
                        .map(|c| {
                            json!({"check": c.what, "expected": c.expected, "observed": c.observed, "ok": c.ok})
                        })
                        .collect(),
                ),
            );
            let _ = output::print_json(&json!({
                "type": "step", "step": number, "name": name, "result": result, "details": details,
            }));
            return;
        }
        let mut text = format!("\n[{number}] {name}\n");
        for line in &step.story {
            text.push_str(&format!("    {line}\n"));
        }
        for c in &step.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            text.push_str(&format!(
                "    {mark} {}: {} (expected {})\n",
                c.what, c.observed, c.expected
            ));
        }
        text.push_str(&format!("    => {result}\n"));
        let _ = output::print_out(&text);
    }

    /// A step that could not even run (setup error): a FAIL with the reason.
    fn report_error(&mut self, name: &str, error: String) {
        let mut step = Step::default();
        step.say(format!("could not run: {error}"));
        step.check("the step ran", "yes", format!("no: {error}"), false);
        self.report(name, step);
    }

    fn summary(&self, started: Instant) -> Outcome {
        let passed = self.results.iter().filter(|(_, ok)| *ok).count();
        let failed = self.results.len() - passed;
        let result = if failed == 0 { "PASS" } else { "FAIL" };
        let elapsed = started.elapsed();
        if self.json {
            let _ = output::print_json(&json!({
                "type": "summary",
                "result": result,
                "passed": passed,
                "failed": failed,
                "steps": self.results.len(),
                "elapsedMs": elapsed.as_millis() as u64,
                "settings": {
                    "gapGraceMs": GAP_GRACE.as_millis() as u64,
                    "retryBaseMs": RETRY_BASE.as_millis() as u64,
                    "retryCapMs": RETRY_CAP.as_millis() as u64,
                },
            }));
        } else {
            let mut text = format!(
                "\n{result}: {passed} of {} steps passed in {:.1} s",
                self.results.len(),
                elapsed.as_secs_f64()
            );
            for (name, ok) in &self.results {
                if !ok {
                    text.push_str(&format!("\n  FAILED: {name}"));
                }
            }
            let _ = output::print_out(&text);
        }
        if failed == 0 {
            Outcome::Success
        } else {
            Outcome::Failed
        }
    }
}

/// Runs the demo; exit 1 on any FAIL.
pub async fn run(args: DemoArgs, runtime: tokio::runtime::Handle) -> Outcome {
    let started = Instant::now();
    let mut demo = match waiting(
        "starting the reference server",
        Demo::start(args.json, runtime),
    )
    .await
    {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("chatsync demo: {error}");
            if args.json {
                let _ = output::print_json(
                    &json!({"type": "summary", "result": "FAIL", "error": error}),
                );
            }
            return Outcome::Failed;
        }
    };
    demo.header();
    let outcome = walk(&mut demo).await;
    let verdict = demo.summary(started);
    let Demo { server, .. } = demo;
    if let Err(e) = server.shutdown().await {
        tracing::warn!("the demo server did not stop cleanly: {e}");
    }
    if outcome.is_err() {
        return Outcome::Failed;
    }
    verdict
}

/// The nine steps, in order; each app (client) lives as long as the story needs it.
async fn walk(demo: &mut Demo) -> Result<(), ()> {
    const NAMES: [&str; 9] = [
        "The ticket list arrives with lastMessageSequence and no message fetch",
        "First open of a chat: initial load -> SYNCED",
        "Reopen (a new app launch): instant from the cache, zero fetches",
        "A push lost by the server: gap detected -> exactly the missing message fetched",
        "A reordered push: no fetch",
        "Offline -> online: every chat UNKNOWN, one metadata refresh, only the open chat heals",
        "Manual resync: the indicator is on only while it runs",
        "A chat opened before metadata (lastMessageSequence null): no false sync",
        "A message sent while offline is delivered exactly once after reconnect",
    ];
    // Launch 1: the first app run (steps 1-2).
    let first = match demo.launch(&demo.cache.clone()) {
        Ok(app) => app,
        Err(e) => {
            demo.report_error(NAMES[0], e);
            return Err(());
        }
    };
    let step = step_ticket_list(demo, &first).await;
    demo.report(NAMES[0], step);
    let step = step_first_open(demo, &first).await;
    demo.report(NAMES[1], step);
    drop(first);
    // Launch 2: the app is started again (steps 3-7, and 9 until it is closed offline).
    let second = match demo.launch(&demo.cache.clone()) {
        Ok(app) => app,
        Err(e) => {
            demo.report_error(NAMES[2], e);
            return Err(());
        }
    };
    let step = step_reopen(demo, &second).await;
    demo.report(NAMES[2], step);
    let step = step_lost_push(demo, &second).await;
    demo.report(NAMES[3], step);
    let step = step_reordered_push(demo, &second).await;
    demo.report(NAMES[4], step);
    let step = step_offline_online(demo, &second).await;
    demo.report(NAMES[5], step);
    let step = step_manual_resync(demo, &second).await;
    demo.report(NAMES[6], step);
    let step = step_open_before_metadata(demo).await;
    demo.report(NAMES[7], step);
    let step = step_offline_send(demo, second).await;
    demo.report(NAMES[8], step);
    Ok(())
}

/// Step 1: `refresh_tickets` on a fresh cache: every ticket carries the server's last
/// sequence, the meta stores it, and no message is requested.
async fn step_ticket_list(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let before = demo.server.stats();
    let client_before = app.client.net_stats();
    let result = waiting(
        "step 1: loading the ticket list",
        app.client.refresh_tickets(),
    )
    .await;
    let after = demo.server.stats();
    let list = match result {
        Ok(list) => list,
        Err(e) => {
            step.check("the ticket list loads", "ok", e, false);
            return step;
        }
    };
    let mut expected = Vec::new();
    for id in &demo.tickets {
        expected.push(Some(demo.server_last(id).await));
    }
    let listed: Vec<Option<i64>> = demo
        .tickets
        .iter()
        .map(|id| {
            list.iter()
                .find(|t| &t.id == id)
                .and_then(|t| t.last_message_sequence)
        })
        .collect();
    let stored: Vec<Option<i64>> = demo
        .tickets
        .iter()
        .map(|id| {
            app.client
                .get_sync_meta(id)
                .ok()
                .and_then(|m| m.last_known_backend_seq)
        })
        .collect();
    step.say(format!(
        "{} tickets listed with lastMessageSequence {:?}; {} ticket-list request, {}",
        list.len(),
        listed.iter().map(|s| s.unwrap_or(-1)).collect::<Vec<_>>(),
        after.ticket_list_requests - before.ticket_list_requests,
        fetch_words(&before, &after)
    ));
    step.eq("tickets listed", demo.tickets.len(), list.len());
    step.eq(
        "lastMessageSequence equals the server's last sequence",
        expected.clone(),
        listed,
    );
    step.eq(
        "backend sequences stored in the sync meta",
        expected,
        stored,
    );
    step.eq(
        "ticket-list requests",
        1,
        after.ticket_list_requests - before.ticket_list_requests,
    );
    step.eq(
        "message requests (metadata only)",
        0,
        after.page_requests - before.page_requests,
    );
    step.fact("server", server_delta(&before, &after));
    step.fact(
        "client",
        client_delta(&client_before, &app.client.net_stats()),
    );
    step
}

/// Step 2: Opening two chats on an empty cache: each loads its latest window and is SYNCED.
async fn step_first_open(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let mut loaded = Vec::new();
    let start = demo.server.stats();
    for chat in demo.tickets.iter().take(2) {
        let mark = app.mark();
        let before = demo.server.stats();
        let opened = match app.client.open_chat(chat) {
            Ok(opened) => opened,
            Err(e) => {
                step.check("open_chat", "ok", e, false);
                return step;
            }
        };
        let state = waiting(
            "step 2: initial load",
            app.client.wait_until_settled(chat, STEP_WAIT),
        )
        .await;
        let after = demo.server.stats();
        app.client.flush_observers();
        let seqs = cached_seqs(&app.client, chat);
        let last = demo.server_last(chat).await;
        let states = app.recorder.states_since(mark, chat);
        let syncing = app.recorder.syncing_since(mark, chat);
        step.say(format!(
            "chat {}: {} cached at open; {}; states {}; cache now {}",
            short(chat),
            opened.messages.len(),
            fetch_words(&before, &after),
            states_text(&states),
            seqs_text(&seqs)
        ));
        step.eq(
            &format!("chat {}: messages cached at open", short(chat)),
            0,
            opened.messages.len(),
        );
        step.eq(
            &format!("chat {}: state after the load", short(chat)),
            "SYNCED",
            state.as_str(),
        );
        step.eq(
            &format!("chat {}: cached sequences", short(chat)),
            seqs_text(&one_to(last)),
            seqs_text(&seqs),
        );
        step.eq(
            &format!("chat {}: messages fetched", short(chat)),
            last as u64,
            after.messages_returned - before.messages_returned,
        );
        step.eq(
            &format!(
                "chat {}: resync indicator (off: an initial load is no resync)",
                short(chat)
            ),
            false,
            syncing.contains(&true),
        );
        loaded.push(json!({"chat": chat, "states": states.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "server": server_delta(&before, &after)}));
        if chat != &demo.tickets[0] {
            app.client.close_chat(chat);
        }
    }
    app.client.close_chat(&demo.tickets[0]);
    step.say(format!(
        "chat {} stays cached and closed for step 6",
        short(&demo.tickets[1])
    ));
    step.fact("chats", loaded);
    step.fact("server", server_delta(&start, &demo.server.stats()));
    step
}

/// Step 3: A new client over the same file (a new app launch): the chat is opened first
/// thing, before the client goes online; the open returns the cache at once, SYNCED
/// against the stored backend sequence. Then the launch goes online (ticket refresh,
/// realtime socket): still SYNCED, and no message is fetched.
async fn step_reopen(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[0];
    let before = demo.server.stats();
    let client_before = app.client.net_stats();
    let mark = app.mark();
    let started = Instant::now();
    let opened = match app.client.open_chat(chat) {
        Ok(opened) => opened,
        Err(e) => {
            step.check("open_chat", "ok", e, false);
            return step;
        }
    };
    let took = started.elapsed();
    let at_open = app.client.net_stats();
    app.client.start();
    let state = waiting(
        "step 3: ticket refresh of the new launch",
        app.client.wait_until_settled(chat, STEP_WAIT),
    )
    .await;
    let realtime = waiting(
        "step 3: waiting for the realtime socket",
        app.recorder.wait_for(mark, STEP_WAIT, |events| {
            events.iter().any(|e| {
                matches!(
                    e,
                    SyncEvent::ConnectionChanged {
                        realtime_connected: true,
                        ..
                    }
                )
            })
        }),
    )
    .await;
    let state_after = app.client.wait_until_settled(chat, STEP_WAIT).await;
    let after = demo.server.stats();
    step.say(format!(
        "open_chat returned {} cached messages in {:.2} ms, state {}, before any request",
        opened.messages.len(),
        took.as_secs_f64() * 1000.0,
        opened.meta.sync_state.as_str(),
    ));
    step.say(format!(
        "then online: {} ticket-list request(s), realtime {}; {}",
        after.ticket_list_requests - before.ticket_list_requests,
        if realtime {
            "connected"
        } else {
            "not connected"
        },
        fetch_words(&before, &after)
    ));
    step.eq(
        "messages returned by open_chat",
        MESSAGES as usize,
        opened.messages.len(),
    );
    step.eq(
        "requests made by open_chat",
        0,
        at_open.http_requests - client_before.http_requests,
    );
    step.eq(
        "state when open_chat returned",
        "SYNCED",
        opened.meta.sync_state.as_str(),
    );
    step.eq("state after the ticket refresh", "SYNCED", state.as_str());
    step.eq("realtime socket connected", true, realtime);
    step.eq("state once online", "SYNCED", state_after.as_str());
    step.eq(
        "message requests",
        0,
        after.page_requests - before.page_requests,
    );
    step.fact("openMs", took.as_secs_f64() * 1000.0);
    step.fact("server", server_delta(&before, &after));
    step.fact(
        "client",
        client_delta(&client_before, &app.client.net_stats()),
    );
    step
}

/// Step 4: The server drops the `message.new` push of the first of two posts: the second
/// push reveals the gap; after the grace period exactly the lost message is fetched.
async fn step_lost_push(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[0];
    let mark = app.mark();
    let before = demo.server.stats();
    let client_before = app.client.net_stats();
    demo.server
        .faults()
        .drop_next_pushes(1, PushKind::MessageNew);
    let (lost, arrives) = match (
        demo.post(chat, "Did the restart fix it? (this push is lost)")
            .await,
        demo.post(chat, "I can see the printer queue again.").await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            step.check("technician posts", "ok", e, false);
            return step;
        }
    };
    let healed = waiting(
        "step 4: waiting for the gap to heal",
        eventually(STEP_WAIT, || {
            cached_seqs(&app.client, chat) == one_to(arrives)
                && app.client.sync_state(chat) == SyncState::Synced
        }),
    )
    .await;
    let state = app.client.wait_until_settled(chat, STEP_WAIT).await;
    app.client.flush_observers();
    let after = demo.server.stats();
    let states = app.recorder.states_since(mark, chat);
    let seqs = cached_seqs(&app.client, chat);
    step.say(format!(
        "technician posted #{lost} (its push dropped by the server) and #{arrives} (pushed)"
    ));
    step.say(format!(
        "states {}; {}",
        states_text(&states),
        fetch_words(&before, &after)
    ));
    step.eq(
        "pushes dropped by the server",
        1,
        after.pushes_dropped - before.pushes_dropped,
    );
    step.eq(
        "gap detected (OUT_OF_SYNC seen)",
        true,
        states.contains(&SyncState::OutOfSync),
    );
    step.eq("state afterwards", "SYNCED", state.as_str());
    step.eq("healed in time", true, healed);
    step.eq(
        "message requests",
        1,
        after.page_requests - before.page_requests,
    );
    step.eq(
        "messages fetched (only the lost one)",
        1,
        after.messages_returned - before.messages_returned,
    );
    step.eq(
        "cached sequences",
        seqs_text(&one_to(arrives)),
        seqs_text(&seqs),
    );
    step.fact(
        "states",
        states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    step.fact("lostSequence", lost);
    step.fact("server", server_delta(&before, &after));
    step.fact(
        "client",
        client_delta(&client_before, &app.client.net_stats()),
    );
    step
}

/// Step 5: The server holds one push back and sends it after the next one (the posts'
/// `ticket.updated` frames are dropped so the two message pushes arrive swapped):
/// the late push fills the hole within the grace period; nothing is fetched.
async fn step_reordered_push(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[0];
    let mark = app.mark();
    let before = demo.server.stats();
    let faults = demo.server.faults();
    faults.reorder_next_pushes(1, PushKind::MessageNew);
    faults.drop_next_pushes(2, PushKind::TicketUpdated);
    let (first, second) = match (
        demo.post(chat, "Sending a test page now.").await,
        demo.post(chat, "Test page printed fine.").await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            step.check("technician posts", "ok", e, false);
            return step;
        }
    };
    let arrived = waiting(
        "step 5: waiting for both pushes",
        eventually(STEP_WAIT, || {
            cached_seqs(&app.client, chat) == one_to(second)
        }),
    )
    .await;
    // Past the grace period: a fetch would have started by now if one were due.
    tokio::time::sleep(GAP_GRACE + Duration::from_millis(200)).await;
    let state = app.client.wait_until_settled(chat, STEP_WAIT).await;
    app.client.flush_observers();
    let after = demo.server.stats();
    let order: Vec<i64> = app
        .recorder
        .since(mark)
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::MessagesChanged {
                request_id,
                inserted,
                ..
            } if &request_id == chat => Some(inserted),
            _ => None,
        })
        .flatten()
        .filter_map(|m| m.sequence_number)
        .collect();
    let states = app.recorder.states_since(mark, chat);
    step.say(format!(
        "technician posted #{first} and #{second}; the pushes arrived in the order {order:?}"
    ));
    step.say(format!(
        "states {}; {}",
        states_text(&states),
        fetch_words(&before, &after)
    ));
    step.eq(
        "pushes held back by the server",
        1,
        after.pushes_reordered - before.pushes_reordered,
    );
    step.eq("arrival order", vec![second, first], order);
    step.eq("both messages cached", true, arrived);
    step.eq(
        "message requests",
        0,
        after.page_requests - before.page_requests,
    );
    step.eq("state afterwards", "SYNCED", state.as_str());
    step.fact(
        "states",
        states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    step.fact("server", server_delta(&before, &after));
    step
}

/// Step 6: Offline while a message lands in the open chat and in a closed cached chat
/// (their pushes lost too): on reconnect every chat is UNKNOWN, one ticket refresh
/// runs, the open chat fetches its one missing message, the closed chat fetches nothing.
async fn step_offline_online(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let open = &demo.tickets[0];
    let closed = &demo.tickets[1];
    if let Err(e) = app.client.open_chat(open) {
        step.check("open_chat", "ok", e, false);
        return step;
    }
    let _ = app.client.wait_until_settled(open, STEP_WAIT).await;
    let closed_count_before = app
        .client
        .get_sync_meta(closed)
        .map(|m| m.message_count)
        .unwrap_or(-1);
    let before = demo.server.stats();
    let client_before = app.client.net_stats();
    app.client.on_connectivity_lost();
    demo.server.faults().drop_next_pushes(4, PushKind::Any);
    let posted = match (
        demo.post(open, "Written while you were offline.").await,
        demo.post(closed, "Also written while you were offline.")
            .await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            step.check("technician posts", "ok", e, false);
            return step;
        }
    };
    let dropped = eventually(STEP_WAIT, || {
        demo.server.stats().pushes_dropped - before.pushes_dropped >= 4
    })
    .await;
    let mark = app.mark();
    app.client.on_connectivity_restored();
    let live: Vec<&'static str> = demo
        .tickets
        .iter()
        .map(|id| app.client.sync_state(id).as_str())
        .collect();
    let stored: Vec<&'static str> = demo
        .tickets
        .iter()
        .map(|id| {
            app.client
                .get_sync_meta(id)
                .map(|m| m.sync_state.as_str())
                .unwrap_or("?")
        })
        .collect();
    let healed = waiting(
        "step 6: waiting for the open chat to heal",
        eventually(STEP_WAIT, || {
            cached_seqs(&app.client, open) == one_to(posted.0)
                && app.client.sync_state(open) == SyncState::Synced
        }),
    )
    .await;
    let _ = app.client.wait_until_settled(open, STEP_WAIT).await;
    // Give a (wrong) fetch for the closed chat time to show up.
    tokio::time::sleep(GAP_GRACE + Duration::from_millis(200)).await;
    app.client.flush_observers();
    let after = demo.server.stats();
    let client_after = app.client.net_stats();
    let closed_meta = app.client.get_sync_meta(closed).ok();
    let open_states = app.recorder.states_since(mark, open);
    step.say(format!(
        "offline; technician posted #{} in the open chat and #{} in closed chat {} (pushes dropped); back online",
        posted.0,
        posted.1,
        short(closed)
    ));
    step.say(format!(
        "right after reconnect: live states {live:?}, stored {stored:?}; open chat {}; {} ticket-list request, {}",
        states_text(&open_states),
        client_after.ticket_list_requests - client_before.ticket_list_requests,
        fetch_words(&before, &after)
    ));
    let all_unknown = vec!["UNKNOWN"; demo.tickets.len()];
    step.eq("pushes lost while offline", true, dropped);
    step.eq("every chat UNKNOWN (live)", all_unknown.clone(), live);
    step.eq("every chat UNKNOWN (stored)", all_unknown, stored);
    step.eq(
        "metadata refreshes",
        1,
        client_after.ticket_list_requests - client_before.ticket_list_requests,
    );
    step.eq("open chat healed to SYNCED", true, healed);
    step.eq(
        "messages fetched (the open chat's one)",
        1,
        after.messages_returned - before.messages_returned,
    );
    step.eq(
        "closed chat: cached messages unchanged (no fetch)",
        closed_count_before,
        closed_meta.as_ref().map_or(-1, |m| m.message_count),
    );
    step.eq(
        "closed chat: knows the backend is at",
        Some(posted.1),
        closed_meta.as_ref().and_then(|m| m.last_known_backend_seq),
    );
    step.check(
        "closed chat: not SYNCED (it heals when opened)",
        "UNKNOWN or OUT_OF_SYNC",
        closed_meta.as_ref().map_or("?", |m| m.sync_state.as_str()),
        closed_meta
            .as_ref()
            .is_some_and(|m| m.sync_state != SyncState::Synced),
    );
    step.fact("server", server_delta(&before, &after));
    step.fact("client", client_delta(&client_before, &client_after));
    step
}

/// Step 7: The resync button on a SYNCED chat: one request runs; `is_chat_syncing` and
/// the `SyncingChanged` events are on exactly while it runs.
async fn step_manual_resync(demo: &Demo, app: &App) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[0];
    let _ = app.client.wait_until_settled(chat, STEP_WAIT).await;
    app.client.flush_observers();
    let mark = app.mark();
    let before = demo.server.stats();
    let idle_before = !app.client.is_chat_syncing(chat);
    demo.server.faults().set_http_delay(RESYNC_DELAY);
    let client = app.client.clone();
    let sampled = {
        let client = app.client.clone();
        let chat = chat.clone();
        async move { eventually(STEP_WAIT, || client.is_chat_syncing(&chat)).await }
    };
    let (result, seen_on) = waiting("step 7: manual resync", async {
        tokio::join!(client.manual_resync(chat), sampled)
    })
    .await;
    demo.server.faults().set_http_delay(Duration::ZERO);
    let idle_after = !app.client.is_chat_syncing(chat);
    app.client.flush_observers();
    let after = demo.server.stats();
    let syncing = app.recorder.syncing_since(mark, chat);
    step.say(format!(
        "resync pressed on a SYNCED chat (server answers delayed {} ms); indicator events {syncing:?}; {}",
        RESYNC_DELAY.as_millis(),
        fetch_words(&before, &after)
    ));
    step.eq("indicator off before", true, idle_before);
    step.eq("indicator events", vec![true, false], syncing);
    step.eq("indicator seen on while running", true, seen_on);
    step.eq("indicator off after", true, idle_after);
    match result {
        Ok(meta) => step.eq("state after the resync", "SYNCED", meta.sync_state.as_str()),
        Err(e) => step.check("the resync succeeds", "ok", e, false),
    }
    step.check(
        "message requests (it always runs)",
        ">= 1",
        after.page_requests - before.page_requests,
        after.page_requests > before.page_requests,
    );
    step.eq(
        "messages fetched (nothing was missing)",
        0,
        after.messages_returned - before.messages_returned,
    );
    step.fact("server", server_delta(&before, &after));
    step
}

/// Step 8: A fresh install opens a chat at once while the server (an older deployment)
/// reports `lastMessageSequence: null`: the messages load but the chat stays
/// UNKNOWN; once the ticket list reports the sequence it is SYNCED without a fetch.
async fn step_open_before_metadata(demo: &Demo) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[2];
    let app = match demo.launch(&demo.fresh_cache) {
        Ok(app) => app,
        Err(e) => {
            step.check("a fresh install starts", "ok", e, false);
            return step;
        }
    };
    demo.server.faults().set_null_last_sequence(true);
    let mark = app.mark();
    app.client.start();
    if let Err(e) = app.client.open_chat(chat) {
        demo.server.faults().set_null_last_sequence(false);
        step.check("open_chat", "ok", e, false);
        return step;
    }
    let loaded = waiting(
        "step 8: initial load without a backend sequence",
        eventually(STEP_WAIT, || {
            cached_seqs(&app.client, chat).len() == MESSAGES as usize
        }),
    )
    .await;
    let unknown_state = app.client.wait_until_settled(chat, STEP_WAIT).await;
    app.client.flush_observers();
    let states_unknown_phase = app.recorder.states_since(mark, chat);
    let stored_backend = app
        .client
        .get_sync_meta(chat)
        .ok()
        .and_then(|m| m.last_known_backend_seq);
    demo.server.faults().set_null_last_sequence(false);
    let before = demo.server.stats();
    let refreshed = waiting(
        "step 8: the ticket list with sequences",
        app.client.refresh_tickets(),
    )
    .await;
    let synced_state = app.client.wait_until_settled(chat, STEP_WAIT).await;
    let after = demo.server.stats();
    step.say(format!(
        "fresh cache; server reports lastMessageSequence null; chat {} opened at launch: {} messages loaded, states {}",
        short(chat),
        cached_seqs(&app.client, chat).len(),
        states_text(&states_unknown_phase)
    ));
    step.say(format!(
        "server reports sequences again; ticket list refreshed: state {}; {}",
        synced_state.as_str(),
        fetch_words(&before, &after)
    ));
    step.eq("messages loaded", true, loaded);
    step.eq("backend sequence stored", None, stored_backend);
    step.eq(
        "state without a backend sequence",
        "UNKNOWN",
        unknown_state.as_str(),
    );
    step.eq(
        "never SYNCED without a backend sequence",
        false,
        states_unknown_phase.contains(&SyncState::Synced),
    );
    step.eq("ticket list refreshed", true, refreshed.is_ok());
    step.eq(
        "state once the sequence is known",
        "SYNCED",
        synced_state.as_str(),
    );
    step.eq(
        "message requests for that",
        0,
        after.page_requests - before.page_requests,
    );
    step.fact("server", server_delta(&before, &after));
    step
}

/// Step 9: Offline, the user sends a message (queued durably, no request); the app is
/// closed; the next launch goes online and delivers it exactly once; a further
/// reconnect does not send it again.
async fn step_offline_send(demo: &Demo, app: App) -> Step {
    let mut step = Step::default();
    let chat = &demo.tickets[0];
    let text = "Thanks, all good now! (written offline)";
    let server_before = demo.server_last(chat).await;
    let before = demo.server.stats();
    app.client.on_connectivity_lost();
    let queued = match app.client.send_message(chat, text).await {
        Ok(m) => m,
        Err(e) => {
            step.check("send_message", "ok", e, false);
            return step;
        }
    };
    let ctid = queued.client_temp_id.clone().unwrap_or_default();
    // Were it going to be sent despite being offline, it would be by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let offline = demo.server.stats();
    let in_outbox = app
        .client
        .cache()
        .outbox()
        .map(|o| o.iter().any(|e| e.client_temp_id == ctid))
        .unwrap_or(false);
    drop(app);
    let next = match demo.launch(&demo.cache) {
        Ok(app) => app,
        Err(e) => {
            step.check("the next launch starts", "ok", e, false);
            return step;
        }
    };
    next.client.start();
    let delivered = waiting(
        "step 9: delivering the outbox",
        next.client.wait_for_send(chat, &ctid, STEP_WAIT),
    )
    .await;
    // One more reconnect: the message must not be sent again.
    next.client.on_connectivity_lost();
    next.client.on_connectivity_restored();
    if next.client.open_chat(chat).is_ok() {
        let _ = next.client.wait_until_settled(chat, STEP_WAIT).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = demo.server.stats();
    let server_after = demo.server_last(chat).await;
    let rows = next
        .client
        .get_cached_messages(chat, None)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.client_temp_id.as_deref() == Some(ctid.as_str()))
        .collect::<Vec<_>>();
    let outbox_left = next.client.cache().outbox().map(|o| o.len()).unwrap_or(0);
    let (status, seq) = match &delivered {
        Ok(m) => (m.status.as_str(), m.sequence_number),
        Err(_) => ("?", None),
    };
    step.say(format!(
        "offline: queued {:?} as {} ({} send request while offline); the app was closed",
        text,
        queued.status.as_str(),
        offline.send_requests - before.send_requests
    ));
    step.say(format!(
        "next launch, online: {status} as #{}; server last sequence {server_before} -> {server_after}; {} send request(s) in all",
        seq.map_or_else(|| "-".to_string(), |s| s.to_string()),
        after.send_requests - before.send_requests
    ));
    step.eq("queued offline as", "pending", queued.status.as_str());
    step.eq(
        "send requests while offline",
        0,
        offline.send_requests - before.send_requests,
    );
    step.eq("kept in the durable outbox", true, in_outbox);
    step.eq("status after reconnect", "sent", status);
    step.eq("its sequence", Some(server_before + 1), seq);
    step.eq(
        "messages the server created",
        1,
        after.messages_created - before.messages_created,
    );
    step.eq(
        "server's last sequence (after a further reconnect)",
        server_before + 1,
        server_after,
    );
    step.eq(
        "cached rows with its clientTempId",
        vec!["sent"],
        rows.iter().map(|m| m.status.as_str()).collect::<Vec<_>>(),
    );
    step.eq("outbox left", 0, outbox_left);
    step.fact("clientTempId", &ctid);
    step.fact("server", server_delta(&before, &after));
    if rows.iter().any(|m| m.status != MessageStatus::Sent) {
        step.say("a copy of the message was not reconciled");
    }
    step
}

/// The first 8 characters of an id, for readable lines.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
