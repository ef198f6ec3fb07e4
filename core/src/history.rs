//! The client rule for history rewrites (protocol section 5): what a chat's cache must
//! do when an answer reports a history epoch. Pure: no I/O, no clock.

use crate::types::HistoryEpoch;

/// What an answer's [`HistoryEpoch`] means for a chat whose cache belongs to `stored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryVerdict {
    /// The cache belongs to this epoch: nothing to do.
    Current,
    /// The cache never saw an epoch: adopt this one, discard nothing.
    Adopt,
    /// The answer predates a rewrite the cache already applied: store none of it.
    Stale,
    /// A rewrite happened since the cache was filled: discard the cached server
    /// messages above `keep_through` (`0` = all of them), keep unsent outgoing
    /// messages, adopt the epoch.
    Rewritten {
        /// The highest sequence known unchanged by the rewrite(s).
        keep_through: i64,
    },
}

/// Judges `seen` against the epoch the chat's cache belongs to (`None` = none yet).
/// Exactly one rewrite since `stored` (its `previous_epoch` is `stored`) keeps what that
/// rewrite kept; more than one, or a rewrite that does not say, keeps nothing.
pub fn judge(stored: Option<i64>, seen: &HistoryEpoch) -> HistoryVerdict {
    let Some(stored) = stored else {
        return HistoryVerdict::Adopt;
    };
    if seen.epoch == stored {
        HistoryVerdict::Current
    } else if seen.epoch < stored {
        HistoryVerdict::Stale
    } else {
        let keep_through = match (seen.previous_epoch, seen.kept_through_sequence) {
            (Some(previous), Some(kept)) if previous == stored => kept.max(0),
            _ => 0,
        };
        HistoryVerdict::Rewritten { keep_through }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: i64, previous: Option<i64>, kept: Option<i64>) -> HistoryEpoch {
        HistoryEpoch {
            epoch,
            previous_epoch: previous,
            kept_through_sequence: kept,
        }
    }

    #[test]
    fn every_case_of_the_client_rule() {
        let never = epoch(0, None, None);
        let first = epoch(100, Some(0), Some(990));
        let second = epoch(200, Some(100), Some(950));
        assert_eq!(judge(None, &never), HistoryVerdict::Adopt);
        assert_eq!(judge(None, &first), HistoryVerdict::Adopt);
        assert_eq!(judge(Some(0), &never), HistoryVerdict::Current);
        assert_eq!(judge(Some(100), &first), HistoryVerdict::Current);
        assert_eq!(judge(Some(100), &never), HistoryVerdict::Stale);
        assert_eq!(judge(Some(200), &first), HistoryVerdict::Stale);
        assert_eq!(
            judge(Some(0), &first),
            HistoryVerdict::Rewritten { keep_through: 990 }
        );
        assert_eq!(
            judge(Some(100), &second),
            HistoryVerdict::Rewritten { keep_through: 950 }
        );
        // Two rewrites missed: what the first one kept is unknown.
        assert_eq!(
            judge(Some(0), &second),
            HistoryVerdict::Rewritten { keep_through: 0 }
        );
        // A rewrite that does not say what it kept.
        assert_eq!(
            judge(Some(0), &epoch(7, None, None)),
            HistoryVerdict::Rewritten { keep_through: 0 }
        );
        assert_eq!(
            judge(Some(0), &epoch(7, Some(0), None)),
            HistoryVerdict::Rewritten { keep_through: 0 }
        );
    }
}
