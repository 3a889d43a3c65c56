//! Joining with a 6-digit code, sans-IO on both sides.
//!
//! The facilitator's screen shows a code such as `042 917`, valid for two minutes and five
//! wrong tries. Someone types it on their laptop, which finds the facilitator's laptop (mDNS,
//! the beacon, or a typed address) and runs this exchange over any reliable transport. At
//! the end the joiner holds everything an invite link would have given it (workshop id,
//! secret, epoch, facilitator key, addresses) plus the roster, and the facilitator's laptop
//! holds the joiner's device key and first name.
//!
//! # The exchange
//!
//! ```text
//! joiner (SPAKE2 side A)                      host (SPAKE2 side B)
//!   Hello      { X }                     ->   CodeGate::begin: counts one attempt now
//!              <-   Challenge { workshop id, Y }
//!   Request    { MAC_j, seal_j(JoinRequest) }   ->   checks MAC_j: wrong code? Refused
//!              <-   Welcome   { MAC_h, seal_h(Welcome) }   (or Refused { reason })
//! ```
//!
//! `X` and `Y` are SPAKE2 messages (`spake2` 0.4, Ed25519 group) over the password
//! `"commonground/join/v1/code:" ‖ the six ASCII digits`. From the shared SPAKE2 key `K`
//! both sides derive, with keyed BLAKE2s under distinct labels (see the `kdf` module), four
//! keys: a confirmation key and a sealing key for each direction. `MAC_j` covers the
//! transcript (Hello and Challenge, byte for byte, so the workshop id is covered too);
//! `MAC_h` covers that and the joiner's Request. The sealed parts are ChaCha20-Poly1305 with
//! a zero nonce, which is safe because each sealing key is fresh per exchange and seals
//! exactly one message.
//!
//! **Roles, not symmetric mode.** The two sides are different programs with different jobs,
//! so SPAKE2's asymmetric A/B mode is used with fixed identities `commonground-joiner` (A)
//! and `commonground-host` (B). The side byte in each SPAKE2 message stops a message being
//! reflected back to its sender, and the identities are hashed into `K`.
//!
//! **Binding the workshop.** The joiner usually doesn't know the workshop id before it
//! starts (that's what it is joining), so the id can't go into the password. Instead the
//! host names it in the Challenge, and both MACs cover it: a man in the middle who changes
//! it breaks the confirmation. A joiner that does know which workshop it wants (say, from a
//! link that lost its secret) passes it as `expected_workshop` and refuses any other.
//!
//! # Why a recorded exchange can't be brute-forced offline
//!
//! A six-digit code has only a million values, so anything an eavesdropper could test
//! guesses against, offline, would fall in seconds. SPAKE2 leaves nothing to test:
//!
//! - `X = x·G + pw·M` and `Y = y·G + pw·N` with fresh random `x`, `y`. Each is a uniformly
//!   random group element whatever the code is, so on their own they say nothing about it.
//! - `K` hashes in `x·y·G`. Checking a guessed code against a recording means computing `K`
//!   for that guess, which needs `x` or `y` — a Diffie–Hellman problem, not a search.
//! - The MACs and ciphertexts are keyed by `K`, so they are no more use to an eavesdropper
//!   than `K` itself.
//!
//! An *active* attacker can take part in an exchange, but its SPAKE2 message commits it to
//! one guess: the other side's confirmation only tells it whether that one guess was right.
//! So every guess costs one live exchange, and [`CodeGate`] allows five wrong ones (and
//! holds an attempt from the moment an exchange starts, so five exchanges at once can't
//! exceed that). The chance of guessing a code before it is spent is 5 in 1,000,000, and it
//! expires after two minutes anyway.
//!
//! # What the runtime does
//!
//! Carry each message whole (each fits one `u16` frame; see [`MAX_JOIN_MESSAGE_LEN`]).
//! Give up after [`JOIN_EXCHANGE_TIMEOUT`]. When a state machine returns an error, send
//! [`refusal_for`]'s message if there is one, then close. On the host, after
//! [`HostJoin::receive`] returns the request, add the device to the roster and call
//! [`HostJoin::welcome`]; if the connection drops, call [`HostJoin::abandon`] (an exchange
//! that simply disappears is counted as failed when it times out).
//!
//! # Message encoding, version 1
//!
//! Every message is `version (u8) = 0x01`, `kind (u8)`, then the fields below; integers are
//! big-endian, and each message must be exactly as long as its fields.
//!
//! | kind | message | fields |
//! |-----:|---------|--------|
//! | 1 | Hello     | SPAKE2 message (33: side byte `A`, point) |
//! | 2 | Challenge | workshop id (16), SPAKE2 message (33: side byte `B`, point) |
//! | 3 | Request   | MAC_j (32), sealed JoinRequest (49 to 169: plaintext + 16-byte tag) |
//! | 4 | Welcome   | MAC_h (32), sealed Welcome (136 to 33,024: plaintext + 16-byte tag) |
//! | 5 | Refused   | reason (1): 1 wrong code, 2 expired, 3 spent, 4 busy |
//!
//! A **JoinRequest** is the device public key (32), the name length (u8, at most 120) and
//! the name's bytes (UTF-8, validated by the workshop model, not here).
//!
//! A **Welcome** is an invite payload exactly as in [`crate::invite`] (version 1, 86 to 238
//! bytes), a roster count (u16, 1 to 1,024) and that many distinct device public keys (32
//! each). The roster must include the facilitator and the joiner.

use std::fmt;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand_core::CryptoRng;
use spake2::{Ed25519Group, Identity, Password, Spake2};
use uuid::Uuid;
use zeroize::Zeroize;

use crate::error::{ProtocolError, Result};
use crate::invite::{Invite, MAX_INVITE_PAYLOAD_LEN};
use crate::kdf;
use crate::keys::{DevicePublicKey, DEVICE_KEY_LEN};
use crate::reader::Reader;
use crate::rng::Rng06;

/// The join message format version this build writes and reads.
pub const JOIN_VERSION: u8 = 1;
/// How long a code can be used after it is issued.
pub const CODE_LIFETIME: Duration = Duration::from_secs(120);
/// Wrong (or abandoned) attempts after which a code is spent.
pub const MAX_CODE_FAILURES: u8 = 5;
/// Join exchanges a host runs at once.
pub const MAX_CONCURRENT_JOINS: usize = 4;
/// How long one exchange may take from Hello to Request; later, it counts as failed.
pub const JOIN_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest name a join request carries, in bytes.
pub const MAX_NAME_LEN: usize = 120;
/// The most devices a Welcome's roster lists.
pub const MAX_ROSTER_LEN: usize = 1024;

