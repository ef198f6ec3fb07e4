//! Fault injection: deterministic, per-instance controls over pushes and HTTP answers,
//! plus seeded random push faults for soak tests.
//!
//! A *push* is one logical frame (`message.new` or `ticket.updated`) before it is fanned
//! out to the recipients' connections, so a fault hits every recipient alike. Count-based
//! controls are consumed by the frames they hit; setting one replaces its previous value.
//! At most one of drop / duplicate / reorder applies to a frame (checked in that order,
//! deterministic controls before random ones); delays apply on top.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::stats::EndpointKind;

/// Which frames a push fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum PushKind {
    /// Every frame.
    #[default]
    #[serde(rename = "any")]
    Any,
    /// `message.new` frames only.
    #[serde(rename = "message.new")]
    MessageNew,
    /// `ticket.updated` frames only.
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
}

impl PushKind {
    fn matches(self, frame: PushKind) -> bool {
        self == PushKind::Any || self == frame
    }
}

/// Seeded random push faults: each frame is dropped with `drop_rate`, else duplicated
/// with `duplicate_rate`, else held back (reordered) with `reorder_rate`. The same seed
/// and the same frame sequence give the same faults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RandomPushFaults {
    /// Generator seed.
    pub seed: u64,
    /// Probability in `0.0..=1.0`.
    pub drop_rate: f64,
    /// Probability in `0.0..=1.0`.
    pub duplicate_rate: f64,
    /// Probability in `0.0..=1.0`.
    pub reorder_rate: f64,
}

/// A count of frames of a kind still to be hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushCount {
    /// Frames still to hit.
    pub remaining: u32,
    /// Which frames count.
    pub kind: PushKind,
}

/// A count of HTTP responses still to be hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpCount {
    /// Responses still to hit.
    pub remaining: u32,
    /// Only requests of this kind count; `None` = every `/api/v1` request.
    pub target: Option<EndpointKind>,
}

/// A targeted drop: every frame of `request_id` carrying `sequence` (a `message.new` of
/// that sequence, a `ticket.updated` reporting it) is dropped until [`FaultController::reset`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetedDrop {
    /// The ticket.
    pub request_id: String,
    /// The sequence.
    pub sequence: i64,
}

/// The current fault settings (what `GET /admin/v1/faults` returns).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSettings {
    /// Drop the next frames.
    pub drop_next: PushCount,
    /// Targeted drops.
    pub drop_targets: Vec<TargetedDrop>,
    /// Send the next frames twice.
    pub duplicate_next: PushCount,
    /// Hold the next frames and send each after the frame that follows it.
    pub reorder_next: PushCount,
    /// Delay every push by this many milliseconds.
    pub push_delay_ms: u64,
    /// Delay every `/api/v1` response by this many milliseconds.
    pub http_delay_ms: u64,
    /// Answer the next requests with 503.
    pub fail_next_http: HttpCount,
    /// Truncate the next non-empty response bodies to half their length.
    pub truncate_next: HttpCount,
    /// Report `lastMessageSequence: null` in the ticket list, pages and `ticket.updated`.
    pub null_last_sequence: bool,
    /// Random push faults, if enabled.
    pub random: Option<RandomPushFaults>,
}

impl FaultSettings {
    /// True when no fault is active.
    pub fn is_clear(&self) -> bool {
        *self == FaultSettings::default()
    }
}

#[derive(Debug, Default)]
struct State {
    settings: FaultSettings,
    rng: Option<StdRng>,
}

/// What the dispatcher does with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushAction {
    Deliver,
    Drop,
    Duplicate,
    /// Hold the frame until the next delivered frame matching this kind.
    Hold(PushKind),
}

/// Handle on an instance's faults; cheap to clone, every clone controls the same server.
#[derive(Debug, Clone, Default)]
pub struct FaultController {
    state: Arc<Mutex<State>>,
}

fn take(count: &mut u32) -> bool {
    if *count > 0 {
        *count -= 1;
        true
    } else {
        false
    }
}

fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

