//! Records read from another laptop's file in a shared folder: anyone who can write to the
//! folder (or the folder's sync tool, half-way through) can put any bytes there.
//!
//! Checked: nothing panics; a read consumes at most what is there and never more than one
//! record's cap; a record that opens round-trips through `seal_record`; and walking a whole
//! file record by record ends cleanly (incomplete tail, error, or the end).

#![no_main]

use commonground_protocol::{
    folder_key, next_record, seal_record, NextRecord, MAX_RECORD_BODY, RECORD_HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = folder_key(&[3u8; 32], 1);
    let mut rest = data;
    loop {
        match next_record(&key, "peer.cgsync", rest) {
            Ok(NextRecord::Record { body, len }) => {
                assert!(
                    len <= rest.len()
                        && (RECORD_HEADER_LEN..=RECORD_HEADER_LEN + MAX_RECORD_BODY).contains(&len)
                );
                let resealed =
                    seal_record(&key, "peer.cgsync", rest[8..20].try_into().unwrap(), &body).unwrap();
                assert_eq!(resealed, rest[..len]);
                rest = &rest[len..];
            }
            Ok(NextRecord::Unreadable { len }) => {
                assert!(len <= rest.len() && len >= RECORD_HEADER_LEN);
                rest = &rest[len..];
            }
            Ok(NextRecord::Incomplete) | Err(_) => break,
        }
        if rest.is_empty() {
            break;
        }
    }
    // A record of our own always reads back, whatever the body.
    let sealed = seal_record(&key, "own.cgsync", [9u8; 12], data).unwrap();
    assert_eq!(
        next_record(&key, "own.cgsync", &sealed).unwrap(),
        NextRecord::Record { body: data.to_vec(), len: sealed.len() }
    );
});
