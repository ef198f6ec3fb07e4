//! [`EngineConfig`]: every tunable number of the sync engine, with the defaults.

/// Tunables of the sync engine. All durations are milliseconds of the driver's clock.
///
/// The engine never reads a clock: these numbers only turn the `now_ms` of an event
/// into the `at_ms` of a [`crate::engine::Command::ScheduleTimer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// How many of the newest messages a resync downloads when the distance to the
    /// backend exceeds it (the rest becomes a recorded history gap). Default 200.
    pub resync_window: i64,
    /// The largest `limit` of one message request. Default 50.
    pub page_size: i64,
    /// Periodic revalidation interval of an open chat. Default 300 000 (5 minutes).
    pub revalidate_interval_ms: i64,
    /// How long a push gap waits for late frames before the missing range is fetched. Default 500.
    pub gap_grace_ms: i64,
    /// First retry delay of a failed resync, ticket refresh or send; doubles per failure. Default 1 000.
    pub retry_base_ms: i64,
    /// Upper bound of every retry delay. Default 60 000.
    pub retry_cap_ms: i64,
    /// First realtime reconnect delay (before jitter); doubles per failure. Default 1 000.
    pub reconnect_base_ms: i64,
    /// Upper bound of the realtime reconnect delay (before jitter). Default 30 000.
    pub reconnect_cap_ms: i64,
    /// Seed of the engine's deterministic jitter generator (the driver may pass a random one).
    pub jitter_seed: u64,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            resync_window: 200,
            page_size: 50,
            revalidate_interval_ms: 300_000,
            gap_grace_ms: 500,
            retry_base_ms: 1_000,
            retry_cap_ms: 60_000,
            reconnect_base_ms: 1_000,
            reconnect_cap_ms: 30_000,
            jitter_seed: 0x5eed_c0de,
        }
    }
}

impl EngineConfig {
    /// The capped exponential delay after `attempt` failures (0 = first retry):
    /// `min(cap, base * 2^attempt)`, never negative.
    pub fn backoff_ms(base_ms: i64, cap_ms: i64, attempt: u32) -> i64 {
        let shift = attempt.min(30);
        base_ms
            .max(0)
            .saturating_mul(1i64 << shift)
            .min(cap_ms.max(0))
    }

    /// A copy with every size and duration clamped to at least 1, so a zero in a
    /// driver's settings can never make the engine page by 0 or spin on a 0 ms timer.
    pub(crate) fn sanitized(mut self) -> EngineConfig {
        self.resync_window = self.resync_window.max(1);
        self.page_size = self.page_size.max(1);
        self.revalidate_interval_ms = self.revalidate_interval_ms.max(1);
        self.gap_grace_ms = self.gap_grace_ms.max(0);
        self.retry_base_ms = self.retry_base_ms.max(1);
        self.retry_cap_ms = self.retry_cap_ms.max(self.retry_base_ms);
        self.reconnect_base_ms = self.reconnect_base_ms.max(1);
        self.reconnect_cap_ms = self.reconnect_cap_ms.max(self.reconnect_base_ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let d: Vec<i64> = (0..8)
            .map(|a| EngineConfig::backoff_ms(1_000, 60_000, a))
            .collect();
        assert_eq!(
            d,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(EngineConfig::backoff_ms(1_000, 60_000, 400), 60_000);
    }
}
