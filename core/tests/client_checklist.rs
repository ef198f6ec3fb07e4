//! The seed's verification checklist, all ten items, as integration tests of the
//! real client against the real reference server (with its fault injection),
//! counting HTTP requests and messages fetched.

mod client_support;

use std::sync::Arc;
use std::time::Duration;

use chatsync::cache::{CacheOptions, MessageCache};
use chatsync::client::{BridgePhase, LegacyMessageCache, MessageCacheBridge};
use chatsync::{SyncState, ValidationReason};
use chatsync_server::PushKind;
use client_support::*;

/// 1. Backend returns `lastMessageSequence` in the ticket list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_01_ticket_list_carries_last_message_sequence() {
    let env = Env::start(3, 7).await;
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*chatsync::net::tls::client_config()).clone())
        .build()
        .unwrap();
    let body: serde_json::Value = http
        .get(format!("{}/api/v1/chat/requests", env.server.base_url()))
        .bearer_auth(env.token(REQUESTER))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tickets = body["chatMessages"].as_array().unwrap();
    assert_eq!(tickets.len(), 3);
    for t in tickets {
        assert_eq!(t["lastMessageSequence"], 7);
        assert_eq!(t["lastMessage"]["sequenceNumber"], 7);
    }
}

/// 2. The SQLite cache stores messages with sequence numbers (and they survive a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_02_sqlite_cache_stores_messages_with_sequence_numbers() {
    let (env, chat) = Env::single_chat(12).await;
    let path = cached_chat(&env, &chat).await;
    let reopened = MessageCache::open(&path, CacheOptions::default()).unwrap();
    let messages = reopened.get_cached_messages(&chat, None).unwrap();
    let seqs: Vec<i64> = messages.iter().filter_map(|m| m.sequence_number).collect();
    assert_eq!(seqs, one_to(12));
    let meta = reopened.get_sync_meta(&chat).unwrap();
    assert_eq!(
        (meta.local_min_seq, meta.local_max_seq, meta.message_count),
        (Some(1), Some(12), 12)
    );
}

/// 3. Sync state is tracked per chat (UNKNOWN / SYNCED / OUT_OF_SYNC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_03_sync_state_is_tracked_per_chat() {
    let env = Env::start(3, 10).await;
    let ids = env.tickets().await;
    let path = cached_chats(&env, &ids[..2]).await;
    let client = env.client_with(path, |c| c.retry_base = Duration::from_secs(60));
    env.post_as_technician(&ids[1], "makes chat 1 incomplete")
        .await;
    client.refresh_tickets().await.unwrap();
    env.server
        .faults()
        .fail_next_http(1, Some(chatsync_server::EndpointKind::Messages));
    client.open_chat(&ids[0]).unwrap();
    client.open_chat(&ids[1]).unwrap();
    assert!(
        eventually(SETTLE, || client.sync_state(&ids[1])
            == SyncState::OutOfSync
            && !client.is_chat_syncing(&ids[1]))
        .await
    );
    assert_eq!(client.sync_state(&ids[0]), SyncState::Synced);
    assert_eq!(
        client.sync_state(&ids[2]),
        SyncState::Unknown,
        "never opened"
    );
    assert_eq!(
        client.get_sync_meta(&ids[0]).unwrap().sync_state,
        SyncState::Synced
    );
}

/// 4. Sequence validation detects gaps (with the exact missing range).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_04_sequence_validation_detects_gaps() {
    let (env, chat) = Env::single_chat(10).await;
    // No realtime for this client, so the gap stays until the client validates.
    let client = cached_client_with(&env, &chat, |c| c.gap_grace = Duration::from_secs(30)).await;
    client.open_chat(&chat).unwrap();
    env.server
        .faults()
        .drop_next_pushes(1, PushKind::MessageNew);
    let lost = env.post_as_technician(&chat, "lost").await;
    let pushed = env.post_for_push(&chat, "arrives").await;
    assert_eq!(pushed.sequence_number, Some(lost + 1));
    client.on_new_message(pushed).unwrap();
    assert_eq!(client.sync_state(&chat), SyncState::OutOfSync);
    let result = client.cache().validate_sequences(&chat).unwrap();
    assert_eq!(result.reason, ValidationReason::GapDetected);
    assert_eq!(result.missing, vec![chatsync::SeqRange::new(11, 11)]);
    assert_eq!(
        client.net_stats().message_page_requests,
        0,
        "still within the grace period"
    );
}

/// 5. The manual resync button always runs, with the indicator on only while it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_05_manual_resync_button() {
    let (env, chat) = Env::single_chat(10).await;
    let client = cached_client(&env, &chat).await;
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.open_chat(&chat).unwrap();
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    let meta = client.manual_resync(&chat).await.unwrap();
    assert_eq!(meta.sync_state, SyncState::Synced);
    assert_eq!(
        client.net_stats().message_page_requests,
        1,
        "one round trip even when synced"
    );
    client.flush_observers();
    assert_eq!(recorder.syncing(&chat), vec![false, true, false]);
}

