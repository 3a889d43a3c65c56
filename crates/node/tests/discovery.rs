//! Discovery with real sockets: the beacon on loopback, and mDNS and the beacon over a
//! network interface inside a private network namespace.
//!
//! Nothing here may reach a real network. The loopback test sends only to 127.255.255.255.
//! The others re-run themselves under `unshare --net` in a namespace holding only loopback
//! and a veth pair (10.200.0.1/24 on one end); they are skipped, with a message, when that is
//! not possible (not root, no `unshare` or `ip`). `tests/netns/discovery.sh` runs the
//! several-hosts version across network namespaces on a bridge.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use commonground_node::{Discovered, Discovery, DiscoveryConfig, DiscoveryHandle, DiscoveryKey, Scope, Via};
use commonground_workshop::WorkshopId;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Set in the child that runs inside the private namespace.
const INSIDE: &str = "CG_DISCOVERY_TEST_NETNS";

fn workshop(n: u8) -> WorkshopId {
    WorkshopId::from_uuid(uuid::Uuid::from_bytes([n; 16]))
}

fn key(n: u8) -> DiscoveryKey {
    DiscoveryKey { workshop: workshop(n), secret: Zeroizing::new([n; 32]), epoch: 1 }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(scope: Scope, listen_port: u16, beacon_port: u16) -> DiscoveryConfig {
    DiscoveryConfig {
        scope,
        beacon_port,
        interval: Duration::from_millis(100),
        ..DiscoveryConfig::new(listen_port)
    }
}

fn start(config: DiscoveryConfig, keys: Vec<DiscoveryKey>) -> (DiscoveryHandle, mpsc::Receiver<Discovered>) {
    Discovery::start(config, move || keys.clone()).unwrap()
}

/// Collects discoveries for `wait`.
async fn collect(rx: &mut mpsc::Receiver<Discovered>, wait: Duration) -> Vec<Discovered> {
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(d)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        found.push(d);
    }
    found
}

