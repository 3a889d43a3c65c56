//! The network: laptops in a workshop sync directly over TCP, inside a Noise channel, with
//! samod running over it; new laptops join with an invite link or a 6-digit code.
//!
//! The sans-IO rules (framing, Noise, invites, the code join, key epochs) are in
//! `commonground-protocol`; this module is the runtime around them: sockets, timeouts,
//! limits, keys on disk, and samod's connections. samod's types stay in `repo.rs`
//! (`Link`, `LinkDialer`, the share policy); nothing here names them.
//!
//! # One port, two kinds of connection
//!
//! A node listens on one TCP port ([`crate::Node::serve`]). The first byte a dialer sends
//! says what it wants:
//!
//! ```text
//! sync: 0x01 | nonce (16) | tag (16) | Noise handshake, then the channel (below)
//! join: 0x02 | the code join, one protocol join message per u16-length frame
//! ```
//!
//! **Which workshop.** A laptop may serve several workshops on one port, and each has its
//! own PSK, so the listener must know which PSK to answer with before the handshake. The
//! dialer knows which workshop it wants, and says so without naming it: the tag is
//! `BLAKE2s-MAC(key = workshop secret, "commonground/conn-tag/v1" ‖ epoch ‖ nonce)[..16]`
//! (each part length-prefixed) with a fresh random nonce. Only holders of the secret can make
//! or recognise it, and a new nonce each time means two connections can't be linked by their
//! preambles, so no workshop identifier ever crosses the wire in the clear. The listener
//! computes one MAC per workshop it holds keys for (a few microseconds each) and closes the
//! connection at once if none matches: a stranger, an old epoch's key (a removed laptop) or
//! garbage costs it 33 bytes and no Noise work. (Trying each workshop's PSK inside the
//! handshake instead would mean keeping several handshake states alive per connection and a
//! Diffie–Hellman per workshop for anyone who connects.) A recorded preamble replayed gets a
//! fresh Noise message 2 and goes no further: the attacker can't write message 3 without the
//! PSK.
//!
//! **The code join** runs over the bare socket: SPAKE2 needs no channel, and its sealed
//! Welcome is the only secret it carries. Only one code is live per node at a time (the one
//! on the facilitator's screen, from the latest [`crate::Node::invite`]), because the joiner's
//! first message doesn't say which workshop it wants — that's what it is joining.
//!
//! # The channel
//!
//! After the Noise handshake (`commonground-protocol`: `u16`-length frames, 16 MiB messages
//! refused at their header) every message is one kind byte and a body:
//!
//! | kind | message | body |
//! |-----:|---------|------|
//! | 1 | hello  | version `0x02`, a feature byte (`0x01` reads kind 6, `0x02` reads Automerge bundles in sync messages), then this side's samod peer id (1–64 printable ASCII bytes); version `0x01` (no feature byte) is still read |
//! | 2 | sync   | one samod message |
//! | 6 | sync, compressed | one samod message in raw DEFLATE (RFC 1951), only to a laptop whose hello has feature `0x01`; inflated to at most 16 MiB, or the channel closes |
//! | 3 | rotate | a protocol `Welcome`: the new secret, epoch and roster, from the facilitator |
//! | 4 | ping   | empty: "are you there?", sent when nothing has arrived for a while |
//! | 5 | pong   | empty: the answer to a ping |
//!
//! Each side sends its hello first, and nothing else is accepted before it. A laptop sends
//! sync messages of 512 bytes or more compressed (kind 6) when the other's hello allows it
//! and that makes them smaller: changes compress about four times. (A version-1 laptop
//! refuses a version-2 hello: a room runs one release.)
//!
//! **Keepalive.** A cut link (a laptop closed, out of Wi-Fi range) leaves TCP believing the
//! connection is up for many minutes. So each side sends a ping when nothing has arrived from
//! the other for [`ServeConfig::ping_interval`] (5 s), and closes the channel once nothing at
//! all has arrived for [`ServeConfig::idle_timeout`] (15 s); the dialling side then
//! reconnects with its usual backoff. TCP keepalive is on as well (probes after 10 s idle),
//! as a second line.
//!
//! **One channel per workshop and device.** Laptops that find each other both dial, which
//! would make two channels between the same pair. When a second authenticated channel comes
//! up for the same workshop and remote device key, the node keeps the one dialled by the
//! laptop with the lower device key (compared as bytes) and closes the other; between two
//! channels dialled by the same laptop it keeps the newer one (the older is most likely a
//! link that was cut). Both ends apply the same rule, so they keep the same channel. A dialer
//! that finds, right after the handshake, that this laptop already has the channel the rule
//! keeps to that device stops there and waits until that channel ends before dialling again
//! (a success, not a failure: nothing is reported and nothing retries).
//!
//! # Remembered addresses
//!
//! Each workshop keeps the addresses of its other laptops that this laptop has learnt (from
//! the invite link or the code join's `Welcome`, and every address it dialled successfully,
//! which covers those discovery found) in `workshops/<id>/addresses.json` (mode 0600, written
//! atomically and durably): the 16 most recent, without duplicates, most recent first
//! ([`crate::Node::known_addresses`]). `commonground serve` dials them at startup, so a laptop
//! that joined reaches the others again even where discovery can't (client isolation).
//!
//! # What is bound to what
//!
//! - **Device key ↔ workshop membership.** The Noise static key is the device key. The dialer
//!   checks the listener's key before revealing its own (before Noise message 3); the
//!   listener checks the dialer's key once the handshake has proved the PSK. A key passes if
//!   it is on this laptop's stored roster (from the join `Welcome`, rotations, devices it
//!   admitted) or recorded on a current participant in the document, and is not removed
//!   (stored, or recorded on a removed participant). The facilitator's laptop also admits an
//!   unknown key that proved the current PSK, which is how a laptop that joined by link gets
//!   in; other laptops learn its key when it joins the document under its name.
//! - **Device key ↔ samod peer id.** samod's peer id stays samod's random default (a fixed
//!   one caused sync loops). So it can't be derived from the key; instead each side
//!   announces its peer id in the hello, inside the authenticated channel, and the link is
//!   handed to samod with `with_expected_peer_id(that id)`: samod closes the connection if
//!   the peer's samod handshake claims any other. The share policy ([`SyncAccess`]) shares a
//!   workshop's document only with peer ids carried by a live channel for that workshop, and
//!   a peer id belongs to one device key at a time (a second device claiming it is refused),
//!   so one workshop's member can't fetch another workshop's document by naming its id.
//! - **Sync servers** (`crate::server`) are outside all this: no device key, no Noise. A
//!   server's peer id is the one its handshake claims on a connection this laptop dialled, and
//!   it is allowed only the workshop it was set up for; a peer id can't be both a laptop's
//!   and a server's ([`SyncAccess`]).
//! - **Not bound:** samod's gossip (ephemeral messages keep their original author's peer id,
//!   which no transport authenticates), and which *participant* wrote a change: any member
//!   can write anything to the document. The device key only proves which laptop is at the
//!   other end of this connection.
//!
//! # Limits
//!
//! - Pre-authentication (from `accept` to the end of the hello, or the whole code join):
//!   at most [`ServeConfig::max_pre_auth`] (32) connections at once — more are closed at
//!   once — and each gets [`ServeConfig::handshake_timeout`] (10 s) in total.
//! - Code joins: the protocol's `CodeGate` (5 wrong tries, 2 minutes, 4 at once) and at most
//!   [`MAX_JOINS_PER_IP`] at once from one address.
//! - Memory per connection: one frame, one read chunk and one message, by construction
//!   (see `channel.rs`); a peer that stops reading is dropped past 64 MiB queued for it.
//!
//! # Removal and key epochs
//!
//! [`crate::Node::remove_participant`] removes the person in the document, draws a new
//! secret for the next epoch, sends it (a `rotate`) to every other member over its live
//! channel, and closes every channel made under the old epoch; dialers reconnect with the new
//! key. A member that was away keeps the old key: when it next dials the facilitator's
//! laptop, the old epoch's tag still matches there, the handshake proves the old PSK, and if
//! its key is still on the roster it is handed the rotation (and nothing else) before the
//! connection closes. The removed laptop fails that roster check, and every other laptop no
//! longer recognises its tag.

