//! The discovery tag: how laptops in a workshop recognise each other on the local network
//! without telling anyone else which workshop they are in.
//!
//! Each laptop advertises, over mDNS and the UDP beacon, one short tag per workshop it
//! serves. The tag is a keyed BLAKE2s of the current ten-minute *window* under the workshop
//! secret and its key epoch, cut to [`TAG_LEN`] bytes:
//!
//! ```text
//! tag = BLAKE2s-MAC(key = workshop secret,
//!                   "commonground/discovery-tag/v1", epoch (u32 BE), window (u64 BE))[..8]
//! window = unix time in seconds / 600
//! ```
//!
//! (Every part is length-prefixed by the crate's one KDF, so the input is unambiguous; the
//! label keeps these tags unrelated to the Noise PSK made from the same secret.)
//!
//! - **Only members recognise it.** Without the secret the tag is indistinguishable from
//!   random bytes, so someone on the venue Wi-Fi learns neither the workshop nor whether two
//!   laptops are in the same one.
//! - **It changes every ten minutes**, so a tag seen today can't be used to spot the same
//!   workshop tomorrow, or in another room.
//! - **Removed people stop recognising it.** Removing someone rotates the secret to a new
//!   epoch, and the tag follows the secret and the epoch.
//! - **Clocks differ.** Laptops' clocks drift and a window can turn over between sending and
//!   receiving, so [`matches`] accepts the windows either side of the receiver's own: two
//!   laptops recognise each other as long as their clocks are within ten minutes.
//!
//! Eight bytes is plenty: a tag is only a hint of where to dial. The Noise handshake with
//! the workshop's PSK and the roster check decide who is really a member, so a rare chance
//! collision costs one failed handshake, never access.

use crate::kdf;

/// Length of a discovery tag, in bytes.
pub const TAG_LEN: usize = 8;

/// How long one tag lasts: ten minutes.
pub const TAG_WINDOW_SECS: u64 = 600;

/// Domain separation for the tag, so it is unrelated to every other key made from the secret.
const TAG_LABEL: &[u8] = b"commonground/discovery-tag/v1";

/// A discovery tag, as advertised.
pub type DiscoveryTag = [u8; TAG_LEN];

/// The window that `unix_secs` (seconds since 1970) falls in.
pub fn tag_window(unix_secs: u64) -> u64 {
    unix_secs / TAG_WINDOW_SECS
}

/// The tag that members of the workshop with `secret` at key `epoch` advertise during
/// `window` (see [`tag_window`]).
pub fn discovery_tag(secret: &[u8; 32], epoch: u32, window: u64) -> DiscoveryTag {
    let full = kdf::derive(secret, TAG_LABEL, &[&epoch.to_be_bytes(), &window.to_be_bytes()]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&full[..TAG_LEN]);
    tag
}

/// The tags a member accepts during `window`: the one before, its own and the one after, in
/// that order. A receiver that checks many tags can compute these once per window.
pub fn accepted_tags(secret: &[u8; 32], epoch: u32, window: u64) -> [DiscoveryTag; 3] {
    [
        discovery_tag(secret, epoch, window.saturating_sub(1)),
        discovery_tag(secret, epoch, window),
        discovery_tag(secret, epoch, window.saturating_add(1)),
    ]
}

