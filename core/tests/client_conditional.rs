//! Conditional GET of the ticket list (docs/protocol.md 6.1) end to end: the real
//! `ChatSyncClient` against the real reference server on loopback, with real SQLite
//! cache files. A refresh that finds nothing changed is a `304` answered from the
//! stored list; anything that changes the list is a full `200` with a new tag.

mod client_support;

use std::time::Duration;

use chatsync::SyncState;
use client_support::*;

const SETTLE: Duration = Duration::from_secs(10);

/// (ticket-list requests, of which 304) the server counted.
fn server_lists(env: &Env) -> (u64, u64) {
    let stats = env.server.stats();
    (stats.ticket_list_requests, stats.ticket_lists_not_modified)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_list_is_a_304_with_identical_tickets_and_a_change_is_a_200() {
    let env = Env::start(3, 20).await;
    let chat = env.tickets().await[0].clone();
    let client = env.client_at(env.cache_path());
    let first = client.refresh_tickets().await.unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(server_lists(&env), (1, 0));
    let tag = client.cache().ticket_list_etag().unwrap();
    assert!(tag.is_some(), "the list's ETag is stored with it");

    let bytes_before = client.net_stats().bytes_received;
    let second = client.refresh_tickets().await.unwrap();
    assert_eq!(second, first, "the same tickets, from the stored list");
    assert_eq!(server_lists(&env), (2, 1), "the second refresh was a 304");
    let stats = client.net_stats();
    assert_eq!(
        (stats.ticket_list_requests, stats.ticket_lists_not_modified),
        (2, 1)
    );
    assert_eq!(stats.bytes_received, bytes_before, "a 304 has no body");
    assert_eq!(client.cache().ticket_list_etag().unwrap(), tag);
    for t in &second {
        assert_eq!(
            client.get_sync_meta(&t.id).unwrap().last_known_backend_seq,
            Some(20)
        );
    }

    // A post changes the list: a full answer, a new tag, the new sequence learned.
    env.post_as_technician(&chat, "something new").await;
    let third = client.refresh_tickets().await.unwrap();
    assert_eq!(server_lists(&env), (3, 1), "a changed list is a 200");
    let changed = third.iter().find(|t| t.id == chat).unwrap();
    assert_eq!(changed.last_message_sequence, Some(21));
    assert_eq!(
        changed.last_message.as_ref().map(|m| m.content.as_str()),
        Some("something new")
    );
    let new_tag = client.cache().ticket_list_etag().unwrap();
    assert!(
        new_tag.is_some() && new_tag != tag,
        "a new tag: {new_tag:?}"
    );
    assert_eq!(
        client.get_sync_meta(&chat).unwrap().last_known_backend_seq,
        Some(21)
    );

    // And unchanged again: a 304 that gives back the changed list.
    let fourth = client.refresh_tickets().await.unwrap();
    assert_eq!(fourth, third);
    assert_eq!(server_lists(&env), (4, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_client_sends_the_stored_etag_and_validates_from_the_stored_list() {
    let env = Env::start(2, 30).await;
    let chat = env.tickets().await[0].clone();
    // An earlier run loaded the list and the whole chat, then the app was closed.
    let path = cached_chat(&env, &chat).await;
    let listed = server_lists(&env);
    let stored = {
        let client = env.client_at(path.clone());
        client.cached_tickets().unwrap()
    };

    let client = env.client_at(path.clone());
    let tickets = client.refresh_tickets().await.unwrap();
    assert_eq!(tickets, stored);
    assert_eq!(
        server_lists(&env),
        (listed.0 + 1, listed.1 + 1),
        "the new run's first refresh is a 304"
    );
    assert_eq!(client.net_stats().ticket_lists_not_modified, 1);
    // The engine learned the sequences from the stored list: a complete chat opens
    // SYNCED without a single page request.
    let pages = env.server.stats().page_requests;
    client.open_chat(&chat).unwrap();
    assert_eq!(
        client.wait_until_settled(&chat, SETTLE).await,
        SyncState::Synced
    );
    assert_eq!(env.server.stats().page_requests, pages);
    client.close_chat(&chat);
    drop(client);

    // A restore while the app is closed changes the list (a new history epoch and a
    // lower sequence): the next run gets a 200 and resyncs the chat.
    env.server.restore_ticket(&chat, 25).await.unwrap();
    env.post_as_technician(&chat, "after the restore").await;
    let client = env.client_at(path);
    let before = server_lists(&env);
    let tickets = client.refresh_tickets().await.unwrap();
    assert_eq!(server_lists(&env), (before.0 + 1, before.1));
    let entry = tickets.iter().find(|t| t.id == chat).unwrap();
    assert_eq!(entry.last_message_sequence, Some(26));
    client.open_chat(&chat).unwrap();
    assert_eq!(
        client.wait_until_settled(&chat, SETTLE).await,
        SyncState::Synced
    );
    let server = env.server_last(&chat).await;
    assert_eq!(cached_seqs(&client, &chat), one_to(server));
    let shown = client.get_cached_messages(&chat, None).unwrap();
    assert_eq!(
        shown.last().map(|m| m.content.as_str()),
        Some("after the restore")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_between_two_refreshes_never_lowers_what_the_client_knows() {
    let env = Env::start(2, 10).await;
    let chat = env.tickets().await[0].clone();
    let path = cached_chat(&env, &chat).await;
    let client = env.client_at(path);
    client.refresh_tickets().await.unwrap();
    let (_, not_modified) = server_lists(&env);
    assert_eq!(not_modified, 1, "the restarted client's refresh was a 304");

    // A push (delivered by the app) stores message 11 and raises the backend sequence;
    // the stored list still says 10: it is the server's last answer, untouched.
    let pushed = env.post_for_push(&chat, "pushed").await;
    client.on_new_message(pushed).unwrap();
    assert!(
        eventually(SETTLE, || client
            .get_sync_meta(&chat)
            .unwrap()
            .last_known_backend_seq
            == Some(11))
        .await
    );
    let stored = client.cached_tickets().unwrap();
    let entry = stored.iter().find(|t| t.id == chat).unwrap();
    assert_eq!(entry.last_message_sequence, Some(10));

    // The server's list changed with the post, so its tag did: the refresh is a 200
    // (never a 304 that would replay the stored 10), and the chat stays at 11.
    let tickets = client.refresh_tickets().await.unwrap();
    assert_eq!(server_lists(&env).1, not_modified, "no 304 this time");
    let entry = tickets.iter().find(|t| t.id == chat).unwrap();
    assert_eq!(entry.last_message_sequence, Some(11));
    assert_eq!(
        client.get_sync_meta(&chat).unwrap().last_known_backend_seq,
        Some(11)
    );
    client.open_chat(&chat).unwrap();
    assert_eq!(
        client.wait_until_settled(&chat, SETTLE).await,
        SyncState::Synced
    );
    assert_eq!(cached_seqs(&client, &chat), one_to(11));

    // Unchanged since: a 304, and the chat is still SYNCED at 11.
    client.refresh_tickets().await.unwrap();
    assert_eq!(server_lists(&env).1, not_modified + 1);
    assert_eq!(
        client.get_sync_meta(&chat).unwrap().last_known_backend_seq,
        Some(11)
    );
    assert_eq!(client.sync_state(&chat), SyncState::Synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_forgets_the_etag_with_the_list() {
    let env = Env::start(2, 5).await;
    let path = env.cache_path();
    let client = env.client_at(path.clone());
    client.refresh_tickets().await.unwrap();
    assert!(client.cache().ticket_list_etag().unwrap().is_some());
    client.sign_out().await.unwrap();
    assert_eq!(client.cache().ticket_list_etag().unwrap(), None);
    assert!(client.cached_tickets().unwrap().is_empty());
    drop(client);

    // The next user of the file asks in full.
    let before = server_lists(&env);
    let client = env.client_at(path);
    let tickets = client.refresh_tickets().await.unwrap();
    assert_eq!(tickets.len(), 2);
    assert_eq!(
        server_lists(&env),
        (before.0 + 1, before.1),
        "a 200, not a 304"
    );
    assert_eq!(client.net_stats().ticket_lists_not_modified, 0);
    assert!(client.cache().ticket_list_etag().unwrap().is_some());
}
