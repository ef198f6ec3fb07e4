//! `chatsync client`: a headless requester client on [`chatsync::ChatSyncClient`].
//!
//! Each invocation is one process over the cache file, like one app launch: what a
//! command learns (messages, backend sequences, sync states, the outbox) stays in
//! the file for the next one. `tickets`, `meta`, `resync` and `send` never open the
//! WebSocket; `open` and `watch` go online (`start()`), which also delivers the
//! outbox left by earlier invocations.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chatsync::client::ErrorKind;
use chatsync::net::api::StaticToken;
use chatsync::{
    ChatMessage, ChatSyncClient, ClientConfig, ClientError, MessageStatus, SyncEvent, SyncState,
};
use serde_json::json;
use tokio::time::Instant;

use crate::Outcome;
use crate::output::{
    self, ChatJson, MessageJson, MetaJson, SendJson, SentJson, StoredMetaJson, TicketJson,
};
use crate::recorder::{Recorder, SeenError};

/// `chatsync client` flags (before the command).
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The backend's origin, e.g. http://127.0.0.1:8787 (the client appends /api/v1/...,
    /// and derives ws:// or wss://.../api/v1/ws from it).
    #[arg(long, value_name = "URL", value_parser = parse_server)]
    pub server: String,
    /// Bearer token of the requester (or set CHATSYNC_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CHATSYNC_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// The SQLite cache file (created if missing; shared by every invocation).
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Print JSON on stdout: one document per command, one object per line for `watch`.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// The client's commands.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Refresh the ticket list (metadata only, no message fetch) and print it.
    Tickets,
    /// Open a chat as the app does and wait until it settles, then print it.
    Open {
        /// The ticket (chat) id.
        id: String,
        /// Wait at most this long for the chat to settle (and queued messages to go out).
        #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
        wait: Duration,
    },
    /// Manual resync (the resync button), then print the chat like `open`.
    Resync {
        /// The ticket (chat) id.
        id: String,
    },
    /// Queue a message in the outbox and try to deliver it.
    Send {
        /// The ticket (chat) id.
        id: String,
        /// The message text.
        text: String,
    },
    /// Go online and print every observer event (one JSON object per line with --json).
    Watch {
        /// Stop after this long (default: until Ctrl-C or SIGTERM).
        #[arg(long = "for", value_name = "SECONDS", value_parser = parse_seconds)]
        duration: Option<Duration>,
        /// Keep this chat open meanwhile (realtime gap healing, periodic revalidation).
        #[arg(long, value_name = "ID")]
        open: Option<String>,
    },
    /// Print the stored sync meta of a chat (no network).
    Meta {
        /// The ticket (chat) id.
        id: String,
    },
}

