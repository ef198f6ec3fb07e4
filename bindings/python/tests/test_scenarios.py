"""The bindings from Python against the real reference server on loopback."""

import threading

import pytest

import chatsync
from chatsync import ChatSyncError, SyncState, MessageStatus
from conftest import (SETTLE_MS, Recorder, StaticToken, cached_seqs, eventually, realtime_up, run,
                      states)


def first_chat(client):
    return run(client.refresh_tickets())[0].id


def test_open_reaches_synced_and_a_valid_cache_opens_synced_with_zero_requests(make_client):
    client = make_client()
    chat = first_chat(client)
    opened = client.open_chat(chat)
    assert opened.messages == [], "nothing cached yet: the open starts the initial load"
    assert opened.meta.sync_state != SyncState.SYNCED
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    assert cached_seqs(client, chat) == list(range(1, 21))
    client.shutdown()

    again = make_client()  # same cache file
    reopened = again.open_chat(chat)
    assert reopened.meta.sync_state == SyncState.SYNCED
    assert len(reopened.messages) == 20
    assert not reopened.is_syncing
    assert again.net_stats().http_requests == 0


def test_a_lost_push_fetches_exactly_the_missing_messages(server, make_client):
    client = make_client()
    chat = first_chat(client)
    client.open_chat(chat)
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    recorder = Recorder()
    handle = client.subscribe(recorder, chat)
    client.start()
    assert recorder.wait_for(realtime_up)
    before = client.net_stats()
    server.admin("POST", "/admin/v1/faults/drop-push", {"requestId": chat, "sequence": 21})
    assert server.post_as_technician(chat, "lost 21") == 21
    assert server.post_as_technician(chat, "arrives 22") == 22
    assert eventually(lambda: cached_seqs(client, chat) == list(range(1, 23)))
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    after = client.net_stats()
    assert after.message_page_requests - before.message_page_requests == 1
    assert after.messages_fetched - before.messages_fetched == 1, "exactly message 21"
    assert server.stats()["pushesDropped"] >= 1
    assert SyncState.OUT_OF_SYNC in states(recorder.snapshot(), chat)
    handle.cancel()


def test_observers_get_state_changes_on_rust_background_threads(make_client):
    client = make_client()
    chat = first_chat(client)
    recorder = Recorder()
    handle = client.subscribe(recorder, chat)
    client.open_chat(chat)
    assert recorder.wait_for(lambda events: SyncState.SYNCED in states(events, chat))
    seen = states(recorder.snapshot(), chat)
    assert seen[0] == SyncState.UNKNOWN, "the snapshot comes first"
    assert seen[-1] == SyncState.SYNCED
    assert threading.get_ident() not in recorder.threads
    # The syncing flag is on only while a resync runs: the manual resync turns it on, then off.
    run(client.manual_resync(chat))
    assert recorder.wait_for(lambda events: any(
        e.is_syncing_changed() and e.syncing for e in events))
    assert recorder.wait_for(lambda events: [e.syncing for e in events if e.is_syncing_changed()][-1] is False)
    handle.cancel()


def test_errors_are_exceptions_with_readable_messages(server, make_client, tmp_path):
    client = make_client()
    with pytest.raises(ChatSyncError.InvalidArgument) as invalid:
        client.open_chat("")
    assert str(invalid.value) == "invalid argument: a chat id must be 1..=256 bytes"

    with pytest.raises(ChatSyncError.InvalidArgument, match="a message needs some text"):
        run(client.send_message("some-chat", "   "))

    rejected = make_client("other.sqlite", token=StaticToken("not-a-valid-token"))
    with pytest.raises(ChatSyncError.Unauthorized) as unauthorized:
        run(rejected.refresh_tickets())
    assert str(unauthorized.value).startswith("not authorized")

    class Broken(chatsync.AuthTokenProvider):
        def token(self, rejected):
            raise RuntimeError("the keystore is locked")

    broken = make_client("broken.sqlite", token=Broken())
    with pytest.raises(ChatSyncError.Unauthorized, match="the keystore is locked"):
        run(broken.refresh_tickets())

    config = chatsync.default_client_config("http://127.0.0.1:1", str(tmp_path / "offline.sqlite"))
    config.connect_timeout_ms = 2000
    offline = chatsync.ChatSyncClient(config, StaticToken("t"))
    with pytest.raises(ChatSyncError.Network, match="^network unavailable"):
        run(offline.refresh_tickets())
    offline.shutdown()

    bad = chatsync.default_client_config(server.base_url, None)
    bad.page_size = 0
    with pytest.raises(ChatSyncError.InvalidArgument, match="page_size"):
        chatsync.ChatSyncClient(bad, StaticToken("t"))

    with pytest.raises(ChatSyncError.NotFound):
        run(client.manual_resync("no-such-ticket"))


