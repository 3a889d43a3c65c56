//! Wire framing, in two layers.
//!
//! **Noise frames.** On the TCP stream every Noise message (handshake or transport) travels
//! as a frame: a big-endian `u16` length, then that many bytes. Noise messages are at most
//! 65,535 bytes, so a `u16` is exactly enough, and the biggest frame a peer can make us
//! buffer is 64 KiB — whatever its header says. A zero length is refused: Noise never
//! produces an empty message.
//!
//! ```text
//! +--------+--------+---------------------------+
//! | len (u16, BE)   | len bytes of ciphertext   |   1 <= len <= 65535
//! +--------+--------+---------------------------+
//! ```
//!
//! **Application messages.** Inside the encrypted channel each message (a samod sync
//! message, a roster update...) is a big-endian `u32` length, then the bytes. The length is
//! capped at [`MAX_MESSAGE_LEN`] (16 MiB) and checked *as soon as the 4 header bytes are in*,
//! before anything is allocated for the body, so a peer announcing 4 GiB costs us nothing.
//! A message is cut into as many frames as needed, each carrying at most
//! [`MAX_FRAME_PLAINTEXT`] bytes (65,535 less the 16-byte Poly1305 tag). Two rules keep the
//! receiving side simple and strict:
//!
//! - a message always starts at the start of a frame, with its whole 4-byte header in that
//!   frame; and
//! - a frame never carries bytes of two messages (the last frame of a message is short).
//!
//! So every decrypted frame either completes a message or leaves one pending, and
//! [`MessageAssembler::push`] returns at most one message per frame. Empty frames are refused:
//! they carry nothing and would only let a peer burn our CPU.
//!
//! Both decoders hold memory proportional to the bytes that have actually arrived, never to
//! what a header claims: a peer that announces a 16 MiB message and sends 10 bytes of it
//! costs us 10 bytes.

use crate::error::{ProtocolError, Result};

/// Length of a Noise frame header.
pub const FRAME_HEADER_LEN: usize = 2;
/// The largest Noise message, and so the largest frame body.
pub const MAX_FRAME_LEN: usize = u16::MAX as usize;
/// Length of the ChaCha20-Poly1305 tag on every transport frame.
pub const NOISE_TAG_LEN: usize = 16;
/// The most plaintext one transport frame carries.
pub const MAX_FRAME_PLAINTEXT: usize = MAX_FRAME_LEN - NOISE_TAG_LEN;
/// Length of an application message header.
pub const MESSAGE_HEADER_LEN: usize = 4;
/// The largest application message: 16 MiB. Large enough for a whole workshop document
/// (10k notes save to ~200 KB), small enough that a hostile peer can't exhaust a laptop.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;

