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
        let (shared, workshop, address) = (self.shared.clone(), self.workshop, self.address);
        let span = tracing::info_span!("dial", workshop = %workshop, %address);
        Box::pin(
            async move {
                let Some(shared) = shared.upgrade() else {
                    return Err(DialFailure::Stop(io::Error::other("the node has stopped")));
                };
                if !lock(&shared.dialers).contains_key(&(workshop, address)) {
                    return Err(DialFailure::Stop(io::Error::other("no longer wanted")));
                }
                let attempt = tokio::time::timeout(HANDSHAKE_TIMEOUT, dial(&shared, workshop, address)).await;
                let error = match attempt {
                    Ok(Ok(link)) => {
                        shared.note_problem(workshop, None);
                        return Ok(link);
                    }
                    Ok(Err(e)) => e,
                    Err(_) => ChannelError::Io(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
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

async fn dial(shared: &Arc<Shared>, workshop: WorkshopId, address: SocketAddr) -> Result<Link, ChannelError> {
    let secrets = shared.secrets(workshop).ok_or(ChannelError::NotOnRoster)?;
    let doc = shared.doc_roster(workshop);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting took too long"))??;
    let _ = stream.set_nodelay(true);
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
    match exchange_hello(&mut session, &mut reader, &mut write, &[], &shared.repo.peer_id()).await? {
        Greeting::Hello(peer) => {
            let established = Established { session, reader, writer: write };
            start_channel(shared, established, workshop, epoch, remote, peer, address, true, &shared.root)
        }
        Greeting::Rotate(payload) => {
            shared.apply_rotation(workshop, remote, &payload);
            Err(ChannelError::Io(io::Error::other("moved to the workshop's new key; reconnecting")))
        }
    }
}
