//! Key epochs and membership: who may connect, and rotating the secret when someone leaves.
//!
//! The workshop secret and its epoch make the Noise PSK ([`crate::derive_psk`]). Removing a
//! participant's device draws a fresh secret and moves to the next epoch; the facilitator's
//! laptop then sends the new secret, epoch and roster to the remaining members over their
//! existing authenticated sessions (a [`crate::Welcome`] carries exactly that). The removed
//! laptop still holds the old secret, derives the old epoch's PSK, and fails every handshake
//! from then on. Connections opened before the rotation must be closed too: a session
//! remembers the epoch it was made under, and [`Membership::is_allowed`] refuses old ones.

use std::collections::BTreeSet;
use std::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::error::{ProtocolError, Result};
use crate::keys::DevicePublicKey;
use crate::noise::{derive_psk, PSK_LEN};

/// Draws a fresh workshop secret for the epoch after `epoch`.
pub fn rotate(epoch: u32, rng: &mut (impl CryptoRng + ?Sized)) -> Result<([u8; 32], u32)> {
    let next = epoch.checked_add(1).ok_or(ProtocolError::EpochExhausted)?;
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    Ok((secret, next))
}

/// One laptop's view of a workshop's membership: the current secret and epoch, the roster
/// of devices allowed to connect, and the devices removed (which may not come back).
///
/// The secret is wiped from memory on drop and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Membership {
    secret: [u8; 32],
    epoch: u32,
    roster: BTreeSet<DevicePublicKey>,
    removed: BTreeSet<DevicePublicKey>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Membership")
            .field("epoch", &self.epoch)
            .field("roster", &self.roster.len())
            .field("removed", &self.removed.len())
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// Membership at `epoch` with `secret` and the given roster.
    pub fn new(secret: [u8; 32], epoch: u32, roster: impl IntoIterator<Item = DevicePublicKey>) -> Self {
        Self { secret, epoch, roster: roster.into_iter().collect(), removed: BTreeSet::new() }
    }

    /// The current workshop secret.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The current key epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The Noise PSK for the current epoch.
    pub fn psk(&self) -> [u8; PSK_LEN] {
        derive_psk(&self.secret, self.epoch)
    }

    /// The devices allowed to connect, in key order.
    pub fn roster(&self) -> impl Iterator<Item = &DevicePublicKey> {
        self.roster.iter()
    }

    /// Whether a device was removed.
    pub fn is_removed(&self, device: &DevicePublicKey) -> bool {
        self.removed.contains(device)
    }

    /// Whether a peer that authenticated as `remote` in a session made at `session_epoch`
    /// may stay connected: it must be on the roster, not removed, and the session must be
    /// from the current epoch (sessions from before a rotation are closed).
    pub fn is_allowed(&self, remote: &DevicePublicKey, session_epoch: u32) -> bool {
        session_epoch == self.epoch && self.roster.contains(remote) && !self.removed.contains(remote)
    }

    /// Adds a device to the roster (after a successful join). Removed devices are refused.
    pub fn admit(&mut self, device: DevicePublicKey) -> Result<()> {
        if self.removed.contains(&device) {
            return Err(ProtocolError::RemovedDevice);
        }
        self.roster.insert(device);
        Ok(())
    }

    /// Removes a device and rotates to a new secret and epoch, so it can't connect again.
    /// Send the new secret, epoch and roster to everyone still on the roster.
    pub fn remove(&mut self, device: DevicePublicKey, rng: &mut (impl CryptoRng + ?Sized)) -> Result<()> {
        let (secret, epoch) = rotate(self.epoch, rng)?;
        self.roster.remove(&device);
        self.removed.insert(device);
        self.secret.zeroize();
        self.secret = secret;
        self.epoch = epoch;
        Ok(())
    }

    /// Takes a rotation announced by the facilitator: a newer epoch's secret and roster.
    /// Devices on the old roster but not the new one are now removed. An epoch that isn't
    /// newer is refused, so an old announcement replayed can't roll the keys back.
    pub fn apply_rotation(
        &mut self,
        secret: [u8; 32],
        epoch: u32,
        roster: impl IntoIterator<Item = DevicePublicKey>,
    ) -> Result<()> {
        if epoch <= self.epoch {
            return Err(ProtocolError::StaleEpoch { current: self.epoch, found: epoch });
        }
        let roster: BTreeSet<_> = roster.into_iter().collect();
        self.removed.extend(self.roster.difference(&roster).copied());
        self.roster = roster.into_iter().filter(|d| !self.removed.contains(d)).collect();
        self.secret.zeroize();
        self.secret = secret;
        self.epoch = epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;
    use crate::keys::DeviceKeypair;
    use crate::noise::Handshake;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn frame_body(wire: &[u8]) -> Vec<u8> {
        let mut input = wire;
        let frame = FrameDecoder::new().decode(&mut input).unwrap().unwrap();
        assert!(input.is_empty());
        frame
    }

    /// Runs a whole handshake; Ok with each side's view of the other if it completes.
    fn connect(
        a: &DeviceKeypair,
        psk_a: &[u8; 32],
        b: &DeviceKeypair,
        psk_b: &[u8; 32],
        rng: &mut ChaCha20Rng,
    ) -> Result<(DevicePublicKey, DevicePublicKey)> {
        let (mut init, w1) = Handshake::initiate(a, psk_a, rng)?;
        let mut resp = Handshake::respond(b, psk_b, rng)?;
        let w2 = resp.receive(&frame_body(&w1))?.unwrap();
        let w3 = init.receive(&frame_body(&w2))?.unwrap();
        let w4 = resp.receive(&frame_body(&w3))?.unwrap();
        init.receive(&frame_body(&w4))?;
        Ok((init.into_session()?.remote_public_key(), resp.into_session()?.remote_public_key()))
    }

    #[test]
    fn a_removed_device_fails_the_handshake_and_the_rest_carry_on() {
        // Guards removal: the old secret/epoch must never open a session after rotation.
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let facilitator = DeviceKeypair::generate(&mut rng);
        let stays = DeviceKeypair::generate(&mut rng);
        let leaves = DeviceKeypair::generate(&mut rng);
        let (secret, epoch) = ([3; 32], 4);
        let everyone = [facilitator.public_key(), stays.public_key(), leaves.public_key()];
        let mut host = Membership::new(secret, epoch, everyone);
        let mut member = Membership::new(secret, epoch, everyone);
        let removed_view = Membership::new(secret, epoch, everyone);

        // Before: everyone connects.
        assert!(connect(&leaves, &removed_view.psk(), &facilitator, &host.psk(), &mut rng).is_ok());

        host.remove(leaves.public_key(), &mut rng).unwrap();
        assert_eq!(host.epoch(), 5);
        assert_ne!(host.secret(), &secret);
        member.apply_rotation(*host.secret(), host.epoch(), host.roster().copied()).unwrap();
        assert!(member.is_removed(&leaves.public_key()));

        // Remaining members connect under the new epoch.
        let (seen_by_init, seen_by_resp) =
            connect(&stays, &member.psk(), &facilitator, &host.psk(), &mut rng).unwrap();
        assert_eq!(seen_by_init, facilitator.public_key());
        assert!(host.is_allowed(&seen_by_resp, host.epoch()));

        // The removed device, with only the old secret and epoch, fails both ways round.
        for target in [&facilitator, &stays] {
            let psk = if target.public_key() == facilitator.public_key() { host.psk() } else { member.psk() };
            assert_eq!(
                connect(&leaves, &removed_view.psk(), target, &psk, &mut rng).err(),
                Some(ProtocolError::HandshakeFailed)
            );
            assert_eq!(
                connect(target, &psk, &leaves, &removed_view.psk(), &mut rng).err(),
                Some(ProtocolError::HandshakeFailed)
            );
        }

        // And even with the right keys it would not be allowed, nor re-admitted.
        assert!(!host.is_allowed(&leaves.public_key(), host.epoch()));
        assert_eq!(host.admit(leaves.public_key()), Err(ProtocolError::RemovedDevice));
    }

    #[test]
    fn sessions_from_an_old_epoch_are_not_allowed() {
        let key = DevicePublicKey::from_bytes([1; 32]);
        let mut m = Membership::new([0; 32], 1, [key]);
        assert!(m.is_allowed(&key, 1));
        m.remove(DevicePublicKey::from_bytes([2; 32]), &mut ChaCha20Rng::seed_from_u64(2)).unwrap();
        assert!(!m.is_allowed(&key, 1));
        assert!(m.is_allowed(&key, 2));
        assert!(!m.is_allowed(&DevicePublicKey::from_bytes([9; 32]), 2));
    }

    #[test]
    fn rotation_never_goes_backwards_or_overflows() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (a, e1) = rotate(7, &mut rng).unwrap();
        let (b, _) = rotate(7, &mut rng).unwrap();
        assert_eq!(e1, 8);
        assert_ne!(a, b);
        assert_eq!(rotate(u32::MAX, &mut rng), Err(ProtocolError::EpochExhausted));
        let mut m = Membership::new([0; 32], 5, []);
        assert_eq!(m.apply_rotation([1; 32], 5, []), Err(ProtocolError::StaleEpoch { current: 5, found: 5 }));
        assert!(m.apply_rotation([1; 32], 4, []).is_err());
        assert!(m.apply_rotation([1; 32], 6, []).is_ok());
        assert!(!format!("{m:?}").contains("secret"));
    }
}