/// Appends one frame (`u16` length + `payload`) to `out`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if payload.is_empty() {
        return Err(ProtocolError::EmptyFrame);
    }
    let len = u16::try_from(payload.len())
        .map_err(|_| ProtocolError::FrameTooLarge { len: payload.len(), max: MAX_FRAME_LEN })?;
    out.reserve(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Grows `buf` so it can take `extra` more bytes: geometrically, for linear total copying
/// when bytes trickle in, but never past `limit`, so capacity never exceeds what the
/// header allowed.
fn grow_within(buf: &mut Vec<u8>, extra: usize, limit: usize) {
    let want = buf.len() + extra;
    if buf.capacity() < want {
        let target = buf.capacity().saturating_mul(2).max(want).min(limit);
        buf.reserve_exact(target - buf.len());
    }
}

/// Splits a byte stream into Noise frames, incrementally.
///
/// Feed it whatever the socket gave you, in any chunking; it takes bytes from the front of
/// the input only as far as the end of the current frame, so bytes of the next frame stay
/// in your slice and nothing is buffered twice. Memory held is at most one frame (64 KiB +
/// 2), and only as much of it as has arrived.
///
/// ```
/// # use commonground_protocol::{encode_frame, FrameDecoder};
/// let mut wire = Vec::new();
/// encode_frame(b"hello", &mut wire).unwrap();
/// encode_frame(b"world", &mut wire).unwrap();
/// let mut decoder = FrameDecoder::new();
/// let mut input: &[u8] = &wire;
/// let mut frames = Vec::new();
/// while let Some(frame) = decoder.decode(&mut input).unwrap() {
///     frames.push(frame);
/// }
/// assert_eq!(frames, [b"hello".to_vec(), b"world".to_vec()]);
/// decoder.finish().unwrap(); // no frame was cut off
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    header: [u8; FRAME_HEADER_LEN],
    header_have: usize,
    /// The body length announced by the current header, once the header is complete.
    expected: Option<usize>,
    body: Vec<u8>,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder waiting for the first frame header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes bytes from the front of `input` until one frame is complete, and returns it.
    ///
    /// Returns `Ok(None)` once `input` is used up without completing a frame; call again
    /// with more bytes. Call repeatedly while it returns frames. After an error the decoder
    /// refuses everything: close the connection.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>> {
        if self.failed {
            return Err(ProtocolError::SessionClosed);
        }
        let expected = match self.expected {
            Some(expected) => expected,
            None => {
                let take = (FRAME_HEADER_LEN - self.header_have).min(input.len());
                let (head, tail) = input.split_at(take);
                self.header[self.header_have..self.header_have + take].copy_from_slice(head);
                self.header_have += take;
                *input = tail;
                if self.header_have < FRAME_HEADER_LEN {
                    return Ok(None);
                }
                let len = usize::from(u16::from_be_bytes(self.header));
                if len == 0 {
                    self.failed = true;
                    return Err(ProtocolError::EmptyFrame);
                }
                self.expected = Some(len);
                len
            }
        };
        let take = (expected - self.body.len()).min(input.len());
        let (head, tail) = input.split_at(take);
        grow_within(&mut self.body, take, expected);
        self.body.extend_from_slice(head);
        *input = tail;
        if self.body.len() < expected {
            return Ok(None);
        }
        self.header_have = 0;
        self.expected = None;
        Ok(Some(std::mem::take(&mut self.body)))
    }

    /// Bytes held for the frame in progress (header and body so far).
    pub fn buffered(&self) -> usize {
        self.header_have + self.body.len()
    }

    /// Heap memory reserved for the frame in progress; never more than one frame.
    pub fn buffered_capacity(&self) -> usize {
        self.body.capacity()
    }

    /// Call when the stream ends: an error if it ended part-way through a frame.
    pub fn finish(&self) -> Result<()> {
        if self.buffered() == 0 {
            Ok(())
        } else {
            Err(ProtocolError::Truncated)
        }
    }
}

/// Cuts an application message into frame plaintexts: the first carries the `u32` length
/// header, and each is at most [`MAX_FRAME_PLAINTEXT`] bytes.
///
/// Returns [`ProtocolError::MessageTooLarge`] for a message over the cap, before copying
/// anything.
pub fn split_message(message: &[u8]) -> Result<MessageChunks<'_>> {
    let len = u32::try_from(message.len())
        .ok()
        .filter(|&len| len as usize <= MAX_MESSAGE_LEN)
        .ok_or(ProtocolError::MessageTooLarge { len: message.len() as u64, max: MAX_MESSAGE_LEN as u64 })?;
    Ok(MessageChunks { header: Some(len.to_be_bytes()), rest: message })
}

/// How many frames a message of `len` bytes takes (see [`split_message`]).
pub fn frames_for_message(len: usize) -> usize {
    let first = MAX_FRAME_PLAINTEXT - MESSAGE_HEADER_LEN;
    1 + len.saturating_sub(first).div_ceil(MAX_FRAME_PLAINTEXT)
}

/// The frame plaintexts of one message, from [`split_message`].
#[derive(Debug, Clone)]
pub struct MessageChunks<'a> {
    header: Option<[u8; MESSAGE_HEADER_LEN]>,
    rest: &'a [u8],
}

