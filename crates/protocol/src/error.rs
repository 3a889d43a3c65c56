//! Errors. Every message is plain English that can be shown to a person as it is: it says
//! what happened and what to do next, and never blames anyone.
//!
//! The messages are deliberately vague about *why* a security check failed. A wrong
//! pre-shared key, a replayed handshake and a garbled one all read the same, because telling
//! a stranger on the network which check tripped would help them and not the person at the
//! laptop. The detail that helps a developer is in the variant and its [`ProtocolError::kind`].

/// The result of protocol operations.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// Something the protocol could not do, or bytes it would not accept.
///
/// Any error from a [`crate::Session`], [`crate::Handshake`], [`crate::FrameDecoder`] or
/// [`crate::MessageAssembler`] means the connection can no longer be trusted: close it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    // --- Framing -------------------------------------------------------------------------
    /// A frame to send is larger than a Noise message may be.
    #[error(
        "A piece of data was too big to send in one go ({len} bytes; the limit is {max}). \
         This is a bug in Common Ground; please report it."
    )]
    FrameTooLarge {
        /// The length asked for.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A frame header announced a frame with nothing in it.
    #[error("Another laptop sent an empty piece of data, so the connection was closed.")]
    EmptyFrame,
    /// A message is larger than the 16 MiB cap (found from the header, before reading it).
    #[error(
        "A message of {len} bytes is larger than the 16 MiB limit, so it was not sent or \
         accepted and the connection was closed."
    )]
    MessageTooLarge {
        /// The length announced or asked for.
        len: u64,
        /// The largest allowed.
        max: u64,
    },
    /// Framing rules were broken (the detail says which).
    #[error("Another laptop sent data in the wrong shape ({0}), so the connection was closed.")]
    MalformedFrame(&'static str),
    /// The connection ended part-way through a frame or a message.
    #[error("The connection ended part-way through a message. It will reconnect.")]
    Truncated,

    // --- Noise channel ---------------------------------------------------------------------
    /// The Noise handshake failed: wrong workshop secret or epoch (PSK), a replayed or
    /// tampered handshake message, or garbage.
    #[error(
        "A secure connection to the other laptop couldn't be set up. It may belong to a \
         different workshop, or be using an old invite. If this keeps happening, ask the \
         facilitator to check that laptop is still in the workshop."
    )]
    HandshakeFailed,
    /// A handshake message arrived when none was expected, or the handshake was used wrongly.
    #[error(
        "The other laptop sent something unexpected while setting up a secure connection, \
         so the connection was closed. It will try again."
    )]
    HandshakeOutOfOrder,
    /// A frame failed its authenticity check: it was tampered with, replayed or corrupted.
    #[error(
        "A message from another laptop failed its security check, so the connection was \
         closed. It will reconnect."
    )]
    Decrypt,
    /// The connection has used every nonce it safely can.
    #[error(
        "This connection has carried as much data as it safely can, so it was closed. \
         It will reconnect by itself."
    )]
    NonceExhausted,
    /// The session had already failed and was closed.
    #[error("This connection was already closed after a problem. It will reconnect.")]
    SessionClosed,
    /// A device key given as bytes had the wrong length.
    #[error(
        "A device key was the wrong length ({len} bytes; it must be 32). Nothing has been \
         changed."
    )]
    BadKeyLength {
        /// The length given.
        len: usize,
    },
    /// The Noise library refused to do something it should always do (a bug).
    #[error(
        "Something went wrong setting up a secure connection ({0}). This is a bug in Common \
         Ground; please report it."
    )]
    Internal(&'static str),

    // --- Invites ---------------------------------------------------------------------------
    /// The invite link or payload is damaged, incomplete or not an invite.
    #[error(
        "This invite link isn't complete or has been changed ({0}). Please scan the code \
         again, or ask the facilitator for a new link."
    )]
    InvalidInvite(&'static str),
    /// The invite was made by a newer version of the app.
    #[error(
        "This invite was made by a newer version of Common Ground (invite format {found}). \
         Please update the app, then try the invite again."
    )]
    InviteTooNew {
        /// The format version found.
        found: u32,
    },
    /// An invite could not be made from the values given (the detail says which).
    #[error("An invite couldn't be made ({0}). Nothing has been changed.")]
    InviteNotEncodable(&'static str),

    // --- Joining with a 6-digit code -------------------------------------------------------
    /// What was typed is not six digits.
    #[error("Please type the 6 digits shown on the facilitator's screen (for example 123 456).")]
    CodeFormat,
    /// The code did not match (detected by both sides; counts as a failed attempt).
    #[error(
        "That code didn't match. Please check the 6 digits on the facilitator's screen and \
         try again."
    )]
    WrongCode,
    /// The code is older than two minutes.
    #[error("That code has expired. Please ask the facilitator to show a new one.")]
    CodeExpired,
    /// The code was tried wrongly too many times and no longer works.
    #[error(
        "That code was tried too many times, so it no longer works. Please ask the \
         facilitator to show a new one."
    )]
    CodeSpent,
    /// Too many people are joining at this moment.
    #[error("A few people are joining right now. Please try again in a moment.")]
    JoinBusy,
    /// This join exchange took too long and was given up.
    #[error("Joining took too long, so it was stopped. Please try again.")]
    JoinTimedOut,
    /// A join message could not be read (the detail says why).
    #[error(
        "A message while joining couldn't be read ({0}). Please try again; if it keeps \
         happening, use the invite link or QR code instead."
    )]
    MalformedJoinMessage(&'static str),
    /// A join message came from a newer version of the app.
    #[error(
        "The other laptop is using a newer version of Common Ground (join format {found}). \
         Please update the app, then try again."
    )]
    JoinTooNew {
        /// The format version found.
        found: u8,
    },
    /// A join message arrived at the wrong point in the exchange.
    #[error(
        "The other laptop sent something unexpected while joining, so joining was stopped. \
         Please try again."
    )]
    JoinOutOfOrder,
    /// The facilitator's laptop is running a different workshop from the one expected.
    #[error(
        "That code belongs to a different workshop. Please check you are joining the \
         right one."
    )]
    WrongWorkshop,
    /// The laptop that answered could not prove it knows the code.
    #[error(
        "The laptop that answered couldn't prove it is the facilitator's, so joining was \
         stopped. Please check you are on the same network as the facilitator and try again."
    )]
    HostNotVerified,
    /// The name to send is longer than a join request carries.
    #[error("That name is too long to send (it has {len} bytes; the limit is {max}). Please shorten it.")]
    NameTooLong {
        /// The length given, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },

    // --- Membership and epochs ---------------------------------------------------------------
    /// The device was removed from the workshop and may not come back.
    #[error(
        "This laptop was removed from the workshop, so it can't connect or join again. \
         Please talk to the facilitator."
    )]
    RemovedDevice,
    /// A key change for an epoch that isn't newer than ours arrived (a replay or a delay).
    #[error(
        "An out-of-date change of the workshop's keys arrived and was ignored. Nothing has been changed."
    )]
    StaleEpoch {
        /// Our current epoch.
        current: u32,
        /// The epoch announced.
        found: u32,
    },
    /// The key epoch counter would overflow.
    #[error(
        "The workshop's keys have been changed too many times to change again. Please start \
         a new workshop."
    )]
    EpochExhausted,
}

