//! The node's network API: serving, dialling, inviting, joining, removing, and the event
//! stream. Methods on [`Node`], so front ends (the CLI, the desktop shell, discovery) need
//! only the node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use commonground_api::{ApiError, Command, Event, Reply, WorkshopService};
use commonground_protocol::{CodeGate, Invite, JoinCode, CODE_LIFETIME};
use commonground_workshop::{Colour, FirstName, ParticipantId, Timestamp, WorkshopId};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::broadcast;

use super::dial::{SyncDialer, BACKOFF_INITIAL, BACKOFF_MAX};
use super::error::{NetError, NetResult};
use super::listener::{self, ServeConfig, ServeHandle};
use super::membership::{self, Secrets};
use super::{join, lock, now};
use crate::discovery::DiscoveryKey;
use crate::error::NodeError;
use crate::node::{Dispatched, Node};

/// How long a joining laptop waits for the workshop to arrive from the facilitator's.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Something that happened on this node, for front ends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// A view change caused by another laptop's edits (this laptop's own commands return
    /// their events from [`Node::dispatch`] instead, so each change is reported once).
    View {
        /// Which workshop.
        workshop: WorkshopId,
        /// What changed, as the person on this laptop sees it.
        event: Event,
    },
    /// A laptop connected for a workshop.
    PeerJoined {
        /// Which workshop.
        workshop: WorkshopId,
        /// Which laptop.
        peer: PeerInfo,
    },
    /// A laptop disconnected.
    PeerLeft {
        /// Which workshop.
        workshop: WorkshopId,
        /// Which laptop.
        peer: PeerInfo,
    },
    /// How syncing a workshop is going: sent when a laptop connects or disconnects, and when
    /// connecting starts or stops failing.
    SyncStatus {
        /// Which workshop.
        workshop: WorkshopId,
        /// The state now.
        status: SyncStatus,
    },
}

/// A connected laptop. No names: map [`PeerInfo::device`] to a participant through the
/// workshop's roster (each participant's `devices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The laptop's device public key, 64 hex digits, as the document records it.
    pub device: String,
    /// The first 8 hex digits of the key, for logs and for telling laptops apart.
    pub fingerprint: String,
    /// The other end of the connection.
    pub address: SocketAddr,
    /// Whether this laptop dialled it.
    pub outgoing: bool,
}

/// How syncing a workshop is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Laptops connected for this workshop now.
    pub peers: usize,
    /// Why the latest attempt to connect failed, until one succeeds.
    pub problem: Option<SyncProblem>,
}

/// Why connecting to a laptop failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncProblem {
    /// Nothing answered (the laptop is off, asleep or on another network).
    Unreachable {
        /// Where.
        address: SocketAddr,
    },
    /// The laptop answered but turned this one away: this laptop was removed from the
    /// workshop, or holds an old key, or the address is another workshop's.
    Refused {
        /// Where.
        address: SocketAddr,
    },
}

/// A workshop's secret at its current key epoch, and the one before if held.
pub(crate) struct WorkshopKeys {
    pub(crate) secret: zeroize::Zeroizing<[u8; 32]>,
    pub(crate) epoch: u32,
    pub(crate) previous: Option<(zeroize::Zeroizing<[u8; 32]>, u32)>,
}

/// What the facilitator's screen shows to let people join.
#[derive(Clone)]
pub struct InviteInfo {
    /// The invite link (also the QR code's text). It carries the workshop secret: it is
    /// membership, so show it only to people in the room.
    pub link: String,
    /// The 6-digit code, as shown: `"042 917"`.
    pub code: String,
    /// When the code stops working (the link doesn't expire; removing someone changes it).
    pub expires_at: SystemTime,
    /// Where this laptop listens, as carried in the link.
    pub addresses: Vec<SocketAddr>,
}

impl std::fmt::Debug for InviteInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteInfo")
            .field("link", &"<secret>")
            .field("code", &"<secret>")
            .field("expires_at", &self.expires_at)
            .field("addresses", &self.addresses)
            .finish()
    }
}

