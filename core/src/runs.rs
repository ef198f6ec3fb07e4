//! [`SeqRuns`]: the contiguous runs of sequence numbers a chat's cache holds, and
//! the start of its newest window.
//!
//! This is the single definition of how inserts, removals and windowed resyncs
//! move the newest window. The SQLite cache persists it (one row per run), the
//! sync engine's simulations use it in memory, and [`SeqRuns::summary`] feeds the
//! validator.
//!
//! Invariants (checked by `debug_assert_invariants` in tests):
//! - runs are disjoint, non-adjacent (`a.end + 1 < b.start`), each `start <= end`, all `>= 1`;
//! - `window_start` is `None` iff there is no run, and otherwise is the start of a run.

use std::collections::BTreeMap;

use crate::types::SeqRange;
use crate::validate::SeqSummary;

/// The runs of cached sequence numbers of one chat, with its newest window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    /// start -> end (inclusive) of every run.
    runs: BTreeMap<i64, i64>,
    window_start: Option<i64>,
}

impl SeqRuns {
    /// No runs.
    pub fn new() -> SeqRuns {
        SeqRuns::default()
    }

    /// Rebuilds from stored runs and window start. Overlapping or adjacent runs are
    /// merged and a window start outside every run is moved to a run start, so the
    /// invariants hold whatever was stored.
    pub fn from_parts(
        runs: impl IntoIterator<Item = SeqRange>,
        window_start: Option<i64>,
    ) -> SeqRuns {
        let mut rebuilt = SeqRuns::new();
        for run in runs {
            rebuilt.insert_range(run);
        }
        rebuilt.window_start = window_start;
        rebuilt.settle_window_start();
        rebuilt
    }

