//! The 6-digit code join over a socket, both sides. The exchange itself (SPAKE2, key
//! confirmation, the sealed welcome) is the protocol crate's; this carries each message in
//! one `u16`-length frame after the `0x02` preamble, and keeps to the code's limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use commonground_protocol::{
    encode_frame, refusal_for, HostJoin, JoinCode, JoinRequest, JoinerState, JoinerStep, ProtocolError,
    Welcome, JOIN_EXCHANGE_TIMEOUT,
};
use commonground_workshop::WorkshopId;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::channel::{rng, ChannelError, FrameReader};
use super::error::{NetError, NetResult};
use super::wire::PREAMBLE_JOIN;
use super::{lock, membership, Shared};

/// How long a TCP connect to the facilitator's laptop may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn write_message(
    writer: &mut OwnedWriteHalf,
    prefix: &[u8],
    message: &[u8],
) -> Result<(), ChannelError> {
    let mut out = prefix.to_vec();
    encode_frame(message, &mut out)?;
    writer.write_all(&out).await?;
    Ok(())
}

/// Tells the joiner why, if it should hear (a wrong code, an expired or spent one), then
/// gives back the error.
async fn refuse(writer: &mut OwnedWriteHalf, error: ProtocolError) -> ChannelError {
    if let Some(refusal) = refusal_for(&error) {
        let _ = write_message(writer, &[], &refusal).await;
        let _ = writer.shutdown().await;
    }
    ChannelError::Protocol(error)
}

/// The facilitator's side, after the `0x02` preamble: runs the exchange against the live
/// code, admits the new device to the roster and sends it the welcome.
pub(crate) async fn host(shared: &Arc<Shared>, stream: TcpStream) -> Result<(), ChannelError> {
    let (read, mut write) = stream.into_split();
    let mut reader = FrameReader::new(read);
    let hello = reader.next_frame().await?.ok_or(ChannelError::Closed)?;
    let started = {
        let mut gate = lock(&shared.gate);
        let Some(gate) = gate.as_mut() else {
            return Err(ChannelError::Misbehaved("no code is being shown"));
        };
        HostJoin::start(gate, Instant::now(), &hello, &mut rng()?)
    };
    let (mut exchange, challenge) = match started {
        Ok(started) => started,
        Err(e) => return Err(refuse(&mut write, e).await),
    };
    write_message(&mut write, &[], &challenge).await?;
    let request = match reader.next_frame().await {
        Ok(Some(request)) => request,
        other => {
            if let Some(gate) = lock(&shared.gate).as_mut() {
                exchange.abandon(gate);
            }
            return Err(match other {
                Err(e) => e,
                _ => ChannelError::Closed,
            });
        }
    };
    let received = {
        let mut gate = lock(&shared.gate);
        match gate.as_mut() {
            Some(gate) => exchange.receive(gate, Instant::now(), &request).map(|r| (r, gate.workshop_id())),
            None => Err(ProtocolError::JoinTimedOut),
        }
    };
    let (JoinRequest { device, .. }, workshop) = match received {
        Ok(received) => received,
        Err(e) => {
            tracing::info!(error = e.kind(), "a code join was refused");
            return Err(refuse(&mut write, e).await);
        }
    };
    let workshop = WorkshopId::from_uuid(workshop);
    if !shared.admit(workshop, device) {
        // A removed device, or storage failed: it learns nothing, not even why.
        return Err(ChannelError::NotOnRoster);
    }
    let welcome = shared.welcome(workshop).ok_or(ChannelError::NotOnRoster)?;
    let message = exchange.welcome(&welcome)?;
    write_message(&mut write, &[], &message).await?;
    let _ = write.shutdown().await;
    tracing::info!(workshop = %workshop, device = %membership::fingerprint(&device), "a laptop joined with the code");
    Ok(())
}

/// The joining side: runs the exchange with the laptop at `address` and returns its welcome.
pub(crate) async fn join(
    shared: &Arc<Shared>,
    address: SocketAddr,
    code: &JoinCode,
    name: &str,
) -> NetResult<Welcome> {
    let request = JoinRequest { device: shared.me(), name: name.as_bytes().to_vec() };
    let mut rng = rng().map_err(|_| NetError::Protocol(ProtocolError::Internal("randomness")))?;
    let (mut joiner, hello) = JoinerState::start(code, request, None, &mut rng)?;
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => return Err(NetError::Unreachable { address, source }),
        Err(_) => {
            let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer");
            return Err(NetError::Unreachable { address, source });
        }
    };
    let _ = stream.set_nodelay(true);
    let exchange = async move {
        let (read, mut write) = stream.into_split();
        let mut reader = FrameReader::new(read);
        let io = |e: ChannelError| match e {
            ChannelError::Protocol(p) => NetError::Protocol(p),
            _ => NetError::Closed,
        };
        write_message(&mut write, &[PREAMBLE_JOIN], &hello).await.map_err(io)?;
        loop {
            let Some(message) = reader.next_frame().await.map_err(io)? else { return Err(NetError::Closed) };
            match joiner.receive(&message)? {
                JoinerStep::Send(reply) => write_message(&mut write, &[], &reply).await.map_err(io)?,
                JoinerStep::Joined(welcome) => return Ok(welcome),
            }
        }
    };
    tokio::time::timeout(JOIN_EXCHANGE_TIMEOUT, exchange).await.map_err(|_| NetError::TimedOut)?
}
