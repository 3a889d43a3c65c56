//! Carrying on from home through a stock automerge-repo sync server (the npm
//! `@automerge/automerge-repo-sync-server`, or anything speaking its protocol) that an
//! organisation already runs: samod syncs one workshop with it over a plain `ws://`
//! WebSocket, in automerge-repo's own CBOR wire protocol, which samod speaks natively.
//!
//! Unlike a laptop in the room, the server is not a member: it has no device key, no Noise
//! channel and no workshop secret, and it can read everything it is given (the UI must say
//! so). So what it is given is kept to the one workshop it was set up for:
//!
//! - **Which peer.** The server is known only by the address this laptop dialled. Its samod
//!   peer id is whatever its handshake claims: the first message it sends on a connection
//!   (automerge-repo's `peer`, the answer to samod's `join`) is read here, before samod sees
//!   it, and that peer id is granted the workshop in the share policy ([`SyncAccess`]) for as
//!   long as the connection lasts. Only the first message is read; any later `peer` message
//!   is samod's to refuse.
//! - **Only that workshop.** The share policy answers per document and peer id: every other
//!   document on this laptop is refused to that peer id, so samod neither announces it nor
//!   answers a request for it (the server gets "unavailable").
//! - **No borrowed identities.** A peer id belongs to one owner at a time: a server that
//!   claims the peer id of a laptop connected here (or of another server) is refused and the
//!   connection closed, so it can't reach the workshops that laptop may sync. The stock
//!   server's peer id is fixed (`storage-server-<its host name>`), so one server set up for
//!   two workshops is one owner with two grants, which is what was asked for.
//! - **No TLS.** Only `ws://`: the node carries no TLS library (no OpenSSL, no rustls), so a
//!   `wss://` address is refused with an error that says so, rather than silently sent in
//!   the clear. Put the server on a network you trust, or behind a tunnel.
//!
//! samod dials the server again after each disconnection, with backoff (as it does laptops),
//! until the [`ServerSync`] handle is dropped. Nothing personal is logged: the server is
//! named in logs by its host and port only, never by the full address (which may carry a
//! token).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use commonground_workshop::WorkshopId;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::Instrument;

use crate::error::{NodeError, Result};
use crate::net::SyncAccess;
use crate::node::Node;
use crate::repo::{automerge_url, DialFailure, Dialing, Link, LinkDialer};

/// Wait before the first retry.
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
/// The longest wait between retries: a server is on the internet, not in the room, and an
/// outage may last a while; a minute between tries is plenty.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long the TCP connect and the WebSocket upgrade may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the server may take to answer samod's handshake once the WebSocket is open. (The
/// stock server silently ignores connections that arrive while it is still starting, then
/// drops them 5 s later; another server might keep them open for ever.)
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest WebSocket message accepted from the server. A whole workshop's first sync
/// message can be a few megabytes; anything near this is not a workshop.
const MAX_MESSAGE: usize = 64 << 20;
/// The largest WebSocket frame accepted (a message may span frames).
const MAX_FRAME: usize = 16 << 20;
/// The longest peer id accepted from a server (the stock server's is `storage-server-` and
/// its host name, at most 253 bytes).
const MAX_PEER_ID: usize = 300;

/// One workshop syncing with a sync server, until dropped (which disconnects).
#[derive(Debug)]
pub struct ServerSync {
    workshop: WorkshopId,
    server: String,
    connected: watch::Receiver<bool>,
    _dialing: Dialing,
}

impl ServerSync {
    /// The workshop being synced.
    pub fn workshop(&self) -> WorkshopId {
        self.workshop
    }

    /// The server's host and port (without anything else the address carried).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the server is connected now: its handshake has arrived and it was allowed the
    /// workshop.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Whether the server is connected, and every change to that.
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.connected.clone()
    }

    /// The automerge-repo URL of the workshop's document, by which automerge-repo peers of
    /// the same server can find it.
    pub fn document_url(&self) -> String {
        automerge_url(self.workshop)
    }
}

/// The automerge-repo URL of a workshop's document (`automerge:` and the base58check of the
/// workshop id's 16 bytes): how JS automerge-repo peers and sync servers name it.
pub fn workshop_automerge_url(workshop: WorkshopId) -> String {
    automerge_url(workshop)
}

