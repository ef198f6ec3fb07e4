//! Callback-based observers for every platform.
//!
//! Guarantees:
//! - events are delivered on one dedicated dispatch thread, never on the caller's
//!   thread and never while an internal lock is held, so an observer may call back
//!   into the client;
//! - events reach each observer in the order they were published (so in order per chat),
//!   and observers in the order they subscribed;
//! - a new subscriber first receives its initial snapshot, then every event published
//!   after it subscribed (never one published before, even if still queued);
//! - dropping or cancelling the [`Subscription`] unsubscribes; the hub holds the
//!   observer, the handle holds only a weak link to the hub, so there is no cycle;
//! - a panicking observer is logged and skipped; it never stops delivery to others.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};

/// Receives events; implemented by platform layers (Kotlin, Swift, JS, CLI).
pub trait Observer<E>: Send + Sync {
    /// Called on the dispatch thread for every event matching the subscription's filter.
    fn on_event(&self, event: E);
}

impl<E, F: Fn(E) + Send + Sync> Observer<E> for F {
    fn on_event(&self, event: E) {
        self(event)
    }
}

/// Decides which events a subscription receives (for example, one chat's).
pub trait EventFilter<E>: Send + Sync {
    /// True when `event` should reach the subscriber.
    fn accepts(&self, event: &E) -> bool;
}

/// Accepts every event.
pub struct AllEvents;

impl<E> EventFilter<E> for AllEvents {
    fn accepts(&self, _event: &E) -> bool {
        true
    }
}

struct Subscriber<E> {
    observer: Arc<dyn Observer<E>>,
    filter: Box<dyn EventFilter<E>>,
    /// Serial of the first broadcast this subscriber receives: events published
    /// before it subscribed (still queued) are not delivered to it, so nothing
    /// older ever overtakes its snapshot.
    first_serial: u64,
}

enum Dispatch<E> {
    Broadcast { serial: u64, event: E },
    Initial { subscriber: u64, events: Vec<E> },
    Flush(mpsc::SyncSender<()>),
}

struct HubState<E> {
    subscribers: Mutex<BTreeMap<u64, Arc<Subscriber<E>>>>,
    next_id: AtomicU64,
}

/// Publishes events to subscribers through one dispatch thread.
pub struct ObserverHub<E: Clone + Send + 'static> {
    state: Arc<HubState<E>>,
    queue: Mutex<Queue<E>>,
}

/// The dispatch channel and the serial of the next broadcast, behind one lock, so a
/// subscription's first serial and its snapshot's place in the channel agree.
struct Queue<E> {
    sender: mpsc::Sender<Dispatch<E>>,
    next_serial: u64,
}

/// A live subscription; dropping it (or [`Subscription::cancel`]) unsubscribes.
pub struct Subscription {
    id: u64,
    unsubscribe: Option<Box<dyn FnOnce(u64) + Send + Sync>>,
}

impl Subscription {
    /// Unsubscribes now; later events are not delivered (one already being delivered may finish).
    pub fn cancel(mut self) {
        self.unsubscribe_now();
    }

    fn unsubscribe_now(&mut self) {
        if let Some(unsubscribe) = self.unsubscribe.take() {
            unsubscribe(self.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe_now();
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl<E: Clone + Send + 'static> ObserverHub<E> {
    /// Starts the dispatch thread (named `thread_name`); it ends when the hub is dropped.
    pub fn new(thread_name: &str) -> ObserverHub<E> {
        let state = Arc::new(HubState {
            subscribers: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
        });
        let (queue, receiver) = mpsc::channel::<Dispatch<E>>();
        let dispatch_state = Arc::downgrade(&state);
        std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || dispatch_loop(dispatch_state, receiver))
            .expect("spawning the observer dispatch thread");
        ObserverHub {
            state,
            queue: Mutex::new(Queue {
                sender: queue,
                next_serial: 0,
            }),
        }
    }

    /// Subscribes `observer` to the events `filter` accepts; `initial` events are
    /// delivered to it first (its snapshot), before any later published event.
    pub fn subscribe(
        &self,
        observer: Arc<dyn Observer<E>>,
        filter: Box<dyn EventFilter<E>>,
        initial: Vec<E>,
    ) -> Subscription {
        let id = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        {
            // Under the queue lock: every broadcast numbered below `first_serial` is
            // already in the channel, ahead of the snapshot sent next.
            let queue = self.queue.lock().expect("queue lock");
            self.state
                .subscribers
                .lock()
                .expect("subscribers lock")
                .insert(
                    id,
                    Arc::new(Subscriber {
                        observer,
                        filter,
                        first_serial: queue.next_serial,
                    }),
                );
            if !initial.is_empty() {
                let _ = queue.sender.send(Dispatch::Initial {
                    subscriber: id,
                    events: initial,
                });
            }
        }
        let weak: Weak<HubState<E>> = Arc::downgrade(&self.state);
        Subscription {
            id,
            unsubscribe: Some(Box::new(move |id| {
                if let Some(state) = weak.upgrade() {
                    state
                        .subscribers
                        .lock()
                        .expect("subscribers lock")
                        .remove(&id);
                }
            })),
        }
    }

    /// Queues `event` for every subscriber; returns at once.
    pub fn publish(&self, event: E) {
        let mut queue = self.queue.lock().expect("queue lock");
        let serial = queue.next_serial;
        queue.next_serial += 1;
        // The receiver lives as long as the hub state, which outlives this call.
        let _ = queue.sender.send(Dispatch::Broadcast { serial, event });
    }

    /// Number of live subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.state
            .subscribers
            .lock()
            .expect("subscribers lock")
            .len()
    }

    /// Blocks until every event published before this call has been delivered.
    /// Must not be called from an observer (it would wait for itself).
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        self.send(Dispatch::Flush(done));
        let _ = wait.recv();
    }

