// The ChatSync layer against the real reference server on loopback: a real Rust
// client (chatsync-ffi), a real SQLite cache file, a real `chatsync-server` process.

import Foundation
import Observation
import XCTest

@testable import ChatSync

/// One test's server, client and ticket ids; everything is stopped at teardown.
struct Env {
    let server: ReferenceServer
    let chatSync: ChatSync
    let ids: [String]
    let cacheURL: URL

    /// Starts a server with `tickets` x `messages`, and a client with a fresh cache
    /// file, quick retries and a short gap grace.
    static func start(
        _ test: XCTestCase,
        isolation: isolated (any Actor)? = #isolation,
        tickets: Int = 2,
        messages: Int = 30,
        token: (@Sendable (String?) throws -> String)? = nil,
        configure: (inout ClientConfig) -> Void = { _ in }
    ) async throws -> Env {
        let server = try ReferenceServer(tickets: tickets, messages: messages)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("chatsync-swift-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cacheURL = directory.appendingPathComponent("cache.sqlite")
        let requesterToken = server.requester.token
        let chatSync = try ChatSync(
            baseURL: server.baseURL,
            cacheURL: cacheURL,
            configure: { config in
                config.gapGraceMs = 300
                config.retryBaseMs = 100
                config.retryCapMs = 1_000
                config.reconnectBaseMs = 100
                config.requestTimeoutMs = 5_000
                config.connectTimeoutMs = 2_000
                configure(&config)
            },
            token: token ?? { _ in requesterToken }
        )
        test.addTeardownBlock {
            chatSync.shutdown()
            server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let ids = try await server.ticketIds()
        return Env(server: server, chatSync: chatSync, ids: ids, cacheURL: cacheURL)
    }

    /// Starts the client, waits for the realtime socket, opens `chat` and waits
    /// until it is SYNCED.
    func openSynced(_ chat: String) async throws {
        let connection = chatSync.connectionChanges()
        chatSync.start()
        _ = try chatSync.openChat(chat)
        _ = try await collect(connection, "the realtime socket") { $0.realtimeConnected }
        // The socket's arrival counts as connectivity restored (every chat UNKNOWN until
        // the fresh ticket list): SYNCED is awaited after it, from a new subscription.
        let states = chatSync.syncStates(for: chat)
        _ = try await collect(states, "\(chat) SYNCED") { $0 == .synced }
    }
}

final class ChatSyncTests: XCTestCase {
    // MARK: open -> SYNCED

    func testOpenLoadsTheChatAndReachesSynced() async throws {
        let env = try await Env.start(self, tickets: 2, messages: 30)
        let chat = env.ids[0]
        let states = env.chatSync.syncStates(for: chat)
        env.chatSync.start()

        let opened = try env.chatSync.openChat(chat)
        XCTAssertTrue(opened.messages.isEmpty, "a fresh cache holds nothing yet")
        let seen = try await collect(states, "SYNCED") { $0 == .synced }
        XCTAssertEqual(seen.first, .unknown, "the snapshot comes first")
        XCTAssertFalse(seen.dropLast().contains(.synced))

        let messages = try await env.chatSync.cachedMessages(chat)
        XCTAssertEqual(messages.compactMap(\.sequenceNumber), Array(1...30))
        XCTAssertEqual(try env.chatSync.syncMeta(chat).lastKnownBackendSeq, 30)
        XCTAssertEqual(env.chatSync.syncState(chat), .synced)
        XCTAssertFalse(env.chatSync.isSyncing(chat))

        // Reopening a proven-complete chat fetches nothing.
        let before = env.chatSync.netStats
        env.chatSync.closeChat(chat)
        let reopened = try env.chatSync.openChat(chat)
        XCTAssertEqual(reopened.messages.count, 30)
        let settled = await env.chatSync.waitUntilSettled(chat, timeout: .seconds(15))
        XCTAssertEqual(settled, .synced)
        XCTAssertEqual(env.chatSync.netStats.messagePageRequests, before.messagePageRequests)
    }

    // MARK: a lost push -> exactly the missing messages

    func testLostPushesFetchExactlyTheMissingMessages() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 10)
        let chat = env.ids[0]
        try await env.openSynced(chat)
        let states = env.chatSync.syncStates(for: chat)
        let before = env.chatSync.netStats

        try await env.server.admin("faults/drop-pushes", ["count": 2, "kind": "message.new"])
        try await env.server.postAsTechnician(chat, "lost 11")
        try await env.server.postAsTechnician(chat, "lost 12")
        let arrives = try await env.server.postAsTechnician(chat, "arrives 13")
        XCTAssertEqual(arrives, 13)

        let seen = try await collect(states, "OUT_OF_SYNC then SYNCED") { [seenOut = Flag()] state in
            if state == .outOfSync { seenOut.set() }
            return seenOut.isSet && state == .synced
        }
        XCTAssertEqual(seen.first, .synced, "the snapshot")
        XCTAssertTrue(seen.contains(.outOfSync), "the gap was detected: \(seen)")
        XCTAssertEqual(seen.last, .synced)

        let messages = try await env.chatSync.cachedMessages(chat)
        XCTAssertEqual(messages.compactMap(\.sequenceNumber), Array(1...13))
        let after = env.chatSync.netStats
        XCTAssertEqual(after.messagePageRequests - before.messagePageRequests, 1, "one page request")
        XCTAssertEqual(after.messagesFetched - before.messagesFetched, 2, "exactly 11 and 12")
        let stats = try await env.server.stats()
        XCTAssertEqual(stats["pushesDropped"], 2)
    }

