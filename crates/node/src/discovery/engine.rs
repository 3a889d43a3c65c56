//! The discovery engine, sans-IO: which tags this laptop advertises, which tags it
//! recognises, and which peers it has already reported.
//!
//! The runtime in `discovery.rs` feeds it the keys (once a second), every datagram from the
//! beacon socket and every mDNS event, with the time; it returns what to advertise and what
//! was discovered. Keeping the sockets out makes every rule here testable with plain values.
//!
//! **Reported once while visible.** A peer address for a workshop is reported the first time
//! it is seen, by either method, and not again while it stays visible: while its beacons keep
//! arriving (within `forget_after` of each other) or while mDNS still lists the service. Once
//! it has gone quiet and been forgotten, seeing it again reports it again, so a laptop that
//! left the room and came back is dialled again. [`Engine::rediscover`] forgets everything on
//! purpose, for a caller whose connections dropped.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use commonground_protocol::{accepted_tags, discovery_tag, DiscoveryTag};
use commonground_workshop::WorkshopId;

use super::beacon;
use super::{Discovered, DiscoveryKey, Via};

/// The most workshops one laptop advertises (and recognises); more are ignored, with a
/// warning from the runtime. It bounds the work per datagram and the size of what we send.
pub(crate) const MAX_WORKSHOPS: usize = 64;
/// The most laptops remembered as nearby (a busy venue network bounds the memory).
const MAX_HEARD: usize = 256;

/// How one peer address is currently visible.
#[derive(Debug, Default)]
struct Seen {
    /// When a beacon last came from it.
    beacon: Option<Instant>,
    /// The mDNS services (full names) that list it.
    mdns: BTreeSet<String>,
}

/// An mDNS service we resolved: what it advertised, kept so it can be matched again when our
/// own workshops change (mDNS does not repeat itself the way the beacon does).
#[derive(Debug, Clone)]
struct MdnsPeer {
    tags: Vec<DiscoveryTag>,
    addrs: Vec<SocketAddr>,
}

/// What changed when the keys or the window were applied.
#[derive(Debug, Default)]
pub(crate) struct KeysApplied {
    /// The tags to advertise changed (re-register mDNS).
    pub advertised_changed: bool,
    /// Peers found by matching cached mDNS services against new keys.
    pub discovered: Vec<Discovered>,
}

/// The engine. See the module docs.
#[derive(Debug)]
pub(crate) struct Engine {
    /// Our beacon sender id, to ignore our own beacons.
    sender: u64,
    /// Our mDNS service's full name, lower case, to ignore our own service.
    own_service: String,
    forget_after: Duration,
    /// Our tags for the current window, one per workshop, in key order.
    advertised: Vec<DiscoveryTag>,
    /// Every tag we accept now (three windows per workshop), and whose it is.
    accepted: HashMap<DiscoveryTag, WorkshopId>,
    seen: HashMap<(WorkshopId, SocketAddr), Seen>,
    mdns: HashMap<String, MdnsPeer>,
    /// Every laptop heard by beacon, ours or not, and when: for joining one nearby.
    heard: HashMap<SocketAddr, Instant>,
}

impl Engine {
    pub(crate) fn new(sender: u64, own_service: &str, forget_after: Duration) -> Self {
        Self {
            sender,
            own_service: own_service.to_lowercase(),
            forget_after,
            advertised: Vec::new(),
            accepted: HashMap::new(),
            seen: HashMap::new(),
            mdns: HashMap::new(),
            heard: HashMap::new(),
        }
    }

    /// Every laptop visible now, whichever workshops it is in (its tags mean nothing to a
    /// laptop that hasn't joined): where it listens, and how it was found. For a person about
    /// to join with a 6-digit code, who needs an address and nothing more.
    pub(crate) fn nearby(&self, now: Instant) -> Vec<(SocketAddr, Via)> {
        let mut out: Vec<(SocketAddr, Via)> = Vec::new();
        for peer in self.mdns.values() {
            out.extend(peer.addrs.iter().map(|&a| (a, Via::Mdns)));
        }
        for (&addr, &at) in &self.heard {
            if now.saturating_duration_since(at) <= self.forget_after && !out.iter().any(|(a, _)| *a == addr)
            {
                out.push((addr, Via::Beacon));
            }
        }
        out.sort_by_key(|(a, _)| (!a.is_ipv4(), *a));
        out.dedup_by_key(|(a, _)| *a);
        out
    }

    /// Our beacon sender id.
    pub(crate) fn sender(&self) -> u64 {
        self.sender
    }

    /// The tags to advertise now.
    pub(crate) fn advertised(&self) -> &[DiscoveryTag] {
        &self.advertised
    }

