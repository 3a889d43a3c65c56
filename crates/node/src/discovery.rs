//! Finding the other laptops of a workshop on the local network: the first two links of the
//! discovery chain (DESIGN.md §3), mDNS and then the UDP broadcast beacon.
//!
//! Both run at once, because which one works depends on the venue: mDNS is the polite,
//! standard way and finds peers in about a second, but many Wi-Fi networks drop multicast;
//! a broadcast beacon still gets through on most of those. The next links (the address in
//! the invite, typed addresses, star mode) belong to the networking, which dials whatever
//! this module reports.
//!
//! What a laptop says about itself is only "a Common Ground node listens on this port, for
//! workshops with these tags". Each tag is `commonground_protocol::discovery_tag`: random to
//! outsiders, recognisable only with the workshop secret, and different every ten minutes.
//! The mDNS instance and host names are random and fresh every run.
//!
//! [`Discovery::start`] takes what it needs as plain values — the port to advertise and a
//! closure returning the current workshops' ids, secrets and epochs — so it knows nothing
//! about connections or storage. It calls the closure about once a second, so a workshop
//! joined or a secret rotated is advertised (and recognised) within a second, or at once
//! after [`DiscoveryHandle::refresh`].
//!
//! The sans-IO parts are in the submodules: the beacon datagram (`beacon.rs`), the engine
//! that matches tags and de-duplicates (`engine.rs`), the TXT record (`mdns.rs`).

mod beacon;
mod engine;
mod mdns;
mod targets;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use commonground_protocol::tag_window;
use commonground_workshop::WorkshopId;
use rand::TryRngCore;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::error::{NodeError, Result};
use engine::{Engine, MAX_WORKSHOPS};
use mdns::{Browsed, Mdns};

/// The UDP port the beacon uses unless configured otherwise.
pub const DEFAULT_BEACON_PORT: u16 = 41234;
/// The standard mDNS port.
pub const MDNS_PORT: u16 = 5353;
/// How many discoveries may wait for the caller before discovery waits for it.
const CHANNEL_CAPACITY: usize = 64;

/// Which networks discovery uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every network interface that is up: real use.
    Network,
    /// Only this computer's loopback interface (the beacon goes to 127.255.255.255, mDNS
    /// runs on 127.0.0.1): for tests, and for several nodes on one computer.
    Loopback,
}

/// How discovery runs. [`DiscoveryConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// The TCP port this laptop's node listens on: what peers are told to dial.
    pub listen_port: u16,
    /// Which networks to use.
    pub scope: Scope,
    /// Advertise and browse with mDNS.
    pub mdns: bool,
    /// The mDNS port (5353; another one only for tests that must not meet real mDNS).
    pub mdns_port: u16,
    /// Send and listen for the broadcast beacon.
    pub beacon: bool,
    /// The beacon's UDP port (every laptop must use the same one).
    pub beacon_port: u16,
    /// How often the beacon is sent, and the keys read again.
    pub interval: Duration,
    /// How long a peer heard only by beacon stays known after its last beacon; after that,
    /// hearing it again reports it again.
    pub forget_after: Duration,
}

impl DiscoveryConfig {
    /// The defaults: both methods on every network, the beacon on [`DEFAULT_BEACON_PORT`]
    /// every second, peers forgotten after 30 s of silence.
    pub fn new(listen_port: u16) -> Self {
        Self {
            listen_port,
            scope: Scope::Network,
            mdns: true,
            mdns_port: MDNS_PORT,
            beacon: true,
            beacon_port: DEFAULT_BEACON_PORT,
            interval: Duration::from_secs(1),
            forget_after: Duration::from_secs(30),
        }
    }
}

/// One workshop this laptop can be found for, and can recognise others in.
#[derive(Clone)]
pub struct DiscoveryKey {
    /// The workshop.
    pub workshop: WorkshopId,
    /// Its current secret.
    pub secret: Zeroizing<[u8; 32]>,
    /// The secret's key epoch.
    pub epoch: u32,
}

impl std::fmt::Debug for DiscoveryKey {
    // The secret is membership itself: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryKey")
            .field("workshop", &self.workshop)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// How a peer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// mDNS.
    Mdns,
    /// The UDP broadcast beacon.
    Beacon,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Via::Mdns => "mdns",
            Via::Beacon => "beacon",
        })
    }
}

/// A laptop of one of our workshops, and where to dial it. Reported once while it stays
/// visible (see [`DiscoveryConfig::forget_after`] and [`DiscoveryHandle::rediscover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The workshop it says it is in (a hint: the Noise handshake decides).
    pub workshop: WorkshopId,
    /// Where its node listens, newly seen, IPv4 first.
    pub addrs: Vec<SocketAddr>,
    /// How it was found.
    pub via: Via,
}

