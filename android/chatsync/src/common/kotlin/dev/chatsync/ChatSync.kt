package dev.chatsync

import dev.chatsync.ffi.AuthTokenProvider
import dev.chatsync.ffi.BackgroundReport
import dev.chatsync.ffi.ChatMessage
import dev.chatsync.ffi.ChatSyncClient
import dev.chatsync.ffi.ChatSyncMeta
import dev.chatsync.ffi.ClientConfig
import dev.chatsync.ffi.LoadEarlierOutcome
import dev.chatsync.ffi.OpenedChat
import dev.chatsync.ffi.SyncEvent
import dev.chatsync.ffi.SyncObserver
import dev.chatsync.ffi.SyncState
import dev.chatsync.ffi.TicketSummary
import dev.chatsync.ffi.defaultClientConfig
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.mapNotNull
import kotlinx.coroutines.withContext

/**
 * The idiomatic Kotlin face of the chatsync core, for one signed-in account.
 *
 * Platform-independent (plain JVM + JNA): Android-only glue lives in `dev.chatsync.android`.
 * Network work is `suspend` and runs on the core's own runtime, so no caller thread blocks
 * on the network; local cache reads run on [io]. Observations are cold [Flow]s over the
 * core's observer: collecting subscribes, cancelling the collection unsubscribes (the
 * subscription handle is cancelled and closed in `awaitClose`). Events come from a Rust
 * background thread and are buffered without limit, so the core never waits for a collector.
 *
 * Close it (or call [close]) when the account signs out or the app ends; it shuts the
 * core's network tasks down and frees the native object.
 */
