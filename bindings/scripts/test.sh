#!/usr/bin/env bash
# The bindings' test suite: the Kotlin layer on the JVM (Maven) and the Python
# package (pytest), both against the real reference server on loopback.
#
#   bindings/scripts/test.sh [kotlin|python|all]   (default: all)
#
# Installs what it needs idempotently: Maven dependencies from Maven Central into
# ~/.m2, Python tools into a venv under ${CHATSYNC_CACHE_DIR:-$HOME/.cache/chatsync}.
# Exits non-zero when anything fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
which="${1:-all}"
cache="${CHATSYNC_CACHE_DIR:-$HOME/.cache/chatsync}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
locked=()
if [[ -n "${CI:-}" ]]; then locked=(--locked); fi

echo "== building chatsync-server and chatsync-ffi, generating bindings" >&2
cargo build "${locked[@]}" -p chatsync-server >&2
out="$(bindings/scripts/generate.sh | tail -n 1)"
export CHATSYNC_SERVER_BIN="$target_dir/debug/chatsync-server"

status=0

if [[ "$which" == all || "$which" == python ]]; then
    echo "== python: venv and package" >&2
    venv="$cache/venv-ffi"
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c 'import pytest, setuptools, wheel' 2>/dev/null; then
        "$venv/bin/pip" install --quiet --upgrade pip 'setuptools>=77' wheel pytest
    fi
    # The one documented install command, against the build generated above.
    "$venv/bin/pip" install --quiet --no-build-isolation --no-deps --force-reinstall bindings/python
    rm -rf bindings/python/build bindings/python/*.egg-info
    echo "== python: pytest" >&2
    (cd "$root/bindings/python" && "$venv/bin/pytest" -p no:cacheprovider -q tests) || status=1
fi

if [[ "$which" == all || "$which" == kotlin ]]; then
    echo "== kotlin: maven (JVM)" >&2
    mvn -B -q -f android/jvm-tests/pom.xml test \
        -Dchatsync.bindings.dir="$out/kotlin" \
        -Djna.library.path="$out/lib" \
        -Dchatsync.server.bin="$CHATSYNC_SERVER_BIN" || status=1
    # Maven runs quietly; print the counts of the JUnit reports.
    cat android/jvm-tests/target/surefire-reports/TEST-*.xml 2>/dev/null \
        | grep -o '<testsuite [^>]*' | grep -o 'tests="[0-9]*"\|failures="[0-9]*"\|errors="[0-9]*"' \
        | tr '\n' ' ' | sed 's/^/kotlin: /; s/$/\n/' >&2
fi

exit "$status"