const SPAKE_MSG_LEN: usize = 33;
const MAC_LEN: usize = kdf::OUT_LEN;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2;
const MIN_REQUEST_LEN: usize = DEVICE_KEY_LEN + 1;
const MAX_REQUEST_LEN: usize = DEVICE_KEY_LEN + 1 + MAX_NAME_LEN;
const MIN_WELCOME_LEN: usize = 86 + 2 + DEVICE_KEY_LEN;
const MAX_WELCOME_LEN: usize = MAX_INVITE_PAYLOAD_LEN + 2 + MAX_ROSTER_LEN * DEVICE_KEY_LEN;
/// The longest join message (a Welcome with a full roster and eight addresses); every join
/// message fits one `u16` frame.
pub const MAX_JOIN_MESSAGE_LEN: usize = HEADER_LEN + MAC_LEN + MAX_WELCOME_LEN + TAG_LEN;
const _: () =
    assert!(MAX_JOIN_MESSAGE_LEN <= crate::frame::MAX_FRAME_LEN, "a join message must fit one frame");

const ID_JOINER: &[u8] = b"commonground-joiner";
const ID_HOST: &[u8] = b"commonground-host";
const PASSWORD_PREFIX: &[u8] = b"commonground/join/v1/code:";
const LABEL_CONFIRM_JOINER: &[u8] = b"commonground/join/v1/confirm-joiner";
const LABEL_CONFIRM_HOST: &[u8] = b"commonground/join/v1/confirm-host";
const LABEL_SEAL_JOINER: &[u8] = b"commonground/join/v1/seal-joiner";
const LABEL_SEAL_HOST: &[u8] = b"commonground/join/v1/seal-host";
const LABEL_TRANSCRIPT: &[u8] = b"commonground/join/v1/transcript";
const AAD_REQUEST: &[u8] = b"commonground/join/v1/request";
const AAD_WELCOME: &[u8] = b"commonground/join/v1/welcome";

const KIND_HELLO: u8 = 1;
const KIND_CHALLENGE: u8 = 2;
const KIND_REQUEST: u8 = 3;
const KIND_WELCOME: u8 = 4;
const KIND_REFUSED: u8 = 5;

// ---------------------------------------------------------------------------------------
// The code
// ---------------------------------------------------------------------------------------

/// A 6-digit join code, `000 000` to `999 999`.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCode(u32);

impl JoinCode {
    /// A uniformly random code from the caller's rng.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        // Rejection sampling: 4,294,000,000 is the largest multiple of a million that fits
        // a u32, so every code is equally likely (a plain `% 1_000_000` would favour the
        // low ones).
        const LIMIT: u32 = 4_294_000_000;
        loop {
            let x = rng.next_u32();
            if x < LIMIT {
                return Self(x % 1_000_000);
            }
        }
    }

    /// Reads a typed code: six digits, with spaces or hyphens anywhere ignored.
    pub fn parse(typed: &str) -> Result<Self> {
        if typed.len() > 32 {
            return Err(ProtocolError::CodeFormat);
        }
        let mut value = 0u32;
        let mut digits = 0;
        for c in typed.chars() {
            match c {
                '0'..='9' if digits < 6 => {
                    value = value * 10 + (c as u32 - '0' as u32);
                    digits += 1;
                }
                ' ' | '-' => {}
                _ => return Err(ProtocolError::CodeFormat),
            }
        }
        if digits == 6 {
            Ok(Self(value))
        } else {
            Err(ProtocolError::CodeFormat)
        }
    }

    /// The six digits as ASCII.
    fn digits(&self) -> [u8; 6] {
        let mut out = [b'0'; 6];
        let mut v = self.0;
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out
    }

    fn password(&self) -> Password {
        let mut bytes = Vec::with_capacity(PASSWORD_PREFIX.len() + 6);
        bytes.extend_from_slice(PASSWORD_PREFIX);
        bytes.extend_from_slice(&self.digits());
        let password = Password::new(&bytes);
        bytes.zeroize();
        password
    }
}

impl fmt::Display for JoinCode {
    /// As shown on screen: two groups of three digits, leading zeros kept (`042 917`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        let text = std::str::from_utf8(&d).map_err(|_| fmt::Error)?;
        write!(f, "{} {}", &text[..3], &text[3..])
    }
}

impl fmt::Debug for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinCode(<redacted>)")
    }
}

// ---------------------------------------------------------------------------------------
// The gate: expiry, attempt counting and concurrency on the host
// ---------------------------------------------------------------------------------------

/// Whether a code can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    /// Usable; this many more wrong attempts are allowed.
    Open {
        /// Failed attempts still allowed (attempts in progress are counted as used).
        attempts_left: u8,
    },
    /// Older than [`CODE_LIFETIME`].
    Expired,
    /// Tried wrongly [`MAX_CODE_FAILURES`] times.
    Spent,
}

/// One join exchange's claim on a [`CodeGate`]: an attempt and a concurrency slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JoinTicket {
    gate: u64,
    id: u64,
}

/// The facilitator's current code, with its expiry, attempt count and concurrency bound.
///
/// Showing a new code means issuing a new gate. An exchange begun under the old gate fails
/// as timed out if it is finished against the new one, so a code change also cuts off
/// exchanges in progress.
pub struct CodeGate {
    id: u64,
    code: JoinCode,
    workshop_id: Uuid,
    issued_at: Instant,
    failures: u8,
    in_flight: Vec<(u64, Instant)>,
    next_ticket: u64,
}

impl fmt::Debug for CodeGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeGate")
            .field("workshop_id", &self.workshop_id)
            .field("issued_at", &self.issued_at)
            .field("failures", &self.failures)
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl CodeGate {
    /// Issues a new random code for `workshop_id`, valid from `now` for [`CODE_LIFETIME`].
    pub fn issue(workshop_id: Uuid, now: Instant, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self {
            id: rng.next_u64(),
            code: JoinCode::generate(rng),
            workshop_id,
            issued_at: now,
            failures: 0,
            in_flight: Vec::new(),
            next_ticket: 0,
        }
    }

    /// The code, to show on screen (its `Display` is `042 917`).
    pub fn code(&self) -> &JoinCode {
        &self.code
    }

    /// The workshop this code joins.
    pub fn workshop_id(&self) -> Uuid {
        self.workshop_id
    }

    /// When the code stops working.
    pub fn expires_at(&self) -> Instant {
        self.issued_at + CODE_LIFETIME
    }

    /// Whether the code can still be used at `now`.
    pub fn status(&mut self, now: Instant) -> CodeStatus {
        self.purge(now);
        if self.failures >= MAX_CODE_FAILURES {
            CodeStatus::Spent
        } else if now >= self.expires_at() {
            CodeStatus::Expired
        } else {
            let used = usize::from(self.failures) + self.in_flight.len();
            CodeStatus::Open { attempts_left: usize::from(MAX_CODE_FAILURES).saturating_sub(used) as u8 }
        }
    }

    /// Wrong or abandoned attempts so far.
    pub fn failures(&self) -> u8 {
        self.failures
    }

    /// Exchanges in progress.
    pub fn in_progress(&self) -> usize {
        self.in_flight.len()
    }

    /// Claims an attempt and a slot for a new exchange, or says why not.
    fn begin(&mut self, now: Instant) -> Result<JoinTicket> {
        match self.status(now) {
            CodeStatus::Spent => return Err(ProtocolError::CodeSpent),
            CodeStatus::Expired => return Err(ProtocolError::CodeExpired),
            // Every attempt left is held by an exchange in progress: one of them may yet
            // fail, so a new one must wait.
            CodeStatus::Open { attempts_left: 0 } => return Err(ProtocolError::JoinBusy),
            CodeStatus::Open { .. } => {}
        }
        if self.in_flight.len() >= MAX_CONCURRENT_JOINS {
            return Err(ProtocolError::JoinBusy);
        }
        let id = self.next_ticket;
        self.next_ticket += 1;
        self.in_flight.push((id, now));
        Ok(JoinTicket { gate: self.id, id })
    }

    /// Whether an exchange is still running (not timed out, not settled).
    fn is_live(&mut self, ticket: JoinTicket, now: Instant) -> bool {
        self.purge(now);
        ticket.gate == self.id && self.in_flight.iter().any(|&(id, _)| id == ticket.id)
    }

    /// Ends an exchange: a success frees its attempt, anything else counts as a failure.
    fn settle(&mut self, ticket: JoinTicket, joined: bool) {
        if ticket.gate != self.id {
            return;
        }
        if let Some(i) = self.in_flight.iter().position(|&(id, _)| id == ticket.id) {
            self.in_flight.swap_remove(i);
            if !joined {
                self.failures = self.failures.saturating_add(1);
            }
        }
    }

    /// Exchanges that outlived [`JOIN_EXCHANGE_TIMEOUT`] count as failed: an attacker who
    /// learns its guess was wrong and walks away still used an attempt.
    fn purge(&mut self, now: Instant) {
        let before = self.in_flight.len();
        self.in_flight.retain(|&(_, started)| now.saturating_duration_since(started) < JOIN_EXCHANGE_TIMEOUT);
        let expired = (before - self.in_flight.len()) as u8;
        self.failures = self.failures.saturating_add(expired);
    }
}

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

