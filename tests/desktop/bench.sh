#!/usr/bin/env bash
# Desktop benchmark: the real window's idle memory (total PSS of the app and its WebKit
# processes) with nothing open, an empty workshop and a 2,000-note workshop, measured in the
# same run; and the release binary's size. Prints a table (tests/desktop/bench.mjs).
#
# Targets: the 2,000-note workshop within 1.3x the empty window; the binary under 25 MB.
# WEBKIT_DISABLE_COMPOSITING_MODE=1 is set (as the app would be run on a machine without a
# GPU): it cuts the web process by ~70 MB here. BENCH_NOTES changes the note count.
# Needs what tests/desktop/webdriver.sh needs (root, for a network namespace of its own).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"
export PATH="$HOME/.cargo/bin:$PATH"
CG_ARTIFACTS="$(mkdir -p "${CG_ARTIFACTS:-target/artifacts}" && cd "${CG_ARTIFACTS:-target/artifacts}" && pwd)"
export CG_ARTIFACTS
export WEBKIT_DISABLE_COMPOSITING_MODE="${WEBKIT_DISABLE_COMPOSITING_MODE-1}"

if [ "$(id -u)" -ne 0 ]; then
  echo "The desktop benchmark runs the app in a network namespace of its own, which needs root." >&2
  exit 1
fi

echo "==> Building the UI, the release app (as shipped) and the CLI (it makes the workshops)"
[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund
npm --prefix ui run build --silent
cargo build --locked -q --release -p commonground-desktop --features tauri/custom-protocol
# The CLI only makes the workshops, so its debug build will do: a release build would
# compile the PDF renderer (typst) with optimisations, ~20 minutes on 2 cores.
cargo build --locked -q -p commonground-cli
export CG_APP="$CARGO_TARGET_DIR/release/commonground-desktop"
export CG_CLI="$CARGO_TARGET_DIR/debug/commonground"

CG_WORK="$(mktemp -d)"
export CG_WORK
trap 'rm -rf "$CG_WORK"' EXIT

timeout --kill-after=10 900 unshare --net -- bash -c '
  ip link set lo up
  exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" node tests/desktop/bench.mjs'