fn os_rng() -> NetResult<StdRng> {
    StdRng::try_from_os_rng().map_err(|e| NetError::Node(NodeError::Randomness(e.to_string())))
}

impl Node {
    /// Node events: view changes from other laptops, laptops connecting and leaving, sync
    /// status. A subscriber that falls more than 1,024 events behind misses the oldest
    /// (`RecvError::Lagged`); fetch a snapshot then.
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.net().events().subscribe()
    }

    /// This laptop's device public key, 64 hex digits (what the roster lists).
    pub fn device_key(&self) -> String {
        membership::key_hex(&self.net().shared().me())
    }

    /// Listens on `listen` for other laptops, for every workshop this laptop holds keys for,
    /// with the default limits. Returns once listening; drop the handle to stop.
    pub async fn serve(&self, listen: SocketAddr) -> NetResult<ServeHandle> {
        self.serve_with(listen, ServeConfig::default()).await
    }

    /// [`Node::serve`] with explicit limits.
    pub async fn serve_with(&self, listen: SocketAddr, config: ServeConfig) -> NetResult<ServeHandle> {
        // Load every workshop we hold keys for, so samod can answer for it and the roster
        // check can read its participants' devices.
        let shared = self.net().shared();
        let ids: Vec<WorkshopId> = lock(&shared.secrets).keys().copied().collect();
        // Only those stored here: asking samod for one that isn't would wait on the network.
        for id in ids.into_iter().filter(|id| shared.layout.holds_document(*id)) {
            if let Err(e) = self.open_workshop(id).await {
                tracing::debug!(workshop = %id, error = %e, "not serving a workshop that isn't here yet");
            }
        }
        listener::serve(self.net().shared(), listen, config).await
    }

    /// The workshops this laptop holds keys for, as discovery wants them
    /// ([`crate::Discovery::start`]'s `keys`): read afresh on every call, so a rotation or a
    /// new workshop is picked up by itself.
    pub fn discovery_keys(&self) -> impl Fn() -> Vec<DiscoveryKey> + Send + Sync + 'static {
        let shared = Arc::downgrade(self.net().shared());
        move || {
            let Some(shared) = shared.upgrade() else { return Vec::new() };
            let all = lock(&shared.secrets);
            all.iter()
                .map(|(workshop, s)| DiscoveryKey {
                    workshop: *workshop,
                    secret: s.secret.clone(),
                    epoch: s.epoch,
                })
                .collect()
        }
    }

    /// The workshop's secret and key epoch now, and the previous ones if held: for keys
    /// derived elsewhere in the node (the shared folder's).
    pub(crate) fn workshop_keys(&self, workshop: WorkshopId) -> Option<WorkshopKeys> {
        let secrets = self.net().shared().secrets(workshop)?;
        Some(WorkshopKeys { secret: secrets.secret, epoch: secrets.epoch, previous: secrets.previous })
    }

    /// The key of the workshop's web front door (the phone page), for the current key epoch:
    /// `None` if this laptop holds no keys for it. It changes when someone is removed, as
    /// the invite does.
    pub fn web_door_key(&self, workshop: WorkshopId) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        let secrets = self.net().shared().secrets(workshop)?;
        Some(commonground_protocol::web_door_key(&secrets.secret, secrets.epoch))
    }

    /// The addresses this laptop listens on (from [`Node::serve`]), as the system bound them.
    pub fn listen_addresses(&self) -> Vec<SocketAddr> {
        lock(&self.net().shared().listening).iter().map(|(_, a)| *a).collect()
    }

    /// Addresses to put in invites ahead of the listening ones: for a node listening on
    /// `0.0.0.0`, the interface addresses discovery found. At most 8 are used.
    pub fn set_advertised_addresses(&self, addresses: Vec<SocketAddr>) {
        *lock(&self.net().shared().advertised) = addresses;
    }

    /// Keeps a connection to the laptop at `address` for `workshop`: connects now and again
    /// after every disconnection, with backoff (100 ms doubling to 5 s), until
    /// [`Node::disconnect`]. Calling it again for the same address does nothing.
    pub async fn connect(&self, workshop: WorkshopId, address: SocketAddr) -> NetResult<()> {
        let shared = self.net().shared();
        if shared.secrets(workshop).is_none() {
            return Err(NetError::NotAMember(workshop));
        }
        // Open the document if it is here, so changes from the other laptop become events.
        if let Err(e) = self.open_workshop(workshop).await {
            tracing::debug!(error = %e, "connecting for a workshop that isn't here yet");
        }
        let mut dialers = lock(&shared.dialers);
        if dialers.contains_key(&(workshop, address)) {
            return Ok(());
        }
        let dialer = SyncDialer { shared: Arc::downgrade(shared), workshop, address };
        // Registered before samod first calls the dialer, which checks it is still wanted.
        let dialing = shared.repo.dial(Arc::new(dialer), BACKOFF_INITIAL, BACKOFF_MAX)?;
        dialers.insert((workshop, address), dialing);
        Ok(())
    }

    /// The addresses of the workshop's other laptops this laptop has learnt (from the invite
    /// or the code join, and every address it connected to), most recent first, at most 16.
    /// Dial them with [`Node::connect`] to reach those laptops without discovery.
    pub fn known_addresses(&self, workshop: WorkshopId) -> Vec<SocketAddr> {
        self.net().shared().known_addresses(workshop)
    }

    /// Stops keeping a connection to `address` for `workshop` (and closes it).
    pub fn disconnect(&self, workshop: WorkshopId, address: SocketAddr) {
        let dialing = lock(&self.net().shared().dialers).remove(&(workshop, address));
        drop(dialing);
    }

    /// The laptops connected for `workshop` now.
    pub fn peers(&self, workshop: WorkshopId) -> Vec<PeerInfo> {
        lock(&self.net().shared().channels)
            .values()
            .filter(|c| c.workshop == workshop)
            .map(|c| c.info())
            .collect()
    }

    /// The workshop's current key epoch on this laptop (`None`: not a member here).
    pub fn key_epoch(&self, workshop: WorkshopId) -> Option<u32> {
        self.net().shared().secrets(workshop).map(|s| s.epoch)
    }

    /// Shows a new join code for `workshop` (replacing any code shown before, for any
    /// workshop: the code join doesn't say which workshop it is for) and the invite link.
    /// Only the facilitator's laptop for the workshop can invite.
    pub async fn invite(&self, workshop: WorkshopId) -> NetResult<InviteInfo> {
        let shared = self.net().shared();
        if shared.secrets(workshop).is_none() {
            self.adopt_workshop(workshop).await?;
        }
        let secrets = shared.secrets(workshop).ok_or(NetError::NotAMember(workshop))?;
        if secrets.facilitator != shared.me() {
            return Err(NetError::NotFacilitator);
        }
        self.open_workshop(workshop).await?;
        // Normally done when the workshop was made; again here in case that was cut short.
        self.record_device(workshop).await?;
        let addresses = shared.addresses();
        let invite = Invite {
            workshop_id: workshop.as_uuid(),
            secret: *secrets.secret,
            epoch: secrets.epoch,
            facilitator: secrets.facilitator,
            addresses: addresses.clone(),
        };
        let link = invite.to_link()?;
        let gate = CodeGate::issue(workshop.as_uuid(), Instant::now(), &mut os_rng()?);
        let code = gate.code().to_string();
        let expires_at = SystemTime::now() + CODE_LIFETIME;
        *lock(&shared.gate) = Some(gate);
        tracing::info!(workshop = %workshop, "showing a new join code");
        Ok(InviteInfo { link, code, expires_at, addresses })
    }

    /// Gives a workshop made before this laptop had a network (so it has no secret yet) its
    /// first secret, if the person on this laptop facilitates it.
    async fn adopt_workshop(&self, workshop: WorkshopId) -> NetResult<()> {
        let facilitates = self
            .with_service(workshop, |s| {
                let me = s.local().participant.and_then(|p| s.workshop().participant(p));
                me.is_some_and(|p| p.facilitator && !p.removed)
            })
            .await?;
        if facilitates {
            let path = self.data_dir().join("workshops").join(workshop.to_string());
            self.net().init_workshop(workshop).map_err(|e| NetError::Node(NodeError::io(path, e)))?;
            self.record_device(workshop).await?;
        }
        Ok(())
    }

    /// Joins a workshop from an invite link: stores its keys, connects to the facilitator's
    /// laptop, fetches the workshop and joins it as `name` with this laptop's device key.
    pub async fn join_by_link(&self, link: &str, name: &str, colour: Colour) -> NetResult<WorkshopId> {
        let invite = Invite::from_link(link)?;
        FirstName::parse(name).map_err(NetError::Name)?;
        let workshop = WorkshopId::from_uuid(invite.workshop_id);
        let shared = self.net().shared();
        self.take_keys(workshop, Secrets::from_invite(&invite, shared.me()))?;
        self.finish_join(workshop, invite.addresses.clone(), name, colour).await
    }

    /// Joins with the 6-digit code shown on the facilitator's laptop at `address`: runs the
    /// code exchange, stores the keys it hands over, then fetches and joins the workshop as
    /// [`Node::join_by_link`] does.
    pub async fn join_by_code(
        &self,
        address: SocketAddr,
        code: &str,
        name: &str,
        colour: Colour,
    ) -> NetResult<WorkshopId> {
        let code = JoinCode::parse(code)?;
        FirstName::parse(name).map_err(NetError::Name)?;
        let shared = self.net().shared();
        let welcome = join::join(shared, address, &code, name).await?;
        let workshop = WorkshopId::from_uuid(welcome.invite.workshop_id);
        self.take_keys(workshop, Secrets::from_welcome(&welcome, shared.me()))?;
        let mut addresses = vec![address];
        addresses.extend(welcome.invite.addresses.iter().filter(|a| **a != address));
        self.finish_join(workshop, addresses, name, colour).await
    }

    /// Stores keys from a join, unless this laptop already holds a newer epoch's.
    fn take_keys(&self, workshop: WorkshopId, mut secrets: Secrets) -> NetResult<()> {
        let shared = self.net().shared();
        if let Some(held) = shared.secrets(workshop) {
            if held.epoch > secrets.epoch {
                return Ok(());
            }
            if held.epoch == secrets.epoch {
                secrets.roster.extend(held.roster);
                secrets.removed = held.removed;
                secrets.facilitator = held.facilitator;
                secrets.previous = held.previous;
            }
        }
        let path = super::secrets_file(&shared.layout, workshop);
        shared.put_secrets(workshop, secrets).map_err(|e| NetError::Node(NodeError::io(path, e)))
    }

    async fn finish_join(
        &self,
        workshop: WorkshopId,
        addresses: Vec<SocketAddr>,
        name: &str,
        colour: Colour,
    ) -> NetResult<WorkshopId> {
        self.net().shared().remember_addresses(workshop, &addresses);
        for address in addresses {
            self.connect(workshop, address).await?;
        }
        let deadline = Instant::now() + FETCH_TIMEOUT;
        loop {
            match self.open_workshop(workshop).await {
                Ok(()) => break,
                Err(NodeError::WorkshopNotFound(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(NodeError::WorkshopNotFound(_)) => return Err(NetError::NotReceived(workshop)),
                Err(e) => return Err(e.into()),
            }
        }
        let (when, mut rng, key) = (now(), os_rng()?, self.device_key());
        let name = name.to_owned();
        self.with_service(workshop, move |service| {
            join_with_device(service, when, &mut rng, &name, colour, &key)
        })
        .await?
        .map_err(NetError::Api)?;
        tracing::info!(workshop = %workshop, "joined a workshop");
        Ok(workshop)
    }

    /// Records this laptop's device key on the participant this laptop is, so that other
    /// laptops' roster checks know it (done when a workshop is created or joined).
    pub(crate) async fn record_device(&self, workshop: WorkshopId) -> crate::Result<()> {
        let (when, key) = (now(), self.device_key());
        self.with_service(workshop, move |service| {
            let Some(me) = service.local().participant else { return };
            if !service.workshop().devices(me).contains(&key) {
                if let Err(e) = service.workshop_mut().add_device(when, me, &key) {
                    tracing::warn!(error = %e, "couldn't record this laptop's key in the workshop");
                }
            }
        })
        .await
    }

    /// Removes a participant (facilitator), then moves the workshop to a new key that the
    /// removed person's laptops never receive: every other member gets it over its live
    /// connection, members that are away get it when they next connect to this laptop, and
    /// every connection made with the old key is closed.
    ///
    /// Returns the command's outcome; if the workshop refused it (not the facilitator, the
    /// last facilitator...) nothing else happens.
    pub async fn remove_participant(
        &self,
        workshop: WorkshopId,
        participant: ParticipantId,
    ) -> NetResult<Dispatched> {
        let shared = self.net().shared().clone();
        let secrets = shared.secrets(workshop).ok_or(NetError::NotAMember(workshop))?;
        if secrets.facilitator != shared.me() {
            return Err(NetError::NotFacilitator);
        }
        let devices: Vec<_> = self
            .with_service(workshop, move |s| s.workshop().devices(participant))
            .await?
            .iter()
            .filter_map(|k| membership::parse_key_hex(k))
            .collect();
        let dispatched = self.dispatch(workshop, Command::RemoveParticipant { participant }).await?;
        if dispatched.reply.is_err() {
            return Ok(dispatched);
        }
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut os_rng()?, &mut secret);
        let (welcome, epoch) = {
            let mut all = lock(&shared.secrets);
            let current = all.get_mut(&workshop).ok_or(NetError::NotAMember(workshop))?;
            let mut next = current.clone();
            let epoch =
                next.epoch.checked_add(1).ok_or(commonground_protocol::ProtocolError::EpochExhausted)?;
            let roster: Vec<_> = next.roster.iter().copied().filter(|d| !devices.contains(d)).collect();
            next.rotate_to(secret, epoch, roster);
            next.removed.extend(devices.iter().copied());
            let path = super::secrets_file(&shared.layout, workshop);
            membership::save(&path, &next).map_err(|e| NetError::Node(NodeError::io(path, e)))?;
            *current = next;
            (current.welcome(workshop.as_uuid(), shared.addresses()), epoch)
        };
        zeroize::Zeroize::zeroize(&mut secret);
        let rotate = super::wire::rotate(&welcome)?;
        let channels = lock(&shared.channels);
        for entry in channels.values().filter(|c| c.workshop == workshop) {
            if devices.contains(&entry.remote) {
                entry.token.cancel();
            } else {
                // The new key, then close: the member reconnects with it.
                let _ = entry.control.send(super::channel::Outbound::Control(rotate.clone()));
                let _ = entry.control.send(super::channel::Outbound::Close);
            }
        }
        drop(channels);
        tracing::info!(workshop = %workshop, epoch, "removed a participant and moved to a new key");
        Ok(dispatched)
    }
}

/// Joins under `name` with this device's key, or just records the key if this laptop has
/// already joined as someone still in the workshop.
fn join_with_device(
    service: &mut WorkshopService,
    now: Timestamp,
    rng: &mut StdRng,
    name: &str,
    colour: Colour,
    key: &str,
) -> Result<(), ApiError> {
    let joined = service
        .local()
        .participant
        .filter(|p| service.workshop().participant(*p).is_some_and(|v| !v.removed));
    let me = match joined {
        Some(me) => me,
        None => match service.dispatch(now, rng, Command::Join { name: name.to_owned(), colour })? {
            Reply::Joined { participant } => participant,
            _ => return Err(ApiError::new("internal", "Joining didn't work as expected. Please try again.")),
        },
    };
    if !service.workshop().devices(me).iter().any(|k| k == key) {
        service.workshop_mut().add_device(now, me, key).map_err(ApiError::from)?;
    }
    Ok(())
}
