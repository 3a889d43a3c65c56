//! Hostile input against a serving node, over real sockets: garbage, oversize and truncated
//! frames, wrong keys, replayed handshakes, floods of idle connections, bad invites and
//! guessed codes. Each is refused, nothing is held past the handshake timeout, and the node
//! keeps serving its members throughout.

mod net_support;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use commonground_node::{sync_preamble, NetError, Node, ServeConfig, ServeHandle, NONCE_LEN, PREAMBLE_JOIN};
use commonground_protocol::{derive_psk, encode_frame, FrameDecoder, Invite, ProtocolError};
use commonground_workshop::{Colour, WorkshopId};
use net_support::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::{HandshakeState, TransportState};
use support::*;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WITHIN: Duration = Duration::from_secs(8);
/// The test's handshake timeout: short, so idle connections are seen to be dropped quickly.
const TIMEOUT: Duration = Duration::from_millis(500);

async fn hardened_facilitator() -> (Node, TempDir, WorkshopId, ServeHandle, Invite) {
    let (node, dir) = node().await;
    let id = node.create_workshop(new_workshop()).await.unwrap();
    let config = ServeConfig { handshake_timeout: TIMEOUT, ..ServeConfig::default() };
    let serving = node.serve_with(loopback(), config).await.unwrap();
    let invite = Invite::from_link(&node.invite(id).await.unwrap().link).unwrap();
    (node, dir, id, serving, invite)
}

/// Reads until the other side closes; returns how many bytes came first, or `None` if it
/// was still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<usize> {
    let mut got = 0;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got += n,
            Err(_) => return None,
        }
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(payload, &mut out).unwrap();
    out
}

async fn read_frame(stream: &mut TcpStream, decoder: &mut FrameDecoder) -> Option<Vec<u8>> {
    let mut byte = [0u8; 1];
    loop {
        // One byte at a time: never reads past the frame.
        match tokio::time::timeout(WITHIN, stream.read(&mut byte)).await {
            Ok(Ok(1)) => {
                let mut input: &[u8] = &byte;
                if let Some(frame) = decoder.decode(&mut input).unwrap() {
                    return Some(frame);
                }
            }
            _ => return None,
        }
    }
}

/// A raw Noise client, straight on `snow`, so the test can send frames the protocol crate
/// would never make.
struct OsRandom(StdRng);

impl snow::types::Random for OsRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

struct Resolver;

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
        Some(Box::new(OsRandom(StdRng::from_os_rng())))
    }
    fn resolve_dh(&self, choice: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
        DefaultResolver.resolve_dh(choice)
    }
    fn resolve_hash(&self, choice: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
        DefaultResolver.resolve_hash(choice)
    }
    fn resolve_cipher(&self, choice: &snow::params::CipherChoice) -> Option<Box<dyn snow::types::Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

fn initiator(psk: &[u8; 32]) -> HandshakeState {
    let mut key = [0u8; 32];
    StdRng::from_os_rng().fill_bytes(&mut key);
    snow::Builder::with_resolver("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s".parse().unwrap(), Box::new(Resolver))
        .prologue(b"commonground/noise/v1")
        .unwrap()
        .local_private_key(&key)
        .unwrap()
        .psk(3, psk)
        .unwrap()
        .build_initiator()
        .unwrap()
}

/// What a raw handshake sent and got.
struct Attempt {
    stream: TcpStream,
    /// The preamble and Noise message 1, as sent.
    opening: Vec<u8>,
    /// Noise message 3, as sent (framed).
    third: Vec<u8>,
    /// The transport, if the server confirmed the handshake.
    transport: Option<TransportState>,
}

