//! Dialling another laptop for a workshop. samod calls [`SyncDialer::connect`] for the
//! first connection and again, with backoff, after each disconnection, so the keys are read
//! afresh every time: after a rotation the next attempt uses the new epoch.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use commonground_protocol::{derive_psk, HANDSHAKE_TIMEOUT};
use commonground_workshop::WorkshopId;
use futures::future::BoxFuture;
use rand::RngCore;
use tokio::net::TcpStream;
use tracing::Instrument;

use super::channel::{exchange_hello, initiate, rng, ChannelError, Established, FrameReader, Greeting};
use super::wire::{sync_preamble, NONCE_LEN};
use super::{lock, start_channel, Shared, SyncProblem, Verdict};
use crate::repo::{DialFailure, Link, LinkDialer};

/// Wait before the first retry.
pub(crate) const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// The longest wait between retries: on a local network a laptop that comes back should be
/// found again within seconds.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a TCP connect may take (well under the handshake timeout: this is a LAN).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a dialer that found its laptop already connected checks whether that channel
/// has ended.
const DUPLICATE_POLL: Duration = Duration::from_millis(250);

/// Dials one address for one workshop.
pub(crate) struct SyncDialer {
    pub(crate) shared: Weak<Shared>,
    pub(crate) workshop: WorkshopId,
    pub(crate) address: SocketAddr,
}

impl LinkDialer for SyncDialer {
    fn label(&self) -> String {
        self.address.to_string()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Link, DialFailure>> {
        let (weak, workshop, address) = (self.shared.clone(), self.workshop, self.address);
        let span = tracing::info_span!("dial", workshop = %workshop, %address);
        Box::pin(
            async move {
                let error = loop {
                    let Some(shared) = wanted(&weak, workshop, address) else {
                        return Err(DialFailure::Stop(io::Error::other("no longer wanted")));
                    };
                    let mut remote = None;
                    let attempt = tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        dial(&shared, workshop, address, &mut remote),
                    )
                    .await;
                    match attempt {
                        Ok(Ok(link)) => {
                            shared.note_problem(workshop, None);
                            shared.remember_addresses(workshop, &[address]);
                            return Ok(link);
                        }
                        Ok(Err(ChannelError::Duplicate)) => {
                            // Already connected to that laptop by the channel the one-channel
                            // rule keeps: a success. Wait for it to end, then dial again.
                            shared.note_problem(workshop, None);
                            shared.remember_addresses(workshop, &[address]);
                            tracing::debug!("already connected to that laptop; waiting");
                            drop(shared);
                            let Some(remote) = remote else { continue };
                            loop {
                                tokio::time::sleep(DUPLICATE_POLL).await;
                                let Some(shared) = wanted(&weak, workshop, address) else {
                                    return Err(DialFailure::Stop(io::Error::other("no longer wanted")));
                                };
                                if !shared.connected_to(workshop, &remote) {
                                    break;
                                }
                            }
                        }
                        Ok(Err(e)) => break e,
                        Err(_) => {
                            break ChannelError::Io(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "no answer in time",
                            ))
                        }
                    }
                };
                let Some(shared) = weak.upgrade() else {
                    return Err(DialFailure::Stop(io::Error::other("the node has stopped")));
                };
                let problem = if error.is_refusal() {
                    SyncProblem::Refused { address }
                } else {
                    SyncProblem::Unreachable { address }
                };
                tracing::debug!(error = %error, "couldn't connect; will retry");
                shared.note_problem(workshop, Some(problem));
                Err(DialFailure::Retry(io::Error::other(error.to_string())))
            }
            .instrument(span),
        )
    }
}

/// The node, if it is still running and still wants a connection to `address` for `workshop`.
fn wanted(shared: &Weak<Shared>, workshop: WorkshopId, address: SocketAddr) -> Option<Arc<Shared>> {
    let shared = shared.upgrade()?;
    let wanted = !shared.root.is_cancelled() && lock(&shared.dialers).contains_key(&(workshop, address));
    wanted.then_some(shared)
}

/// One attempt. `remote` is set to the other laptop's device key once the handshake has
/// shown it.
async fn dial(
    shared: &Arc<Shared>,
    workshop: WorkshopId,
    address: SocketAddr,
    remote_key: &mut Option<commonground_protocol::DevicePublicKey>,
) -> Result<Link, ChannelError> {
    let secrets = shared.secrets(workshop).ok_or(ChannelError::NotOnRoster)?;
    let doc = shared.doc_roster(workshop);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting took too long"))??;
    let _ = stream.set_nodelay(true);
    super::channel::tcp_keepalive(&stream);
    let (read, mut write) = stream.into_split();
    let mut reader = FrameReader::new(read);
    let mut nonce = [0u8; NONCE_LEN];
    rng()?.fill_bytes(&mut nonce);
    let preamble = sync_preamble(&secrets.secret, secrets.epoch, nonce);
    let psk = derive_psk(&secrets.secret, secrets.epoch);
    let epoch = secrets.epoch;
    let me = shared.me();
    // The listener must be someone this workshop lets in; the facilitator's "admit" rule is
    // for accepting, never for dialling.
    let allowed = |key: &_| super::judge(&secrets, key, epoch, &doc, me) == Verdict::Allow;
    let mut session = initiate(&mut reader, &mut write, &preamble, &shared.keypair, &psk, allowed).await?;
    let remote = session.remote_public_key();
    *remote_key = Some(remote);
    // The one-channel rule: don't make a channel the other laptop and this one would close.
    if shared.has_preferred_channel(workshop, &remote) {
        return Err(ChannelError::Duplicate);
    }
    match exchange_hello(&mut session, &mut reader, &mut write, &[], &shared.repo.peer_id()).await? {
        Greeting::Hello(hello) => {
            let (deflate, bundles) = (hello.reads_deflate(), hello.reads_bundles());
            let established = Established { session, reader, writer: write, deflate, bundles };
            let peer = hello.peer;
            start_channel(shared, established, workshop, epoch, remote, peer, address, true, &shared.root)
        }
        Greeting::Rotate(payload) => {
            shared.apply_rotation(workshop, remote, &payload);
            Err(ChannelError::Io(io::Error::other("moved to the workshop's new key; reconnecting")))
        }
    }
}
