//! The UDP beacon's datagram, sans-IO.
//!
//! When multicast does not get through (venue Wi-Fi often drops it, so mDNS finds nobody),
//! each laptop broadcasts this small datagram about once a second. It says, and says only,
//! "a Common Ground node listens on TCP port P here, for workshops with these tags".
//!
//! # Format, version 1
//!
//! All integers are big-endian. Sizes are in bytes.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 4    | magic: `CGbn` |
//! | 4      | 1    | version: `0x01` |
//! | 5      | 1    | flags: `0x00` (none are defined) |
//! | 6      | 2    | TCP port the node listens on (not 0) |
//! | 8      | 8    | sender: random per run, so a laptop can ignore its own beacons |
//! | 16     | 1    | tag count *n*, 1 to [`MAX_BEACON_TAGS`] |
//! | 17     | 8 *n* | *n* discovery tags (see `commonground_protocol::discovery_tag`) |
//!
//! A datagram is therefore 25 to 273 bytes. Nothing in it names the workshop, the person or
//! the laptop: the tags look random to anyone outside the workshop and change every ten
//! minutes, and the sender id is fresh every time the node starts.
//!
//! # Decoding is strict
//!
//! Anyone on the network can send us anything, so [`decode`] looks at nothing until the
//! length is within bounds, never allocates more than the datagram's own size, and refuses
//! every deviation: wrong magic, version 0, set flags, port 0, no tags or too many, and a
//! length that is not exactly the one the count implies. A *newer* version is its own error
//! ([`BeaconError::TooNew`]) so the caller can ignore it quietly.

use commonground_protocol::{DiscoveryTag, TAG_LEN};

/// The first four bytes of every beacon.
pub(crate) const MAGIC: [u8; 4] = *b"CGbn";
/// The beacon format this build writes and reads.
pub(crate) const VERSION: u8 = 1;
/// The most tags one datagram carries; a node serving more workshops sends several.
pub(crate) const MAX_BEACON_TAGS: usize = 32;
/// Bytes before the tags.
const HEADER_LEN: usize = 17;
/// The longest valid beacon.
pub(crate) const MAX_BEACON_LEN: usize = HEADER_LEN + MAX_BEACON_TAGS * TAG_LEN;

/// One decoded beacon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Beacon {
    /// The TCP port the sender's node listens on.
    pub port: u16,
    /// The sender's random per-run id.
    pub sender: u64,
    /// The discovery tags it advertises.
    pub tags: Vec<DiscoveryTag>,
}

/// Why a datagram is not a beacon we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeaconError {
    /// Shorter than a beacon with one tag.
    TooShort,
    /// Longer than any beacon.
    TooLong,
    /// Not a Common Ground beacon at all.
    NotABeacon,
    /// A newer format than this build knows.
    TooNew,
    /// Version 0, set flags, port 0 or a bad tag count or length.
    Malformed,
}

/// Encodes `tags` into as many datagrams as they need ([`MAX_BEACON_TAGS`] each). No tags,
/// no datagrams: a laptop with nothing to offer stays quiet.
pub(crate) fn encode(port: u16, sender: u64, tags: &[DiscoveryTag]) -> Vec<Vec<u8>> {
    tags.chunks(MAX_BEACON_TAGS)
        .map(|chunk| {
            let mut out = Vec::with_capacity(HEADER_LEN + chunk.len() * TAG_LEN);
            out.extend_from_slice(&MAGIC);
            out.push(VERSION);
            out.push(0);
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(&sender.to_be_bytes());
            // `chunks` yields at most MAX_BEACON_TAGS (32) items, so this fits in a byte.
            out.push(chunk.len() as u8);
            for tag in chunk {
                out.extend_from_slice(tag);
            }
            out
        })
        .collect()
}

