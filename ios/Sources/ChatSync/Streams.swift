// AsyncStreams over the core's observer subscriptions.
//
// Ownership: the core's dispatcher is the only owner of a stream's observer (and so
// of its continuation); the stream owns the `SubscriptionHandle` through its
// `onTermination` closure. So
// - when the consumer goes away (its task is cancelled, or the stream and its
//   iterator are released), `onTermination` cancels the handle and the core drops
//   the observer;
// - when the core drops the observer first (the subscription was cancelled, the
//   client shut down or was released), the observer's `deinit` finishes the
//   stream, so a consumer never waits forever on a continuation nobody holds.

import ChatSyncBindings
import Foundation

/// What changed in a chat's cached messages: exactly these rows.
public struct MessageChange: Sendable, Equatable {
    /// The chat.
    public let requestId: String
    /// New rows (a page, a push, a queued outgoing message, a server copy).
    public let inserted: [ChatMessage]
    /// Rows whose fields changed (an edit, an outgoing message's status).
    public let updated: [ChatMessage]
    /// Ids of rows that are gone (e.g. a local outgoing row replaced by the server's copy).
    public let removedIds: [String]
}

/// The device's connectivity and the realtime socket, as the core sees them.
public struct ConnectionStatus: Sendable, Equatable {
    /// False after `onConnectivityLost`, until connectivity is back.
    public let online: Bool
    /// True while the realtime WebSocket is up.
    public let realtimeConnected: Bool
}

/// A failure reported in the background (a resync, a send, a ticket refresh).
public struct SyncFailure: Sendable, Equatable, Error {
    /// The chat concerned, if any.
    public let requestId: String?
    /// The failure, as a call would have thrown it.
    public let error: ChatSyncError
}

/// Feeds one AsyncStream from the core's dispatch thread.
final class StreamObserver<Element: Sendable>: SyncObserver {
    private let continuation: AsyncStream<Element>.Continuation
    private let transform: @Sendable (SyncEvent) -> Element?

    init(_ continuation: AsyncStream<Element>.Continuation, transform: @escaping @Sendable (SyncEvent) -> Element?) {
        self.continuation = continuation
        self.transform = transform
        LiveObservers.shared.change(by: 1)
    }

    func onEvent(event: SyncEvent) throws {
        if let element = transform(event) {
            continuation.yield(element)
        }
    }

    deinit {
        continuation.finish()
        LiveObservers.shared.change(by: -1)
    }
}

/// How many stream observers are alive, i.e. still held by the core (it is their
/// only owner). A diagnostic for leak checks: it drops when a stream's consumer
/// goes away and the core has released the subscription.
final class LiveObservers: @unchecked Sendable {
    // @unchecked: `count` is read and written under `lock` only.
    static let shared = LiveObservers()
    private let lock = NSLock()
    private var count = 0

    func change(by delta: Int) {
        lock.lock()
        count += delta
        lock.unlock()
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

extension ChatSync {
    /// Every event of one chat plus the client-wide ones (connection, tickets,
    /// failures without a chat), or of every chat when `requestId` is nil. Starts
    /// with a snapshot (state and syncing flag, connection), then every later event
    /// in order. Events are produced on a Rust background thread; the stream
    /// buffers them for the consumer (`bufferingPolicy`, unbounded by default).
    /// Ends when the consumer goes away (unsubscribing from the core) or when the
    /// core releases the subscription (shutdown, sign-out).
    public func events(
        for requestId: String? = nil,
        bufferingPolicy: AsyncStream<SyncEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<SyncEvent> {
        stream(requestId: requestId, bufferingPolicy: bufferingPolicy) { $0 }
    }

    /// The chat's sync state: the current one first, then every change.
    public func syncStates(for requestId: String) -> AsyncStream<SyncState> {
        stream(requestId: requestId) { event in
            guard case let .syncStateChanged(id, state) = event, id == requestId else { return nil }
            return state
        }
    }

    /// The chat's "resync running" flag (the seed's `isChatSyncing`): the current
    /// value first, then every change. Never true during validation-only checks.
    public func syncingChanges(for requestId: String) -> AsyncStream<Bool> {
        stream(requestId: requestId) { event in
            guard case let .syncingChanged(id, syncing) = event, id == requestId else { return nil }
            return syncing
        }
    }

    /// Every change of the chat's cached messages.
    public func messageChanges(for requestId: String) -> AsyncStream<MessageChange> {
        stream(requestId: requestId) { event in
            guard case let .messagesChanged(id, inserted, updated, removedIds) = event, id == requestId else {
                return nil
            }
            return MessageChange(requestId: id, inserted: inserted, updated: updated, removedIds: removedIds)
        }
    }

    /// Connectivity and realtime socket: the current status first, then changes.
    public func connectionChanges() -> AsyncStream<ConnectionStatus> {
        stream(requestId: nil) { event in
            guard case let .connectionChanged(online, realtimeConnected) = event else { return nil }
            return ConnectionStatus(online: online, realtimeConnected: realtimeConnected)
        }
    }

    /// The stored ticket list after every refresh (metadata only).
    public func ticketChanges() -> AsyncStream<[TicketSummary]> {
        stream(requestId: nil) { event in
            guard case let .ticketsChanged(tickets) = event else { return nil }
            return tickets
        }
    }

    /// Failures reported in the background for the chat (or client-wide ones), or
    /// for everything when `requestId` is nil.
    public func failures(for requestId: String? = nil) -> AsyncStream<SyncFailure> {
        stream(requestId: requestId) { event in
            guard case let .failure(id, kind, details) = event else { return nil }
            if let requestId, let id, id != requestId { return nil }
            return SyncFailure(requestId: id, error: ChatSyncError(kind: kind, message: details))
        }
    }

    private func stream<Element: Sendable>(
        requestId: String?,
        bufferingPolicy: AsyncStream<Element>.Continuation.BufferingPolicy = .unbounded,
        transform: @escaping @Sendable (SyncEvent) -> Element?
    ) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: bufferingPolicy)
        let handle = client.subscribe(
            observer: StreamObserver(continuation, transform: transform),
            requestId: requestId
        )
        continuation.onTermination = { _ in handle.cancel() }
        return stream
    }
}
