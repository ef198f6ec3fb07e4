#!/usr/bin/env bash
# Release build of the Rust side of the ChatSync package, on macOS with Xcode:
#   1. static libraries of chatsync-ffi for aarch64-apple-ios (devices),
#      aarch64-apple-ios-sim and x86_64-apple-ios (simulators), with the LTO
#      profile `release-ffi` (root Cargo.toml);
#   2. the two simulator slices merged with `lipo`;
#   3. `xcodebuild -create-xcframework` with the generated C header and module map;
#   4. the XCFramework zipped, and its `swift package compute-checksum` printed with
#      the `binaryTarget` values for ios/Package.swift.
# It also regenerates the checked-in Swift bindings (they must match the library).
#
#   ios/scripts/build-xcframework.sh [--url-base URL] [--out DIR]
#     --url-base  where the zip will be published (e.g. a GitHub release download
#                 URL without the file name); used to print the binaryTarget line
#     --out       output directory (default: ios/Frameworks, git-ignored, where
#                 CHATSYNC_LOCAL_XCFRAMEWORK=1 makes Package.swift use it)
#
# Output: <out>/ChatSyncBindingsFFI.xcframework and <out>/ChatSyncBindingsFFI.xcframework.zip
set -euo pipefail

usage() { sed -n '2,17p' "$0"; }
die() {
  printf 'build-xcframework: error: %s\n' "$*" >&2
  exit 1
}
log() { printf 'build-xcframework: %s\n' "$*" >&2; }

url_base=""
out=""
while (($#)); do
  case "$1" in
    --url-base)
      url_base="${2:?--url-base needs a value}"
      shift 2
      ;;
    --out)
      out="${2:?--out needs a value}"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
done

[[ "$(uname -s)" == Darwin ]] || die "macOS only (needs Xcode's xcodebuild and lipo); on Linux run ios/scripts/test.sh"
for tool in cargo rustup xcodebuild lipo swift zip xcrun; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

ios="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$ios/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${out:-$ios/Frameworks}"
profile=release-ffi
framework=ChatSyncBindingsFFI
lib=libchatsync_ffi.a
device=aarch64-apple-ios
simulators=(aarch64-apple-ios-sim x86_64-apple-ios)
# Must match `platforms` in ios/Package.swift.
export IPHONEOS_DEPLOYMENT_TARGET=17.0

cd "$repo"
rustup target add "$device" "${simulators[@]}" >&2

# 1. The static libraries. `cargo rustc --crate-type staticlib` builds only that
# crate type, so the profile's LTO applies (it does not with `lib` in the list).
for target in "$device" "${simulators[@]}"; do
  log "cargo rustc --profile $profile --target $target --crate-type staticlib"
  cargo rustc --locked -p chatsync-ffi --lib --profile "$profile" --target "$target" --crate-type staticlib >&2
  [[ -f "$target_dir/$target/$profile/$lib" ]] || die "missing $target_dir/$target/$profile/$lib"
done

# The Swift bindings and header, from the same sources (library mode reads the
# host build's metadata; the checked-in copies are updated to match).
log "regenerating the Swift bindings"
"$ios/scripts/generate-bindings.sh" >/dev/null
generated="$target_dir/bindings/swift"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 2. One fat simulator library (arm64 + x86_64); the device slice stays alone.
mkdir -p "$work/device" "$work/simulator"
cp "$target_dir/$device/$profile/$lib" "$work/device/$lib"
sim_inputs=()
for target in "${simulators[@]}"; do sim_inputs+=("$target_dir/$target/$profile/$lib"); done
lipo -create "${sim_inputs[@]}" -output "$work/simulator/$lib"
lipo -info "$work/simulator/$lib" >&2

# 3. Headers: the generated header and module map in a directory named after the
# module, so the module map does not collide with other XCFrameworks' in the
# app's build products (clang finds <include>/<Module>/module.modulemap).
headers="$work/headers"
mkdir -p "$headers/$framework"
cp "$generated/$framework.h" "$headers/$framework/"
cp "$generated/$framework.modulemap" "$headers/$framework/module.modulemap"

mkdir -p "$out"
rm -rf "$out/$framework.xcframework" "$out/$framework.xcframework.zip"
xcodebuild -create-xcframework \
  -library "$work/device/$lib" -headers "$headers" \
  -library "$work/simulator/$lib" -headers "$headers" \
  -output "$out/$framework.xcframework" >&2

# 4. Zip (keeping symlinks, the top directory included) and the checksum.
(cd "$out" && zip -q -r -y "$framework.xcframework.zip" "$framework.xcframework")
checksum="$(swift package --package-path "$ios" compute-checksum "$out/$framework.xcframework.zip")"

log "built $out/$framework.xcframework.zip"
echo "zip: $out/$framework.xcframework.zip"
echo "checksum: $checksum"
if [[ -n "$url_base" ]]; then
  echo "In ios/Package.swift:"
  echo "let releaseXCFramework: (url: String, checksum: String)? = (url: \"${url_base%/}/$framework.xcframework.zip\", checksum: \"$checksum\")"
else
  echo "Try it locally: CHATSYNC_LOCAL_XCFRAMEWORK=1 swift build --package-path ios (with the default --out)"
fi
