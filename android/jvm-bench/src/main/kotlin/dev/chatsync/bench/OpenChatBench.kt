// Measurement 2 of `chatsync bench` through the generated Kotlin bindings on the JVM:
// times `ChatSyncClient.openChat` (the latest 50 messages + the meta, lifted into Kotlin
// records) on a cache file the benchmark filled, and prints one JSON object on stdout:
//
//   {"results": {"<chat>": {"wallNs": [...], "cpuNs": [...], "gcCount": n, "gcTimeMs": n,
//                           "jitMs": n, "timedFromMs": n}},
//    "requests": 0, "jitWarmup": n, "warmup": n, "cpuOverheadNs": n, "checksum": n,
//    "jvm": "..."}
//
// Usage: java -Djna.library.path=<dir of libchatsync_ffi.so> -cp <classpath>
//        dev.chatsync.bench.OpenChatBenchKt <cache file> <iterations> <JIT warm-up opens>
//        <warm-up opens per chat> <chat id>...
//
// Order: the first open of every chat (each must give 50 messages, SYNCED); the JIT
// warm-up, round-robin over the chats in blocks of 500; then per chat its warm-up opens
// and its timed ones. Warm-up opens run the very code of the timed ones (the same
// method, samples discarded). Per chat: gcCount / gcTimeMs, the collections during its timed opens;
// jitMs, the JIT compilation time during them (0: the timed code was compiled before);
// timedFromMs, the JVM uptime when they started (to place -Xlog output). checksum: a
// sum over the results read, printed so the JIT cannot drop the lifting of unused
// records. cpuOverheadNs: the cost of reading the CPU clock twice, subtracted from
// every CPU sample (as the Rust sampler does).
//
// The client is configured like the Python script of bench/src/python.rs and the Rust
// measurement (open_message_limit 50, no eviction caps, revalidation every hour, a base
// URL that is never contacted): a valid cache opens SYNCED with zero requests, and the
// program exits non-zero (message on stderr, nothing on stdout) if any request was made,
// if a first open is not 50 messages SYNCED, or if any other open is not 50 messages.
package dev.chatsync.bench

import dev.chatsync.ffi.AuthTokenProvider
import dev.chatsync.ffi.ChatSyncClient
import dev.chatsync.ffi.SyncState
import dev.chatsync.ffi.defaultClientConfig
import java.lang.management.ManagementFactory
import java.lang.management.ThreadMXBean
import kotlin.system.exitProcess

private const val FIRST_PAGE = 50

/** The JIT warm-up goes round-robin over the chats in blocks of this many opens. */
private const val JIT_BLOCK = 500

/** A token provider for a client that never makes a request. */
private class UnusedToken : AuthTokenProvider {
    override fun token(rejected: String?): String = "unused"
}

private class BenchFailure(message: String) : Exception(message)

/** Collections and their accumulated time, over every collector of the JVM. */
private fun gcTotals(): Pair<Long, Long> {
    var count = 0L
    var timeMs = 0L
    for (gc in ManagementFactory.getGarbageCollectorMXBeans()) {
        count += gc.collectionCount.coerceAtLeast(0)
        timeMs += gc.collectionTime.coerceAtLeast(0)
    }
    return count to timeMs
}

private fun jsonString(s: String): String {
    val out = StringBuilder("\"")
    for (c in s) {
        when {
            c == '"' -> out.append("\\\"")
            c == '\\' -> out.append("\\\\")
            c < ' ' -> out.append("\\u%04x".format(c.code))
            else -> out.append(c)
        }
    }
    return out.append('"').toString()
}

private fun jsonArray(values: LongArray): String = values.joinToString(",", "[", "]")

/** Times opens of one client; every open, warm-up or timed, goes through [open]. */
private class Timer(private val client: ChatSyncClient, private val threads: ThreadMXBean) {
    var checksum = 0L
    var cpuOverhead = 0L

    /** One open and close of [chat]; its wall and CPU time go to `wall[i]`, `cpu[i]`. */
    fun open(chat: String, wall: LongArray, cpu: LongArray, i: Int) {
        val c0 = threads.currentThreadCpuTime
        val t0 = System.nanoTime()
        val opened = client.openChat(chat)
        val t1 = System.nanoTime()
        val c1 = threads.currentThreadCpuTime
        client.closeChat(chat)
        // Reading the result keeps the lifted records live (and checks them).
        if (opened.messages.size != FIRST_PAGE) {
            throw BenchFailure("$chat: an open gave ${opened.messages.size} messages")
        }
        checksum += opened.messages[FIRST_PAGE - 1].id.length
        wall[i] = t1 - t0
        cpu[i] = (c1 - c0 - cpuOverhead).coerceAtLeast(0)
    }

