package dev.chatsync.android

import android.content.Context
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import dev.chatsync.ffi.ChatSyncException
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/**
 * WorkManager worker for background refresh: `backgroundRevalidate` (metadata only, no
 * message fetch) within a 20 s budget. The app's `Application` must implement
 * [ChatSyncHost]; with nobody signed in the work succeeds without doing anything.
 */
class RevalidateWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val sync = (applicationContext as? ChatSyncHost)?.chatSync ?: return Result.success()
        return try {
            sync.backgroundRevalidate(20.seconds)
            Result.success()
        } catch (e: ChatSyncException.Network) {
            Result.retry()
        } catch (e: ChatSyncException.Timeout) {
            Result.retry()
        } catch (e: ChatSyncException) {
            Result.failure()
        }
    }

    companion object {
        private const val NAME = "chatsync-revalidate"

        /** Schedules the worker every [hours] hours while a network is connected. */
        fun schedule(context: Context, hours: Long = 1) {
            val request = PeriodicWorkRequestBuilder<RevalidateWorker>(hours, TimeUnit.HOURS)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(NAME, ExistingPeriodicWorkPolicy.KEEP, request)
        }
    }
}
