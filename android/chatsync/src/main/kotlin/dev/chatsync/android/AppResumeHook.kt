package dev.chatsync.android

import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import dev.chatsync.ChatSync

/**
 * Calls `onAppResume` each time the app comes to the foreground (the process lifecycle's
 * ON_START after the first), so the core reconnects and revalidates open chats.
 * Install once from `Application.onCreate` on the main thread; [remove] undoes it.
 */
class AppResumeHook(private val sync: ChatSync) : DefaultLifecycleObserver {
    private var first = true

    override fun onStart(owner: LifecycleOwner) {
        if (first) {
            first = false // the launch itself is not a resume: `start()` covers it
            return
        }
        sync.onAppResume()
    }

    /** Stops observing the process lifecycle. */
    fun remove() = ProcessLifecycleOwner.get().lifecycle.removeObserver(this)

    companion object {
        /** Registers a hook for [sync] on [ProcessLifecycleOwner]. Main thread only. */
        fun install(sync: ChatSync): AppResumeHook =
            AppResumeHook(sync).also { ProcessLifecycleOwner.get().lifecycle.addObserver(it) }
    }
}