    fn send(&self, dispatch: Dispatch<E>) {
        // The receiver lives as long as the hub state, which outlives this call.
        let _ = self.queue.lock().expect("queue lock").sender.send(dispatch);
    }
}

fn dispatch_loop<E: Clone>(state: Weak<HubState<E>>, receiver: mpsc::Receiver<Dispatch<E>>) {
    while let Ok(dispatch) = receiver.recv() {
        let Some(state) = state.upgrade() else { return };
        match dispatch {
            Dispatch::Broadcast { serial, event } => {
                // Snapshot under the lock, deliver without it.
                let subscribers: Vec<Arc<Subscriber<E>>> = state
                    .subscribers
                    .lock()
                    .expect("subscribers lock")
                    .values()
                    .cloned()
                    .collect();
                drop(state);
                for subscriber in subscribers {
                    if serial >= subscriber.first_serial && subscriber.filter.accepts(&event) {
                        deliver(&subscriber.observer, event.clone());
                    }
                }
            }
            Dispatch::Initial { subscriber, events } => {
                let target = state
                    .subscribers
                    .lock()
                    .expect("subscribers lock")
                    .get(&subscriber)
                    .cloned();
                drop(state);
                if let Some(target) = target {
                    for event in events {
                        deliver(&target.observer, event);
                    }
                }
            }
            Dispatch::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

fn deliver<E>(observer: &Arc<dyn Observer<E>>, event: E) {
    let call = std::panic::AssertUnwindSafe(|| observer.on_event(event));
    if std::panic::catch_unwind(call).is_err() {
        tracing::error!("an observer panicked; the event was skipped for it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Only(u32);
    impl EventFilter<u32> for Only {
        fn accepts(&self, event: &u32) -> bool {
            event.is_multiple_of(self.0)
        }
    }

    #[test]
    fn events_arrive_in_order_off_thread_initial_first_and_filtered() {
        let hub = ObserverHub::<u32>::new("test-dispatch");
        let caller = std::thread::current().id();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let observer = Arc::new(move |event: u32| {
            assert_ne!(std::thread::current().id(), caller);
            sink.lock().unwrap().push(event);
        });
        hub.publish(1);
        let subscription = hub.subscribe(observer, Box::new(Only(2)), vec![100]);
        for event in 2..=10 {
            hub.publish(event);
        }
        hub.flush();
        assert_eq!(*seen.lock().unwrap(), vec![100, 2, 4, 6, 8, 10]);
        drop(subscription);
        hub.publish(12);
        hub.flush();
        assert_eq!(seen.lock().unwrap().len(), 6);
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[test]
    fn events_queued_before_a_subscription_never_reach_it() {
        let hub = ObserverHub::<u32>::new("test-dispatch");
        let gate = Arc::new(std::sync::Barrier::new(2));
        let blocker_gate = Arc::clone(&gate);
        // Holds the dispatch thread, so the next events stay queued.
        let _blocker = hub.subscribe(
            Arc::new(move |event: u32| {
                if event == 0 {
                    blocker_gate.wait();
                }
            }),
            Box::new(AllEvents),
            Vec::new(),
        );
        hub.publish(0);
        hub.publish(1);
        hub.publish(2);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let _late = hub.subscribe(
            Arc::new(move |event: u32| sink.lock().unwrap().push(event)),
            Box::new(AllEvents),
            vec![100],
        );
        hub.publish(3);
        gate.wait();
        hub.flush();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![100, 3],
            "the snapshot first, nothing older"
        );
    }

    #[test]
    fn an_observer_may_reenter_the_hub_and_a_panicking_one_is_skipped() {
        let hub = Arc::new(ObserverHub::<u32>::new("test-dispatch"));
        let reentrant_hub = Arc::downgrade(&hub);
        let count = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&count);
        let _reentrant = hub.subscribe(
            Arc::new(move |event: u32| {
                if let Some(hub) = reentrant_hub.upgrade() {
                    // Re-entering (subscribing and publishing) must not deadlock.
                    let inner =
                        hub.subscribe(Arc::new(|_: u32| {}), Box::new(AllEvents), Vec::new());
                    drop(inner);
                    if event == 1 {
                        hub.publish(2);
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            Box::new(AllEvents),
            Vec::new(),
        );
        let _panicking = hub.subscribe(
            Arc::new(|_: u32| panic!("observer bug")),
            Box::new(AllEvents),
            Vec::new(),
        );
        hub.publish(1);
        hub.flush();
        hub.flush();
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }
}
