//! Desktop platform part (Linux, macOS, Windows).
//!
//! On desktop the webview's own events are the lifecycle signals: the guest
//! code forwards `visibilitychange` (window shown again) as `app_resumed` and
//! `online` / `offline` as `connectivity_changed`. Tauri's `RunEvent::Resumed`
//! is an event-loop detail on desktop (sent once when the loop starts), not a
//! foreground signal, so only the exit is taken from the run loop here.

use tauri::RunEvent;

/// What the run loop tells the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleSignal {
    /// The app came back to the foreground (mobile only; never produced on desktop).
    #[allow(dead_code)]
    Resumed,
    /// The event loop is exiting: stop network work.
    Exit,
}

/// Maps a run-loop event to a lifecycle signal.
pub(crate) fn lifecycle_signal(event: &RunEvent) -> Option<LifecycleSignal> {
    match event {
        RunEvent::Exit => Some(LifecycleSignal::Exit),
        _ => None,
    }
}
