//! Key derivation and MACs: one keyed-BLAKE2s construction for every key this crate derives.
//!
//! BLAKE2s with a key is a PRF and a MAC by design (RFC 7693 §2.9), so it needs no HMAC
//! wrapper, and it is already in our Noise suite (`..._BLAKE2s`): using it here adds no new
//! primitive to trust or audit. Each use has its own label (`commonground/...`), which is
//! the domain separation: the same secret fed in under two labels gives unrelated keys.
//!
//! The input is unambiguous by construction: the label and every part are length-prefixed,
//! so no two different (label, parts) lists can produce the same bytes to hash.

use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::Blake2sMac256;

/// Length of every derived key and MAC tag.
pub(crate) const OUT_LEN: usize = 32;

fn keyed(key: &[u8; OUT_LEN], label: &[u8], parts: &[&[u8]]) -> Blake2sMac256 {
    // A 32-byte key is exactly BLAKE2s's maximum key size, so this cannot fail.
    let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(key).expect("32-byte BLAKE2s key");
    Update::update(&mut mac, &(label.len() as u32).to_be_bytes());
    Update::update(&mut mac, label);
    for part in parts {
        Update::update(&mut mac, &(part.len() as u32).to_be_bytes());
        Update::update(&mut mac, part);
    }
    mac
}

/// Derives a 32-byte value from `key`, bound to `label` and `parts`.
pub(crate) fn derive(key: &[u8; OUT_LEN], label: &[u8], parts: &[&[u8]]) -> [u8; OUT_LEN] {
    keyed(key, label, parts).finalize_fixed().into()
}

/// Checks a tag made by [`derive`] in constant time, so a forger learns nothing from timing.
pub(crate) fn verify(key: &[u8; OUT_LEN], label: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    keyed(key, label, parts).verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_parts_separate_domains() {
        let k = [7u8; 32];
        let a = derive(&k, b"commonground/test/a", &[b"xy"]);
        assert_ne!(a, derive(&k, b"commonground/test/b", &[b"xy"]));
        // Length prefixes keep ("x","y") apart from ("xy") and ("","xy").
        assert_ne!(a, derive(&k, b"commonground/test/a", &[b"x", b"y"]));
        assert_ne!(a, derive(&k, b"commonground/test/a", &[b"", b"xy"]));
        assert!(verify(&k, b"commonground/test/a", &[b"xy"], &a));
        assert!(!verify(&k, b"commonground/test/a", &[b"xy"], &a[..31]));
        assert!(!verify(&[8u8; 32], b"commonground/test/a", &[b"xy"], &a));
    }
}
