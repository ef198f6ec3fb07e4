#!/usr/bin/env bash
# The chatsync reliability suite (issue 10; figures in docs/reliability.md).
#
#   tests/reliability/run.sh --short    CI version, about 3 minutes on 2 cores (after the build):
#                                       crash 25 SIGKILLs, soak 60 s, the bad-input matrix,
#                                       security checks, fuzz regressions
#   tests/reliability/run.sh --long     the long version: 150 SIGKILLs, a 600 s soak
#
# Flags (both modes; each also has an environment variable, flags win):
#   --kills N          CHATSYNC_REL_CRASH_KILLS        SIGKILLs of the crash harness
#   --max-alive-ms N   CHATSYNC_REL_CRASH_MAX_ALIVE_MS longest a worker lives before its kill (1200)
#   --soak-secs N      CHATSYNC_REL_SOAK_SECS          total soak budget
#   --schedule-secs N  CHATSYNC_REL_SOAK_SCHEDULE_SECS length of one fault schedule (7)
#   --seed N           CHATSYNC_REL_SEED               base seed (default: random, printed)
#   --only NAME        run one harness: crash, soak, bad_input, security, fuzz_regressions
#
# Reports (JSON) go to ${CHATSYNC_REL_REPORT_DIR:-target/reliability}. Needs only cargo;
# no network beyond 127.0.0.1 once the crates are fetched (--locked).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --short|--long) mode="${1#--}" ;;
    --kills) export CHATSYNC_REL_CRASH_KILLS="$2"; shift ;;
    --max-alive-ms) export CHATSYNC_REL_CRASH_MAX_ALIVE_MS="$2"; shift ;;
    --soak-secs) export CHATSYNC_REL_SOAK_SECS="$2"; shift ;;
    --schedule-secs) export CHATSYNC_REL_SOAK_SCHEDULE_SECS="$2"; shift ;;
    --seed) export CHATSYNC_REL_SEED="$2"; shift ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$mode" ]; then
  echo "usage: $0 --short | --long [flags]  (see --help)" >&2
  exit 2
fi

if [ "$mode" = short ]; then
  export CHATSYNC_REL_CRASH_KILLS="${CHATSYNC_REL_CRASH_KILLS:-25}"
  export CHATSYNC_REL_SOAK_SECS="${CHATSYNC_REL_SOAK_SECS:-60}"
else
  export CHATSYNC_REL_CRASH_KILLS="${CHATSYNC_REL_CRASH_KILLS:-150}"
  export CHATSYNC_REL_SOAK_SECS="${CHATSYNC_REL_SOAK_SECS:-600}"
fi
export CHATSYNC_REL_REPORT_DIR="${CHATSYNC_REL_REPORT_DIR:-$PWD/target/reliability}"
mkdir -p "$CHATSYNC_REL_REPORT_DIR"

harnesses=(crash soak bad_input security fuzz_regressions)
if [ -n "$only" ]; then harnesses=("$only"); fi
args=()
for h in "${harnesses[@]}"; do args+=(--test "$h"); done

echo "reliability --$mode: kills=$CHATSYNC_REL_CRASH_KILLS soak=${CHATSYNC_REL_SOAK_SECS}s seed=${CHATSYNC_REL_SEED:-random}"
cargo build --locked -p chatsync-reliability --tests --bins
start=$(date +%s)
set +e
cargo test --locked --no-fail-fast -p chatsync-reliability "${args[@]}" -- --nocapture 2>&1 \
  | tee "$CHATSYNC_REL_REPORT_DIR/last-run.log" \
  | grep -E '^(RELIABILITY|test |test result|thread .* panicked|failures:)' -A1
status=${PIPESTATUS[0]}
set -e
echo "reliability --$mode finished in $(( $(date +%s) - start )) s (exit $status); reports in $CHATSYNC_REL_REPORT_DIR"
exit "$status"
