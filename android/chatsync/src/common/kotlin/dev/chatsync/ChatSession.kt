package dev.chatsync

import dev.chatsync.ffi.ChatMessage
import dev.chatsync.ffi.ChatSyncMeta
import dev.chatsync.ffi.LoadEarlierOutcome
import dev.chatsync.ffi.OpenedChat
import dev.chatsync.ffi.SyncState
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.stateIn

/**
 * One open chat screen's state, what the seed's `useChatSync` hook exposes: the sync
 * state, the syncing flag (show the indicator only while it is true), the messages, and
 * the actions. Its flows are collected in a child of [scope] (e.g. `viewModelScope`)
 * until [close], which also closes the chat in the core.
 */
class ChatSession(
    private val sync: ChatSync,
    /** The chat (ticket) id. */
    val requestId: String,
    scope: CoroutineScope,
    messageLimit: Int? = null,
) : AutoCloseable {
    private val job = SupervisorJob(scope.coroutineContext[Job])
    private val sessionScope = CoroutineScope(scope.coroutineContext + job)

    /** SYNCED / OUT_OF_SYNC / UNKNOWN, live. */
    val syncState: StateFlow<SyncState> = sync.syncState(requestId)
        .stateIn(sessionScope, SharingStarted.Eagerly, sync.client.syncState(requestId))

    /** True only while a resync's network work runs. */
    val isSyncing: StateFlow<Boolean> = sync.isSyncing(requestId)
        .stateIn(sessionScope, SharingStarted.Eagerly, sync.client.isChatSyncing(requestId))

    /** The cached messages, live (see [ChatSync.messages]). */
    val messages: StateFlow<List<ChatMessage>> = sync.messages(requestId, messageLimit)
        .stateIn(sessionScope, SharingStarted.Eagerly, emptyList())

    /** Opens the chat in the core (cached data at once, validation in the background). */
    suspend fun open(): OpenedChat = sync.openChat(requestId)

    /** The header's resync button. Throws a `ChatSyncException` when offline or failed. */
    suspend fun manualResync(): ChatSyncMeta = sync.manualResync(requestId)

    /** Sends a message through the outbox; returns the optimistic local copy. */
    suspend fun send(content: String): ChatMessage = sync.sendMessage(requestId, content)

    /** Loads one page of older history. */
    suspend fun loadEarlier(): LoadEarlierOutcome = sync.loadEarlier(requestId)

    /** Stops collecting and closes the chat in the core. */
    override fun close() {
        job.cancel()
        sync.closeChat(requestId)
    }
}
