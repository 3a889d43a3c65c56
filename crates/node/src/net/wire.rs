//! The bytes of the network layer that are ours rather than the protocol crate's: the
//! cleartext preamble that opens every TCP connection, and the kinds of message inside the
//! Noise channel. The layout and the reasoning are in the `net` module docs.

use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::Blake2sMac256;
use commonground_protocol::{ProtocolError, Welcome};

/// First byte of a connection that wants to sync a workshop (followed by nonce and tag).
pub const PREAMBLE_SYNC: u8 = 0x01;
/// First byte of a connection that wants to join with a 6-digit code.
pub const PREAMBLE_JOIN: u8 = 0x02;
/// Length of the random nonce in a sync preamble.
pub const NONCE_LEN: usize = 16;
/// Length of the keyed tag in a sync preamble.
pub const CONN_TAG_LEN: usize = 16;
/// Length of a whole sync preamble: kind, nonce, tag.
pub const SYNC_PREAMBLE_LEN: usize = 1 + NONCE_LEN + CONN_TAG_LEN;

/// Domain separation: the tag is unrelated to the Noise PSK and the discovery tag made from
/// the same secret.
const TAG_LABEL: &[u8] = b"commonground/conn-tag/v1";

/// A keyed BLAKE2s over length-prefixed parts, the same construction as the protocol crate's
/// KDF (label and each part prefixed with their `u32` length), so the input is unambiguous.
fn keyed(secret: &[u8; 32], parts: &[&[u8]]) -> Blake2sMac256 {
    let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(secret).expect("32-byte BLAKE2s key");
    for part in [TAG_LABEL].iter().chain(parts) {
        Update::update(&mut mac, &(part.len() as u32).to_be_bytes());
        Update::update(&mut mac, part);
    }
    mac
}

/// The tag for a connection to the workshop with `secret` at `epoch`, under `nonce`.
fn conn_tag(secret: &[u8; 32], epoch: u32, nonce: &[u8; NONCE_LEN]) -> [u8; CONN_TAG_LEN] {
    let full: [u8; 32] = keyed(secret, &[&epoch.to_be_bytes(), nonce]).finalize_fixed().into();
    let mut tag = [0u8; CONN_TAG_LEN];
    tag.copy_from_slice(&full[..CONN_TAG_LEN]);
    tag
}

/// The sync preamble a dialer sends first: `0x01`, a fresh random nonce, and
/// `BLAKE2s-MAC(key = workshop secret, "commonground/conn-tag/v1" ‖ epoch ‖ nonce)[..16]`.
///
/// Public so that tests and other implementations can speak the wire format.
pub fn sync_preamble(secret: &[u8; 32], epoch: u32, nonce: [u8; NONCE_LEN]) -> [u8; SYNC_PREAMBLE_LEN] {
    let mut out = [0u8; SYNC_PREAMBLE_LEN];
    out[0] = PREAMBLE_SYNC;
    out[1..1 + NONCE_LEN].copy_from_slice(&nonce);
    out[1 + NONCE_LEN..].copy_from_slice(&conn_tag(secret, epoch, &nonce));
    out
}

/// Whether `tag` is the tag of the workshop with `secret` at `epoch` under `nonce`, compared
/// in constant time.
pub(crate) fn tag_matches(secret: &[u8; 32], epoch: u32, nonce: &[u8; NONCE_LEN], tag: &[u8]) -> bool {
    tag.len() == CONN_TAG_LEN
        && keyed(secret, &[&epoch.to_be_bytes(), nonce]).verify_truncated_left(tag).is_ok()
}

// --- Inside the Noise channel ------------------------------------------------------------

/// First message each side sends: the samod peer id it will use on this connection.
pub(crate) const KIND_HELLO: u8 = 1;
/// A samod message.
pub(crate) const KIND_SYNC: u8 = 2;
/// The facilitator's new secret, epoch and roster (a protocol `Welcome`).
pub(crate) const KIND_ROTATE: u8 = 3;
/// "Are you there?": sent on an idle channel; answered with a pong. Empty body.
pub(crate) const KIND_PING: u8 = 4;
/// The answer to a ping. Empty body.
pub(crate) const KIND_PONG: u8 = 5;
/// A samod message, compressed with raw DEFLATE (RFC 1951). Sent only to a laptop whose
/// hello set [`FEATURE_DEFLATE`]; inflated with the same 16 MiB cap as any message.
pub(crate) const KIND_SYNC_DEFLATE: u8 = 6;

