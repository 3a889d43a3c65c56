//! The two framing layers on a byte stream from a peer, in any chunking.
//!
//! Input: the whole input is first treated as a raw stream (all at once and a byte at a
//! time, exactly as `tests/crashers.rs` replays a file). Then it is read as a chunking plan
//! and a stream: byte 0 gives `k = byte % 16` chunk lengths, the next `2k` bytes are those
//! lengths (`u16`, big-endian, used in turn), and the rest is the stream.
//!
//! Checked: nothing panics; memory held never exceeds one frame (or one message) and follows
//! the bytes that actually arrived; every byte is accounted for; the chunking never changes
//! which frames come out; and every message that comes out round-trips through
//! `split_message`.

#![no_main]

use commonground_protocol::{
    encode_frame, frames_for_message, split_message, FrameDecoder, MessageAssembler, FRAME_HEADER_LEN,
    MAX_FRAME_LEN, MAX_FRAME_PLAINTEXT, MAX_MESSAGE_LEN, MESSAGE_HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

/// What a stream decoded to: the frames in order, and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    /// `Some(error)` if the decoder refused the stream, else whether `finish` was happy.
    error: Option<String>,
    clean_end: bool,
}

/// Feeds `stream` to a fresh decoder in chunks of the lengths `next_len` gives (a length of
/// 0 feeds an empty slice), checking the decoder's invariants after every call.
fn decode(stream: &[u8], mut next_len: impl FnMut() -> usize) -> Outcome {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut consumed = 0usize;
    let mut rest = stream;
    let mut error = None;
    'feed: while !rest.is_empty() {
        let len = next_len().min(rest.len());
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let mut input = chunk;
        loop {
            let before = input.len();
            let result = decoder.decode(&mut input);
            consumed += before - input.len();
            match result {
                Ok(Some(frame)) => {
                    assert!(
                        !frame.is_empty() && frame.len() <= MAX_FRAME_LEN,
                        "frame of {} bytes",
                        frame.len()
                    );
                    frames.push(frame);
                }
                Ok(None) => {
                    assert!(input.is_empty(), "the decoder stopped with input left and no frame");
                    break;
                }
                Err(e) => {
                    error = Some(format!("{e:?}"));
                    // A failed decoder refuses everything after.
                    let mut more: &[u8] = &[0, 1, 2];
                    assert!(decoder.decode(&mut more).is_err(), "a failed decoder accepted more bytes");
                    break 'feed;
                }
            }
            // Memory: at most one frame, and only what has arrived (geometric growth).
            assert!(decoder.buffered() <= FRAME_HEADER_LEN + MAX_FRAME_LEN);
            assert!(decoder.buffered_capacity() <= MAX_FRAME_LEN);
            assert!(decoder.buffered_capacity() <= 2 * decoder.buffered());
            if input.is_empty() {
                break;
            }
        }
        if error.is_none() {
            // Every byte taken is in a frame (with its header) or held for the next one.
            let framed: usize = frames.iter().map(|f| f.len() + FRAME_HEADER_LEN).sum();
            assert_eq!(framed + decoder.buffered(), consumed, "bytes went missing");
        }
    }
    let clean_end = error.is_none() && decoder.finish().is_ok();
    if error.is_none() {
        assert_eq!(clean_end, decoder.buffered() == 0);
        // Re-encoding the frames gives back exactly the bytes that made them.
        let mut wire = Vec::new();
        for f in &frames {
            encode_frame(f, &mut wire).expect("a decoded frame re-encodes");
        }
        assert_eq!(wire, stream[..wire.len()]);
    }
    Outcome { frames, error, clean_end }
}

/// Pushes frame plaintexts into an assembler, checking its invariants.
fn assemble<'a>(plaintexts: impl IntoIterator<Item = &'a [u8]>) {
    let mut assembler = MessageAssembler::new();
    let mut pushed = 0usize;
    let mut accounted = 0usize;
    for p in plaintexts {
        let result = assembler.push(p);
        pushed += p.len();
        match result {
            Ok(message) => {
                if let Some(message) = message {
                    assert!(message.len() <= MAX_MESSAGE_LEN);
                    accounted += MESSAGE_HEADER_LEN + message.len();
                    round_trip(&message);
                }
                assert!(assembler.buffered_capacity() <= MAX_MESSAGE_LEN);
                assert!(assembler.buffered_capacity() <= 2 * pushed.max(1));
                // Every byte pushed is in a message, or its header, or held for the pending one.
                let pending_header = if assembler.is_idle() { 0 } else { MESSAGE_HEADER_LEN };
                assert_eq!(accounted + pending_header + assembler.buffered(), pushed, "bytes went missing");
            }
            Err(_) => {
                assert_eq!(assembler.buffered_capacity(), 0, "a failed assembler kept its buffer");
                assert!(assembler.push(&[0, 0, 0, 1, 7]).is_err(), "a failed assembler accepted more");
                return;
            }
        }
    }
}

/// A message that came out goes back in through `split_message` and comes out the same.
fn round_trip(message: &[u8]) {
    let chunks: Vec<Vec<u8>> = split_message(message).expect("a received message can be sent").collect();
    assert_eq!(chunks.len(), frames_for_message(message.len()));
    let mut assembler = MessageAssembler::new();
    let mut out = None;
    for c in &chunks {
        assert!(!c.is_empty() && c.len() <= MAX_FRAME_PLAINTEXT);
        assert!(out.is_none(), "a message came out before its last frame");
        out = assembler.push(c).expect("split_message's frames are accepted");
    }
    assert_eq!(out.as_deref(), Some(message));
}

fuzz_target!(|data: &[u8]| {
    // The raw stream, as tests/crashers.rs replays it.
    let whole = decode(data, || usize::MAX);
    let bytewise = decode(data, || 1);
    assert_eq!(whole, bytewise, "byte-at-a-time decoding differs from all-at-once");
    assemble(std::iter::once(data));
    assemble(whole.frames.iter().map(Vec::as_slice));

    // A chunking plan, then a stream.
    let Some((&k, rest)) = data.split_first() else { return };
    let k = usize::from(k % 16);
    let Some((plan, stream)) = rest.split_at_checked(2 * k) else { return };
    let mut lens: Vec<usize> =
        plan.chunks_exact(2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).collect();
    // Zero-length chunks are fed too, but something must move the stream along.
    if lens.iter().all(|&len| len == 0) {
        lens.push(1);
    }
    let mut next = lens.iter().copied().cycle();
    let reference = decode(stream, || usize::MAX);
    let chunked = decode(stream, || next.next().unwrap_or(1));
    assert_eq!(reference, chunked, "the chunking changed what was decoded");

    // The same chunks as frame plaintexts: the assembler must cope with any frame boundaries.
    let mut chunks = Vec::new();
    let mut left = stream;
    let mut next = lens.iter().copied().cycle();
    while !left.is_empty() {
        let (chunk, tail) = left.split_at(next.next().unwrap_or(1).min(left.len()));
        chunks.push(chunk);
        left = tail;
    }
    assemble(chunks);
});
