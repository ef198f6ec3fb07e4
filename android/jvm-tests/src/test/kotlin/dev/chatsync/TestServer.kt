package dev.chatsync

import dev.chatsync.ffi.AuthTokenProvider
import dev.chatsync.ffi.ChatSyncClient
import dev.chatsync.ffi.SyncEvent
import dev.chatsync.ffi.SyncObserver
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit

/** The real `chatsync-server` as a process on loopback, with faults allowed. */
class TestServer(tickets: Int = 2, messages: Int = 20) : AutoCloseable {
    private val process: Process
    val baseUrl: String
    val adminToken: String
    private val users: List<Map<String, String>>
    private val http = HttpClient.newHttpClient()

    init {
        val binary = System.getProperty("chatsync.server.bin")
            ?: error("set -Dchatsync.server.bin to the chatsync-server binary")
        process = ProcessBuilder(
            binary, "--addr", "127.0.0.1:0", "--seed-tickets", "$tickets",
            "--seed-messages", "$messages", "--faults",
        ).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("the server did not start (exit status ${process.waitFor()})")
        baseUrl = "http://" + field(line, "address")
        adminToken = field(line, "adminToken")
        users = Regex("\\{[^{}]*\"role\"[^{}]*\\}").findAll(line).map { user ->
            Regex("\"(\\w+)\"\\s*:\\s*\"([^\"]*)\"").findAll(user.value)
                .associate { it.groupValues[1] to it.groupValues[2] }
        }.toList()
    }

    fun user(role: String): Map<String, String> = users.first { it["role"] == role }

    fun token(role: String = "requester"): String = user(role).getValue("token")

    /** Calls an admin endpoint; returns the body. */
    fun admin(method: String, path: String, body: String? = null): String {
        val request = HttpRequest.newBuilder(URI.create(baseUrl + path))
            .header("Authorization", "Bearer $adminToken")
            .header("Content-Type", "application/json")
            .method(method, body?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody())
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() in 200..299) { "$method $path: ${response.statusCode()} ${response.body()}" }
        return response.body()
    }

    /** Posts as the technician; returns the new message's sequence number. */
    fun postAsTechnician(chat: String, content: String): Long {
        val id = user("technician").getValue("id")
        val body = admin("POST", "/admin/v1/messages", """{"requestId":"$chat","senderId":"$id","content":"$content"}""")
        return Regex("\"sequenceNumber\"\\s*:\\s*(\\d+)").find(body)!!.groupValues[1].toLong()
    }

    /** One counter of `GET /admin/v1/stats`. */
    fun stat(name: String): Long =
        Regex("\"$name\"\\s*:\\s*(\\d+)").find(admin("GET", "/admin/v1/stats"))!!.groupValues[1].toLong()

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }

    private companion object {
        fun field(line: String, name: String): String =
            Regex("\"$name\"\\s*:\\s*\"([^\"]+)\"").find(line)?.groupValues?.get(1) ?: error("no $name in $line")
    }
}

/** A token provider that always returns [token]. */
class StaticToken(private val token: String) : AuthTokenProvider {
    override fun token(rejected: String?): String = token
}

/** Records every event and the name of the thread it arrived on. */
class Recorder : SyncObserver {
    val events = CopyOnWriteArrayList<SyncEvent>()
    val threads = CopyOnWriteArrayList<String>()

    override fun onEvent(event: SyncEvent) {
        threads += Thread.currentThread().name
        events += event
    }
}

/** A temporary directory for cache files, deleted on close. */
class TempDir : AutoCloseable {
    val path: Path = Files.createTempDirectory("chatsync-jvm")
    fun file(name: String): String = path.resolve(name).toString()
    override fun close() {
        path.toFile().deleteRecursively()
    }
}

fun ChatSyncClient.cachedSeqs(chat: String): List<Long> =
    getCachedMessages(chat, null).mapNotNull { it.sequenceNumber }
