//! A process-wide panic counter.
//!
//! The client runs its work on tokio tasks; a panicking task is caught by tokio and
//! would go unnoticed by a test. [`install`] chains a hook that counts every panic
//! (and still prints it), so a harness can assert that none happened.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

static PANICS: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

/// Installs the counting hook once per process (later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics seen since [`install`], in any thread of this process.
pub fn count() -> u64 {
    PANICS.load(Ordering::SeqCst)
}
