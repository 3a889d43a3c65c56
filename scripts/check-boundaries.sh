#!/usr/bin/env bash
# Checks that only one crate knows each outside thing (ARCHITECTURE.md, "Invariants"):
# the workshop model and the testkit must not depend on a runtime, a UI shell, HTTP or I/O.
set -euo pipefail

FORBIDDEN='^(tokio|async-std|smol|mio|socket2|tauri|tauri-.*|wry|tao|axum|hyper|tower|reqwest|samod|samod-core|mdns-sd|snow|spake2|directories|notify)$'
status=0
for crate in commonground-workshop commonground-testkit; do
  deps=$(cargo tree -q -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  bad=$(printf '%s\n' "$deps" | grep -E "$FORBIDDEN" || true)
  if [ -n "$bad" ]; then
    echo "Boundary broken: $crate depends on: $(echo $bad)" >&2
    status=1
  else
    echo "Boundary holds: $crate depends on no runtime, UI, HTTP or I/O crate ($(printf '%s\n' "$deps" | wc -l) crates checked)."
  fi
done
exit $status
