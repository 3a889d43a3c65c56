//! Which samod peer may sync which workshop: the node's share policy, without samod's types
//! (`repo.rs` adapts it).
//!
//! samod asks, per document and per remote peer id, whether to share. A peer id is only a
//! claim, so this answers from what the network layer authenticated: a peer id is allowed a
//! workshop while at least one live Noise channel for that workshop carries it, and each
//! peer id belongs to exactly one device key (a second device claiming the same peer id is
//! turned away before samod sees it). samod binds the connection to the peer id announced
//! inside the channel with `with_expected_peer_id`, so the chain is: device key (Noise) →
//! peer id (our hello, inside Noise) → samod's handshake (must claim that id) → this policy.
//!
//! A sync server (`crate::server`) is the other kind of owner: nothing authenticates it
//! beyond having dialled its address, so its peer id is the one its handshake claims, and it
//! is allowed exactly the one workshop it was set up for. A peer id belongs to one owner at a
//! time whichever kind it is, so a server can't borrow a laptop's peer id to reach that
//! laptop's workshops, and a laptop can't borrow a server's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use commonground_protocol::DevicePublicKey;
use commonground_workshop::WorkshopId;
use tokio::sync::watch;

/// Who a live peer id belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    /// A laptop, authenticated by its device key.
    Device(DevicePublicKey),
    /// A sync server, known only by the address this laptop dialled (without any secret).
    Server(String),
}

#[derive(Default)]
struct Inner {
    /// Live channels per (peer id, workshop).
    live: HashMap<(String, WorkshopId), usize>,
    /// The owner of each live peer id.
    owners: HashMap<String, (Owner, usize)>,
    /// Live laptop peer ids that read Automerge bundles.
    bundles: HashMap<String, bool>,
    /// Live (peer id, workshop) whose channel the other laptop dialled.
    dialled_us: HashMap<(String, WorkshopId), bool>,
    /// samod's subscriptions, told when a decision changes.
    watchers: HashMap<(String, WorkshopId), watch::Sender<bool>>,
}

/// The share policy's state (cheap to clone: clones share it).
#[derive(Clone, Default)]
pub(crate) struct SyncAccess {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for SyncAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("SyncAccess").field("live", &inner.live.len()).finish()
    }
}

impl SyncAccess {
    /// Whether `peer` may sync `workshop` now, and future changes to that answer.
    pub(crate) fn subscribe(&self, workshop: WorkshopId, peer: &str) -> watch::Receiver<bool> {
        let mut inner = lock(&self.inner);
        // Forget subscriptions samod has dropped, so the map stays as small as what is live.
        let Inner { live, watchers, .. } = &mut *inner;
        watchers.retain(|k, tx| tx.receiver_count() > 0 || live.contains_key(k));
        let key = (peer.to_owned(), workshop);
        let allowed = inner.live.get(&key).is_some_and(|n| *n > 0);
        match inner.watchers.get(&key) {
            Some(tx) => {
                tx.send_replace(allowed);
                tx.subscribe()
            }
            None => {
                let (tx, rx) = watch::channel(allowed);
                inner.watchers.insert(key, tx);
                rx
            }
        }
    }

    /// Records a live channel: `peer`, authenticated as `device`, for `workshop`, whether
    /// that laptop reads Automerge bundles, and whether it dialled us. Refused (`false`) if
    /// another device already uses that peer id.
    pub(crate) fn grant(
        &self,
        workshop: WorkshopId,
        peer: &str,
        device: DevicePublicKey,
        bundles: bool,
        dialled_us: bool,
    ) -> bool {
        self.grant_to(workshop, peer, Owner::Device(device), bundles, dialled_us)
    }

    /// Whether `peer` is a laptop that reads Automerge bundles (never a sync server).
    pub(crate) fn reads_bundles(&self, peer: &str) -> bool {
        lock(&self.inner).bundles.get(peer).copied().unwrap_or(false)
    }

    /// Whether `peer`'s channel for `workshop` is one that laptop dialled (never a sync
    /// server's: this laptop dials those). Such a peer, coming back with changes, sends them
    /// before it gets ours (`samod_core::ShareConfig::gather_first`); the one that dialled
    /// doesn't hold its changes back so, and two laptops never wait for each other's.
    pub(crate) fn dialled_us(&self, workshop: WorkshopId, peer: &str) -> bool {
        lock(&self.inner).dialled_us.get(&(peer.to_owned(), workshop)).copied().unwrap_or(false)
    }

    /// Records a live connection to a sync server: `peer`, the id its handshake claimed on a
    /// connection this laptop dialled to `server` (an address without secrets), for
    /// `workshop`. Refused (`false`) if a laptop or another server already uses that peer id.
    pub(crate) fn grant_server(&self, workshop: WorkshopId, peer: &str, server: &str) -> bool {
        self.grant_to(workshop, peer, Owner::Server(server.to_owned()), false, false)
    }

    fn grant_to(
        &self,
        workshop: WorkshopId,
        peer: &str,
        claimant: Owner,
        bundles: bool,
        dialled_us: bool,
    ) -> bool {
        let mut inner = lock(&self.inner);
        match inner.owners.get_mut(peer) {
            Some((owner, _)) if *owner != claimant => return false,
            Some((_, count)) => *count += 1,
            None => {
                inner.owners.insert(peer.to_owned(), (claimant, 1));
            }
        }
        // Recorded before samod hears the peer is allowed, so its share decision reads it.
        inner.bundles.insert(peer.to_owned(), bundles);
        let key = (peer.to_owned(), workshop);
        inner.dialled_us.insert(key.clone(), dialled_us);
        *inner.live.entry(key.clone()).or_default() += 1;
        if let Some(tx) = inner.watchers.get(&key) {
            tx.send_replace(true);
        }
        true
    }

