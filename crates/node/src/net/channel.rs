//! A Noise channel over one TCP connection, in three steps: the handshake (either side),
//! the hello that names each side's samod peer id, and then two tasks that carry messages
//! between the socket and samod.
//!
//! **Memory is bounded by design.** Every read goes through a [`FrameDecoder`], which holds
//! at most one frame (64 KiB) whatever a header claims; the session's assembler holds at most
//! one message (16 MiB, refused at its header); before the hello, a message may not grow past
//! `MAX_GREETING_LEN` (one join message, about 33 KiB); and at most [`INBOUND_QUEUE`] finished
//! messages wait for samod (merged while they wait: `inbox.rs`), after which the reader stops
//! reading and TCP pushes back on the sender. Outbound, samod's own
//! queue is unbounded, so the sink given to samod never blocks (blocking it would stop samod
//! reading this connection and could deadlock two laptops that both have a lot to say), but a
//! peer that stops reading while more than [`OUTBOUND_LIMIT`] bytes wait is disconnected.
//!
//! **Queued sync messages are merged.** When samod's messages queue up behind a busy socket,
//! the writer merges consecutive sync messages for the same document into one before sending
//! (`crate::repo::coalesce`, which explains why that means the same to the receiver): the
//! other laptop then takes one step for them instead of one each. Nothing is held back for
//! it; only what is already waiting is merged, up to 4 MiB a message.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use commonground_protocol::{
    DeviceKeypair, DevicePublicKey, FrameDecoder, Handshake, ProtocolError, Session, MAX_MESSAGE_LEN, PSK_LEN,
};
use futures::Sink;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::inbox::{inbox, Barrier, Incoming, MAX_MERGES};
use crate::repo::coalesce;

use super::wire::{
    hello, inflate, parse_hello, sync_message, PeerHello, KIND_HELLO, KIND_PING, KIND_PONG, KIND_ROTATE,
    KIND_SYNC, KIND_SYNC_DEFLATE,
};

/// The longest first message: a rotation with a full roster (a hello is far shorter).
const MAX_GREETING_LEN: usize = 1 + commonground_protocol::MAX_JOIN_MESSAGE_LEN;

/// Finished inbound messages that may wait for samod before the reader stops reading.
pub(crate) const INBOUND_QUEUE: usize = 2;
/// Bytes that may wait to be sent to a peer before it is disconnected for not reading.
pub(crate) const OUTBOUND_LIMIT: usize = 64 * 1024 * 1024;
/// How much is read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// How a running channel notices that the other end has gone quiet (a cut link, a laptop
/// that went to sleep): a ping when nothing has arrived for `ping_interval`, and the channel
/// closes once nothing at all has arrived for `idle_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
}

/// Send a ping after this long with nothing from the other laptop.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(5);
/// Close a channel after this long with nothing at all from the other laptop.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

impl Default for Keepalive {
    fn default() -> Self {
        Self { ping_interval: PING_INTERVAL, idle_timeout: IDLE_TIMEOUT }
    }
}

/// Turns on TCP keepalive on a connection: a second line behind the channel's own pings, for
/// a peer whose kernel is gone (and so never answers the pings' TCP segments either).
pub(crate) fn tcp_keepalive(stream: &tokio::net::TcpStream) {
    let params = socket2::TcpKeepalive::new().with_time(Duration::from_secs(10));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let params = params.with_interval(Duration::from_secs(5));
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&params) {
        tracing::debug!(error = %e, "couldn't turn on TCP keepalive");
    }
}

/// Why a channel could not be set up or stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChannelError {
    #[error("network: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The other side closed the connection while we waited for it.
    #[error("the other laptop closed the connection")]
    Closed,
    /// The other side's device key is not one this workshop lets in.
    #[error("the other laptop isn't on this workshop's roster")]
    NotOnRoster,
    /// This laptop already has a channel to that laptop for the workshop (see the `net`
    /// module docs: one channel per workshop and device).
    #[error("already connected to that laptop")]
    Duplicate,
    /// The other side broke the channel's own rules.
    #[error("the other laptop broke the protocol ({0})")]
    Misbehaved(&'static str),
    #[error("a random number source failed")]
    Randomness,
}

impl ChannelError {
    /// Whether this looks like the other laptop turning us away (an old key, a removed
    /// device, another workshop) rather than the network failing.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            ChannelError::Closed
                | ChannelError::NotOnRoster
                | ChannelError::Protocol(ProtocolError::HandshakeFailed)
                | ChannelError::Protocol(ProtocolError::Truncated)
        )
    }
}

