#!/usr/bin/env bash
# Every check and test, as CI runs them. Called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonground/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Dependency boundaries"
scripts/check-boundaries.sh

step "Benchmark smoke run (1,000 notes; the full run is make bench)"
BENCH_NOTES=1000 cargo bench --locked -p commonground-workshop --bench model

step "Tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first: nextest doesn't run them, and its summary should be the last word.
  cargo test --workspace --locked --doc
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