/// `--server`: an http(s) origin, checked by the same parser the client uses.
fn parse_server(text: &str) -> Result<String, String> {
    chatsync::net::api::parse_base_url(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// SECONDS: a non-negative number (fractions allowed), at most one day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !value.is_finite() || !(0.0..=86_400.0).contains(&value) {
        return Err(format!("{text:?}: expected 0 to 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// How long `send` waits for the server's answer (one request's timeout plus margin).
const SEND_WAIT: Duration = Duration::from_secs(20);
/// Upper bound of a manual resync (a few pages, each with the request timeout).
const RESYNC_WAIT: Duration = Duration::from_secs(60);

/// A failure before the command could produce its own output.
fn setup_failure(json: bool, error: &ClientError) -> Outcome {
    let usage = error.kind() == ErrorKind::InvalidArgument;
    eprintln!("chatsync: {error}");
    if json && !usage {
        let _ = output::print_json(&json!({ "error": error.to_string() }));
    }
    if usage {
        Outcome::Usage
    } else {
        Outcome::Failed
    }
}

/// Runs one `chatsync client` invocation on `runtime`.
pub async fn run(args: ClientArgs, runtime: tokio::runtime::Handle) -> Outcome {
    let config = ClientConfig::new(args.server.clone(), Some(args.db.clone()));
    let tokens = Arc::new(StaticToken(args.token.clone()));
    let client = match ChatSyncClient::with_runtime(config, tokens, runtime) {
        Ok(client) => client,
        Err(error) => return setup_failure(args.json, &error),
    };
    let json = args.json;
    let outcome = match args.command {
        ClientCommand::Tickets => tickets(&client, json).await,
        ClientCommand::Open { id, wait } => open(&client, &id, wait, json).await,
        ClientCommand::Resync { id } => resync(&client, &id, json).await,
        ClientCommand::Send { id, text } => send(&client, &id, &text, json).await,
        ClientCommand::Watch { duration, open } => watch(&client, duration, open, json).await,
        ClientCommand::Meta { id } => meta(&client, &id, json),
    };
    client.shutdown();
    outcome
}

/// Prints a result: JSON or text; a broken stdout turns success into failure.
fn emit(json: bool, value: &impl serde::Serialize, text: &str, outcome: Outcome) -> Outcome {
    let written = if json {
        output::print_json(value)
    } else {
        output::print_out(text)
    };
    match written {
        Ok(()) => outcome,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => outcome,
        Err(e) => {
            eprintln!("chatsync: cannot write the output: {e}");
            Outcome::Failed
        }
    }
}

fn ticket_rows(client: &ChatSyncClient, tickets: &[chatsync::TicketSummary]) -> Vec<TicketJson> {
    tickets
        .iter()
        .map(|t| TicketJson::new(t, client.get_sync_meta(&t.id).ok().as_ref()))
        .collect()
}

fn tickets_text(rows: &[TicketJson]) -> String {
    let mut out = format!("{} ticket(s)\n", rows.len());
    if rows.is_empty() {
        return out;
    }
    let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    out.push_str(&format!(
        "  {:<width$}  {:>8}  {:<11}  {:>6}  TITLE\n",
        "ID", "LAST SEQ", "STATE", "CACHED"
    ));
    for r in rows {
        out.push_str(&format!(
            "  {:<width$}  {:>8}  {:<11}  {:>6}  {}\n",
            r.id,
            output::opt_seq(r.last_message_sequence),
            r.sync_state,
            r.message_count,
            r.title
        ));
    }
    out
}

/// `tickets`: metadata only; never starts the client.
async fn tickets(client: &ChatSyncClient, json: bool) -> Outcome {
    match client.refresh_tickets().await {
        Ok(list) => {
            let rows = ticket_rows(client, &list);
            let text = tickets_text(&rows);
            emit(json, &json!({ "tickets": rows }), &text, Outcome::Success)
        }
        Err(error) => {
            let cached = client.cached_tickets().unwrap_or_default();
            let rows = ticket_rows(client, &cached);
            let text = format!(
                "error: {error}\n(the stored list from an earlier run)\n{}",
                tickets_text(&rows)
            );
            if !json {
                eprintln!("chatsync: {error}");
            }
            emit(
                json,
                &json!({ "tickets": rows, "error": error.to_string() }),
                &text,
                Outcome::Failed,
            )
        }
    }
}

/// `meta`: the stored meta; no network.
fn meta(client: &ChatSyncClient, id: &str, json: bool) -> Outcome {
    if let Err(error) = check_id(id) {
        return setup_failure(json, &error);
    }
    match client.get_sync_meta(id) {
        Ok(meta) => {
            let text = format!(
                "chat {id}: stored state {}\n  cached: {} message(s), sequences {}; backend sequence {}; last validated {}\n",
                meta.sync_state.as_str(),
                meta.message_count,
                output::seq_range(meta.local_min_seq, meta.local_max_seq),
                output::opt_seq(meta.last_known_backend_seq),
                if meta.last_validated_at == 0 {
                    "never".to_string()
                } else {
                    format!("at {} ms since the epoch", meta.last_validated_at)
                }
            );
            emit(json, &StoredMetaJson::from(&meta), &text, Outcome::Success)
        }
        Err(error) => setup_failure(json, &error),
    }
}

fn check_id(id: &str) -> Result<(), ClientError> {
    if id.is_empty() || id.len() > chatsync::wire::MAX_ID_BYTES {
        return Err(ClientError::InvalidArgument(format!(
            "a chat id must be 1..={} bytes",
            chatsync::wire::MAX_ID_BYTES
        )));
    }
    Ok(())
}

/// The chat as `open`/`resync` print it; `error` decides the exit code.
fn print_chat(client: &ChatSyncClient, id: &str, error: Option<String>, json: bool) -> Outcome {
    let state = client.sync_state(id);
    let (meta, messages) = match (
        client.get_sync_meta(id),
        client.get_cached_messages(id, None),
    ) {
        (Ok(meta), Ok(messages)) => (meta, messages),
        (Err(e), _) | (_, Err(e)) => return setup_failure(json, &e),
    };
    let chat = ChatJson {
        request_id: id.to_string(),
        state: state.as_str(),
        meta: MetaJson::from(&meta),
        messages: messages.iter().map(MessageJson::from).collect(),
        error,
    };
    let outcome = if chat.error.is_some() {
        Outcome::Failed
    } else {
        Outcome::Success
    };
    let text = output::chat_text(&chat, &messages);
    emit(json, &chat, &text, outcome)
}

/// The most relevant error: the chat's newest, else the newest client-wide one.
fn best_error<'a>(errors: &'a [SeenError], id: &str) -> Option<&'a SeenError> {
    errors
        .iter()
        .rev()
        .find(|e| e.request_id.as_deref() == Some(id))
        .or_else(|| errors.iter().rev().find(|e| e.request_id.is_none()))
}

/// `open`: start, open, wait until settled (retrying while the failures are
/// retryable), deliver the outbox found at start, print.
async fn open(client: &ChatSyncClient, id: &str, wait: Duration, json: bool) -> Outcome {
    if let Err(error) = check_id(id) {
        return setup_failure(json, &error);
    }
    let (recorder, _subscription) = Recorder::attach(client);
    let mark = recorder.mark();
    let outbox = match client.cache().outbox() {
        Ok(entries) => entries,
        Err(e) => return setup_failure(json, &e.into()),
    };
    let deadline = Instant::now() + wait;
    client.start();
    if let Err(error) = client.open_chat(id) {
        return setup_failure(json, &error);
    }
    let mut settled = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let state = client.wait_until_settled(id, deadline - now).await;
        // Events are delivered on the dispatch thread: read them once they all arrived.
        client.flush_observers();
        let errors = recorder.errors_since(mark);
        let reached = recorder.tickets_loaded_since(mark) || recorder.realtime_up_since(mark);
        let chat_error = errors
            .iter()
            .rev()
            .find(|e| e.request_id.as_deref() == Some(id));
        let wide_error = errors.iter().rev().find(|e| e.request_id.is_none());
        let permanent = chat_error.is_some_and(|e| !e.retryable())
            || wide_error.is_some_and(|e| !e.retryable());
        let done = permanent
            || match state {
                SyncState::Synced => reached,
                SyncState::OutOfSync => false,
                SyncState::Unknown => {
                    reached && chat_error.is_none() && backend_unknown(client, id)
                }
            };
        if done {
            settled = true;
            break;
        }
        // Not settled for good yet: a retry is due. Wait for the next event.
        let left = deadline.saturating_duration_since(Instant::now());
        recorder.changed(left.min(Duration::from_millis(250))).await;
    }
    // Deliver what earlier invocations left in the outbox, within the same deadline.
    for entry in outbox.iter().filter(|e| e.status == MessageStatus::Pending) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match client
            .wait_for_send(&entry.request_id, &entry.client_temp_id, left)
            .await
        {
            Ok(m) => tracing::info!(
                chat = %entry.request_id,
                seq = ?m.sequence_number,
                status = m.status.as_str(),
                "queued message"
            ),
            Err(e) => tracing::warn!(chat = %entry.request_id, "queued message: {e}"),
        }
    }
    let state = client.sync_state(id);
    client.flush_observers();
    let errors = recorder.errors_since(mark);
    let reached = recorder.tickets_loaded_since(mark) || recorder.realtime_up_since(mark);
    let error = chat_verdict(
        state,
        settled,
        reached,
        backend_unknown(client, id),
        &errors,
        id,
        wait,
    );
    print_chat(client, id, error, json)
}

