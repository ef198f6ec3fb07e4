package dev.chatsync.android

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkRequest
import dev.chatsync.ChatSync
import dev.chatsync.ConnectivityDebouncer
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineScope

/**
 * Feeds `ConnectivityManager` callbacks into the core through a [ConnectivityDebouncer]:
 * `onConnectivityRestored` / `onConnectivityLost` are called once per settled change.
 * Needs `ACCESS_NETWORK_STATE` (declared by the library's manifest).
 */
class ConnectivityMonitor(
    context: Context,
    sync: ChatSync,
    scope: CoroutineScope,
    debounce: Duration = 1.seconds,
) : AutoCloseable {
    private val manager = context.getSystemService(ConnectivityManager::class.java)
    private val debouncer = ConnectivityDebouncer(scope, sync, debounce)
    private val validated = mutableSetOf<Network>()

    private val callback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
            val usable = capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
            update { if (usable) validated.add(network) else validated.remove(network) }
        }

        override fun onLost(network: Network) = update { validated.remove(network) }
    }

    init {
        val request = NetworkRequest.Builder()
            .addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
            .build()
        manager.registerNetworkCallback(request, callback)
    }

    private fun update(change: () -> Unit) {
        val online = synchronized(validated) {
            change()
            validated.isNotEmpty()
        }
        if (online) debouncer.onNetworkAvailable() else debouncer.onNetworkLost()
    }

    /** Unregisters the network callback. */
    override fun close() = manager.unregisterNetworkCallback(callback)
}