impl Node {
    /// Syncs a workshop with a stock automerge-repo sync server at `url` (`ws://host:port/…`),
    /// now and again after each disconnection, until the returned handle is dropped. Only
    /// this workshop is shared with the server; it can read it.
    ///
    /// Refused straight away if the address isn't a `ws://` address (`wss://` included: this
    /// build has no TLS) or the workshop isn't on this laptop; an unreachable server is not an
    /// error, it is tried again with backoff ([`ServerSync::is_connected`] says how it is going).
    pub async fn sync_server(&self, workshop: WorkshopId, url: &str) -> Result<ServerSync> {
        let target = ServerAddress::parse(url)?;
        // Loaded first, so samod has the document running and announces it to the server as
        // soon as the handshake is done (the stock server never asks for documents itself).
        self.workshop(workshop).await?;
        let (connected_tx, connected) = watch::channel(false);
        let dialer = ServerDialer {
            workshop,
            url: url.to_owned(),
            server: target.label.clone(),
            access: self.access().clone(),
            connected: Arc::new(connected_tx),
        };
        let dialing = self.repo().dial(Arc::new(dialer), BACKOFF_INITIAL, BACKOFF_MAX)?;
        tracing::info!(workshop = %workshop, server = %target.label, "syncing with a sync server");
        Ok(ServerSync { workshop, server: target.label, connected, _dialing: dialing })
    }
}

/// A checked server address.
struct ServerAddress {
    /// `host:port`, for logs and the share policy.
    label: String,
}

impl ServerAddress {
    fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| NodeError::SyncServerAddress(why.to_owned());
        let trimmed = url.trim();
        let scheme = trimmed.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("ws") => {}
            Some("wss") | Some("https") => return Err(bad(
                "it starts with wss:// (a secure connection), and Common Ground can only reach sync servers \
                     over plain ws:// for now. Use the server's ws:// address on a network you trust, or ask \
                     whoever runs it for one",
            )),
            _ => {
                return Err(bad(
                    "sync server addresses start with ws://, for example ws://sync.example.org:3030",
                ))
            }
        }
        let uri: Uri = trimmed.parse().map_err(|_| bad("it isn't a web address Common Ground can read"))?;
        let authority = uri.authority().ok_or_else(|| bad("it has no server name"))?;
        if authority.as_str().contains('@') {
            return Err(bad("it has a user name or password in it, which sync servers don't use"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("it has no server name"));
        }
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self { label: format!("{host}:{port}") })
    }
}

/// Dials the sync server for one workshop. samod calls [`LinkDialer::connect`] for the first
/// connection and again, with backoff, after each disconnection.
struct ServerDialer {
    workshop: WorkshopId,
    /// The full address (may carry a token in its path or query: never logged).
    url: String,
    /// `host:port`.
    server: String,
    access: SyncAccess,
    connected: Arc<watch::Sender<bool>>,
}

impl LinkDialer for ServerDialer {
    fn label(&self) -> String {
        self.server.clone()
    }

    fn connect(&self) -> BoxFuture<'static, std::result::Result<Link, DialFailure>> {
        let (url, workshop, server) = (self.url.clone(), self.workshop, self.server.clone());
        let (access, connected) = (self.access.clone(), self.connected.clone());
        let span = tracing::info_span!("sync_server", workshop = %workshop, server = %server);
        Box::pin(
            async move {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_MESSAGE))
                    .max_frame_size(Some(MAX_FRAME));
                let attempt = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true),
                )
                .await;
                let socket = match attempt {
                    Ok(Ok((socket, _response))) => socket,
                    Ok(Err(e)) => {
                        // The error may quote the address: only its kind is logged.
                        tracing::debug!(error = error_kind(&e), "couldn't reach the sync server; will retry");
                        return Err(DialFailure::Retry(io::Error::other(error_kind(&e))));
                    }
                    Err(_) => {
                        tracing::debug!("the sync server didn't answer in time; will retry");
                        return Err(DialFailure::Retry(io::Error::new(io::ErrorKind::TimedOut, "no answer")));
                    }
                };
                tracing::debug!("connected to the sync server");
                Ok(link(socket, workshop, server, access, connected))
            }
            .instrument(span),
        )
    }
}