/// Waits for the first discovery of `workshop`.
async fn first(rx: &mut mpsc::Receiver<Discovered>, workshop: WorkshopId) -> Discovered {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let d = rx.recv().await.expect("discovery stopped");
            if d.workshop == workshop {
                return d;
            }
        }
    })
    .await
    .expect("nothing discovered within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacon_finds_members_on_loopback_and_only_members() {
    let port = free_udp_port();
    let beacon_only = |listen| DiscoveryConfig { mdns: false, ..config(Scope::Loopback, listen, port) };
    let (a, mut a_rx) = start(beacon_only(7001), vec![key(1)]);
    let (_b, mut b_rx) = start(beacon_only(7002), vec![key(1), key(2)]);
    let (_c, mut c_rx) = start(beacon_only(7003), vec![key(3)]);
    assert!(a.methods().beacon && !a.methods().mdns);

    let found = first(&mut a_rx, workshop(1)).await;
    assert_eq!(found.addrs, vec!["127.0.0.1:7002".parse::<SocketAddr>().unwrap()]);
    assert_eq!(found.via, Via::Beacon);
    let found = first(&mut b_rx, workshop(1)).await;
    assert_eq!(found.addrs, vec!["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]);

    // Reported once, never itself, never a stranger, and nothing for the stranger.
    let more = collect(&mut a_rx, Duration::from_millis(800)).await;
    assert!(more.is_empty(), "{more:?}");
    assert!(collect(&mut c_rx, Duration::from_millis(100)).await.is_empty());

    // Asked to, it reports the peer again.
    a.rediscover();
    assert_eq!(first(&mut a_rx, workshop(1)).await.addrs, vec!["127.0.0.1:7002".parse().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workshop_joined_later_is_found_and_a_stopped_peer_is_forgotten() {
    let port = free_udp_port();
    let cfg = |listen| DiscoveryConfig {
        mdns: false,
        forget_after: Duration::from_millis(500),
        ..config(Scope::Loopback, listen, port)
    };
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let provider = keys.clone();
    let (a, mut a_rx) = Discovery::start(cfg(7011), move || provider.lock().unwrap().clone()).unwrap();
    let (b, _b_rx) = start(cfg(7012), vec![key(4)]);
    assert!(collect(&mut a_rx, Duration::from_millis(400)).await.is_empty());

    keys.lock().unwrap().push(key(4));
    a.refresh();
    assert_eq!(first(&mut a_rx, workshop(4)).await.addrs, vec!["127.0.0.1:7012".parse().unwrap()]);

    drop(b);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let (_b, _b_rx) = start(cfg(7012), vec![key(4)]);
    assert_eq!(first(&mut a_rx, workshop(4)).await.addrs, vec!["127.0.0.1:7012".parse().unwrap()]);
}

#[test]
fn discovery_needs_a_runtime() {
    let err = Discovery::start(DiscoveryConfig::new(1), Vec::new).unwrap_err();
    assert_eq!(err.kind(), "no_runtime");
}

/// Runs the calling test again inside a new network namespace that holds only loopback and
/// a veth pair, 10.200.0.1/24 on one end. Returns true in that child (run the test's body), false
/// in the parent once the child passed, or when namespaces are unavailable (skipped).
fn inside_private_network(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let probe = Command::new("unshare").args(["--net", "--", "ip", "link", "set", "lo", "up"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipping {test}: it needs root with `unshare` and `ip` to run in a private network namespace"
        );
        return false;
    }
    // A veth pair whose far end has no address: the near end is an ordinary Ethernet-like
    // interface with broadcast and multicast, and nothing sent on it goes anywhere else.
    let setup = "ip link set lo up \
        && ip link add cg-d0 type veth peer name cg-d1 \
        && ip addr add 10.200.0.1/24 brd + dev cg-d0 \
        && ip link set cg-d1 up \
        && ip link set cg-d0 up \
        && exec \"$@\"";
    let status = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", setup, "sh"])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .status()
        .unwrap();
    assert!(status.success(), "{test} failed inside its private network namespace");
    false
}

#[test]
fn mdns_finds_members_over_a_network_interface() {
    if !inside_private_network("mdns_finds_members_over_a_network_interface") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mdns_only = |listen| DiscoveryConfig { beacon: false, ..config(Scope::Network, listen, 0) };
        let (a, mut a_rx) = start(mdns_only(7101), vec![key(1)]);
        let (_b, mut b_rx) = start(mdns_only(7102), vec![key(2), key(1)]);
        let (_c, mut c_rx) = start(mdns_only(7103), vec![key(3)]);
        assert!(a.methods().mdns && !a.methods().beacon);
        let started = std::time::Instant::now();
        let found = first(&mut a_rx, workshop(1)).await;
        eprintln!("mDNS found a member in {:?}", started.elapsed());
        assert_eq!(found.via, Via::Mdns);
        // IPv6 link-local addresses may come too, now or once the kernel has finished
        // checking them; IPv4 comes first.
        assert_eq!(found.addrs[0], "10.200.0.1:7102".parse::<SocketAddr>().unwrap());
        assert!(found.addrs.iter().all(|a| a.port() == 7102), "{found:?}");
        assert_eq!(first(&mut b_rx, workshop(1)).await.addrs[0], "10.200.0.1:7101".parse().unwrap());
        let more = collect(&mut a_rx, Duration::from_secs(1)).await;
        assert!(more.iter().all(|d| d.addrs.iter().all(|a| a.is_ipv6() && a.port() == 7102)), "{more:?}");
        assert!(collect(&mut c_rx, Duration::from_millis(100)).await.is_empty());
    });
}

#[test]
fn beacon_finds_members_over_a_network_interface() {
    if !inside_private_network("beacon_finds_members_over_a_network_interface") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let port = free_udp_port();
        let beacon_only = |listen| DiscoveryConfig { mdns: false, ..config(Scope::Network, listen, port) };
        let (_a, mut a_rx) = start(beacon_only(7201), vec![key(1)]);
        let (_b, _b_rx) = start(beacon_only(7202), vec![key(1)]);
        let found = first(&mut a_rx, workshop(1)).await;
        assert_eq!(found.via, Via::Beacon);
        assert_eq!(found.addrs, vec!["10.200.0.1:7202".parse::<SocketAddr>().unwrap()]);
    });
}