    /// Applies the current keys in the current tag `window`. Cheap enough to call every
    /// second: four keyed hashes per workshop.
    pub(crate) fn set_keys(&mut self, keys: &[DiscoveryKey], window: u64) -> KeysApplied {
        let keys = &keys[..keys.len().min(MAX_WORKSHOPS)];
        let mut advertised = Vec::with_capacity(keys.len());
        let mut accepted = HashMap::with_capacity(keys.len() * 3);
        for key in keys {
            let tag = discovery_tag(&key.secret, key.epoch, window);
            if !advertised.contains(&tag) {
                advertised.push(tag);
            }
            for tag in accepted_tags(&key.secret, key.epoch, window) {
                accepted.insert(tag, key.workshop);
            }
        }
        let advertised_changed = advertised != self.advertised;
        self.advertised = advertised;
        let mut applied = KeysApplied { advertised_changed, discovered: Vec::new() };
        if accepted != self.accepted {
            self.accepted = accepted;
            // Forget peers of workshops we no longer hold keys for (we left, or were removed).
            let ours: BTreeSet<WorkshopId> = self.accepted.values().copied().collect();
            self.seen.retain(|(workshop, _), _| ours.contains(workshop));
            applied.discovered = self.rematch_mdns();
        }
        applied
    }

    /// A datagram arrived on the beacon port from `from`.
    pub(crate) fn on_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Vec<Discovered> {
        let Ok(beacon) = beacon::decode(bytes) else { return Vec::new() };
        if beacon.sender == self.sender {
            return Vec::new();
        }
        let addr = SocketAddr::new(from.ip(), beacon.port);
        if self.heard.len() < MAX_HEARD || self.heard.contains_key(&addr) {
            self.heard.insert(addr, now);
        }
        let mut found = Vec::new();
        for tag in &beacon.tags {
            let Some(&workshop) = self.accepted.get(tag) else { continue };
            let seen = self.seen.entry((workshop, addr)).or_default();
            let new = seen.beacon.is_none() && seen.mdns.is_empty();
            seen.beacon = Some(now);
            if new {
                found.push(Discovered { workshop, addrs: vec![addr], via: Via::Beacon });
            }
        }
        found
    }

    /// mDNS resolved (or re-resolved) the service `fullname`.
    pub(crate) fn on_mdns_resolved(
        &mut self,
        fullname: &str,
        tags: Vec<DiscoveryTag>,
        mut addrs: Vec<SocketAddr>,
    ) -> Vec<Discovered> {
        let fullname = fullname.to_lowercase();
        if fullname == self.own_service {
            return Vec::new();
        }
        addrs.sort();
        addrs.dedup();
        self.mdns.insert(fullname.clone(), MdnsPeer { tags, addrs });
        let found = self.match_mdns(&fullname);
        // Its addresses or tags may have changed: it no longer lists what it left out.
        let listed: BTreeSet<(WorkshopId, SocketAddr)> = self.listed_by(&fullname).collect();
        self.seen.retain(|key, seen| {
            if !listed.contains(key) {
                seen.mdns.remove(&fullname);
            }
            seen.beacon.is_some() || !seen.mdns.is_empty()
        });
        found
    }

