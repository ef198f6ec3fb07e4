//! An observer that keeps every event of a client, for the commands' verdicts and
//! the demo's checks, and lets async code wait for the next event.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chatsync::client::ErrorKind;
use chatsync::observe::{Observer, Subscription};
use chatsync::{ChatSyncClient, SyncEvent, SyncState};
use tokio::sync::watch;

/// One error event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenError {
    /// The chat it concerns, `None` for client-wide errors (ticket list, socket).
    pub request_id: Option<String>,
    /// Its kind.
    pub kind: ErrorKind,
    /// Its text.
    pub message: String,
}

impl SeenError {
    /// True when the client retries this kind of failure by itself.
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::BadData
        )
    }

    /// `kind: message`, for outputs.
    pub fn text(&self) -> String {
        format!("{}: {}", self.kind.as_str(), self.message)
    }
}

/// Records every event it is given; [`Recorder::changed`] wakes on each one.
pub struct Recorder {
    events: Mutex<Vec<SyncEvent>>,
    count: watch::Sender<u64>,
}

impl Observer<SyncEvent> for Recorder {
    fn on_event(&self, event: SyncEvent) {
        self.lock().push(event);
        self.count.send_modify(|n| *n += 1);
    }
}

impl Recorder {
    /// Subscribes a new recorder to every event of `client`.
    pub fn attach(client: &ChatSyncClient) -> (Arc<Recorder>, Subscription) {
        let recorder = Arc::new(Recorder {
            events: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let subscription = client.subscribe(recorder.clone(), None);
        (recorder, subscription)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SyncEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many events so far (a mark for [`Recorder::since`]).
    pub fn mark(&self) -> usize {
        self.lock().len()
    }

    /// A copy of the events after `mark`.
    pub fn since(&self, mark: usize) -> Vec<SyncEvent> {
        self.lock().iter().skip(mark).cloned().collect()
    }

    /// Every error event after `mark`.
    pub fn errors_since(&self, mark: usize) -> Vec<SeenError> {
        self.since(mark)
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::Error {
                    request_id,
                    kind,
                    message,
                } => Some(SeenError {
                    request_id,
                    kind,
                    message,
                }),
                _ => None,
            })
            .collect()
    }

    /// The states reported for `chat` after `mark`, in order.
    pub fn states_since(&self, mark: usize, chat: &str) -> Vec<SyncState> {
        self.since(mark)
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::SyncStateChanged { request_id, state } if request_id == chat => {
                    Some(state)
                }
                _ => None,
            })
            .collect()
    }

    /// The syncing flags reported for `chat` after `mark`, in order.
    pub fn syncing_since(&self, mark: usize, chat: &str) -> Vec<bool> {
        self.since(mark)
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::SyncingChanged {
                    request_id,
                    syncing,
                } if request_id == chat => Some(syncing),
                _ => None,
            })
            .collect()
    }

    /// True when a fresh ticket list arrived after `mark` (the server answered).
    pub fn tickets_loaded_since(&self, mark: usize) -> bool {
        self.since(mark)
            .iter()
            .any(|e| matches!(e, SyncEvent::TicketsChanged { .. }))
    }

    /// True when the realtime socket was reported up after `mark`.
    pub fn realtime_up_since(&self, mark: usize) -> bool {
        self.since(mark).iter().any(|e| {
            matches!(
                e,
                SyncEvent::ConnectionChanged {
                    realtime_connected: true,
                    ..
                }
            )
        })
    }

    /// Waits until the next event arrives or `timeout` passes.
    pub async fn changed(&self, timeout: Duration) {
        let mut receiver = self.count.subscribe();
        receiver.mark_unchanged();
        let _ = tokio::time::timeout(timeout, receiver.changed()).await;
    }

    /// Waits (polling each event) until `done` holds for the events after `mark`,
    /// or `timeout` passes; returns whether it held.
    pub async fn wait_for(
        &self,
        mark: usize,
        timeout: Duration,
        done: impl Fn(&[SyncEvent]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut receiver = self.count.subscribe();
        loop {
            receiver.mark_unchanged();
            if done(&self.since(mark)) {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let _ = tokio::time::timeout(deadline - now, receiver.changed()).await;
        }
    }
}
