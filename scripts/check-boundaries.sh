#!/usr/bin/env bash
# Checks that only one crate knows each outside thing (ARCHITECTURE.md, "Invariants"):
# the sans-IO crates (model, testkit, protocol, api contract) must not depend on a runtime, a UI
# shell, HTTP or I/O.
set -euo pipefail

FORBIDDEN='^(tokio|async-std|smol|mio|socket2|tauri|tauri-.*|wry|tao|axum|hyper|tower|reqwest|samod|samod-core|mdns-sd|snow|spake2|directories|notify)$'
# The one crate that owns an outside thing may depend on it: the protocol crate is where Noise
# (snow) and SPAKE2 live, and it still must not depend on a runtime, sockets or I/O.
owned_by() { case "$1" in commonground-protocol) echo '^(snow|spake2)$' ;; *) echo '^$' ;; esac; }
status=0
for crate in commonground-workshop commonground-testkit commonground-protocol commonground-api; do
  deps=$(cargo tree -q -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  bad=$(printf '%s\n' "$deps" | grep -E "$FORBIDDEN" | grep -vE "$(owned_by "$crate")" || true)
  if [ -n "$bad" ]; then
    echo "Boundary broken: $crate depends on: $(echo $bad)" >&2
    status=1
  else
    echo "Boundary holds: $crate depends on no runtime, UI, HTTP or I/O crate ($(printf '%s\n' "$deps" | wc -l) crates checked)."
  fi
done
exit $status