    /** `wall.size` opens of [chat], timed into [wall] and [cpu]. */
    fun measure(chat: String, wall: LongArray, cpu: LongArray) {
        for (i in wall.indices) {
            open(chat, wall, cpu, i)
        }
    }

    /** [n] opens of [chat] through [measure], the samples discarded. */
    fun warm(chat: String, n: Int) {
        if (n > 0) measure(chat, LongArray(n), LongArray(n))
    }
}

private fun count(value: String, what: String): Int =
    value.toIntOrNull()?.takeIf { it >= 0 } ?: throw BenchFailure("$what must be a non-negative integer, not $value")

private fun run(args: Array<String>): String {
    if (args.size < 5) {
        throw BenchFailure(
            "usage: OpenChatBench <cache file> <iterations> <JIT warm-up opens> <warm-up opens per chat> <chat id>...",
        )
    }
    val cachePath = args[0]
    val iterations = count(args[1], "iterations").takeIf { it > 0 }
        ?: throw BenchFailure("iterations must be positive")
    val jitWarmup = count(args[2], "JIT warm-up opens")
    val warmup = count(args[3], "warm-up opens per chat")
    val chats = args.drop(4)

    val threads = ManagementFactory.getThreadMXBean()
    if (!threads.isCurrentThreadCpuTimeSupported) {
        throw BenchFailure("this JVM cannot read the current thread's CPU time")
    }
    threads.isThreadCpuTimeEnabled = true
    val runtime = ManagementFactory.getRuntimeMXBean()
    val jit = ManagementFactory.getCompilationMXBean()?.takeIf { it.isCompilationTimeMonitoringSupported }

    val config = defaultClientConfig("http://127.0.0.1:9", cachePath).copy(
        openMessageLimit = FIRST_PAGE.toUInt(),
        maxMessagesPerChat = null,
        maxMessagesTotal = null,
        revalidateIntervalMs = 3_600_000uL,
    )
    ChatSyncClient(config, UnusedToken()).use { client ->
        for (chat in chats) {
            val first = client.openChat(chat)
            if (first.messages.size != FIRST_PAGE || first.meta.syncState != SyncState.SYNCED) {
                throw BenchFailure("$chat: the first open gave ${first.messages.size} messages, ${first.meta.syncState}")
            }
            client.closeChat(chat)
        }
        val timer = Timer(client, threads)
        var left = jitWarmup
        var block = 0
        while (left > 0) {
            val n = minOf(JIT_BLOCK, left)
            timer.warm(chats[block % chats.size], n)
            left -= n
            block++
        }
        val reads = LongArray(1000) {
            val a = threads.currentThreadCpuTime
            threads.currentThreadCpuTime - a
        }
        reads.sort()
        timer.cpuOverhead = reads[reads.size / 2]

        val results = StringBuilder()
        for (chat in chats) {
            timer.warm(chat, warmup)
            val wall = LongArray(iterations)
            val cpu = LongArray(iterations)
            val (gcBefore, gcTimeBefore) = gcTotals()
            val jitBefore = jit?.totalCompilationTime ?: 0L
            val timedFrom = runtime.uptime
            timer.measure(chat, wall, cpu)
            val jitMs = (jit?.totalCompilationTime ?: 0L) - jitBefore
            val (gcAfter, gcTimeAfter) = gcTotals()
            if (results.isNotEmpty()) results.append(',')
            results.append(jsonString(chat)).append(":{")
                .append("\"wallNs\":").append(jsonArray(wall))
                .append(",\"cpuNs\":").append(jsonArray(cpu))
                .append(",\"gcCount\":").append(gcAfter - gcBefore)
                .append(",\"gcTimeMs\":").append(gcTimeAfter - gcTimeBefore)
                .append(",\"jitMs\":").append(jitMs)
                .append(",\"timedFromMs\":").append(timedFrom)
                .append('}')
        }
        val requests = client.netStats().httpRequests
        if (requests != 0uL) {
            throw BenchFailure("opening valid caches from Kotlin made $requests requests")
        }
        val jvm = "${System.getProperty("java.vm.name")} ${System.getProperty("java.runtime.version")}"
        return "{\"results\":{$results},\"requests\":$requests,\"jitWarmup\":$jitWarmup," +
            "\"warmup\":$warmup,\"cpuOverheadNs\":${timer.cpuOverhead}," +
            "\"checksum\":${timer.checksum},\"jvm\":${jsonString(jvm)}}"
    }
}

/** Runs the measurement; exit status 1 with the reason on stderr when it cannot. */
fun main(args: Array<String>) {
    val json = try {
        run(args)
    } catch (e: BenchFailure) {
        System.err.println("OpenChatBench: ${e.message}")
        exitProcess(1)
    } catch (e: Throwable) {
        System.err.println("OpenChatBench: ${e::class.qualifiedName}: ${e.message}")
        e.printStackTrace()
        exitProcess(1)
    }
    println(json)
}
