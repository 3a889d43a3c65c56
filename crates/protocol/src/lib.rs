//! Common Ground's wire protocol, sans-IO.
//!
//! Laptops in a workshop talk over TCP through a Noise channel; new laptops join with an
//! invite link or a 6-digit code. This crate is everything about those bytes *except* the
//! I/O: it never opens a socket, reads a clock or file, or draws OS randomness. Time (`now`)
//! and an rng come from the caller, bytes go in and out as values, and a runtime crate
//! (tokio, sockets, timeouts) drives it. That keeps every rule here testable in memory and
//! every decoder fuzzable.
//!
//! - [`FrameDecoder`], [`split_message`] and [`MessageAssembler`]: `u16`-length Noise frames
//!   and `u32`-length application messages (16 MiB cap, refused at the header), with memory
//!   bounded by what has arrived.
//! - [`Handshake`] and [`Session`]: `Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s` with the PSK from
//!   the workshop secret and key epoch ([`derive_psk`]); both expose the peer's
//!   authenticated device key for the roster check.
//! - [`Invite`]: the versioned invite payload and its `commonground://join/1/...` link.
//! - [`JoinerState`], [`HostJoin`] and [`CodeGate`]: joining with a 6-digit code over SPAKE2
//!   with key confirmation, so a recorded exchange can't be brute-forced offline.
//! - [`Membership`] and [`rotate`]: the roster check, and rotating the secret on removal.
//!
//! The wire formats are specified byte by byte, with the reasoning behind them, in the
//! module docs of `src/frame.rs`, `src/noise.rs`, `src/invite.rs` and `src/join.rs` (the
//! modules are private; read them in the source or with `cargo doc --document-private-items`).
//!
//! Every decoder checks lengths before allocating, rejects trailing bytes and returns
//! [`ProtocolError`] instead of panicking; `tests/crashers/` replays past fuzz crashers
//! through all of them.

#![deny(missing_docs)]

mod door;
mod epoch;
mod error;
mod folder;
mod frame;
mod invite;
mod join;
mod kdf;
mod keys;
mod noise;
mod reader;
mod rng;
mod tag;

pub use door::{
    door_id, hex, parse_hex, web_door_key, DoorChannel, DoorRole, DOOR_KEY_LEN, DOOR_MAX_MESSAGE,
    DOOR_NONCE_LEN,
};
pub use epoch::{rotate, Membership};
pub use error::{ProtocolError, Result};
pub use folder::{
    folder_key, next_record, seal_record, NextRecord, MAX_RECORD_BODY, RECORD_HEADER_LEN, RECORD_MAGIC,
};
pub use frame::{
    encode_frame, frames_for_message, split_message, FrameDecoder, MessageAssembler, MessageChunks,
    FRAME_HEADER_LEN, MAX_FRAME_LEN, MAX_FRAME_PLAINTEXT, MAX_MESSAGE_LEN, MESSAGE_HEADER_LEN, NOISE_TAG_LEN,
};
pub use invite::{
    Invite, INVITE_LINK_PREFIX, INVITE_VERSION, MAX_INVITE_ADDRESSES, MAX_INVITE_LINK_LEN,
    MAX_INVITE_PAYLOAD_LEN,
};
pub use join::{
    refusal_for, CodeGate, CodeStatus, HostJoin, JoinCode, JoinMessage, JoinRefusal, JoinRequest,
    JoinerState, JoinerStep, Welcome, CODE_LIFETIME, JOIN_EXCHANGE_TIMEOUT, JOIN_VERSION, MAX_CODE_FAILURES,
    MAX_CONCURRENT_JOINS, MAX_JOIN_MESSAGE_LEN, MAX_NAME_LEN, MAX_ROSTER_LEN,
};
pub use keys::{DeviceKeypair, DevicePublicKey, DEVICE_KEY_LEN};
pub use noise::{derive_psk, Handshake, Session, HANDSHAKE_TIMEOUT, NOISE_PATTERN, PSK_LEN};
pub use tag::{accepted_tags, discovery_tag, matches, tag_window, DiscoveryTag, TAG_LEN, TAG_WINDOW_SECS};
