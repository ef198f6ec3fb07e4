package dev.chatsync

import dev.chatsync.ffi.LogLevel
import dev.chatsync.ffi.LogRecord
import dev.chatsync.ffi.LogSink
import dev.chatsync.ffi.clearLogSink
import dev.chatsync.ffi.setLogSink

/** A [LogSink] calling [block] for every record (on the Rust thread that logged; keep it quick). */
class FunctionLogSink(private val block: (LogRecord) -> Unit) : LogSink {
    override fun log(record: LogRecord) = block(record)
}

/** Forwards the core's logs at [level] and above to [block]; tokens never appear in them. */
fun forwardCoreLogs(level: LogLevel, block: (LogRecord) -> Unit) = setLogSink(FunctionLogSink(block), level)

/** Stops forwarding the core's logs. */
fun stopForwardingCoreLogs() = clearLogSink()
