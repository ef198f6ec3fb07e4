#!/usr/bin/env bash
# Swift on Linux for chatsync: a cached Debian trixie root with `swiftlang`
# (Swift 6.0.x, XCTest, swift-testing), entered with chroot.  See docs/tooling.md.
#
#   ios/scripts/swift-env.sh ensure
#       Create (mmdebstrap) or restore (cached tarball) the root, idempotently.
#       Exit 77 with a `SKIP: <reason>` line when this machine cannot make it
#       (not root, no mount/chroot rights, mirror unreachable).
#   ios/scripts/swift-env.sh run <dir-inside-repo> <command...>
#       Run a command inside the root, in <dir>, with the Swift toolchain on PATH.
#       The repository (the git top level holding <dir>) is bind-mounted at the
#       SAME absolute path inside the root, so host paths such as
#       /path/to/repo/target/debug work unchanged on both sides.
#       Extra host directories to bind at the same path: SWIFT_ENV_BINDS="/a /b".
#       Host variables to pass through: SWIFT_ENV_PASS="VAR1 VAR2" (the rest of
#       the environment is reset: PATH, HOME=/root, LANG=C.UTF-8, TERM).
#       Calls `ensure` first.  Exit code is the command's.
#   ios/scripts/swift-env.sh path     print the root directory
#   ios/scripts/swift-env.sh clean    delete the extracted root (tarball kept)
#
# Mounts are made in a private mount namespace (unshare -m) so they vanish when
# the command ends, however it ends; a trap unmounts them as well.
set -euo pipefail

SUITE="${SWIFT_ROOT_SUITE:-trixie}"
PACKAGES="${SWIFT_ROOT_PACKAGES:-swiftlang,libc6-dev,ca-certificates}"
FORMAT=1 # bump when the slimming/layout changes, to force a rebuild
CACHE_DIR="${CHATSYNC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatsync}"
SWIFT_BIN=/usr/libexec/swift/bin

KEY="$(printf '%s\n' "$FORMAT" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)"
ROOT="$CACHE_DIR/swift-root-$KEY"
TARBALL="$CACHE_DIR/swift-root-$KEY.tar.zst"
STAMP=.chatsync-swift-root

log() { printf 'swift-env: %s\n' "$*" >&2; }
skip() {
  printf 'SKIP: %s\n' "$*"
  exit 77
}
die() {
  printf 'swift-env: error: %s\n' "$*" >&2
  exit 1
}

# The Debian mirror the host's apt uses (deb822 first, then one-line format).
host_mirror() {
  local uri=""
  if [[ -n "${SWIFT_ROOT_MIRROR:-}" ]]; then
    printf '%s\n' "$SWIFT_ROOT_MIRROR"
    return
  fi
  shopt -s nullglob
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")"
    [[ -n "$uri" ]] && break
  done
  if [[ -z "$uri" ]]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -f "$f" ]] || continue
      uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")"
      [[ -n "$uri" ]] && break
    done
  fi
  shopt -u nullglob
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

root_ready() { [[ -f "$ROOT/$STAMP" && -x "$ROOT$SWIFT_BIN/swift" ]]; }

preflight() {
  [[ $(id -u) -eq 0 ]] || skip "needs root (mmdebstrap, mount, chroot)"
  command -v chroot >/dev/null 2>&1 || skip "chroot not found"
  command -v mount >/dev/null 2>&1 || skip "mount not found"
}

build_root() {
  local mirror tmp t0
  mirror="$(host_mirror)"
  if ! curl -fsS --max-time 20 -o /dev/null "$mirror/dists/$SUITE/InRelease"; then
    skip "Debian mirror $mirror unreachable (dists/$SUITE/InRelease)"
  fi
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mmdebstrap >&2 ||
      { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mmdebstrap >&2; } ||
      skip "mmdebstrap not installable"
  fi
  command -v zstd >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq zstd >&2 ||
    skip "zstd not installable"
  tmp="$CACHE_DIR/.build-$KEY.$$"
  rm -rf "$tmp"
  t0=$SECONDS
  log "mmdebstrap $SUITE from $mirror (packages: $PACKAGES) -> cold build, ~1.5 min"
  mmdebstrap --quiet --variant=apt --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$tmp" "$mirror" >&2 || die "mmdebstrap failed (see above)"
  rm -rf "$tmp/var/lib/apt/lists/"* "$tmp/var/cache/apt/"*.bin "$tmp/var/cache/apt/archives/"*.deb
  date -u +%FT%TZ >"$tmp/$STAMP"
  log "mmdebstrap done in $((SECONDS - t0)) s; writing $TARBALL"
  tar -C "$tmp" --numeric-owner -cf - . | zstd -q -T2 -3 -o "$TARBALL.tmp.$$" -f
  mv -f "$TARBALL.tmp.$$" "$TARBALL"
  mv -T "$tmp" "$ROOT"
  log "root ready in $((SECONDS - t0)) s"
}

