//! Mobile platform part (Android, iOS).
//!
//! Tauri 2 has no dependable foreground signal on mobile: `RunEvent::Resumed`
//! comes from the event loop and is not tied to the Activity's `onResume` or
//! the scene's `willEnterForeground` on every version. The plugin forwards it
//! anyway as a best-effort hint (`on_app_resume` is cheap and idempotent:
//! metadata only), and the webview's `visibilitychange`, which follows the
//! WebView's visibility on both platforms, is the primary signal. A native
//! Kotlin / Swift part (ProcessLifecycleOwner, `UIApplication` notifications,
//! `NWPathMonitor` / `ConnectivityManager`) would close the gap; see the
//! README's "lifecycle gap".

use tauri::RunEvent;

/// What the run loop tells the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleSignal {
    /// The app (probably) came back to the foreground.
    Resumed,
    /// The event loop is exiting: stop network work.
    Exit,
}

/// Maps a run-loop event to a lifecycle signal.
pub(crate) fn lifecycle_signal(event: &RunEvent) -> Option<LifecycleSignal> {
    match event {
        RunEvent::Resumed => Some(LifecycleSignal::Resumed),
        RunEvent::Exit => Some(LifecycleSignal::Exit),
        _ => None,
    }
}
