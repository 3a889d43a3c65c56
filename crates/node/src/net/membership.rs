//! This laptop's keys for each workshop: the secret, its epoch, the facilitator's device key,
//! the roster and the removed devices. Kept beside the workshop's document, never in it.
//!
//! `workshops/<id>/secrets.json`, mode 0600, written with write-temp + fsync + rename +
//! fsync(dir) (`durable::write_atomic`), with a BLAKE2s checksum of its contents like
//! `local.json`:
//!
//! ```json
//! { "format": 1, "checksum": "<hex>", "secrets": { "secret": "<hex>", "epoch": 0,
//!   "facilitator": "<hex>", "roster": ["<hex>"], "removed": [],
//!   "previous": { "secret": "<hex>", "epoch": 0 } | null } }
//! ```
//!
//! The secret is what the Noise PSK is made from, so it must never enter the shared
//! document (every member and every export would carry it). The roster here is what this
//! laptop learnt from the facilitator (a join's `Welcome`, a rotation) and admitted itself;
//! the document adds the devices people recorded when they joined ([`DocRoster`]).
//! `previous` is the secret of the epoch before the current one, kept only to hand a
//! rotation to a member that was away when it happened (see the `net` module docs).

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use blake2::{Blake2s256, Digest};
use commonground_protocol::{DevicePublicKey, Invite, Welcome, DEVICE_KEY_LEN};
use commonground_workshop::Workshop;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::durable::{ensure_dir, move_aside, write_atomic};

const FORMAT: u32 = 1;

