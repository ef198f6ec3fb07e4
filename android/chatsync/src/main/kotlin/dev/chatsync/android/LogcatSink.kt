package dev.chatsync.android

import android.util.Log
import dev.chatsync.ffi.LogLevel
import dev.chatsync.ffi.LogRecord
import dev.chatsync.ffi.LogSink
import dev.chatsync.ffi.setLogSink

/** Writes the core's log records to Logcat under [tag] (tokens never appear in them). */
class LogcatSink(private val tag: String = "chatsync") : LogSink {
    override fun log(record: LogRecord) {
        val text = "${record.target}: ${record.text}"
        when (record.level) {
            LogLevel.ERROR -> Log.e(tag, text)
            LogLevel.WARN -> Log.w(tag, text)
            LogLevel.INFO -> Log.i(tag, text)
            LogLevel.DEBUG -> Log.d(tag, text)
            LogLevel.TRACE -> Log.v(tag, text)
        }
    }

    companion object {
        /** Forwards the core's logs at [level] and above to Logcat. */
        fun install(level: LogLevel = LogLevel.INFO, tag: String = "chatsync") = setLogSink(LogcatSink(tag), level)
    }
}
