// The idiomatic Swift face of the Rust sync core. Everything here forwards to the
// generated `ChatSyncClient`; no sync decision is made in Swift.

@_exported import ChatSyncBindings
import Foundation

/// One signed-in account's chat sync (the seed's `ChatSyncService`), over the
/// shared Rust core.
///
/// Guarantees:
/// - every method may be called from any thread, task or actor (`Sendable`);
/// - synchronous methods only read or write the local SQLite cache or feed an
///   event to the core; they never wait for the network;
/// - `async` methods wait on the core's own runtime, never blocking a Swift thread;
///   they throw ``ChatSyncError`` (inspect ``ChatSyncError/kind`` and
///   ``ChatSyncError/message``);
/// - streams (``events(for:bufferingPolicy:)`` and the typed ones) start with a
///   snapshot of the current state, then deliver every later change in order, and
///   unsubscribe from the core as soon as their consumer goes away.
public final class ChatSync: Sendable {
    /// The generated UniFFI client, for the calls this layer does not wrap.
    public let client: ChatSyncClient

    /// Builds the client over an existing configuration (see ``ChatSync/defaultConfiguration(baseURL:cachePath:)``).
    /// Opens, creates, migrates or recovers the cache; starts no network work.
    /// Throws ``ChatSyncError`` when the configuration or the cache is unusable.
    public init(configuration: ClientConfig, tokens: any AuthTokenProvider) throws {
        client = try ChatSyncClient(config: configuration, tokens: tokens)
    }

    /// Builds the client from a base URL, a cache file (nil keeps the cache in
    /// memory) and a token closure. `token` receives the token the server just
    /// rejected (refresh it) or nil, runs on a Rust thread and may block briefly;
    /// whatever it throws is reported as an authentication failure.
    public convenience init(
        baseURL: URL,
        cacheURL: URL?,
        configure: (inout ClientConfig) -> Void = { _ in },
        token: @escaping @Sendable (_ rejected: String?) throws -> String
    ) throws {
        var configuration = ChatSync.defaultConfiguration(baseURL: baseURL, cachePath: cacheURL?.path)
        configure(&configuration)
        try self.init(configuration: configuration, tokens: ClosureTokenProvider(token))
    }

    /// The core's defaults for this backend and cache file (nil = in memory).
    public static func defaultConfiguration(baseURL: URL, cachePath: String?) -> ClientConfig {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return defaultClientConfig(baseUrl: base, cachePath: cachePath)
    }

    // MARK: Lifecycle

    /// Goes online: realtime socket, ticket list refresh, stored outbox. Idempotent.
    public func start() { client.start() }

    /// Stops every network task, timer and the socket; the cache stays. Streams
    /// finish once the core has released their subscriptions.
    public func shutdown() { client.shutdown() }

    /// Signs out: stops everything and deletes the cache's contents.
    public func signOut() async throws { try await client.signOut() }

    /// The app came to the foreground (see ``AppResumeObserver`` and the SwiftUI
    /// `chatSyncLifecycle` modifier).
    public func onAppResume() { client.onAppResume() }

    /// Connectivity is back (already debounced; see ``ConnectivityDebouncer``).
    public func onConnectivityRestored() { client.onConnectivityRestored() }

    /// Connectivity was lost: no request is made until it is restored.
    public func onConnectivityLost() { client.onConnectivityLost() }

    /// New credentials after an `unauthorized` failure: network work resumes.
    public func onCredentialsRenewed() { client.onCredentialsRenewed() }

    // MARK: Chats

    /// Opens a chat: the cached messages and meta at once (no network wait); the
    /// validation and any scoped resync follow and are reported on the streams.
    public func openChat(_ requestId: String) throws -> OpenedChat {
        try client.openChat(requestId: requestId)
    }

    /// Leaves a chat: its timers and retries stop.
    public func closeChat(_ requestId: String) { client.closeChat(requestId: requestId) }

    /// Resyncs the chat only when it is OUT_OF_SYNC; returns the meta when the run ends.
    @discardableResult
    public func resync(_ requestId: String) async throws -> ChatSyncMeta {
        try await client.resync(requestId: requestId)
    }

    /// The user's resync button: always runs; returns the meta when the run ends,
    /// throws when offline or when the run failed.
    @discardableResult
    public func manualResync(_ requestId: String) async throws -> ChatSyncMeta {
        try await client.manualResync(requestId: requestId)
    }

    /// The chat's live sync state (UNKNOWN until validated in this run).
    public func syncState(_ requestId: String) -> SyncState { client.syncState(requestId: requestId) }

