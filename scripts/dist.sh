#!/usr/bin/env bash
# Builds the desktop app as a Debian package, offline: the UI (ui/dist), the `commonground`
# program (the app asks it to typeset PDFs: the app itself is built without typst, see
# crates/app/src/export.rs), then `tauri build --bundles deb` (tauri-cli from ui's
# devDependencies), which puts both in /usr/bin. Prints where the .deb is and how to install
# it. Needs the build dependencies in scripts/setup.sh and node/npm.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "The UI (ui/dist)"
[ -x ui/node_modules/.bin/tauri ] || npm --prefix ui ci --no-audit --no-fund
npm --prefix ui run build

step "The commonground program (a release build with typst: up to ~20 minutes the first time)"
cargo build --locked --release -p commonground-cli
cli="$CARGO_TARGET_DIR/release/commonground"
strip -o "$CARGO_TARGET_DIR/release/commonground.stripped" "$cli"

step "The app and its .deb (a release build: several minutes the first time)"
# From the top of the repository, where tauri-cli finds src-tauri/tauri.conf.json. The
# program goes beside the app, where the app looks for it.
files=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/commonground":"%s"}}}}}' "$CARGO_TARGET_DIR/release/commonground.stripped")
ui/node_modules/.bin/tauri build --ci --bundles deb --config "$files"


deb=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
  echo "tauri build finished but left no .deb in $CARGO_TARGET_DIR/release/bundle/deb/." >&2
  exit 1
fi
step "Done"
echo "The package: $deb ($(du -h "$deb" | cut -f1))"
echo "Install it:  sudo apt install $(printf '%q' "$deb")"
echo "Then open Common Ground from the applications menu, or run commonground-desktop."
echo "It installs /usr/bin/commonground-desktop and /usr/bin/commonground (the command line, which also makes the PDFs)."