/// Decodes one datagram. Never panics, whatever the bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Beacon, BeaconError> {
    if bytes.len() > MAX_BEACON_LEN {
        return Err(BeaconError::TooLong);
    }
    if bytes.len() < MAGIC.len() + 1 {
        return Err(BeaconError::TooShort);
    }
    if bytes[..4] != MAGIC {
        return Err(BeaconError::NotABeacon);
    }
    match bytes[4] {
        0 => return Err(BeaconError::Malformed),
        VERSION => {}
        _ => return Err(BeaconError::TooNew),
    }
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(BeaconError::TooShort);
    }
    let flags = bytes[5];
    let port = u16::from_be_bytes([bytes[6], bytes[7]]);
    let mut sender = [0u8; 8];
    sender.copy_from_slice(&bytes[8..16]);
    let count = usize::from(bytes[16]);
    if flags != 0 || port == 0 || count == 0 || count > MAX_BEACON_TAGS {
        return Err(BeaconError::Malformed);
    }
    let body = &bytes[HEADER_LEN..];
    if body.len() != count * TAG_LEN {
        return Err(BeaconError::Malformed);
    }
    let tags = body
        .chunks_exact(TAG_LEN)
        .map(|chunk| {
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(chunk);
            tag
        })
        .collect();
    Ok(Beacon { port, sender: u64::from_be_bytes(sender), tags })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn one() -> Vec<u8> {
        encode(4242, 0x0102_0304_0506_0708, &[[0xaa; 8]]).remove(0)
    }

    #[test]
    fn layout_is_as_documented() {
        // Guards the wire format: other laptops' builds parse exactly these bytes.
        let bytes = one();
        assert_eq!(
            bytes,
            [
                b'C', b'G', b'b', b'n', 1, 0, 0x10, 0x92, 1, 2, 3, 4, 5, 6, 7, 8, 1, //
                0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
            ]
        );
        assert_eq!(
            decode(&bytes),
            Ok(Beacon { port: 4242, sender: 0x0102_0304_0506_0708, tags: vec![[0xaa; 8]] })
        );
    }

    #[test]
    fn no_tags_means_no_datagram() {
        assert!(encode(1, 1, &[]).is_empty());
    }

    #[test]
    fn many_tags_are_split_into_full_datagrams() {
        let tags: Vec<DiscoveryTag> = (0..70u8).map(|i| [i; 8]).collect();
        let datagrams = encode(9, 9, &tags);
        assert_eq!(datagrams.len(), 3);
        assert_eq!(datagrams[0].len(), MAX_BEACON_LEN);
        let back: Vec<DiscoveryTag> = datagrams.iter().flat_map(|d| decode(d).unwrap().tags).collect();
        assert_eq!(back, tags);
    }

    #[test]
    fn every_deviation_is_refused() {
        let good = one();
        let with = |i: usize, b: u8| {
            let mut d = good.clone();
            d[i] = b;
            d
        };
        assert_eq!(decode(&[]), Err(BeaconError::TooShort));
        assert_eq!(decode(&good[..4]), Err(BeaconError::TooShort));
        assert_eq!(decode(&good[..good.len() - 1]), Err(BeaconError::TooShort));
        let two = encode(1, 1, &[[1; 8], [2; 8]]).remove(0);
        assert_eq!(decode(&two[..two.len() - 1]), Err(BeaconError::Malformed));
        assert_eq!(decode(&good[..HEADER_LEN]), Err(BeaconError::TooShort));
        assert_eq!(decode(&with(0, b'X')), Err(BeaconError::NotABeacon));
        assert_eq!(decode(&with(4, 0)), Err(BeaconError::Malformed));
        assert_eq!(decode(&with(4, 2)), Err(BeaconError::TooNew));
        assert_eq!(decode(&with(5, 1)), Err(BeaconError::Malformed));
        let mut port_zero = good.clone();
        port_zero[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(decode(&port_zero), Err(BeaconError::Malformed));
        assert_eq!(decode(&with(16, 0)), Err(BeaconError::Malformed));
        assert_eq!(decode(&with(16, 2)), Err(BeaconError::Malformed));
        assert_eq!(decode(&with(16, 33)), Err(BeaconError::Malformed));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(BeaconError::Malformed));
        assert_eq!(decode(&[0u8; MAX_BEACON_LEN + 1]), Err(BeaconError::TooLong));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_never_panics_near_valid(
            mut bytes in Just(()).prop_flat_map(|()| proptest::collection::vec(any::<[u8; 8]>(), 1..=32))
                .prop_map(|tags| encode(7, 7, &tags).remove(0)),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            let cut = cut.index(bytes.len() + 1);
            let _ = decode(&bytes[..cut]);
        }

        #[test]
        fn round_trip(
            port in 1u16..,
            sender: u64,
            tags in proptest::collection::vec(any::<[u8; 8]>(), 1..100),
        ) {
            let datagrams = encode(port, sender, &tags);
            let mut back = Vec::new();
            for d in &datagrams {
                prop_assert!(d.len() <= MAX_BEACON_LEN);
                let beacon = decode(d).unwrap();
                prop_assert_eq!(beacon.port, port);
                prop_assert_eq!(beacon.sender, sender);
                back.extend(beacon.tags);
            }
            prop_assert_eq!(back, tags);
        }
    }
}