impl ProtocolError {
    /// A short, stable, machine-readable kind, for errors that cross to the UI as
    /// `{kind, message}` and for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ProtocolError::FrameTooLarge { .. } => "frame_too_large",
            ProtocolError::EmptyFrame => "empty_frame",
            ProtocolError::MessageTooLarge { .. } => "message_too_large",
            ProtocolError::MalformedFrame(_) => "malformed_frame",
            ProtocolError::Truncated => "truncated",
            ProtocolError::HandshakeFailed => "handshake_failed",
            ProtocolError::HandshakeOutOfOrder => "handshake_out_of_order",
            ProtocolError::Decrypt => "decrypt",
            ProtocolError::NonceExhausted => "nonce_exhausted",
            ProtocolError::SessionClosed => "session_closed",
            ProtocolError::BadKeyLength { .. } => "bad_key_length",
            ProtocolError::Internal(_) => "internal",
            ProtocolError::InvalidInvite(_) => "invalid_invite",
            ProtocolError::InviteTooNew { .. } => "invite_too_new",
            ProtocolError::InviteNotEncodable(_) => "invite_not_encodable",
            ProtocolError::CodeFormat => "code_format",
            ProtocolError::WrongCode => "wrong_code",
            ProtocolError::CodeExpired => "code_expired",
            ProtocolError::CodeSpent => "code_spent",
            ProtocolError::JoinBusy => "join_busy",
            ProtocolError::JoinTimedOut => "join_timed_out",
            ProtocolError::MalformedJoinMessage(_) => "malformed_join_message",
            ProtocolError::JoinTooNew { .. } => "join_too_new",
            ProtocolError::JoinOutOfOrder => "join_out_of_order",
            ProtocolError::WrongWorkshop => "wrong_workshop",
            ProtocolError::HostNotVerified => "host_not_verified",
            ProtocolError::NameTooLong { .. } => "name_too_long",
            ProtocolError::RemovedDevice => "removed_device",
            ProtocolError::StaleEpoch { .. } => "stale_epoch",
            ProtocolError::EpochExhausted => "epoch_exhausted",
        }
    }
}
