//! The Noise handshake and session, fed hostile frames.
//!
//! Input: byte 0 picks a scenario and the rest is its input:
//!
//! - 0: a responder receives the rest as the first handshake message (and, whatever it
//!   answered, the rest again as the third).
//! - 1: a responder that got a real first message receives the rest as the third.
//! - 2: an initiator receives the rest as the second message.
//! - 3: an initiator that sent a real third message receives the rest as the confirmation.
//! - 4: an established session receives the rest as a stream of transport frames.
//! - 5: an established session seals a message the fuzzer chooses, the wire bytes are
//!   tampered with (or not), and the other side decodes and opens them.
//!
//! Checked: nothing panics; peer bytes never cause an `Internal` error; a failed handshake
//! or session refuses everything after; nothing forged completes a handshake or delivers a
//! message; memory held stays within one message; and untampered messages arrive intact.

#![no_main]

use commonground_protocol::{
    derive_psk, DeviceKeypair, FrameDecoder, Handshake, ProtocolError, Session, MAX_FRAME_LEN,
    MAX_MESSAGE_LEN,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn not_internal<T>(result: &Result<T, ProtocolError>) {
    if let Err(ProtocolError::Internal(why)) = result {
        panic!("peer bytes caused an internal error: {why}");
    }
}

/// The body of the single frame in `wire`.
fn frame_body(wire: &[u8]) -> Vec<u8> {
    let mut decoder = FrameDecoder::new();
    let mut input = wire;
    let frame = decoder.decode(&mut input).expect("a valid frame").expect("a whole frame");
    assert!(input.is_empty());
    frame
}

/// Frame bodies in `bytes`, as the runtime would cut them, until the stream breaks.
fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = decoder.decode(&mut input) {
        frames.push(frame);
    }
    frames
}

/// Feeds a handshake one hostile frame and checks what it may and may not do.
fn hostile(handshake: &mut Handshake, frame: &[u8]) -> bool {
    let result = handshake.receive(frame);
    not_internal(&result);
    if let Ok(Some(reply)) = &result {
        // Replies are whole frames of at most a Noise message.
        assert!(reply.len() <= 2 + MAX_FRAME_LEN);
        frame_body(reply);
    }
    if result.is_err() {
        assert!(!handshake.is_complete());
        assert_eq!(handshake.receive(frame), Err(ProtocolError::SessionClosed), "a failed handshake went on");
    }
    result.is_ok()
}

struct Pair {
    a: DeviceKeypair,
    b: DeviceKeypair,
    psk: [u8; 32],
}

fn pair(rng: &mut ChaCha20Rng) -> Pair {
    Pair { a: DeviceKeypair::generate(rng), b: DeviceKeypair::generate(rng), psk: derive_psk(&[5; 32], 1) }
}

/// A completed handshake: (initiator's session, responder's session).
fn sessions(p: &Pair, rng: &mut ChaCha20Rng) -> (Session, Session) {
    let (mut init, w1) = Handshake::initiate(&p.a, &p.psk, rng).unwrap();
    let mut resp = Handshake::respond(&p.b, &p.psk, rng).unwrap();
    let w2 = resp.receive(&frame_body(&w1)).unwrap().unwrap();
    let w3 = init.receive(&frame_body(&w2)).unwrap().unwrap();
    let w4 = resp.receive(&frame_body(&w3)).unwrap().unwrap();
    assert_eq!(init.receive(&frame_body(&w4)).unwrap(), None);
    (init.into_session().unwrap(), resp.into_session().unwrap())
}

/// Opens frames in order; returns the messages delivered before the first error.
fn open_all(session: &mut Session, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, bool) {
    let mut delivered = Vec::new();
    for frame in frames {
        let result = session.open(frame);
        not_internal(&result);
        assert!(session.buffered() <= MAX_MESSAGE_LEN);
        match result {
            Ok(Some(message)) => delivered.push(message),
            Ok(None) => {}
            Err(_) => {
                assert_eq!(
                    session.open(frame),
                    Err(ProtocolError::SessionClosed),
                    "a failed session went on"
                );
                return (delivered, false);
            }
        }
    }
    (delivered, true)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    // Seeded per input, so every run of an input is the same run.
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(which));
    let p = pair(&mut rng);
    match which % 6 {
        0 => {
            let mut resp = Handshake::respond(&p.b, &p.psk, &mut rng).unwrap();
            if hostile(&mut resp, body) {
                // A message 1 made without the key material can't be followed by a message 3.
                hostile(&mut resp, body);
                assert!(!resp.is_complete(), "a forged handshake completed");
            }
        }
        1 => {
            let (_init, w1) = Handshake::initiate(&p.a, &p.psk, &mut rng).unwrap();
            let mut resp = Handshake::respond(&p.b, &p.psk, &mut rng).unwrap();
            resp.receive(&frame_body(&w1)).unwrap().unwrap();
            hostile(&mut resp, body);
            assert!(!resp.is_complete(), "a forged message 3 completed the handshake");
            assert!(resp.remote_public_key().is_none() || resp.into_session().is_err());
        }
        2 => {
            let (mut init, _w1) = Handshake::initiate(&p.a, &p.psk, &mut rng).unwrap();
            hostile(&mut init, body);
            assert!(!init.is_complete(), "a forged message 2 completed the handshake");
        }
        3 => {
            let (mut init, w1) = Handshake::initiate(&p.a, &p.psk, &mut rng).unwrap();
            let mut resp = Handshake::respond(&p.b, &p.psk, &mut rng).unwrap();
            let w2 = resp.receive(&frame_body(&w1)).unwrap().unwrap();
            init.receive(&frame_body(&w2)).unwrap().unwrap();
            assert_eq!(init.remote_public_key(), Some(p.b.public_key()));
            hostile(&mut init, body);
            assert!(!init.is_complete(), "a forged confirmation completed the handshake");
        }
        4 => {
            let (mut init, _resp) = sessions(&p, &mut rng);
            let mut frames = frames_of(body);
            frames.insert(0, body.to_vec());
            let (delivered, _) = open_all(&mut init, &frames);
            assert!(delivered.is_empty(), "a forged frame delivered a message");
        }
        _ => {
            let (mut init, mut resp) = sessions(&p, &mut rng);
            // Byte 0 of the rest: 0 leaves the wire alone, anything else is XORed into the
            // byte the next two bytes point at.
            let (mask, at, message) = match body {
                [mask, hi, lo, message @ ..] => (*mask, usize::from(u16::from_be_bytes([*hi, *lo])), message),
                _ => (0, 0, body),
            };
            let mut wire = init.seal(message).expect("a small message seals");
            if mask != 0 {
                let i = at % wire.len();
                wire[i] ^= mask;
            }
            let (delivered, ok) = open_all(&mut resp, &frames_of(&wire));
            if mask != 0 {
                assert!(delivered.is_empty(), "a tampered message was delivered");
                // A frame that failed to open closed the session for good, sending included.
                if !ok {
                    assert_eq!(resp.seal(message), Err(ProtocolError::SessionClosed));
                }
                return;
            }
            assert!(ok);
            assert_eq!(delivered, [message.to_vec()], "an untampered message didn't arrive intact");
            // And the other way, so both directions' nonces are in play.
            let back = resp.seal(message).expect("a small message seals");
            let (delivered, ok) = open_all(&mut init, &frames_of(&back));
            assert!(ok && delivered == [message.to_vec()]);
        }
    }
});