impl FaultController {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clears every fault (a push already held back is still released as described in
    /// [`FaultController::reorder_next_pushes`]).
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> FaultSettings {
        self.lock().settings.clone()
    }

    /// Drops the next `n` frames of `kind`.
    pub fn drop_next_pushes(&self, n: u32, kind: PushKind) {
        self.lock().settings.drop_next = PushCount { remaining: n, kind };
    }

    /// Drops every frame of `request_id` carrying `sequence` (see [`TargetedDrop`]).
    pub fn drop_push(&self, request_id: &str, sequence: i64) {
        self.lock().settings.drop_targets.push(TargetedDrop {
            request_id: request_id.to_string(),
            sequence,
        });
    }

    /// Sends each of the next `n` frames of `kind` twice in a row.
    pub fn duplicate_next_pushes(&self, n: u32, kind: PushKind) {
        self.lock().settings.duplicate_next = PushCount { remaining: n, kind };
    }

    /// Holds each of the next `n` frames of `kind` back and sends it right after the
    /// next delivered frame of `kind` (so `MessageNew` swaps two `message.new` frames),
    /// or after [`crate::WsConfig::reorder_hold_max`] if none comes. At most one frame is
    /// held at a time: holding a second one releases the first.
    pub fn reorder_next_pushes(&self, n: u32, kind: PushKind) {
        self.lock().settings.reorder_next = PushCount { remaining: n, kind };
    }

    /// Delays every push by `delay` after its commit (`Duration::ZERO` = no delay). Order is kept.
    pub fn set_push_delay(&self, delay: Duration) {
        self.lock().settings.push_delay_ms = delay.as_millis() as u64;
    }

    /// Delays every `/api/v1` request by `delay` before it is handled.
    pub fn set_http_delay(&self, delay: Duration) {
        self.lock().settings.http_delay_ms = delay.as_millis() as u64;
    }

    /// Answers the next `n` `/api/v1` requests (of `target` only, if given) with
    /// 503 `{"detail"}` without handling them: nothing is written.
    pub fn fail_next_http(&self, n: u32, target: Option<EndpointKind>) {
        self.lock().settings.fail_next_http = HttpCount {
            remaining: n,
            target,
        };
    }

    /// Cuts the next `n` non-empty `/api/v1` response bodies (of `target` only, if given)
    /// to half their length; the status and the (corrected) `Content-Length` stay valid,
    /// so the client receives incomplete JSON. The request itself is handled normally.
    pub fn truncate_next_responses(&self, n: u32, target: Option<EndpointKind>) {
        self.lock().settings.truncate_next = HttpCount {
            remaining: n,
            target,
        };
    }

    /// Reports `lastMessageSequence: null` everywhere while `on` (an "older deployment").
    pub fn set_null_last_sequence(&self, on: bool) {
        self.lock().settings.null_last_sequence = on;
    }

    /// Enables (or with `None` disables) seeded random push faults; rates are clamped to 0..=1.
    pub fn set_random_push_faults(&self, random: Option<RandomPushFaults>) {
        let mut state = self.lock();
        let random = random.map(|r| RandomPushFaults {
            seed: r.seed,
            drop_rate: clamp_rate(r.drop_rate),
            duplicate_rate: clamp_rate(r.duplicate_rate),
            reorder_rate: clamp_rate(r.reorder_rate),
        });
        state.rng = random.map(|r| StdRng::seed_from_u64(r.seed));
        state.settings.random = random;
    }

    pub(crate) fn null_last_sequence(&self) -> bool {
        self.lock().settings.null_last_sequence
    }

    pub(crate) fn push_delay(&self) -> Duration {
        Duration::from_millis(self.lock().settings.push_delay_ms)
    }

    pub(crate) fn http_delay(&self) -> Duration {
        Duration::from_millis(self.lock().settings.http_delay_ms)
    }

    fn take_http(count: &mut HttpCount, kind: EndpointKind) -> bool {
        if count.target.is_some_and(|t| t != kind) {
            return false;
        }
        take(&mut count.remaining)
    }

    pub(crate) fn take_http_failure(&self, kind: EndpointKind) -> bool {
        Self::take_http(&mut self.lock().settings.fail_next_http, kind)
    }

    pub(crate) fn take_truncation(&self, kind: EndpointKind) -> bool {
        Self::take_http(&mut self.lock().settings.truncate_next, kind)
    }

    /// Decides the fate of one frame.
    pub(crate) fn decide_push(&self, kind: PushKind, request_id: &str, seq: i64) -> PushAction {
        let mut state = self.lock();
        let State { settings, rng } = &mut *state;
        if settings
            .drop_targets
            .iter()
            .any(|t| t.request_id == request_id && t.sequence == seq)
        {
            return PushAction::Drop;
        }
        let hit = |count: &mut PushCount| count.kind.matches(kind) && take(&mut count.remaining);
        if hit(&mut settings.drop_next) {
            return PushAction::Drop;
        }
        if hit(&mut settings.duplicate_next) {
            return PushAction::Duplicate;
        }
        let reorder_kind = settings.reorder_next.kind;
        if hit(&mut settings.reorder_next) {
            return PushAction::Hold(reorder_kind);
        }
        if let (Some(random), Some(rng)) = (settings.random, rng.as_mut()) {
            let roll: f64 = rng.random();
            if roll < random.drop_rate {
                return PushAction::Drop;
            }
            if roll < random.drop_rate + random.duplicate_rate {
                return PushAction::Duplicate;
            }
            if roll < random.drop_rate + random.duplicate_rate + random.reorder_rate {
                return PushAction::Hold(PushKind::Any);
            }
        }
        PushAction::Deliver
    }
}
