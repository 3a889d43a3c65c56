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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use commonground_protocol::DevicePublicKey;
use commonground_workshop::WorkshopId;
use tokio::sync::watch;

#[derive(Default)]
struct Inner {
    /// Live channels per (peer id, workshop).
    live: HashMap<(String, WorkshopId), usize>,
    /// The device each live peer id belongs to.
    owners: HashMap<String, (DevicePublicKey, usize)>,
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

    /// Records a live channel: `peer`, authenticated as `device`, for `workshop`. Refused
    /// (`false`) if another device already uses that peer id.
    pub(crate) fn grant(&self, workshop: WorkshopId, peer: &str, device: DevicePublicKey) -> bool {
        let mut inner = lock(&self.inner);
        match inner.owners.get_mut(peer) {
            Some((owner, _)) if *owner != device => return false,
            Some((_, count)) => *count += 1,
            None => {
                inner.owners.insert(peer.to_owned(), (device, 1));
            }
        }
        let key = (peer.to_owned(), workshop);
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
        assert!(access.grant(w, "peer-1", a));
        assert!(*rx.borrow_and_update());
        assert!(!*access.subscribe(other, "peer-1").borrow(), "only the channel's workshop");
        // Guards peer-id spoofing: another device can't borrow a live peer id.
        assert!(!access.grant(other, "peer-1", b));
        assert!(!*access.subscribe(other, "peer-1").borrow());
        access.revoke(w, "peer-1");
        assert!(!*rx.borrow_and_update());
        assert!(access.grant(other, "peer-1", b), "free again once the first device has gone");
    }
}
