# Common Ground — the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (scripts/setup.sh) and are safe to run again.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/commonground/target
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run story test bench dist fmt clippy

setup:
	@scripts/setup.sh

## Run Common Ground: the desktop app (or, with no screen, the same app as a web page).
run: setup
	scripts/run.sh

## The workshop story (DESIGN.md section 7) played through the real model, printed.
story: setup
	cargo run --locked -q -p commonground-workshop --example story

## Every check and test, exactly as CI runs them.
test: setup
	scripts/test.sh

## The full benchmarks, printed as tables: the workshop model with 10,000 notes; sync
## latency and convergence across 3, 10 and 30 laptops on this machine; the values document;
## a remote edit on a 2,000-note board in Chromium.
bench: setup
	cargo build --locked -p commonground-cli
	cargo bench --locked -p commonground-workshop --bench model
	cargo bench --locked -p commonground-node --bench sync
	cargo bench --locked -p commonground-export --bench export
	cd ui && CG_BIN=$(CARGO_TARGET_DIR)/debug/commonground npm run bench:ui
	tests/desktop/bench.sh

## The desktop app as a Debian package (.deb), built offline.
dist: setup
	scripts/dist.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