pub(crate) fn rng() -> Result<StdRng, ChannelError> {
    StdRng::try_from_os_rng().map_err(|_| ChannelError::Randomness)
}

/// Reads Noise frames from a socket through a [`FrameDecoder`]: at most one frame and one
/// read chunk held, whatever the peer sends.
pub(crate) struct FrameReader<R> {
    io: R,
    decoder: FrameDecoder,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(io: R) -> Self {
        Self {
            io,
            decoder: FrameDecoder::new(),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The next frame; `None` at a clean end of stream, an error if it ends inside a frame.
    pub(crate) async fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ChannelError> {
        loop {
            if self.start < self.end {
                let mut input = &self.buf[self.start..self.end];
                let before = input.len();
                let frame = self.decoder.decode(&mut input)?;
                self.start += before - input.len();
                if frame.is_some() {
                    return Ok(frame);
                }
            }
            let n = self.io.read(&mut self.buf).await?;
            if n == 0 {
                self.decoder.finish()?;
                return Ok(None);
            }
            self.start = 0;
            self.end = n;
        }
    }
}

async fn frame_or_closed<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>) -> Result<Vec<u8>, ChannelError> {
    reader.next_frame().await?.ok_or(ChannelError::Closed)
}

/// The dialling side's handshake. `first` (the sync preamble) goes out in the same write as
/// Noise message 1. The responder's key is checked with `allowed` *before* message 3, so a
/// laptop that isn't on the roster never learns ours.
pub(crate) async fn initiate(
    reader: &mut FrameReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    first: &[u8],
    keypair: &DeviceKeypair,
    psk: &[u8; PSK_LEN],
    allowed: impl FnOnce(&DevicePublicKey) -> bool,
) -> Result<Session, ChannelError> {
    let (mut handshake, msg1) = Handshake::initiate(keypair, psk, &mut rng()?)?;
    let mut out = Vec::with_capacity(first.len() + msg1.len());
    out.extend_from_slice(first);
    out.extend_from_slice(&msg1);
    writer.write_all(&out).await?;
    let msg2 = frame_or_closed(reader).await?;
    let msg3 = handshake.receive(&msg2)?.ok_or(ChannelError::Misbehaved("no third message"))?;
    let remote = handshake.remote_public_key().ok_or(ChannelError::Misbehaved("no responder key"))?;
    if !allowed(&remote) {
        return Err(ChannelError::NotOnRoster);
    }
    writer.write_all(&msg3).await?;
    let confirm = frame_or_closed(reader).await?;
    handshake.receive(&confirm)?;
    Ok(handshake.into_session()?)
}

/// The accepting side's handshake, up to (not including) its confirmation: returns the
/// session and the confirmation to write once the caller has checked the initiator's key.
pub(crate) async fn respond(
    reader: &mut FrameReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    keypair: &DeviceKeypair,
    psk: &[u8; PSK_LEN],
) -> Result<(Session, Vec<u8>), ChannelError> {
    let mut handshake = Handshake::respond(keypair, psk, &mut rng()?)?;
    let msg1 = frame_or_closed(reader).await?;
    let msg2 = handshake.receive(&msg1)?.ok_or(ChannelError::Misbehaved("no second message"))?;
    writer.write_all(&msg2).await?;
    let msg3 = frame_or_closed(reader).await?;
    let confirm = handshake.receive(&msg3)?.ok_or(ChannelError::Misbehaved("no confirmation"))?;
    Ok((handshake.into_session()?, confirm))
}

/// The first message on a channel.
pub(crate) enum Greeting {
    /// The other side's samod peer id and features.
    Hello(PeerHello),
    /// Instead of a hello, the facilitator's laptop handed over a newer key (we dialled with
    /// the previous epoch's); the connection ends after it.
    Rotate(Vec<u8>),
}

/// Sends our hello (and `before`, e.g. the responder's confirmation, in the same write) and
/// reads theirs, which must be the first message and small.
pub(crate) async fn exchange_hello(
    session: &mut Session,
    reader: &mut FrameReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    before: &[u8],
    my_peer: &str,
) -> Result<Greeting, ChannelError> {
    let mut out = before.to_vec();
    out.extend_from_slice(&session.seal(&hello(my_peer))?);
    writer.write_all(&out).await?;
    loop {
        let frame = frame_or_closed(reader).await?;
        if let Some(message) = session.open(&frame)? {
            if let [KIND_ROTATE, payload @ ..] = message.as_slice() {
                return Ok(Greeting::Rotate(payload.to_vec()));
            }
            return parse_hello(&message)
                .map(Greeting::Hello)
                .ok_or(ChannelError::Misbehaved("the first message must be a hello"));
        }
        // A rotation is at most a few KiB; a hello far less.
        if session.buffered() > MAX_GREETING_LEN {
            return Err(ChannelError::Misbehaved("the first message is too long"));
        }
    }
}

/// What the writer task sends.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A samod message (framed by the writer: see [`sync_message`]), counted against
    /// [`OUTBOUND_LIMIT`] with one byte for its kind.
    Sync(Vec<u8>),
    /// One of our own messages (kind byte first).
    Control(Vec<u8>),
    /// Send everything before this, then close the connection.
    Close,
}