    /// Forgets a live channel recorded by [`SyncAccess::grant`].
    pub(crate) fn revoke(&self, workshop: WorkshopId, peer: &str) {
        let mut inner = lock(&self.inner);
        if let Some((_, count)) = inner.owners.get_mut(peer) {
            *count -= 1;
            if *count == 0 {
                inner.owners.remove(peer);
                inner.bundles.remove(peer);
            }
        }
        let key = (peer.to_owned(), workshop);
        let left = match inner.live.get_mut(&key) {
            Some(n) => {
                *n -= 1;
                *n
            }
            None => 0,
        };
        if left == 0 {
            inner.live.remove(&key);
            inner.dialled_us.remove(&key);
            let unwatched = match inner.watchers.get(&key) {
                Some(tx) => {
                    tx.send_replace(false);
                    tx.receiver_count() == 0
                }
                None => false,
            };
            if unwatched {
                inner.watchers.remove(&key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn access_follows_live_channels_and_peer_ids_belong_to_one_device() {
        let access = SyncAccess::default();
        let w = WorkshopId::from_uuid(Uuid::from_bytes([1; 16]));
        let other = WorkshopId::from_uuid(Uuid::from_bytes([2; 16]));
        let (a, b) = (DevicePublicKey::from_bytes([1; 32]), DevicePublicKey::from_bytes([2; 32]));
        let mut rx = access.subscribe(w, "peer-1");
        assert!(!*rx.borrow_and_update());
        assert!(access.grant(w, "peer-1", a, false, false));
        assert!(*rx.borrow_and_update());
        assert!(!*access.subscribe(other, "peer-1").borrow(), "only the channel's workshop");
        // Guards peer-id spoofing: another device can't borrow a live peer id.
        assert!(!access.grant(other, "peer-1", b, false, false));
        assert!(!*access.subscribe(other, "peer-1").borrow());
        access.revoke(w, "peer-1");
        assert!(!*rx.borrow_and_update());
        assert!(access.grant(other, "peer-1", b, false, false), "free again once the first device has gone");

        // Guards a server borrowing a laptop's peer id (and the other way round).
        assert!(!access.grant_server(w, "peer-1", "127.0.0.1:3030"));
        assert!(!*access.subscribe(w, "peer-1").borrow());
        assert!(access.grant_server(w, "server-1", "127.0.0.1:3030"));
        assert!(*access.subscribe(w, "server-1").borrow());
        assert!(!*access.subscribe(other, "server-1").borrow(), "only the server's workshop");
        assert!(!access.grant(other, "server-1", a, false, false));
        assert!(!access.grant_server(other, "server-1", "10.0.0.9:3030"), "nor another server");
        access.revoke(w, "server-1");
        assert!(!*access.subscribe(w, "server-1").borrow());
    }

    #[test]
    fn bundles_go_only_to_laptops_that_said_they_read_them() {
        let access = SyncAccess::default();
        let w = WorkshopId::from_uuid(Uuid::from_bytes([1; 16]));
        let (a, b) = (DevicePublicKey::from_bytes([1; 32]), DevicePublicKey::from_bytes([2; 32]));
        assert!(access.grant(w, "peer-new", a, true, true));
        assert!(access.grant(w, "peer-old", b, false, false));
        assert!(access.grant_server(w, "server-1", "127.0.0.1:3030"));
        assert!(access.reads_bundles("peer-new"));
        assert!(!access.reads_bundles("peer-old"), "a laptop whose hello didn't say so");
        assert!(!access.reads_bundles("server-1"), "a sync server runs another Automerge");
        assert!(!access.reads_bundles("peer-unknown"));
        access.revoke(w, "peer-new");
        assert!(!access.reads_bundles("peer-new"), "forgotten with its last channel");
    }

    #[test]
    fn only_laptops_that_dialled_us_gather_first_and_only_for_that_workshop() {
        let access = SyncAccess::default();
        let w = WorkshopId::from_uuid(Uuid::from_bytes([1; 16]));
        let other = WorkshopId::from_uuid(Uuid::from_bytes([2; 16]));
        let (a, b) = (DevicePublicKey::from_bytes([1; 32]), DevicePublicKey::from_bytes([2; 32]));
        assert!(access.grant(w, "peer-in", a, true, true));
        assert!(access.grant(w, "peer-out", b, true, false));
        assert!(access.grant_server(w, "server-1", "127.0.0.1:3030"));
        assert!(access.dialled_us(w, "peer-in"));
        assert!(!access.dialled_us(w, "peer-out"), "we dialled it");
        assert!(!access.dialled_us(w, "server-1"), "we dial servers");
        assert!(!access.dialled_us(other, "peer-in"), "only the channel's workshop");
        assert!(access.grant(other, "peer-in", a, true, false));
        assert!(!access.dialled_us(other, "peer-in") && access.dialled_us(w, "peer-in"));
        access.revoke(w, "peer-in");
        assert!(!access.dialled_us(w, "peer-in"), "forgotten with its channel");
    }
}
