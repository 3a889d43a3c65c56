//! Identifiers and time.
//!
//! Every object in a workshop is a map entry keyed by a UUID. Ids come from the caller (an rng
//! in the runtime, a seeded rng in tests) so the model stays deterministic and never reads a
//! clock or an entropy source itself.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Draws a random (version 4) UUID from the caller's rng.
pub(crate) fn random_uuid(rng: &mut dyn RngCore) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id drawn from the caller's rng.
            pub fn random(rng: &mut dyn RngCore) -> Self {
                Self(random_uuid(rng))
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The key under which this object is stored in the document.
            #[allow(dead_code)] // not every id is a document key (WorkshopId names the document)
            pub(crate) fn key(&self) -> String {
                self.0.hyphenated().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// Identifies a workshop (one Automerge document).
    WorkshopId,
    /// Identifies a participant (a person, who may use several devices).
    ParticipantId,
    /// Identifies a session (a meeting in the room, or a stretch of working apart).
    SessionId,
    /// Identifies a prompt: an area of the board.
    PromptId,
    /// Identifies a sticky note.
    NoteId,
    /// Identifies a cluster of notes.
    ClusterId,
    /// Identifies a helpful challenge.
    ChallengeId,
    /// Identifies a response to a challenge.
    ResponseId,
    /// Identifies a value the group is agreeing.
    ValueId,
    /// Identifies one "we will…" behaviour of a value.
    BehaviourId,
    /// Identifies a consent round on a value.
    RoundId,
    /// Identifies a reflection.
    ReflectionId,
    /// Identifies an action.
    ActionId,
    /// Identifies a ground rule.
    GroundRuleId,
);

/// A moment in time: milliseconds since the Unix epoch, as passed in by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "number"))]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch, as Automerge records change times.
    pub(crate) fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
}