restore_root() {
  local tmp t0=$SECONDS
  tmp="$CACHE_DIR/.restore-$KEY.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "restoring root from $TARBALL"
  if ! zstd -dcq "$TARBALL" | tar -C "$tmp" --numeric-owner -xpf -; then
    rm -rf "$tmp"
    log "cached tarball unusable; removing it"
    rm -f "$TARBALL"
    return 1
  fi
  mv -T "$tmp" "$ROOT"
  log "root restored in $((SECONDS - t0)) s"
}

cmd_ensure() {
  root_ready && return 0
  preflight
  mkdir -p "$CACHE_DIR"
  # One creator at a time; the others wait and then find the root ready.
  exec 8>"$CACHE_DIR/.swift-root-$KEY.lock"
  flock 8
  if ! root_ready; then
    rm -rf "$ROOT" # half-made by a killed run (no stamp)
    if [[ ! -f "$TARBALL" ]] || ! restore_root; then
      build_root
    fi
  fi
  exec 8>&-
  root_ready || die "root at $ROOT is incomplete"
}

# Runs inside the private mount namespace (or, without unshare, in the host's).
cmd_inner() {
  local dir="$1" repo="$2"
  shift 2
  MOUNTED=() # global: the EXIT trap runs after this function has returned
  cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
      umount -R "${MOUNTED[$i]}" 2>/dev/null || umount -lR "${MOUNTED[$i]}" 2>/dev/null || true
    done
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  bind() { # bind <host path> <path inside root>
    mkdir -p "$ROOT$2"
    mount --rbind "$1" "$ROOT$2"
    mount --make-rslave "$ROOT$2" # no unmount events back to the host
    MOUNTED+=("$ROOT$2")
  }
  mount -t proc proc "$ROOT/proc"
  MOUNTED+=("$ROOT/proc")
  bind /dev /dev
  mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
  MOUNTED+=("$ROOT/tmp")
  bind "$repo" "$repo"
  local b
  for b in ${SWIFT_ENV_BINDS:-}; do
    [[ -d "$b" ]] || die "SWIFT_ENV_BINDS: $b is not a directory"
    bind "$b" "$b"
  done
  local envv=(PATH="$SWIFT_BIN:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}")
  local v
  for v in ${SWIFT_ENV_PASS:-}; do
    [[ -n "${!v+x}" ]] && envv+=("$v=${!v}")
  done
  local rc=0
  # shellcheck disable=SC2016 # expanded by the inner bash
  chroot "$ROOT" /usr/bin/env -i "${envv[@]}" /bin/bash -c 'cd "$1" && shift && exec "$@"' \
    swift-env "$dir" "$@" || rc=$?
  return "$rc"
}

cmd_run() {
  (($# >= 2)) || die "usage: $0 run <dir-inside-repo> <command...>"
  local dir repo
  dir="$(cd "$1" && pwd -P)" || die "no such directory: $1"
  shift
  repo="$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null || true)"
  [[ -n "$repo" ]] || repo="$dir"
  repo="$(cd "$repo" && pwd -P)"
  case "$repo" in /) die "refusing to bind-mount / into the root" ;; esac
  cmd_ensure
  if unshare -m --propagation private true 2>/dev/null; then
    exec unshare -m --propagation private -- "$BASH" "$0" __inner "$dir" "$repo" "$@"
  fi
  # No mount namespaces: mount in the host's, one run at a time.
  exec 7>"$CACHE_DIR/.swift-root-$KEY.run.lock"
  flock 7
  cmd_inner "$dir" "$repo" "$@"
}

case "${1:-}" in
  ensure)
    cmd_ensure
    printf 'SWIFT_ROOT=%s\n' "$ROOT"
    ;;
  run)
    shift
    cmd_run "$@"
    ;;
  __inner)
    shift
    cmd_inner "$@"
    ;;
  path) printf '%s\n' "$ROOT" ;;
  clean) rm -rf "$ROOT" ;;
  -h | --help | help) sed -n '2,24p' "$0" ;;
  *)
    printf 'usage: %s ensure | run <dir> <command...> | path | clean\n' "$0" >&2
    exit 2
    ;;
esac
