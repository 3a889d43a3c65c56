//! The web front door's channel: how a browser (a phone or tablet, with no app) talks to the
//! laptop serving it, encrypted, over a WebSocket on the room's network.
//!
//! Venue Wi-Fi is often open, and a page served over plain `http://` on a local address has
//! no WebCrypto and no certificate anyone's phone would trust. So the browser is given a
//! 32-byte **door key** out of band — in the URL's `#fragment`, which browsers never send over
//! the network — by scanning the QR code on the facilitator's screen, and every message is
//! sealed with it. Someone listening on the Wi-Fi sees ciphertext and the (public) page.
//! Someone able to *change* traffic could serve a different page; that is the limit of a
//! no-install page, and the reason laptops use the app.
//!
//! Version 1, byte for byte (the UI's `src/lib/ipc/` implements the browser side):
//! - `door_id` = hex of the first 16 bytes of SHA-256("commonground door id v1" ‖ key): which
//!   door the browser is knocking on, without revealing the key.
//! - The browser sends a text frame `{"v":1,"door":"<door_id>","nonce":"<16 random bytes, hex>"}`;
//!   the laptop answers `{"v":1,"nonce":"<16 random bytes, hex>"}` (or closes: unknown door).
//! - `k_c2s` = SHA-256("commonground door c2s v1" ‖ key ‖ client nonce ‖ server nonce) and
//!   `k_s2c` the same with "s2c".
//! - Every later frame is binary: ChaCha20-Poly1305 under the sender's key, nonce = 4 zero
//!   bytes ‖ the sender's message counter as u64 big-endian (from 0), no associated data.
//!   A frame out of order, replayed or changed fails to open and closes the connection.
//!
//! Door keys are derived from the workshop secret and key epoch ([`web_door_key`]), so the
//! door changes exactly when laptops' invites do: removing someone closes it to them.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ProtocolError, Result};
use crate::kdf;

/// Length of a door key.
pub const DOOR_KEY_LEN: usize = 32;
/// Length of each side's handshake nonce.
pub const DOOR_NONCE_LEN: usize = 16;
/// The largest sealed message accepted: a snapshot of a very large workshop fits.
pub const DOOR_MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The door key of a workshop's phone page, for its secret at `epoch`.
pub fn web_door_key(secret: &[u8; 32], epoch: u32) -> Zeroizing<[u8; DOOR_KEY_LEN]> {
    Zeroizing::new(kdf::derive(secret, b"commonground/web-door/v1", &[&epoch.to_be_bytes()]))
}

/// The public name of a door: what the browser sends first.
pub fn door_id(key: &[u8; DOOR_KEY_LEN]) -> String {
    let digest = Sha256::new().chain_update(b"commonground door id v1").chain_update(key).finalize();
    hex(&digest[..16])
}

/// Which end of the channel this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorRole {
    /// The browser.
    Client,
    /// The laptop.
    Server,
}

/// An open door channel: seals what this end sends and opens what the other end sent.
pub struct DoorChannel {
    send: ChaCha20Poly1305,
    receive: ChaCha20Poly1305,
    sent: u64,
    received: u64,
}

impl std::fmt::Debug for DoorChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoorChannel").field("sent", &self.sent).field("received", &self.received).finish()
    }
}

impl DoorChannel {
    /// The channel after both nonces were exchanged.
    pub fn new(
        key: &[u8; DOOR_KEY_LEN],
        client_nonce: &[u8; DOOR_NONCE_LEN],
        server_nonce: &[u8; DOOR_NONCE_LEN],
        role: DoorRole,
    ) -> Self {
        let derive = |label: &[u8]| {
            let k = Sha256::new()
                .chain_update(label)
                .chain_update(key)
                .chain_update(client_nonce)
                .chain_update(server_nonce)
                .finalize();
            ChaCha20Poly1305::new(Key::from_slice(&k))
        };
        let (c2s, s2c) = (derive(b"commonground door c2s v1"), derive(b"commonground door s2c v1"));
        let (send, receive) = match role {
            DoorRole::Client => (c2s, s2c),
            DoorRole::Server => (s2c, c2s),
        };
        Self { send, receive, sent: 0, received: 0 }
    }

