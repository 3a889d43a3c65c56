#!/usr/bin/env bash
# Every check and test, as CI runs them. Called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Tests that need something installed (the JS sync server) fail rather than skip under CI.
export CI="${CI:-true}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Dependency boundaries"
scripts/check-boundaries.sh

step "Fuzz targets: build, then ${FUZZ_SECONDS:-10} s each over seeds and saved crashers (fuzz/README.md)"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: run scripts/setup.sh (or: cargo install cargo-fuzz --locked)" >&2
  exit 1
fi
(
  # fuzz/ is a workspace of its own, with a target dir of its own: its flags differ from
  # every other build's.
  cd fuzz
  export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/commonground/fuzz-target}"
  cargo fmt --check
  cargo clippy --all-targets --locked -q -- -D warnings
  # cargo-fuzz passes nightly-only -Z flags (sanitizer, coverage instrumentation); this lets
  # the stable compiler accept them, for these test binaries only.
  export RUSTC_BOOTSTRAP=1
  cargo fuzz build
  log_dir=$(mktemp -d)
  trap 'rm -rf "$log_dir"' EXIT
  for target in $(cargo fuzz list); do
    # New corpus entries go to a scratch directory (the first one), never into seeds/.
    mkdir "$log_dir/$target"
    if ! cargo fuzz run "$target" "$log_dir/$target" "seeds/$target" ../crates/protocol/tests/crashers -- \
      -max_total_time="${FUZZ_SECONDS:-10}" -malloc_limit_mb=64 >"$log_dir/$target.log" 2>&1; then
      tail -n 60 "$log_dir/$target.log"
      echo "The fuzz target $target failed; its input is in fuzz/artifacts/$target/ (see fuzz/README.md)." >&2
      exit 1
    fi
    printf '%-16s %s\n' "$target" "$(grep -E '^Done' "$log_dir/$target.log" | tail -n 1)"
  done
)

step "Benchmark smoke run (1,000 notes; the full run is make bench)"
BENCH_NOTES=1000 cargo bench --locked -p commonground-workshop --bench model

step "Sync benchmark smoke run (3 nodes; the full run is make bench)"
SYNC_BENCH_QUICK=1 cargo bench --locked -p commonground-node --bench sync

step "Export benchmark smoke run (5 values; the full run is make bench)"
EXPORT_BENCH_SMOKE=1 cargo test --locked -p commonground-export --bench export

step "UI: type checks and unit tests (ui/)"
(cd ui && npm run check && npm run test:unit)

step "UI in a real browser: two people through the web front door, keyboard only, axe-core on every screen"
# tests/browser.mjs: joining, the board, reconnecting, small screens. tests/together.mjs:
# challenges, values by consent, reflection, catching up, everyone's voice, export, from home.
# Against the real thing: the CLI's `serve --web` and Debian's Chromium. Screenshots are kept.
cargo build --locked -q -p commonground-cli
export CG_ARTIFACTS="${CG_ARTIFACTS:-$CARGO_TARGET_DIR/artifacts}"
(cd ui && CG_BIN="$CARGO_TARGET_DIR/debug/commonground" npm run test:browser)
echo "Screenshots: $CG_ARTIFACTS"

step "The values document's web page: axe-core in Chromium"
node tests/export/axe.mjs

step "The desktop window end to end: WebDriver on the real window under Xvfb, a note from a second laptop"
tests/desktop/webdriver.sh

step "Desktop benchmark: idle memory with a 2,000-note workshop against an empty window, binary size"
tests/desktop/bench.sh

step "samod-core as patched (vendor/): its own unit tests, the patches' included"
# The vendored crate is not a workspace member, so it is tested on its own, from a copy with
# the workspace's Cargo.lock (the same dependency versions the app is built with).
(
  vendored="$(mktemp -d)"
  trap 'rm -rf "$vendored"' EXIT
  tar --exclude=target -cf - vendor/samod-core | tar -xf - -C "$vendored"
  cp Cargo.lock "$vendored/vendor/samod-core/"
  # Its own workspace root, wherever the temporary folder is.
  printf '\n[workspace]\n' >> "$vendored/vendor/samod-core/Cargo.toml"
  cd "$vendored/vendor/samod-core" && cargo test --lib --quiet
)

step "Tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first: nextest doesn't run them, and its summary should be the last word.
  cargo test --workspace --locked --doc
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
