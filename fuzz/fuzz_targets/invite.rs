//! Invite links and payloads, and typed join codes: what people paste or scan.
//!
//! Input: the whole input goes to `Invite::from_link` (as UTF-8, lossily), to
//! `Invite::from_payload` and to `JoinCode::parse`, as `tests/crashers.rs` replays a file.
//! Then byte 0 picks how the rest is read: as link text, as a payload wrapped in a valid
//! link prefix (so the fuzzer reaches the payload decoder through the link path without
//! having to discover base64), or as a payload.
//!
//! Checked: nothing panics, and decoding is strict: whatever is accepted re-encodes to
//! exactly the bytes (or, after trimming whitespace, the link) it came from.

#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use commonground_protocol::{Invite, JoinCode, INVITE_LINK_PREFIX, MAX_INVITE_PAYLOAD_LEN};
use libfuzzer_sys::fuzz_target;

fn check_link(link: &str) {
    if let Ok(invite) = Invite::from_link(link) {
        let canonical = invite.to_link().expect("an accepted invite re-encodes");
        assert_eq!(canonical, link.trim_ascii(), "a non-canonical link was accepted");
        check_invite(&invite);
    }
}

fn check_payload(bytes: &[u8]) {
    if let Ok(invite) = Invite::from_payload(bytes) {
        assert!(bytes.len() <= MAX_INVITE_PAYLOAD_LEN);
        assert_eq!(invite.to_payload().expect("an accepted invite re-encodes"), bytes);
        check_invite(&invite);
    }
}

fn check_invite(invite: &Invite) {
    assert!(invite.addresses.len() <= 8);
    assert!(invite.addresses.iter().all(|a| a.port() != 0));
    // Debug never shows the secret.
    let shown = format!("{invite:?}");
    assert!(shown.contains("<redacted>"));
}

fn check_code(text: &str) {
    if let Ok(code) = JoinCode::parse(text) {
        let shown = code.to_string();
        assert_eq!(shown.len(), 7, "{shown:?}");
        assert_eq!(JoinCode::parse(&shown).expect("a shown code parses"), code);
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(shown.replace(' ', ""), digits);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_link(&text);
    check_payload(data);
    check_code(&text);

    let Some((&mode, body)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            if let Ok(text) = std::str::from_utf8(body) {
                check_link(text);
                check_code(text);
            }
        }
        1 | 2 => {
            // A well-formed prefix (version 1, or a version the fuzzer picks) around a payload.
            let version = if mode % 4 == 1 { "1".to_string() } else { (mode / 4).to_string() };
            let mut link = format!("{INVITE_LINK_PREFIX}{version}/");
            URL_SAFE_NO_PAD.encode_string(body, &mut link);
            check_link(&link);
            if mode & 0x80 != 0 {
                check_link(&format!(" \t{link}\r\n"));
            }
        }
        _ => check_payload(body),
    }
});