/// One workshop's keys on this laptop. The secrets are wiped from memory on drop and never
/// shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secrets {
    pub(crate) secret: Zeroizing<[u8; 32]>,
    pub(crate) epoch: u32,
    /// The device whose rotations this laptop accepts, and which admits new devices.
    pub(crate) facilitator: DevicePublicKey,
    pub(crate) roster: BTreeSet<DevicePublicKey>,
    pub(crate) removed: BTreeSet<DevicePublicKey>,
    pub(crate) previous: Option<(Zeroizing<[u8; 32]>, u32)>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("epoch", &self.epoch)
            .field("facilitator", &self.facilitator)
            .field("roster", &self.roster.len())
            .field("removed", &self.removed.len())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// A brand-new workshop's keys, with this device as the facilitator.
    pub(crate) fn new_workshop(secret: [u8; 32], me: DevicePublicKey) -> Self {
        Self {
            secret: Zeroizing::new(secret),
            epoch: 0,
            facilitator: me,
            roster: BTreeSet::from([me]),
            removed: BTreeSet::new(),
            previous: None,
        }
    }

    /// The keys a joiner takes from an invite (the roster is the facilitator and this device;
    /// the rest arrives with the document).
    pub(crate) fn from_invite(invite: &Invite, me: DevicePublicKey) -> Self {
        Self {
            secret: Zeroizing::new(invite.secret),
            epoch: invite.epoch,
            facilitator: invite.facilitator,
            roster: BTreeSet::from([invite.facilitator, me]),
            removed: BTreeSet::new(),
            previous: None,
        }
    }

    /// The keys a joiner takes from a code join's welcome.
    pub(crate) fn from_welcome(welcome: &Welcome, me: DevicePublicKey) -> Self {
        let mut secrets = Self::from_invite(&welcome.invite, me);
        secrets.roster.extend(welcome.roster.iter().copied());
        secrets
    }

    /// Moves to a newer secret and epoch: the devices on the old roster that aren't on the new
    /// one are now removed, and the old secret is kept as `previous`.
    pub(crate) fn rotate_to(
        &mut self,
        secret: [u8; 32],
        epoch: u32,
        roster: impl IntoIterator<Item = DevicePublicKey>,
    ) {
        let roster: BTreeSet<_> = roster.into_iter().collect();
        self.removed.extend(self.roster.difference(&roster).copied());
        self.roster = roster.into_iter().filter(|d| !self.removed.contains(d)).collect();
        let old = std::mem::replace(&mut self.secret, Zeroizing::new(secret));
        self.previous = Some((old, self.epoch));
        self.epoch = epoch;
    }

    /// The welcome that tells a member about the current secret and roster.
    pub(crate) fn welcome(&self, workshop: uuid::Uuid, addresses: Vec<std::net::SocketAddr>) -> Welcome {
        Welcome {
            invite: Invite {
                workshop_id: workshop,
                secret: *self.secret,
                epoch: self.epoch,
                facilitator: self.facilitator,
                addresses,
            },
            roster: self.roster.iter().copied().collect(),
        }
    }
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Previous {
    secret: String,
    epoch: u32,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Stored {
    secret: String,
    epoch: u32,
    facilitator: String,
    roster: Vec<String>,
    removed: Vec<String>,
    previous: Option<Previous>,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.secret.zeroize();
        if let Some(previous) = &mut self.previous {
            previous.secret.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SecretsFile {
    format: u32,
    checksum: String,
    secrets: Stored,
}

impl Stored {
    fn from_secrets(s: &Secrets) -> Self {
        Self {
            secret: hex(&s.secret[..]),
            epoch: s.epoch,
            facilitator: key_hex(&s.facilitator),
            roster: s.roster.iter().map(key_hex).collect(),
            removed: s.removed.iter().map(key_hex).collect(),
            previous: s
                .previous
                .as_ref()
                .map(|(secret, epoch)| Previous { secret: hex(&secret[..]), epoch: *epoch }),
        }
    }

    fn to_secrets(&self) -> Option<Secrets> {
        let keys = |list: &[String]| list.iter().map(|k| parse_key_hex(k)).collect::<Option<BTreeSet<_>>>();
        Some(Secrets {
            secret: Zeroizing::new(unhex32(&self.secret)?),
            epoch: self.epoch,
            facilitator: parse_key_hex(&self.facilitator)?,
            roster: keys(&self.roster)?,
            removed: keys(&self.removed)?,
            previous: match &self.previous {
                Some(p) => Some((Zeroizing::new(unhex32(&p.secret)?), p.epoch)),
                None => None,
            },
        })
    }
}

fn checksum(stored: &Stored) -> io::Result<String> {
    let mut json = Zeroizing::new(serde_json::to_vec(stored).map_err(io::Error::other)?);
    let sum = hex(&Blake2s256::digest(&json[..]));
    json.zeroize();
    Ok(sum)
}

/// Writes `secrets` to `path` durably, mode 0600.
pub(crate) fn save(path: &Path, secrets: &Secrets) -> io::Result<()> {
    let stored = Stored::from_secrets(secrets);
    let file = SecretsFile { format: FORMAT, checksum: checksum(&stored)?, secrets: stored };
    let json = Zeroizing::new(serde_json::to_vec_pretty(&file).map_err(io::Error::other)?);
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    write_atomic(path, &json)
}

/// Reads the secrets at `path`: `None` if there are none. A damaged file is moved into
/// `damaged_dir` and treated as absent (the laptop can join again).
pub(crate) fn load(path: &Path, damaged_dir: &Path) -> Option<Secrets> {
    let bytes = match fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "couldn't read a workshop's keys");
            return None;
        }
    };
    if let Ok(file) = serde_json::from_slice::<SecretsFile>(&bytes) {
        if file.format == FORMAT && checksum(&file.secrets).ok().as_ref() == Some(&file.checksum) {
            if let Some(secrets) = file.secrets.to_secrets() {
                return Some(secrets);
            }
        }
    }
    tracing::warn!(file = %path.display(), "a workshop's keys were damaged; setting them aside");
    if let Err(e) = move_aside(path, damaged_dir, "secrets.json") {
        tracing::error!(file = %path.display(), error = %e, "couldn't move damaged keys aside");
    }
    None
}

/// How many addresses of a workshop's other laptops are remembered.
pub(crate) const MAX_KNOWN_ADDRESSES: usize = 16;

#[derive(Serialize, Deserialize)]
struct AddressesFile {
    format: u32,
    addresses: Vec<std::net::SocketAddr>,
}

/// Reads the remembered addresses of a workshop's other laptops (`workshops/<id>/addresses.json`,
/// most recent first); empty if there are none or the file can't be read (it is only a hint:
/// discovery and `connect` still work without it).
pub(crate) fn load_addresses(path: &Path) -> Vec<std::net::SocketAddr> {
    let Ok(bytes) = fs::read(path) else { return Vec::new() };
    match serde_json::from_slice::<AddressesFile>(&bytes) {
        Ok(file) if file.format == FORMAT => {
            let mut out: Vec<std::net::SocketAddr> = Vec::new();
            for address in file.addresses {
                if !out.contains(&address) {
                    out.push(address);
                }
            }
            out.truncate(MAX_KNOWN_ADDRESSES);
            out
        }
        _ => {
            tracing::debug!(file = %path.display(), "ignoring an unreadable list of known addresses");
            Vec::new()
        }
    }
}

/// Writes the remembered addresses durably, mode 0600.
pub(crate) fn save_addresses(path: &Path, addresses: &[std::net::SocketAddr]) -> io::Result<()> {
    let file = AddressesFile { format: FORMAT, addresses: addresses.to_vec() };
    let json = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    write_atomic(path, &json)
}