impl Iterator for MessageChunks<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let (mut chunk, room) = match self.header.take() {
            Some(header) => {
                let room = MAX_FRAME_PLAINTEXT - MESSAGE_HEADER_LEN;
                let mut chunk = Vec::with_capacity(MESSAGE_HEADER_LEN + room.min(self.rest.len()));
                chunk.extend_from_slice(&header);
                (chunk, room)
            }
            None if self.rest.is_empty() => return None,
            None => (Vec::with_capacity(MAX_FRAME_PLAINTEXT.min(self.rest.len())), MAX_FRAME_PLAINTEXT),
        };
        let (head, tail) = self.rest.split_at(room.min(self.rest.len()));
        chunk.extend_from_slice(head);
        self.rest = tail;
        Some(chunk)
    }
}

/// Reassembles application messages from decrypted frame plaintexts, with bounded memory.
///
/// ```
/// # use commonground_protocol::{split_message, MessageAssembler};
/// let message = vec![7u8; 100_000]; // needs two frames
/// let mut assembler = MessageAssembler::new();
/// let mut out = None;
/// for chunk in split_message(&message).unwrap() {
///     out = assembler.push(&chunk).unwrap();
/// }
/// assert_eq!(out, Some(message));
/// ```
#[derive(Debug, Default)]
pub struct MessageAssembler {
    /// The body length announced by the current message's header, while one is pending.
    expected: Option<usize>,
    body: Vec<u8>,
    failed: bool,
}

impl MessageAssembler {
    /// An assembler waiting for the first frame of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the plaintext of one frame; returns the message it completes, if any.
    ///
    /// After an error the assembler refuses everything: close the connection.
    pub fn push(&mut self, plaintext: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.failed {
            return Err(ProtocolError::SessionClosed);
        }
        let result = self.push_inner(plaintext);
        if result.is_err() {
            self.failed = true;
            self.body = Vec::new();
            self.expected = None;
        }
        result
    }

    fn push_inner(&mut self, plaintext: &[u8]) -> Result<Option<Vec<u8>>> {
        if plaintext.is_empty() {
            return Err(ProtocolError::EmptyFrame);
        }
        if plaintext.len() > MAX_FRAME_PLAINTEXT {
            return Err(ProtocolError::MalformedFrame("a frame is longer than a Noise frame can carry"));
        }
        let (expected, body) = match self.expected {
            Some(expected) => (expected, plaintext),
            None => {
                let (header, body) = plaintext
                    .split_first_chunk::<MESSAGE_HEADER_LEN>()
                    .ok_or(ProtocolError::MalformedFrame("a message must start with its 4-byte length"))?;
                let len = u32::from_be_bytes(*header);
                // The cap is checked here, on the header alone, before any allocation.
                if len as usize > MAX_MESSAGE_LEN {
                    return Err(ProtocolError::MessageTooLarge {
                        len: u64::from(len),
                        max: MAX_MESSAGE_LEN as u64,
                    });
                }
                let len = len as usize;
                if body.len() == len {
                    return Ok(Some(body.to_vec()));
                }
                self.expected = Some(len);
                (len, body)
            }
        };
        if body.len() > expected - self.body.len() {
            return Err(ProtocolError::MalformedFrame("a frame runs past the end of its message"));
        }
        grow_within(&mut self.body, body.len(), expected);
        self.body.extend_from_slice(body);
        if self.body.len() < expected {
            return Ok(None);
        }
        self.expected = None;
        Ok(Some(std::mem::take(&mut self.body)))
    }

    /// Bytes held for the message in progress.
    pub fn buffered(&self) -> usize {
        self.body.len()
    }

    /// Heap memory reserved for the message in progress.
    pub fn buffered_capacity(&self) -> usize {
        self.body.capacity()
    }

    /// Whether no message is part-way through (use at end of stream to spot truncation).
    pub fn is_idle(&self) -> bool {
        self.expected.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wire(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            encode_frame(f, &mut out).unwrap();
        }
        out
    }

