#!/usr/bin/env bash
# Tauri 2 end-to-end test environment for Linux (Debian bookworm): build + runtime
# packages, Xvfb, WebKitWebDriver and tauri-driver.  See docs/tooling.md.
#
#   tauri-mobile/scripts/e2e-env.sh ensure   # install what is missing, print paths
#   tauri-mobile/scripts/e2e-env.sh paths    # print paths/env only (no installs)
#
# Idempotent: apt packages are installed only when missing (one `apt-get update`
# first); tauri-driver is `cargo install`ed into a cache outside the clone and
# skipped when the pinned version is already there.
# Exit 77 (with a `SKIP:` line) when the machine cannot provide the environment
# (not Debian/apt, not root and packages missing, registry unreachable).
set -euo pipefail

TAURI_DRIVER_VERSION="${TAURI_DRIVER_VERSION:-2.1.0}"
CACHE_DIR="${CHATSYNC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatsync}"
TOOLS_ROOT="${CHATSYNC_TOOLS_ROOT:-$CACHE_DIR/tools}"
TAURI_DRIVER="$TOOLS_ROOT/bin/tauri-driver"
NATIVE_DRIVER=/usr/bin/WebKitWebDriver

# Build (-dev) + runtime + headless/driver packages for a Tauri 2 Linux build.
PACKAGES=(
  build-essential pkg-config file libssl-dev
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
  libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev
  webkit2gtk-driver xvfb xauth dbus-x11 fonts-dejavu-core
)

log() { printf 'e2e-env: %s\n' "$*" >&2; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == installed ]] || printf '%s\n' "$p"
  done
}

ensure_apt() {
  command -v dpkg-query >/dev/null 2>&1 || skip "no dpkg/apt on this machine"
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "apt packages: all ${#PACKAGES[@]} present"
    return
  fi
  [[ $(id -u) -eq 0 ]] || skip "not root; missing apt packages: ${missing[*]}"
  log "apt packages missing: ${missing[*]}"
  # Serialise against other apt users; apt's own locks would just fail fast.
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq || skip "apt-get update failed (no network to the mirror?)"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || skip "apt-get install failed: ${missing[*]}"
}

installed_driver_version() {
  [[ -x "$TAURI_DRIVER" ]] || return 0
  # `cargo install --list` is the source of truth for the installed version.
  cargo install --root "$TOOLS_ROOT" --list 2>/dev/null \
    | sed -n 's/^tauri-driver v\([^:]*\):$/\1/p'
}

ensure_tauri_driver() {
  local have
  have="$(installed_driver_version)"
  if [[ "$have" == "$TAURI_DRIVER_VERSION" ]]; then
    log "tauri-driver $have present"
    return
  fi
  command -v cargo >/dev/null 2>&1 || skip "cargo not found (needed to install tauri-driver)"
  log "installing tauri-driver $TAURI_DRIVER_VERSION into $TOOLS_ROOT (was: ${have:-none})"
  mkdir -p "$TOOLS_ROOT"
  # A lock so two concurrent `ensure`s do not race on the same cargo root.
  exec 9>"$TOOLS_ROOT/.install.lock"
  flock 9
  have="$(installed_driver_version)"
  if [[ "$have" != "$TAURI_DRIVER_VERSION" ]]; then
    nice -n 10 cargo install --locked --force --root "$TOOLS_ROOT" \
      tauri-driver --version "=$TAURI_DRIVER_VERSION" >&2 \
      || skip "cargo install tauri-driver failed (crates.io unreachable?)"
  fi
  exec 9>&-
}

print_paths() {
  cat <<OUT
TAURI_DRIVER=$TAURI_DRIVER
TAURI_DRIVER_VERSION=$TAURI_DRIVER_VERSION
NATIVE_DRIVER=$NATIVE_DRIVER
XVFB=$(command -v Xvfb || echo /usr/bin/Xvfb)
XVFB_RUN=$(command -v xvfb-run || echo /usr/bin/xvfb-run)
# Do NOT set WEBKIT_DISABLE_COMPOSITING_MODE=1: with it, WebDriver screenshots hang.
OUT
}

cmd="${1:-ensure}"
case "$cmd" in
  ensure)
    ensure_apt
    ensure_tauri_driver
    [[ -x "$NATIVE_DRIVER" ]] || skip "$NATIVE_DRIVER missing after install"
    print_paths
    ;;
  paths) print_paths ;;
  -h | --help | help) sed -n '2,13p' "$0" ;;
  *)
    printf 'usage: %s ensure|paths\n' "$0" >&2
    exit 2
    ;;
esac