/// Discovery. See the module docs.
#[derive(Debug)]
pub struct Discovery;

type KeysFn = dyn Fn() -> Vec<DiscoveryKey> + Send + Sync;

struct Shared {
    engine: Mutex<Engine>,
    keys: Box<KeysFn>,
    mdns: Mutex<Option<Mdns>>,
    tx: mpsc::Sender<Discovered>,
    refresh: Notify,
    config: DiscoveryConfig,
    runtime: tokio::runtime::Handle,
}

impl Discovery {
    /// Starts advertising and looking, inside the current tokio runtime. `keys` is called
    /// about once a second for the workshops to advertise and recognise.
    ///
    /// Starts whatever of mDNS and the beacon it can, logging a warning for the other; it
    /// fails only if it can start neither (or was called outside a runtime).
    pub fn start(
        config: DiscoveryConfig,
        keys: impl Fn() -> Vec<DiscoveryKey> + Send + Sync + 'static,
    ) -> Result<(DiscoveryHandle, mpsc::Receiver<Discovered>)> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NodeError::NoRuntime)?;
        let mut random = [0u8; 24];
        rand::rngs::OsRng.try_fill_bytes(&mut random).map_err(|e| NodeError::Randomness(e.to_string()))?;
        let sender = u64::from_be_bytes(random[..8].try_into().unwrap_or_default());
        let mut names = [0u8; 16];
        names.copy_from_slice(&random[8..]);

        let mut problems = Vec::new();
        let (mdns, browse) = if config.mdns {
            match Mdns::start(config.scope, config.mdns_port, config.listen_port, names) {
                Ok((mdns, browse)) => (Some(mdns), Some(browse)),
                Err(e) => {
                    tracing::warn!(error = %e, "mDNS could not start; relying on the beacon");
                    problems.push(format!("mDNS: {e}"));
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        let socket = if config.beacon {
            match bind_beacon(config.beacon_port) {
                Ok(socket) => Some(Arc::new(socket)),
                Err(e) => {
                    tracing::warn!(port = config.beacon_port, error = %e, "the beacon could not start");
                    problems.push(format!("UDP port {}: {e}", config.beacon_port));
                    None
                }
            }
        } else {
            None
        };
        if mdns.is_none() && socket.is_none() && !problems.is_empty() {
            return Err(NodeError::Discovery(problems.join("; ")));
        }
        let methods = Methods { mdns: mdns.is_some(), beacon: socket.is_some() };

        let own_service = mdns.as_ref().map(|m| m.fullname().to_owned()).unwrap_or_default();
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            engine: Mutex::new(Engine::new(sender, &own_service, config.forget_after)),
            keys: Box::new(keys),
            mdns: Mutex::new(mdns),
            tx,
            refresh: Notify::new(),
            config,
            runtime: runtime.clone(),
        });
        let mut tasks = vec![runtime.spawn(tick_loop(shared.clone(), socket.clone()))];
        if let Some(socket) = socket {
            tasks.push(runtime.spawn(beacon_loop(shared.clone(), socket)));
        }
        if let Some(browse) = browse {
            tasks.push(runtime.spawn(browse_loop(shared.clone(), browse)));
        }
        tracing::info!(mdns = methods.mdns, beacon = methods.beacon, "discovery started");
        Ok((DiscoveryHandle { shared, tasks, methods }, rx))
    }
}

/// Which methods are running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    /// mDNS is advertising and browsing.
    pub mdns: bool,
    /// The beacon is sending and listening.
    pub beacon: bool,
}

/// A running discovery. Dropping it stops everything (use [`DiscoveryHandle::stop`] to
/// also withdraw the mDNS service politely, so peers see this laptop go at once).
pub struct DiscoveryHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    methods: Methods,
}

impl std::fmt::Debug for DiscoveryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryHandle").field("methods", &self.methods).finish_non_exhaustive()
    }
}

impl DiscoveryHandle {
    /// Which methods are running.
    pub fn methods(&self) -> Methods {
        self.methods
    }

    /// Reads the keys again now (after joining a workshop or rotating a secret), rather
    /// than at the next tick.
    pub fn refresh(&self) {
        self.shared.refresh.notify_one();
    }

    /// Forgets which peers were reported, so every peer still visible is reported again:
    /// those found by mDNS at once, those heard by beacon with their next beacon.
    pub fn rediscover(&self) {
        let found = lock(&self.shared.engine).rediscover();
        deliver(&self.shared, found);
    }

    /// Every laptop running Common Ground visible now, in any workshop: where it listens and
    /// how it was found, IPv4 first. Announcements carry no names or titles, so this is all
    /// a person about to join with a 6-digit code can be shown.
    pub fn nearby(&self) -> Vec<(SocketAddr, Via)> {
        let own = local_addresses(self.shared.config.listen_port);
        let mut found = lock(&self.shared.engine).nearby(Instant::now());
        found.retain(|(a, _)| !own.contains(a));
        found
    }

