#!/usr/bin/env bash
# Runs Common Ground: builds the UI, then opens the desktop app. Called by `make run`.
# On a machine with no screen (a server, a container) it opens the same app as a web page
# instead, and says where.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "Building the window's pages (ui/)"
(cd ui && npm run build --silent)

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  say "Building and opening Common Ground (the first build takes several minutes)"
  exec cargo run --locked -q -p commonground-desktop
fi

say "There is no screen here, so Common Ground opens as a web page instead"
cargo build --locked -q -p commonground-cli
echo "Open the address after 'this laptop:' below in a browser on this computer. Press Ctrl-C to stop."
data=()
[ -n "${COMMONGROUND_DATA:-}" ] && data=(--data "$COMMONGROUND_DATA")
exec "$CARGO_TARGET_DIR/debug/commonground" "${data[@]}" serve --web 127.0.0.1:41236