    fn decode_chunked(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Vec<u8>>> {
        let mut decoder = FrameDecoder::new();
        let mut frames = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.push(bytes.len());
        points.sort_unstable();
        for end in points {
            let mut input = &bytes[start..end];
            while let Some(f) = decoder.decode(&mut input)? {
                frames.push(f);
            }
            assert!(input.is_empty(), "the decoder consumes all input it's given");
            assert!(decoder.buffered() <= FRAME_HEADER_LEN + MAX_FRAME_LEN);
            assert!(decoder.buffered_capacity() <= MAX_FRAME_LEN);
            start = end;
        }
        decoder.finish()?;
        Ok(frames)
    }

    #[test]
    fn frames_round_trip_including_the_largest() {
        let frames = vec![vec![1], vec![2; 300], vec![3; MAX_FRAME_LEN]];
        assert_eq!(decode_chunked(&wire(&frames), &[]).unwrap(), frames);
    }

    #[test]
    fn encoding_refuses_oversize_and_empty_frames() {
        let mut out = Vec::new();
        assert_eq!(
            encode_frame(&vec![0; MAX_FRAME_LEN + 1], &mut out),
            Err(ProtocolError::FrameTooLarge { len: MAX_FRAME_LEN + 1, max: MAX_FRAME_LEN })
        );
        assert_eq!(encode_frame(&[], &mut out), Err(ProtocolError::EmptyFrame));
        assert!(out.is_empty());
    }

    #[test]
    fn a_zero_length_frame_is_refused_and_the_decoder_stays_closed() {
        let mut decoder = FrameDecoder::new();
        let mut input: &[u8] = &[0, 0, 1, 2];
        assert_eq!(decoder.decode(&mut input), Err(ProtocolError::EmptyFrame));
        let mut more: &[u8] = &[0, 1, 9];
        assert_eq!(decoder.decode(&mut more), Err(ProtocolError::SessionClosed));
    }

    #[test]
    fn truncated_frames_are_reported_at_end_of_stream() {
        let bytes = wire(&[vec![5; 10]]);
        for cut in 1..bytes.len() {
            assert_eq!(decode_chunked(&bytes[..cut], &[]), Err(ProtocolError::Truncated), "cut at {cut}");
        }
    }

    #[test]
    fn a_slow_peer_costs_only_what_it_sent() {
        // A header announcing 65535 bytes followed by 10 bytes holds 10 bytes, not 64 KiB.
        let mut decoder = FrameDecoder::new();
        let mut input: &[u8] = &[0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(decoder.decode(&mut input).unwrap(), None);
        assert_eq!(decoder.buffered(), 12);
        assert!(decoder.buffered_capacity() <= 10);
    }

    #[test]
    fn byte_at_a_time_feeding_grows_capacity_geometrically_within_the_frame() {
        let bytes = wire(&[vec![9; MAX_FRAME_LEN]]);
        let mut decoder = FrameDecoder::new();
        let mut out = None;
        for b in bytes.chunks(1) {
            let mut input = b;
            if let Some(f) = decoder.decode(&mut input).unwrap() {
                out = Some(f);
            }
            assert!(decoder.buffered_capacity() <= MAX_FRAME_LEN);
        }
        assert_eq!(out.unwrap().len(), MAX_FRAME_LEN);
    }

    #[test]
    fn oversize_message_header_is_rejected_without_allocating() {
        // Guards the 16 MiB cap: a 4 GiB header is refused at the header, nothing reserved.
        for len in [MAX_MESSAGE_LEN as u32 + 1, u32::MAX] {
            let mut assembler = MessageAssembler::new();
            let mut frame = len.to_be_bytes().to_vec();
            frame.extend_from_slice(&[0; 100]);
            assert_eq!(
                assembler.push(&frame),
                Err(ProtocolError::MessageTooLarge { len: u64::from(len), max: MAX_MESSAGE_LEN as u64 })
            );
            assert_eq!(assembler.buffered_capacity(), 0);
            assert_eq!(assembler.push(&[0; 8]), Err(ProtocolError::SessionClosed));
        }
    }

    #[test]
    fn a_message_at_the_cap_splits_and_reassembles_and_one_more_byte_is_refused() {
        let message = vec![0xab; MAX_MESSAGE_LEN];
        let chunks: Vec<_> = split_message(&message).unwrap().collect();
        assert_eq!(chunks.len(), frames_for_message(MAX_MESSAGE_LEN));
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= MAX_FRAME_PLAINTEXT));
        let mut assembler = MessageAssembler::new();
        let mut out = None;
        for c in &chunks {
            assert!(out.is_none());
            out = assembler.push(c).unwrap();
            assert!(assembler.buffered_capacity() <= MAX_MESSAGE_LEN);
        }
        assert_eq!(out.as_deref(), Some(&message[..]));
        let over = vec![0; MAX_MESSAGE_LEN + 1];
        assert!(matches!(split_message(&over), Err(ProtocolError::MessageTooLarge { .. })));
    }

