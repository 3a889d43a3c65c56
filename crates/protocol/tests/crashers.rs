//! Replays every file in `tests/crashers/` through every decoder and state machine that
//! takes bytes from another laptop or a pasted link. Each must return (an error is fine),
//! never panic, and keep its memory bounded. Fuzz crashers land here as files and so
//! become regression tests with no code to write.

use std::path::Path;
use std::time::Instant;

use commonground_protocol::{
    derive_psk, CodeGate, DeviceKeypair, FrameDecoder, Handshake, HostJoin, Invite, JoinCode, JoinMessage,
    JoinRequest, JoinerState, MessageAssembler, Session, Welcome, FRAME_HEADER_LEN, MAX_FRAME_LEN,
    MAX_MESSAGE_LEN,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use uuid::Uuid;

fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = decoder.decode(&mut input) {
        frames.push(frame);
    }
    frames
}

/// A live session pair, made in memory, for replaying transport frames.
fn session(rng: &mut ChaCha20Rng) -> Session {
    let a = DeviceKeypair::generate(rng);
    let b = DeviceKeypair::generate(rng);
    let psk = derive_psk(&[1; 32], 0);
    let (mut init, w1) = Handshake::initiate(&a, &psk, rng).unwrap();
    let mut resp = Handshake::respond(&b, &psk, rng).unwrap();
    let w2 = resp.receive(&frames_of(&w1)[0]).unwrap().unwrap();
    let w3 = init.receive(&frames_of(&w2)[0]).unwrap().unwrap();
    let w4 = resp.receive(&frames_of(&w3)[0]).unwrap().unwrap();
    init.receive(&frames_of(&w4)[0]).unwrap();
    resp.into_session().unwrap()
}

fn replay(bytes: &[u8], rng: &mut ChaCha20Rng) {
    let text = String::from_utf8_lossy(bytes);

    // Framing: all at once and a byte at a time, memory bounded throughout.
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    while let Ok(Some(_)) = decoder.decode(&mut input) {}
    let _ = decoder.finish();
    let mut decoder = FrameDecoder::new();
    for byte in bytes.chunks(1) {
        let mut input = byte;
        if decoder.decode(&mut input).is_err() {
            break;
        }
        assert!(decoder.buffered() <= FRAME_HEADER_LEN + MAX_FRAME_LEN);
    }
    let frames = frames_of(bytes);
    for plaintexts in [vec![bytes.to_vec()], frames.clone()] {
        let mut assembler = MessageAssembler::new();
        for p in &plaintexts {
            if assembler.push(p).is_err() {
                break;
            }
            assert!(assembler.buffered_capacity() <= MAX_MESSAGE_LEN);
        }
    }

    // Invites and join payloads.
    let _ = Invite::from_link(&text);
    let _ = Invite::from_payload(bytes);
    let _ = JoinMessage::decode(bytes);
    let _ = Welcome::decode(bytes);
    let _ = JoinRequest::decode(bytes);
    let _ = JoinCode::parse(&text);

    // Folder records: walked as a whole file.
    let folder = commonground_protocol::folder_key(&[3; 32], 1);
    let mut rest = bytes;
    while let Ok(
        commonground_protocol::NextRecord::Record { len, .. }
        | commonground_protocol::NextRecord::Unreadable { len },
    ) = commonground_protocol::next_record(&folder, "peer.cgsync", rest)
    {
        rest = &rest[len..];
    }

    // Noise: as a handshake message to either side, as frames, and as transport frames.
    let keys = DeviceKeypair::generate(rng);
    let psk = derive_psk(&[2; 32], 0);
    for candidate in std::iter::once(bytes.to_vec()).chain(frames.iter().cloned()) {
        let mut resp = Handshake::respond(&keys, &psk, rng).unwrap();
        let _ = resp.receive(&candidate);
        let (mut init, _) = Handshake::initiate(&keys, &psk, rng).unwrap();
        let _ = init.receive(&candidate);
        let _ = session(rng).open(&candidate);
    }

    // Joining: as the Hello a host receives, the Request after it, and what a joiner receives.
    let now = Instant::now();
    let mut gate = CodeGate::issue(Uuid::from_bytes([3; 16]), now, rng);
    let _ = HostJoin::start(&mut gate, now, bytes, rng);
    let code = gate.code().clone();
    let request = JoinRequest { device: keys.public_key(), name: b"Sam".to_vec() };
    let (mut joiner, hello) = JoinerState::start(&code, request, None, rng).unwrap();
    let _ = joiner.receive(bytes);
    if let Ok((mut host, _)) = HostJoin::start(&mut gate, now, &hello, rng) {
        let _ = host.receive(&mut gate, now, bytes);
    }
}

#[test]
fn every_crasher_is_handled_by_every_decoder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crashers");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() > 1, "the crasher corpus should not be empty");
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        replay(&bytes, &mut rng);
    }
}
