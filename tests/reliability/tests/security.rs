//! Security checks (issue 10, part 5), against the real reference server:
//! - no token in the logs: every `tracing` event (and every `log` record, through the
//!   subscriber's log bridge) at TRACE level of every crate is captured during a full
//!   sync — ticket list, initial load, pushes, a send, a resync, a refused token — and
//!   searched for the tokens;
//! - no token in the cache file, its `-wal` or `-shm`;
//! - the cache file and its `-wal` / `-shm` are owner-only (0600);
//! - one requester's token never reads (or writes) another requester's tickets: not
//!   through the ticket list, pages, sends, raw HTTP, nor realtime pushes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chatsync::client::ErrorKind;
use chatsync::net::api::StaticToken;
use chatsync::{ChatSyncClient, ClientConfig, SyncState};
use chatsync_reliability::serverdb::ServerDb;
use chatsync_server::{Role, Server, ServerConfig, UserSpec};

/// Everything every subscriber wrote, for the whole test binary.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("the first global subscriber of this test binary");
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn sidecars(path: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", path.display())))
        .collect()
}

fn config(base_url: String, cache: PathBuf) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Some(cache));
    config.gap_grace = Duration::from_millis(100);
    config.retry_base = Duration::from_millis(100);
    config.retry_cap = Duration::from_millis(400);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_reach_logs_or_the_cache_and_files_are_owner_only() {
    let logs = captured();
    let token = format!("secret-{}", uuid::Uuid::new_v4().simple());
    let wrong = format!("wrong-secret-{}", uuid::Uuid::new_v4().simple());
    let tech_token = format!("tech-secret-{}", uuid::Uuid::new_v4().simple());
    let users = vec![
        UserSpec::new("requester-1", Role::Requester, "Dana").with_token(token.clone()),
        UserSpec::new("technician-1", Role::Technician, "Sam").with_token(tech_token.clone()),
    ];
    let server = Server::start(ServerConfig::ephemeral().with_seed(2, 40).with_users(users))
        .await
        .expect("the server starts");
    let tickets = server.ticket_ids().await.expect("tickets");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cache = dir.path().join("cache.sqlite");

    let client = ChatSyncClient::new(
        config(server.base_url(), cache.clone()),
        Arc::new(StaticToken(token.clone())),
    )
    .expect("the client builds");
    client.start();
    client.refresh_tickets().await.expect("the ticket list");
    for chat in &tickets {
        client.open_chat(chat).expect("open");
        assert_eq!(
            client
                .wait_until_settled(chat, Duration::from_secs(10))
                .await,
            SyncState::Synced
        );
    }
    let sent = client
        .send_message(&tickets[0], "a message with a secret-free body")
        .await
        .expect("queued");
    let sent = client
        .wait_for_send(
            &tickets[0],
            sent.client_temp_id.as_deref().expect("a key"),
            Duration::from_secs(10),
        )
        .await
        .expect("sent");
    assert!(sent.sequence_number.is_some());
    let pushed = server
        .post_message(&tickets[1], "technician-1", "a push", None)
        .await
        .expect("posted")
        .message
        .sequence_number;
    let arrived = async {
        while client
            .get_sync_meta(&tickets[1])
            .map(|m| m.local_max_seq != Some(pushed))
            .unwrap_or(true)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), arrived)
        .await
        .expect("the push arrives");
    client.manual_resync(&tickets[0]).await.expect("a resync");

    // A refused token: its error, its logs and its Debug output name no token.
    let refused = ChatSyncClient::new(
        config(server.base_url(), dir.path().join("refused.sqlite")),
        Arc::new(StaticToken(wrong.clone())),
    )
    .expect("the client builds");
    refused.start();
    let error = refused
        .refresh_tickets()
        .await
        .expect_err("a wrong token is refused");
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert!(
        !error.to_string().contains(&wrong),
        "the error names the token"
    );
    assert!(!format!("{client:?} {refused:?}").contains("secret"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The cache files, while the client is open (the WAL is live) and after it closed.
    for path in sidecars(&cache) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !contains(&bytes, &token),
            "{} holds the token",
            path.display()
        );
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        }
    }
    assert!(
        std::fs::metadata(format!("{}-wal", cache.display())).is_ok(),
        "a live WAL was checked"
    );
    drop(client);
    drop(refused);
    for path in sidecars(&cache) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !contains(&bytes, &token),
            "{} holds the token",
            path.display()
        );
    }

    let logs = logs.lock().unwrap().clone();
    // The capture works: the client's and the HTTP stack's own lines are in it.
    assert!(
        contains(&logs, "realtime connected"),
        "the client's logs were captured"
    );
    assert!(
        logs.len() > 10_000,
        "only {} bytes of logs were captured",
        logs.len()
    );
    let text = String::from_utf8_lossy(&logs);
    for secret in [&token, &wrong, &tech_token] {
        let leaks: Vec<String> = text
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .map(|l| l.replace(secret.as_str(), "<TOKEN>"))
            .collect();
        assert!(leaks.is_empty(), "a token appears in the logs: {leaks:#?}");
    }
    eprintln!(
        "RELIABILITY security-logs {{\"logBytesSearched\": {}, \"tokensFound\": 0}}",
        logs.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_requester_never_reads_another_requesters_tickets() {
    let _ = captured();
    let users = vec![
        UserSpec::new("requester-a", Role::Requester, "Ada").with_token("token-a"),
        UserSpec::new("requester-b", Role::Requester, "Bo").with_token("token-b"),
        UserSpec::new("technician-1", Role::Technician, "Sam").with_token("token-t"),
    ];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db_path = dir.path().join("server.sqlite");
    let server = Server::start(ServerConfig {
        db: Some(db_path.clone()),
        ..ServerConfig::ephemeral().with_users(users)
    })
    .await
    .expect("the server starts");
    let ta = server
        .create_ticket("A's printer", "requester-a", "technician-1")
        .await
        .expect("a ticket");
    let tb = server
        .create_ticket("B's laptop", "requester-b", "technician-1")
        .await
        .expect("a ticket");
    for n in 0..5 {
        for t in [&ta, &tb] {
            server
                .post_message(t, "technician-1", &format!("private {n} of {t}"), None)
                .await
                .expect("posted");
        }
    }
    let client_for = |token: &str, name: &str| {
        ChatSyncClient::new(
            config(server.base_url(), dir.path().join(name)),
            Arc::new(StaticToken(token.into())),
        )
        .expect("the client builds")
    };
    let a = client_for("token-a", "a.sqlite");
    let b = client_for("token-b", "b.sqlite");
    a.start();
    b.start();
    let listed_a: Vec<String> = a
        .refresh_tickets()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    let listed_b: Vec<String> = b
        .refresh_tickets()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed_a, vec![ta.clone()], "A sees exactly its ticket");
    assert_eq!(listed_b, vec![tb.clone()], "B sees exactly its ticket");

    // B opens A's ticket: nothing is fetched into B's cache, the error is NotFound.
    b.open_chat(&ta).expect("open is local");
    b.wait_until_settled(&ta, Duration::from_secs(5)).await;
    assert_ne!(b.sync_state(&ta), SyncState::Synced);
    let resync = b.manual_resync(&ta).await.expect_err("A's chat is not B's");
    assert_eq!(resync.kind(), ErrorKind::NotFound);
    assert!(
        b.get_cached_messages(&ta, None)
            .expect("readable")
            .is_empty()
    );

    // B writes into A's ticket: refused, nothing stored on the server.
    let queued = b
        .send_message(&ta, "intrusion")
        .await
        .expect("queued locally");
    let answer = b
        .wait_for_send(
            &ta,
            queued.client_temp_id.as_deref().expect("a key"),
            Duration::from_secs(5),
        )
        .await
        .expect("the local copy");
    assert!(
        answer.sequence_number.is_none(),
        "B's message was accepted in A's ticket"
    );
    let db = ServerDb::open(&db_path).expect("the server db");
    assert!(
        db.messages_with_client_temp_id("requester-b")
            .expect("readable")
            .is_empty()
    );

    // Raw HTTP with B's token on A's ticket.
    let http = chatsync_reliability::http_client();
    let url = format!("{}/api/v1/chat/requests/{ta}/messages", server.base_url());
    let get = http
        .get(&url)
        .bearer_auth("token-b")
        .send()
        .await
        .expect("answered");
    assert_eq!(get.status().as_u16(), 404);
    let post = http
        .post(&url)
        .bearer_auth("token-b")
        .json(&serde_json::json!({"content": "x", "clientTempId": "raw-b"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(post.status().as_u16(), 404);
    let read = http
        .post(format!(
            "{}/api/v1/chat/requests/{ta}/read",
            server.base_url()
        ))
        .bearer_auth("token-b")
        .json(&serde_json::json!({"upToSequence": 1}))
        .send()
        .await
        .expect("answered");
    assert_eq!(read.status().as_u16(), 404);

    // Pushes: a new message in A's ticket reaches A, never B.
    a.open_chat(&ta).expect("open");
    assert_eq!(
        a.wait_until_settled(&ta, Duration::from_secs(10)).await,
        SyncState::Synced
    );
    let seq = server
        .post_message(&ta, "technician-1", "for A only", None)
        .await
        .expect("posted")
        .message
        .sequence_number;
    let reached_a = async {
        while a
            .get_sync_meta(&ta)
            .map(|m| m.local_max_seq != Some(seq))
            .unwrap_or(true)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reached_a)
        .await
        .expect("A receives its push");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        b.get_cached_messages(&ta, None)
            .expect("readable")
            .iter()
            .all(|m| m.sequence_number.is_none())
    );
    assert!(
        b.cached_tickets()
            .expect("readable")
            .iter()
            .all(|t| t.id != ta)
    );
}