    #[test]
    fn malformed_message_frames_are_refused() {
        let cases: [&[u8]; 4] = [&[], &[0, 0, 0], &[0, 0, 0, 1, 7, 8], &[0; MAX_FRAME_PLAINTEXT + 1]];
        for case in cases {
            assert!(MessageAssembler::new().push(case).is_err(), "{:?}", &case[..case.len().min(8)]);
        }
        // A continuation frame that runs past its message is refused too.
        let mut assembler = MessageAssembler::new();
        assert_eq!(assembler.push(&[0, 0, 0, 3, 1]).unwrap(), None);
        assert!(!assembler.is_idle());
        assert!(matches!(assembler.push(&[2, 3, 4]), Err(ProtocolError::MalformedFrame(_))));
    }

    #[test]
    fn an_empty_message_is_one_header_only_frame() {
        let chunks: Vec<_> = split_message(&[]).unwrap().collect();
        assert_eq!(chunks, [vec![0, 0, 0, 0]]);
        assert_eq!(MessageAssembler::new().push(&chunks[0]).unwrap(), Some(vec![]));
        assert_eq!(frames_for_message(0), 1);
    }

    #[test]
    fn frame_counts_match_at_the_boundaries() {
        let first = MAX_FRAME_PLAINTEXT - MESSAGE_HEADER_LEN;
        for len in [first - 1, first, first + 1, first + MAX_FRAME_PLAINTEXT, first + MAX_FRAME_PLAINTEXT + 1]
        {
            let message = vec![1; len];
            assert_eq!(split_message(&message).unwrap().count(), frames_for_message(len), "len {len}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn frames_survive_any_chunking(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..2000), 0..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            prop_assert_eq!(decode_chunked(&wire(&frames), &cuts).unwrap(), frames);
        }

        #[test]
        fn messages_round_trip_through_chunks(
            messages in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..100),
                    (0usize..200_000).prop_map(|n| vec![0x5a; n]),
                ],
                1..4,
            ),
        ) {
            let mut assembler = MessageAssembler::new();
            let mut got = Vec::new();
            for m in &messages {
                for chunk in split_message(m).unwrap() {
                    if let Some(done) = assembler.push(&chunk).unwrap() {
                        got.push(done);
                    }
                }
            }
            prop_assert!(assembler.is_idle());
            prop_assert_eq!(got, messages);
        }

        #[test]
        fn the_frame_decoder_never_panics_and_stays_bounded(
            bytes in proptest::collection::vec(any::<u8>(), 0..4000),
            cuts in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            let _ = decode_chunked(&bytes, &cuts);
        }

        #[test]
        fn the_assembler_never_panics_and_stays_bounded(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10),
        ) {
            let mut assembler = MessageAssembler::new();
            let mut received = 0;
            for f in &frames {
                received += f.len();
                if assembler.push(f).is_err() {
                    break;
                }
                // Memory follows the bytes that arrived, not what a header claimed.
                prop_assert!(assembler.buffered_capacity() <= 2 * received.max(1));
            }
        }
    }
}
