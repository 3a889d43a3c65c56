//! Device keys: the X25519 static keypair each laptop proves itself with in the Noise
//! handshake. The public half is what the roster lists.

use std::fmt;

use rand_core::CryptoRng;
use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{ProtocolError, Result};

/// Length of a device key, public or secret.
pub const DEVICE_KEY_LEN: usize = 32;

/// A device's public key (X25519), as listed on a workshop's roster.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevicePublicKey([u8; DEVICE_KEY_LEN]);

impl DevicePublicKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; DEVICE_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a key from a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let array = bytes.try_into().map_err(|_| ProtocolError::BadKeyLength { len: bytes.len() })?;
        Ok(Self(array))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; DEVICE_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DevicePublicKey {
    // Public keys are not secret, but the first bytes are enough to tell devices apart in a
    // log, and full keys in logs make devices easy to track across workshops.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

/// A device's static keypair. The secret half is wiped from memory when this is dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DeviceKeypair {
    secret: [u8; DEVICE_KEY_LEN],
    #[zeroize(skip)]
    public: DevicePublicKey,
}

impl DeviceKeypair {
    /// A new keypair whose secret is 32 bytes from the caller's rng.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut secret = [0u8; DEVICE_KEY_LEN];
        rng.fill_bytes(&mut secret);
        let keypair = Self::from_secret_bytes(&secret);
        secret.zeroize();
        keypair
    }

    /// Restores a keypair from its stored secret bytes (any 32 bytes are a valid X25519
    /// secret: the scalar is clamped when used).
    pub fn from_secret_bytes(secret: &[u8; DEVICE_KEY_LEN]) -> Self {
        // snow's own X25519 computes the public key, so the key we advertise is exactly the
        // one the handshake will prove, with no second curve implementation to disagree.
        let mut dh = DefaultResolver.resolve_dh(&DHChoice::Curve25519).expect("X25519 is compiled in");
        dh.set(secret);
        let mut public = [0u8; DEVICE_KEY_LEN];
        public.copy_from_slice(dh.pubkey());
        Self { secret: *secret, public: DevicePublicKey(public) }
    }

    /// The secret bytes, for the runtime to store (in the OS keychain or a 0600 file).
    pub fn secret_bytes(&self) -> &[u8; DEVICE_KEY_LEN] {
        &self.secret
    }

    /// The public key, which goes on the roster.
    pub fn public_key(&self) -> DevicePublicKey {
        self.public
    }
}

impl fmt::Debug for DeviceKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeypair").field("public", &self.public).field("secret", &"<redacted>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn restoring_from_secret_gives_the_same_public_key() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let a = DeviceKeypair::generate(&mut rng);
        let b = DeviceKeypair::from_secret_bytes(a.secret_bytes());
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), DeviceKeypair::generate(&mut rng).public_key());
        // The secret never appears in debug output.
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.secret_bytes())));
    }

    #[test]
    fn x25519_test_vector() {
        // RFC 7748 §6.1, Alice's keypair: proves we use standard X25519.
        let secret: [u8; 32] = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public: [u8; 32] = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(DeviceKeypair::from_secret_bytes(&secret).public_key().as_bytes(), &public);
    }

    #[test]
    fn from_slice_checks_length() {
        assert_eq!(DevicePublicKey::from_slice(&[0; 31]), Err(ProtocolError::BadKeyLength { len: 31 }));
        assert!(DevicePublicKey::from_slice(&[0; 32]).is_ok());
    }

    fn hex(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