/// What a joining laptop tells the facilitator's: its device key and chosen first name.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The joiner's device public key, to add to the roster.
    pub device: DevicePublicKey,
    /// The first name the person chose, as UTF-8 bytes (at most 120; validated elsewhere).
    pub name: Vec<u8>,
}

impl fmt::Debug for JoinRequest {
    // Names are personal: never in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinRequest")
            .field("device", &self.device)
            .field("name_len", &self.name.len())
            .finish()
    }
}

impl JoinRequest {
    /// The request's bytes (see the module docs).
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.name.len() > MAX_NAME_LEN {
            return Err(ProtocolError::NameTooLong { len: self.name.len(), max: MAX_NAME_LEN });
        }
        let mut out = Vec::with_capacity(MIN_REQUEST_LEN + self.name.len());
        out.extend_from_slice(self.device.as_bytes());
        out.push(self.name.len() as u8);
        out.extend_from_slice(&self.name);
        Ok(out)
    }

    /// Reads a request, strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const BAD: ProtocolError = ProtocolError::MalformedJoinMessage("the request is the wrong length");
        if !(MIN_REQUEST_LEN..=MAX_REQUEST_LEN).contains(&bytes.len()) {
            return Err(BAD);
        }
        let mut r = Reader::new(bytes);
        let device = DevicePublicKey::from_bytes(r.array().ok_or(BAD)?);
        let len = usize::from(r.u8().ok_or(BAD)?);
        let name = r.take(len).ok_or(BAD)?.to_vec();
        if !r.is_empty() {
            return Err(BAD);
        }
        Ok(Self { device, name })
    }
}

/// What the facilitator's laptop gives a new member: the invite and the roster.
///
/// The same encoding suits announcing a new secret and epoch to the remaining members after
/// someone is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// Workshop id, secret, epoch, facilitator key and addresses.
    pub invite: Invite,
    /// The device keys allowed to connect, in any order, without repeats.
    pub roster: Vec<DevicePublicKey>,
}

impl Welcome {
    /// The welcome's bytes (see the module docs).
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.roster.is_empty() || self.roster.len() > MAX_ROSTER_LEN {
            return Err(ProtocolError::InviteNotEncodable("a roster lists 1 to 1,024 devices"));
        }
        let mut out = Vec::with_capacity(MAX_INVITE_PAYLOAD_LEN + 2 + self.roster.len() * DEVICE_KEY_LEN);
        self.invite.write_to(&mut out)?;
        out.extend_from_slice(&(self.roster.len() as u16).to_be_bytes());
        for key in &self.roster {
            out.extend_from_slice(key.as_bytes());
        }
        Ok(out)
    }

    /// Reads a welcome, strictly: size checked first, no repeated keys, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const SHORT: ProtocolError = ProtocolError::MalformedJoinMessage("the welcome is cut short");
        if bytes.len() > MAX_WELCOME_LEN {
            return Err(ProtocolError::MalformedJoinMessage("the welcome is too long"));
        }
        let mut r = Reader::new(bytes);
        let invite = Invite::read_from(&mut r).map_err(|e| match e {
            ProtocolError::InviteTooNew { found } => {
                ProtocolError::JoinTooNew { found: found.min(255) as u8 }
            }
            ProtocolError::InvalidInvite(why) => ProtocolError::MalformedJoinMessage(why),
            other => other,
        })?;
        let count = usize::from(r.u16().ok_or(SHORT)?);
        if count == 0 || count > MAX_ROSTER_LEN {
            return Err(ProtocolError::MalformedJoinMessage("the roster size is out of range"));
        }
        // The remaining length must match exactly before anything is allocated for it.
        if r.remaining() != count * DEVICE_KEY_LEN {
            return Err(ProtocolError::MalformedJoinMessage("the roster is the wrong length"));
        }
        let mut roster = Vec::with_capacity(count);
        for _ in 0..count {
            roster.push(DevicePublicKey::from_bytes(r.array().ok_or(SHORT)?));
        }
        let mut sorted = roster.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(ProtocolError::MalformedJoinMessage("the roster lists a device twice"));
        }
        Ok(Self { invite, roster })
    }
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

/// Why a host turned a joiner away, sent as a Refused message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The code didn't match.
    WrongCode,
    /// The code has expired.
    Expired,
    /// The code was tried wrongly too many times.
    Spent,
    /// Too many joins at once; try again shortly.
    Busy,
}

impl JoinRefusal {
    fn code(self) -> u8 {
        match self {
            JoinRefusal::WrongCode => 1,
            JoinRefusal::Expired => 2,
            JoinRefusal::Spent => 3,
            JoinRefusal::Busy => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => JoinRefusal::WrongCode,
            2 => JoinRefusal::Expired,
            3 => JoinRefusal::Spent,
            4 => JoinRefusal::Busy,
            _ => return None,
        })
    }

    /// The error the joiner reports for this refusal.
    pub fn to_error(self) -> ProtocolError {
        match self {
            JoinRefusal::WrongCode => ProtocolError::WrongCode,
            JoinRefusal::Expired => ProtocolError::CodeExpired,
            JoinRefusal::Spent => ProtocolError::CodeSpent,
            JoinRefusal::Busy => ProtocolError::JoinBusy,
        }
    }
}

