//! The invite: what a laptop needs to join a workshop, as a link and QR code.
//!
//! The facilitator's screen shows one string, both as a QR code and as a link to copy:
//!
//! ```text
//! commonground://join/1/<payload in base64url, no padding>
//! ```
//!
//! The `1` in the path is the format version, readable without decoding anything, so an
//! older app can say "please update" for a newer link. Holding an invite *is* membership:
//! it carries the workshop secret. Treat it like a password (the QR code is for people in
//! the room; the 6-digit code in [`crate::join`] is the way to join without it).
//!
//! # Payload, format version 1
//!
//! All integers are big-endian. Sizes are in bytes.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 1    | format version: `0x01` |
//! | 1      | 16   | workshop id: the UUID's 16 bytes in RFC 4122 order |
//! | 17     | 32   | workshop secret |
//! | 49     | 4    | key epoch (`u32`) |
//! | 53     | 32   | facilitator's device public key (X25519) |
//! | 85     | 1    | address count *n*, 0 to 8 |
//! | 86     | …    | *n* addresses, each one of: |
//! |        | 7    | &nbsp;&nbsp;`0x04`, IPv4 address (4), port (`u16`) |
//! |        | 19   | &nbsp;&nbsp;`0x06`, IPv6 address (16), port (`u16`) |
//!
//! The payload ends exactly after the last address: 86 bytes with no address, at most 238
//! with eight IPv6 addresses (a link of at most 340 characters, an easy QR code).
//! Addresses are where the facilitator's laptop listens, in order of preference; IPv6 scope
//! ids and flow labels are not carried (a link-local scope means nothing on another laptop).
//!
//! # Decoding is strict
//!
//! A link longer than [`MAX_INVITE_LINK_LEN`] (1 KiB) is refused before anything else is
//! looked at. Surrounding whitespace (from copying and pasting) is ignored; anything else
//! unexpected is an error: another scheme or path, padding or characters outside base64url,
//! non-canonical base64, a version of 0, an address family other than 4 or 6, port 0, more
//! than 8 addresses, and any byte after the last address. A newer version, in the path or
//! in the payload, is [`ProtocolError::InviteTooNew`], which asks the person to update the
//! app. So every accepted link is the one canonical encoding of its invite.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;
use zeroize::Zeroize;

use crate::error::{ProtocolError, Result};
use crate::keys::DevicePublicKey;
use crate::reader::Reader;

/// The invite format version this build writes and reads.
pub const INVITE_VERSION: u8 = 1;
/// Every invite link starts with this.
pub const INVITE_LINK_PREFIX: &str = "commonground://join/";
/// The longest invite link accepted, checked before anything else.
pub const MAX_INVITE_LINK_LEN: usize = 1024;
/// The most addresses an invite carries.
pub const MAX_INVITE_ADDRESSES: usize = 8;
/// The longest version-1 payload: the fixed part and eight IPv6 addresses.
pub const MAX_INVITE_PAYLOAD_LEN: usize = FIXED_LEN + MAX_INVITE_ADDRESSES * V6_LEN;

const FIXED_LEN: usize = 1 + 16 + 32 + 4 + 32 + 1;
const V4_LEN: usize = 1 + 4 + 2;
const V6_LEN: usize = 1 + 16 + 2;
const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// Everything a laptop needs to join a workshop and find the facilitator.
///
/// The secret is wiped from memory when an invite is dropped, and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    /// Which workshop (the Automerge document's workshop id).
    pub workshop_id: Uuid,
    /// The workshop secret, from which the Noise PSK is derived ([`crate::derive_psk`]).
    pub secret: [u8; 32],
    /// The key epoch the secret belongs to.
    pub epoch: u32,
    /// The facilitator's device key, to check the first connection against.
    pub facilitator: DevicePublicKey,
    /// Where the facilitator's laptop listens, most preferred first (at most 8).
    pub addresses: Vec<SocketAddr>,
}

impl Drop for Invite {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invite")
            .field("workshop_id", &self.workshop_id)
            .field("secret", &"<redacted>")
            .field("epoch", &self.epoch)
            .field("facilitator", &self.facilitator)
            .field("addresses", &self.addresses)
            .finish()
    }
}

impl Invite {
    /// The link (and QR code text) for this invite.
    pub fn to_link(&self) -> Result<String> {
        let payload = self.to_payload()?;
        let mut link = format!("{INVITE_LINK_PREFIX}{INVITE_VERSION}/");
        URL_SAFE_NO_PAD.encode_string(&payload, &mut link);
        Ok(link)
    }

