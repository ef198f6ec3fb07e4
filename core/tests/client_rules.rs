//! The sync service's rules (issue "Core: the chat sync service"), each one a test
//! of the real `ChatSyncClient` against the real reference server on loopback, with
//! real SQLite cache files. Request and message counts come from the client's own
//! counters and the server's.

mod client_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chatsync::client::{BridgePhase, ErrorKind, LegacyMessageCache, MessageCacheBridge};
use chatsync::net::api::{AuthTokenProvider, StaticToken};
use chatsync::{
    ChatMessage, ChatSyncClient, ClientError, MessageStatus, SeqRange, SyncEvent, SyncState,
};
use chatsync_server::{EndpointKind, PushKind};
use client_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_sequence_is_learned_from_every_source() {
    let (env, [a, b]) = Env::two_chats(10).await;
    let client = env.client_at(env.cache_path());
    // The ticket list.
    client.refresh_tickets().await.unwrap();
    assert_eq!(
        client.get_sync_meta(&a).unwrap().last_known_backend_seq,
        Some(10)
    );
    // A realtime push of a message in a closed chat (stored, raises the sequence).
    client.start();
    assert!(eventually(SETTLE, || client.net_stats().http_requests >= 2).await);
    let (recorder, _subscription) = Recorder::attach(&client, Some(&b));
    recorder.wait_realtime().await;
    env.post_as_technician(&b, "pushed").await;
    assert!(
        eventually(SETTLE, || client
            .get_sync_meta(&b)
            .unwrap()
            .last_known_backend_seq
            == Some(11))
        .await
    );
    // A message page (the open of `a` after a post the socket missed).
    env.server.faults().drop_next_pushes(2, PushKind::Any);
    env.post_as_technician(&a, "missed").await;
    client.open_chat(&a).unwrap();
    settle(&client, &a).await;
    assert_eq!(
        client.get_sync_meta(&a).unwrap().last_known_backend_seq,
        Some(11)
    );
    // `update_backend_sequence` (a snapshot) may lower it: the server went back.
    client.update_backend_sequence(&b, 5);
    assert_eq!(
        client.get_sync_meta(&b).unwrap().last_known_backend_seq,
        Some(5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_list_is_metadata_only() {
    let env = Env::start(3, 20).await;
    let client = env.client_at(env.cache_path());
    let tickets = client.refresh_tickets().await.unwrap();
    assert_eq!(tickets.len(), 3);
    assert!(tickets.iter().all(|t| t.last_message_sequence == Some(20)));
    let stats = client.net_stats();
    assert_eq!(stats.ticket_list_requests, 1);
    assert_eq!(stats.message_page_requests, 0);
    assert_eq!(env.server.stats().page_requests, 0);
    for t in &tickets {
        let meta = client.get_sync_meta(&t.id).unwrap();
        assert_eq!(meta.last_known_backend_seq, Some(20));
        assert_eq!(meta.message_count, 0, "no message fetched for {}", t.id);
    }
    assert_eq!(client.cached_tickets().unwrap(), tickets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_valid_cache_is_synced_with_zero_fetches() {
    let (env, chat) = Env::single_chat(30).await;
    let client = cached_client(&env, &chat).await;
    let opened = client.open_chat(&chat).unwrap();
    assert_eq!(opened.meta.sync_state, SyncState::Synced);
    assert_eq!(opened.messages.len(), 30);
    assert!(!opened.is_syncing);
    assert_eq!(client.net_stats().http_requests, 0, "no request at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_invalid_cache_resyncs_only_the_tail() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    for i in 0..5 {
        env.post_as_technician(&chat, &format!("while away {i}"))
            .await;
    }
    let client = env.client_at(path);
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.refresh_tickets().await.unwrap();
    let before = client.net_stats();
    let opened = client.open_chat(&chat).unwrap();
    assert_eq!(opened.messages.len(), 30, "the cache is shown at once");
    settle(&client, &chat).await;
    assert_eq!(
        fetched_since(&client, &before),
        (1, 5),
        "one page, exactly 31..=35"
    );
    assert_eq!(cached_seqs(&client, &chat), one_to(35));
    client.flush_observers();
    assert!(recorder.states(&chat).ends_with(&[
        SyncState::Unknown,
        SyncState::OutOfSync,
        SyncState::Synced
    ]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_cache_is_an_initial_load_of_the_latest_window() {
    let (env, chat) = Env::single_chat(120).await;
    let client = env.client_with(env.cache_path(), |c| c.page_size = 50);
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.refresh_tickets().await.unwrap();
    client.open_chat(&chat).unwrap();
    settle(&client, &chat).await;
    // The latest window (200 > 120: everything), never the syncing indicator.
    assert_eq!(cached_seqs(&client, &chat), one_to(120));
    client.flush_observers();
    assert!(
        recorder.syncing(&chat).iter().all(|s| !s),
        "initial load is not a resync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_is_single_flight_and_scoped_to_one_chat() {
    let (env, [a, b]) = Env::two_chats(30).await;
    let path = cached_chat(&env, &a).await;
    for i in 0..3 {
        env.post_as_technician(&a, &format!("new {i}")).await;
        env.post_as_technician(&b, &format!("other {i}")).await;
    }
    let client = env.client_at(path);
    client.refresh_tickets().await.unwrap();
    env.server
        .faults()
        .set_http_delay(Duration::from_millis(200));
    client.open_chat(&a).unwrap();
    let (r1, r2, r3) = tokio::join!(
        client.resync(&a),
        client.manual_resync(&a),
        client.resync(&a)
    );
    for r in [r1, r2, r3] {
        assert_eq!(r.unwrap().sync_state, SyncState::Synced);
    }
    env.server.faults().set_http_delay(Duration::ZERO);
    let stats = client.net_stats();
    // The open's resync plus at most one manual round trip; chat b untouched.
    assert!(stats.message_page_requests <= 2, "{stats:?}");
    assert_eq!(client.get_sync_meta(&b).unwrap().message_count, 0);
    assert_eq!(cached_seqs(&client, &a), one_to(33));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_beyond_the_window_fetches_only_the_latest_window_and_records_the_gap() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    for i in 0..470 {
        env.post_as_technician(&chat, &format!("burst {i}")).await;
    }
    let client = env.client_at(path);
    client.refresh_tickets().await.unwrap();
    let before = client.net_stats();
    client.open_chat(&chat).unwrap();
    settle(&client, &chat).await;
    let fetched = client.net_stats().messages_fetched - before.messages_fetched;
    assert_eq!(fetched, 200, "the latest window only");
    assert_eq!(
        client.history_gaps(&chat).unwrap(),
        vec![SeqRange::new(31, 300)]
    );
    // "Load earlier" fills the top of the gap, one page.
    let outcome = client.load_earlier(&chat).await.unwrap();
    assert_eq!(outcome.loaded.len(), 50);
    assert_eq!(outcome.loaded.first().unwrap().sequence_number, Some(251));
    assert_eq!(outcome.remaining_gaps, vec![SeqRange::new(31, 250)]);
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resync_stays_out_of_sync_and_retries_with_backoff() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    env.post_as_technician(&chat, "new").await;
    let client = env.client_at(path);
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.refresh_tickets().await.unwrap();
    env.server
        .faults()
        .fail_next_http(2, Some(EndpointKind::Messages));
    client.open_chat(&chat).unwrap();
    recorder.wait_error(ErrorKind::Server).await;
    assert_eq!(client.sync_state(&chat), SyncState::OutOfSync);
    assert!(eventually(SETTLE, || client.sync_state(&chat) == SyncState::Synced).await);
    assert_eq!(
        client.net_stats().message_page_requests,
        3,
        "two failures, one success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_revalidation_is_metadata_only_and_heals_a_mismatch() {
    let (env, chat) = Env::single_chat(10).await;
    let client = cached_client_with(&env, &chat, |c| {
        c.revalidate_interval = Duration::from_millis(400)
    })
    .await;
    client.open_chat(&chat).unwrap();
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    assert!(eventually(SETTLE, || client.net_stats().ticket_list_requests >= 2).await);
    let quiet = client.net_stats();
    assert_eq!(quiet.message_page_requests, 0, "a match fetches nothing");
    // A message the client could not have heard of (no socket): the next tick heals it.
    env.post_as_technician(&chat, "unheard").await;
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(11)).await);
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    assert_eq!(client.net_stats().messages_fetched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_to_online_marks_unknown_refreshes_once_and_heals_open_chats() {
    let (env, [a, b]) = Env::two_chats(10).await;
    let client = cached_client(&env, &a).await;
    let (recorder, _subscription) = Recorder::attach(&client, None);
    go_online(&client, &recorder, &a).await;
    client.on_connectivity_lost();
    env.server.faults().drop_next_pushes(4, PushKind::Any);
    env.post_as_technician(&a, "while offline").await;
    env.post_as_technician(&b, "closed chat, while offline")
        .await;
    let before = client.net_stats();
    recorder.clear();
    client.on_connectivity_restored();
    settle(&client, &a).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = client.net_stats();
    assert_eq!(
        after.ticket_list_requests - before.ticket_list_requests,
        1,
        "one metadata refresh"
    );
    assert_eq!(
        after.messages_fetched - before.messages_fetched,
        1,
        "only the open chat's message"
    );
    assert_eq!(
        client.get_sync_meta(&b).unwrap().message_count,
        0,
        "no fetch for the closed chat"
    );
    client.flush_observers();
    assert_eq!(recorder.states(&a).first(), Some(&SyncState::Unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_next_sequence_appends_and_stays_synced() {
    let (env, chat) = Env::single_chat(10).await;
    let (client, recorder, _subscription) = synced_online_client(&env, &chat).await;
    let before = client.net_stats();
    env.post_as_technician(&chat, "hello").await;
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(11)).await);
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    assert_eq!(
        client.net_stats().message_page_requests,
        before.message_page_requests
    );
    client.flush_observers();
    assert!(recorder.events().iter().any(|e| matches!(e,
        SyncEvent::MessagesChanged { inserted, .. } if inserted.iter().any(|m| m.content == "hello"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_duplicates_change_nothing_and_reordering_is_not_loss() {
    let (env, chat) = Env::single_chat(10).await;
    // A generous grace period: on a loaded machine the held frame may take a while,
    // and this test is about reordering, not about the grace timer.
    let (client, _recorder, _subscription) =
        synced_online_client_with(&env, &chat, |c| c.gap_grace = Duration::from_secs(3)).await;
    let before = client.net_stats();
    env.server
        .faults()
        .duplicate_next_pushes(1, PushKind::MessageNew);
    env.post_as_technician(&chat, "twice").await;
    env.server
        .faults()
        .reorder_next_pushes(1, PushKind::MessageNew);
    env.post_as_technician(&chat, "late").await;
    env.post_as_technician(&chat, "early").await;
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(13)).await);
    settle(&client, &chat).await;
    assert_eq!(
        client.net_stats().message_page_requests,
        before.message_page_requests,
        "no fetch"
    );
    assert_eq!(
        client.get_cached_messages(&chat, None).unwrap().len(),
        13,
        "no duplicate row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_gap_waits_for_the_grace_period_then_fetches_exactly_the_missing_range() {
    let (env, chat) = Env::single_chat(10).await;
    let (client, _recorder, _subscription) = synced_online_client(&env, &chat).await;
    let before = client.net_stats();
    env.server
        .faults()
        .drop_next_pushes(2, PushKind::MessageNew);
    env.post_as_technician(&chat, "lost 11").await;
    env.post_as_technician(&chat, "lost 12").await;
    env.post_as_technician(&chat, "arrives 13").await;
    assert!(eventually(SETTLE, || client.sync_state(&chat) == SyncState::OutOfSync).await);
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(13)).await);
    settle(&client, &chat).await;
    assert_eq!(
        fetched_since(&client, &before),
        (1, 2),
        "one page, exactly 11..=12"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_push_to_a_closed_chat_is_stored_and_healed_on_open() {
    let (env, [a, b]) = Env::two_chats(10).await;
    let client = cached_client(&env, &b).await;
    let (recorder, _subscription) = Recorder::attach(&client, None);
    go_online(&client, &recorder, &a).await;
    env.server
        .faults()
        .drop_next_pushes(1, PushKind::MessageNew);
    env.post_as_technician(&b, "lost").await;
    env.post_as_technician(&b, "stored").await;
    assert!(eventually(SETTLE, || cached_seqs(&client, &b).contains(&12)).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !cached_seqs(&client, &b).contains(&11),
        "a closed chat never fetches"
    );
    client.open_chat(&b).unwrap();
    settle(&client, &b).await;
    assert_eq!(cached_seqs(&client, &b), one_to(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realtime_reconnect_counts_as_connectivity_restored() {
    let (env, chat) = Env::single_chat(10).await;
    let (client, recorder, _subscription) = synced_online_client(&env, &chat).await;
    recorder.clear();
    let tickets_before = client.net_stats().ticket_list_requests;
    env.server
        .faults()
        .drop_next_pushes(1, PushKind::MessageNew);
    env.post_as_technician(&chat, "lost before the drop").await;
    env.server.disconnect_all_websockets();
    assert!(
        recorder.wait_for(SETTLE, realtime_connected).await,
        "the socket comes back"
    );
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(11)).await);
    settle(&client, &chat).await;
    assert!(client.net_stats().ticket_list_requests > tickets_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_indicator_is_on_only_while_a_resync_runs() {
    let (env, chat) = Env::single_chat(10).await;
    let client = cached_client(&env, &chat).await;
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.open_chat(&chat).unwrap();
    client.flush_observers();
    assert!(
        recorder.syncing(&chat).iter().all(|s| !s),
        "validation-only open: no indicator"
    );
    env.server
        .faults()
        .set_http_delay(Duration::from_millis(300));
    let resync = client.manual_resync(&chat);
    let watcher = async {
        assert!(eventually(SETTLE, || client.is_chat_syncing(&chat)).await);
    };
    let (result, ()) = tokio::join!(resync, watcher);
    assert_eq!(result.unwrap().sync_state, SyncState::Synced);
    assert!(!client.is_chat_syncing(&chat));
    client.flush_observers();
    assert_eq!(recorder.syncing(&chat), vec![false, true, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_messages_are_optimistic_ordered_idempotent_and_reconciled() {
    let (env, chat) = Env::single_chat(10).await;
    let (client, recorder, _subscription) = synced_online_client(&env, &chat).await;
    env.server
        .faults()
        .fail_next_http(1, Some(EndpointKind::Send));
    let first = client.send_message(&chat, "first").await.unwrap();
    let second = client.send_message(&chat, "second").await.unwrap();
    assert_eq!(first.status, MessageStatus::Pending);
    assert_eq!(first.sequence_number, None);
    let ctid = |m: &ChatMessage| m.client_temp_id.clone().unwrap();
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(12)).await);
    let messages = client.get_cached_messages(&chat, None).unwrap();
    assert_eq!(
        messages.len(),
        12,
        "server copies replaced the local rows: {messages:#?}"
    );
    assert_eq!(messages[10].content, "first", "sent in order");
    assert_eq!(messages[11].content, "second");
    assert_eq!(messages[11].client_temp_id, Some(ctid(&second)));
    assert_eq!(
        env.server_last(&chat).await,
        12,
        "each message stored once, the retry included"
    );
    assert_eq!(env.server.stats().http_failures_injected, 1);
    assert_eq!(
        client.net_stats().send_requests,
        3,
        "the first message was retried once"
    );
    let sent = client
        .wait_for_send(&chat, &ctid(&first), SETTLE)
        .await
        .unwrap();
    assert_eq!(
        (sent.status, sent.sequence_number),
        (MessageStatus::Sent, Some(11))
    );
    settle(&client, &chat).await;
    client.flush_observers();
    let echoes_duplicated = recorder.events().iter().any(|e| matches!(e,
        SyncEvent::MessagesChanged { inserted, .. } if inserted.iter().filter(|m| m.content == "first").count() > 1));
    assert!(!echoes_duplicated);
    let send_errors: Vec<(ErrorKind, String)> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::Error { kind, message, .. } => Some((kind, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        send_errors.len(),
        1,
        "the failed attempt is reported once: {send_errors:?}"
    );
    assert_eq!(send_errors[0].0, ErrorKind::Server);
    assert!(
        send_errors[0].1.contains(&ctid(&first)) && send_errors[0].1.contains("retrying"),
        "{}",
        send_errors[0].1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_restart_and_is_delivered_once() {
    let (env, chat) = Env::single_chat(10).await;
    let path = cached_chat(&env, &chat).await;
    let ctid;
    {
        let client = env.client_at(path.clone());
        client.on_connectivity_lost();
        let queued = client.send_message(&chat, "written offline").await.unwrap();
        ctid = queued.client_temp_id.unwrap();
        let opened = client.open_chat(&chat).unwrap();
        assert_eq!(
            opened.messages.last().unwrap().status,
            MessageStatus::Pending
        );
        assert_eq!(
            opened.meta.sync_state,
            SyncState::Synced,
            "unsent messages never count"
        );
    }
    let client = env.client_at(path);
    client.start();
    assert!(eventually(SETTLE, || cached_seqs(&client, &chat) == one_to(11)).await);
    let messages = client.get_cached_messages(&chat, None).unwrap();
    assert_eq!(messages.len(), 11);
    assert_eq!(messages[10].client_temp_id.as_deref(), Some(ctid.as_str()));
    assert_eq!(env.server_last(&chat).await, 11, "delivered exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_is_visible_and_can_be_retried() {
    let (env, chat) = Env::single_chat(10).await;
    let client = env.client_at(env.cache_path());
    let (recorder, _subscription) = Recorder::attach(&client, None);
    // An invisible ticket: the server answers 404, which is not worth retrying.
    let queued = client
        .send_message("no-such-ticket", "lost cause")
        .await
        .unwrap();
    let ctid = queued.client_temp_id.clone().unwrap();
    let failed = client
        .wait_for_send("no-such-ticket", &ctid, SETTLE)
        .await
        .unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    client.flush_observers();
    assert!(has_error(&recorder.events(), ErrorKind::NotFound));
    client.retry_send("no-such-ticket", &ctid).await.unwrap();
    let again = client
        .wait_for_send("no-such-ticket", &ctid, SETTLE)
        .await
        .unwrap();
    assert_eq!(again.status, MessageStatus::Failed);
    assert!(matches!(
        client.retry_send(&chat, "unknown-id").await,
        Err(ClientError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_authoritative_after_a_restore_and_unsent_messages_survive() {
    let (env, chat) = Env::single_chat(30).await;
    let client = cached_client(&env, &chat).await;
    client.on_connectivity_lost();
    let unsent = client.send_message(&chat, "not yet sent").await.unwrap();
    env.server.restore_ticket(&chat, 20).await.unwrap();
    // Sends fail from before the client is back online (else the outbox may deliver
    // the message first, and this test is about a message that stays unsent).
    env.server
        .faults()
        .fail_next_http(100, Some(EndpointKind::Send));
    client.on_connectivity_restored();
    client.open_chat(&chat).unwrap();
    assert!(eventually(SETTLE, || client.sync_state(&chat) == SyncState::Synced).await);
    assert_eq!(cached_seqs(&client, &chat), one_to(20));
    let messages = client.get_cached_messages(&chat, None).unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.client_temp_id == unsent.client_temp_id && m.sequence_number.is_none())
    );
}

/// A restore that reused sequences, while the app was closed: the history epoch tells
/// the client exactly what changed, so it fetches only the reused messages — also when
/// new posts already went past the old maximum (sequences alone cannot see that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_rewrite_refetches_exactly_the_rewritten_messages() {
    let env = Env::start(2, 30).await;
    let tickets = env.tickets().await;
    let (below, beyond) = (tickets[0].clone(), tickets[1].clone());
    let path = cached_chats(&env, &tickets).await;
    // `below`: restored to 25, then 3 new posts (26..=28 reused; 28 < 30).
    // `beyond`: restored to 25, then 8 new posts (26..=33: past the cached 30).
    env.server.restore_ticket(&below, 25).await.unwrap();
    env.server.restore_ticket(&beyond, 25).await.unwrap();
    let mut posted = HashMap::new();
    for (chat, n) in [(&below, 3), (&beyond, 8)] {
        for i in 0..n {
            let seq = env
                .post_as_technician(chat, &format!("after the restore {i}"))
                .await;
            posted.insert((chat.clone(), seq), format!("after the restore {i}"));
        }
    }
    let client = env.client_at(path);
    client.start();
    client.refresh_tickets().await.unwrap();
    let before = client.net_stats();
    for (chat, last) in [(&below, 28), (&beyond, 33)] {
        client.open_chat(chat).unwrap();
        settle(&client, chat).await;
        assert_eq!(cached_seqs(&client, chat), one_to(last));
        for message in client.get_cached_messages(chat, None).unwrap() {
            let seq = message.sequence_number.unwrap();
            if let Some(content) = posted.get(&(chat.clone(), seq)) {
                assert_eq!(
                    &message.content, content,
                    "{chat} #{seq} is the new message"
                );
            }
        }
    }
    assert_eq!(
        fetched_since(&client, &before),
        (2, 3 + 8),
        "one page per chat, exactly the messages above the kept 25"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_are_ordered_off_thread_and_may_call_back_into_the_client() {
    let (env, chat) = Env::single_chat(10).await;
    let client = env.client_at(env.cache_path());
    let caller = std::thread::current().id();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let observer = {
        let client = Arc::downgrade(&client);
        let seen = seen.clone();
        let chat = chat.clone();
        Arc::new(move |event: SyncEvent| {
            assert_ne!(std::thread::current().id(), caller);
            if let (SyncEvent::SyncStateChanged { state, .. }, Some(client)) =
                (&event, client.upgrade())
            {
                // Re-entrancy: reading and even triggering work from a callback.
                let now = client.sync_state(&chat);
                let cached = client.get_cached_messages(&chat, Some(5)).unwrap().len();
                client.update_backend_sequence(&chat, 10);
                seen.lock().unwrap().push((*state, now, cached));
            }
        })
    };
    let subscription = client.subscribe(observer, Some(chat.clone()));
    client.refresh_tickets().await.unwrap();
    client.open_chat(&chat).unwrap();
    settle(&client, &chat).await;
    client.flush_observers();
    let states: Vec<SyncState> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(
        states.first(),
        Some(&SyncState::Unknown),
        "the snapshot comes first"
    );
    assert_eq!(states.last(), Some(&SyncState::Synced));
    drop(subscription);
    let count = seen.lock().unwrap().len();
    client.manual_resync(&chat).await.unwrap();
    client.on_connectivity_restored();
    client.flush_observers();
    assert_eq!(
        seen.lock().unwrap().len(),
        count,
        "no delivery after unsubscribing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_server_data_is_an_error_and_never_synced() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    env.post_as_technician(&chat, "new").await;
    let client = env.client_with(path, |c| c.retry_base = Duration::from_secs(30));
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    client.refresh_tickets().await.unwrap();
    env.server
        .faults()
        .truncate_next_responses(1, Some(EndpointKind::Messages));
    client.open_chat(&chat).unwrap();
    recorder.wait_error(ErrorKind::BadData).await;
    assert_eq!(client.sync_state(&chat), SyncState::OutOfSync);
    assert_eq!(
        cached_seqs(&client, &chat),
        one_to(30),
        "the cache is intact"
    );
    // The user's button recovers at once.
    assert_eq!(
        client.manual_resync(&chat).await.unwrap().sync_state,
        SyncState::Synced
    );
}

/// A provider that hands out a revoked token first, then the real one.
struct RefreshingTokens {
    real: String,
    calls: std::sync::Mutex<Vec<Option<String>>>,
}

impl AuthTokenProvider for RefreshingTokens {
    fn token(&self, rejected: Option<String>) -> Result<String, String> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(rejected.clone());
        Ok(if rejected.is_some() {
            self.real.clone()
        } else {
            "revoked".to_string()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_asks_the_token_provider_once_more_then_reports_an_auth_error() {
    let env = Env::start(1, 5).await;
    let provider = Arc::new(RefreshingTokens {
        real: env.token(REQUESTER),
        calls: std::sync::Mutex::new(Vec::new()),
    });
    let client = ChatSyncClient::new(env.config(env.cache_path()), provider.clone()).unwrap();
    assert_eq!(client.refresh_tickets().await.unwrap().len(), 1);
    assert_eq!(
        provider.calls.lock().unwrap().as_slice(),
        &[None, Some("revoked".to_string())]
    );

    let bad = ChatSyncClient::new(
        env.config(env.cache_path()),
        Arc::new(StaticToken("nobody".into())),
    )
    .unwrap();
    let error = bad.refresh_tickets().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    // Network work stays stopped until new credentials.
    assert!(matches!(
        bad.manual_resync("x").await,
        Err(ClientError::Unauthorized(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_never_stored_and_the_cache_file_is_owner_only() {
    let (env, chat) = Env::single_chat(10).await;
    let path = cached_chat(&env, &chat).await;
    let token = env.token(REQUESTER);
    let mut bytes = std::fs::read(&path).unwrap();
    for suffix in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(format!("{}{suffix}", path.display())) {
            bytes.extend(more);
        }
    }
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token must not be in the cache"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "cache file mode {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_revalidation_fetches_metadata_only() {
    let (env, [a, b]) = Env::two_chats(10).await;
    let path = cached_chat(&env, &a).await;
    env.post_as_technician(&a, "new while in background").await;
    let client = env.client_at(path);
    let report = client
        .background_revalidate(Duration::from_secs(5))
        .await
        .unwrap();
    assert!(report.completed);
    assert_eq!(report.tickets, 2);
    assert_eq!(report.out_of_sync, vec![a.clone()]);
    assert!(
        !report.out_of_sync.contains(&b),
        "never cached: nothing to heal"
    );
    let stats = client.net_stats();
    assert_eq!(
        (stats.ticket_list_requests, stats.message_page_requests),
        (1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_clears_the_cache_and_stops_everything() {
    let (env, chat) = Env::single_chat(10).await;
    let path = cached_chat(&env, &chat).await;
    let client = env.client_at(path.clone());
    client.start();
    client.open_chat(&chat).unwrap();
    client.sign_out().await.unwrap();
    assert!(
        client
            .cache()
            .get_cached_messages(&chat, None)
            .unwrap()
            .is_empty()
    );
    assert!(client.cached_tickets().unwrap().is_empty());
    assert!(matches!(
        client.open_chat(&chat),
        Err(ClientError::SignedOut)
    ));
    let requests = env.server.stats();
    env.post_as_technician(&chat, "after sign-out").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        client
            .cache()
            .get_cached_messages(&chat, None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(env.server.stats().page_requests, requests.page_requests);
}

/// An in-memory legacy cache (what IndexedDB, Room or Core Data hold in an app).
#[derive(Default)]
struct MemoryLegacy {
    chats: std::sync::Mutex<std::collections::BTreeMap<String, Vec<ChatMessage>>>,
}

impl LegacyMessageCache for MemoryLegacy {
    fn chat_ids(&self) -> Result<Vec<String>, String> {
        Ok(self.chats.lock().unwrap().keys().cloned().collect())
    }
    fn get_cached_messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, String> {
        Ok(self
            .chats
            .lock()
            .unwrap()
            .get(request_id)
            .cloned()
            .unwrap_or_default())
    }
    fn put_messages(&self, request_id: &str, messages: Vec<ChatMessage>) -> Result<(), String> {
        let mut chats = self.chats.lock().unwrap();
        let chat = chats.entry(request_id.to_string()).or_default();
        for m in messages {
            chat.retain(|old| old.id != m.id);
            chat.push(m);
        }
        Ok(())
    }
    fn remove_messages(&self, request_id: &str, ids: Vec<String>) -> Result<(), String> {
        if let Some(chat) = self.chats.lock().unwrap().get_mut(request_id) {
            chat.retain(|m| !ids.contains(&m.id));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_bridge_imports_once_and_mirrors_writes_in_phase_two() {
    let (env, chat) = Env::single_chat(20).await;
    // An existing user's legacy cache: the first 20 messages, as the old app stored them.
    let source = env.client_at(env.cache_path());
    source.open_chat(&chat).unwrap();
    assert!(eventually(SETTLE, || cached_seqs(&source, &chat).len() == 20).await);
    let legacy = Arc::new(MemoryLegacy::default());
    legacy
        .put_messages(&chat, source.get_cached_messages(&chat, None).unwrap())
        .unwrap();

    let client = env.client_at(env.cache_path());
    let bridge = MessageCacheBridge::new(client.clone(), legacy.clone(), BridgePhase::default());
    assert_eq!(bridge.phase(), BridgePhase::WriteBothReadSqlite);
    let report = bridge.import_legacy();
    assert_eq!((report.chats, report.imported, report.skipped), (1, 20, 0));
    assert_eq!(
        bridge.import_legacy().imported,
        0,
        "a second import changes nothing"
    );
    client.refresh_tickets().await.unwrap();
    assert_eq!(
        client.open_chat(&chat).unwrap().meta.sync_state,
        SyncState::Synced
    );
    assert_eq!(
        client.net_stats().message_page_requests,
        0,
        "the import made the fetch unnecessary"
    );
    // Phase 2 mirrors new writes into the legacy cache and reads SQLite.
    client.start();
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    recorder.wait_realtime().await;
    env.post_as_technician(&chat, "mirrored").await;
    assert!(
        eventually(SETTLE, || legacy.get_cached_messages(&chat).unwrap().len()
            == 21)
        .await
    );
    assert_eq!(bridge.get_cached_messages(&chat).unwrap().len(), 21);
    let phase_one = MessageCacheBridge::new(
        client.clone(),
        legacy.clone(),
        BridgePhase::WriteBothReadLegacy,
    );
    assert_eq!(
        phase_one
            .get_cached_messages(&chat)
            .unwrap()
            .iter()
            .filter_map(|m| m.sequence_number)
            .collect::<Vec<_>>(),
        one_to(21)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_answers_are_errors_and_never_synced() {
    let (env, chat) = Env::single_chat(30).await;
    let path = cached_chat(&env, &chat).await;
    env.post_as_technician(&chat, "new").await;
    // An answer past the timeout.
    let slow = env.client_with(path.clone(), |c| {
        c.request_timeout = Duration::from_millis(300);
        c.retry_base = Duration::from_secs(30);
    });
    slow.update_backend_sequence(&chat, 31);
    env.server.faults().set_http_delay(Duration::from_secs(2));
    slow.open_chat(&chat).unwrap();
    let error = slow.manual_resync(&chat).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(slow.sync_state(&chat), SyncState::OutOfSync);
    assert_eq!(cached_seqs(&slow, &chat), one_to(30));
    env.server.faults().set_http_delay(Duration::ZERO);
    drop(slow);
    // A body over the client's cap (one message page is a few hundred bytes).
    let capped = env.client_with(path, |c| {
        c.max_body_bytes = 100;
        c.retry_base = Duration::from_secs(30);
    });
    capped.update_backend_sequence(&chat, 31);
    capped.open_chat(&chat).unwrap();
    let error = capped.manual_resync(&chat).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BadData, "{error}");
    assert!(error.to_string().contains("larger than"), "{error}");
    assert_eq!(capped.sync_state(&chat), SyncState::OutOfSync);
    assert_eq!(cached_seqs(&capped, &chat), one_to(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_outgoing_messages_are_refused_before_the_outbox() {
    let (env, chat) = Env::single_chat(1).await;
    let client = env.client_at(env.cache_path());
    for bad in [
        "",
        "   \n",
        &"x".repeat(chatsync::client::MAX_OUTGOING_CHARS + 1),
    ] {
        let error = client.send_message(&chat, bad).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    }
    assert!(
        client.cache().outbox().unwrap().is_empty(),
        "nothing was queued"
    );
    let longest = "é".repeat(chatsync::client::MAX_OUTGOING_CHARS);
    client.send_message(&chat, &longest).await.unwrap();
    assert_eq!(client.cache().outbox().unwrap().len(), 1);
}

/// `wait_until_settled` after `start()` does not return while the realtime socket is
/// still connecting: the connection's restore (every chat UNKNOWN, a fresh ticket
/// refresh) would otherwise flip the state it just returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_settled_waits_for_the_connecting_socket() {
    let (env, chat) = Env::single_chat(10).await;
    let path = cached_chat(&env, &chat).await;
    for launch in 0..30 {
        let client = env.client_at(path.clone());
        let (recorder, _subscription) = Recorder::attach(&client, None);
        client.start();
        client.open_chat(&chat).unwrap();
        let state = client.wait_until_settled(&chat, SETTLE).await;
        let now = client.sync_state(&chat);
        client.flush_observers();
        let connected = realtime_connected(&recorder.events());
        assert!(
            connected,
            "launch {launch}: returned before the socket was up"
        );
        assert_eq!(
            (state, now),
            (SyncState::Synced, SyncState::Synced),
            "launch {launch}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resync_button_reports_offline_even_on_a_synced_chat() {
    let (env, chat) = Env::single_chat(5).await;
    let client = cached_client(&env, &chat).await;
    client.open_chat(&chat).unwrap();
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
    client.on_connectivity_lost();
    let error = client.manual_resync(&chat).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network, "{error}");
    env.server
        .faults()
        .fail_next_http(1, Some(EndpointKind::Messages));
    client.on_connectivity_restored();
    client.refresh_tickets().await.unwrap();
    let error = client.manual_resync(&chat).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Server,
        "a failed round trip is reported: {error}"
    );
    assert_eq!(
        client.manual_resync(&chat).await.unwrap().sync_state,
        SyncState::Synced
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_backing_off_runs_again_when_connectivity_returns() {
    let (env, chat) = Env::single_chat(10).await;
    let path = cached_chat(&env, &chat).await;
    env.post_as_technician(&chat, "new").await;
    let client = env.client_with(path, |c| c.retry_base = Duration::from_secs(60));
    client.refresh_tickets().await.unwrap();
    env.server
        .faults()
        .fail_next_http(1, Some(EndpointKind::Messages));
    client.open_chat(&chat).unwrap();
    assert_eq!(
        client.wait_until_settled(&chat, SETTLE).await,
        SyncState::OutOfSync
    );
    client.on_connectivity_lost();
    client.on_connectivity_restored();
    settle(&client, &chat).await;
    assert_eq!(cached_seqs(&client, &chat), one_to(11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_makes_one_ticket_list_request_once_the_socket_is_up() {
    let (env, chat) = Env::single_chat(10).await;
    let client = cached_client(&env, &chat).await;
    let missed = env
        .post_as_technician(&chat, "sent while the app was closed")
        .await;
    let served_before = env.server.stats().ticket_list_requests;
    let (recorder, _subscription) = Recorder::attach(&client, Some(&chat));
    go_online(&client, &recorder, &chat).await;
    assert!(
        eventually(SETTLE, || cached_seqs(&client, &chat).last()
            == Some(&missed))
        .await
    );
    settle(&client, &chat).await;
    let stats = client.net_stats();
    assert_eq!(
        (stats.ticket_list_requests, stats.message_page_requests),
        (1, 1),
        "one list (after the socket), one page (the missed message)"
    );
    assert_eq!(env.server.stats().ticket_list_requests - served_before, 1);
}