/// The Refused message a host should send for `error`, if the joiner should hear why.
/// Errors about malformed input get no answer: the host just closes.
pub fn refusal_for(error: &ProtocolError) -> Option<Vec<u8>> {
    let reason = match error {
        ProtocolError::WrongCode => JoinRefusal::WrongCode,
        ProtocolError::CodeExpired | ProtocolError::JoinTimedOut => JoinRefusal::Expired,
        ProtocolError::CodeSpent => JoinRefusal::Spent,
        ProtocolError::JoinBusy => JoinRefusal::Busy,
        _ => return None,
    };
    Some(JoinMessage::Refused(reason).encode())
}

/// One message of the join exchange, as on the wire (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinMessage {
    /// Joiner → host: the joiner's SPAKE2 message.
    Hello {
        /// SPAKE2 side A message.
        spake: [u8; SPAKE_MSG_LEN],
    },
    /// Host → joiner: which workshop, and the host's SPAKE2 message.
    Challenge {
        /// The workshop the code joins.
        workshop_id: Uuid,
        /// SPAKE2 side B message.
        spake: [u8; SPAKE_MSG_LEN],
    },
    /// Joiner → host: key confirmation and the sealed [`JoinRequest`].
    Request {
        /// The joiner's confirmation MAC.
        confirm: [u8; MAC_LEN],
        /// The sealed request.
        sealed: Vec<u8>,
    },
    /// Host → joiner: key confirmation and the sealed [`Welcome`].
    Welcome {
        /// The host's confirmation MAC.
        confirm: [u8; MAC_LEN],
        /// The sealed welcome.
        sealed: Vec<u8>,
    },
    /// Host → joiner: turned away, and why.
    Refused(JoinRefusal),
}

impl JoinMessage {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![JOIN_VERSION];
        match self {
            JoinMessage::Hello { spake } => {
                out.push(KIND_HELLO);
                out.extend_from_slice(spake);
            }
            JoinMessage::Challenge { workshop_id, spake } => {
                out.push(KIND_CHALLENGE);
                out.extend_from_slice(workshop_id.as_bytes());
                out.extend_from_slice(spake);
            }
            JoinMessage::Request { confirm, sealed } => {
                out.push(KIND_REQUEST);
                out.extend_from_slice(confirm);
                out.extend_from_slice(sealed);
            }
            JoinMessage::Welcome { confirm, sealed } => {
                out.push(KIND_WELCOME);
                out.extend_from_slice(confirm);
                out.extend_from_slice(sealed);
            }
            JoinMessage::Refused(reason) => {
                out.push(KIND_REFUSED);
                out.push(reason.code());
            }
        }
        out
    }

    /// Reads a message, strictly: overall size first, then version, kind and exact lengths.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const SHORT: ProtocolError = ProtocolError::MalformedJoinMessage("the message is cut short");
        const LENGTH: ProtocolError = ProtocolError::MalformedJoinMessage("the message is the wrong length");
        if bytes.len() > MAX_JOIN_MESSAGE_LEN {
            return Err(ProtocolError::MalformedJoinMessage("the message is too long"));
        }
        let mut r = Reader::new(bytes);
        match r.u8().ok_or(SHORT)? {
            JOIN_VERSION => {}
            0 => return Err(ProtocolError::MalformedJoinMessage("the version is 0")),
            found => return Err(ProtocolError::JoinTooNew { found }),
        }
        let kind = r.u8().ok_or(SHORT)?;
        let message = match kind {
            KIND_HELLO => JoinMessage::Hello { spake: r.array().ok_or(SHORT)? },
            KIND_CHALLENGE => {
                let workshop_id = Uuid::from_bytes(r.array().ok_or(SHORT)?);
                JoinMessage::Challenge { workshop_id, spake: r.array().ok_or(SHORT)? }
            }
            KIND_REQUEST | KIND_WELCOME => {
                let confirm = r.array().ok_or(SHORT)?;
                let (min, max) = if kind == KIND_REQUEST {
                    (MIN_REQUEST_LEN + TAG_LEN, MAX_REQUEST_LEN + TAG_LEN)
                } else {
                    (MIN_WELCOME_LEN + TAG_LEN, MAX_WELCOME_LEN + TAG_LEN)
                };
                if !(min..=max).contains(&r.remaining()) {
                    return Err(LENGTH);
                }
                let sealed = r.rest().to_vec();
                if kind == KIND_REQUEST {
                    JoinMessage::Request { confirm, sealed }
                } else {
                    JoinMessage::Welcome { confirm, sealed }
                }
            }
            KIND_REFUSED => {
                let reason = r.u8().ok_or(SHORT)?;
                JoinMessage::Refused(
                    JoinRefusal::from_code(reason)
                        .ok_or(ProtocolError::MalformedJoinMessage("the refusal reason is unknown"))?,
                )
            }
            _ => return Err(ProtocolError::MalformedJoinMessage("the message kind is unknown")),
        };
        if !r.is_empty() {
            return Err(LENGTH);
        }
        Ok(message)
    }
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/// The four keys derived from the SPAKE2 key, wiped on drop.
struct JoinKeys {
    confirm_joiner: [u8; 32],
    confirm_host: [u8; 32],
    seal_joiner: [u8; 32],
    seal_host: [u8; 32],
}

impl Drop for JoinKeys {
    fn drop(&mut self) {
        self.confirm_joiner.zeroize();
        self.confirm_host.zeroize();
        self.seal_joiner.zeroize();
        self.seal_host.zeroize();
    }
}

impl JoinKeys {
    fn derive(mut spake_key: Vec<u8>) -> Result<Self> {
        let mut k: [u8; 32] = spake_key
            .as_slice()
            .try_into()
            .map_err(|_| ProtocolError::Internal("SPAKE2 gave a key of an unexpected length"))?;
        spake_key.zeroize();
        let keys = Self {
            confirm_joiner: kdf::derive(&k, LABEL_CONFIRM_JOINER, &[]),
            confirm_host: kdf::derive(&k, LABEL_CONFIRM_HOST, &[]),
            seal_joiner: kdf::derive(&k, LABEL_SEAL_JOINER, &[]),
            seal_host: kdf::derive(&k, LABEL_SEAL_HOST, &[]),
        };
        k.zeroize();
        Ok(keys)
    }
}

/// ChaCha20-Poly1305 with a zero nonce: each key seals exactly one message.
fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: plaintext, aad })
        .map_err(|_| ProtocolError::Internal("sealing a join message"))
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: sealed, aad })
        .ok()
}

fn finish_spake(spake: Spake2<Ed25519Group>, their_message: &[u8]) -> Result<JoinKeys> {
    let key = spake
        .finish(their_message)
        .map_err(|_| ProtocolError::MalformedJoinMessage("the key exchange message is not valid"))?;
    JoinKeys::derive(key)
}

// ---------------------------------------------------------------------------------------
// The joiner
// ---------------------------------------------------------------------------------------

/// What the joiner should do next.
#[derive(Debug)]
pub enum JoinerStep {
    /// Send these bytes to the host and wait for its answer.
    Send(Vec<u8>),
    /// Joined: keep the welcome (secret, epoch, roster) and connect with Noise.
    Joined(Welcome),
}

