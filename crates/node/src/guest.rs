//! Guests: people using a workshop through this laptop from another device with no app (a
//! phone or tablet on the web front door). Each guest has its own private state ([`Local`]:
//! who they are, their anonymous actors, what they last saw), kept beside the laptop's own in
//! `workshops/<id>/guests/<guest id>.json` and written the same durable way.
//!
//! [`Local`]: commonground_api::Local

use std::fmt;

/// A guest's id: 32 lowercase hex digits, chosen at random by the guest's browser and kept
/// there, so a phone that reloads the page is still the same person.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuestId(String);

impl GuestId {
    /// Checks an id: exactly 32 hex digits (any case; kept lowercase).
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(text.to_ascii_lowercase()))
    }

    /// The id, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GuestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a prefix: the id is what lets a phone act as its person.
        write!(f, "GuestId({}…)", &self.0[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_32_hex_digits_are_ids() {
        assert_eq!(GuestId::parse(&"AB".repeat(16)).unwrap().as_str(), "ab".repeat(16));
        for bad in ["", "abc", &"g".repeat(32), &"a".repeat(33), "../../../../../../etc/passwd.json"] {
            assert!(GuestId::parse(bad).is_none(), "{bad}");
        }
    }
}