/// Whether `tag` (as received, of any length) is this workshop's tag for `window` or for a
/// window either side of it. Anything that is not exactly [`TAG_LEN`] bytes never matches.
///
/// The comparison takes the same time whether or not, and wherever, the bytes differ.
pub fn matches(secret: &[u8; 32], epoch: u32, window: u64, tag: &[u8]) -> bool {
    if tag.len() != TAG_LEN {
        return false;
    }
    accepted_tags(secret, epoch, window)
        .iter()
        .fold(false, |found, expected| found | constant_time_eq(expected, tag))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [0x42; 32];

    #[test]
    fn window_rotates_every_ten_minutes() {
        assert_eq!(tag_window(0), 0);
        assert_eq!(tag_window(599), 0);
        assert_eq!(tag_window(600), 1);
        assert_eq!(tag_window(1_750_000_000), 2_916_666);
    }

    #[test]
    fn tag_is_stable_within_a_window_and_changes_between_windows() {
        let w = tag_window(1_750_000_000);
        assert_eq!(discovery_tag(&SECRET, 3, w), discovery_tag(&SECRET, 3, w));
        assert_ne!(discovery_tag(&SECRET, 3, w), discovery_tag(&SECRET, 3, w + 1));
    }

    #[test]
    fn tag_depends_on_secret_and_epoch() {
        let w = 1000;
        let tag = discovery_tag(&SECRET, 0, w);
        assert_ne!(tag, discovery_tag(&[0x43; 32], 0, w));
        // A removed member keeps the old epoch's secret; the new epoch's tag is unrelated.
        assert_ne!(tag, discovery_tag(&SECRET, 1, w));
    }

    #[test]
    fn tag_is_not_a_prefix_of_the_psk() {
        // Guards the domain separation: the tag must reveal nothing about the Noise PSK.
        let psk = crate::derive_psk(&SECRET, 0);
        for w in 0..4 {
            assert_ne!(discovery_tag(&SECRET, 0, w)[..], psk[..TAG_LEN]);
        }
    }

    #[test]
    fn known_answer() {
        // Guards the wire format: a change here breaks discovery between versions. The
        // expected value was computed independently with Python's hashlib.blake2s(key=...).
        let tag = discovery_tag(&[7u8; 32], 2, 2_916_666);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "57d92160dd075f76");
    }

    #[test]
    fn members_match_neighbouring_windows_only() {
        let w = 5000;
        let tag = discovery_tag(&SECRET, 9, w);
        assert!(matches(&SECRET, 9, w, &tag));
        assert!(matches(&SECRET, 9, w - 1, &tag), "the sender's clock is ahead");
        assert!(matches(&SECRET, 9, w + 1, &tag), "the sender's clock is behind");
        assert!(!matches(&SECRET, 9, w + 2, &tag));
        assert!(!matches(&SECRET, 9, w - 2, &tag));
    }

    #[test]
    fn outsiders_and_malformed_tags_do_not_match() {
        let tag = discovery_tag(&SECRET, 0, 10);
        assert!(!matches(&[1u8; 32], 0, 10, &tag));
        assert!(!matches(&SECRET, 1, 10, &tag));
        assert!(!matches(&SECRET, 0, 10, &tag[..7]));
        let mut longer = tag.to_vec();
        longer.push(0);
        assert!(!matches(&SECRET, 0, 10, &longer));
        assert!(!matches(&SECRET, 0, 10, &[]));
        let mut flipped = tag;
        flipped[7] ^= 1;
        assert!(!matches(&SECRET, 0, 10, &flipped));
    }

    proptest::proptest! {
        #[test]
        fn members_recognise_and_others_do_not(
            secret: [u8; 32],
            other: [u8; 32],
            epoch: u32,
            window in 1u64..u64::MAX,
            skew in -1i8..=1,
        ) {
            let tag = discovery_tag(&secret, epoch, window);
            let seen_at = window.saturating_add_signed(i64::from(skew));
            proptest::prop_assert!(matches(&secret, epoch, seen_at, &tag));
            if other != secret {
                proptest::prop_assert!(!matches(&other, epoch, window, &tag));
            }
        }
    }

    #[test]
    fn window_edges_do_not_overflow() {
        let tag = discovery_tag(&SECRET, 0, 0);
        assert!(matches(&SECRET, 0, 0, &tag));
        let last = discovery_tag(&SECRET, 0, u64::MAX);
        assert!(matches(&SECRET, 0, u64::MAX, &last));
    }
}