    /// Reads an invite link, strictly (see the module docs).
    pub fn from_link(link: &str) -> Result<Self> {
        if link.len() > MAX_INVITE_LINK_LEN {
            return Err(ProtocolError::InvalidInvite("the link is far too long"));
        }
        let link = link.trim_ascii();
        let rest = link
            .strip_prefix(INVITE_LINK_PREFIX)
            .ok_or(ProtocolError::InvalidInvite("it isn't a Common Ground invite link"))?;
        let (version, payload) =
            rest.split_once('/').ok_or(ProtocolError::InvalidInvite("the link has no version"))?;
        check_link_version(version)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ProtocolError::InvalidInvite("the link has characters that don't belong"))?;
        Self::from_payload(&bytes)
    }

    /// The binary payload (see the module docs for the layout).
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        let addresses: usize = self.addresses.iter().map(|a| if a.is_ipv4() { V4_LEN } else { V6_LEN }).sum();
        let mut out = Vec::with_capacity(FIXED_LEN + addresses);
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Reads a binary payload, strictly: no trailing bytes.
    pub fn from_payload(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes);
        let invite = Self::read_from(&mut reader)?;
        if !reader.is_empty() {
            return Err(ProtocolError::InvalidInvite("there are extra bytes at the end"));
        }
        Ok(invite)
    }

    /// Appends the payload to `out`; used for links and inside the join `Welcome`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.addresses.len() > MAX_INVITE_ADDRESSES {
            return Err(ProtocolError::InviteNotEncodable("an invite can carry at most 8 addresses"));
        }
        if self.addresses.iter().any(|a| a.port() == 0) {
            return Err(ProtocolError::InviteNotEncodable("an address has port 0"));
        }
        out.push(INVITE_VERSION);
        out.extend_from_slice(self.workshop_id.as_bytes());
        out.extend_from_slice(&self.secret);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(self.facilitator.as_bytes());
        out.push(self.addresses.len() as u8);
        for address in &self.addresses {
            match address {
                SocketAddr::V4(a) => {
                    out.push(FAMILY_V4);
                    out.extend_from_slice(&a.ip().octets());
                }
                SocketAddr::V6(a) => {
                    out.push(FAMILY_V6);
                    out.extend_from_slice(&a.ip().octets());
                }
            }
            out.extend_from_slice(&address.port().to_be_bytes());
        }
        Ok(())
    }

    /// Reads one payload from the front of `reader`, leaving whatever follows.
    pub(crate) fn read_from(reader: &mut Reader<'_>) -> Result<Self> {
        const SHORT: ProtocolError = ProtocolError::InvalidInvite("it is cut short");
        let version = reader.u8().ok_or(ProtocolError::InvalidInvite("it is empty"))?;
        match version {
            INVITE_VERSION => {}
            0 => return Err(ProtocolError::InvalidInvite("the version is 0")),
            newer => return Err(ProtocolError::InviteTooNew { found: u32::from(newer) }),
        }
        let workshop_id = Uuid::from_bytes(reader.array().ok_or(SHORT)?);
        let secret = reader.array().ok_or(SHORT)?;
        let epoch = reader.u32().ok_or(SHORT)?;
        let facilitator = DevicePublicKey::from_bytes(reader.array().ok_or(SHORT)?);
        let count = usize::from(reader.u8().ok_or(SHORT)?);
        if count > MAX_INVITE_ADDRESSES {
            return Err(ProtocolError::InvalidInvite("it lists too many addresses"));
        }
        // Bounded by the check above: at most 8 entries, allocated only after it.
        let mut addresses = Vec::with_capacity(count);
        for _ in 0..count {
            let address = match reader.u8().ok_or(SHORT)? {
                FAMILY_V4 => {
                    let ip = Ipv4Addr::from(reader.array::<4>().ok_or(SHORT)?);
                    SocketAddr::V4(SocketAddrV4::new(ip, reader.u16().ok_or(SHORT)?))
                }
                FAMILY_V6 => {
                    let ip = Ipv6Addr::from(reader.array::<16>().ok_or(SHORT)?);
                    SocketAddr::V6(SocketAddrV6::new(ip, reader.u16().ok_or(SHORT)?, 0, 0))
                }
                _ => return Err(ProtocolError::InvalidInvite("an address is of an unknown kind")),
            };
            if address.port() == 0 {
                return Err(ProtocolError::InvalidInvite("an address has port 0"));
            }
            addresses.push(address);
        }
        Ok(Self { workshop_id, secret, epoch, facilitator, addresses })
    }
}

