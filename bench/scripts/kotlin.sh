#!/usr/bin/env bash
# Builds the Kotlin (JVM) side of `chatsync bench`'s open measurement, so that the
# bench can time `open_chat` through the generated Kotlin bindings:
#  1. bindings/scripts/generate.sh --release: the release libchatsync_ffi.so (the one
#     the bench loads, <target>/release/) and the Kotlin bindings generated from it;
#  2. Maven (android/jvm-bench/pom.xml, Java 17): compiles those bindings and
#     OpenChatBench.kt into a jar, dependencies from Maven Central cached in ~/.m2;
#  3. writes the runtime classpath (the jar + kotlin-stdlib, coroutines, JNA) to
#     <target>/bench-kotlin/classpath.txt, which `chatsync bench` reads.
# <target> is $CARGO_TARGET_DIR or target/. Idempotent: re-running rebuilds only what
# changed. Prints the classpath file's path on the last line of stdout.
#
#   bench/scripts/kotlin.sh && cargo run --release -p chatsync-cli -- bench --only open
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/bench-kotlin"

for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
        echo "kotlin.sh: $tool is not installed (needs Java 17 and Maven)" >&2
        exit 1
    fi
done

# A classpath file means a complete build: none while (re)building, so a failed
# build is reported by the bench as not measured rather than run half-built.
rm -f "$out/classpath.txt"

echo "== kotlin bench: release FFI library and bindings" >&2
bindings="$(bindings/scripts/generate.sh --release | tail -n 1)"

echo "== kotlin bench: maven package" >&2
mkdir -p "$out"
mvn -B -q -Dstyle.color=never -f android/jvm-bench/pom.xml package \
    -Dchatsync.bindings.dir="$bindings/kotlin" \
    -Dbench.build.dir="$out/maven" >&2
jar="$out/maven/chatsync-jvm-bench-0.1.0.jar"
if [[ ! -f "$jar" ]]; then
    echo "kotlin.sh: maven did not produce $jar" >&2
    exit 1
fi
deps="$out/dependencies.txt"
mvn -B -q -Dstyle.color=never -f android/jvm-bench/pom.xml dependency:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$deps" \
    -Dbench.build.dir="$out/maven" >&2
printf '%s:%s\n' "$jar" "$(cat "$deps")" >"$out/classpath.txt.tmp"
mv "$out/classpath.txt.tmp" "$out/classpath.txt"
echo "$out/classpath.txt"
