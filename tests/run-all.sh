#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what .ci/run runs.
# Installs what it needs idempotently; heavy tools and the cargo target dir are
# cached outside the clone, under ${CHATSYNC_CACHE_DIR:-$HOME/.cache/chatsync}.
# Each suite prints its own summary line. A suite that cannot run on this machine
# exits 77 after printing `SKIP: <reason>`; that is reported, never counted as a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CHATSYNC_CACHE_DIR="${CHATSYNC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatsync}"
# One target dir for every clone: a fresh clone (as CI uses) reuses compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CHATSYNC_CACHE_DIR/target}"
mkdir -p "$CHATSYNC_CACHE_DIR"

started=$SECONDS
skipped=()

step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))"; }

# Runs one suite script; 77 means "cannot run here" and is reported as skipped.
suite() {
  local name="$1"
  shift
  step "$name"
  local status=0
  "$@" || status=$?
  if [[ $status -eq 77 ]]; then
    skipped+=("$name")
    printf 'SKIPPED: %s (see the SKIP line above)\n' "$name"
  elif [[ $status -ne 0 ]]; then
    printf 'FAILED: %s (exit %s)\n' "$name" "$status"
    exit "$status"
  fi
}

step "rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust: tests"
cargo test --workspace --locked

step "benchmarks: smoke (each criterion bench runs once; no timing is asserted)"
cargo test --locked -p chatsync --bench cache
cargo test --locked -p chatsync-bench --bench micro

suite "bindings: Kotlin on the JVM (Maven), Python (pytest)" bindings/scripts/test.sh all

suite "ios: the Swift package (XCTest) in a Swift 6 chroot" ios/scripts/test.sh

suite "tauri: plugin, front end (Vitest), desktop E2E (WebKitWebDriver)" tauri-mobile/scripts/test.sh

printf '\n==> all suites passed in %ss' "$((SECONDS - started))"
if [[ ${#skipped[@]} -gt 0 ]]; then
  printf '; skipped: %s' "${skipped[*]}"
fi
printf '\n'