mod access;
mod api;
mod channel;
mod dial;
mod error;
mod inbox;
mod join;
mod listener;
mod membership;
mod wire;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use commonground_api::Event;
use commonground_protocol::{CodeGate, DeviceKeypair, DevicePublicKey, Welcome};
use commonground_workshop::{Timestamp, WorkshopId};
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::keys::DeviceSecret;
use crate::layout::Layout;
use crate::repo::{Dialing, Doc, DocRepo, Link};

use channel::{ChannelError, Keepalive};

pub(crate) use access::SyncAccess;
pub use api::{InviteInfo, NodeEvent, PeerInfo, SyncProblem, SyncStatus};
pub use error::{NetError, NetResult};
pub use listener::{ServeConfig, ServeHandle};
pub use wire::{sync_preamble, NONCE_LEN, PREAMBLE_JOIN, PREAMBLE_SYNC, SYNC_PREAMBLE_LEN};

use channel::Outbound;
pub(crate) use membership::DocRoster;
use membership::Secrets;

/// Code joins running at once from one IP address.
pub const MAX_JOINS_PER_IP: usize = 2;
/// How many node events a slow subscriber may fall behind before it misses some.
const EVENT_BUFFER: usize = 1024;

/// The network side of a node (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) struct Net {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").finish_non_exhaustive()
    }
}