    /// Stops discovery, withdrawing the mDNS service first.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for DiscoveryHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(mdns) = lock(&self.shared.mdns).take() {
            mdns.stop();
        }
    }
}

/// This laptop's IPv4 addresses on interfaces that are up, with `port`, loopback last: what
/// to put in an invite when listening on `0.0.0.0`.
pub fn local_addresses(port: u16) -> Vec<SocketAddr> {
    targets::interface_addresses(port)
}

fn bind_beacon(port: u16) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Several nodes on one computer (and tests) share the port; every one of them receives
    // each broadcast.
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    UdpSocket::from_std(socket.into())
}

/// Once a second (or when asked): read the keys, rotate the tags, re-advertise over mDNS
/// if they changed, send the beacon, forget quiet peers.
async fn tick_loop(shared: Arc<Shared>, socket: Option<Arc<UdpSocket>>) {
    let mut interval = tokio::time::interval(shared.config.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned_too_many = false;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shared.refresh.notified() => {}
        }
        let keys = (shared.keys)();
        if keys.len() > MAX_WORKSHOPS && !warned_too_many {
            warned_too_many = true;
            tracing::warn!(
                workshops = keys.len(),
                max = MAX_WORKSHOPS,
                "too many workshops to advertise; some won't be found"
            );
        }
        let window = tag_window(unix_secs());
        let (applied, advertised, sender) = {
            let mut engine = lock(&shared.engine);
            let applied = engine.set_keys(&keys, window);
            engine.expire(Instant::now());
            (applied, engine.advertised().to_vec(), engine.sender())
        };
        deliver(&shared, applied.discovered);
        if applied.advertised_changed {
            if let Some(mdns) = lock(&shared.mdns).as_mut() {
                match mdns.advertise(&advertised) {
                    Ok(()) => tracing::debug!(workshops = advertised.len(), "mDNS advertisement updated"),
                    Err(e) => tracing::warn!(error = %e, "could not update the mDNS advertisement"),
                }
            }
        }
        if let Some(socket) = &socket {
            let datagrams = beacon::encode(shared.config.listen_port, sender, &advertised);
            if datagrams.is_empty() {
                continue;
            }
            for target in targets::broadcast_targets(shared.config.scope, shared.config.beacon_port) {
                for datagram in &datagrams {
                    if let Err(e) = socket.send_to(datagram, target).await {
                        // Expected for 255.255.255.255 where there is no route for it.
                        tracing::trace!(%target, error = %e, "beacon not sent");
                    }
                }
            }
        }
    }
}

/// Receives beacons.
async fn beacon_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    // One byte more than the longest beacon, so a longer datagram shows as too long.
    let mut buf = [0u8; beacon::MAX_BEACON_LEN + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, from)) => {
                let found = lock(&shared.engine).on_datagram(Instant::now(), from, &buf[..len]);
                for discovered in found {
                    announce(&shared, discovered).await;
                }
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep going,
                // without spinning.
                tracing::trace!(error = %e, "beacon receive failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Receives mDNS browse events.
async fn browse_loop(shared: Arc<Shared>, browse: mdns_sd::Receiver<mdns_sd::ServiceEvent>) {
    while let Ok(event) = browse.recv_async().await {
        let found = match mdns::interpret(event) {
            Browsed::Resolved { fullname, tags, addrs } => {
                lock(&shared.engine).on_mdns_resolved(&fullname, tags, addrs)
            }
            Browsed::Removed { fullname } => {
                lock(&shared.engine).on_mdns_removed(&fullname);
                Vec::new()
            }
            Browsed::Other => Vec::new(),
        };
        for discovered in found {
            announce(&shared, discovered).await;
        }
    }
    tracing::debug!("mDNS browsing ended");
}

async fn announce(shared: &Shared, discovered: Discovered) {
    tracing::info!(
        workshop = %discovered.workshop,
        via = %discovered.via,
        addrs = ?discovered.addrs,
        "found a laptop of the workshop"
    );
    // Waiting here only slows discovery down while the caller is busy; a caller that has
    // gone away has stopped caring.
    let _ = shared.tx.send(discovered).await;
}

/// Delivers discoveries from outside a task (key changes, rediscover) without waiting.
fn deliver(shared: &Arc<Shared>, found: Vec<Discovered>) {
    if found.is_empty() {
        return;
    }
    let task_shared = shared.clone();
    shared.runtime.spawn(async move {
        for discovered in found {
            announce(&task_shared, discovered).await;
        }
    });
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these; if something did, the state is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
