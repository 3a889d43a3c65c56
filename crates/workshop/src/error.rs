//! Errors. Every message is plain English that can be shown to a participant as it is: it
//! says what happened and what to do next, and never blames the person.

use crate::kinds::Stance;
use crate::name::NameProblem;

/// The result of workshop operations.
pub type Result<T, E = WorkshopError> = std::result::Result<T, E>;

/// Something the workshop could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkshopError {
    /// The first name given was not accepted.
    #[error(transparent)]
    Name(#[from] NameProblem),
    /// The object asked for is not in this workshop.
    #[error("We couldn't find that {0}. It may have been removed on another laptop.")]
    NotFound(ObjectKind),
    /// The operation is not allowed, or its input is not acceptable.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The workshop was saved by a newer version of the app.
    #[error(
        "This workshop was saved by a newer version of Common Ground (format {found}; this \
         version reads up to {supported}). Please update the app to open it. Nothing has been changed."
    )]
    TooNew {
        /// The schema version found in the document.
        found: u64,
        /// The newest schema version this build understands.
        supported: u64,
    },
    /// The bytes are not a Common Ground workshop.
    #[error("This doesn't look like a Common Ground workshop ({0}). Nothing has been changed.")]
    NotAWorkshop(&'static str),
    /// Automerge could not read or apply something.
    #[error("The workshop data could not be read. Nothing has been changed. ({0})")]
    Document(#[from] automerge::AutomergeError),
    /// A sync message from another device could not be decoded.
    #[error("A message from another laptop could not be read, so it was ignored. ({0})")]
    SyncMessage(String),
}

impl WorkshopError {
    /// A short, stable, machine-readable kind, for errors that cross to the UI as `{kind, message}`.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkshopError::Name(p) => p.code(),
            WorkshopError::NotFound(_) => "not_found",
            WorkshopError::Refused(r) => r.code(),
            WorkshopError::TooNew { .. } => "too_new",
            WorkshopError::NotAWorkshop(_) => "not_a_workshop",
            WorkshopError::Document(_) => "document",
            WorkshopError::SyncMessage(_) => "sync_message",
        }
    }
}

/// The kinds of object in a workshop, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A participant.
    Participant,
    /// A session.
    Session,
    /// A board area.
    Prompt,
    /// A sticky note.
    Note,
    /// A cluster.
    Cluster,
    /// A challenge.
    Challenge,
    /// A value.
    Value,
    /// A behaviour of a value.
    Behaviour,
    /// A consent round.
    Round,
    /// A reflection.
    Reflection,
    /// An action.
    Action,
    /// A ground rule.
    GroundRule,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Participant => "person",
            ObjectKind::Session => "session",
            ObjectKind::Prompt => "board area",
            ObjectKind::Note => "note",
            ObjectKind::Cluster => "group of notes",
            ObjectKind::Challenge => "challenge",
            ObjectKind::Value => "value",
            ObjectKind::Behaviour => "\"we will\" line",
            ObjectKind::Round => "consent round",
            ObjectKind::Reflection => "reflection",
            ObjectKind::Action => "action",
            ObjectKind::GroundRule => "ground rule",
        })
    }
}

