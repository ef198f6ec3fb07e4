//! The pure sequence validator: the seed's rules, with no I/O.
//!
//! The cache keeps a [`SeqSummary`] of every chat up to date in the same
//! transaction that writes messages, so [`validate`] costs O(number of holes in
//! the newest window), which is O(1) for every chat that can be SYNCED.
//!
//! ## The newest window
//!
//! A chat's cache may hold older, disconnected runs (history the user scrolled
//! back to, or what lies before a gap wider than the resync window). Holes below
//! `window_start` are *recorded history gaps*: shown as "load earlier", never a
//! reason to resync. Holes at or above `window_start` are *missing messages*.
//! Validation concerns only the newest window `window_start..=max_seq`: it must be
//! contiguous and end at the backend sequence.

use crate::types::{SeqRange, SequenceValidationResult, ValidationReason};

/// What validation needs to know about one chat's cached sequences.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeqSummary {
    /// Highest cached sequence, `None` when the chat holds no sequenced message.
    pub max_seq: Option<i64>,
    /// First sequence of the newest window (`None` iff `max_seq` is `None`).
    pub window_start: Option<i64>,
    /// Holes inside `window_start..=max_seq`, ascending and disjoint.
    pub window_holes: Vec<SeqRange>,
}

impl SeqSummary {
    /// The summary of an empty chat.
    pub fn empty() -> SeqSummary {
        SeqSummary::default()
    }
}

/// Validates a chat against the backend's highest sequence (the seed's rules):
///
/// 1. backend sequence unknown -> not valid, `BackendSeqUnknown` (stay UNKNOWN);
/// 2. no cached messages -> valid iff the backend has none (`Validated`), else `NoMessages`;
/// 3. a hole inside the newest window -> `GapDetected`, `missing` = the holes (plus the tail);
/// 4. local max != backend -> `SequenceMismatch` (behind: `missing` = the tail; ahead: empty);
/// 5. otherwise `Validated`.
pub fn validate(summary: &SeqSummary, backend_seq: Option<i64>) -> SequenceValidationResult {
    let Some(backend) = backend_seq else {
        return invalid(
            ValidationReason::BackendSeqUnknown,
            "backend sequence unknown; validation deferred".to_string(),
            Vec::new(),
        );
    };
    let Some(max) = summary.max_seq else {
        if backend <= 0 {
            return valid("empty chat, backend has no messages".to_string());
        }
        return invalid(
            ValidationReason::NoMessages,
            format!("no cached messages, backend is at {backend}"),
            vec![SeqRange::new(1, backend)],
        );
    };
    let tail = (max < backend).then(|| SeqRange::new(max + 1, backend));
    if !summary.window_holes.is_empty() {
        let mut missing = summary.window_holes.clone();
        missing.extend(tail);
        let count: i64 = summary.window_holes.iter().map(SeqRange::len).sum();
        return invalid(
            ValidationReason::GapDetected,
            format!(
                "{count} message(s) missing in {} hole(s) between {} and {max}",
                summary.window_holes.len(),
                summary.window_start.unwrap_or(max),
            ),
            missing,
        );
    }
    if max != backend {
        let details = if max < backend {
            format!("local max {max} is behind backend {backend}")
        } else {
            format!("local max {max} is ahead of backend {backend}: the server went back")
        };
        return invalid(
            ValidationReason::SequenceMismatch,
            details,
            tail.into_iter().collect(),
        );
    }
    valid(format!("contiguous up to backend sequence {backend}"))
}

fn valid(details: String) -> SequenceValidationResult {
    SequenceValidationResult {
        valid: true,
        reason: ValidationReason::Validated,
        details: Some(details),
        missing: Vec::new(),
    }
}

fn invalid(
    reason: ValidationReason,
    details: String,
    missing: Vec<SeqRange>,
) -> SequenceValidationResult {
    SequenceValidationResult {
        valid: false,
        reason,
        details: Some(details),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(start: i64, max: i64, holes: &[(i64, i64)]) -> SeqSummary {
        SeqSummary {
            max_seq: Some(max),
            window_start: Some(start),
            window_holes: holes.iter().map(|&(s, e)| SeqRange::new(s, e)).collect(),
        }
    }

    #[test]
    fn unknown_backend_defers() {
        let r = validate(&summary(1, 10, &[]), None);
        assert!(!r.valid);
        assert_eq!(r.reason, ValidationReason::BackendSeqUnknown);
        assert!(r.missing.is_empty());
    }

    #[test]
    fn empty_cache() {
        assert!(validate(&SeqSummary::empty(), Some(0)).valid);
        let r = validate(&SeqSummary::empty(), Some(7));
        assert_eq!(r.reason, ValidationReason::NoMessages);
        assert_eq!(r.missing, vec![SeqRange::new(1, 7)]);
    }

    #[test]
    fn contiguous_and_matching_is_valid() {
        let r = validate(&summary(1, 10, &[]), Some(10));
        assert!(r.valid);
        assert_eq!(r.reason, ValidationReason::Validated);
    }

    #[test]
    fn holes_and_tail_are_missing() {
        let r = validate(&summary(1, 10, &[(3, 4), (7, 7)]), Some(12));
        assert_eq!(r.reason, ValidationReason::GapDetected);
        assert_eq!(
            r.missing,
            vec![
                SeqRange::new(3, 4),
                SeqRange::new(7, 7),
                SeqRange::new(11, 12)
            ]
        );
    }

    #[test]
    fn behind_and_ahead_mismatch() {
        let behind = validate(&summary(1, 10, &[]), Some(15));
        assert_eq!(behind.reason, ValidationReason::SequenceMismatch);
        assert_eq!(behind.missing, vec![SeqRange::new(11, 15)]);
        let ahead = validate(&summary(1, 10, &[]), Some(8));
        assert_eq!(ahead.reason, ValidationReason::SequenceMismatch);
        assert!(ahead.missing.is_empty());
    }
}
