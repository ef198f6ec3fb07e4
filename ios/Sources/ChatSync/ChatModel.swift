// An Observation model of one chat for SwiftUI: what the seed's `useChatSync` hook
// exposes (syncState, isSyncing, manualResync, cachedMessages, refreshCachedMessages).

import ChatSyncBindings
import Observation

/// One chat's state for a SwiftUI view, kept current from the core's events.
///
/// Use it for as long as the view shows the chat:
/// ```swift
/// .task { await model.run() }   // subscribes, opens, follows; closes on disappear
/// ```
/// Guarantees: every property is changed on the main actor only, from the core's
/// events in their order, so the view never sees an older state after a newer one;
/// ``cachedMessages`` is ascending by sequence, then local outgoing messages in
/// send order, one row per message id. Actions never throw: a failure is kept in
/// ``lastError`` (also the failures the core reports in the background).
@MainActor
@Observable
public final class ChatModel {
    /// The chat (ticket) id.
    public let requestId: String
    /// The live sync state (UNKNOWN until validated in this run).
    public private(set) var syncState: SyncState = .unknown
    /// True only while a resync's network work runs: show the sync indicator then.
    public private(set) var isSyncing = false
    /// The cached messages: the newest window from the open, then every change.
    public private(set) var cachedMessages: [ChatMessage] = []
    /// Recorded history gaps ("load earlier"), ascending.
    public private(set) var historyGaps: [SeqRange] = []
    /// False after connectivity was lost, until it is back.
    public private(set) var isOnline = true
    /// True while ``run()`` follows the chat.
    public private(set) var isOpen = false
    /// The last failure of an action or of background work for this chat (a
    /// ``ChatSyncError`` from the core); nil again after a successful manual resync.
    public private(set) var lastError: (any Error)?

    @ObservationIgnored private let chatSync: ChatSync
    @ObservationIgnored private let messageLimit: UInt32?
    /// Message changes applied while ``refreshCachedMessages()`` read the cache;
    /// re-applied on top of what it read (merging is idempotent).
    @ObservationIgnored private var changesDuringRefresh: [MessageChange]?

    /// A model of `requestId`; `messageLimit` bounds ``refreshCachedMessages()``
    /// (nil = every cached message).
    public init(chatSync: ChatSync, requestId: String, messageLimit: UInt32? = 200) {
        self.chatSync = chatSync
        self.requestId = requestId
        self.messageLimit = messageLimit
    }

    /// Follows the chat for as long as the calling task runs: subscribes, opens the
    /// chat (cached messages at once), applies every event; when the task is
    /// cancelled (the view disappeared) it unsubscribes and closes the chat.
    /// Returns at once, with ``lastError`` set, when the chat cannot be opened.
    public func run() async {
        let events = chatSync.events(for: requestId)
        let opened: OpenedChat
        do {
            opened = try chatSync.openChat(requestId)
        } catch {
            record(error)
            return
        }
        cachedMessages = MessageList.merge(opened.messages, into: [])
        historyGaps = opened.historyGaps
        isSyncing = opened.isSyncing
        syncState = chatSync.syncState(requestId)
        isOpen = true
        for await event in events {
            apply(event)
        }
        isOpen = false
        chatSync.closeChat(requestId)
    }

    /// The resync button: always runs one resync and waits for it.
    public func manualResync() async {
        do {
            try await chatSync.manualResync(requestId)
            lastError = nil
        } catch {
            record(error)
        }
    }

    /// Re-reads the cached messages from SQLite (off the main thread).
    public func refreshCachedMessages() async {
        changesDuringRefresh = []
        defer { changesDuringRefresh = nil }
        do {
            let fresh = try await chatSync.cachedMessages(requestId, limit: messageLimit)
            var messages = MessageList.merge(fresh, into: [])
            for change in changesDuringRefresh ?? [] {
                messages = MessageList.apply(change, to: messages)
            }
            cachedMessages = messages
            historyGaps = try chatSync.historyGaps(requestId)
        } catch {
            record(error)
        }
    }

    /// Sends `text` (queued in the outbox; the optimistic copy appears at once).
    /// Returns the optimistic copy, or nil when it could not be queued.
    @discardableResult
    public func send(_ text: String) async -> ChatMessage? {
        do {
            return try await chatSync.send(text, to: requestId)
        } catch {
            record(error)
            return nil
        }
    }

    /// "Load earlier": fetches one page at the top of the newest history gap.
    public func loadEarlier() async {
        do {
            let outcome = try await chatSync.loadEarlier(requestId)
            historyGaps = outcome.remainingGaps
        } catch {
            record(error)
        }
    }

    private func apply(_ event: SyncEvent) {
        switch event {
        case let .syncStateChanged(id, state) where id == requestId:
            syncState = state
        case let .syncingChanged(id, syncing) where id == requestId:
            isSyncing = syncing
        case let .messagesChanged(id, inserted, updated, removedIds) where id == requestId:
            let change = MessageChange(requestId: id, inserted: inserted, updated: updated, removedIds: removedIds)
            changesDuringRefresh?.append(change)
            cachedMessages = MessageList.apply(change, to: cachedMessages)
        case let .loadEarlierFinished(id, _) where id == requestId:
            if let gaps = try? chatSync.historyGaps(requestId) { historyGaps = gaps }
        case let .connectionChanged(online, _):
            isOnline = online
        case let .failure(id, kind, details) where id == nil || id == requestId:
            lastError = ChatSyncError(kind: kind, message: details)
        default:
            break
        }
    }

    private func record(_ error: any Error) {
        lastError = error
    }
}

/// The ordering rule of a chat's message list: ascending by sequence, then local
/// outgoing messages (no sequence yet) in the order they were queued; one row per id.
public enum MessageList {
    /// `list` with `change` applied: removed ids dropped, updated and inserted rows
    /// replacing the row of the same id (or added), then ordered.
    public static func apply(_ change: MessageChange, to list: [ChatMessage]) -> [ChatMessage] {
        let removed = Set(change.removedIds)
        let kept = removed.isEmpty ? list : list.filter { !removed.contains($0.id) }
        return merge(change.updated + change.inserted, into: kept)
    }

    /// `list` with `rows` replacing the rows of the same id (or added), then ordered.
    public static func merge(_ rows: [ChatMessage], into list: [ChatMessage]) -> [ChatMessage] {
        var byId: [String: Int] = [:]
        var result = list
        for (index, message) in result.enumerated() { byId[message.id] = index }
        for row in rows {
            if let index = byId[row.id] {
                result[index] = row
            } else {
                byId[row.id] = result.count
                result.append(row)
            }
        }
        // Sequenced rows by sequence (ties keep their order); local rows after, in order.
        let sequenced = result.enumerated()
            .compactMap { item in item.element.sequenceNumber.map { (seq: $0, offset: item.offset, message: item.element) } }
            .sorted { ($0.seq, $0.offset) < ($1.seq, $1.offset) }
            .map(\.message)
        let local = result.filter { $0.sequenceNumber == nil }
        return sequenced + local
    }
}
