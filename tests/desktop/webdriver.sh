#!/usr/bin/env bash
# The real desktop window, end to end, through WebDriver under Xvfb (tests/desktop/e2e.mjs):
# start a workshop and add a note through the UI, then see a note added by a second laptop
# (the `commonground` CLI, its own process and data folder) appear in the window.
#
# Runs in a network namespace of its own with only loopback, so the app's discovery (mDNS and
# the broadcast beacon) stays on, as shipped, and still reaches nothing outside. Needs root
# (like crates/cli/tests/netns.rs) and: apt libwebkit2gtk-4.1-dev xvfb webkit2gtk-driver
# imagemagick; `cargo install tauri-driver --locked`; node and npm (builds ui/dist).
# Screenshots go to $CG_ARTIFACTS (default target/artifacts).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"
export PATH="$HOME/.cargo/bin:$PATH"
CG_ARTIFACTS="$(mkdir -p "${CG_ARTIFACTS:-target/artifacts}" && cd "${CG_ARTIFACTS:-target/artifacts}" && pwd)"
export CG_ARTIFACTS

for tool in tauri-driver WebKitWebDriver xvfb-run import node npm unshare; do
  if ! command -v "$tool" >/dev/null; then
    echo "The desktop test needs $tool: see the top of $0 for what to install." >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "The desktop test runs the app in a network namespace of its own, which needs root." >&2
  exit 1
fi

echo "==> Building the UI (ui/dist)"
[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund
npm --prefix ui run build --silent

echo "==> Building the app (with the UI inside, as shipped) and the CLI"
cargo build --locked -q -p commonground-desktop --features tauri/custom-protocol
cargo build --locked -q -p commonground-cli
export CG_APP="$CARGO_TARGET_DIR/debug/commonground-desktop"
export CG_CLI="$CARGO_TARGET_DIR/debug/commonground"

CG_WORK="$(mktemp -d)"
export CG_WORK
trap 'rm -rf "$CG_WORK"' EXIT

echo "==> The window, through WebDriver"
# e2e.mjs kills tauri-driver, the app and the CLI on every way out; timeout is the backstop
# (a WebDriver session without a display hangs forever).
timeout --kill-after=10 240 unshare --net -- bash -c '
  ip link set lo up
  exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" node tests/desktop/e2e.mjs'