/// Hello version 2: version, a feature byte, then the peer id. Version 1 had no feature byte
/// and is still read (as no features).
const HELLO_VERSION: u8 = 2;
const HELLO_VERSION_1: u8 = 1;
/// Hello feature: "you may send me sync messages compressed" ([`KIND_SYNC_DEFLATE`]).
pub(crate) const FEATURE_DEFLATE: u8 = 0x01;
/// Hello feature: "you may send me changes as Automerge 0.12 bundles inside sync messages"
/// (Automerge's document encoding of a set of changes; see `vendor/README.md`).
pub(crate) const FEATURE_BUNDLES: u8 = 0x02;
/// The features this laptop reads.
const FEATURES: u8 = FEATURE_DEFLATE | FEATURE_BUNDLES;
/// The longest samod peer id accepted (samod makes `peer-<u64>`, 25 characters at most).
const MAX_PEER_ID_LEN: usize = 64;
/// samod messages shorter than this are sent as they are: too small to gain.
const DEFLATE_FROM: usize = 512;

/// The other laptop's hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerHello {
    /// Its samod peer id.
    pub(crate) peer: String,
    /// The features it reads (`FEATURE_*` bits; unknown bits are ignored).
    pub(crate) features: u8,
}

impl PeerHello {
    /// Whether it reads compressed sync messages.
    pub(crate) fn reads_deflate(&self) -> bool {
        self.features & FEATURE_DEFLATE != 0
    }

    /// Whether it reads Automerge bundles in sync messages.
    pub(crate) fn reads_bundles(&self) -> bool {
        self.features & FEATURE_BUNDLES != 0
    }
}

/// The hello message for samod peer id `peer`.
pub(crate) fn hello(peer: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + peer.len());
    out.extend_from_slice(&[KIND_HELLO, HELLO_VERSION, FEATURES]);
    out.extend_from_slice(peer.as_bytes());
    out
}

/// The hello in `message`, if it is one: version 2 (features, then the peer id) or version 1
/// (the peer id alone), with a peer id of 1 to 64 printable ASCII bytes.
pub(crate) fn parse_hello(message: &[u8]) -> Option<PeerHello> {
    let (features, peer) = match message {
        [KIND_HELLO, HELLO_VERSION, features, peer @ ..] => (*features, peer),
        [KIND_HELLO, HELLO_VERSION_1, peer @ ..] => (0, peer),
        _ => return None,
    };
    let ok = (1..=MAX_PEER_ID_LEN).contains(&peer.len()) && peer.iter().all(|b| b.is_ascii_graphic());
    ok.then(|| PeerHello { peer: String::from_utf8_lossy(peer).into_owned(), features })
}

/// A samod message as a channel message: compressed ([`KIND_SYNC_DEFLATE`]) when `deflate`
/// and that makes it smaller, else as it is ([`KIND_SYNC`]).
///
/// Sync messages between laptops mostly carry Automerge changes, one after another, each
/// with its own header, actor and dependencies: raw DEFLATE at its fastest level makes them
/// about four times smaller (300 notes: 126 KB → 30 KB), which is what a room on busy Wi-Fi
/// waits for. Only members of the workshop take part in a channel and it is encrypted, so an
/// outsider sees only sizes, as before, and can't put words of their own into it.
pub(crate) fn sync_message(samod: &[u8], deflate: bool) -> Vec<u8> {
    if deflate && samod.len() >= DEFLATE_FROM {
        let mut out = Vec::with_capacity(samod.len() / 3);
        out.push(KIND_SYNC_DEFLATE);
        let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
        if std::io::Write::write_all(&mut encoder, samod).is_ok() {
            if let Ok(out) = encoder.finish() {
                if out.len() <= samod.len() {
                    return out;
                }
            }
        }
    }
    let mut out = Vec::with_capacity(1 + samod.len());
    out.push(KIND_SYNC);
    out.extend_from_slice(samod);
    out
}

/// The samod message in the body of a [`KIND_SYNC_DEFLATE`] message, if it inflates to at
/// most `max` bytes; `None` for anything else (not DEFLATE, or bigger: a "zip bomb" stops at
/// `max` + 1 bytes).
pub(crate) fn inflate(body: &[u8], max: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let decoder = flate2::read::DeflateDecoder::new(body);
    decoder.take(max as u64 + 1).read_to_end(&mut out).ok()?;
    (out.len() <= max).then_some(out)
}

