package dev.chatsync

import dev.chatsync.ffi.CallbackException
import dev.chatsync.ffi.ChatSyncException
import dev.chatsync.ffi.FfiConverterTypeSyncObserver
import dev.chatsync.ffi.LogLevel
import dev.chatsync.ffi.LogRecord
import dev.chatsync.ffi.MessageStatus
import dev.chatsync.ffi.SyncEvent
import dev.chatsync.ffi.SyncState
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

private val SETTLE = 10.seconds

class ChatSyncTest {
    private val server = TestServer(tickets = 2, messages = 20)
    private val dir = TempDir()
    private val opened = mutableListOf<ChatSync>()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    private fun sync(cache: String = "cache.sqlite", token: String = server.token()): ChatSync {
        val config = chatSyncConfig(server.baseUrl, dir.file(cache)).copy(gapGraceMs = 300uL, retryBaseMs = 200uL)
        return ChatSync(config, StaticToken(token)).also { opened += it }
    }

    @AfterEach
    fun tearDown() {
        scope.cancel()
        opened.forEach { it.close() }
        server.close()
        dir.close()
    }

    private suspend fun firstChat(sync: ChatSync): String = sync.refreshTickets().first().id

    @Test
    fun `open reaches SYNCED and a valid cache opens SYNCED with zero requests`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        val opening = sync.openChat(chat)
        assertTrue(opening.messages.isEmpty())
        withTimeout(SETTLE) { sync.syncState(chat).first { it == SyncState.SYNCED } }
        assertEquals((1L..20L).toList(), sync.client.cachedSeqs(chat))
        sync.close()