/// True when the chat's backend sequence is unknown (the backend cannot say it).
fn backend_unknown(client: &ChatSyncClient, id: &str) -> bool {
    client
        .get_sync_meta(id)
        .is_ok_and(|m| m.last_known_backend_seq.is_none())
}

/// `open`'s verdict: `None` when the chat is SYNCED and the server was reached, or
/// UNKNOWN with the server reached and no error (the backend cannot say its sequence).
fn chat_verdict(
    state: SyncState,
    settled: bool,
    reached: bool,
    backend_unknown: bool,
    errors: &[SeenError],
    id: &str,
    wait: Duration,
) -> Option<String> {
    let chat_error = errors
        .iter()
        .rev()
        .find(|e| e.request_id.as_deref() == Some(id));
    let ok = match state {
        SyncState::Synced => reached,
        SyncState::Unknown => reached && settled && chat_error.is_none() && backend_unknown,
        SyncState::OutOfSync => false,
    };
    if ok {
        return None;
    }
    if let Some(error) = best_error(errors, id) {
        return Some(error.text());
    }
    Some(if !reached {
        format!(
            "the server was not reached within {:.1} s (state {} from the cache)",
            wait.as_secs_f64(),
            state.as_str()
        )
    } else {
        format!(
            "the chat did not settle within {:.1} s (state {})",
            wait.as_secs_f64(),
            state.as_str()
        )
    })
}