/// The rotation message carrying `welcome`.
pub(crate) fn rotate(welcome: &Welcome) -> Result<Vec<u8>, ProtocolError> {
    let body = welcome.encode()?;
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(KIND_ROTATE);
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_only_their_secret_epoch_and_nonce() {
        let secret = [3u8; 32];
        let nonce = [9u8; NONCE_LEN];
        let preamble = sync_preamble(&secret, 4, nonce);
        assert_eq!(preamble[0], PREAMBLE_SYNC);
        let tag = &preamble[1 + NONCE_LEN..];
        assert!(tag_matches(&secret, 4, &nonce, tag));
        assert!(!tag_matches(&secret, 5, &nonce, tag), "another epoch");
        assert!(!tag_matches(&[4u8; 32], 4, &nonce, tag), "another secret");
        assert!(!tag_matches(&secret, 4, &[8u8; NONCE_LEN], tag), "another nonce");
        assert!(!tag_matches(&secret, 4, &nonce, &tag[..15]), "too short");
        assert!(!tag_matches(&secret, 4, &nonce, &[]), "empty");
        // A fresh nonce makes a fresh tag: connections can't be linked by their preamble.
        assert_ne!(sync_preamble(&secret, 4, [1; NONCE_LEN])[17..], preamble[17..]);
    }

    #[test]
    fn hello_round_trips_and_refuses_junk() {
        let mine = parse_hello(&hello("peer-123")).unwrap();
        assert_eq!(mine, PeerHello { peer: "peer-123".into(), features: FEATURE_DEFLATE | FEATURE_BUNDLES });
        assert!(mine.reads_deflate() && mine.reads_bundles());
        // Version 1, from a laptop before compression: no features.
        let old = parse_hello(&[KIND_HELLO, 1, b'p', b'1']).unwrap();
        assert_eq!(old, PeerHello { peer: "p1".into(), features: 0 });
        assert!(!old.reads_deflate() && !old.reads_bundles());
        assert_eq!(parse_hello(&[KIND_HELLO, HELLO_VERSION]), None);
        assert_eq!(parse_hello(&[KIND_HELLO, HELLO_VERSION, FEATURES]), None, "no peer id");
        assert_eq!(parse_hello(&[KIND_HELLO, 3, 0, b'a']), None, "an unknown version");
        assert_eq!(parse_hello(&[KIND_SYNC, HELLO_VERSION, 0, b'a']), None);
        assert_eq!(parse_hello(&hello("a b")), None);
        assert_eq!(parse_hello(&hello(&"x".repeat(65))), None);
        assert!(parse_hello(&hello(&"x".repeat(64))).is_some());
    }

    #[test]
    fn sync_messages_are_compressed_only_when_that_is_allowed_and_smaller() {
        let changes: Vec<u8> = (0..300)
            .flat_map(|k| format!("Idea {k:03} from laptop 04: more time to talk").into_bytes())
            .collect();
        let small = sync_message(&changes, true);
        assert_eq!(small[0], KIND_SYNC_DEFLATE);
        assert!(small.len() * 3 < changes.len(), "{} -> {}", changes.len(), small.len());
        assert_eq!(inflate(&small[1..], changes.len()).as_deref(), Some(&changes[..]));
        // One byte too little room: refused, not truncated.
        assert_eq!(inflate(&small[1..], changes.len() - 1), None);

        let plain = sync_message(&changes, false);
        assert_eq!((plain[0], &plain[1..]), (KIND_SYNC, &changes[..]));
        let short = b"heads only";
        assert_eq!(sync_message(short, true)[0], KIND_SYNC, "too small to gain");
        // Random bytes don't shrink: sent as they are.
        let mut noise = vec![0u8; 4096];
        rand::RngCore::fill_bytes(
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3),
            &mut noise,
        );
        assert_eq!(sync_message(&noise, true)[0], KIND_SYNC);
    }

    #[test]
    fn inflating_is_bounded_and_refuses_garbage() {
        // 16 MiB of zeros compress to almost nothing: a "zip bomb" stops at the cap.
        let zeros = vec![0u8; 16 * 1024 * 1024];
        let bomb = sync_message(&zeros, true);
        assert_eq!(bomb[0], KIND_SYNC_DEFLATE);
        assert!(bomb.len() * 100 < zeros.len(), "{}", bomb.len());
        assert_eq!(inflate(&bomb[1..], 1024), None);
        assert_eq!(inflate(&bomb[1..], zeros.len()).map(|v| v.len()), Some(zeros.len()));
        assert_eq!(inflate(b"\xff\xfe not deflate at all", 1024), None);
        assert_eq!(inflate(&bomb[1..bomb.len() / 2], zeros.len()), None, "cut short");
    }
}
