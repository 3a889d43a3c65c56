//! Accepting connections: the preamble, the limits before authentication, and handing
//! authenticated channels to samod.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use commonground_protocol::{derive_psk, HANDSHAKE_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::channel::{exchange_hello, respond, ChannelError, Established, FrameReader, Greeting};
use super::error::{NetError, NetResult};
use super::wire::{self, NONCE_LEN, PREAMBLE_JOIN, PREAMBLE_SYNC};
use super::{join, lock, membership, start_channel, Shared, Verdict};

/// Limits for a listening node. The defaults are the design's; tests shorten the timeout.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// How long a connection may take from `accept` to an authenticated channel (or to the
    /// end of a code join). Default: the protocol's 10 s.
    pub handshake_timeout: Duration,
    /// Connections that may be setting up at once; more are closed as soon as they arrive.
    /// Default: 32.
    pub max_pre_auth: usize,
    /// A channel on which nothing has arrived for this long sends a ping. Default: 5 s.
    /// Applies to every channel this node runs from then on, dialled ones too.
    pub ping_interval: Duration,
    /// A channel on which nothing at all has arrived for this long is closed (its dialer
    /// reconnects). Default: 15 s. Applies like `ping_interval`.
    pub idle_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: HANDSHAKE_TIMEOUT,
            max_pre_auth: 32,
            ping_interval: super::channel::PING_INTERVAL,
            idle_timeout: super::channel::IDLE_TIMEOUT,
        }
    }
}

/// A listening socket. Dropping it stops listening and closes every connection accepted
/// through it (connections this node dialled are not affected).
#[derive(Debug)]
pub struct ServeHandle {
    address: SocketAddr,
    id: u64,
    token: CancellationToken,
    pre_auth: Arc<Semaphore>,
    max_pre_auth: usize,
    shared: Weak<Shared>,
}

impl ServeHandle {
    /// The address actually bound (with the port the system chose, if port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Connections currently setting up (not yet authenticated): at most
    /// [`ServeConfig::max_pre_auth`].
    pub fn pre_auth_connections(&self) -> usize {
        self.max_pre_auth - self.pre_auth.available_permits()
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(shared) = self.shared.upgrade() {
            lock(&shared.listening).retain(|(id, _)| *id != self.id);
        }
    }
}

pub(crate) async fn serve(
    shared: &Arc<Shared>,
    listen: SocketAddr,
    config: ServeConfig,
) -> NetResult<ServeHandle> {
    let listener =
        TcpListener::bind(listen).await.map_err(|source| NetError::Listen { address: listen, source })?;
    let address = listener.local_addr().map_err(|source| NetError::Listen { address: listen, source })?;
    let id = shared.next_id();
    *lock(&shared.keepalive) =
        super::channel::Keepalive { ping_interval: config.ping_interval, idle_timeout: config.idle_timeout };
    lock(&shared.listening).push((id, address));
    let token = shared.root.child_token();
    let pre_auth = Arc::new(Semaphore::new(config.max_pre_auth));
    let span = tracing::info_span!("listen", %address);
    tokio::spawn(
        accept_loop(shared.clone(), listener, token.clone(), pre_auth.clone(), config.handshake_timeout)
            .instrument(span),
    );
    tracing::info!(%address, "listening for other laptops");
    Ok(ServeHandle {
        address,
        id,
        token,
        pre_auth,
        max_pre_auth: config.max_pre_auth,
        shared: Arc::downgrade(shared),
    })
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    token: CancellationToken,
    pre_auth: Arc<Semaphore>,
    timeout: Duration,
) {
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, from) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "couldn't accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = pre_auth.clone().try_acquire_owned() else {
            tracing::debug!(%from, "too many connections setting up; closing this one");
            drop(stream);
            continue;
        };
        let span = tracing::info_span!("conn", %from, workshop = tracing::field::Empty);
        let conn_token = token.child_token();
        tokio::spawn(handle(shared.clone(), stream, from, permit, conn_token, timeout).instrument(span));
    }
    tracing::info!("stopped listening");
}

/// An authenticated channel and what it was matched to.
struct Ready {
    established: Established,
    matched: super::Matched,
    remote: commonground_protocol::DevicePublicKey,
    peer: String,
}

/// What came of a connection's setup.
enum Setup {
    /// An authenticated sync channel, ready to run (boxed: a Noise session is large).
    Channel(Box<Ready>),
    /// Nothing more to do (a code join, or a rotation handed to a member that was away).
    Done,
}

