//! Where the beacon is sent: the broadcast address of every IPv4 interface that is up.
//!
//! A directed broadcast (`10.200.0.255` on a `/24`) leaves by the interface it belongs to
//! even when there is no default route, as on a hotspot with no upstream or in a network
//! namespace; the limited broadcast `255.255.255.255` is added for networks whose interface
//! reports no broadcast address, and fails harmlessly where there is no route for it. The
//! list is read again each time, so a laptop that joins the Wi-Fi late is still heard.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use if_addrs::{IfAddr, IfOperStatus, Interface};

use super::Scope;

/// The loopback network's broadcast address.
pub(crate) const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// The addresses to send the beacon to, on `port`.
pub(crate) fn broadcast_targets(scope: Scope, port: u16) -> Vec<SocketAddr> {
    match scope {
        Scope::Loopback => vec![SocketAddr::V4(SocketAddrV4::new(LOOPBACK_BROADCAST, port))],
        Scope::Network => {
            let interfaces = if_addrs::get_if_addrs().unwrap_or_else(|e| {
                tracing::debug!(error = %e, "could not list network interfaces");
                Vec::new()
            });
            from_interfaces(&interfaces, port)
        }
    }
}

fn from_interfaces(interfaces: &[Interface], port: u16) -> Vec<SocketAddr> {
    let mut targets = BTreeSet::new();
    for interface in interfaces {
        // Virtual interfaces (dummies, some bridges) report their state as unknown while
        // they work; only interfaces known to be down are skipped.
        let down = matches!(interface.oper_status, IfOperStatus::Down | IfOperStatus::NotPresent);
        if down || interface.is_loopback() || interface.is_p2p() {
            continue;
        }
        let IfAddr::V4(v4) = &interface.addr else { continue };
        if let Some(broadcast) = v4.broadcast.or_else(|| directed_broadcast(v4.ip, v4.prefixlen)) {
            if !broadcast.is_unspecified() && broadcast != v4.ip {
                targets.insert(broadcast);
            }
        }
    }
    targets.insert(Ipv4Addr::BROADCAST);
    targets.into_iter().map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, port))).collect()
}

/// This laptop's IPv4 addresses on interfaces that are up, loopback last (for invites and
/// for a node listening on `0.0.0.0`, whose bound address can't be dialled).
pub(crate) fn interface_addresses(port: u16) -> Vec<SocketAddr> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    let mut addrs: Vec<(bool, Ipv4Addr)> = interfaces
        .iter()
        .filter(|i| !matches!(i.oper_status, IfOperStatus::Down | IfOperStatus::NotPresent))
        .filter_map(|i| match &i.addr {
            IfAddr::V4(v4) if !v4.ip.is_link_local() => Some((i.is_loopback(), v4.ip)),
            _ => None,
        })
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs.into_iter().map(|(_, ip)| SocketAddr::V4(SocketAddrV4::new(ip, port))).collect()
}

/// The directed broadcast address of `ip/prefix`, if the network has one (/31 and /32 don't).
fn directed_broadcast(ip: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    Some(Ipv4Addr::from(u32::from(ip) | host_bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_broadcasts() {
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(10, 200, 0, 7), 24),
            Some(Ipv4Addr::new(10, 200, 0, 255))
        );
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(192, 168, 1, 9), 16),
            Some(Ipv4Addr::new(192, 168, 255, 255))
        );
        assert_eq!(directed_broadcast(Ipv4Addr::new(1, 2, 3, 4), 0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(directed_broadcast(Ipv4Addr::new(10, 0, 0, 1), 31), None);
        assert_eq!(directed_broadcast(Ipv4Addr::new(10, 0, 0, 1), 32), None);
    }

    #[test]
    fn loopback_scope_stays_on_loopback() {
        assert_eq!(broadcast_targets(Scope::Loopback, 41234), vec!["127.255.255.255:41234".parse().unwrap()]);
    }
}