/// Dials with the preamble for (`secret`, `epoch`) and runs the handshake with `psk`.
async fn raw_handshake(address: SocketAddr, secret: &[u8; 32], epoch: u32, psk: &[u8; 32]) -> Attempt {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut decoder = FrameDecoder::new();
    let mut nonce = [0u8; NONCE_LEN];
    StdRng::from_os_rng().fill_bytes(&mut nonce);
    let mut hs = initiator(psk);
    let mut buf = vec![0u8; 65535];
    let mut opening = sync_preamble(secret, epoch, nonce).to_vec();
    let n = hs.write_message(&[], &mut buf).unwrap();
    opening.extend_from_slice(&frame(&buf[..n]));
    stream.write_all(&opening).await.unwrap();
    let msg2 = read_frame(&mut stream, &mut decoder).await.expect("message 2");
    hs.read_message(&msg2, &mut buf).unwrap();
    let n = hs.write_message(&[], &mut buf).unwrap();
    let third = frame(&buf[..n]);
    stream.write_all(&third).await.unwrap();
    let transport = match read_frame(&mut stream, &mut decoder).await {
        Some(confirm) => {
            let mut transport = hs.into_transport_mode().unwrap();
            assert_eq!(transport.read_message(&confirm, &mut buf).unwrap(), 0);
            Some(transport)
        }
        None => None,
    };
    Attempt { stream, opening, third, transport }
}