/// The sink samod writes its messages to: never blocks (see the module docs), but fails and
/// closes the channel once more than [`OUTBOUND_LIMIT`] bytes are waiting.
pub(crate) struct OutboundSink {
    tx: mpsc::UnboundedSender<Outbound>,
    queued: Arc<AtomicUsize>,
    token: CancellationToken,
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the connection to the other laptop is closed")
}

impl Sink<Vec<u8>> for OutboundSink {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.tx.is_closed() || self.token.is_cancelled() {
            Poll::Ready(Err(closed_error()))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn start_send(self: Pin<&mut Self>, item: Vec<u8>) -> io::Result<()> {
        let len = item.len() + 1;
        let waiting = self.queued.fetch_add(len, Ordering::Relaxed) + len;
        if waiting > OUTBOUND_LIMIT {
            tracing::warn!(waiting, "the other laptop isn't reading; disconnecting");
            self.token.cancel();
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "the other laptop isn't reading"));
        }
        self.tx.send(Outbound::Sync(item)).map_err(|_| closed_error())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.tx.send(Outbound::Close);
        Poll::Ready(Ok(()))
    }
}

/// A channel past its hello, ready to run.
pub(crate) struct Established {
    pub(crate) session: Session,
    pub(crate) reader: FrameReader<OwnedReadHalf>,
    pub(crate) writer: OwnedWriteHalf,
    /// Whether the other laptop reads compressed sync messages (its hello said so).
    pub(crate) deflate: bool,
    /// Whether it reads Automerge bundles in sync messages (its hello said so).
    pub(crate) bundles: bool,
}

/// A running channel: samod's ends, and a way to send our own messages.
pub(crate) struct Running {
    /// Messages from the peer for samod.
    pub(crate) incoming: Incoming,
    /// samod's messages to the peer.
    pub(crate) sink: OutboundSink,
    /// Our own messages to the peer (a rotation), in order with samod's.
    pub(crate) control: mpsc::UnboundedSender<Outbound>,
}