class ChatSync(
    /** The generated client (every core method is available on it). */
    val client: ChatSyncClient,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
    private val subscriptions = AtomicInteger()
    private val closed = AtomicBoolean(false)

    /** Creates the client: opens (or creates, migrates, recovers) the cache; no network yet. */
    constructor(config: ClientConfig, tokens: AuthTokenProvider) : this(ChatSyncClient(config, tokens))

    /** Subscriptions currently open through this object's flows (0 once every collection ended). */
    val activeSubscriptions: Int get() = subscriptions.get()

    /** Goes online: realtime socket, ticket refresh (metadata only), stored outbox. Idempotent. */
    fun start() = client.start()

    /** Opens a chat: the cached messages and meta at once; validation follows in the background. */
    suspend fun openChat(requestId: String): OpenedChat = withContext(io) { client.openChat(requestId) }

    /** Leaves a chat: its timers and retries stop. */
    fun closeChat(requestId: String) = client.closeChat(requestId)

    /** Resyncs the chat if it is OUT_OF_SYNC; returns the meta when the run ends. */
    suspend fun resync(requestId: String): ChatSyncMeta = client.resync(requestId)

    /** The resync button: always runs; returns the meta, throws when offline or failed. */
    suspend fun manualResync(requestId: String): ChatSyncMeta = client.manualResync(requestId)

    /** Refreshes the ticket list (metadata only) and returns it. */
    suspend fun refreshTickets(): List<TicketSummary> = client.refreshTickets()

    /** The stored ticket list, no network. */
    suspend fun cachedTickets(): List<TicketSummary> = withContext(io) { client.cachedTickets() }

    /** Cached messages (the newest [limit], all when null), ascending, unsent last. No network. */
    suspend fun cachedMessages(requestId: String, limit: Int? = null): List<ChatMessage> =
        withContext(io) { client.getCachedMessages(requestId, limit?.toUInt()) }

    /** Fetches one page of older history into the newest history gap. */
    suspend fun loadEarlier(requestId: String): LoadEarlierOutcome = client.loadEarlier(requestId)

    /** Queues a message durably and returns its optimistic local copy (status PENDING). */
    suspend fun sendMessage(requestId: String, content: String): ChatMessage =
        client.sendMessage(requestId, content)

    /** Sends a failed message again. */
    suspend fun retrySend(requestId: String, clientTempId: String) = client.retrySend(requestId, clientTempId)

    /** Waits until the message is sent (server copy), failed, or [timeout] passed (local copy). */
    suspend fun waitForSend(requestId: String, clientTempId: String, timeout: Duration): ChatMessage =
        client.waitForSend(requestId, clientTempId, timeout.inWholeMilliseconds.toULong())

    /** Marks the chat read up to [upToSequence] on the server. */
    suspend fun markRead(requestId: String, upToSequence: Long) = client.markRead(requestId, upToSequence)

    /** Metadata-only refresh for background work, bounded by [budget]. */
    suspend fun backgroundRevalidate(budget: Duration): BackgroundReport =
        client.backgroundRevalidate(budget.inWholeMilliseconds.toULong())

    /** Waits until the chat settles or [timeout] passed; returns the state then. */
    suspend fun waitUntilSettled(requestId: String, timeout: Duration): SyncState =
        client.waitUntilSettled(requestId, timeout.inWholeMilliseconds.toULong())

    /** Signs out: stops everything and deletes the cache's contents. */
    suspend fun signOut() = client.signOut()

    /** The app came to the foreground. */
    fun onAppResume() = client.onAppResume()

    /** The device is online again (call debounced, see [ConnectivityDebouncer]). */
    fun onConnectivityRestored() = client.onConnectivityRestored()

    /** The device lost connectivity. */
    fun onConnectivityLost() = client.onConnectivityLost()

    /** New credentials after an auth error. */
    fun onCredentialsRenewed() = client.onCredentialsRenewed()

    /**
     * Every event of one chat plus the client-wide ones (all events when [requestId] is null):
     * first a snapshot (state, syncing, connection), then every change, in order.
     */
    fun events(requestId: String? = null): Flow<SyncEvent> = callbackFlow {
        val observer = object : SyncObserver {
            override fun onEvent(event: SyncEvent) {
                trySend(event)
            }
        }
        val handle = client.subscribe(observer, requestId)
        subscriptions.incrementAndGet()
        awaitClose {
            handle.cancel()
            handle.close()
            subscriptions.decrementAndGet()
        }
    }.buffer(Channel.UNLIMITED)

    /** The chat's sync state: its current value first, then every change. */
    fun syncState(requestId: String): Flow<SyncState> = events(requestId)
        .mapNotNull { event -> (event as? SyncEvent.SyncStateChanged)?.takeIf { it.requestId == requestId }?.state }
        .distinctUntilChanged()

    /** True only while a resync's network work runs for the chat (the sync indicator). */
    fun isSyncing(requestId: String): Flow<Boolean> = events(requestId)
        .mapNotNull { event -> (event as? SyncEvent.SyncingChanged)?.takeIf { it.requestId == requestId }?.syncing }
        .distinctUntilChanged()

    /** The connection: `online` and `realtimeConnected`, current value first. */
    fun connection(): Flow<SyncEvent.ConnectionChanged> = events(null)
        .mapNotNull { it as? SyncEvent.ConnectionChanged }
        .distinctUntilChanged()

    /**
     * The chat's messages as the cache holds them (the newest [limit] at first, growing with
     * pushes, pages and sends): ascending by sequence, local outgoing messages last in send
     * order. Emits the cached list once subscribed, then after every change.
     */
    fun messages(requestId: String, limit: Int? = null): Flow<List<ChatMessage>> = flow {
        val list = MessageList()
        var loaded = false
        events(requestId).collect { event ->
            // The subscription's snapshot arrives first, so the cache is read after
            // subscribing: no change can fall between the two (changes are idempotent).
            if (!loaded) {
                list.reset(cachedMessages(requestId, limit))
                loaded = true
                emit(list.snapshot())
            }
            if (event is SyncEvent.MessagesChanged && event.requestId == requestId) {
                list.apply(event)
                emit(list.snapshot())
            }
        }
    }

    /** Shuts the core's network work down and frees the native client. Idempotent. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        client.shutdown()
        client.close()
    }
}

/** Creates the core's default configuration for [baseUrl] and a cache file (null = in memory). */
fun chatSyncConfig(baseUrl: String, cachePath: String?): ClientConfig = defaultClientConfig(baseUrl, cachePath)

/** A chat's messages keyed by id, ordered like the cache orders them. */
internal class MessageList {
    private val byId = LinkedHashMap<String, ChatMessage>()

    fun reset(messages: List<ChatMessage>) {
        byId.clear()
        messages.forEach { byId[it.id] = it }
    }

    fun apply(change: SyncEvent.MessagesChanged) {
        change.removedIds.forEach { byId.remove(it) }
        change.inserted.forEach { byId[it.id] = it }
        change.updated.forEach { byId[it.id] = it }
    }

    fun snapshot(): List<ChatMessage> = byId.values.sortedWith(ORDER)

    private companion object {
        val ORDER: Comparator<ChatMessage> = compareBy<ChatMessage>(
            { it.sequenceNumber == null },
            { it.sequenceNumber ?: 0L },
            { it.cachedAt },
        )
    }
}
