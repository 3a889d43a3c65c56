//! The Common Ground workshop document.
//!
//! One Automerge document per workshop holds everything a group makes together: ground
//! rules, participants (first names only), sessions, board areas and sticky notes, clusters
//! and dot votes, helpful challenges, values agreed by consent, reflections and actions.
//! [`Workshop`] is a typed API over that document.
//!
//! This crate is sans-IO: it never reads a clock, a random source, a file or a socket. Time
//! (`now`), ids and randomness come from the caller; bytes go in and out as values
//! ([`Workshop::save`], sync messages). The runtime crate does the I/O.
//!
//! Every object is a map entry keyed by a UUID (never a list that gets reordered: concurrent
//! moves would lose edits); order is an `f64` (see [`order_between`]); long text is Automerge
//! Text, edited with splices so concurrent typing merges. Each participant writes only to keys
//! they own where possible (their stance, their votes), so concurrent edits do not conflict.

#![deny(missing_docs)]

mod board;
mod breaks;
mod catchup;
mod challenges;
mod doc;
mod error;
mod go_round;
mod ids;
mod keyed;
mod kinds;
mod meta;
mod name;
mod palette;
mod participants;
mod reflections;
mod scan;
mod schema;
mod sessions;
mod values;
mod workshop;

pub use automerge::{sync, ActorId, ChangeHash};
pub use board::{order_between, AuthorView, BoardView, ClusterView, NewNote, NoteView, PromptView};
pub use breaks::BreakView;
pub use catchup::{CatchUpItem, Change};
pub use challenges::{ChallengeView, ObjectionLink, ResponseView, Target};
pub use doc::TextEdit;
pub use error::{ObjectKind, Refusal, Result, WorkshopError};
pub use go_round::GoRoundView;
pub use ids::{
    ActionId, BehaviourId, ChallengeId, ClusterId, GroundRuleId, NoteId, ParticipantId, PromptId,
    ReflectionId, ResponseId, RoundId, SessionId, Timestamp, ValueId, WorkshopId,
};
pub use kinds::{
    ActionSourceKind, ChallengeKind, ChallengeStatus, Perspective, Phase, ReflectionKind, RoundOutcome,
    SessionKind, Stance, TargetKind, ValueStatus,
};
pub use meta::{GroundRuleView, MetaView, TimerView, DEFAULT_GROUND_RULES, DEFAULT_VOTE_BUDGET};
pub use name::{FirstName, NameProblem};
pub use palette::{contrast_ratio, Colour, Symbol, NOTE_TEXT_HEX};
pub use participants::{ParticipantView, Participation};
pub use reflections::{ActionSource, ActionView, ReflectionView, SessionReflections};
pub use scan::Dots;
pub use schema::SCHEMA_VERSION;
pub use sessions::SessionView;
pub use values::{BehaviourView, RoundView, SourceView, StanceView, Tally, ValueView, VersionView};
pub use workshop::{random_actor, AnonymousActor, NewWorkshop, NotOpened, Viewer, Workshop, Writer};