    /// Seals the next message to send.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce = counter_nonce(self.sent)?;
        self.sent += 1;
        self.send.encrypt(&nonce, plaintext).map_err(|_| ProtocolError::Internal("sealing a door message"))
    }

    /// Opens the next message received. Any failure is final: the caller closes the channel.
    pub fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() > DOOR_MAX_MESSAGE + 16 {
            return Err(ProtocolError::MessageTooLarge {
                len: sealed.len() as u64,
                max: DOOR_MAX_MESSAGE as u64,
            });
        }
        let nonce = counter_nonce(self.received)?;
        let plain = self.receive.decrypt(&nonce, sealed).map_err(|_| ProtocolError::Decrypt)?;
        self.received += 1;
        Ok(plain)
    }
}

fn counter_nonce(counter: u64) -> Result<Nonce> {
    if counter == u64::MAX {
        return Err(ProtocolError::NonceExhausted);
    }
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    Ok(*Nonce::from_slice(&nonce))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses exactly `N` bytes of hex (either case).
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values shared with the browser side (ui/tests check the same numbers).
    #[test]
    fn door_id_and_first_message_are_stable() {
        let key = [7u8; 32];
        assert_eq!(door_id(&key).len(), 32);
        let (cn, sn) = ([1u8; 16], [2u8; 16]);
        let mut client = DoorChannel::new(&key, &cn, &sn, DoorRole::Client);
        let mut server = DoorChannel::new(&key, &cn, &sn, DoorRole::Server);
        let sealed = client.seal(b"{\"seat\":\"x\"}").unwrap();
        assert_eq!(sealed.len(), 12 + 16);
        assert_eq!(server.open(&sealed).unwrap(), b"{\"seat\":\"x\"}");
        let back = server.seal(b"ok").unwrap();
        assert_eq!(client.open(&back).unwrap(), b"ok");
    }

    #[test]
    fn replayed_reordered_or_changed_messages_fail() {
        let key = [9u8; 32];
        let (cn, sn) = ([3u8; 16], [4u8; 16]);
        let mut client = DoorChannel::new(&key, &cn, &sn, DoorRole::Client);
        let mut server = DoorChannel::new(&key, &cn, &sn, DoorRole::Server);
        let first = client.seal(b"one").unwrap();
        let second = client.seal(b"two").unwrap();
        assert_eq!(server.open(&second), Err(ProtocolError::Decrypt), "out of order");
        assert_eq!(server.open(&first).unwrap(), b"one");
        assert_eq!(server.open(&first), Err(ProtocolError::Decrypt), "replayed");
        let mut changed = second.clone();
        changed[0] ^= 1;
        assert_eq!(server.open(&changed), Err(ProtocolError::Decrypt));
        // A different key (another workshop, or an old invite) can't open anything.
        let mut stranger = DoorChannel::new(&[1u8; 32], &cn, &sn, DoorRole::Server);
        assert_eq!(stranger.open(&client.seal(b"x").unwrap()), Err(ProtocolError::Decrypt));
    }

    #[test]
    fn door_keys_follow_the_epoch() {
        let secret = [5u8; 32];
        assert_ne!(*web_door_key(&secret, 1), *web_door_key(&secret, 2));
        assert_eq!(*web_door_key(&secret, 1), *web_door_key(&secret, 1));
        assert_ne!(door_id(&web_door_key(&secret, 1)), door_id(&web_door_key(&secret, 2)));
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        assert_eq!(parse_hex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(parse_hex::<2>("0aF"), None);
        assert_eq!(parse_hex::<2>("zz00"), None);
        assert_eq!(parse_hex::<1>("é"), None);
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
    }
}
