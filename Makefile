# Common Ground — the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (scripts/setup.sh) and are safe to run again.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/commonground/target
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run test bench fmt clippy

setup:
	@scripts/setup.sh

## Run Common Ground. Until the desktop app lands, this plays the workshop story through the
## real workshop model and prints what people see.
run: setup
	cargo run --locked -q -p commonground-workshop --example story

## Every check and test, exactly as CI runs them.
test: setup
	scripts/test.sh

## The full benchmarks, printed as tables: the workshop model with 10,000 notes, and sync
## latency and convergence across 3, 10 and 30 laptops on this machine.
bench: setup
	cargo bench --locked -p commonground-workshop --bench model
	cargo bench --locked -p commonground-node --bench sync

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
