//! Sealed change files for syncing through a shared folder (OneDrive, Nextcloud, Syncthing, a
//! USB stick): the bytes each laptop writes there, and how they are read back.
//!
//! Each laptop appends to its own file in the folder and only reads the others', so no two
//! writers ever touch one file; the folder's own sync tool can deliver files late, out of
//! order, or half-written, and that is fine: a reader takes the complete records it finds and
//! waits for the rest.
//!
//! A file is a sequence of records, nothing else:
//!
//! ```text
//! record = magic "CGR1" (4) | length of the sealed body, u32 big-endian (4) | nonce (12) | sealed body
//! ```
//!
//! The body is Automerge change bytes (a `save_after` chunk, or a whole save after
//! compaction) sealed with ChaCha20-Poly1305 under the **folder key** — derived from the
//! workshop secret and key epoch, so the folder holds only ciphertext, and someone removed from
//! the workshop can't read what is written after the rotation. The nonce is random (every
//! laptop shares the key); the associated data is the magic and the file's name, so a record
//! moved into another laptop's file fails its check.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroizing;

use crate::error::{ProtocolError, Result};
use crate::kdf;

/// The magic at the start of every record.
pub const RECORD_MAGIC: &[u8; 4] = b"CGR1";
/// Bytes before the sealed body: magic, length, nonce.
pub const RECORD_HEADER_LEN: usize = 4 + 4 + 12;
/// The largest sealed body accepted: a whole workshop's save, with room to spare. Checked at
/// the header, before anything is allocated.
pub const MAX_RECORD_BODY: usize = 64 * 1024 * 1024;

/// The key that seals a workshop's folder records at a key epoch.
pub fn folder_key(secret: &[u8; 32], epoch: u32) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(kdf::derive(secret, b"commonground/folder/v1", &[&epoch.to_be_bytes()]))
}

/// Seals one record for the file named `file`. `nonce` must be fresh random bytes.
pub fn seal_record(key: &[u8; 32], file: &str, nonce: [u8; 12], body: &[u8]) -> Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let aad = aad(file);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: body, aad: &aad })
        .map_err(|_| ProtocolError::Internal("sealing a folder record"))?;
    if sealed.len() > MAX_RECORD_BODY {
        return Err(ProtocolError::MessageTooLarge { len: sealed.len() as u64, max: MAX_RECORD_BODY as u64 });
    }
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + sealed.len());
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// What the next bytes of a file hold.
#[derive(Debug, PartialEq, Eq)]
pub enum NextRecord {
    /// A record, opened, and how many bytes it took.
    Record {
        /// The Automerge bytes.
        body: Vec<u8>,
        /// Bytes consumed.
        len: usize,
    },
    /// The record isn't all there yet (the folder is still syncing it): read again later.
    Incomplete,
    /// A complete record that doesn't open under this key: written under another key epoch,
    /// or damaged. Skip `len` bytes.
    Unreadable {
        /// Bytes to skip.
        len: usize,
    },
}

/// Reads the record at the start of `bytes` from the file named `file`. A header that isn't
/// a record's (not our magic, or a length over the cap) is an error: the rest of the file
/// can't be trusted to line up.
pub fn next_record(key: &[u8; 32], file: &str, bytes: &[u8]) -> Result<NextRecord> {
    if bytes.len() < RECORD_HEADER_LEN {
        if !RECORD_MAGIC.starts_with(&bytes[..bytes.len().min(4)]) {
            return Err(ProtocolError::MalformedFrame("not a Common Ground folder record"));
        }
        return Ok(NextRecord::Incomplete);
    }
    if &bytes[..4] != RECORD_MAGIC {
        return Err(ProtocolError::MalformedFrame("not a Common Ground folder record"));
    }
    let body_len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if body_len > MAX_RECORD_BODY {
        return Err(ProtocolError::MessageTooLarge { len: body_len as u64, max: MAX_RECORD_BODY as u64 });
    }
    let len = RECORD_HEADER_LEN + body_len;
    if bytes.len() < len {
        return Ok(NextRecord::Incomplete);
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let aad = aad(file);
    let nonce = Nonce::from_slice(&bytes[8..20]);
    match cipher.decrypt(nonce, Payload { msg: &bytes[RECORD_HEADER_LEN..len], aad: &aad }) {
        Ok(body) => Ok(NextRecord::Record { body, len }),
        Err(_) => Ok(NextRecord::Unreadable { len }),
    }
}

fn aad(file: &str) -> Vec<u8> {
    let mut aad = RECORD_MAGIC.to_vec();
    aad.extend_from_slice(file.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_wait_for_partial_writes() {
        let key = folder_key(&[1u8; 32], 1);
        let a = seal_record(&key, "laptop-a.cgsync", [7u8; 12], b"change one").unwrap();
        let b = seal_record(&key, "laptop-a.cgsync", [8u8; 12], b"change two").unwrap();
        let file = [a.clone(), b.clone()].concat();
        let NextRecord::Record { body, len } = next_record(&key, "laptop-a.cgsync", &file).unwrap() else {
            panic!()
        };
        assert_eq!((body.as_slice(), len), (&b"change one"[..], a.len()));
        // Every cut through the second record waits for the rest.
        for cut in 0..b.len() {
            assert_eq!(
                next_record(&key, "laptop-a.cgsync", &b[..cut]).unwrap(),
                NextRecord::Incomplete,
                "{cut}"
            );
        }
        // The folder holds no plain text.
        assert!(!file.windows(6).any(|w| w == b"change"));
    }

    #[test]
    fn other_keys_files_and_damage_are_unreadable_and_junk_is_refused() {
        let key = folder_key(&[1u8; 32], 1);
        let record = seal_record(&key, "a.cgsync", [7u8; 12], b"x").unwrap();
        let len = record.len();
        let other_epoch = folder_key(&[1u8; 32], 2);
        assert_eq!(next_record(&other_epoch, "a.cgsync", &record).unwrap(), NextRecord::Unreadable { len });
        assert_eq!(next_record(&key, "b.cgsync", &record).unwrap(), NextRecord::Unreadable { len });
        let mut flipped = record.clone();
        flipped[len - 1] ^= 1;
        assert_eq!(next_record(&key, "a.cgsync", &flipped).unwrap(), NextRecord::Unreadable { len });
        assert!(next_record(&key, "a.cgsync", b"PK\x03\x04 a zip file").is_err());
        let mut huge = record.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(next_record(&key, "a.cgsync", &huge), Err(ProtocolError::MessageTooLarge { .. })));
    }
}
