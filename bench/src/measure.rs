//! Timing helpers: latency samples and their percentiles.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Percentiles of a set of latency samples, in microseconds (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub samples: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Latency {
    /// The percentiles of `samples`; all zero for an empty set.
    pub fn of(samples: &[Duration]) -> Latency {
        let mut sorted: Vec<Duration> = samples.to_vec();
        sorted.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        Latency {
            samples: sorted.len(),
            p50_us: percentile(&sorted, 50.0).map_or(0.0, us),
            p99_us: percentile(&sorted, 99.0).map_or(0.0, us),
            max_us: sorted.last().copied().map_or(0.0, us),
        }
    }
}

/// The nearest-rank percentile `p` (0..=100) of ascending `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Times `iterations` calls of `f` (after `warmup` untimed calls), one sample per call.
pub fn sample<E>(
    warmup: usize,
    iterations: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Vec<Duration>, E> {
    for _ in 0..warmup {
        f()?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        f()?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// `a / b`, or `None` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let l = Latency::of(&samples);
        assert_eq!(l.samples, 100);
        assert!((l.p50_us - 50.0).abs() < 1e-9);
        assert!((l.p99_us - 99.0).abs() < 1e-9);
        assert!((l.max_us - 100.0).abs() < 1e-9);
        assert_eq!(Latency::of(&[]).samples, 0);
        assert_eq!(
            percentile(&[Duration::from_micros(7)], 99.0),
            Some(Duration::from_micros(7))
        );
    }

    #[test]
    fn ratio_of_zero_is_none() {
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
    }
}
