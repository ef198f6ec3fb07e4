#!/usr/bin/env bash
# Builds the shipped form of the x86_64 (host) library and reports its stripped size:
# profile release-ffi (opt-level "z", LTO, one codegen unit) through
# `cargo rustc --crate-type cdylib` (so LTO applies), packed
# relative relocations; bindings are generated from the unstripped library first
# (stripping removes the metadata library mode reads), then a copy is stripped.
#
#   bindings/scripts/size.sh      # prints "<bytes> <path of the stripped library>"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/bindings-release"

cargo rustc --profile release-ffi -p chatsync-ffi --lib --crate-type cdylib \
    -- -C link-arg=-Wl,-z,pack-relative-relocs >&2
cargo build -p chatsync-uniffi-bindgen >&2
lib="$target_dir/release-ffi/libchatsync_ffi.so"
rm -rf "$out" && mkdir -p "$out"
for language in kotlin swift python; do
    "$target_dir/debug/uniffi-bindgen" generate --library "$lib" --language "$language" \
        --out-dir "$out/$language" --no-format >&2
done
strip -o "$out/libchatsync_ffi.so" "$lib"
echo "$(stat -c %s "$out/libchatsync_ffi.so") $out/libchatsync_ffi.so"
