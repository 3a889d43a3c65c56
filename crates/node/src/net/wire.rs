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

const HELLO_VERSION: u8 = 1;
/// The longest samod peer id accepted (samod makes `peer-<u64>`, 25 characters at most).
const MAX_PEER_ID_LEN: usize = 64;

/// The hello message for samod peer id `peer`.
pub(crate) fn hello(peer: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + peer.len());
    out.push(KIND_HELLO);
    out.push(HELLO_VERSION);
    out.extend_from_slice(peer.as_bytes());
    out
}

/// The samod peer id in a hello, if it is one: version 1, 1 to 64 printable ASCII bytes.
pub(crate) fn parse_hello(message: &[u8]) -> Option<String> {
    let [KIND_HELLO, HELLO_VERSION, peer @ ..] = message else { return None };
    let ok = (1..=MAX_PEER_ID_LEN).contains(&peer.len()) && peer.iter().all(|b| b.is_ascii_graphic());
    ok.then(|| String::from_utf8_lossy(peer).into_owned())
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
        assert_eq!(parse_hello(&hello("peer-123")).as_deref(), Some("peer-123"));
        assert_eq!(parse_hello(&[KIND_HELLO, HELLO_VERSION]), None);
        assert_eq!(parse_hello(&[KIND_HELLO, 2, b'a']), None);
        assert_eq!(parse_hello(&[KIND_SYNC, HELLO_VERSION, b'a']), None);
        assert_eq!(parse_hello(&hello("a b")), None);
        assert_eq!(parse_hello(&hello(&"x".repeat(65))), None);
        assert!(parse_hello(&hello(&"x".repeat(64))).is_some());
    }
}
