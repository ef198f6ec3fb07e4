//! Timing: latency samples of wall-clock time and of the calling thread's CPU time,
//! and their percentiles.
//!
//! Wall time is what a user waits; on a machine shared with other work it includes
//! time the thread spent preempted (p99 first). Thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) is the work itself, independent of the machine's load,
//! for operations that run entirely on the calling thread (the open and validation
//! paths do). Both are reported; neither replaces the other.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Percentiles of a set of samples, in microseconds (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// Number of samples.
    pub samples: usize,
    /// Wall-clock median.
    pub p50_us: f64,
    /// Wall-clock 99th percentile.
    pub p99_us: f64,
    /// Largest wall-clock sample.
    pub max_us: f64,
    /// Thread CPU time median (`None` when not measured or not available).
    pub cpu_p50_us: Option<f64>,
    /// Thread CPU time 99th percentile.
    pub cpu_p99_us: Option<f64>,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

impl Latency {
    /// The wall-clock percentiles of `samples`; all zero for an empty set.
    pub fn of(samples: &[Duration]) -> Latency {
        let sorted = sorted(samples);
        Latency {
            samples: sorted.len(),
            p50_us: percentile(&sorted, 50.0).map_or(0.0, us),
            p99_us: percentile(&sorted, 99.0).map_or(0.0, us),
            max_us: sorted.last().copied().map_or(0.0, us),
            cpu_p50_us: None,
            cpu_p99_us: None,
        }
    }

    /// The same with the percentiles of the matching CPU-time samples.
    pub fn with_cpu(mut self, cpu: &[Duration]) -> Latency {
        if !cpu.is_empty() {
            let sorted = sorted(cpu);
            self.cpu_p50_us = percentile(&sorted, 50.0).map(us);
            self.cpu_p99_us = percentile(&sorted, 99.0).map(us);
        }
        self
    }
}

fn sorted(samples: &[Duration]) -> Vec<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted
}

/// The nearest-rank percentile `p` (0..=100) of ascending `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The calling thread's CPU time so far.
pub fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The CPU time so far of this process's threads whose name starts with one of
/// `prefixes` (from `/proc/self/task/*/schedstat`; threads that ended are not counted,
/// so use it on long-lived threads and take differences). Zero where `/proc` is missing.
pub fn threads_cpu(prefixes: &[&str]) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let dir = task.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !prefixes.iter().any(|p| name.trim_end().starts_with(p)) {
            continue;
        }
        let ns = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            });
        total += ns.unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// Collects one wall-clock and one thread-CPU sample per timed call.
#[derive(Debug)]
pub struct Sampler {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    /// The CPU time of reading the CPU clock twice (subtracted from every sample).
    overhead: Duration,
}

impl Sampler {
    /// An empty sampler for about `capacity` samples; calibrates the CPU clock's cost.
    pub fn new(capacity: usize) -> Sampler {
        let mut reads: Vec<Duration> = (0..200)
            .map(|_| {
                let a = thread_cpu();
                thread_cpu().saturating_sub(a)
            })
            .collect();
        reads.sort_unstable();
        Sampler {
            wall: Vec::with_capacity(capacity),
            cpu: Vec::with_capacity(capacity),
            overhead: reads[reads.len() / 2],
        }
    }

    /// Runs `f`, recording its wall and CPU time.
    pub fn time<T, E>(&mut self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let cpu = thread_cpu();
        let started = Instant::now();
        let value = f()?;
        let wall = started.elapsed();
        let spent = thread_cpu().saturating_sub(cpu);
        self.wall.push(wall);
        self.cpu.push(spent.saturating_sub(self.overhead));
        Ok(value)
    }

    /// The percentiles so far.
    pub fn latency(&self) -> Latency {
        Latency::of(&self.wall).with_cpu(&self.cpu)
    }
}

/// Times `iterations` calls of `f` (after `warmup` untimed calls), wall and CPU.
pub fn sample<E>(
    warmup: usize,
    iterations: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Latency, E> {
    for _ in 0..warmup {
        f()?;
    }
    let mut sampler = Sampler::new(iterations);
    for _ in 0..iterations {
        sampler.time(&mut f)?;
    }
    Ok(sampler.latency())
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
    fn the_cpu_clock_advances_with_work() {
        let mut sampler = Sampler::new(1);
        sampler
            .time(|| {
                let mut x = 0u64;
                for i in 0..2_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                Ok::<_, ()>(x)
            })
            .unwrap();
        let l = sampler.latency();
        assert!(l.cpu_p50_us.is_some_and(|c| c > 0.0), "{l:?}");
        assert!(l.p50_us > 0.0);
    }

    #[test]
    fn named_threads_report_their_cpu_time() {
        let worker = std::thread::Builder::new()
            .name("bench-cpu-probe".into())
            .spawn(|| {
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                let spent = threads_cpu(&["bench-cpu-probe"]);
                (x, spent)
            })
            .unwrap();
        let (_, spent) = worker.join().unwrap();
        assert!(spent > Duration::ZERO);
        assert_eq!(threads_cpu(&["no-such-thread-name"]), Duration::ZERO);
    }

    #[test]
    fn ratio_of_zero_is_none() {
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
    }
}
