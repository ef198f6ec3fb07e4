//! Run sizes, read from `CHATSYNC_REL_<NAME>` environment variables.
//!
//! Each harness documents its knobs; unset or unparsable values fall back to the
//! short (CI) defaults, so a plain `cargo test` is the CI run.

use std::time::Duration;

/// The environment variable of knob `name`: `CHATSYNC_REL_<NAME>`.
pub fn var_name(name: &str) -> String {
    format!("CHATSYNC_REL_{}", name.to_ascii_uppercase())
}

/// Knob `name` as an unsigned integer, or `default` when unset or unparsable.
pub fn u64_knob(name: &str, default: u64) -> u64 {
    std::env::var(var_name(name))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Knob `name` as a duration in seconds, or `default_secs`.
pub fn secs_knob(name: &str, default_secs: u64) -> Duration {
    Duration::from_secs(u64_knob(name, default_secs))
}

/// The base seed of the random choices (`CHATSYNC_REL_SEED`); defaults to a fresh
/// random value, printed in every report so a failing run can be repeated.
pub fn seed() -> u64 {
    std::env::var(var_name("seed"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(rand::random)
}
