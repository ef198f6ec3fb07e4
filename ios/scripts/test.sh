#!/usr/bin/env bash
# The iOS package's test suite, on Linux: builds the host Rust library and the
# reference server, checks that the checked-in Swift bindings are what the current
# chatsync-ffi generates, then runs `swift build` (warnings are errors) and
# `swift test` inside the Swift 6 chroot (ios/scripts/swift-env.sh) against the real
# `chatsync-server` on 127.0.0.1.
#
#   ios/scripts/test.sh            run everything
#   ios/scripts/test.sh --filter X  only the XCTest cases matching X
#
# Exit status: 0 all passed; 77 with a `SKIP: <reason>` line when this machine
# cannot create the Swift root (not root, no mount rights, Debian mirror
# unreachable); anything else is a failure. Caches live outside the clone
# (${CHATSYNC_CACHE_DIR:-~/.cache/chatsync}); mounts are undone however it ends.
set -euo pipefail

ios="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$ios/.." && pwd)"
env_sh="$ios/scripts/swift-env.sh"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
test_timeout="${CHATSYNC_SWIFT_TEST_TIMEOUT:-900}"
filter=()
case "${1:-}" in
  "") ;;
  --filter)
    [[ -n "${2:-}" ]] || {
      echo "usage: $0 [--filter PATTERN]" >&2
      exit 2
    }
    filter=(--filter "$2")
    ;;
  *)
    echo "usage: $0 [--filter PATTERN]" >&2
    exit 2
    ;;
esac

log() { printf 'ios-test: %s\n' "$*" >&2; }
started=$SECONDS

# 1. The Swift root first: it is the only reason to skip.
set +e
"$env_sh" ensure >/dev/null
status=$?
set -e
if ((status == 77)); then
  # swift-env.sh printed the SKIP line on stdout already; say it again for logs
  # that only keep stderr.
  log "skipped: the Swift root cannot be created on this machine"
  exit 77
elif ((status != 0)); then
  log "error: swift-env.sh ensure failed ($status)"
  exit "$status"
fi

# 2. Host Rust: the FFI library (and bindings) and the reference server.
locked=()
if [[ -n "${CI:-}" ]]; then locked=(--locked); fi
log "building chatsync-server"
cargo build "${locked[@]}" -p chatsync-server --bin chatsync-server >&2
server_bin="$target_dir/debug/chatsync-server"
log "building chatsync-ffi and checking the checked-in Swift bindings"
lib_dir="$("$ios/scripts/generate-bindings.sh" --check)"
[[ -f "$lib_dir/libchatsync_ffi.so" ]] || {
  log "error: no libchatsync_ffi.so in $lib_dir"
  exit 1
}

# The chroot sees the repository at the same path; a target dir outside it must
# be bound too.
binds="${SWIFT_ENV_BINDS:-}"
case "$target_dir/" in
  "$repo"/*) ;;
  *) binds="$binds $target_dir" ;;
esac

# Every server this run starts carries this marker in its environment, so the
# cleanup below can stop exactly those (a crashed test runner leaves its child
# server behind, holding this script's output open).
run_id="chatsync-ios-test-$$-$RANDOM"
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup_servers() {
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid="${environ#/proc/}"
    pid="${pid%/environ}"
    if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qx "CHATSYNC_IOS_TEST_RUN=$run_id"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup_servers EXIT

link=(-Xlinker -L"$lib_dir" -Xlinker -rpath -Xlinker "$lib_dir")
run_in_root() {
  CHATSYNC_SERVER_BIN="$server_bin" CHATSYNC_IOS_TEST_RUN="$run_id" \
    SWIFT_ENV_PASS="CHATSYNC_SERVER_BIN CHATSYNC_IOS_TEST_RUN RUST_LOG" SWIFT_ENV_BINDS="$binds" \
    "$env_sh" run "$ios" "$@"
}

# 3. Build (every target, warnings are errors), then test.
log "swift build (Swift 6 language mode, -warnings-as-errors)"
run_in_root swift build --build-tests -Xswiftc -warnings-as-errors "${link[@]}" >&2
log "swift test against chatsync-server on 127.0.0.1"
# Output goes to a file followed by `tail --pid`, not through a pipe: a process
# left behind by a crashed runner would hold a pipe open forever.
output="$(mktemp)"
run_in_root timeout -k 10 "$test_timeout" swift test --skip-build "${filter[@]}" "${link[@]}" >"$output" 2>&1 &
test_pid=$!
tail -n +1 -f --pid="$test_pid" "$output" &
tail_pid=$!
set +e
wait "$test_pid"
status=$?
wait "$tail_pid"
set -e
summary="$(grep -E 'Executed [0-9]+ tests?' "$output" | tail -1 | sed 's/^[[:space:]]*//' || true)"
rm -f "$output"
if ((status == 0)); then
  log "passed in $((SECONDS - started)) s: ${summary:-no XCTest summary}"
else
  log "FAILED (status $status) after $((SECONDS - started)) s: ${summary:-no XCTest summary}"
fi
exit "$status"