    // MARK: streams from Rust background threads

    func testStreamsDeliverStateChangesFromRustThreads() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 10)
        let chat = env.ids[0]
        try await env.openSynced(chat)

        let recorder = ThreadRecorder()
        let handle = env.chatSync.client.subscribe(observer: recorder, requestId: chat)
        defer { handle.cancel() }
        let syncing = env.chatSync.syncingChanges(for: chat)
        let changes = env.chatSync.messageChanges(for: chat)

        let meta = try await env.chatSync.manualResync(chat)
        XCTAssertEqual(meta.syncState, .synced)
        let flags = try await collect(syncing, "syncing on and off") { [wasOn = Flag()] on in
            if on { wasOn.set() }
            return wasOn.isSet && !on
        }
        XCTAssertEqual(flags, [false, true, false], "the indicator shows only while the resync runs")

        try await env.server.postAsTechnician(chat, "pushed 11")
        let change = try await collect(changes, "the pushed message") { change in
            change.inserted.contains { $0.sequenceNumber == 11 }
        }.last
        XCTAssertEqual(change?.inserted.first { $0.sequenceNumber == 11 }?.content, "pushed 11")

        env.chatSync.client.flushObservers()
        let threads = recorder.threads
        XCTAssertFalse(threads.isEmpty)
        XCTAssertFalse(recorder.sawMainThread, "events come from the core's dispatch thread")
        XCTAssertEqual(Set(threads).count, 1, "one dispatch thread, in order: \(Set(threads))")
    }

    // MARK: errors arrive as Swift errors

    func testErrorsArriveAsSwiftErrors() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 5, configure: { config in
            config.retryBaseMs = 60_000 // one attempt per run
        })
        let chat = env.ids[0]

        // Bad input, synchronously.
        XCTAssertThrowsError(try env.chatSync.openChat("")) { error in
            XCTAssertEqual((error as? ChatSyncError)?.kind, .invalidArgument, "\(error)")
        }

        try await env.openSynced(chat)

        // The app learns (e.g. from its own ticket query) of a message whose push was
        // lost, while the server fails every page request: the chat is OUT_OF_SYNC,
        // its resync fails in the background and the resync button throws.
        let failures = env.chatSync.failures(for: chat)
        try await env.server.admin("faults/drop-pushes", ["count": 10, "kind": "any"])
        let missing = try await env.server.postAsTechnician(chat, "its push is lost")
        try await env.server.admin("faults/fail-http", ["count": 10, "target": "messages"])
        env.chatSync.updateBackendSequence(chat, to: missing)
        XCTAssertEqual(env.chatSync.syncState(chat), .outOfSync)
        let reported = try await collect(failures, "the background failure") { _ in true }
        XCTAssertEqual(reported.first?.error.kind, .server)
        XCTAssertEqual(reported.first?.requestId, chat)
        do {
            try await env.chatSync.manualResync(chat)
            XCTFail("a resync against a failing server must throw")
        } catch let error as ChatSyncError {
            XCTAssertEqual(error.kind, .server, "\(error)")
            XCTAssertFalse(error.message.isEmpty)
            XCTAssertEqual(error.localizedDescription, error.message)
        }
        XCTAssertEqual(env.chatSync.syncState(chat), .outOfSync, "never SYNCED on a failed run")
        try await env.server.admin("faults/reset")

        // Offline: the resync button says so.
        env.chatSync.onConnectivityLost()
        do {
            try await env.chatSync.manualResync(chat)
            XCTFail("a resync while offline must throw")
        } catch let error as ChatSyncError {
            XCTAssertEqual(error.kind, .network, "\(error)")
        }

        // Back online, the button heals the chat (the background retry waits out its
        // 60 s backoff in this test).
        env.chatSync.onConnectivityRestored()
        let meta = try await env.chatSync.manualResync(chat)
        XCTAssertEqual(meta.syncState, .synced)
        XCTAssertEqual(env.chatSync.syncState(chat), .synced)
        let messages = try await env.chatSync.cachedMessages(chat)
        XCTAssertEqual(messages.compactMap(\.sequenceNumber), Array(1...missing))
    }

    func testRejectedCredentialsThrowUnauthorized() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 1, token: { _ in "not-a-valid-token" })
        do {
            _ = try await env.chatSync.refreshTickets()
            XCTFail("a wrong token must be refused")
        } catch let error as ChatSyncError {
            XCTAssertEqual(error.kind, .unauthorized, "\(error)")
        }
    }

    // MARK: send with the outbox

    func testSendQueuesInTheOutboxAndDeliversWhenOnline() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 10)
        let chat = env.ids[0]
        try await env.openSynced(chat)
        let changes = env.chatSync.messageChanges(for: chat)

        env.chatSync.onConnectivityLost()
        let local = try await env.chatSync.send("hello from Swift", to: chat)
        XCTAssertEqual(local.status, .pending)
        XCTAssertNil(local.sequenceNumber)
        let tempId = try XCTUnwrap(local.clientTempId)
        let queued = try await env.chatSync.cachedMessages(chat)
        XCTAssertEqual(queued.last?.clientTempId, tempId, "stored in the outbox at once")
        var stats = try await env.server.stats()
        XCTAssertEqual(stats["sendRequests"], 0, "nothing is sent while offline")

        env.chatSync.onConnectivityRestored()
        let sent = try await env.chatSync.waitForSend(chat, clientTempId: tempId, timeout: .seconds(15))
        XCTAssertEqual(sent.status, .sent)
        XCTAssertEqual(sent.sequenceNumber, 11)
        XCTAssertEqual(sent.content, "hello from Swift")

        let seen = try await collect(changes, "the server copy") { change in
            change.inserted.contains { $0.sequenceNumber == 11 } || change.updated.contains { $0.sequenceNumber == 11 }
        }
        XCTAssertTrue(seen.contains { $0.inserted.contains { $0.clientTempId == tempId && $0.status == .pending } },
                      "the optimistic copy appeared first")
        let messages = try await env.chatSync.cachedMessages(chat)
        XCTAssertEqual(messages.filter { $0.content == "hello from Swift" }.count, 1, "one row after delivery")
        XCTAssertEqual(messages.compactMap(\.sequenceNumber), Array(1...11))
        stats = try await env.server.stats()
        XCTAssertEqual(stats["messagesCreated"], 1)
    }

    // MARK: cancelling a stream unsubscribes

    func testCancellingAStreamUnsubscribes() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 3)
        let chat = env.ids[0]
        env.chatSync.start()
        let baseline = LiveObservers.shared.current

        // A consumer task that is cancelled: its loop ends, the core drops the observer.
        let consumer = Task {
            var count = 0
            for await _ in env.chatSync.events(for: chat) { count += 1 }
            return count
        }
        let subscribed = await eventually { LiveObservers.shared.current == baseline + 1 }
        XCTAssertTrue(subscribed)
        consumer.cancel()
        let delivered = await consumer.value
        XCTAssertGreaterThan(delivered, 0, "the snapshot arrived before the cancel")
        let released = await eventually { LiveObservers.shared.current == baseline }
        XCTAssertTrue(released, "the core released the observer: \(LiveObservers.shared.current) vs \(baseline)")

        // A stream that is simply dropped unsubscribes as well.
        do {
            let dropped = env.chatSync.syncStates(for: chat)
            XCTAssertEqual(LiveObservers.shared.current, baseline + 1)
            _ = dropped
        }
        let droppedReleased = await eventually { LiveObservers.shared.current == baseline }
        XCTAssertTrue(droppedReleased)

        // When the client goes away first, its streams finish instead of hanging.
        var client: ChatSync? = try ChatSync(
            baseURL: env.server.baseURL, cacheURL: nil, token: { _ in "unused" }
        )
        let orphan = try XCTUnwrap(client).events(for: chat)
        client = nil
        let ended = await streamEnds(orphan, within: .seconds(10))
        XCTAssertTrue(ended, "a stream whose client was released finishes")
    }
}

/// A one-way flag usable from `@Sendable` closures.
final class Flag: @unchecked Sendable {
    // @unchecked: `value` is read and written under `lock` only.
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// Records which thread delivered each event.
final class ThreadRecorder: SyncObserver, @unchecked Sendable {
    // @unchecked: the arrays are read and written under `lock` only.
    private let lock = NSLock()
    private var names: [String] = []
    private var main = false

    func onEvent(event: SyncEvent) throws {
        let thread = Thread.current
        let name = thread.name ?? "\(Unmanaged.passUnretained(thread).toOpaque())"
        lock.lock()
        names.append(name)
        main = main || Thread.isMainThread
        lock.unlock()
    }

    var threads: [String] { lock.lock(); defer { lock.unlock() }; return names }
    var sawMainThread: Bool { lock.lock(); defer { lock.unlock() }; return main }
}
