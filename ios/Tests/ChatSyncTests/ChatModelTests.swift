// The SwiftUI-facing pieces against the real server: the Observation chat model,
// the connectivity debouncer and the background revalidation entry point.

import Foundation
import Observation
import XCTest

@testable import ChatSync

final class ChatModelTests: XCTestCase {
    func testModelFollowsTheChatLikeTheSeedHook() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 10)
        try await Self.followTheChat(env)
    }

    /// The model scenario, on the main actor like a SwiftUI view.
    @MainActor
    private static func followTheChat(_ env: Env) async throws {
        let chat = env.ids[0]
        env.chatSync.start()
        let model = ChatModel(chatSync: env.chatSync, requestId: chat)
        let running = Task { await model.run() }

        let synced = await eventually { model.syncState == .synced && model.cachedMessages.count == 10 }
        XCTAssertTrue(synced, "state \(model.syncState), \(model.cachedMessages.count) messages")
        XCTAssertEqual(model.cachedMessages.compactMap(\.sequenceNumber), Array(1...10))
        XCTAssertTrue(model.isOpen)
        XCTAssertFalse(model.isSyncing)

        // Observation: a pushed message changes `cachedMessages` and notifies the view.
        let notified = Flag()
        withObservationTracking {
            _ = model.cachedMessages
        } onChange: {
            notified.set()
        }
        try await env.server.postAsTechnician(chat, "pushed to the model")
        let pushed = await eventually { notified.isSet && model.cachedMessages.count == 11 }
        XCTAssertTrue(pushed)
        XCTAssertEqual(model.cachedMessages.last?.content, "pushed to the model")

        // The resync button: runs, ends not syncing, no error.
        await model.manualResync()
        XCTAssertNil(model.lastError)
        let idle = await eventually { !model.isSyncing && model.syncState == .synced }
        XCTAssertTrue(idle)

        // Sending: the optimistic copy at once, replaced by the server's copy.
        let local = await model.send("sent from the model")
        XCTAssertEqual(local?.status, .pending)
        let delivered = await eventually {
            model.cachedMessages.last?.content == "sent from the model" && model.cachedMessages.last?.status == .sent
        }
        XCTAssertTrue(delivered, "\(String(describing: model.cachedMessages.last))")
        XCTAssertEqual(model.cachedMessages.filter { $0.content == "sent from the model" }.count, 1)
        XCTAssertEqual(model.cachedMessages.compactMap(\.sequenceNumber), Array(1...12))

        // refreshCachedMessages reads what the cache holds.
        await model.refreshCachedMessages()
        let stored = try await env.chatSync.cachedMessages(chat, limit: 200)
        XCTAssertEqual(model.cachedMessages.map(\.id), stored.map(\.id))

        // Errors land in lastError; connectivity in isOnline. A lost push the app
        // learns of while offline makes the chat OUT_OF_SYNC; the button reports why.
        try await env.server.admin("faults/drop-pushes", ["count": 10, "kind": "any"])
        let missing = try await env.server.postAsTechnician(chat, "lost while offline")
        env.chatSync.onConnectivityLost()
        env.chatSync.updateBackendSequence(chat, to: missing)
        await model.manualResync()
        XCTAssertEqual((model.lastError as? ChatSyncError)?.kind, .network, "\(String(describing: model.lastError))")
        let offline = await eventually { !model.isOnline && model.syncState == .outOfSync }
        XCTAssertTrue(offline, "online \(model.isOnline), \(model.syncState)")

        // Back online: the model heals with the chat.
        env.chatSync.onConnectivityRestored()
        let healed = await eventually {
            model.isOnline && model.syncState == .synced && model.cachedMessages.last?.sequenceNumber == missing
        }
        XCTAssertTrue(healed, "\(model.syncState), last \(String(describing: model.cachedMessages.last?.sequenceNumber))")
        await model.manualResync()
        XCTAssertNil(model.lastError, "a successful resync clears the error")

        // The view goes away: run() returns and the chat is closed.
        running.cancel()
        await running.value
        XCTAssertFalse(model.isOpen)
    }

    func testMessageListOrdersBySequenceThenLocalRows() throws {
        func message(_ id: String, _ seq: Int64?, _ content: String = "") -> ChatMessage {
            ChatMessage(
                id: id, requestId: "chat", senderId: nil, sender: nil, content: content, sequenceNumber: seq,
                isScreenshot: false, screenshotFileName: nil, isReadByCurrentUser: true, createdAt: "2026-01-01T00:00:00Z",
                updatedAt: nil, status: seq == nil ? .pending : .sent, tempId: nil, clientTempId: seq == nil ? id : nil,
                isSystemMessage: false, fileName: nil, fileSize: nil, fileMimeType: nil, cachedAt: 0
            )
        }
        var list = MessageList.merge([message("b", 2), message("local-1", nil), message("a", 1)], into: [])
        XCTAssertEqual(list.map(\.id), ["a", "b", "local-1"])
        list = MessageList.apply(
            MessageChange(requestId: "chat", inserted: [message("local-2", nil), message("c", 3, "server copy")],
                          updated: [message("a", 1, "edited")], removedIds: ["local-1"]),
            to: list
        )
        XCTAssertEqual(list.map(\.id), ["a", "b", "c", "local-2"])
        XCTAssertEqual(list.first?.content, "edited")
        // Applying the same change again changes nothing (idempotent merge).
        let again = MessageList.apply(
            MessageChange(requestId: "chat", inserted: [message("c", 3, "server copy")], updated: [], removedIds: ["local-1"]),
            to: list
        )
        XCTAssertEqual(again, list)
    }

    func testDurationsBecomeWholeMilliseconds() {
        XCTAssertEqual(Duration.seconds(20).wholeMilliseconds, 20_000)
        XCTAssertEqual(Duration.milliseconds(1_500).wholeMilliseconds, 1_500)
        XCTAssertEqual(Duration.microseconds(1_999).wholeMilliseconds, 1)
        XCTAssertEqual(Duration.milliseconds(-5).wholeMilliseconds, 0, "negative clamps to zero")
        XCTAssertEqual(Duration.seconds(Int64.max).wholeMilliseconds, .max, "overflow clamps")
    }

    func testConnectivityDebouncerDrivesTheCore() async throws {
        let env = try await Env.start(self, tickets: 1, messages: 1)
        env.chatSync.start()
        let connection = env.chatSync.connectionChanges()
        let debouncer = ConnectivityDebouncer(chatSync: env.chatSync, restoreDelay: .milliseconds(300))

        debouncer.observe(online: true) // the first observation: the core starts online
        debouncer.observe(online: false) // lost: reported at once
        debouncer.observe(online: true) // a flap shorter than the delay: not reported
        debouncer.observe(online: false)
        try await Task.sleep(for: .milliseconds(500))
        debouncer.observe(online: true) // stays up: restored after the delay
        debouncer.observe(online: true)

        let seen = try await collect(connection, "offline, then online again") { [wentOff = Flag()] status in
            if !status.online { wentOff.set() }
            return wentOff.isSet && status.online
        }
        var online: [Bool] = []
        for status in seen where online.last != status.online { online.append(status.online) }
        XCTAssertEqual(online, [true, false, true], "\(seen)")
        try await Task.sleep(for: .milliseconds(400))
        let snapshot = try await collect(env.chatSync.connectionChanges(), "a snapshot") { _ in true }
        XCTAssertEqual(snapshot.first?.online, true, "no late loss after the restore")
    }

    func testBackgroundRevalidateReportsIncompleteChatsWithoutFetching() async throws {
        let env = try await Env.start(self, tickets: 2, messages: 5)
        let chat = env.ids[0]
        try await env.openSynced(chat)
        env.chatSync.closeChat(chat)
        try await env.server.admin("faults/drop-pushes", ["count": 10, "kind": "any"])
        try await env.server.postAsTechnician(chat, "while the app sleeps")
        let before = env.chatSync.netStats

        let report = try await env.chatSync.backgroundRevalidate(budget: .seconds(10))
        XCTAssertTrue(report.completed)
        XCTAssertEqual(report.tickets, 2)
        XCTAssertEqual(report.outOfSync, [chat])
        let after = env.chatSync.netStats
        XCTAssertEqual(after.messagePageRequests, before.messagePageRequests, "metadata only")
        XCTAssertGreaterThan(after.ticketListRequests, before.ticketListRequests)
    }
}
