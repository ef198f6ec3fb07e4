package dev.chatsync.android

import dev.chatsync.ChatSync

/**
 * Implemented by the app's `Application`: the one [ChatSync] of the signed-in account,
 * or null when nobody is signed in. The WorkManager worker finds the client through it.
 */
interface ChatSyncHost {
    /** The signed-in account's client, or null. */
    val chatSync: ChatSync?
}