async fn handle(
    shared: Arc<Shared>,
    stream: TcpStream,
    from: SocketAddr,
    permit: OwnedSemaphorePermit,
    token: CancellationToken,
    timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    super::channel::tcp_keepalive(&stream);
    let setup = tokio::select! {
        () = token.cancelled() => return,
        setup = tokio::time::timeout(timeout, setup(&shared, stream, from)) => setup,
    };
    drop(permit);
    let (established, matched, remote, peer) = match setup {
        Err(_) => {
            tracing::debug!("setting up took too long; closed");
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "closed before authenticating");
            return;
        }
        Ok(Ok(Setup::Done)) => return,
        Ok(Ok(Setup::Channel(ready))) => {
            let Ready { established, matched, remote, peer } = *ready;
            (established, matched, remote, peer)
        }
    };
    let workshop = matched.workshop;
    match start_channel(&shared, established, workshop, matched.epoch, remote, peer, from, false, &token) {
        Ok(link) => {
            if shared.repo.accept(link).is_err() {
                token.cancel();
            }
        }
        Err(e) => tracing::debug!(error = %e, "refused after authenticating"),
    }
}

async fn setup(shared: &Arc<Shared>, mut stream: TcpStream, from: SocketAddr) -> Result<Setup, ChannelError> {
    let mut kind = [0u8; 1];
    stream.read_exact(&mut kind).await?;
    match kind[0] {
        PREAMBLE_SYNC => sync_setup(shared, stream).await,
        PREAMBLE_JOIN => {
            let Some(_slot) = shared.join_slot(from.ip()) else {
                return Err(ChannelError::Misbehaved("too many joins at once from one address"));
            };
            join::host(shared, stream).await?;
            Ok(Setup::Done)
        }
        _ => Err(ChannelError::Misbehaved("an unknown preamble")),
    }
}

async fn sync_setup(shared: &Arc<Shared>, mut stream: TcpStream) -> Result<Setup, ChannelError> {
    let mut rest = [0u8; NONCE_LEN + wire::CONN_TAG_LEN];
    stream.read_exact(&mut rest).await?;
    let (nonce, tag) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| ChannelError::Misbehaved("preamble"))?;
    let Some(matched) = shared.match_tag(&nonce, tag) else {
        return Err(ChannelError::Misbehaved("the preamble names no workshop here"));
    };
    tracing::Span::current().record("workshop", tracing::field::display(matched.workshop));
    let workshop = matched.workshop;
    let (read, mut write) = stream.into_split();
    let mut reader = FrameReader::new(read);
    let psk = derive_psk(&matched.secret, matched.epoch);
    let (mut session, confirm) = respond(&mut reader, &mut write, &shared.keypair, &psk).await?;
    let remote = session.remote_public_key();
    let doc = shared.doc_roster(workshop);

    if matched.previous {
        // A member that missed a rotation: if it is still on the roster, and this laptop is
        // the facilitator's (whose rotations members accept), hand it the new keys and close.
        let current = shared.secrets(workshop).map(|s| s.epoch);
        let allowed =
            current.is_some_and(|epoch| shared.verdict(workshop, &remote, epoch, &doc) == Verdict::Allow);
        if allowed && shared.is_facilitator(workshop) {
            if let Some(welcome) = shared.welcome(workshop) {
                let mut out = confirm;
                out.extend_from_slice(&session.seal(&wire::rotate(&welcome)?)?);
                write.write_all(&out).await?;
                let _ = write.shutdown().await;
                tracing::info!(device = %membership::fingerprint(&remote), "handed the new key to a laptop that was away");
            }
        }
        return Ok(Setup::Done);
    }

    match shared.verdict(workshop, &remote, matched.epoch, &doc) {
        Verdict::Allow => {}
        Verdict::Admit => {
            if !shared.admit(workshop, remote) {
                return Err(ChannelError::NotOnRoster);
            }
        }
        // No confirmation: to the dialer this looks just like a wrong key.
        Verdict::Refuse => return Err(ChannelError::NotOnRoster),
    }
    match exchange_hello(&mut session, &mut reader, &mut write, &confirm, &shared.repo.peer_id()).await? {
        Greeting::Hello(hello) => {
            let (deflate, bundles) = (hello.reads_deflate(), hello.reads_bundles());
            let established = Established { session, reader, writer: write, deflate, bundles };
            let peer = hello.peer;
            Ok(Setup::Channel(Box::new(Ready { established, matched, remote, peer })))
        }
        Greeting::Rotate(_) => Err(ChannelError::Misbehaved("only the listener hands over keys")),
    }
}