enum JoinerStage {
    AwaitChallenge {
        spake: Spake2<Ed25519Group>,
        hello: Vec<u8>,
        request: JoinRequest,
    },
    AwaitWelcome {
        keys: JoinKeys,
        hello: Vec<u8>,
        challenge: Vec<u8>,
        request_msg: Vec<u8>,
        workshop_id: Uuid,
    },
    Done,
    Failed,
}

/// The joining laptop's side of the exchange.
pub struct JoinerState {
    stage: JoinerStage,
    device: DevicePublicKey,
    expected_workshop: Option<Uuid>,
}

impl fmt::Debug for JoinerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            JoinerStage::AwaitChallenge { .. } => "awaiting challenge",
            JoinerStage::AwaitWelcome { .. } => "awaiting welcome",
            JoinerStage::Done => "done",
            JoinerStage::Failed => "failed",
        };
        f.debug_struct("JoinerState").field("stage", &stage).field("device", &self.device).finish()
    }
}

impl JoinerState {
    /// Starts joining with a typed code; returns the state and the Hello to send.
    ///
    /// `expected_workshop`, if known, makes the joiner refuse a host running any other
    /// workshop.
    pub fn start(
        code: &JoinCode,
        request: JoinRequest,
        expected_workshop: Option<Uuid>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, Vec<u8>)> {
        // Checked now, so a bad name fails before anything goes on the wire.
        request.encode()?;
        let (spake, message) = Spake2::<Ed25519Group>::start_a_with_rng(
            &code.password(),
            &Identity::new(ID_JOINER),
            &Identity::new(ID_HOST),
            Rng06(rng),
        );
        let spake_msg: [u8; SPAKE_MSG_LEN] = message
            .try_into()
            .map_err(|_| ProtocolError::Internal("SPAKE2 message of an unexpected length"))?;
        let hello = JoinMessage::Hello { spake: spake_msg }.encode();
        let device = request.device;
        let state = Self {
            stage: JoinerStage::AwaitChallenge { spake, hello: hello.clone(), request },
            device,
            expected_workshop,
        };
        Ok((state, hello))
    }

    /// Takes the host's next message. After an error the exchange is over.
    pub fn receive(&mut self, message: &[u8]) -> Result<JoinerStep> {
        let stage = std::mem::replace(&mut self.stage, JoinerStage::Failed);
        let (next, result) = self.step(stage, message);
        self.stage = next;
        result
    }

    fn step(&self, stage: JoinerStage, bytes: &[u8]) -> (JoinerStage, Result<JoinerStep>) {
        let message = match JoinMessage::decode(bytes) {
            Ok(JoinMessage::Refused(reason)) => return (JoinerStage::Failed, Err(reason.to_error())),
            Ok(message) => message,
            Err(e) => return (JoinerStage::Failed, Err(e)),
        };
        match (stage, message) {
            (
                JoinerStage::AwaitChallenge { spake, hello, request },
                JoinMessage::Challenge { workshop_id, spake: theirs },
            ) => match self.on_challenge(spake, hello, &request, workshop_id, &theirs, bytes) {
                Ok((next, send)) => (next, Ok(JoinerStep::Send(send))),
                Err(e) => (JoinerStage::Failed, Err(e)),
            },
            (
                JoinerStage::AwaitWelcome { keys, hello, challenge, request_msg, workshop_id },
                JoinMessage::Welcome { confirm, sealed },
            ) => {
                let transcript: [&[u8]; 3] = [&hello, &challenge, &request_msg];
                if !kdf::verify(&keys.confirm_host, LABEL_TRANSCRIPT, &transcript, &confirm) {
                    return (JoinerStage::Failed, Err(ProtocolError::HostNotVerified));
                }
                match self.on_welcome(&keys, workshop_id, &sealed) {
                    Ok(welcome) => (JoinerStage::Done, Ok(JoinerStep::Joined(welcome))),
                    Err(e) => (JoinerStage::Failed, Err(e)),
                }
            }
            _ => (JoinerStage::Failed, Err(ProtocolError::JoinOutOfOrder)),
        }
    }

    fn on_challenge(
        &self,
        spake: Spake2<Ed25519Group>,
        hello: Vec<u8>,
        request: &JoinRequest,
        workshop_id: Uuid,
        theirs: &[u8],
        challenge_bytes: &[u8],
    ) -> Result<(JoinerStage, Vec<u8>)> {
        if self.expected_workshop.is_some_and(|expected| expected != workshop_id) {
            return Err(ProtocolError::WrongWorkshop);
        }
        let keys = finish_spake(spake, theirs)?;
        let challenge = challenge_bytes.to_vec();
        let confirm = kdf::derive(&keys.confirm_joiner, LABEL_TRANSCRIPT, &[&hello, &challenge]);
        let mut plaintext = request.encode()?;
        let sealed = seal(&keys.seal_joiner, AAD_REQUEST, &plaintext)?;
        plaintext.zeroize();
        let request_msg = JoinMessage::Request { confirm, sealed }.encode();
        let next = JoinerStage::AwaitWelcome {
            keys,
            hello,
            challenge,
            request_msg: request_msg.clone(),
            workshop_id,
        };
        Ok((next, request_msg))
    }

    fn on_welcome(&self, keys: &JoinKeys, workshop_id: Uuid, sealed: &[u8]) -> Result<Welcome> {
        let mut plaintext =
            open(&keys.seal_host, AAD_WELCOME, sealed).ok_or(ProtocolError::HostNotVerified)?;
        let welcome = Welcome::decode(&plaintext);
        plaintext.zeroize();
        let welcome = welcome?;
        check_welcome(&welcome, workshop_id, self.device)?;
        Ok(welcome)
    }
}

