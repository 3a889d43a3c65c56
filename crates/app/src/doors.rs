//! The web front door's doors: the owner page (this laptop's own person, in a browser on this
//! laptop) and each workshop's phone page. A door is a 32-byte key given out in a URL's
//! fragment; browsers knock with its public id (`commonground_protocol::door_id`).

use std::net::SocketAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use commonground_node::Node;
use commonground_protocol::door_id;
use commonground_web::{Door, Opens};
use commonground_workshop::WorkshopId;
use rand::TryRngCore;
use zeroize::Zeroizing;

pub(crate) struct Doors {
    owner: Zeroizing<[u8; 32]>,
    owner_id: String,
}

impl Doors {
    /// A fresh owner key for this run: the owner page works until the app stops.
    pub(crate) fn new() -> Option<Self> {
        let mut owner = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.try_fill_bytes(owner.as_mut()).ok()?;
        let owner_id = door_id(&owner);
        Some(Self { owner, owner_id })
    }

    /// The door with `id`, if open: the owner's, or a workshop's at its current key epoch.
    pub(crate) fn find(&self, node: &Node, id: &str) -> Option<Door> {
        if id == self.owner_id {
            return Some(Door { key: self.owner.clone(), opens: Opens::Owner });
        }
        node.list_workshops().into_iter().find_map(|workshop| {
            let key = node.web_door_key(workshop)?;
            (door_id(&key) == id).then_some(Door { key, opens: Opens::Workshop(workshop) })
        })
    }

    /// The owner page's address on this laptop.
    pub(crate) fn owner_url(&self, web: SocketAddr) -> String {
        let host =
            if web.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], web.port())) } else { web };
        url(host, &self.owner)
    }

    /// A workshop's phone page at `address` (one of this laptop's addresses).
    pub(crate) fn phone_url(node: &Node, workshop: WorkshopId, address: SocketAddr) -> Option<String> {
        node.web_door_key(workshop).map(|key| url(address, &key))
    }
}

fn url(address: SocketAddr, key: &[u8; 32]) -> String {
    format!("http://{address}/#door={}", URL_SAFE_NO_PAD.encode(key))
}