/// `resync`: open, manual resync (always at least one request), print.
async fn resync(client: &ChatSyncClient, id: &str, json: bool) -> Outcome {
    if let Err(error) = check_id(id) {
        return setup_failure(json, &error);
    }
    if let Err(error) = client.open_chat(id) {
        return setup_failure(json, &error);
    }
    let error = match tokio::time::timeout(RESYNC_WAIT, client.manual_resync(id)).await {
        Ok(Ok(_meta)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "the resync did not finish within {} s",
            RESYNC_WAIT.as_secs()
        )),
    };
    print_chat(client, id, error, json)
}

/// `send`: queue durably, try once, print `sent` or `pending`.
async fn send(client: &ChatSyncClient, id: &str, text: &str, json: bool) -> Outcome {
    let (recorder, _subscription) = Recorder::attach(client);
    let mark = recorder.mark();
    let queued = match client.send_message(id, text).await {
        Ok(message) => message,
        Err(error) => return setup_failure(json, &error),
    };
    let ctid = queued.client_temp_id.clone().unwrap_or_default();
    let message: ChatMessage = match client.wait_for_send(id, &ctid, SEND_WAIT).await {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!("cannot read the message back: {error}");
            queued
        }
    };
    client.flush_observers();
    let error = match message.status {
        MessageStatus::Sent => None,
        MessageStatus::Pending => Some(
            "not delivered: the server could not be reached; the message stays in the outbox \
             and is delivered by the next `open` or `watch`"
                .to_string(),
        ),
        MessageStatus::Failed => Some(
            best_error(&recorder.errors_since(mark), id)
                .map(SeenError::text)
                .unwrap_or_else(|| "the server refused the message".to_string()),
        ),
    };
    let outcome = if error.is_some() {
        Outcome::Failed
    } else {
        Outcome::Success
    };
    let human = match (&message.status, message.sequence_number) {
        (MessageStatus::Sent, Some(seq)) => format!("sent: #{seq} in chat {id}"),
        (status, _) => format!("{}: {}", status.as_str(), error.clone().unwrap_or_default()),
    };
    let doc = SendJson {
        message: SentJson::from(&message),
        error,
    };
    emit(json, &doc, &human, outcome)
}

/// `watch`: start, optionally keep a chat open, print every event until the time is up
/// or a signal arrives. Fails only when the server was never reached or a
/// non-retryable error (auth, unknown chat) happened.
async fn watch(
    client: &ChatSyncClient,
    duration: Option<Duration>,
    open: Option<String>,
    json: bool,
) -> Outcome {
    if let Some(id) = &open
        && let Err(error) = check_id(id)
    {
        return setup_failure(json, &error);
    }
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel::<SyncEvent>();
    let subscription = client.subscribe(
        Arc::new(move |event: SyncEvent| {
            let _ = sender.send(event);
        }),
        None,
    );
    client.start();
    if let Some(id) = &open
        && let Err(error) = client.open_chat(id)
    {
        return setup_failure(json, &error);
    }
    let deadline = duration.map(|d| Instant::now() + d);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut reached = false;
    let mut permanent: Option<String> = None;
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
            _ = sleep_until_opt(deadline) => break,
            _ = &mut stop => break,
        };
        match &event {
            SyncEvent::TicketsChanged { .. }
            | SyncEvent::ConnectionChanged {
                realtime_connected: true,
                ..
            } => reached = true,
            SyncEvent::Error { kind, message, .. }
                if !matches!(
                    kind,
                    ErrorKind::Network
                        | ErrorKind::Timeout
                        | ErrorKind::Server
                        | ErrorKind::BadData
                ) =>
            {
                permanent.get_or_insert_with(|| format!("{}: {message}", kind.as_str()));
            }
            _ => {}
        }
        let written = if json {
            let value = output::event_json(&event, |t| client.get_sync_meta(t).ok());
            output::print_json(&value)
        } else {
            output::print_out(&output::event_line(&event))
        };
        if let Err(e) = written {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("chatsync: cannot write the output: {e}");
                return Outcome::Failed;
            }
            break;
        }
    }
    drop(subscription);
    if let Some(error) = permanent {
        eprintln!("chatsync: {error}");
        return Outcome::Failed;
    }
    if !reached {
        eprintln!("chatsync: the server was not reached");
        return Outcome::Failed;
    }
    Outcome::Success
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