    /// True only while a resync's network work runs for the chat.
    public func isSyncing(_ requestId: String) -> Bool { client.isChatSyncing(requestId: requestId) }

    /// The chat's stored sync meta.
    public func syncMeta(_ requestId: String) throws -> ChatSyncMeta {
        try client.getSyncMeta(requestId: requestId)
    }

    /// The newest `limit` cached messages (all when nil), ascending by sequence,
    /// then local outgoing ones in send order. Reads SQLite off the caller's actor.
    public func cachedMessages(_ requestId: String, limit: UInt32? = nil) async throws -> [ChatMessage] {
        try client.getCachedMessages(requestId: requestId, limit: limit)
    }

    /// The chat's recorded history gaps ("load earlier"), ascending.
    public func historyGaps(_ requestId: String) throws -> [SeqRange] {
        try client.historyGaps(requestId: requestId)
    }

    /// Back-pagination: fetches and stores one page at the top of the newest gap.
    @discardableResult
    public func loadEarlier(_ requestId: String) async throws -> LoadEarlierOutcome {
        try await client.loadEarlier(requestId: requestId)
    }

    /// A message received through another channel (a push notification).
    public func receive(_ message: ChatMessage) throws { try client.onNewMessage(message: message) }

    /// A backend sequence the app learned elsewhere (e.g. its own ticket query).
    public func updateBackendSequence(_ requestId: String, to sequence: Int64) {
        client.updateBackendSequence(requestId: requestId, seq: sequence)
    }

    // MARK: Tickets

    /// Refreshes the ticket list now (metadata only) and returns the stored list.
    public func refreshTickets() async throws -> [TicketSummary] { try await client.refreshTickets() }

    /// The last stored ticket list (no network).
    public func cachedTickets() throws -> [TicketSummary] { try client.cachedTickets() }

    /// Marks the chat read on the server up to `sequence`.
    public func markRead(_ requestId: String, upTo sequence: Int64) async throws {
        try await client.markRead(requestId: requestId, upToSequence: sequence)
    }

    // MARK: Sending

    /// Queues `content` durably in the outbox and returns its optimistic local copy
    /// (pending, a fresh `clientTempId`); delivery runs in the background, in order,
    /// retried and idempotent. The server's copy replaces it on the message stream.
    @discardableResult
    public func send(_ content: String, to requestId: String) async throws -> ChatMessage {
        try await client.sendMessage(requestId: requestId, content: content)
    }

    /// Sends a failed outgoing message again.
    public func retrySend(_ requestId: String, clientTempId: String) async throws {
        try await client.retrySend(requestId: requestId, clientTempId: clientTempId)
    }

    /// Waits until the outgoing message is sent (the server's copy), failed, or its
    /// first attempt failed, or `timeout` passed (the local copy).
    public func waitForSend(_ requestId: String, clientTempId: String, timeout: Duration) async throws -> ChatMessage {
        try await client.waitForSend(requestId: requestId, clientTempId: clientTempId, timeoutMs: timeout.wholeMilliseconds)
    }

    // MARK: Background and diagnostics

    /// For `BGAppRefreshTask`: refreshes metadata only (no message fetch), waiting at
    /// most `budget`, and reports the cached chats proven incomplete.
    public func backgroundRevalidate(budget: Duration) async throws -> BackgroundReport {
        try await client.backgroundRevalidate(budgetMs: budget.wholeMilliseconds)
    }

    /// Waits until the chat settles or `timeout` passed; returns the state then.
    public func waitUntilSettled(_ requestId: String, timeout: Duration) async -> SyncState {
        await client.waitUntilSettled(requestId: requestId, timeoutMs: timeout.wholeMilliseconds)
    }

    /// Client-side network counters.
    public var netStats: NetStats { client.netStats() }
}

extension Duration {
    /// The duration in whole milliseconds, clamped to `0...UInt64.max`.
    var wholeMilliseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000_000))
        return overflow || carry ? .max : total
    }
}

/// An ``AuthTokenProvider`` calling a closure; anything the closure throws becomes
/// a ``CallbackError`` the core reports as an authentication failure.
final class ClosureTokenProvider: AuthTokenProvider {
    private let body: @Sendable (String?) throws -> String

    init(_ body: @escaping @Sendable (String?) throws -> String) { self.body = body }

    func token(rejected: String?) throws -> String {
        do {
            return try body(rejected)
        } catch let error as CallbackError {
            throw error
        } catch {
            throw CallbackError.Failed(reason: "the token provider failed: \(error)")
        }
    }
}