/// One live, authenticated channel.
struct ChannelEntry {
    workshop: WorkshopId,
    remote: DevicePublicKey,
    epoch: u32,
    /// The samod peer id it carries.
    peer: String,
    address: SocketAddr,
    outgoing: bool,
    token: CancellationToken,
    control: mpsc::UnboundedSender<Outbound>,
    /// Whether the other laptop reads Automerge bundles (its hello said so).
    bundles: bool,
}

impl ChannelEntry {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            device: membership::key_hex(&self.remote),
            fingerprint: membership::fingerprint(&self.remote),
            address: self.address,
            outgoing: self.outgoing,
        }
    }
}

/// What the roster says about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    /// Unknown, but this laptop is the facilitator's and it proved the current PSK.
    Admit,
    Refuse,
}

/// A sync preamble matched to one of our workshops.
struct Matched {
    workshop: WorkshopId,
    secret: [u8; 32],
    epoch: u32,
    /// The epoch before the current one: only a rotation is handed over.
    previous: bool,
}

impl Drop for Matched {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

pub(crate) struct Shared {
    layout: Layout,
    repo: DocRepo,
    keypair: DeviceKeypair,
    access: SyncAccess,
    events: broadcast::Sender<NodeEvent>,
    secrets: Mutex<HashMap<WorkshopId, Secrets>>,
    /// The devices each open workshop's document lists, as of its latest change: kept up
    /// to date by the node, so that a handshake never has to wait for the document's lock.
    rosters: Mutex<HashMap<WorkshopId, DocRoster>>,
    /// Each open workshop's document, for the channels' barriers (`inbox.rs`). Never looked
    /// up through samod: a channel must not wait for a document it is bringing in.
    docs: Mutex<HashMap<WorkshopId, Doc>>,
    channels: Mutex<HashMap<u64, ChannelEntry>>,
    next_id: AtomicU64,
    gate: Mutex<Option<CodeGate>>,
    listening: Mutex<Vec<(u64, SocketAddr)>>,
    advertised: Mutex<Vec<SocketAddr>>,
    dialers: Mutex<HashMap<(WorkshopId, SocketAddr), Dialing>>,
    problems: Mutex<HashMap<WorkshopId, Option<SyncProblem>>>,
    joins_by_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Remembered addresses of each workshop's other laptops, most recent first (loaded
    /// from disk on first use).
    known: Mutex<HashMap<WorkshopId, Vec<SocketAddr>>>,
    keepalive: Mutex<Keepalive>,
    root: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its map consistent, even if it panics part-way.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

impl Net {
    /// The network side for a node on `layout`, loading every workshop's stored keys.
    pub(crate) fn new(layout: Layout, repo: DocRepo, device: &DeviceSecret, access: SyncAccess) -> Self {
        let keypair = DeviceKeypair::from_secret_bytes(device.as_bytes());
        let mut secrets = HashMap::new();
        if let Ok(entries) = std::fs::read_dir(layout.workshops_dir()) {
            for entry in entries.flatten() {
                let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<WorkshopId>().ok()) else {
                    continue;
                };
                if let Some(found) = membership::load(&secrets_file(&layout, id), &layout.damaged_dir(id)) {
                    secrets.insert(id, found);
                }
            }
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            shared: Arc::new(Shared {
                layout,
                repo,
                keypair,
                access,
                events,
                secrets: Mutex::new(secrets),
                rosters: Mutex::new(HashMap::new()),
                docs: Mutex::new(HashMap::new()),
                channels: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                gate: Mutex::new(None),
                listening: Mutex::new(Vec::new()),
                advertised: Mutex::new(Vec::new()),
                dialers: Mutex::new(HashMap::new()),
                problems: Mutex::new(HashMap::new()),
                joins_by_ip: Mutex::new(HashMap::new()),
                known: Mutex::new(HashMap::new()),
                keepalive: Mutex::new(Keepalive::default()),
                root: CancellationToken::new(),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Where node events go.
    pub(crate) fn events(&self) -> &broadcast::Sender<NodeEvent> {
        &self.shared.events
    }

    /// Sends view events for changes that came from other laptops.
    pub(crate) fn publish_view(&self, workshop: WorkshopId, events: Vec<Event>) {
        for event in events {
            let _ = self.shared.events.send(NodeEvent::View { workshop, event });
        }
    }

    /// Records the devices an open workshop's document lists now, for roster checks.
    pub(crate) fn set_doc_roster(&self, workshop: WorkshopId, roster: DocRoster) {
        lock(&self.shared.rosters).insert(workshop, roster);
    }

    /// Records an open workshop's document, so that its channels hand samod one message at a
    /// time (see `inbox.rs`).
    pub(crate) fn set_doc(&self, workshop: WorkshopId, doc: Doc) {
        lock(&self.shared.docs).insert(workshop, doc);
    }

    /// Runs `task` until the node stops.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let token = self.shared.root.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Gives a new workshop, created here, its first secret (epoch 0), with this device as
    /// the facilitator.
    pub(crate) fn init_workshop(&self, workshop: WorkshopId) -> std::io::Result<()> {
        let mut secret = [0u8; 32];
        let mut rng = channel::rng().map_err(std::io::Error::other)?;
        rand::RngCore::fill_bytes(&mut rng, &mut secret);
        let secrets = Secrets::new_workshop(secret, self.shared.keypair.public_key());
        zeroize::Zeroize::zeroize(&mut secret);
        self.shared.put_secrets(workshop, secrets)
    }

    /// Stops listening, dialling and every connection.
    pub(crate) fn shutdown(&self) {
        self.shared.root.cancel();
        lock(&self.shared.dialers).clear();
    }
}

fn secrets_file(layout: &Layout, workshop: WorkshopId) -> std::path::PathBuf {
    layout.workshop_dir(workshop).join("secrets.json")
}

fn addresses_file(layout: &Layout, workshop: WorkshopId) -> std::path::PathBuf {
    layout.workshop_dir(workshop).join("addresses.json")
}

/// Which laptop dialled a channel.
fn dialled_by(me: DevicePublicKey, remote: DevicePublicKey, outgoing: bool) -> DevicePublicKey {
    if outgoing {
        me
    } else {
        remote
    }
}

/// The one-channel rule (see the module docs): whether a new channel to a device wins over
/// one this laptop already has to it.
fn new_channel_wins(
    me: DevicePublicKey,
    remote: DevicePublicKey,
    new_outgoing: bool,
    old_outgoing: bool,
) -> bool {
    let (new, old) = (dialled_by(me, remote, new_outgoing), dialled_by(me, remote, old_outgoing));
    if new == old {
        return true;
    }
    let lower = if me.as_bytes() < remote.as_bytes() { me } else { remote };
    new == lower
}

impl Shared {
    fn me(&self) -> DevicePublicKey {
        self.keypair.public_key()
    }

    fn secrets(&self, workshop: WorkshopId) -> Option<Secrets> {
        lock(&self.secrets).get(&workshop).cloned()
    }

    /// Stores a workshop's keys durably, then uses them.
    fn put_secrets(&self, workshop: WorkshopId, secrets: Secrets) -> std::io::Result<()> {
        let mut all = lock(&self.secrets);
        membership::save(&secrets_file(&self.layout, workshop), &secrets)?;
        all.insert(workshop, secrets);
        Ok(())
    }

    fn is_facilitator(&self, workshop: WorkshopId) -> bool {
        lock(&self.secrets).get(&workshop).is_some_and(|s| s.facilitator == self.me())
    }

    /// The barrier for a channel of `workshop`: resolves once its document has handled what
    /// samod has queued for it (none until the workshop is open here).
    fn barrier(&self, workshop: WorkshopId) -> Option<inbox::Barrier> {
        let doc = lock(&self.docs).get(&workshop)?.clone();
        Some(Arc::new(move || doc.barrier()))
    }

    /// The devices the workshop's document lists (empty if it isn't open here yet), as of
    /// the latest change the node has processed.
    fn doc_roster(&self, workshop: WorkshopId) -> DocRoster {
        lock(&self.rosters).get(&workshop).cloned().unwrap_or_default()
    }

    /// Whether `key` may be connected to for `workshop` at `epoch` (see the module docs).
    fn verdict(&self, workshop: WorkshopId, key: &DevicePublicKey, epoch: u32, doc: &DocRoster) -> Verdict {
        let all = lock(&self.secrets);
        let Some(secrets) = all.get(&workshop) else { return Verdict::Refuse };
        judge(secrets, key, epoch, doc, self.me())
    }

    /// Adds a device to the stored roster (a code join, or an unknown key that proved the
    /// current PSK to the facilitator's laptop). Removed devices stay out.
    fn admit(&self, workshop: WorkshopId, device: DevicePublicKey) -> bool {
        let mut all = lock(&self.secrets);
        let Some(secrets) = all.get_mut(&workshop) else { return false };
        if secrets.removed.contains(&device) {
            return false;
        }
        if secrets.roster.insert(device) {
            if let Err(e) = membership::save(&secrets_file(&self.layout, workshop), secrets) {
                tracing::error!(error = %e, "couldn't store a new device on the roster");
                secrets.roster.remove(&device);
                return false;
            }
            tracing::info!(workshop = %workshop, device = %membership::fingerprint(&device), "admitted a new laptop");
        }
        true
    }

    /// Finds the workshop whose key made this preamble's tag: at the current epoch, or, on
    /// the facilitator's laptop (the only one whose rotations members take), the one before.
    fn match_tag(&self, nonce: &[u8; wire::NONCE_LEN], tag: &[u8]) -> Option<Matched> {
        let all = lock(&self.secrets);
        for (workshop, secrets) in all.iter() {
            if wire::tag_matches(&secrets.secret, secrets.epoch, nonce, tag) {
                return Some(Matched {
                    workshop: *workshop,
                    secret: *secrets.secret,
                    epoch: secrets.epoch,
                    previous: false,
                });
            }
            let previous = secrets.previous.as_ref().filter(|_| secrets.facilitator == self.me());
            if let Some((old, epoch)) = previous {
                if wire::tag_matches(old, *epoch, nonce, tag) {
                    return Some(Matched {
                        workshop: *workshop,
                        secret: **old,
                        epoch: *epoch,
                        previous: true,
                    });
                }
            }
        }
        None
    }

    /// The welcome that carries the current keys (for a joiner, or a rotation).
    fn welcome(&self, workshop: WorkshopId) -> Option<Welcome> {
        let addresses = self.addresses();
        lock(&self.secrets).get(&workshop).map(|s| s.welcome(workshop.as_uuid(), addresses))
    }

    /// Where this node can be reached: the addresses it listens on (unless unspecified) and
    /// those set with `Node::set_advertised_addresses`, at most 8.
    fn addresses(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = lock(&self.advertised).clone();
        for (_, address) in lock(&self.listening).iter() {
            if !address.ip().is_unspecified() && !out.contains(address) {
                out.push(*address);
            }
        }
        out.truncate(commonground_protocol::MAX_INVITE_ADDRESSES);
        out
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The remembered addresses of the workshop's other laptops, most recent first.
    fn known_addresses(&self, workshop: WorkshopId) -> Vec<SocketAddr> {
        let mut known = lock(&self.known);
        known
            .entry(workshop)
            .or_insert_with(|| membership::load_addresses(&addresses_file(&self.layout, workshop)))
            .clone()
    }

    /// Remembers addresses of the workshop's other laptops (the first given ends up most
    /// recent), storing the list if it changed.
    fn remember_addresses(&self, workshop: WorkshopId, addresses: &[SocketAddr]) {
        if self.secrets(workshop).is_none() {
            return;
        }
        let mut all = lock(&self.known);
        let known = all
            .entry(workshop)
            .or_insert_with(|| membership::load_addresses(&addresses_file(&self.layout, workshop)));
        let mut changed = false;
        for address in addresses.iter().rev() {
            if !address.ip().is_unspecified() && address.port() != 0 {
                changed |= membership::remember(known, *address);
            }
        }
        if changed {
            if let Err(e) = membership::save_addresses(&addresses_file(&self.layout, workshop), known) {
                tracing::warn!(error = %e, "couldn't store the addresses of the workshop's laptops");
            }
        }
    }

    /// Whether a live channel to `remote` for `workshop` exists that a new channel dialled by
    /// this laptop would lose to (the one-channel rule).
    fn has_preferred_channel(&self, workshop: WorkshopId, remote: &DevicePublicKey) -> bool {
        let me = self.me();
        lock(&self.channels).values().any(|c| {
            c.workshop == workshop && c.remote == *remote && !new_channel_wins(me, *remote, true, c.outgoing)
        })
    }

    /// Whether any live channel to `remote` for `workshop` exists.
    fn connected_to(&self, workshop: WorkshopId, remote: &DevicePublicKey) -> bool {
        lock(&self.channels).values().any(|c| c.workshop == workshop && c.remote == *remote)
    }

    /// Records a live channel once it is running, checking the roster and epoch once more
    /// (a rotation may have happened during the handshake), and applying the one-channel
    /// rule. An error: close it.
    fn register(&self, id: u64, entry: ChannelEntry, doc: &DocRoster) -> Result<(), ChannelError> {
        let me = self.me();
        let secrets = lock(&self.secrets);
        let allowed = secrets
            .get(&entry.workshop)
            .is_some_and(|s| judge(s, &entry.remote, entry.epoch, doc, me) != Verdict::Refuse);
        if !allowed {
            return Err(ChannelError::NotOnRoster);
        }
        let mut channels = lock(&self.channels);
        let mut losers = Vec::new();
        for (other, c) in channels.iter() {
            if c.workshop == entry.workshop && c.remote == entry.remote {
                if !new_channel_wins(me, entry.remote, entry.outgoing, c.outgoing) {
                    return Err(ChannelError::Duplicate);
                }
                losers.push(*other);
            }
        }
        if !self.access.grant(entry.workshop, &entry.peer, entry.remote, entry.bundles, !entry.outgoing) {
            return Err(ChannelError::NotOnRoster);
        }
        let (workshop, peer) = (entry.workshop, entry.info());
        channels.insert(id, entry);
        // Closed cleanly (whatever is queued is sent first), and forgotten now so that the
        // workshop never shows two channels to one laptop.
        let closed: Vec<ChannelEntry> = losers.iter().filter_map(|other| channels.remove(other)).collect();
        for loser in &closed {
            let _ = loser.control.send(Outbound::Close);
        }
        let peers = channels.values().filter(|c| c.workshop == workshop).count();
        drop(channels);
        drop(secrets);
        for loser in closed {
            tracing::debug!(workshop = %workshop, "closing a second channel to the same laptop");
            self.forget(loser, peers);
        }
        tracing::info!(workshop = %workshop, device = %peer.fingerprint, "connected");
        let _ = self.events.send(NodeEvent::PeerJoined { workshop, peer });
        self.publish_status(workshop, peers);
        Ok(())
    }

    fn unregister(&self, id: u64) {
        let mut channels = lock(&self.channels);
        let Some(entry) = channels.remove(&id) else { return };
        let peers = channels.values().filter(|c| c.workshop == entry.workshop).count();
        drop(channels);
        self.forget(entry, peers);
    }

    /// The bookkeeping for a channel taken out of `channels` (`peers`: how many are left).
    fn forget(&self, entry: ChannelEntry, peers: usize) {
        self.access.revoke(entry.workshop, &entry.peer);
        tracing::info!(workshop = %entry.workshop, device = %membership::fingerprint(&entry.remote), "disconnected");
        let _ = self.events.send(NodeEvent::PeerLeft { workshop: entry.workshop, peer: entry.info() });
        self.publish_status(entry.workshop, peers);
    }

    fn peer_count(&self, workshop: WorkshopId) -> usize {
        lock(&self.channels).values().filter(|c| c.workshop == workshop).count()
    }

    fn publish_status(&self, workshop: WorkshopId, peers: usize) {
        let problem = lock(&self.problems).get(&workshop).cloned().flatten();
        let _ = self.events.send(NodeEvent::SyncStatus { workshop, status: SyncStatus { peers, problem } });
    }

    /// Records how the latest dial went; tells subscribers when that changes.
    fn note_problem(&self, workshop: WorkshopId, problem: Option<SyncProblem>) {
        let changed = {
            let mut problems = lock(&self.problems);
            let slot = problems.entry(workshop).or_default();
            let changed = *slot != problem;
            *slot = problem;
            changed
        };
        if changed {
            self.publish_status(workshop, self.peer_count(workshop));
        }
    }

    /// Closes the workshop's channels made under an older epoch or to a removed device.
    fn close_stale(&self, workshop: WorkshopId) {
        let Some(secrets) = self.secrets(workshop) else { return };
        let doc = self.doc_roster(workshop);
        for entry in lock(&self.channels).values().filter(|c| c.workshop == workshop) {
            if entry.epoch != secrets.epoch
                || judge(&secrets, &entry.remote, entry.epoch, &doc, self.me()) == Verdict::Refuse
            {
                entry.token.cancel();
            }
        }
    }

    /// Takes a rotation that arrived over a channel from `from`. Only the facilitator's key
    /// may rotate, only to a newer epoch, and only for the channel's own workshop.
    fn apply_rotation(&self, workshop: WorkshopId, from: DevicePublicKey, payload: &[u8]) {
        let welcome = match Welcome::decode(payload) {
            Ok(welcome) => welcome,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed key rotation");
                return;
            }
        };
        let applied = {
            let mut all = lock(&self.secrets);
            let Some(secrets) = all.get_mut(&workshop) else { return };
            if from != secrets.facilitator || welcome.invite.facilitator != secrets.facilitator {
                tracing::warn!(workshop = %workshop, "ignoring a key rotation from a laptop that isn't the facilitator's");
                return;
            }
            if welcome.invite.workshop_id != workshop.as_uuid() || welcome.invite.epoch <= secrets.epoch {
                tracing::debug!(workshop = %workshop, "ignoring a stale key rotation");
                return;
            }
            let mut next = secrets.clone();
            next.rotate_to(welcome.invite.secret, welcome.invite.epoch, welcome.roster.iter().copied());
            next.roster.insert(self.me());
            match membership::save(&secrets_file(&self.layout, workshop), &next) {
                Ok(()) => {
                    *secrets = next;
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "couldn't store the workshop's new key");
                    false
                }
            }
        };
        if applied {
            tracing::info!(workshop = %workshop, epoch = welcome.invite.epoch, "moved to the workshop's new key");
            self.close_stale(workshop);
        }
    }

    /// Holds one of an IP address's code-join slots, or `None` if it has them all.
    fn join_slot(self: &Arc<Self>, ip: IpAddr) -> Option<JoinSlot> {
        let mut joins = lock(&self.joins_by_ip);
        let n = joins.entry(ip).or_default();
        if *n >= MAX_JOINS_PER_IP {
            return None;
        }
        *n += 1;
        Some(JoinSlot { shared: self.clone(), ip })
    }
}

/// Runs an authenticated channel and records it; returns samod's ends of it. The channel
/// closes when `parent` is cancelled (the listener's connection token, or the node's).
#[allow(clippy::too_many_arguments)]
fn start_channel(
    shared: &Arc<Shared>,
    established: channel::Established,
    workshop: WorkshopId,
    epoch: u32,
    remote: DevicePublicKey,
    peer: String,
    address: SocketAddr,
    outgoing: bool,
    parent: &CancellationToken,
) -> Result<Link, channel::ChannelError> {
    let doc = shared.doc_roster(workshop);
    let token = parent.child_token();
    let id = shared.next_id();
    let span = tracing::info_span!("channel", workshop = %workshop, device = %membership::fingerprint(&remote), outgoing);
    let (on_rotate, on_end) = (Arc::downgrade(shared), Arc::downgrade(shared));
    let keepalive = *lock(&shared.keepalive);
    let barrier = shared.barrier(workshop);
    let bundles = established.bundles;
    let running = channel::run(
        established,
        token.clone(),
        span,
        keepalive,
        barrier,
        move |payload| {
            if let Some(shared) = on_rotate.upgrade() {
                shared.apply_rotation(workshop, remote, payload);
            }
        },
        move || {
            if let Some(shared) = on_end.upgrade() {
                shared.unregister(id);
            }
        },
    );
    let entry = ChannelEntry {
        workshop,
        remote,
        epoch,
        peer: peer.clone(),
        address,
        outgoing,
        token: token.clone(),
        control: running.control.clone(),
        bundles,
    };
    if let Err(e) = shared.register(id, entry, &doc) {
        token.cancel();
        return Err(e);
    }
    if token.is_cancelled() {
        // It ended before it was recorded: forget it now, as `on_end` has already run.
        shared.unregister(id);
    }
    Ok(Link { incoming: running.incoming.boxed(), outgoing: Box::pin(running.sink), remote_peer: Some(peer) })
}

/// One code join in progress from an IP address; released on drop.
struct JoinSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for JoinSlot {
    fn drop(&mut self) {
        let mut joins = lock(&self.shared.joins_by_ip);
        if let Some(n) = joins.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                joins.remove(&self.ip);
            }
        }
    }
}

/// The roster rule (see the module docs).
fn judge(
    secrets: &Secrets,
    key: &DevicePublicKey,
    epoch: u32,
    doc: &DocRoster,
    me: DevicePublicKey,
) -> Verdict {
    // A laptop never syncs with itself (discovery may well find its own address).
    if *key == me || epoch != secrets.epoch || secrets.removed.contains(key) || doc.removed.contains(key) {
        Verdict::Refuse
    } else if secrets.roster.contains(key) || doc.members.contains(key) {
        Verdict::Allow
    } else if secrets.facilitator == me {
        Verdict::Admit
    } else {
        Verdict::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roster_rule() {
        let key = |b: u8| DevicePublicKey::from_bytes([b; 32]);
        let (me, friend, stranger, gone) = (key(1), key(2), key(3), key(4));
        let mut secrets = Secrets::new_workshop([0; 32], me);
        secrets.roster.insert(friend);
        secrets.removed.insert(gone);
        let doc = DocRoster::default();
        assert_eq!(judge(&secrets, &friend, 0, &doc, me), Verdict::Allow);
        assert_eq!(judge(&secrets, &friend, 1, &doc, me), Verdict::Refuse, "another epoch");
        assert_eq!(judge(&secrets, &stranger, 0, &doc, me), Verdict::Admit, "the facilitator admits");
        assert_eq!(judge(&secrets, &stranger, 0, &doc, friend), Verdict::Refuse, "others don't");
        assert_eq!(judge(&secrets, &gone, 0, &doc, me), Verdict::Refuse, "removed stays out");
        assert_eq!(judge(&secrets, &me, 0, &doc, me), Verdict::Refuse, "not with itself");
        let doc = DocRoster { members: [stranger].into(), removed: [friend].into() };
        assert_eq!(judge(&secrets, &stranger, 0, &doc, friend), Verdict::Allow, "listed in the document");
        assert_eq!(judge(&secrets, &friend, 0, &doc, me), Verdict::Refuse, "removed in the document");
    }
}