    /// Every run, ascending.
    pub fn runs(&self) -> impl DoubleEndedIterator<Item = SeqRange> + '_ {
        self.runs
            .iter()
            .map(|(&start, &end)| SeqRange { start, end })
    }

    /// The start of the newest window, `None` when empty.
    pub fn window_start(&self) -> Option<i64> {
        self.window_start
    }

    /// Highest sequence held.
    pub fn max_seq(&self) -> Option<i64> {
        self.runs.last_key_value().map(|(_, &end)| end)
    }

    /// Lowest sequence held.
    pub fn min_seq(&self) -> Option<i64> {
        self.runs.first_key_value().map(|(&start, _)| start)
    }

    /// Number of sequences held.
    pub fn count(&self) -> i64 {
        self.runs().map(|r| r.len()).sum()
    }

    /// True when `seq` is held.
    pub fn contains(&self, seq: i64) -> bool {
        self.run_containing(seq).is_some()
    }

    /// True when no sequence is held.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    fn run_containing(&self, seq: i64) -> Option<SeqRange> {
        let (&start, &end) = self.runs.range(..=seq).next_back()?;
        (seq <= end).then_some(SeqRange { start, end })
    }

    /// Adds one sequence (ignored if held or `< 1`). Returns true when it was new.
    ///
    /// The first sequence of an empty chat starts the window. Otherwise the window
    /// start stays put, except that it follows its run downward when the run grows
    /// down (back-pagination, or a filled history gap merging runs).
    pub fn insert(&mut self, seq: i64) -> bool {
        if seq < 1 || self.contains(seq) {
            return false;
        }
        self.insert_range(SeqRange::new(seq, seq));
        true
    }

    /// Adds every sequence of `range` (the part `< 1` is ignored), with the rules of [`SeqRuns::insert`].
    pub fn insert_range(&mut self, range: SeqRange) {
        let mut start = range.start.max(1);
        let mut end = range.end;
        if start > end {
            return;
        }
        // Absorb every run that overlaps or touches start-1..=end+1.
        let touching: Vec<(i64, i64)> = self
            .runs
            .range(..=end.saturating_add(1))
            .rev()
            .take_while(|&(_, &run_end)| run_end >= start - 1)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (run_start, run_end) in touching {
            self.runs.remove(&run_start);
            start = start.min(run_start);
            end = end.max(run_end);
        }
        self.runs.insert(start, end);
        if self.window_start.is_none() {
            self.window_start = Some(start);
        }
        self.settle_window_start();
    }

    /// Removes one sequence (eviction, or a message the server no longer has).
    /// Returns true when it was held.
    pub fn remove(&mut self, seq: i64) -> bool {
        let Some(run) = self.run_containing(seq) else {
            return false;
        };
        self.runs.remove(&run.start);
        if run.start < seq {
            self.runs.insert(run.start, seq - 1);
        }
        if seq < run.end {
            self.runs.insert(seq + 1, run.end);
        }
        self.settle_window_start();
        true
    }

    /// Removes every sequence above `seq` (the server went back to `seq`).
    pub fn truncate_above(&mut self, seq: i64) {
        let above: Vec<i64> = self
            .runs
            .range(seq.saturating_add(1)..)
            .map(|(&s, _)| s)
            .collect();
        for start in above {
            self.runs.remove(&start);
        }
        if let Some(run) = self.run_containing(seq) {
            self.runs.insert(run.start, run.end.min(seq));
        }
        self.settle_window_start();
    }

    /// Declares that the newest window starts at `seq` (after a resync fetched only
    /// the latest window): holes below it become recorded history gaps. The window
    /// start becomes the start of the run holding `seq`, or of the first run above it.
    pub fn set_window_start(&mut self, seq: i64) {
        if self.runs.is_empty() {
            return;
        }
        self.window_start = Some(seq);
        self.settle_window_start();
    }

    /// Restores the invariant "the window start is the start of a run".
    fn settle_window_start(&mut self) {
        let Some(current) = self.window_start else {
            return;
        };
        self.window_start = if let Some(run) = self.run_containing(current) {
            Some(run.start)
        } else if let Some((&above, _)) = self.runs.range(current..).next() {
            Some(above)
        } else {
            self.runs.last_key_value().map(|(&start, _)| start)
        };
    }

    /// The validator's view: max, window start and the holes inside the window.
    pub fn summary(&self) -> SeqSummary {
        let Some(window_start) = self.window_start else {
            return SeqSummary::empty();
        };
        SeqSummary {
            max_seq: self.max_seq(),
            window_start: Some(window_start),
            window_holes: self.holes(window_start..),
        }
    }

    /// Recorded history gaps: the holes below the window start, including the one
    /// before the oldest cached message (down to sequence 1), ascending. These are
    /// what "load earlier" fills.
    pub fn history_gaps(&self) -> Vec<SeqRange> {
        let Some(window_start) = self.window_start else {
            return Vec::new();
        };
        let mut gaps = Vec::new();
        if let Some(min) = self.min_seq()
            && min > 1
        {
            gaps.push(SeqRange::new(1, min - 1));
        }
        gaps.extend(self.holes(..=window_start));
        gaps
    }

    /// Holes between consecutive runs whose starts lie in `starts`.
    fn holes(&self, starts: impl std::ops::RangeBounds<i64>) -> Vec<SeqRange> {
        let mut holes = Vec::new();
        let mut previous_end: Option<i64> = None;
        for (&start, &end) in self.runs.range(starts) {
            if let Some(prev) = previous_end {
                holes.push(SeqRange::new(prev + 1, start - 1));
            }
            previous_end = Some(end);
        }
        holes
    }

    /// Panics when an invariant is broken (for tests).
    pub fn debug_assert_invariants(&self) {
        let mut previous_end: Option<i64> = None;
        for run in self.runs() {
            assert!(run.start >= 1 && run.start <= run.end, "bad run {run:?}");
            if let Some(prev) = previous_end {
                assert!(
                    prev + 1 < run.start,
                    "runs touch or overlap at {prev}/{run:?}"
                );
            }
            previous_end = Some(run.end);
        }
        match self.window_start {
            None => assert!(self.runs.is_empty(), "window start missing"),
            Some(ws) => assert!(
                self.runs.contains_key(&ws),
                "window start {ws} is not a run start"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn ranges(pairs: &[(i64, i64)]) -> Vec<SeqRange> {
        pairs.iter().map(|&(s, e)| SeqRange::new(s, e)).collect()
    }

    #[test]
    fn first_insert_starts_the_window_and_pushes_open_holes() {
        let mut runs = SeqRuns::new();
        runs.insert_range(SeqRange::new(1, 100));
        assert_eq!(runs.window_start(), Some(1));
        runs.insert(105);
        assert_eq!(runs.summary().window_holes, ranges(&[(101, 104)]));
        assert!(!validate(&runs.summary(), Some(105)).valid);
        runs.insert_range(SeqRange::new(101, 104));
        assert!(validate(&runs.summary(), Some(105)).valid);
        runs.debug_assert_invariants();
    }

    #[test]
    fn windowed_resync_records_a_history_gap_and_back_pagination_lowers_the_window() {
        let mut runs = SeqRuns::new();
        runs.insert_range(SeqRange::new(1, 100));
        runs.insert_range(SeqRange::new(4801, 5000));
        runs.set_window_start(4801);
        assert!(validate(&runs.summary(), Some(5000)).valid);
        assert_eq!(runs.history_gaps(), ranges(&[(101, 4800)]));
        runs.insert_range(SeqRange::new(4751, 4800));
        assert_eq!(runs.window_start(), Some(4751));
        runs.insert_range(SeqRange::new(101, 4750));
        assert_eq!(runs.window_start(), Some(1));
        assert!(runs.history_gaps().is_empty());
    }

    #[test]
    fn older_runs_below_the_window_are_history() {
        let mut runs = SeqRuns::new();
        runs.insert_range(SeqRange::new(50, 60));
        runs.insert_range(SeqRange::new(10, 20));
        assert_eq!(runs.window_start(), Some(50));
        assert_eq!(runs.history_gaps(), ranges(&[(1, 9), (21, 49)]));
        assert!(validate(&runs.summary(), Some(60)).valid);
    }

    #[test]
    fn truncate_above_and_remove_keep_the_window_on_a_run() {
        let mut runs = SeqRuns::new();
        runs.insert_range(SeqRange::new(1, 10));
        runs.insert_range(SeqRange::new(20, 30));
        runs.set_window_start(20);
        runs.truncate_above(15);
        assert_eq!(runs.max_seq(), Some(10));
        assert_eq!(runs.window_start(), Some(1));
        runs.remove(1);
        assert_eq!(runs.window_start(), Some(2));
        runs.remove(5);
        assert_eq!(runs.summary().window_holes, ranges(&[(5, 5)]));
        runs.debug_assert_invariants();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64),
        InsertRange(i64, i64),
        Remove(i64),
        TruncateAbove(i64),
        SetWindowStart(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1i64..80).prop_map(Op::Insert),
            2 => (1i64..80, 0i64..15).prop_map(|(s, l)| Op::InsertRange(s, s + l)),
            2 => (1i64..80).prop_map(Op::Remove),
            1 => (0i64..80).prop_map(Op::TruncateAbove),
            1 => (1i64..80).prop_map(Op::SetWindowStart),
        ]
    }

    proptest! {
        /// The runs always describe exactly the set of held sequences, and the
        /// summary's holes are exactly the absent sequences of the window.
        #[test]
        fn runs_match_a_plain_set(ops in proptest::collection::vec(op(), 1..60)) {
            let mut runs = SeqRuns::new();
            let mut set = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(s) => { prop_assert_eq!(runs.insert(s), set.insert(s)); }
                    Op::InsertRange(s, e) => { runs.insert_range(SeqRange::new(s, e)); set.extend(s..=e); }
                    Op::Remove(s) => { prop_assert_eq!(runs.remove(s), set.remove(&s)); }
                    Op::TruncateAbove(s) => { runs.truncate_above(s); set.retain(|&x| x <= s); }
                    Op::SetWindowStart(s) => runs.set_window_start(s),
                }
                runs.debug_assert_invariants();
                prop_assert_eq!(runs.count(), set.len() as i64);
                prop_assert_eq!(runs.max_seq(), set.last().copied());
                let summary = runs.summary();
                if let (Some(ws), Some(max)) = (summary.window_start, summary.max_seq) {
                    let absent: Vec<i64> = (ws..=max).filter(|s| !set.contains(s)).collect();
                    let from_holes: Vec<i64> = summary.window_holes.iter().flat_map(|h| h.start..=h.end).collect();
                    prop_assert_eq!(absent, from_holes);
                    prop_assert!(set.contains(&ws));
                }
            }
            let rebuilt = SeqRuns::from_parts(runs.runs(), runs.window_start());
            prop_assert_eq!(rebuilt, runs);
        }
    }
}