/// Waits until the facilitator sees `member` connected again and a fresh edit reaches it.
async fn still_serves(a: &Node, member: &Node, id: WorkshopId) {
    let prompt = first_prompt(a, id).await;
    let note = add_note(a, id, prompt, "still here", false).await;
    converge(&[a, member], id, WITHIN).await;
    assert!(notes(&snapshot(member, id).await).iter().any(|n| n.id == note));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bad_frames_wrong_keys_and_replays_are_refused() {
    let started = Instant::now();
    let (a, _da, id, serving, invite) = hardened_facilitator().await;
    let address = serving.local_addr();
    let (b, _db) = node().await;
    b.join_by_link(&invite.to_link().unwrap(), "Ben", Colour::Sky).await.unwrap();
    let (secret, epoch) = (invite.secret, invite.epoch);
    let quick = Duration::from_millis(300);

    // Garbage, and an unknown preamble: closed at once, nothing said.
    for junk in [vec![0x7f; 1000], b"GET / HTTP/1.1\r\n\r\n".to_vec()] {
        let mut s = TcpStream::connect(address).await.unwrap();
        s.write_all(&junk).await.unwrap();
        assert_eq!(closed_within(&mut s, quick).await, Some(0));
    }
    // A sync preamble whose tag matches no workshop: closed before any Noise.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&sync_preamble(&[9; 32], epoch, [1; NONCE_LEN])).await.unwrap();
    assert_eq!(closed_within(&mut s, quick).await, Some(0));

    let preamble = || {
        let mut nonce = [0u8; NONCE_LEN];
        StdRng::from_os_rng().fill_bytes(&mut nonce);
        sync_preamble(&secret, epoch, nonce).to_vec()
    };
    // An empty frame: refused at its header.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&[preamble(), vec![0, 0]].concat()).await.unwrap();
    assert_eq!(closed_within(&mut s, quick).await, Some(0));
    // The biggest u16 header with a few bytes behind it: only what arrived is held, and the
    // connection is dropped when the handshake timeout runs out.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&[preamble(), vec![0xff, 0xff], vec![7; 10]].concat()).await.unwrap();
    assert_eq!(closed_within(&mut s, quick).await, None, "waits for the rest of the frame...");
    assert_eq!(closed_within(&mut s, TIMEOUT * 2).await, Some(0), "...but not past the timeout");
    // A frame cut off by the end of the stream.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&[preamble(), vec![0, 48], vec![1; 20]].concat()).await.unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(closed_within(&mut s, quick).await, Some(0));

    // The right tag but the wrong PSK (an old secret): message 2 comes back (the PSK only
    // enters at message 3), then no confirmation.
    let wrong = raw_handshake(address, &secret, epoch, &derive_psk(&[5; 32], epoch)).await;
    assert!(wrong.transport.is_none(), "no confirmation for the wrong PSK");

    // A good handshake (a laptop holding the invite), recorded...
    let good = raw_handshake(address, &secret, epoch, &derive_psk(&secret, epoch)).await;
    let mut transport = good.transport.expect("the right PSK is confirmed");
    // ...then replayed: message 1 gets a fresh message 2, and the old message 3 no longer fits.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&good.opening).await.unwrap();
    let mut decoder = FrameDecoder::new();
    assert!(read_frame(&mut s, &mut decoder).await.is_some(), "a fresh message 2");
    s.write_all(&good.third).await.unwrap();
    assert_eq!(closed_within(&mut s, quick).await, Some(0), "no confirmation for a replay");

    // The authenticated client announces a 4 GiB application message: refused at its header.
    let mut stream = good.stream;
    let mut buf = vec![0u8; 65535];
    let n = transport.write_message(&u32::MAX.to_be_bytes(), &mut buf).unwrap();
    stream.write_all(&frame(&buf[..n])).await.unwrap();
    assert!(closed_within(&mut stream, quick).await.is_some(), "closed on the oversize header");

    // Through all of it, the member's laptop kept syncing.
    still_serves(&a, &b, id).await;
    assert_eq!(serving.pre_auth_connections(), 0, "nothing left half-open");
    println!("hostile frames: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_is_bounded_and_timed_out() {
    let started = Instant::now();
    let (a, _da, id, serving, invite) = hardened_facilitator().await;
    let address = serving.local_addr();
    let (b, _db) = node().await;
    b.join_by_link(&invite.to_link().unwrap(), "Ben", Colour::Sky).await.unwrap();

    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(serving.pre_auth_connections() <= 32, "at most 32 half-open connections are kept");
    // The established member is unaffected.
    still_serves(&a, &b, id).await;
    let mut closed_at_once = 0;
    for s in &mut idle {
        if closed_within(s, Duration::from_millis(5)).await.is_some() {
            closed_at_once += 1;
        }
    }
    assert!(closed_at_once >= 68, "the excess is closed at once ({closed_at_once} of 100)");
    // The rest are dropped by the handshake timeout.
    eventually("idle connections to time out", WITHIN, || async { serving.pre_auth_connections() == 0 })
        .await;
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_millis(50)).await.is_some());
    }
    // And a new laptop can join again.
    let (c, _dc) = node().await;
    c.join_by_link(&invite.to_link().unwrap(), "Cleo", Colour::Sun).await.unwrap();
    converge(&[&a, &b, &c], id, WITHIN).await;
    println!("flood: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_invites_garbage_joins_and_guessed_codes_are_refused_clearly() {
    let started = Instant::now();
    let (a, _da, id, serving, _invite) = hardened_facilitator().await;
    let address = serving.local_addr();
    let (b, _db) = node().await;

    // Malformed invite links: a clear error, nothing stored.
    for link in [
        "https://example.org/join",
        "commonground://join/1/!!!",
        "commonground://join/1/AAAA",
        &"x".repeat(5000),
    ] {
        let error = b.join_by_link(link, "Ben", Colour::Sky).await.unwrap_err();
        assert_eq!(error.kind(), "invalid_invite", "{link:.40}");
        assert!(error.to_string().contains("invite link"), "{error}");
    }
    assert!(b.list_workshops().is_empty());
    // A name with a title is refused before anything is sent.
    let code = a.invite(id).await.unwrap().code;
    let error = b.join_by_code(address, &code, "Dr Ben", Colour::Sky).await.unwrap_err();
    assert_eq!(error.kind(), "name");

    // Garbage on the join port doesn't use up an attempt.
    let mut s = TcpStream::connect(address).await.unwrap();
    s.write_all(&[vec![PREAMBLE_JOIN], frame(&[1, 1, 2, 3])].concat()).await.unwrap();
    assert_eq!(closed_within(&mut s, Duration::from_millis(300)).await, Some(0));

    // Five wrong guesses spend the code; then even the right one is refused.
    let wrong = if code == "000 000" { "000 001" } else { "000 000" };
    for _ in 0..5 {
        let error = b.join_by_code(address, wrong, "Ben", Colour::Sky).await.unwrap_err();
        assert!(matches!(error, NetError::Protocol(ProtocolError::WrongCode)), "{error:?}");
        assert!(error.to_string().contains("didn't match"), "{error}");
    }
    let error = b.join_by_code(address, &code, "Ben", Colour::Sky).await.unwrap_err();
    assert!(matches!(error, NetError::Protocol(ProtocolError::CodeSpent)), "{error:?}");
    assert!(error.to_string().contains("new one"), "{error}");
    assert!(b.list_workshops().is_empty());

    // A new code works.
    let code = a.invite(id).await.unwrap().code;
    assert_eq!(b.join_by_code(address, &code, "Ben", Colour::Sky).await.unwrap(), id);
    println!("join abuse: {:?}", started.elapsed());
}