        val again = sync()
        val reopened = again.openChat(chat)
        assertEquals(SyncState.SYNCED, reopened.meta.syncState)
        assertEquals(20, reopened.messages.size)
        assertFalse(reopened.isSyncing)
        assertEquals(0uL, again.client.netStats().httpRequests)
    }

    @Test
    fun `a lost push fetches exactly the missing messages`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        sync.openChat(chat)
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
        val session = ChatSession(sync, chat, scope)
        sync.start()
        withTimeout(SETTLE) { sync.connection().first { it.realtimeConnected } }
        val before = sync.client.netStats()
        server.admin("POST", "/admin/v1/faults/drop-push", """{"requestId":"$chat","sequence":21}""")
        assertEquals(21, server.postAsTechnician(chat, "lost 21"))
        assertEquals(22, server.postAsTechnician(chat, "arrives 22"))
        withTimeout(SETTLE) { session.messages.first { list -> list.mapNotNull { it.sequenceNumber } == (1L..22L).toList() } }
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
        val after = sync.client.netStats()
        assertEquals(1uL, after.messagePageRequests - before.messagePageRequests)
        assertEquals(1uL, after.messagesFetched - before.messagesFetched, "exactly message 21")
        assertTrue(server.stat("pushesDropped") >= 1)
        session.close()
    }

    @Test
    fun `flows deliver state changes from Rust background threads`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        val recorder = Recorder()
        val handle = sync.client.subscribe(recorder, chat)
        val session = ChatSession(sync, chat, scope)
        val seen = CopyOnWriteArrayList<SyncState>()
        val collector = scope.launch { session.syncState.collect { seen += it } }
        sync.openChat(chat)
        withTimeout(SETTLE) { session.syncState.first { it == SyncState.SYNCED } }
        withTimeout(SETTLE) { session.messages.first { it.size == 20 } }
        assertEquals(SyncState.UNKNOWN, seen.first())
        assertTrue(recorder.threads.isNotEmpty())
        assertTrue(recorder.threads.none { it == Thread.currentThread().name }, "${recorder.threads.toSet()}")
        // The sync indicator: on only while the manual resync runs.
        val syncing = CopyOnWriteArrayList<Boolean>()
        val indicator = scope.launch { session.isSyncing.collect { syncing += it } }
        delay(100.milliseconds)
        session.manualResync()
        withTimeout(SETTLE) { while (syncing.lastOrNull() != false || true !in syncing) delay(20) }
        assertEquals(listOf(false, true, false), syncing.toList())
        indicator.cancelAndJoin()
        collector.cancelAndJoin()
        handle.cancel()
        handle.close()
        session.close()
    }

    @Test
    fun `errors arrive as Kotlin exceptions with readable messages`() = runBlocking {
        val sync = sync()
        val invalid = assertThrows<ChatSyncException.InvalidArgument> { sync.openChat("") }
        assertEquals("invalid argument: a chat id must be 1..=256 bytes", invalid.message)
        val empty = assertThrows<ChatSyncException.InvalidArgument> { sync.sendMessage("chat", "  ") }
        assertEquals("invalid argument: a message needs some text", empty.message)

        val rejected = sync("rejected.sqlite", token = "not-a-valid-token")
        val unauthorized = assertThrows<ChatSyncException.Unauthorized> { rejected.refreshTickets() }
        assertTrue(unauthorized.message!!.startsWith("not authorized"), unauthorized.message)

        val broken = ChatSync(chatSyncConfig(server.baseUrl, null), object : dev.chatsync.ffi.AuthTokenProvider {
            override fun token(rejected: String?): String = throw IllegalStateException("the keystore is locked")
        }).also { opened += it }
        val locked = assertThrows<ChatSyncException.Unauthorized> { broken.refreshTickets() }
        assertContains(locked.message!!, "the keystore is locked")

        val declined = ChatSync(chatSyncConfig(server.baseUrl, null), object : dev.chatsync.ffi.AuthTokenProvider {
            override fun token(rejected: String?): String = throw CallbackException.Failed("signed out on this device")
        }).also { opened += it }
        assertContains(assertThrows<ChatSyncException.Unauthorized> { declined.refreshTickets() }.message!!, "signed out on this device")

        val offline = ChatSync(chatSyncConfig("http://127.0.0.1:1", null), StaticToken("t")).also { opened += it }
        val network = assertThrows<ChatSyncException.Network> { offline.refreshTickets() }
        assertTrue(network.message!!.startsWith("network unavailable"), network.message)

        assertThrows<ChatSyncException.NotFound> { sync.manualResync("no-such-ticket") }
        val badConfig = chatSyncConfig(server.baseUrl, null).copy(pageSize = 0)
        val bad = assertThrows<ChatSyncException.InvalidArgument> { ChatSync(badConfig, StaticToken("t")) }
        assertContains(bad.message!!, "page_size")
    }

    @Test
    fun `send goes through the outbox and the server copy replaces the local one`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        sync.openChat(chat)
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
        val session = ChatSession(sync, chat, scope)
        withTimeout(SETTLE) { session.messages.first { it.size == 20 } }
        sync.start()
        server.admin("POST", "/admin/v1/faults/fail-http", """{"count":1,"target":"send"}""")
        val local = session.send("hello from kotlin")
        assertEquals(MessageStatus.PENDING, local.status)
        assertNull(local.sequenceNumber)
        val ctid = local.clientTempId!!
        val shown = withTimeout(SETTLE) {
            session.messages.first { list -> list.any { it.clientTempId == ctid && it.status == MessageStatus.SENT } }
        }
        val mine = shown.filter { it.clientTempId == ctid }
        assertEquals(listOf(21L), mine.map { it.sequenceNumber }, "one copy, the server's")
        assertEquals("hello from kotlin", mine.single().content)
        assertEquals(shown.last().id, mine.single().id)
        assertEquals(1, server.stat("httpFailuresInjected"), "the first attempt failed and was retried")
        assertTrue(sync.waitForSend(chat, ctid, SETTLE).status == MessageStatus.SENT)
        session.close()
    }

    @Test
    fun `cancelling a Flow collection unsubscribes`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        sync.openChat(chat)
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
        sync.start()
        val baseline = FfiConverterTypeSyncObserver.handleMap.size
        val received = CopyOnWriteArrayList<SyncEvent>()
        val job = scope.launch { sync.events(chat).collect { received += it } }
        withTimeout(SETTLE) { while (received.none { it is SyncEvent.ConnectionChanged && it.realtimeConnected }) delay(20) }
        assertEquals(1, sync.activeSubscriptions)
        assertEquals(baseline + 1, FfiConverterTypeSyncObserver.handleMap.size, "Rust holds the observer")
        job.cancelAndJoin()
        assertEquals(0, sync.activeSubscriptions)
        // A delivery already in flight keeps the observer until it returns; flushing waits for it.
        sync.client.flushObservers()
        assertEquals(baseline, FfiConverterTypeSyncObserver.handleMap.size, "Rust released the observer")
        val count = received.size
        server.postAsTechnician(chat, "after cancel")
        withTimeout(SETTLE) { while (sync.client.cachedSeqs(chat).lastOrNull() != 21L) delay(20) }
        sync.client.flushObservers()
        assertEquals(count, received.size, "no event after the collection was cancelled")
        // A bounded collection (take) unsubscribes by itself when it completes.
        val firstTwo = withTimeout(SETTLE) { sync.events(chat).take(2).toList() }
        assertEquals(2, firstTwo.size)
        assertEquals(0, sync.activeSubscriptions)
        // take(2) ends inside the snapshot's delivery: the dispatch thread still holds the observer.
        sync.client.flushObservers()
        assertEquals(baseline, FfiConverterTypeSyncObserver.handleMap.size, "Rust released the observer")
    }

    @Test
    fun `connectivity changes are debounced into single calls`() = runBlocking {
        val sync = sync()
        val chat = firstChat(sync)
        sync.openChat(chat)
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
        val connection = CopyOnWriteArrayList<Boolean>()
        val job = scope.launch { sync.connection().collect { connection += it.online } }
        withTimeout(SETTLE) { while (connection.isEmpty()) delay(10) }
        val debouncer = ConnectivityDebouncer(scope, sync, debounce = 200.milliseconds)
        debouncer.onNetworkLost()
        debouncer.onNetworkAvailable()
        debouncer.onNetworkLost() // flapping: only the settled "lost" is reported
        withTimeout(SETTLE) { while (connection.last()) delay(10) }
        delay(400.milliseconds)
        assertEquals(listOf(true, false), connection.toList())
        debouncer.onNetworkAvailable()
        withTimeout(SETTLE) { while (!connection.last()) delay(10) }
        assertEquals(listOf(true, false, true), connection.toList())
        assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE), "the open chat heals after the restore")
        job.cancelAndJoin()
    }

    @Test
    fun `core logs reach a Kotlin sink and never contain tokens`() = runBlocking {
        val records = CopyOnWriteArrayList<LogRecord>()
        forwardCoreLogs(LogLevel.TRACE) { records += it }
        try {
            val sync = sync()
            val chat = firstChat(sync)
            sync.start()
            sync.openChat(chat)
            assertEquals(SyncState.SYNCED, sync.waitUntilSettled(chat, SETTLE))
            sync.client.updateBackendSequence(chat, -5)
            val rejected = sync("rejected.sqlite", token = "wrong-token-1234")
            assertThrows<ChatSyncException.Unauthorized> { rejected.refreshTickets() }
        } finally {
            stopForwardingCoreLogs()
        }
        assertTrue(records.any { it.level == LogLevel.WARN && "negative backend sequence -5" in it.text }, "$records")
        assertTrue(records.all { it.target.isNotEmpty() })
        for (record in records) {
            assertFalse(server.token() in record.text)
            assertFalse("wrong-token-1234" in record.text)
        }
        assertNotEquals(0, records.size)
    }
}
