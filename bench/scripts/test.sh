#!/usr/bin/env bash
# The benchmark suite's CI check (correctness only, never timing):
#  - unit tests and the smoke test (`run(--quick)` against the real in-process server,
#    checking the report's structure and sanity, e.g. zero requests when nothing changed);
#  - the criterion benches compiled and run once each in test mode;
#  - `chatsync bench --quick --json` as a real process (cli/tests/bench.rs).
# Nothing to install beyond the Rust toolchain; the run stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --locked -p chatsync-bench --lib --tests
cargo test --locked -p chatsync-bench --bench micro
cargo test --locked -p chatsync-cli --test bench