/// Puts `new` at the front of `known` (most recent first), without duplicates, keeping at
/// most [`MAX_KNOWN_ADDRESSES`]. Whether the list changed.
pub(crate) fn remember(known: &mut Vec<std::net::SocketAddr>, new: std::net::SocketAddr) -> bool {
    if known.first() == Some(&new) {
        return false;
    }
    known.retain(|a| *a != new);
    known.insert(0, new);
    known.truncate(MAX_KNOWN_ADDRESSES);
    true
}

/// The devices the shared document lists: those of current participants, and those of
/// participants who were removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DocRoster {
    pub(crate) members: BTreeSet<DevicePublicKey>,
    pub(crate) removed: BTreeSet<DevicePublicKey>,
}

impl DocRoster {
    /// Reads the devices from a workshop document.
    pub(crate) fn read(workshop: &Workshop) -> Self {
        let mut roster = Self::default();
        for participant in workshop.participants() {
            let keys = workshop.devices(participant.id).into_iter().filter_map(|k| parse_key_hex(&k));
            if participant.removed {
                roster.removed.extend(keys);
            } else {
                roster.members.extend(keys);
            }
        }
        roster
    }
}

/// A device key as the document writes it: 64 lowercase hex digits.
pub(crate) fn key_hex(key: &DevicePublicKey) -> String {
    hex(key.as_bytes())
}

/// A short fingerprint of a device key for logs and screens: its first 4 bytes in hex.
pub(crate) fn fingerprint(key: &DevicePublicKey) -> String {
    hex(&key.as_bytes()[..4])
}

/// Reads a device key written by [`key_hex`].
pub(crate) fn parse_key_hex(s: &str) -> Option<DevicePublicKey> {
    let bytes = unhex(s)?;
    (bytes.len() == DEVICE_KEY_LEN).then(|| DevicePublicKey::from_slice(&bytes).ok()).flatten()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut bytes = Zeroizing::new(unhex(s)?);
    let array = bytes.as_slice().try_into().ok();
    bytes.zeroize();
    array
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key(b: u8) -> DevicePublicKey {
        DevicePublicKey::from_bytes([b; 32])
    }

    #[test]
    fn secrets_round_trip_with_mode_0600_and_damage_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w/secrets.json");
        let damaged = dir.path().join("w/damaged");
        assert_eq!(load(&path, &damaged), None);
        let mut secrets = Secrets::new_workshop([7; 32], key(1));
        secrets.roster.insert(key(2));
        secrets.rotate_to([8; 32], 1, [key(1)]);
        save(&path, &secrets).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let loaded = load(&path, &damaged).unwrap();
        assert_eq!(loaded, secrets);
        assert_eq!(loaded.removed, BTreeSet::from([key(2)]));
        assert_eq!(loaded.previous.as_ref().map(|(s, e)| (**s, *e)), Some(([7; 32], 0)));

        let text = fs::read_to_string(&path).unwrap().replacen("\"epoch\": 1", "\"epoch\": 2", 1);
        fs::write(&path, text).unwrap();
        assert_eq!(load(&path, &damaged), None);
        assert!(!path.exists());
        assert!(damaged.join("secrets.json").exists());
    }

    #[test]
    fn known_addresses_are_bounded_deduplicated_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w/addresses.json");
        assert!(load_addresses(&path).is_empty());
        let at = |p: u16| std::net::SocketAddr::from(([10, 0, 0, 1], p));
        let mut known = Vec::new();
        for port in 1..=20 {
            assert!(remember(&mut known, at(port)));
        }
        assert!(!remember(&mut known, at(20)), "already the most recent");
        assert!(remember(&mut known, at(10)));
        assert_eq!(known.len(), MAX_KNOWN_ADDRESSES);
        assert_eq!(known[..3], [at(10), at(20), at(19)]);
        save_addresses(&path, &known).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_addresses(&path), known);
        fs::write(&path, b"junk").unwrap();
        assert!(load_addresses(&path).is_empty());
    }

    #[test]
    fn keys_print_and_parse_as_hex() {
        let k = key(0xab);
        assert_eq!(parse_key_hex(&key_hex(&k)), Some(k));
        assert_eq!(fingerprint(&k), "abababab");
        assert_eq!(parse_key_hex("abc"), None);
        assert_eq!(parse_key_hex(&"zz".repeat(32)), None);
        assert_eq!(parse_key_hex(&"ab".repeat(31)), None);
    }
}