fn lock(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the reader and writer tasks. Both stop when `token` is cancelled, and either one
/// ending cancels it. Messages wait for samod in an inbox (`inbox.rs`) that hands them over
/// one at a time, after `barrier` says the document has handled the one before; `on_end` runs once both have stopped. A rotation from the peer is
/// handed to `on_rotate` (in the reader task, in order with samod's messages). A third task
/// pings the peer when it has been quiet and closes the channel when it stays silent (see
/// [`Keepalive`]); pings are answered with pongs, in order with samod's messages.
pub(crate) fn run(
    established: Established,
    token: CancellationToken,
    span: tracing::Span,
    keepalive: Keepalive,
    barrier: Option<Barrier>,
    on_rotate: impl Fn(&[u8]) + Send + Sync + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Running {
    let Established { session, mut reader, mut writer, deflate, bundles: _ } = established;
    let session = Arc::new(Mutex::new(session));
    let (inbox, incoming) = inbox(barrier);
    let (control, mut outbound) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let sink = OutboundSink { tx: control.clone(), queued: queued.clone(), token: token.clone() };

    // When something last arrived (milliseconds since `started`), and whether the reader is
    // waiting for samod to take a message (the peer isn't silent then: we aren't reading).
    let started = Instant::now();
    let heard = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicBool::new(false));
    let since = move || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    let read_session = session.clone();
    let read_token = token.clone();
    let (read_heard, read_busy, pong) = (heard.clone(), busy.clone(), control.clone());
    let reader_task = tokio::spawn(
        async move {
            let read = async {
                loop {
                    let Some(frame) = reader.next_frame().await? else { return Ok(()) };
                    read_heard.store(since(), Ordering::Relaxed);
                    let message = lock(&read_session).open(&frame)?;
                    let Some(mut message) = message else { continue };
                    match message.first().copied() {
                        Some(kind @ (KIND_SYNC | KIND_SYNC_DEFLATE)) => {
                            if kind == KIND_SYNC {
                                message.remove(0);
                            } else {
                                message = inflate(&message[1..], MAX_MESSAGE_LEN).ok_or(
                                    ChannelError::Misbehaved("a compressed message that doesn't inflate"),
                                )?;
                            }
                            read_busy.store(true, Ordering::Relaxed);
                            let sent = inbox.push(message).await;
                            read_busy.store(false, Ordering::Relaxed);
                            read_heard.store(since(), Ordering::Relaxed);
                            sent.map_err(|_| ChannelError::Closed)?;
                        }
                        Some(KIND_PING) => {
                            let _ = pong.send(Outbound::Control(vec![KIND_PONG]));
                        }
                        Some(KIND_PONG) => {}
                        Some(KIND_ROTATE) => on_rotate(&message[1..]),
                        Some(KIND_HELLO) => return Err(ChannelError::Misbehaved("a second hello")),
                        _ => return Err(ChannelError::Misbehaved("an unknown message")),
                    }
                }
            };
            let result: Result<(), ChannelError> = tokio::select! {
                () = read_token.cancelled() => Ok(()),
                result = read => result,
            };
            match &result {
                Ok(()) => tracing::debug!("the other laptop closed the connection"),
                Err(e) => tracing::debug!(error = %e, "closing the connection"),
            }
            read_token.cancel();
        }
        .instrument(span.clone()),
    );

    let write_token = token.clone();
    let writer_task = tokio::spawn(
        async move {
            let write = async {
                // A message taken from the queue that couldn't be merged into the one before it.
                let mut next = None;
                loop {
                    let out = match next.take() {
                        Some(out) => out,
                        None => match outbound.recv().await {
                            Some(out) => out,
                            None => break,
                        },
                    };
                    match out {
                        Outbound::Sync(mut samod) => {
                            // samod's messages queued behind this one while the socket was busy
                            // are merged into it where that means the same (`coalesce`).
                            let mut counted = samod.len() + 1;
                            let mut merges = 0;
                            while merges < MAX_MERGES {
                                let Ok(following) = outbound.try_recv() else { break };
                                let merged = match &following {
                                    Outbound::Sync(other) => coalesce(&samod, other),
                                    _ => None,
                                };
                                let Some(merged) = merged else {
                                    next = Some(following);
                                    break;
                                };
                                if let Outbound::Sync(other) = &following {
                                    counted += other.len() + 1;
                                }
                                samod = merged;
                                merges += 1;
                            }
                            let message = sync_message(&samod, deflate);
                            drop(samod);
                            let wire = lock(&session).seal(&message)?;
                            queued.fetch_sub(counted, Ordering::Relaxed);
                            drop(message);
                            writer.write_all(&wire).await?;
                        }
                        Outbound::Control(message) => {
                            let wire = lock(&session).seal(&message)?;
                            writer.write_all(&wire).await?;
                        }
                        Outbound::Close => break,
                    }
                }
                let _ = writer.shutdown().await;
                Ok::<(), ChannelError>(())
            };
            tokio::select! {
                () = write_token.cancelled() => {}
                result = write => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "couldn't send to the other laptop");
                    }
                }
            }
            write_token.cancel();
        }
        .instrument(span.clone()),
    );

    let ping_token = token.clone();
    let ping = control.clone();
    tokio::spawn(
        async move {
            let check =
                (keepalive.ping_interval.min(keepalive.idle_timeout) / 2).max(Duration::from_millis(10));
            loop {
                tokio::select! {
                    () = ping_token.cancelled() => break,
                    () = tokio::time::sleep(check) => {}
                }
                if busy.load(Ordering::Relaxed) {
                    continue;
                }
                let quiet = Duration::from_millis(since().saturating_sub(heard.load(Ordering::Relaxed)));
                if quiet >= keepalive.idle_timeout {
                    tracing::debug!(
                        quiet_ms = quiet.as_millis() as u64,
                        "the other laptop has gone quiet; closing"
                    );
                    ping_token.cancel();
                    break;
                }
                if quiet >= keepalive.ping_interval.min(keepalive.idle_timeout / 2)
                    && ping.send(Outbound::Control(vec![KIND_PING])).is_err()
                {
                    break;
                }
            }
        }
        .instrument(span),
    );

    tokio::spawn(async move {
        let _ = reader_task.await;
        let _ = writer_task.await;
        on_end();
    });

    Running { incoming, sink, control }
}
