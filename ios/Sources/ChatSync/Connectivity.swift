// Connectivity → the core's `onConnectivityLost` / `onConnectivityRestored`.
//
// `ConnectivityDebouncer` is platform-independent (Dispatch only) and tested on
// Linux; `NetworkConnectivityMonitor` feeds it from `NWPathMonitor` on Apple platforms.

import Dispatch
import Foundation

/// Turns raw reachability observations into the core's connectivity calls: a loss
/// is reported at once; a return only after the path stayed up for `restoreDelay`,
/// so a flapping network triggers one revalidation instead of many.
///
/// Guarantees: calls alternate (lost, restored, lost, ...), never two of the same
/// in a row; the first observation only reports a loss (the core starts online);
/// callbacks run in order on the debouncer's serial queue, never concurrently.
public final class ConnectivityDebouncer: @unchecked Sendable {
    // @unchecked: the mutable state below is read and written on `queue` only.
    private let queue = DispatchQueue(label: "chatsync.connectivity-debouncer")
    private let restoreDelay: Duration
    private let onLost: @Sendable () -> Void
    private let onRestored: @Sendable () -> Void
    private var reportedOnline = true
    private var pendingRestore: DispatchWorkItem?

    /// A debouncer calling `onLost` / `onRestored`.
    public init(
        restoreDelay: Duration = .seconds(1),
        onLost: @escaping @Sendable () -> Void,
        onRestored: @escaping @Sendable () -> Void
    ) {
        self.restoreDelay = restoreDelay
        self.onLost = onLost
        self.onRestored = onRestored
    }

    /// A debouncer driving `chatSync`'s connectivity calls.
    public convenience init(chatSync: ChatSync, restoreDelay: Duration = .seconds(1)) {
        self.init(
            restoreDelay: restoreDelay,
            onLost: { chatSync.onConnectivityLost() },
            onRestored: { chatSync.onConnectivityRestored() }
        )
    }

    /// Reports one reachability observation (from any thread).
    public func observe(online: Bool) {
        queue.async { self.handle(online: online) }
    }

    private func handle(online: Bool) {
        if !online {
            pendingRestore?.cancel()
            pendingRestore = nil
            if reportedOnline {
                reportedOnline = false
                onLost()
            }
            return
        }
        guard !reportedOnline, pendingRestore == nil else { return }
        let item = DispatchWorkItem { [self] in
            pendingRestore = nil
            reportedOnline = true
            onRestored()
        }
        pendingRestore = item
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(clamping: restoreDelay.wholeMilliseconds)), execute: item)
    }
}

#if canImport(Network)
import Network

/// Watches the device's network path with `NWPathMonitor` and reports it to the
/// core through a ``ConnectivityDebouncer``. Keep it alive while signed in;
/// ``stop()`` (or releasing it) ends the monitoring.
public final class NetworkConnectivityMonitor: @unchecked Sendable {
    // @unchecked: `monitor` is configured in init only; `start`/`cancel` are thread-safe.
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "chatsync.path-monitor")

    /// A monitor for `chatSync`; `restoreDelay` is the debounce of a returning path.
    public init(chatSync: ChatSync, restoreDelay: Duration = .seconds(1)) {
        let debouncer = ConnectivityDebouncer(chatSync: chatSync, restoreDelay: restoreDelay)
        monitor.pathUpdateHandler = { path in
            debouncer.observe(online: path.status == .satisfied)
        }
    }

    /// Starts monitoring (the current path is reported at once).
    public func start() { monitor.start(queue: queue) }

    /// Stops monitoring for good.
    public func stop() { monitor.cancel() }

    deinit { monitor.cancel() }
}
#endif
