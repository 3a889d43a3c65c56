#!/usr/bin/env bash
# Installs whatever this machine lacks to build, run and test Common Ground, saying what it
# installs. Safe to run again: it only installs what is missing. Works as root or with sudo.
set -euo pipefail

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else SUDO=(); fi

# Debian/Ubuntu packages needed to build and test.
# - libwebkit2gtk-4.1-dev: the desktop app's window (Tauri on Linux);
# - xvfb, xauth, webkit2gtk-driver, imagemagick: the desktop app's tests drive the real window on a
#   virtual screen and photograph it;
# - chromium: the browser tests (Playwright drives Debian's Chromium; nothing is downloaded).
# - poppler-utils: the export tests read the values document PDF back (pdftotext, pdfinfo).
APT_PACKAGES=(build-essential pkg-config git iproute2 util-linux curl
  libwebkit2gtk-4.1-dev xvfb xauth webkit2gtk-driver imagemagick chromium poppler-utils)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "These packages are needed but this isn't a Debian or Ubuntu machine: ${missing[*]}" >&2
    exit 1
  fi
  say "Installing system packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: the workspace needs a stable toolchain of 1.92 or newer (typst 0.15's minimum).
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "Rust is not installed. Please install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 92 ]; then
  echo "Rust $(rustc --version | cut -d' ' -f2) is too old: Common Ground needs 1.92 or newer. Try: rustup update stable" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
      say "Installing the Rust component $component"
      rustup component add "$component"
    fi
  done
fi

# cargo-nextest runs the tests (faster, clearer output); plain cargo test works without it.
if ! cargo nextest --version >/dev/null 2>&1; then
  say "Installing cargo-nextest from crates.io (a few minutes, once)"
  cargo install cargo-nextest --locked || say "cargo-nextest could not be installed; tests will run with cargo test"
fi

# cargo-fuzz builds and runs the fuzz targets in fuzz/, which CI runs briefly. It works on
# stable Rust (see fuzz/README.md); libFuzzer itself is compiled with build-essential's C++.
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "Installing cargo-fuzz from crates.io (about a minute, once)"
  cargo install cargo-fuzz --locked
fi

# tauri-driver drives the desktop app's real window for its WebDriver test.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  say "Installing tauri-driver from crates.io (about a minute, once)"
  cargo install tauri-driver --locked
fi

# Node.js builds the UI (Vite 8 needs Node.js 20.19 or newer).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "Installing Node.js and npm"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi
node_version=$(node -p 'process.versions.node')
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "Node.js $node_version is too old to build the UI: it needs 20.19 or newer." >&2
  exit 1
fi

# The UI's packages, exactly as locked (only when the lock file changed since the last install).
ui_dir="$(cd "$(dirname "$0")/.." && pwd)/ui"
if [ ! -f "$ui_dir/node_modules/.package-lock.json" ] || [ "$ui_dir/package-lock.json" -nt "$ui_dir/node_modules/.package-lock.json" ]; then
  say "Installing the UI's packages (npm ci)"
  (cd "$ui_dir" && npm ci --no-audit --no-fund)
fi

# The stock JS automerge-repo sync server (and a JS peer) for the interop test in
# crates/node/tests/sync_server.rs. No install scripts: its native CBOR add-on is optional.
sync_dir="$(dirname "$ui_dir")/tests/sync-server"
if [ ! -f "$sync_dir/node_modules/.package-lock.json" ] || [ "$sync_dir/package-lock.json" -nt "$sync_dir/node_modules/.package-lock.json" ]; then
  say "Installing the JS sync server used by the interop test (npm ci)"
  (cd "$sync_dir" && npm ci --no-audit --no-fund --ignore-scripts)
fi