/// 6. The tickets query updates the backend sequences of every chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_06_tickets_query_updates_backend_sequences() {
    let env = Env::start(2, 4).await;
    let ids = env.tickets().await;
    let client = env.client_at(env.cache_path());
    client.refresh_tickets().await.unwrap();
    env.post_as_technician(&ids[1], "one more").await;
    client.refresh_tickets().await.unwrap();
    assert_eq!(
        client
            .get_sync_meta(&ids[0])
            .unwrap()
            .last_known_backend_seq,
        Some(4)
    );
    assert_eq!(
        client
            .get_sync_meta(&ids[1])
            .unwrap()
            .last_known_backend_seq,
        Some(5)
    );
    assert_eq!(client.net_stats().message_page_requests, 0);
}

/// 7. The migration bridge supports a gradual IndexedDB -> SQLite transition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_07_migration_bridge_phases() {
    #[derive(Default)]
    struct Legacy(std::sync::Mutex<Vec<chatsync::ChatMessage>>);
    impl LegacyMessageCache for Legacy {
        fn chat_ids(&self) -> Result<Vec<String>, String> {
            let chats: std::collections::BTreeSet<String> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|m| m.request_id.clone())
                .collect();
            Ok(chats.into_iter().collect())
        }
        fn get_cached_messages(&self, id: &str) -> Result<Vec<chatsync::ChatMessage>, String> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.request_id == id)
                .cloned()
                .collect())
        }
        fn put_messages(
            &self,
            _: &str,
            messages: Vec<chatsync::ChatMessage>,
        ) -> Result<(), String> {
            let mut all = self.0.lock().unwrap();
            for m in messages {
                all.retain(|o| o.id != m.id);
                all.push(m);
            }
            Ok(())
        }
        fn remove_messages(&self, _: &str, ids: Vec<String>) -> Result<(), String> {
            self.0.lock().unwrap().retain(|m| !ids.contains(&m.id));
            Ok(())
        }
    }
    let (env, chat) = Env::single_chat(6).await;
    let client = env.client_at(env.cache_path());
    let phase3_legacy = Arc::new(Legacy::default());
    let phase2_legacy = Arc::new(Legacy::default());
    let _phase3 = MessageCacheBridge::new(
        client.clone(),
        phase3_legacy.clone(),
        BridgePhase::SqliteOnly,
    );
    let phase2 = MessageCacheBridge::new(
        client.clone(),
        phase2_legacy.clone(),
        BridgePhase::WriteBothReadSqlite,
    );
    client.open_chat(&chat).unwrap();
    settle(&client, &chat).await;
    client.flush_observers();
    assert_eq!(
        phase2_legacy.get_cached_messages(&chat).unwrap().len(),
        6,
        "phase 2 writes both"
    );
    assert!(
        phase3_legacy.0.lock().unwrap().is_empty(),
        "phase 3 writes SQLite only"
    );
    assert_eq!(phase2.get_cached_messages(&chat).unwrap().len(), 6);
}

/// 8. Chats load instantly from the cache: `open_chat` never waits for the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_08_chats_load_instantly_from_cache() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    env.post_as_technician(&chat, "makes the cache incomplete")
        .await;
    let client = env.client_at(path);
    client.update_backend_sequence(&chat, 31);
    // The server stalls every answer for 5 s; the open must not care.
    env.server.faults().set_http_delay(Duration::from_secs(5));
    let opened = client.open_chat(&chat).unwrap();
    assert_eq!(opened.messages.len(), 30);
    assert_eq!(opened.meta.sync_state, SyncState::OutOfSync);
    assert!(opened.is_syncing, "the resync runs in the background");
    assert_eq!(
        env.server.stats().messages_returned,
        30,
        "only the earlier initial load so far"
    );
    env.server.faults().set_http_delay(Duration::ZERO);
}

/// 9. No unnecessary sync calls when the data is valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_09_no_unnecessary_sync_calls() {
    let env = Env::start(2, 25).await;
    let ids = env.tickets().await;
    let client = cached_client(&env, &ids[0]).await;
    for _ in 0..5 {
        client.refresh_tickets().await.unwrap();
        client.open_chat(&ids[0]).unwrap();
        assert_eq!(client.sync_state(&ids[0]), SyncState::Synced);
        client.close_chat(&ids[0]);
    }
    client.on_app_resume();
    client
        .background_revalidate(Duration::from_secs(5))
        .await
        .unwrap();
    let stats = client.net_stats();
    assert_eq!(stats.message_page_requests, 0, "{stats:?}");
    assert_eq!(stats.messages_fetched, 0);
}

/// 10. An immediate chat open before the metadata load does not cause a false sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_10_open_before_metadata_is_no_false_sync() {
    let (env, chat) = Env::single_chat(10).await;
    env.server.faults().set_null_last_sequence(true);
    let path = env.cache_path();
    {
        let client = env.client_at(path.clone());
        client.open_chat(&chat).unwrap();
        assert!(eventually(SETTLE, || cached_seqs(&client, &chat).len() == 10).await);
        assert_eq!(
            client.sync_state(&chat),
            SyncState::Unknown,
            "never SYNCED without a backend sequence"
        );
    }
    let client = env.client_at(path);
    let before = env.server.stats();
    let opened = client.open_chat(&chat).unwrap();
    assert_eq!(opened.meta.sync_state, SyncState::Unknown);
    assert_eq!(
        client.wait_until_settled(&chat, SETTLE).await,
        SyncState::Unknown
    );
    assert_eq!(
        env.server.stats().page_requests,
        before.page_requests,
        "no message fetch"
    );
    env.server.faults().set_null_last_sequence(false);
    client.refresh_tickets().await.unwrap();
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    assert_eq!(env.server.stats().page_requests, before.page_requests);
}
