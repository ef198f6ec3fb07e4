package dev.chatsync

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch

/**
 * Turns a platform's raw, flapping network callbacks into settled connectivity changes:
 * a change is reported only after the network stayed that way for [debounce], and only
 * when it differs from the last one reported. Thread-safe.
 */
class ConnectivityDebouncer(
    private val scope: CoroutineScope,
    private val onRestored: () -> Unit,
    private val onLost: () -> Unit,
    private val debounce: Duration = 1.seconds,
    initiallyOnline: Boolean = true,
) {
    private var reported = initiallyOnline
    private var pending: Job? = null

    /** Reports connectivity changes to [sync]'s client. */
    constructor(scope: CoroutineScope, sync: ChatSync, debounce: Duration = 1.seconds) :
        this(scope, sync::onConnectivityRestored, sync::onConnectivityLost, debounce)

    /** The platform says a usable network is available. */
    fun onNetworkAvailable() = observe(true)

    /** The platform says the last usable network is gone. */
    fun onNetworkLost() = observe(false)

    @Synchronized
    private fun observe(online: Boolean) {
        pending?.cancel()
        pending = scope.launch {
            delay(debounce)
            report(online)
        }
    }

    @Synchronized
    private fun report(online: Boolean) {
        if (online == reported) return
        reported = online
        if (online) onRestored() else onLost()
    }
}
