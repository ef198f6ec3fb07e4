//! `chatsync-crash-worker`: the victim process of the crash harness (see
//! `chatsync_reliability::worker` for its protocol).
//!
//! Usage: `CHATSYNC_WORKER_TOKEN=... chatsync-crash-worker --base-url URL --cache FILE
//! --log FILE --chats ID,ID,... [--settle]`.
//!
//! It runs until it is killed, or until its stdin reaches EOF (the harness is gone).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatsync::cache::EvictionLimits;
use chatsync::net::api::StaticToken;
use chatsync::{ChatSyncClient, ClientConfig};
use chatsync_reliability::worker::{
    ChatReport, SETTLED_PREFIX, SentRecord, TOKEN_ENV, WorkerReport, append_side_log,
};
use rand::Rng;

struct Args {
    base_url: String,
    cache: PathBuf,
    log: PathBuf,
    chats: Vec<String>,
    settle: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut base_url = None;
    let mut cache = None;
    let mut log = None;
    let mut chats = None;
    let mut settle = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--base-url" => base_url = Some(value()?),
            "--cache" => cache = Some(PathBuf::from(value()?)),
            "--log" => log = Some(PathBuf::from(value()?)),
            "--chats" => chats = Some(value()?.split(',').map(str::to_string).collect::<Vec<_>>()),
            "--settle" => settle = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        base_url: base_url.ok_or("--base-url is required")?,
        cache: cache.ok_or("--cache is required")?,
        log: log.ok_or("--log is required")?,
        chats: chats.ok_or("--chats is required")?,
        settle,
    })
}

fn client_config(args: &Args) -> ClientConfig {
    let mut config = ClientConfig::new(args.base_url.clone(), Some(args.cache.clone()));
    config.gap_grace = Duration::from_millis(200);
    config.retry_base = Duration::from_millis(100);
    config.retry_cap = Duration::from_millis(1000);
    config.reconnect_base = Duration::from_millis(100);
    config.reconnect_cap = Duration::from_millis(1000);
    config.revalidate_interval = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    config.eviction = EvictionLimits::unlimited();
    config
}

/// Drains the outbox and waits until every chat settles, then describes the chats.
async fn settle(client: &ChatSyncClient, chats: &[String], started: Instant) -> WorkerReport {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let outbox = client.cache().outbox().unwrap_or_default();
        if outbox.is_empty() {
            break;
        }
        for entry in outbox {
            let _ = client
                .wait_for_send(
                    &entry.request_id,
                    &entry.client_temp_id,
                    Duration::from_secs(5),
                )
                .await;
        }
    }
    for chat in chats {
        client
            .wait_until_settled(chat, Duration::from_secs(10))
            .await;
    }
    let mut reports = Vec::new();
    for chat in chats {
        let window_start = client
            .cache()
            .summary(chat)
            .ok()
            .and_then(|s| s.window_start);
        let messages = client.get_cached_messages(chat, None).unwrap_or_default();
        let local_pending = messages
            .iter()
            .filter(|m| m.sequence_number.is_none())
            .count();
        let window = messages
            .into_iter()
            .filter_map(|m| {
                let seq = m.sequence_number?;
                (seq >= window_start.unwrap_or(i64::MAX)).then_some((seq, m.id, m.content))
            })
            .collect();
        reports.push(ChatReport {
            id: chat.clone(),
            state: client.sync_state(chat).as_str().to_string(),
            window_start,
            window,
            local_pending,
        });
    }
    WorkerReport {
        chats: reports,
        outbox: client
            .cache()
            .outbox()
            .map(|o| o.len())
            .unwrap_or(usize::MAX),
        settle_ms: started.elapsed().as_millis() as u64,
    }
}

/// Sends messages with unique contents, logging each once `send_message` returned.
async fn send_loop(client: Arc<ChatSyncClient>, args: Arc<Args>) {
    let nonce: u64 = rand::random();
    let mut n = 0u64;
    loop {
        let (chat, pause) = {
            let mut rng = rand::rng();
            let chat = args.chats[rng.random_range(0..args.chats.len())].clone();
            (chat, rng.random_range(5..60))
        };
        n += 1;
        let content = format!("crash {nonce:016x} {n}");
        match client.send_message(&chat, &content).await {
            Ok(message) => {
                let record = SentRecord {
                    chat,
                    client_temp_id: message.client_temp_id.unwrap_or_default(),
                    content,
                };
                if let Err(e) = append_side_log(&args.log, &record) {
                    eprintln!("worker: cannot append to the side log: {e}");
                    std::process::exit(3);
                }
            }
            Err(e) => eprintln!("worker: send_message failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Resyncs, re-opens, loads history and refreshes the ticket list at random.
async fn chaos_loop(client: Arc<ChatSyncClient>, args: Arc<Args>) {
    loop {
        let (chat, action, pause) = {
            let mut rng = rand::rng();
            let chat = args.chats[rng.random_range(0..args.chats.len())].clone();
            (chat, rng.random_range(0..4u8), rng.random_range(50..300))
        };
        let limit = Duration::from_secs(3);
        match action {
            0 => {
                let _ = tokio::time::timeout(limit, client.manual_resync(&chat)).await;
            }
            1 => {
                client.close_chat(&chat);
                let _ = client.open_chat(&chat);
            }
            2 => {
                let _ = tokio::time::timeout(limit, client.load_earlier(&chat)).await;
            }
            _ => {
                let _ = tokio::time::timeout(limit, client.refresh_tickets()).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = Instant::now();
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(e) => {
            eprintln!("chatsync-crash-worker: {e}");
            std::process::exit(2);
        }
    };
    let Ok(token) = std::env::var(TOKEN_ENV) else {
        eprintln!("chatsync-crash-worker: set {TOKEN_ENV}");
        std::process::exit(2);
    };
    let client = match ChatSyncClient::new(client_config(&args), Arc::new(StaticToken(token))) {
        Ok(client) => Arc::new(client),
        Err(e) => {
            eprintln!("chatsync-crash-worker: cannot build the client: {e}");
            std::process::exit(4);
        }
    };
    // stdin: `go` lines release the work phase; EOF ends the process.
    let (go_tx, mut go_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) if line.trim() == "go" => {
                    let _ = go_tx.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::process::exit(0);
    });
    client.start();
    for _ in 0..20 {
        if client.refresh_tickets().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for chat in &args.chats {
        if let Err(e) = client.open_chat(chat) {
            eprintln!("worker: open_chat({chat}) failed: {e}");
        }
    }
    if args.settle {
        let report = settle(&client, &args.chats, started).await;
        println!(
            "{SETTLED_PREFIX}{}",
            serde_json::to_string(&report).unwrap_or_default()
        );
        if go_rx.recv().await.is_none() {
            return;
        }
    }
    let sender = tokio::spawn(send_loop(client.clone(), args.clone()));
    let chaos = tokio::spawn(chaos_loop(client.clone(), args.clone()));
    let _ = tokio::join!(sender, chaos);
}
