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
for crate in commonground-workshop commonground-testkit commonground-protocol commonground-api commonground-export; do
  deps=$(cargo tree -q -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  bad=$(printf '%s\n' "$deps" | grep -E "$FORBIDDEN" | grep -vE "$(owned_by "$crate")" || true)
  if [ -n "$bad" ]; then
    echo "Boundary broken: $crate depends on: $(echo $bad)" >&2
    status=1
  else
    echo "Boundary holds: $crate depends on no runtime, UI, HTTP or I/O crate ($(printf '%s\n' "$deps" | wc -l) crates checked)."
  fi
done
# Only the web crate knows HTTP, and only the desktop shell knows Tauri: the node and the app
# controller (and the CLI) must not pull in either directly. The app reaches HTTP only through
# the web crate, so it is checked with that crate's own dependencies pruned away.
HTTP_OR_SHELL='^(axum|axum-core|hyper|tower|tower-http|reqwest|tauri|tauri-.*|wry|tao)$'
for crate in commonground-node commonground-app commonground-cli; do
  prune=()
  if [ "$crate" != commonground-node ]; then prune=(--prune commonground-web); fi
  deps=$(cargo tree -q -p "$crate" -e normal "${prune[@]}" --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  bad=$(printf '%s\n' "$deps" | grep -E "$HTTP_OR_SHELL" || true)
  if [ -n "$bad" ]; then
    echo "Boundary broken: $crate depends on: $(echo $bad)" >&2
    status=1
  else
    echo "Boundary holds: $crate knows no HTTP or desktop shell except through the web crate."
  fi
done
# Only the UI's IPC layer talks to the desktop shell.
outside=$(grep -rlE "from ['\"]@tauri-apps/" ui/src --include='*.ts' --include='*.svelte' | grep -v '^ui/src/lib/ipc/' || true)
if [ -n "$outside" ]; then
  echo "Boundary broken: these UI files import @tauri-apps outside src/lib/ipc/: $(echo $outside)" >&2
  status=1
else
  echo "Boundary holds: only ui/src/lib/ipc/ imports @tauri-apps."
fi
exit $status