/// A tungstenite error's kind, without anything it quotes.
fn error_kind(e: &tokio_tungstenite::tungstenite::Error) -> &'static str {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Io(_) => "network error",
        Error::Http(_) => "the server answered, but not as a sync server",
        Error::Url(_) => "unusable address",
        Error::Tls(_) => "secure connections are not supported",
        Error::Capacity(_) => "message too large",
        Error::Protocol(_) => "WebSocket protocol error",
        _ => "connection failed",
    }
}

/// The server's grant in the share policy for one connection: given when its handshake
/// arrives, taken back when samod drops the connection.
struct Grant {
    workshop: WorkshopId,
    peer: Option<String>,
    access: SyncAccess,
    connected: Arc<watch::Sender<bool>>,
}

impl Drop for Grant {
    fn drop(&mut self) {
        if let Some(peer) = self.peer.take() {
            self.access.revoke(self.workshop, &peer);
            self.connected.send_replace(false);
            tracing::debug!("disconnected from the sync server");
        }
    }
}

fn link<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    workshop: WorkshopId,
    server: String,
    access: SyncAccess,
    connected: Arc<watch::Sender<bool>>,
) -> Link
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = socket.split();
    let outgoing = sink
        .sink_map_err(io::Error::other)
        .with(|bytes: Vec<u8>| futures::future::ready(Ok::<_, io::Error>(Message::Binary(bytes.into()))));
    let grant = Grant { workshop, peer: None, access, connected };
    // State: the grant (dropped with the stream, when samod drops the connection), and
    // whether the stream has ended.
    let incoming = stream
        .scan((grant, false), move |(grant, ended), message| {
            let item = if *ended {
                None
            } else {
                match message {
                    Ok(Message::Binary(bytes)) => {
                        let bytes = bytes.to_vec();
                        if grant.peer.is_none() {
                            if let Err(e) = admit(grant, &bytes, &server) {
                                *ended = true;
                                return futures::future::ready(Some(Some(Err(e))));
                            }
                        }
                        Some(Ok(bytes))
                    }
                    Ok(Message::Close(_)) => {
                        *ended = true;
                        None
                    }
                    // Pings are answered by tungstenite itself.
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => None,
                    Ok(Message::Text(_)) => {
                        *ended = true;
                        Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a text message from the sync server",
                        )))
                    }
                    Err(e) => {
                        *ended = true;
                        Some(Err(io::Error::other(error_kind(&e))))
                    }
                }
            };
            // `Some(None)`: skip this message; `None`: the stream has ended.
            futures::future::ready(if *ended && item.is_none() { None } else { Some(item) })
        })
        .filter_map(futures::future::ready);
    Link {
        incoming: handshake_within(incoming, HANDSHAKE_TIMEOUT),
        outgoing: Box::pin(outgoing),
        remote_peer: None,
    }
}

/// `incoming`, ended with an error if its first message (the server's handshake) hasn't
/// arrived within `limit`, so that samod dials again.
fn handshake_within(
    incoming: impl futures::Stream<Item = io::Result<Vec<u8>>> + Send + Unpin + 'static,
    limit: Duration,
) -> futures::stream::BoxStream<'static, io::Result<Vec<u8>>> {
    let first = async move {
        match tokio::time::timeout(limit, incoming.into_future()).await {
            Ok((Some(first), rest)) => {
                futures::stream::once(futures::future::ready(first)).chain(rest).boxed()
            }
            Ok((None, _)) => futures::stream::empty().boxed(),
            Err(_) => {
                tracing::debug!("the sync server didn't answer the handshake in time; will retry");
                let late = io::Error::new(io::ErrorKind::TimedOut, "no handshake from the sync server");
                futures::stream::once(futures::future::ready(Err(late))).boxed()
            }
        }
    };
    futures::stream::once(first).flatten().boxed()
}

/// Reads the server's first message, which must be its handshake, and grants the peer id it
/// claims the workshop. An error ends the connection.
fn admit(grant: &mut Grant, first: &[u8], server: &str) -> io::Result<()> {
    let refused = |why: &str| io::Error::new(io::ErrorKind::PermissionDenied, why.to_owned());
    let Some(peer) = handshake_peer(first) else {
        tracing::debug!("the sync server's first message wasn't a handshake");
        return Err(refused("the server's first message wasn't a handshake"));
    };
    if !grant.access.grant_server(grant.workshop, &peer, server) {
        tracing::warn!("the sync server claimed an identity already in use here; disconnecting");
        return Err(refused("the server claimed an identity already in use"));
    }
    grant.peer = Some(peer);
    grant.connected.send_replace(true);
    tracing::info!("connected to the sync server");
    Ok(())
}

