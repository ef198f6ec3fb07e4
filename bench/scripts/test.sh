#!/usr/bin/env bash
# The benchmark suite's CI check (correctness only, never timing):
#  - when Java and Maven are installed (and CHATSYNC_BENCH_KOTLIN is not 0), the Kotlin
#    side of the open measurement built by bench/scripts/kotlin.sh (a release build of
#    the FFI library, Maven dependencies cached in ~/.m2), and the tests then require it;
#  - unit tests, the Kotlin process test and the smoke test (`run(--quick)` against the
#    real in-process server, checking the report's structure and sanity, e.g. zero
#    requests when nothing changed);
#  - the criterion benches compiled and run once each in test mode;
#  - `chatsync bench --quick --json` as a real process (cli/tests/bench.rs).
# The run stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ "${CHATSYNC_BENCH_KOTLIN:-1}" != 0 ]] && command -v java >/dev/null && command -v mvn >/dev/null; then
    bench/scripts/kotlin.sh >/dev/null
    export CHATSYNC_BENCH_REQUIRE_KOTLIN=1
else
    echo "bench: the Kotlin (JVM) open measurement is not built (needs java and mvn; CHATSYNC_BENCH_KOTLIN=${CHATSYNC_BENCH_KOTLIN:-1})" >&2
fi
cargo test --locked -p chatsync-bench --lib --tests
cargo test --locked -p chatsync-bench --bench micro
cargo test --locked -p chatsync-cli --test bench
