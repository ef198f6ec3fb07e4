#!/usr/bin/env bash
# Regenerates the checked-in UniFFI Swift bindings of the ChatSync package from the
# current chatsync-ffi crate (bindings/scripts/generate.sh, library mode):
#   ios/Sources/ChatSyncBindings/ChatSyncBindings.swift      (the generated Swift)
#   ios/Sources/ChatSyncBindingsFFI/ChatSyncBindingsFFI.h    (its C header)
# The module map next to the header is hand-written (it also links the library).
#
#   ios/scripts/generate-bindings.sh            regenerate and copy into the package
#   ios/scripts/generate-bindings.sh --check    fail (exit 1) when the checked-in
#                                               copies differ from what the crate generates
#
# Prints the directory holding the host library the bindings were generated from
# (libchatsync_ffi.so / .dylib), for `-Xlinker -L`.
set -euo pipefail

mode=update
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help)
    sed -n '2,13p' "$0"
    exit 0
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

ios="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$ios/.." && pwd)"
out="$("$repo/bindings/scripts/generate.sh")"
generated_swift="$out/swift/ChatSyncBindings.swift"
generated_header="$out/swift/ChatSyncBindingsFFI.h"
for f in "$generated_swift" "$generated_header"; do
  [[ -s "$f" ]] || {
    echo "generate-bindings: $f was not generated (check bindings/uniffi.toml's [bindings.swift])" >&2
    exit 1
  }
done

swift_copy="$ios/Sources/ChatSyncBindings/ChatSyncBindings.swift"
header_copy="$ios/Sources/ChatSyncBindingsFFI/ChatSyncBindingsFFI.h"
if [[ "$mode" == check ]]; then
  stale=0
  for pair in "$generated_swift:$swift_copy" "$generated_header:$header_copy"; do
    if ! cmp -s "${pair%%:*}" "${pair#*:}"; then
      echo "generate-bindings: stale: ${pair#*:} differs from what chatsync-ffi generates" >&2
      diff -u "${pair#*:}" "${pair%%:*}" | head -20 >&2 || true
      stale=1
    fi
  done
  if ((stale)); then
    echo "generate-bindings: run ios/scripts/generate-bindings.sh and commit the result" >&2
    exit 1
  fi
else
  cp "$generated_swift" "$swift_copy"
  cp "$generated_header" "$header_copy"
  echo "generate-bindings: updated $swift_copy and $header_copy" >&2
fi
echo "$out/lib"
