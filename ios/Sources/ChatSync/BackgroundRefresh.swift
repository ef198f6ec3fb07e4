// BGAppRefreshTask → the core's `background_revalidate` (metadata only, bounded in
// time). Compiled only where BackgroundTasks and UIKit exist (iOS, iPadOS, visionOS,
// Mac Catalyst); `BGAppRefreshTask` is unavailable on macOS.

#if canImport(BackgroundTasks) && canImport(UIKit)
import BackgroundTasks
import Foundation

/// Runs ``ChatSync/backgroundRevalidate(budget:)`` from a `BGAppRefreshTask`.
///
/// Setup: list `identifier` under `BGTaskSchedulerPermittedIdentifiers` in
/// Info.plist, enable the "Background fetch" mode, call ``register(identifier:interval:budget:chatSync:)``
/// before the app finishes launching, and ``schedule(identifier:after:)`` when it
/// goes to the background.
///
/// Each run first schedules the next one (so refreshing never stops), then
/// revalidates for at most `budget` and completes the task exactly once: with
/// success when fresh metadata arrived, without when it did not, when no account is
/// signed in, or when the system expired the task first.
public enum BackgroundRevalidation {
    /// Registers the launch handler. `chatSync` returns the signed-in account's
    /// client, or nil when nobody is signed in. Returns false when the identifier
    /// is not permitted (or registered twice).
    @discardableResult
    public static func register(
        identifier: String,
        interval: TimeInterval = 15 * 60,
        budget: Duration = .seconds(20),
        chatSync: @escaping @Sendable () -> ChatSync?
    ) -> Bool {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            BackgroundRevalidation.schedule(identifier: identifier, after: interval)
            let completion = TaskCompletion(task)
            guard let client = chatSync() else {
                completion.finish(success: false)
                return
            }
            let work = Task {
                let report = try? await client.backgroundRevalidate(budget: budget)
                completion.finish(success: report?.completed ?? false)
            }
            task.expirationHandler = {
                work.cancel()
                completion.finish(success: false)
            }
        }
    }

    /// Asks for the next run no earlier than `interval` from now. Returns false
    /// when the system refused the request (e.g. background refresh is disabled).
    @discardableResult
    public static func schedule(identifier: String, after interval: TimeInterval = 15 * 60) -> Bool {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: interval)
        do {
            try BGTaskScheduler.shared.submit(request)
            return true
        } catch {
            return false
        }
    }
}

/// Completes a `BGTask` exactly once, from whichever of the work and the
/// expiration handler comes first.
final class TaskCompletion: @unchecked Sendable {
    // @unchecked: `task` is read and cleared under `lock` only.
    private let lock = NSLock()
    private var task: BGTask?

    init(_ task: BGTask) { self.task = task }

    func finish(success: Bool) {
        lock.lock()
        let task = self.task
        self.task = nil
        lock.unlock()
        task?.setTaskCompleted(success: success)
    }
}
#endif