/// Why an operation was refused. Each has a kind message and a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Only the facilitator can do this.
    #[error("Only the facilitator can do that. You could ask them, or ask to be a facilitator too.")]
    FacilitatorOnly,
    /// The person acting is not in this workshop.
    #[error("This laptop isn't part of the workshop yet. Please join with a first name first.")]
    NotAMember,
    /// The person acting has been removed from the workshop.
    #[error("You're no longer part of this workshop, so changes can't be made from here.")]
    Removed,
    /// Some text was empty where words are needed.
    #[error("Please write something first.")]
    EmptyText,
    /// Some text was longer than allowed.
    #[error("That's a bit long — please keep it under {max} characters (it has {len}).")]
    TooLong {
        /// The limit, in characters.
        max: usize,
        /// The length given.
        len: usize,
    },
    /// A text edit pointed outside the text (the text may have changed on another laptop).
    #[error(
        "That edit no longer fits the text — it may have just changed on another laptop. Please try again."
    )]
    EditOutOfRange,
    /// A number was out of range.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// A stance that needs a reason was given without one.
    #[error("Please add a reason with \"{}\", so the group can understand and respond.", .0.label())]
    ReasonRequired(Stance),
    /// Voting would go over the person's budget of dots.
    #[error("You've used all {budget} of your dots. Take a dot off another note to move it here.")]
    VoteBudget {
        /// The dots each person has.
        budget: u32,
    },
    /// Notes still private, or withdrawn, can't take this action.
    #[error("That note isn't on the board for everyone yet, so it can't be {0}.")]
    NoteNotShared(&'static str),
    /// Only the note's writer can do this while it is private.
    #[error("Only the person who wrote this note can change it while it's private.")]
    NotYourNote,
    /// The thing has been withdrawn.
    #[error("That {0} has been withdrawn, so it can't be changed.")]
    Withdrawn(ObjectKind),
    /// The value is in a consent round and can't be edited until the round closes.
    #[error("This value is in a consent round, so its wording can't change until the facilitator closes the round.")]
    ValueInConsent,
    /// A round is already open on this value.
    #[error("A consent round is already open on this value.")]
    RoundAlreadyOpen,
    /// The round is not open.
    #[error("This consent round has closed, so stances can't be given or changed now.")]
    RoundClosed,
    /// The value has already been agreed in this version.
    #[error("This version of the value has already been agreed. Edit the wording to start a new version.")]
    AlreadyAgreed,
    /// Only the person who raised a challenge can say it changed their view.
    #[error("Only the person who raised this challenge can say it changed their view.")]
    ChangedViewIsTheirs,
    /// A facilitator can't remove the last facilitator.
    #[error("The workshop needs at least one facilitator. Hand the role to someone else first.")]
    LastFacilitator,
    /// A value needs at least one source note to be drafted from the board.
    #[error("That note can't be used as a source: it's private, withdrawn or not in this workshop.")]
    BadSource,
    /// No go-round is running.
    #[error("There's no go-round running just now. The facilitator can start one.")]
    NoGoRound,
    /// The person isn't in the running go-round, so has no turn to pass.
    #[error("You're not in this go-round, so there's no turn to pass. You're welcome to just listen.")]
    NotInGoRound,
    /// The people chosen for a go-round can't make one.
    #[error("{0}")]
    GoRoundOrder(&'static str),
}

impl Refusal {
    /// A short, stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::FacilitatorOnly => "facilitator_only",
            Refusal::NotAMember => "not_a_member",
            Refusal::Removed => "removed",
            Refusal::EmptyText => "empty_text",
            Refusal::TooLong { .. } => "too_long",
            Refusal::EditOutOfRange => "edit_out_of_range",
            Refusal::OutOfRange(_) => "out_of_range",
            Refusal::ReasonRequired(_) => "reason_required",
            Refusal::VoteBudget { .. } => "vote_budget",
            Refusal::NoteNotShared(_) => "note_not_shared",
            Refusal::NotYourNote => "not_your_note",
            Refusal::Withdrawn(_) => "withdrawn",
            Refusal::ValueInConsent => "value_in_consent",
            Refusal::RoundAlreadyOpen => "round_already_open",
            Refusal::RoundClosed => "round_closed",
            Refusal::AlreadyAgreed => "already_agreed",
            Refusal::ChangedViewIsTheirs => "changed_view_is_theirs",
            Refusal::LastFacilitator => "last_facilitator",
            Refusal::BadSource => "bad_source",
            Refusal::NoGoRound => "no_go_round",
            Refusal::NotInGoRound => "not_in_go_round",
            Refusal::GoRoundOrder(_) => "go_round_order",
        }
    }
}
