// Measurement 2 of `chatsync bench` through the generated Kotlin bindings on the JVM:
// times `ChatSyncClient.openChat` (the latest 50 messages + the meta, lifted into Kotlin
// records) on a cache file the benchmark filled, and prints one JSON object on stdout:
//
//   {"results": {"<chat>": {"wallNs": [...], "cpuNs": [...], "gcCount": n, "gcTimeMs": n}},
//    "requests": 0, "warmup": n, "cpuOverheadNs": n, "checksum": n, "jvm": "..."}
//
// (gcCount / gcTimeMs: collections during the timed opens; checksum: a sum over the
// results read, printed so the JIT cannot drop the lifting of unused records.)
//
// Usage: java -Djna.library.path=<dir of libchatsync_ffi.so> -cp <classpath>
//        dev.chatsync.bench.OpenChatBenchKt <cache file> <iterations> <warm-up opens> <chat id>...
//
// The client is configured like the Python script of bench/src/python.rs and the Rust
// measurement (open_message_limit 50, no eviction caps, revalidation every hour, a base
// URL that is never contacted): a valid cache opens SYNCED with zero requests, and the
// program exits non-zero (message on stderr, nothing on stdout) if any request was made,
// if a first open is not 50 messages SYNCED, or if any timed open is not 50 messages.
package dev.chatsync.bench

import dev.chatsync.ffi.AuthTokenProvider
import dev.chatsync.ffi.ChatSyncClient
import dev.chatsync.ffi.SyncState
import dev.chatsync.ffi.defaultClientConfig
import java.lang.management.ManagementFactory
import kotlin.system.exitProcess

private const val FIRST_PAGE = 50

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

private fun run(args: Array<String>): String {
    if (args.size < 4) {
        throw BenchFailure("usage: OpenChatBench <cache file> <iterations> <warm-up opens> <chat id>...")
    }
    val cachePath = args[0]
    val iterations = args[1].toIntOrNull()?.takeIf { it > 0 }
        ?: throw BenchFailure("iterations must be a positive integer, not ${args[1]}")
    val warmup = args[2].toIntOrNull()?.takeIf { it >= 0 }
        ?: throw BenchFailure("warm-up opens must be a non-negative integer, not ${args[2]}")
    val chats = args.drop(3)

    val threads = ManagementFactory.getThreadMXBean()
    if (!threads.isCurrentThreadCpuTimeSupported) {
        throw BenchFailure("this JVM cannot read the current thread's CPU time")
    }
    threads.isThreadCpuTimeEnabled = true

    val config = defaultClientConfig("http://127.0.0.1:9", cachePath).copy(
        openMessageLimit = FIRST_PAGE.toUInt(),
        maxMessagesPerChat = null,
        maxMessagesTotal = null,
        revalidateIntervalMs = 3_600_000uL,
    )
    val results = StringBuilder()
    var cpuOverhead = 0L
    ChatSyncClient(config, UnusedToken()).use { client ->
        var checksum = 0L
        for ((index, chat) in chats.withIndex()) {
            val first = client.openChat(chat)
            if (first.messages.size != FIRST_PAGE || first.meta.syncState != SyncState.SYNCED) {
                throw BenchFailure("$chat: the first open gave ${first.messages.size} messages, ${first.meta.syncState}")
            }
            client.closeChat(chat)
            // JIT warm-up: the same calls as the timed loop, untimed.
            repeat(warmup) {
                checksum += client.openChat(chat).messages.size
                client.closeChat(chat)
                threads.currentThreadCpuTime
                System.nanoTime()
            }
            if (index == 0) {
                // The cost of reading the CPU clock twice (subtracted from every CPU
                // sample, as the Rust sampler does), measured once the reads are compiled.
                val reads = LongArray(1000) {
                    val a = threads.currentThreadCpuTime
                    threads.currentThreadCpuTime - a
                }
                reads.sort()
                cpuOverhead = reads[reads.size / 2]
            }
            val wall = LongArray(iterations)
            val cpu = LongArray(iterations)
            val (gcBefore, gcTimeBefore) = gcTotals()
            for (i in 0 until iterations) {
                val c0 = threads.currentThreadCpuTime
                val t0 = System.nanoTime()
                val opened = client.openChat(chat)
                val t1 = System.nanoTime()
                val c1 = threads.currentThreadCpuTime
                client.closeChat(chat)
                // Reading the result keeps the lifted records live (and checks them).
                if (opened.messages.size != FIRST_PAGE) {
                    throw BenchFailure("$chat: a timed open gave ${opened.messages.size} messages")
                }
                checksum += opened.messages[FIRST_PAGE - 1].id.length
                wall[i] = t1 - t0
                cpu[i] = (c1 - c0 - cpuOverhead).coerceAtLeast(0)
            }
            val (gcAfter, gcTimeAfter) = gcTotals()
            if (results.isNotEmpty()) results.append(',')
            results.append(jsonString(chat)).append(":{")
                .append("\"wallNs\":").append(jsonArray(wall))
                .append(",\"cpuNs\":").append(jsonArray(cpu))
                .append(",\"gcCount\":").append(gcAfter - gcBefore)
                .append(",\"gcTimeMs\":").append(gcTimeAfter - gcTimeBefore)
                .append('}')
        }
        val requests = client.netStats().httpRequests
        if (requests != 0uL) {
            throw BenchFailure("opening valid caches from Kotlin made $requests requests")
        }
        val jvm = "${System.getProperty("java.vm.name")} ${System.getProperty("java.runtime.version")}"
        return "{\"results\":{$results},\"requests\":$requests,\"warmup\":$warmup," +
            "\"cpuOverheadNs\":$cpuOverhead,\"checksum\":$checksum,\"jvm\":${jsonString(jvm)}}"
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