def test_send_goes_through_the_outbox_and_the_server_copy_replaces_the_local_one(server, make_client):
    client = make_client()
    chat = first_chat(client)
    client.open_chat(chat)
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    recorder = Recorder()
    handle = client.subscribe(recorder, chat)
    client.start()
    server.admin("POST", "/admin/v1/faults/fail-http", {"count": 1, "target": "send"})
    local = run(client.send_message(chat, "hello from python"))
    assert local.status == MessageStatus.PENDING
    assert local.sequence_number is None
    assert local.client_temp_id
    sent = None
    for _ in range(20):
        sent = run(client.wait_for_send(chat, local.client_temp_id, SETTLE_MS))
        if sent.status == MessageStatus.SENT:
            break
    assert sent.status == MessageStatus.SENT
    assert sent.sequence_number == 21
    assert sent.content == "hello from python"
    assert server.stats()["httpFailuresInjected"] == 1, "the first attempt failed and was retried"
    client.flush_observers()
    changes = [e for e in recorder.snapshot() if e.is_messages_changed()]
    assert any(local.id in [m.id for m in e.inserted] for e in changes)
    assert any(local.id in e.removed_ids for e in changes)
    mine = [m for m in client.get_cached_messages(chat, None) if m.client_temp_id == local.client_temp_id]
    assert [m.sequence_number for m in mine] == [21], "one copy, the server's"
    handle.cancel()


def test_cancelling_a_subscription_stops_delivery(server, make_client):
    client = make_client()
    chat = first_chat(client)
    client.open_chat(chat)
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    kept, cancelled = Recorder(), Recorder()
    kept_handle = client.subscribe(kept, chat)
    cancelled_handle = client.subscribe(cancelled, chat)
    client.start()
    assert cancelled.wait_for(realtime_up)
    client.flush_observers()
    cancelled_handle.cancel()
    assert not cancelled_handle.is_active()
    count = len(cancelled.snapshot())
    server.post_as_technician(chat, "after cancel")
    assert kept.wait_for(lambda events: any(
        e.is_messages_changed() and any(m.sequence_number == 21 for m in e.inserted) for e in events))
    client.flush_observers()
    assert len(cancelled.snapshot()) == count
    # Dropping the last reference unsubscribes as well.
    dropped = Recorder()
    dropped_handle = client.subscribe(dropped, chat)
    client.flush_observers()
    del dropped_handle
    count = len(dropped.snapshot())
    server.post_as_technician(chat, "after drop")
    assert kept.wait_for(lambda events: any(
        e.is_messages_changed() and any(m.sequence_number == 22 for m in e.inserted) for e in events))
    client.flush_observers()
    assert len(dropped.snapshot()) == count
    assert kept_handle.is_active()


class Sink(chatsync.LogSink):
    def __init__(self):
        self.records = []
        self.lock = threading.Lock()

    def log(self, record):
        with self.lock:
            self.records.append(record)


def test_logs_reach_the_sink_filtered_by_level_and_never_hold_tokens(server, make_client):
    sink = Sink()
    chatsync.set_log_sink(sink, chatsync.LogLevel.TRACE)
    try:
        client = make_client()
        chat = first_chat(client)
        client.start()
        client.open_chat(chat)
        assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
        client.update_backend_sequence(chat, -5)  # logged as a warning by the core
        rejected = make_client("other.sqlite", token=StaticToken("wrong-token-1234"))
        with pytest.raises(ChatSyncError.Unauthorized):
            run(rejected.refresh_tickets())
        chatsync.set_log_level(chatsync.LogLevel.ERROR)
        client.update_backend_sequence(chat, -6)  # a warning: filtered out now
    finally:
        chatsync.clear_log_sink()
    with sink.lock:
        records = list(sink.records)
    assert records, "the core logged something"
    warnings = [r for r in records if r.level == chatsync.LogLevel.WARN and "negative backend sequence" in r.text]
    assert [r.text for r in warnings if "-5" in r.text] and not [r for r in warnings if "-6" in r.text]
    assert all(r.target for r in records), "every record names where it comes from"
    assert any(r.target.startswith("chatsync") for r in records)
    for record in records:
        assert server.token() not in record.text
        assert "wrong-token-1234" not in record.text


def test_the_migration_bridge_imports_and_mirrors(server, make_client):
    client = make_client()
    chat = first_chat(client)
    source = make_client("source.sqlite")
    source.open_chat(chat)
    assert run(source.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    legacy_messages = source.get_cached_messages(chat, None)[:10]

    class Legacy(chatsync.LegacyMessageCache):
        def __init__(self):
            self.store = {chat: {m.id: m for m in legacy_messages}}

        def chat_ids(self):
            return list(self.store)

        def get_cached_messages(self, request_id):
            return list(self.store.get(request_id, {}).values())

        def put_messages(self, request_id, messages):
            self.store.setdefault(request_id, {}).update({m.id: m for m in messages})

        def remove_messages(self, request_id, ids):
            for i in ids:
                self.store.get(request_id, {}).pop(i, None)

    legacy = Legacy()
    bridge = chatsync.MessageCacheBridge(client, legacy, chatsync.BridgePhase.WRITE_BOTH_READ_SQLITE)
    assert bridge.phase() == chatsync.BridgePhase.WRITE_BOTH_READ_SQLITE
    report = bridge.import_legacy()
    assert (report.chats, report.imported, report.skipped, report.failed_chats) == (1, 10, 0, [])
    assert cached_seqs(client, chat) == list(range(1, 11))
    repeat = bridge.import_legacy()  # upserts: importing again adds no row
    assert (repeat.chats, repeat.skipped, repeat.failed_chats) == (1, 0, [])
    assert cached_seqs(client, chat) == list(range(1, 11))
    client.open_chat(chat)
    assert run(client.wait_until_settled(chat, SETTLE_MS)) == SyncState.SYNCED
    client.flush_observers()
    assert sorted(m.sequence_number for m in legacy.store[chat].values()) == list(range(1, 21))
    assert [m.sequence_number for m in bridge.get_cached_messages(chat)] == list(range(1, 21))
