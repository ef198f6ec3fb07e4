#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what .ci/run runs.
# Installs what it needs idempotently. Each suite prints its own summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust: tests"
cargo test --workspace --locked