/// The sender's peer id if `message` is automerge-repo's handshake answer: a CBOR map with
/// `type: "peer"` and a `senderId` string. Anything else, or anything malformed, is `None`.
pub(crate) fn handshake_peer(message: &[u8]) -> Option<String> {
    let mut decoder = minicbor::Decoder::new(message);
    // Definite-length maps only, as automerge-repo and samod write them. Each entry read
    // consumes input, so a huge claimed length just runs out of bytes.
    let entries = decoder.map().ok()??;
    let (mut kind, mut sender) = (None, None);
    for _ in 0..entries {
        match decoder.str().ok()? {
            "type" => kind = Some(decoder.str().ok()?),
            "senderId" => sender = Some(decoder.str().ok()?),
            _ => decoder.skip().ok()?,
        }
    }
    let sender = sender?;
    let plausible =
        !sender.is_empty() && sender.len() <= MAX_PEER_ID && sender.chars().all(|c| !c.is_control());
    (kind == Some("peer") && plausible).then(|| sender.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CBOR map of text keys to text values.
    fn cbor_map(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = minicbor::Encoder::new(&mut buf);
        e.map(entries.len() as u64).unwrap();
        for (k, v) in entries {
            e.str(k).unwrap().str(v).unwrap();
        }
        buf
    }

    #[test]
    fn the_handshake_names_the_server_peer() {
        let peer = cbor_map(&[
            ("type", "peer"),
            ("senderId", "storage-server-host"),
            ("selectedProtocolVersion", "1"),
            ("targetId", "me"),
        ]);
        assert_eq!(handshake_peer(&peer).as_deref(), Some("storage-server-host"));
        // Anything else is not a handshake.
        assert_eq!(handshake_peer(&cbor_map(&[("type", "sync"), ("senderId", "x")])), None);
        assert_eq!(handshake_peer(&cbor_map(&[("type", "peer")])), None);
        assert_eq!(handshake_peer(&cbor_map(&[("type", "peer"), ("senderId", "")])), None);
        assert_eq!(handshake_peer(&cbor_map(&[("type", "peer"), ("senderId", "a\nb")])), None);
        assert_eq!(handshake_peer(b""), None);
        // Guards a claimed length far beyond the bytes: the decoder runs out, no allocation.
        assert_eq!(handshake_peer(&[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), None);
        // Every prefix and some corruptions of a real handshake decode or fail, never panic.
        for end in 0..peer.len() {
            let _ = handshake_peer(&peer[..end]);
            let mut flipped = peer.clone();
            flipped[end] ^= 0xff;
            let _ = handshake_peer(&flipped);
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_the_handshake_is_dropped() {
        let silent = futures::stream::pending::<io::Result<Vec<u8>>>();
        let mut incoming = handshake_within(silent, Duration::from_millis(50));
        let e = incoming.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(incoming.next().await.is_none());
        // An answer in time passes through, and so does what follows it.
        let answering = futures::stream::iter([Ok(vec![1]), Ok(vec![2])]);
        let got: Vec<_> = handshake_within(answering, HANDSHAKE_TIMEOUT).map(|m| m.unwrap()).collect().await;
        assert_eq!(got, vec![vec![1], vec![2]]);
    }

    #[test]
    fn only_plain_ws_addresses_are_accepted() {
        let label = |url: &str| ServerAddress::parse(url).map(|a| a.label);
        assert_eq!(label("ws://127.0.0.1:3030").unwrap(), "127.0.0.1:3030");
        assert_eq!(label("ws://sync.example.org/path?token=abc").unwrap(), "sync.example.org:80");
        for url in ["wss://sync.example.org", "WSS://sync.example.org:443"] {
            let e = label(url).unwrap_err();
            assert_eq!(e.kind(), "sync_server_address");
            assert!(e.to_string().contains("wss://"), "says why: {e}");
        }
        for url in ["http://x", "sync.example.org", "", "ws://", "ws://user:pw@host:1"] {
            assert!(label(url).is_err(), "{url}");
        }
    }
}
