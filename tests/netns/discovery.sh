#!/usr/bin/env bash
# Discovery across three "laptops": network namespaces on one bridge (docs: PLATFORM.md,
# "Local network"). Root only; everything lives in namespaces this script creates, on
# 10.200.0.0/24, and is torn down on exit, whatever happens.
#
#   (a) mDNS alone finds both other laptops;
#   (b) with multicast no longer forwarded by the bridge (mcast_flood off on every port, as
#       on venue Wi-Fi that drops multicast), mDNS finds nobody but the beacon finds both.
#
# Usage: tests/netns/discovery.sh   (builds the probe with cargo if PROBE is not set)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $(id -u) -ne 0 ]]; then
    echo "skipping the network-namespace discovery test: it needs root"
    exit 0
fi
if ! command -v ip >/dev/null || ! command -v bridge >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "skipping the network-namespace discovery test: 'ip netns' and 'bridge' (iproute2) are needed"
    exit 0
fi

if [[ -z "${PROBE:-}" ]]; then
    cargo build --quiet -p commonground-node --example discovery_probe
    PROBE="${CARGO_TARGET_DIR:-target}/debug/examples/discovery_probe"
fi

# Names unique to this run, so two runs (or a leftover) never collide.
tag="cgd$$"
hub="$tag-hub"
spaces=("$tag-1" "$tag-2" "$tag-3")

teardown() {
    for ns in "${spaces[@]}" "$hub"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap teardown EXIT INT TERM

ip netns add "$hub"
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 type bridge mcast_snooping 0
ip -n "$hub" link set lo up
ip -n "$hub" link set br0 up
for i in 1 2 3; do
    ns="${spaces[$((i - 1))]}"
    ip netns add "$ns"
    ip link add "$tag-v$i" type veth peer name eth0 netns "$ns"
    ip link set "$tag-v$i" netns "$hub"
    ip -n "$hub" link set "$tag-v$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.200.0.$i/24" brd + dev eth0
    ip -n "$ns" link set eth0 up
done

# Runs the probe in every namespace at once with "$@"; prints each one's output.
run_all() {
    local dir
    dir=$(mktemp -d)
    local pids=()
    for i in 1 2 3; do
        ip netns exec "${spaces[$((i - 1))]}" "$PROBE" "$@" >"$dir/$i" 2>&1 &
        pids+=($!)
    done
    local failed=0
    for i in 1 2 3; do
        wait "${pids[$((i - 1))]}" || failed=1
        sed "s/^/  laptop $i: /" "$dir/$i"
    done
    SUMMARIES=$(cat "$dir"/1 "$dir"/2 "$dir"/3 | grep '^summary:')
    rm -rf "$dir"
    return $failed
}

echo "(a) mDNS only, multicast forwarded:"
run_all --no-beacon --seconds 4 --expect 2
[[ $(grep -c 'peers=2 mdns=2 beacon=0' <<<"$SUMMARIES") -eq 3 ]] || { echo "FAILED: mDNS did not find both peers everywhere"; exit 1; }

for i in 1 2 3; do
    bridge -n "$hub" link set dev "$tag-v$i" mcast_flood off
done
echo "(b) multicast not forwarded, mDNS and the beacon together:"
run_all --seconds 4 --expect 2
[[ $(grep -c 'peers=2 mdns=0 beacon=2' <<<"$SUMMARIES") -eq 3 ]] || { echo "FAILED: expected the beacon (and not mDNS) to find both peers everywhere"; exit 1; }

echo "2 passed, 0 failed"