/// The path's version: `1`, or a newer number (please update), or not a version at all.
fn check_link_version(version: &str) -> Result<()> {
    if version == "1" {
        return Ok(());
    }
    // Up to 9 digits, no leading zero: a plausible future version rather than garbage.
    let plausible = !version.is_empty()
        && version.len() <= 9
        && version.bytes().all(|b| b.is_ascii_digit())
        && !version.starts_with('0');
    match version.parse::<u32>() {
        Ok(found) if plausible && found > u32::from(INVITE_VERSION) => {
            Err(ProtocolError::InviteTooNew { found })
        }
        _ => Err(ProtocolError::InvalidInvite("the link's version isn't one we know")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn golden_full() -> Invite {
        Invite {
            workshop_id: Uuid::parse_str("6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b").unwrap(),
            secret: std::array::from_fn(|i| i as u8),
            epoch: 3,
            facilitator: DevicePublicKey::from_bytes([0xfa; 32]),
            addresses: vec!["192.168.1.20:47800".parse().unwrap(), "[fd00::1:2]:47800".parse().unwrap()],
        }
    }

    fn golden_minimal() -> Invite {
        Invite {
            workshop_id: Uuid::nil(),
            secret: [0; 32],
            epoch: 0,
            facilitator: DevicePublicKey::from_bytes([0; 32]),
            addresses: vec![],
        }
    }

    // The exact links for two fixed invites, computed independently from the documented layout
    // (Python's base64 and ipaddress modules), not by this code. If these change, the invite format changed:
    // old links would stop working. Bump INVITE_VERSION instead.
    const GOLDEN_FULL: &str = "commonground://join/1/AW8cKj5LXU5vipsMHS4_SlsAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHwAAAAP6-vr6-vr6-vr6-vr6-vr6-vr6-vr6-vr6-vr6-vr6-gIEwKgBFLq4Bv0AAAAAAAAAAAAAAAABAAK6uA";
    const GOLDEN_MINIMAL: &str = "commonground://join/1/AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn golden_vectors_never_change() {
        assert_eq!(golden_full().to_link().unwrap(), GOLDEN_FULL);
        assert_eq!(Invite::from_link(GOLDEN_FULL).unwrap(), golden_full());
        assert_eq!(golden_minimal().to_link().unwrap(), GOLDEN_MINIMAL);
        assert_eq!(Invite::from_link(GOLDEN_MINIMAL).unwrap(), golden_minimal());
    }

    #[test]
    fn golden_payload_layout_matches_the_documentation() {
        let p = golden_full().to_payload().unwrap();
        assert_eq!(p.len(), FIXED_LEN + V4_LEN + V6_LEN);
        assert_eq!(p[0], 1);
        assert_eq!(&p[1..17], golden_full().workshop_id.as_bytes());
        assert_eq!(p[17], 0);
        assert_eq!(p[48], 31);
        assert_eq!(&p[49..53], &[0, 0, 0, 3]);
        assert_eq!(&p[53..85], &[0xfa; 32]);
        assert_eq!(p[85], 2);
        assert_eq!(&p[86..93], &[4, 192, 168, 1, 20, 0xba, 0xb8]);
        assert_eq!(p[93], 6);
        assert_eq!(&p[110..112], &[0xba, 0xb8]);
        assert_eq!(golden_minimal().to_payload().unwrap().len(), 86);
        assert_eq!(MAX_INVITE_PAYLOAD_LEN, 238);
    }

    #[test]
    fn the_longest_invite_fits_comfortably_in_a_qr_code() {
        let mut invite = golden_full();
        invite.addresses = vec!["[2001:db8::1]:65535".parse().unwrap(); 8];
        let link = invite.to_link().unwrap();
        assert_eq!(link.len(), 340);
        assert!(link.len() < MAX_INVITE_LINK_LEN);
    }

    #[test]
    fn newer_versions_ask_to_update() {
        let newer_path = GOLDEN_FULL.replacen("/join/1/", "/join/2/", 1);
        assert_eq!(Invite::from_link(&newer_path), Err(ProtocolError::InviteTooNew { found: 2 }));
        let mut payload = golden_full().to_payload().unwrap();
        payload[0] = 2;
        assert_eq!(Invite::from_payload(&payload), Err(ProtocolError::InviteTooNew { found: 2 }));
        let message = ProtocolError::InviteTooNew { found: 2 }.to_string();
        assert!(message.contains("newer version of Common Ground") && message.contains("update the app"));
    }

    #[test]
    fn malformed_links_are_refused() {
        let b64 = &GOLDEN_FULL[INVITE_LINK_PREFIX.len() + 2..];
        let cases = [
            String::new(),
            "commonground://join/".into(),
            "https://example.org/join/1/AQ".into(),
            format!("commonground://join/01/{b64}"),
            format!("commonground://join/x/{b64}"),
            format!("commonground://join/0/{b64}"),
            format!("commonground://join//{b64}"),
            format!("commonground://join/1/{b64}="),
            format!("commonground://join/1/{b64}A"),
            format!("commonground://join/1/{}", b64.replace('-', "+")),
            format!("commonground://join/1/{}", &b64[..b64.len() - 1]),
            format!("commonground://join/1/{b64}/"),
            format!("COMMONGROUND://JOIN/1/{b64}"),
            format!("{GOLDEN_FULL}{}", " ".repeat(MAX_INVITE_LINK_LEN)),
        ];
        for case in &cases {
            let result = Invite::from_link(case);
            assert!(matches!(result, Err(ProtocolError::InvalidInvite(_))), "{case:?} gave {result:?}");
        }
        // Whitespace around a pasted link is fine.
        assert_eq!(Invite::from_link(&format!("  {GOLDEN_FULL}\n")).unwrap(), golden_full());
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let good = golden_full().to_payload().unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_family = good.clone();
        bad_family[86] = 5;
        let mut port_zero = good.clone();
        port_zero[91..93].copy_from_slice(&[0, 0]);
        let mut too_many = golden_minimal().to_payload().unwrap();
        too_many[85] = 9;
        too_many.extend(std::iter::repeat_n([4, 1, 2, 3, 4, 0, 1], 9).flatten());
        for case in
            [vec![], vec![0], trailing, bad_family, port_zero, too_many, good[..good.len() - 1].to_vec()]
        {
            assert!(matches!(Invite::from_payload(&case), Err(ProtocolError::InvalidInvite(_))), "{case:?}");
        }
    }

    #[test]
    fn unencodable_invites_are_refused() {
        let mut invite = golden_full();
        invite.addresses = vec!["10.0.0.1:1".parse().unwrap(); 9];
        assert!(matches!(invite.to_link(), Err(ProtocolError::InviteNotEncodable(_))));
        invite.addresses = vec!["10.0.0.1:0".parse().unwrap()];
        assert!(matches!(invite.to_link(), Err(ProtocolError::InviteNotEncodable(_))));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", golden_full());
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("secret: ["));
    }

    pub(crate) fn arb_invite() -> impl Strategy<Value = Invite> {
        let address = prop_oneof![
            (any::<[u8; 4]>(), 1u16..).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), 1u16..).prop_map(|(ip, port)| SocketAddr::from((Ipv6Addr::from(ip), port))),
        ];
        (
            any::<[u8; 16]>(),
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<[u8; 32]>(),
            proptest::collection::vec(address, 0..=MAX_INVITE_ADDRESSES),
        )
            .prop_map(|(id, secret, epoch, key, addresses)| Invite {
                workshop_id: Uuid::from_bytes(id),
                secret,
                epoch,
                facilitator: DevicePublicKey::from_bytes(key),
                addresses,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn invites_round_trip(invite in arb_invite()) {
            let link = invite.to_link().unwrap();
            prop_assert!(link.len() <= MAX_INVITE_LINK_LEN);
            prop_assert_eq!(Invite::from_link(&link).unwrap(), invite.clone());
            prop_assert_eq!(Invite::from_payload(&invite.to_payload().unwrap()).unwrap(), invite);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,1200}") {
            let _ = Invite::from_link(&text);
        }

        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(invite) = Invite::from_payload(&bytes) {
                // Whatever is accepted is the canonical encoding of what it decoded to.
                prop_assert_eq!(invite.to_payload().unwrap(), bytes);
            }
        }

        #[test]
        fn damaged_links_never_panic_and_accepted_ones_are_canonical(
            invite in arb_invite(),
            edits in proptest::collection::vec((any::<usize>(), any::<char>()), 1..4),
        ) {
            let mut chars: Vec<char> = invite.to_link().unwrap().chars().collect();
            for (at, c) in edits {
                let at = at % chars.len();
                chars[at] = c;
            }
            let damaged: String = chars.into_iter().collect();
            if let Ok(decoded) = Invite::from_link(&damaged) {
                prop_assert_eq!(decoded.to_link().unwrap(), damaged.trim_ascii());
            }
        }
    }
}
