//! A tiny discovery node for `tests/netns/discovery.sh`: advertises one test workshop, looks
//! for others in it for a while, and reports what it found and how.
//!
//! ```text
//! discovery_probe [--no-mdns] [--no-beacon] [--seconds N] [--expect N]
//! ```
//!
//! Prints one `found <address> via <mdns|beacon> after <ms> ms` line per peer address, then
//! `summary: peers=<n> mdns=<n> beacon=<n>`, and exits non-zero if fewer than `--expect`
//! peers (IPv4 addresses) were found.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use commonground_node::{Discovery, DiscoveryConfig, DiscoveryKey, Via};
use commonground_workshop::WorkshopId;
use zeroize::Zeroizing;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let number = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = number("--seconds", 5);
    let expect = number("--expect", 0) as usize;
    let config = DiscoveryConfig {
        mdns: !flag("--no-mdns"),
        beacon: !flag("--no-beacon"),
        ..DiscoveryConfig::new(7000)
    };
    let key = DiscoveryKey {
        workshop: WorkshopId::from_uuid(uuid::Uuid::from_bytes([7; 16])),
        secret: Zeroizing::new([7; 32]),
        epoch: 1,
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let found = runtime.block_on(async move {
        let (_handle, mut rx) =
            Discovery::start(config, move || vec![key.clone()]).expect("discovery starts");
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let mut found: BTreeMap<SocketAddr, Via> = BTreeMap::new();
        while let Ok(Some(d)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            for addr in d.addrs.into_iter().filter(SocketAddr::is_ipv4) {
                if found.insert(addr, d.via).is_none() {
                    println!("found {addr} via {} after {} ms", d.via, start.elapsed().as_millis());
                }
            }
        }
        found
    });
    let by = |via: Via| found.values().filter(|v| **v == via).count();
    println!("summary: peers={} mdns={} beacon={}", found.len(), by(Via::Mdns), by(Via::Beacon));
    if found.len() >= expect {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
