//! Replies and errors.

use commonground_workshop::{
    ActionView, BoardView, BreakView, CatchUpItem, ChallengeId, ChallengeView, GroundRuleView, MetaView,
    ParticipantId, ParticipantView, Participation, RoundOutcome, SessionReflections, SessionView, ValueView,
    WorkshopError,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The answer to a [`crate::Command`].
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "Reply.ts")]
pub enum Reply {
    /// Done; the change arrives as events.
    Done,
    /// Something new was made, with its id.
    Created {
        /// The new object's id.
        id: String,
    },
    /// You have joined.
    Joined {
        /// Your participant id in this workshop.
        participant: ParticipantId,
    },
    /// How many things changed (e.g. notes revealed).
    Count {
        /// How many.
        count: u32,
    },
    /// Your stance was recorded; an objection opened this challenge.
    Stance {
        /// The challenge an objection opened (or still holds open).
        challenge: Option<ChallengeId>,
    },
    /// How a consent round ended.
    Outcome {
        /// The outcome.
        outcome: RoundOutcome,
    },
    /// Everything the person can see.
    Snapshot(Box<Snapshot>),
    /// One value.
    Value(Box<ValueView>),
    /// What changed since the person last looked, newest first.
    CatchUp {
        /// The changes, with a plain-English sentence each.
        items: Vec<CatchUpLine>,
    },
}

/// A catch-up item with its sentence.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct CatchUpLine {
    /// The item.
    pub item: CatchUpItem,
    /// The item as one plain-English sentence.
    pub sentence: String,
}

/// Everything one person can see in a workshop, for a first render. After that, the UI
/// follows [`crate::Event`]s.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Snapshot {
    /// Who this person is here, if they have joined.
    pub me: Option<ParticipantId>,
    /// Title, purpose, phase, timer, go-round.
    pub meta: MetaView,
    /// The ground rules.
    pub ground_rules: Vec<GroundRuleView>,
    /// Everyone here.
    pub participants: Vec<ParticipantView>,
    /// Who has quietly asked for a break: everyone's for a facilitator, only their own for
    /// anyone else.
    pub breaks: Vec<BreakView>,
    /// Sessions.
    pub sessions: Vec<SessionView>,
    /// The board.
    pub board: BoardView,
    /// Challenges the person can see, newest first.
    pub challenges: Vec<ChallengeView>,
    /// Values, oldest first.
    pub values: Vec<ValueView>,
    /// Reflections by session.
    pub reflections: Vec<SessionReflections>,
    /// Actions.
    pub actions: Vec<ActionView>,
    /// How many people, by perspective.
    pub participation: Participation,
}

/// An error crossing to a front end: a stable `kind` for code and a kind, plain-English
/// `message` for people. Never a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ApiError.ts")]
pub struct ApiError {
    /// A short, stable, machine-readable kind (e.g. `title`, `facilitator_only`, `not_joined`).
    pub kind: String,
    /// What happened and what to do next, in plain English.
    pub message: String,
}

impl ApiError {
    /// An error with a kind and message.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self { kind: kind.to_owned(), message: message.into() }
    }

    /// The person has not joined this workshop on this device yet.
    pub fn not_joined() -> Self {
        Self::new("not_joined", "Please join the workshop with your first name first.")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<WorkshopError> for ApiError {
    fn from(e: WorkshopError) -> Self {
        Self { kind: e.kind().to_owned(), message: e.to_string() }
    }
}