    /// The (workshop, address) pairs the cached service `fullname` currently stands for.
    fn listed_by<'a>(&'a self, fullname: &str) -> impl Iterator<Item = (WorkshopId, SocketAddr)> + 'a {
        let peer = self.mdns.get(fullname);
        let tags = peer.map(|p| p.tags.as_slice()).unwrap_or_default();
        let addrs = peer.map(|p| p.addrs.as_slice()).unwrap_or_default();
        tags.iter()
            .filter_map(|tag| self.accepted.get(tag).copied())
            .flat_map(move |workshop| addrs.iter().map(move |&addr| (workshop, addr)))
    }

    /// mDNS says the service `fullname` has gone.
    pub(crate) fn on_mdns_removed(&mut self, fullname: &str) {
        let fullname = fullname.to_lowercase();
        self.mdns.remove(&fullname);
        self.unlist(&fullname);
    }

    /// Forgets beacon peers not heard from for `forget_after`.
    pub(crate) fn expire(&mut self, now: Instant) {
        let forget_after = self.forget_after;
        self.heard.retain(|_, at| now.saturating_duration_since(*at) <= forget_after);
        self.seen.retain(|_, seen| {
            if seen.beacon.is_some_and(|at| now.saturating_duration_since(at) > forget_after) {
                seen.beacon = None;
            }
            seen.beacon.is_some() || !seen.mdns.is_empty()
        });
    }

    /// Forgets what was reported, so every peer still visible is reported again: mDNS peers
    /// at once (returned), beacon peers with their next beacon.
    pub(crate) fn rediscover(&mut self) -> Vec<Discovered> {
        self.seen.clear();
        self.rematch_mdns()
    }

    fn unlist(&mut self, fullname: &str) {
        self.seen.retain(|_, seen| {
            seen.mdns.remove(fullname);
            seen.beacon.is_some() || !seen.mdns.is_empty()
        });
    }

    fn rematch_mdns(&mut self) -> Vec<Discovered> {
        let mut names: Vec<String> = self.mdns.keys().cloned().collect();
        names.sort();
        names.iter().flat_map(|name| self.match_mdns(name)).collect()
    }

    fn match_mdns(&mut self, fullname: &str) -> Vec<Discovered> {
        let Some(peer) = self.mdns.get(fullname) else { return Vec::new() };
        let mut workshops: Vec<WorkshopId> =
            peer.tags.iter().filter_map(|tag| self.accepted.get(tag).copied()).collect();
        workshops.sort();
        workshops.dedup();
        let mut found = Vec::new();
        for workshop in workshops {
            let mut new_addrs = Vec::new();
            for &addr in &peer.addrs {
                let seen = self.seen.entry((workshop, addr)).or_default();
                if seen.beacon.is_none() && seen.mdns.is_empty() {
                    new_addrs.push(addr);
                }
                seen.mdns.insert(fullname.to_owned());
            }
            if !new_addrs.is_empty() {
                found.push(Discovered { workshop, addrs: new_addrs, via: Via::Mdns });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use zeroize::Zeroizing;

    use super::*;

    const W: u64 = 2_916_666;

    fn workshop(n: u8) -> WorkshopId {
        WorkshopId::from_uuid(uuid::Uuid::from_bytes([n; 16]))
    }

    fn key(n: u8) -> DiscoveryKey {
        DiscoveryKey { workshop: workshop(n), secret: Zeroizing::new([n; 32]), epoch: 0 }
    }

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 200, 0, last)), port)
    }

    fn beacon_from(sender: u64, port: u16, keys: &[DiscoveryKey], window: u64) -> Vec<u8> {
        let tags: Vec<_> = keys.iter().map(|k| discovery_tag(&k.secret, k.epoch, window)).collect();
        beacon::encode(port, sender, &tags).remove(0)
    }

    fn engine(keys: &[DiscoveryKey]) -> Engine {
        let mut e = Engine::new(1, "me._commonground._tcp.local.", Duration::from_secs(30));
        e.set_keys(keys, W);
        e
    }

    #[test]
    fn a_beacon_for_our_workshop_is_reported_once() {
        let mut e = engine(&[key(1)]);
        let t0 = Instant::now();
        let bytes = beacon_from(2, 7000, &[key(1)], W);
        let found = e.on_datagram(t0, addr(2, 41234), &bytes);
        assert_eq!(
            found,
            vec![Discovered { workshop: workshop(1), addrs: vec![addr(2, 7000)], via: Via::Beacon }]
        );
        assert!(e.on_datagram(t0 + Duration::from_secs(1), addr(2, 41234), &bytes).is_empty());
    }

    #[test]
    fn every_laptop_heard_or_resolved_is_nearby_whatever_its_workshop() {
        let mut e = engine(&[key(1)]);
        let now = Instant::now();
        // A stranger's workshop: not dialled, but listed as a laptop nearby to join by code.
        assert!(e.on_datagram(now, addr(7, 1), &beacon_from(9, 41235, &[key(2)], W)).is_empty());
        e.on_mdns_resolved("x._commonground._tcp.local.", Vec::new(), vec![addr(8, 41235)]);
        assert_eq!(e.nearby(now), vec![(addr(7, 41235), Via::Beacon), (addr(8, 41235), Via::Mdns)]);
        e.expire(now + Duration::from_secs(60));
        assert_eq!(e.nearby(now + Duration::from_secs(60)), vec![(addr(8, 41235), Via::Mdns)]);
    }

    #[test]
    fn strangers_own_beacons_and_garbage_are_ignored() {
        let mut e = engine(&[key(1)]);
        let now = Instant::now();
        assert!(e.on_datagram(now, addr(3, 1), &beacon_from(3, 7000, &[key(9)], W)).is_empty());
        assert!(e.on_datagram(now, addr(1, 1), &beacon_from(1, 7000, &[key(1)], W)).is_empty(), "our own");
        assert!(e.on_datagram(now, addr(3, 1), b"hello").is_empty());
    }

    #[test]
    fn clocks_a_window_apart_still_match() {
        let mut e = engine(&[key(1)]);
        let now = Instant::now();
        assert_eq!(e.on_datagram(now, addr(2, 1), &beacon_from(2, 7000, &[key(1)], W + 1)).len(), 1);
        assert_eq!(e.on_datagram(now, addr(3, 1), &beacon_from(3, 7000, &[key(1)], W - 1)).len(), 1);
        assert!(e.on_datagram(now, addr(4, 1), &beacon_from(4, 7000, &[key(1)], W + 2)).is_empty());
    }

    #[test]
    fn a_quiet_peer_is_forgotten_then_reported_again() {
        let mut e = engine(&[key(1)]);
        let t0 = Instant::now();
        let bytes = beacon_from(2, 7000, &[key(1)], W);
        assert_eq!(e.on_datagram(t0, addr(2, 1), &bytes).len(), 1);
        e.expire(t0 + Duration::from_secs(10));
        assert!(e.on_datagram(t0 + Duration::from_secs(11), addr(2, 1), &bytes).is_empty());
        e.expire(t0 + Duration::from_secs(60));
        assert_eq!(e.on_datagram(t0 + Duration::from_secs(61), addr(2, 1), &bytes).len(), 1);
    }

    #[test]
    fn rediscover_reports_again() {
        let mut e = engine(&[key(1)]);
        let now = Instant::now();
        let bytes = beacon_from(2, 7000, &[key(1)], W);
        assert_eq!(e.on_datagram(now, addr(2, 1), &bytes).len(), 1);
        assert!(e.rediscover().is_empty());
        assert_eq!(e.on_datagram(now, addr(2, 1), &bytes).len(), 1);
    }

    #[test]
    fn one_beacon_can_carry_several_of_our_workshops() {
        let mut e = engine(&[key(1), key(2)]);
        let found =
            e.on_datagram(Instant::now(), addr(2, 1), &beacon_from(2, 7000, &[key(2), key(5), key(1)], W));
        let workshops: Vec<_> = found.iter().map(|d| d.workshop).collect();
        assert_eq!(workshops, vec![workshop(2), workshop(1)]);
    }

    #[test]
    fn mdns_services_match_dedupe_with_beacons_and_go_away() {
        let mut e = engine(&[key(1)]);
        let tag = discovery_tag(&[1; 32], 0, W);
        let svc = "ABC._commonground._tcp.local.";
        let found = e.on_mdns_resolved(svc, vec![tag], vec![addr(2, 7000), addr(2, 7000), addr(9, 7000)]);
        assert_eq!(
            found,
            vec![Discovered {
                workshop: workshop(1),
                addrs: vec![addr(2, 7000), addr(9, 7000)],
                via: Via::Mdns
            }]
        );
        // The same address by beacon is not news.
        assert!(e.on_datagram(Instant::now(), addr(2, 1), &beacon_from(2, 7000, &[key(1)], W)).is_empty());
        // A re-announcement with the same content is not news either.
        assert!(e
            .on_mdns_resolved("abc._commonground._tcp.local.", vec![tag], vec![addr(9, 7000)])
            .is_empty());
        e.on_mdns_removed(svc);
        assert_eq!(e.on_mdns_resolved(svc, vec![tag], vec![addr(9, 7000)]).len(), 1);
        // A service that moves drops its old address, so the old one is news again later.
        assert_eq!(e.on_mdns_resolved(svc, vec![tag], vec![addr(5, 7000)]).len(), 1);
        assert_eq!(e.on_mdns_resolved(svc, vec![tag], vec![addr(9, 7000)]).len(), 1);
        // Our own service is never a peer.
        assert!(e
            .on_mdns_resolved("me._commonground._tcp.local.", vec![tag], vec![addr(1, 7000)])
            .is_empty());
    }

    #[test]
    fn joining_a_workshop_later_matches_services_already_resolved() {
        let mut e = engine(&[]);
        let tag = discovery_tag(&[3; 32], 0, W);
        assert!(e.on_mdns_resolved("x._commonground._tcp.local.", vec![tag], vec![addr(2, 7000)]).is_empty());
        let applied = e.set_keys(&[key(3)], W);
        assert!(applied.advertised_changed);
        assert_eq!(applied.discovered.len(), 1);
        // Leaving forgets it; unchanged keys change nothing.
        assert!(e.set_keys(&[key(3)], W).discovered.is_empty());
        assert!(e.set_keys(&[], W).advertised_changed);
        assert!(e.advertised().is_empty());
    }

    #[test]
    fn advertised_tags_rotate_with_the_window() {
        let mut e = engine(&[key(1)]);
        let before = e.advertised().to_vec();
        assert!(!e.set_keys(&[key(1)], W).advertised_changed);
        assert!(e.set_keys(&[key(1)], W + 1).advertised_changed);
        assert_ne!(e.advertised(), &before[..]);
    }
}
