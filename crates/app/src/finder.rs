//! Finding the workshops' other laptops while serving (moved here from the CLI, which now
//! serves through the app): the first links of the discovery
//! chain (DESIGN.md §3), mDNS and the UDP broadcast beacon, run by the node's `Discovery`.
//!
//! Every laptop found is dialled once per address and workshop; the node keeps that
//! connection up, reconnecting with backoff, so finding a laptop again changes nothing.
//! Logs name the workshop (by the start of its id) and the address: discovery never learns
//! names, and a laptop is only ever "a laptop".

use std::collections::HashSet;
use std::net::SocketAddr;

use commonground_api::NearbyLaptop;
use commonground_node::{
    local_addresses, Discovered, Discovery, DiscoveryConfig, DiscoveryHandle, Node, Scope, Via,
};
use commonground_workshop::WorkshopId;
use tokio::sync::mpsc;

/// How to look for other laptops.
#[derive(Debug, Clone, Copy)]
pub struct Methods {
    /// Advertise and browse with mDNS.
    pub mdns: bool,
    /// Send and hear the UDP broadcast beacon.
    pub beacon: bool,
    /// The beacon's port.
    pub beacon_port: u16,
}

impl Default for Methods {
    fn default() -> Self {
        Self { mdns: true, beacon: true, beacon_port: commonground_node::DEFAULT_BEACON_PORT }
    }
}

/// Discovery while serving, and the laptops already dialled.
pub(crate) struct Finder {
    /// Discovery runs until this is dropped, which also withdraws the mDNS advertisement.
    running: Option<DiscoveryHandle>,
    found: Option<mpsc::Receiver<Discovered>>,
    port: u16,
    dialled: HashSet<(WorkshopId, SocketAddr)>,
}

impl Finder {
    /// Starts advertising this laptop (listening at `bound`) for every workshop it holds keys
    /// for, and looking for the others. If neither method can start, serving goes on without
    /// them: laptops can still be reached by address.
    pub(crate) fn start(node: &Node, bound: SocketAddr, methods: Methods) -> Self {
        let mut finder = Self { running: None, found: None, port: bound.port(), dialled: HashSet::new() };
        if !methods.mdns && !methods.beacon {
            tracing::info!("not looking for other laptops (--no-mdns and --no-beacon)");
            return finder;
        }
        // A node listening only on loopback can only be reached from this computer, so it
        // is only announced there (several nodes on one computer, as in tests).
        let scope = if bound.ip().is_loopback() { Scope::Loopback } else { Scope::Network };
        let config = DiscoveryConfig {
            scope,
            mdns: methods.mdns,
            beacon: methods.beacon,
            beacon_port: methods.beacon_port,
            ..DiscoveryConfig::new(bound.port())
        };
        match Discovery::start(config, node.discovery_keys()) {
            Ok((running, found)) => {
                finder.running = Some(running);
                finder.found = Some(found);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "can't look for other laptops on this network; they can still connect by address"
            ),
        }
        finder
    }

    /// Stops looking, and withdraws this laptop's mDNS advertisement so the others see it go.
    pub(crate) fn stop(self) {
        if let Some(running) = self.running {
            running.stop();
        }
    }

    /// Reads the workshops' keys again now (after creating or joining one).
    pub(crate) fn refresh(&self) {
        if let Some(running) = &self.running {
            running.refresh();
        }
    }

    /// Every laptop running Common Ground visible now, for joining one with a code.
    pub(crate) fn nearby(&self) -> Vec<NearbyLaptop> {
        let Some(running) = &self.running else { return Vec::new() };
        running
            .nearby()
            .into_iter()
            .filter(|(a, _)| a.is_ipv4())
            .map(|(address, via)| NearbyLaptop {
                address: address.to_string(),
                found: match via {
                    Via::Mdns => "found on this network".to_owned(),
                    Via::Beacon => "found by its signal on this network".to_owned(),
                },
            })
            .collect()
    }

    /// The laptops found, as they are found (once: the caller keeps them). `None` if
    /// discovery isn't running.
    pub(crate) fn take_found(&mut self) -> Option<mpsc::Receiver<Discovered>> {
        self.found.take()
    }

    /// Keeps a connection to a laptop found, at each of its addresses this laptop can use.
    pub(crate) async fn dial(&mut self, node: &Node, found: Discovered) {
        let Discovered { workshop, addrs, via } = found;
        let via = match via {
            Via::Mdns => "mDNS",
            Via::Beacon => "beacon",
        };
        let own = local_addresses(self.port);
        let short = workshop.to_string();
        for address in usable(&addrs, &own) {
            tracing::info!("found a laptop for workshop {} via {via} at {address}", &short[..8]);
            if !self.dialled.insert((workshop, address)) {
                continue;
            }
            if let Err(e) = node.connect(workshop, address).await {
                tracing::warn!(%workshop, %address, error = %e, "can't connect to a laptop found nearby");
                self.dialled.remove(&(workshop, address));
            }
        }
    }
}

/// The addresses worth dialling, given this laptop's `own`: not its own, and IPv6 ones only
/// when this laptop has no IPv4 network. A laptop announces every address it has, each
/// reaching the same laptop, so each one dialled is another connection carrying the same
/// changes; and `serve` listens on IPv4 unless told otherwise.
fn usable(addrs: &[SocketAddr], own: &[SocketAddr]) -> Vec<SocketAddr> {
    let have_v4 = own.iter().any(|a| a.is_ipv4() && !a.ip().is_loopback());
    let mut out: Vec<SocketAddr> =
        addrs.iter().copied().filter(|a| !own.contains(a) && (a.is_ipv4() || !have_v4)).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_are_preferred_and_our_own_skipped() {
        let ours: SocketAddr = "10.200.0.1:41235".parse().unwrap();
        let theirs: SocketAddr = "10.200.0.2:41235".parse().unwrap();
        let v6: SocketAddr = "[fe80::1%2]:41235".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:41235".parse().unwrap();
        assert_eq!(usable(&[v6, theirs, ours], &[ours, loopback]), vec![theirs]);
        assert_eq!(usable(&[theirs, theirs], &[ours]), vec![theirs]);
        assert_eq!(usable(&[v6], &[loopback]), vec![v6], "IPv6 when this laptop has no IPv4 network");
    }
}