/// A welcome must be for the workshop the Challenge named and list both the facilitator and
/// the new device, or the joiner would be refused by everyone it then tried to reach.
fn check_welcome(welcome: &Welcome, workshop_id: Uuid, joiner: DevicePublicKey) -> Result<()> {
    if welcome.invite.workshop_id != workshop_id {
        return Err(ProtocolError::MalformedJoinMessage("the welcome is for a different workshop"));
    }
    if !welcome.roster.contains(&joiner) {
        return Err(ProtocolError::MalformedJoinMessage("the roster doesn't include this laptop"));
    }
    if !welcome.roster.contains(&welcome.invite.facilitator) {
        return Err(ProtocolError::MalformedJoinMessage("the roster doesn't include the facilitator"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------------

enum HostStage {
    AwaitRequest { keys: JoinKeys, hello: Vec<u8>, challenge: Vec<u8> },
    Verified { keys: JoinKeys, transcript: [Vec<u8>; 3], device: DevicePublicKey },
    Done,
    Failed,
}

/// The facilitator's laptop's side of one join exchange.
pub struct HostJoin {
    stage: HostStage,
    ticket: JoinTicket,
    workshop_id: Uuid,
}

impl fmt::Debug for HostJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            HostStage::AwaitRequest { .. } => "awaiting request",
            HostStage::Verified { .. } => "verified",
            HostStage::Done => "done",
            HostStage::Failed => "failed",
        };
        f.debug_struct("HostJoin").field("stage", &stage).field("workshop_id", &self.workshop_id).finish()
    }
}

impl HostJoin {
    /// Answers a joiner's Hello: claims an attempt from the gate and returns the Challenge to
    /// send. Fails with [`ProtocolError::CodeExpired`], [`ProtocolError::CodeSpent`] or
    /// [`ProtocolError::JoinBusy`] (send [`refusal_for`]'s message), or a malformed-message
    /// error (just close).
    pub fn start(
        gate: &mut CodeGate,
        now: Instant,
        hello: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, Vec<u8>)> {
        // Garbage is turned away before it can use up an attempt: it makes no guess.
        let JoinMessage::Hello { spake: theirs } = JoinMessage::decode(hello)? else {
            return Err(ProtocolError::JoinOutOfOrder);
        };
        let ticket = gate.begin(now)?;
        let (spake, ours) = Spake2::<Ed25519Group>::start_b_with_rng(
            &gate.code.password(),
            &Identity::new(ID_JOINER),
            &Identity::new(ID_HOST),
            Rng06(rng),
        );
        let keys = match finish_spake(spake, &theirs) {
            Ok(keys) => keys,
            Err(e) => {
                gate.settle(ticket, false);
                return Err(e);
            }
        };
        let Ok(spake_msg) = <[u8; SPAKE_MSG_LEN]>::try_from(ours) else {
            gate.settle(ticket, false);
            return Err(ProtocolError::Internal("SPAKE2 message of an unexpected length"));
        };
        let challenge = JoinMessage::Challenge { workshop_id: gate.workshop_id, spake: spake_msg }.encode();
        let host = Self {
            stage: HostStage::AwaitRequest { keys, hello: hello.to_vec(), challenge: challenge.clone() },
            ticket,
            workshop_id: gate.workshop_id,
        };
        Ok((host, challenge))
    }

    /// Takes the joiner's Request. On success the code was right: returns who wants to join
    /// (add them to the roster, then call [`HostJoin::welcome`]). A wrong code is
    /// [`ProtocolError::WrongCode`] and has been counted against the gate.
    pub fn receive(&mut self, gate: &mut CodeGate, now: Instant, message: &[u8]) -> Result<JoinRequest> {
        let stage = std::mem::replace(&mut self.stage, HostStage::Failed);
        let HostStage::AwaitRequest { keys, hello, challenge } = stage else {
            gate.settle(self.ticket, false);
            return Err(ProtocolError::JoinOutOfOrder);
        };
        if !gate.is_live(self.ticket, now) {
            return Err(ProtocolError::JoinTimedOut);
        }
        let result = Self::verify_request(&keys, &hello, &challenge, message);
        gate.settle(self.ticket, result.is_ok());
        let request = result?;
        self.stage = HostStage::Verified {
            keys,
            transcript: [hello, challenge, message.to_vec()],
            device: request.device,
        };
        Ok(request)
    }

    fn verify_request(
        keys: &JoinKeys,
        hello: &[u8],
        challenge: &[u8],
        message: &[u8],
    ) -> Result<JoinRequest> {
        let JoinMessage::Request { confirm, sealed } = JoinMessage::decode(message)? else {
            return Err(ProtocolError::JoinOutOfOrder);
        };
        if !kdf::verify(&keys.confirm_joiner, LABEL_TRANSCRIPT, &[hello, challenge], &confirm) {
            return Err(ProtocolError::WrongCode);
        }
        let mut plaintext = open(&keys.seal_joiner, AAD_REQUEST, &sealed)
            .ok_or(ProtocolError::MalformedJoinMessage("the request doesn't open"))?;
        let request = JoinRequest::decode(&plaintext);
        plaintext.zeroize();
        request
    }

    /// Seals the welcome for the verified joiner; returns the message to send. The roster
    /// must include the joiner's device and the facilitator, and the invite must be for
    /// this workshop.
    pub fn welcome(&mut self, welcome: &Welcome) -> Result<Vec<u8>> {
        let HostStage::Verified { keys, transcript, device } = &self.stage else {
            return Err(ProtocolError::JoinOutOfOrder);
        };
        check_welcome(welcome, self.workshop_id, *device).map_err(|_| {
            ProtocolError::Internal("the welcome must be for this workshop and list the new laptop")
        })?;
        let [hello, challenge, request] = transcript;
        let confirm = kdf::derive(&keys.confirm_host, LABEL_TRANSCRIPT, &[hello, challenge, request]);
        let mut plaintext = welcome.encode()?;
        let sealed = seal(&keys.seal_host, AAD_WELCOME, &plaintext);
        plaintext.zeroize();
        let message = JoinMessage::Welcome { confirm, sealed: sealed? }.encode();
        self.stage = HostStage::Done;
        Ok(message)
    }

    /// Gives up on this exchange (the connection dropped or timed out). Unless the code was
    /// already verified, it counts as a failed attempt.
    pub fn abandon(self, gate: &mut CodeGate) {
        gate.settle(self.ticket, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DeviceKeypair;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    struct Room {
        gate: CodeGate,
        t0: Instant,
        facilitator: DeviceKeypair,
        workshop_id: Uuid,
    }

    fn room(seed: u64) -> Room {
        let mut r = rng(seed);
        let workshop_id = Uuid::from_bytes([9; 16]);
        let t0 = Instant::now();
        Room {
            gate: CodeGate::issue(workshop_id, t0, &mut r),
            t0,
            facilitator: DeviceKeypair::generate(&mut r),
            workshop_id,
        }
    }

    fn welcome_for(room: &Room, joiner: DevicePublicKey) -> Welcome {
        Welcome {
            invite: Invite {
                workshop_id: room.workshop_id,
                secret: [5; 32],
                epoch: 2,
                facilitator: room.facilitator.public_key(),
                addresses: vec!["10.1.2.3:7000".parse().unwrap()],
            },
            roster: vec![room.facilitator.public_key(), joiner],
        }
    }

    fn request(seed: u64, name: &str) -> JoinRequest {
        JoinRequest {
            device: DeviceKeypair::generate(&mut rng(seed)).public_key(),
            name: name.as_bytes().to_vec(),
        }
    }

    /// Runs an exchange with the typed code at `at` seconds after issue; returns the outcome
    /// on each side.
    fn exchange(
        room: &mut Room,
        typed: &JoinCode,
        at: u64,
        seed: u64,
    ) -> (Result<Welcome>, Result<JoinRequest>) {
        let now = room.t0 + Duration::from_secs(at);
        let mut r = rng(seed);
        let req = request(seed, "Ada");
        let (mut joiner, hello) = JoinerState::start(typed, req.clone(), None, &mut r).unwrap();
        let (mut host, challenge) = match HostJoin::start(&mut room.gate, now, &hello, &mut r) {
            Ok(x) => x,
            Err(e) => {
                let refusal = refusal_for(&e).expect("the joiner hears why");
                assert_eq!(joiner.receive(&refusal).unwrap_err(), e);
                return (Err(e.clone()), Err(e));
            }
        };
        let JoinerStep::Send(req_msg) = joiner.receive(&challenge).unwrap() else {
            panic!("expected a request")
        };
        match host.receive(&mut room.gate, now, &req_msg) {
            Ok(got) => {
                assert_eq!(got, req);
                let reply = host.welcome(&welcome_for(room, got.device)).unwrap();
                match joiner.receive(&reply) {
                    Ok(JoinerStep::Joined(w)) => (Ok(w), Ok(got)),
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(e) => (Err(e), Ok(got)),
                }
            }
            Err(e) => {
                let reply = refusal_for(&e).unwrap();
                (joiner.receive(&reply).map(|_| unreachable!()), Err(e))
            }
        }
    }

    fn wrong_code(room: &Room) -> JoinCode {
        JoinCode((room.gate.code().0 + 1) % 1_000_000)
    }

    #[test]
    fn the_right_code_joins_and_the_welcome_arrives() {
        let mut room = room(1);
        let code = room.gate.code().clone();
        let (welcome, request) = exchange(&mut room, &code, 5, 2);
        let welcome = welcome.unwrap();
        let request = request.unwrap();
        assert_eq!(welcome, welcome_for(&room, request.device));
        assert_eq!(request.name, b"Ada");
        assert_eq!(room.gate.failures(), 0);
        assert_eq!(room.gate.in_progress(), 0);
        // Success doesn't use up the code: others in the room can join with it too.
        assert_eq!(room.gate.status(room.t0 + Duration::from_secs(6)), CodeStatus::Open { attempts_left: 5 });
        let (again, _) = exchange(&mut room, &code, 6, 3);
        assert!(again.is_ok());
    }

    #[test]
    fn a_wrong_code_fails_on_both_sides_and_counts_an_attempt() {
        let mut room = room(4);
        let wrong = wrong_code(&room);
        let (joiner, host) = exchange(&mut room, &wrong, 1, 5);
        assert_eq!(joiner.unwrap_err(), ProtocolError::WrongCode);
        assert_eq!(host.unwrap_err(), ProtocolError::WrongCode);
        assert_eq!(room.gate.failures(), 1);
        assert_eq!(room.gate.status(room.t0), CodeStatus::Open { attempts_left: 4 });
    }

    #[test]
    fn five_failures_spend_the_code_even_for_the_right_one() {
        let mut room = room(6);
        let wrong = wrong_code(&room);
        for i in 0..5 {
            let (_, host) = exchange(&mut room, &wrong, 1, 10 + i);
            assert_eq!(host.unwrap_err(), ProtocolError::WrongCode);
        }
        assert_eq!(room.gate.status(room.t0), CodeStatus::Spent);
        let right = room.gate.code().clone();
        let (joiner, host) = exchange(&mut room, &right, 2, 20);
        assert_eq!(joiner.unwrap_err(), ProtocolError::CodeSpent);
        assert_eq!(host.unwrap_err(), ProtocolError::CodeSpent);
    }

    #[test]
    fn the_code_expires_after_two_minutes() {
        let mut room = room(7);
        let right = room.gate.code().clone();
        assert!(exchange(&mut room, &right, 119, 8).0.is_ok());
        let (joiner, host) = exchange(&mut room, &right, 120, 9);
        assert_eq!(joiner.unwrap_err(), ProtocolError::CodeExpired);
        assert_eq!(host.unwrap_err(), ProtocolError::CodeExpired);
        assert_eq!(room.gate.status(room.t0 + CODE_LIFETIME), CodeStatus::Expired);
        assert_eq!(room.gate.expires_at(), room.t0 + CODE_LIFETIME);
    }

    #[test]
    fn concurrent_joins_are_bounded_and_attempts_are_reserved() {
        let mut room = room(10);
        let now = room.t0;
        let code = room.gate.code().clone();
        let mut hosts = Vec::new();
        for i in 0..MAX_CONCURRENT_JOINS as u64 {
            let (_, hello) = JoinerState::start(&code, request(i, "B"), None, &mut rng(i)).unwrap();
            hosts.push(HostJoin::start(&mut room.gate, now, &hello, &mut rng(100 + i)).unwrap().0);
        }
        let (_, hello) = JoinerState::start(&code, request(50, "C"), None, &mut rng(50)).unwrap();
        assert_eq!(
            HostJoin::start(&mut room.gate, now, &hello, &mut rng(51)).unwrap_err(),
            ProtocolError::JoinBusy
        );
        assert_eq!(room.gate.in_progress(), 4);
        // Abandoning counts as a failure: an attacker can't learn its guess and walk away free.
        hosts.pop().unwrap().abandon(&mut room.gate);
        assert_eq!(room.gate.failures(), 1);
        // Now 1 failure + 3 in flight leave one attempt: one more may start, then none.
        hosts.push(HostJoin::start(&mut room.gate, now, &hello, &mut rng(52)).unwrap().0);
        assert_eq!(room.gate.status(now), CodeStatus::Open { attempts_left: 0 });
        assert_eq!(
            HostJoin::start(&mut room.gate, now, &hello, &mut rng(53)).unwrap_err(),
            ProtocolError::JoinBusy
        );
        // Exchanges that go quiet time out and count as failures, freeing their slots.
        let later = now + JOIN_EXCHANGE_TIMEOUT;
        assert_eq!(room.gate.status(later), CodeStatus::Spent);
        assert_eq!(room.gate.in_progress(), 0);
        assert_eq!(room.gate.failures(), 5);
        let mut host = hosts.pop().unwrap();
        assert_eq!(host.receive(&mut room.gate, later, &[1, 3]).unwrap_err(), ProtocolError::JoinTimedOut);
    }

    #[test]
    fn garbage_hellos_are_refused_without_using_an_attempt() {
        let mut room = room(11);
        for junk in [&[][..], &[1], &[1, 1], &[2, 1], &[1, 2, 0], &[0, 1]] {
            assert!(HostJoin::start(&mut room.gate, room.t0, junk, &mut rng(1)).is_err());
        }
        assert_eq!(room.gate.status(room.t0), CodeStatus::Open { attempts_left: 5 });
        // A well-formed Hello with an invalid point uses an attempt (it reached SPAKE2).
        let mut hello = vec![JOIN_VERSION, KIND_HELLO, b'A'];
        hello.extend_from_slice(&[0xff; 32]);
        let result = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(1));
        if result.is_err() {
            assert_eq!(room.gate.failures(), 1);
        }
    }

    #[test]
    fn a_joiner_expecting_another_workshop_stops() {
        let mut room = room(12);
        let code = room.gate.code().clone();
        let (mut joiner, hello) =
            JoinerState::start(&code, request(1, "D"), Some(Uuid::from_bytes([1; 16])), &mut rng(2)).unwrap();
        let (_, challenge) = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(3)).unwrap();
        assert_eq!(joiner.receive(&challenge).unwrap_err(), ProtocolError::WrongWorkshop);
    }

    #[test]
    fn a_man_in_the_middle_changing_the_workshop_id_breaks_confirmation() {
        let mut room = room(13);
        let code = room.gate.code().clone();
        let (mut joiner, hello) = JoinerState::start(&code, request(1, "E"), None, &mut rng(2)).unwrap();
        let (mut host, challenge) = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(3)).unwrap();
        let mut altered = challenge.clone();
        altered[2] ^= 1;
        let JoinerStep::Send(req) = joiner.receive(&altered).unwrap() else { panic!() };
        assert_eq!(host.receive(&mut room.gate, room.t0, &req).unwrap_err(), ProtocolError::WrongCode);
    }

    #[test]
    fn a_tampered_welcome_is_refused_by_the_joiner() {
        let mut room = room(14);
        let code = room.gate.code().clone();
        let req = request(1, "F");
        let (mut joiner, hello) = JoinerState::start(&code, req.clone(), None, &mut rng(2)).unwrap();
        let (mut host, challenge) = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(3)).unwrap();
        let JoinerStep::Send(req_msg) = joiner.receive(&challenge).unwrap() else { panic!() };
        host.receive(&mut room.gate, room.t0, &req_msg).unwrap();
        let mut reply = host.welcome(&welcome_for(&room, req.device)).unwrap();
        let last = reply.len() - 1;
        reply[last] ^= 1;
        assert_eq!(joiner.receive(&reply).unwrap_err(), ProtocolError::HostNotVerified);
        // And the joiner is finished: nothing more is accepted.
        assert_eq!(joiner.receive(&reply).unwrap_err(), ProtocolError::JoinOutOfOrder);
    }

    #[test]
    fn the_host_wont_welcome_without_the_joiner_on_the_roster() {
        let mut room = room(15);
        let code = room.gate.code().clone();
        let req = request(1, "G");
        let (mut joiner, hello) = JoinerState::start(&code, req, None, &mut rng(2)).unwrap();
        let (mut host, challenge) = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(3)).unwrap();
        let JoinerStep::Send(req_msg) = joiner.receive(&challenge).unwrap() else { panic!() };
        host.receive(&mut room.gate, room.t0, &req_msg).unwrap();
        let mut w = welcome_for(&room, room.facilitator.public_key());
        w.roster.truncate(1);
        assert!(matches!(host.welcome(&w), Err(ProtocolError::Internal(_))));
    }

    #[test]
    fn codes_are_six_digits_and_display_with_leading_zeros() {
        assert_eq!(JoinCode(42_917).to_string(), "042 917");
        assert_eq!(JoinCode(0).to_string(), "000 000");
        assert_eq!(JoinCode::parse("042 917").unwrap(), JoinCode(42_917));
        assert_eq!(JoinCode::parse("042-917").unwrap(), JoinCode(42_917));
        assert_eq!(JoinCode::parse(" 999999 ").unwrap(), JoinCode(999_999));
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", &"1".repeat(40)] {
            assert_eq!(JoinCode::parse(bad), Err(ProtocolError::CodeFormat), "{bad}");
        }
        assert_eq!(format!("{:?}", JoinCode(123_456)), "JoinCode(<redacted>)");
        let mut r = rng(1);
        for _ in 0..1000 {
            let c = JoinCode::generate(&mut r);
            assert!(c.0 < 1_000_000);
            assert_eq!(JoinCode::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn code_generation_is_roughly_uniform() {
        // Leading digits of 20,000 codes: each of 0-9 should get about 2,000.
        let mut r = rng(2);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            counts[(JoinCode::generate(&mut r).0 / 100_000) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (1_700..2_300).contains(&c)), "{counts:?}");
    }

    #[test]
    fn names_over_the_limit_are_refused_before_sending() {
        let code = JoinCode(1);
        let long = JoinRequest { device: DevicePublicKey::from_bytes([1; 32]), name: vec![b'a'; 121] };
        assert_eq!(
            JoinerState::start(&code, long, None, &mut rng(1)).unwrap_err(),
            ProtocolError::NameTooLong { len: 121, max: 120 }
        );
    }

    #[test]
    fn message_and_payload_codecs_round_trip_and_are_strict() {
        let room = room(16);
        let joiner = request(1, "Zoë");
        let welcome = welcome_for(&room, joiner.device);
        assert_eq!(Welcome::decode(&welcome.encode().unwrap()).unwrap(), welcome);
        assert_eq!(JoinRequest::decode(&joiner.encode().unwrap()).unwrap(), joiner);
        let mut dup = welcome.clone();
        dup.roster.push(dup.roster[0]);
        assert!(Welcome::decode(&dup.encode().unwrap()).is_err());
        let mut newer = welcome.encode().unwrap();
        newer[0] = 2;
        assert_eq!(Welcome::decode(&newer), Err(ProtocolError::JoinTooNew { found: 2 }));
        for reason in [JoinRefusal::WrongCode, JoinRefusal::Expired, JoinRefusal::Spent, JoinRefusal::Busy] {
            let bytes = JoinMessage::Refused(reason).encode();
            assert_eq!(JoinMessage::decode(&bytes).unwrap(), JoinMessage::Refused(reason));
        }
        assert_eq!(JoinMessage::decode(&[2, 1]), Err(ProtocolError::JoinTooNew { found: 2 }));
        assert!(JoinMessage::decode(&[1, 5, 9]).is_err());
        assert!(JoinMessage::decode(&[1, 5, 1, 0]).is_err());
        assert!(JoinMessage::decode(&vec![1; MAX_JOIN_MESSAGE_LEN + 1]).is_err());
    }

    fn arb_welcome() -> impl Strategy<Value = Welcome> {
        (crate::invite::tests::arb_invite(), proptest::collection::btree_set(any::<[u8; 32]>(), 1..20))
            .prop_map(|(invite, keys)| Welcome {
                invite,
                roster: keys.into_iter().map(DevicePublicKey::from_bytes).collect(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn welcomes_round_trip(welcome in arb_welcome()) {
            prop_assert_eq!(Welcome::decode(&welcome.encode().unwrap()).unwrap(), welcome);
        }

        #[test]
        fn no_join_decoder_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = JoinMessage::decode(&bytes);
            let _ = Welcome::decode(&bytes);
            let _ = JoinRequest::decode(&bytes);
            let _ = JoinCode::parse(&String::from_utf8_lossy(&bytes));
            if let Ok(m) = JoinMessage::decode(&bytes) {
                prop_assert_eq!(m.encode(), bytes.clone());
            }
        }

    }

    proptest! {
        // Each case runs SPAKE2 (Ed25519 scalar multiplications) in a debug build.
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn no_state_machine_panics_on_arbitrary_messages(
            junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..4),
            seed in any::<u64>(),
        ) {
            let mut room = room(seed);
            let code = room.gate.code().clone();
            let (mut joiner, hello) = JoinerState::start(&code, request(seed, "H"), None, &mut rng(seed)).unwrap();
            let (mut host, _) = HostJoin::start(&mut room.gate, room.t0, &hello, &mut rng(seed)).unwrap();
            for j in &junk {
                prop_assert!(joiner.receive(j).is_err());
                let _ = host.receive(&mut room.gate, room.t0, j);
                let _ = HostJoin::start(&mut room.gate, room.t0, j, &mut rng(seed));
            }
            // Whatever happened, the gate's books balance.
            prop_assert!(room.gate.in_progress() <= MAX_CONCURRENT_JOINS);
            prop_assert!(usize::from(room.gate.failures()) + room.gate.in_progress() <= 5);
        }
    }
}
