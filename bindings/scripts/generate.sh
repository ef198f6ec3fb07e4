#!/usr/bin/env bash
# Builds the host chatsync-ffi library and generates the Kotlin, Swift and Python
# bindings from it in library mode (the metadata is read from the built library,
# so generate *before* stripping it).
#
#   bindings/scripts/generate.sh [--release]   # default: the dev (debug) build
#
# Output (git-ignored, under the cargo target dir):
#   target/bindings/kotlin/dev/chatsync/ffi/chatsync_ffi.kt
#   target/bindings/swift/{ChatSyncBindings.swift,ChatSyncBindingsFFI.h,ChatSyncBindingsFFI.modulemap}
#   target/bindings/python/chatsync_ffi.py
#   target/bindings/lib/libchatsync_ffi.{so,dylib}   (the library the bindings were made from)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
profile_flag=()
profile_dir=debug
if [[ "${1:-}" == "--release" ]]; then
    profile_flag=(--release)
    profile_dir=release
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
locked=()
if [[ -n "${CI:-}" ]]; then locked=(--locked); fi

cargo build "${locked[@]}" "${profile_flag[@]}" -p chatsync-ffi -p chatsync-uniffi-bindgen >&2

case "$(uname -s)" in
    Darwin) lib_file=libchatsync_ffi.dylib ;;
    *) lib_file=libchatsync_ffi.so ;;
esac
lib="$target_dir/$profile_dir/$lib_file"
bindgen="$target_dir/$profile_dir/uniffi-bindgen"
out="$target_dir/bindings"

rm -rf "$out/kotlin" "$out/swift" "$out/python" "$out/lib"
mkdir -p "$out/kotlin" "$out/swift" "$out/python" "$out/lib"
for language in kotlin swift python; do
    "$bindgen" generate --library "$lib" --language "$language" \
        --out-dir "$out/$language" --no-format >&2
done
cp "$lib" "$out/lib/"
echo "$out"
