//! Commands: everything a person can ask their workshop to do or show.

use commonground_workshop::{
    ActionId, ActionSource, BehaviourId, ChallengeId, ChallengeKind, ChallengeStatus, ClusterId, Colour,
    GroundRuleId, NoteId, ParticipantId, Perspective, Phase, PromptId, ReflectionId, ReflectionKind,
    SessionId, SessionKind, Stance, Target, TextEdit, Timestamp, ValueId,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A command for one workshop, from any front door. Each becomes one workshop operation (one
/// change, or nothing on error) or one view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "Command.ts")]
pub enum Command {
    /// Everything the person can see, for a first render. Reply: `snapshot`.
    GetSnapshot,
    /// One value with its provenance and tallies. Reply: `value`.
    GetValue {
        /// The value.
        value: ValueId,
    },
    /// What changed since this device last marked the workshop seen. Reply: `catch_up`.
    GetCatchUp,
    /// Records that the person has now seen everything. Reply: `done`.
    MarkSeen,

    /// Join under a first name and colour. Reply: `joined`.
    Join {
        /// The first name, as the person writes it.
        name: String,
        /// Their colour.
        colour: Colour,
    },
    /// Change your first name. Reply: `done`.
    Rename {
        /// The new first name.
        name: String,
    },
    /// Change your colour. Reply: `done`.
    SetColour {
        /// The new colour.
        colour: Colour,
    },
    /// Share (or stop sharing) the perspective you bring; only ever counted. Reply: `done`.
    SetPerspective {
        /// The perspective, or none.
        perspective: Option<Perspective>,
    },
    /// Remove someone from the workshop (facilitator). Reply: `done`.
    RemoveParticipant {
        /// Who.
        participant: ParticipantId,
    },
    /// Share or hand on the facilitator role (facilitator). Reply: `done`.
    SetFacilitator {
        /// Who.
        participant: ParticipantId,
        /// Whether they facilitate.
        on: bool,
    },

    /// Edit the title (facilitator). Reply: `done`.
    EditTitle {
        /// The edit.
        edit: TextEdit,
    },
    /// Edit the purpose (facilitator). Reply: `done`.
    EditPurpose {
        /// The edit.
        edit: TextEdit,
    },
    /// Move the room to a phase (facilitator). Reply: `done`.
    SetPhase {
        /// The phase.
        phase: Phase,
    },
    /// Start the shared timer (facilitator). Reply: `done`.
    StartTimer {
        /// How long, in milliseconds.
        #[ts(type = "number")]
        duration_ms: i64,
    },
    /// Pause the timer (facilitator). Reply: `done`.
    PauseTimer,
    /// Resume the timer (facilitator). Reply: `done`.
    ResumeTimer,
    /// Turn the timer off (facilitator). Reply: `done`.
    ClearTimer,
    /// Quietly ask for a break, or say you no longer need one. Anyone who has joined, for
    /// themself; only facilitators and you see it. Reply: `done`.
    AskForBreak {
        /// Whether you would like a break.
        wanted: bool,
    },
    /// Clear someone's request for a break: "seen, thanks" (facilitator). Reply: `done`.
    ClearBreak {
        /// Who asked.
        participant: ParticipantId,
    },
    /// Start a go-round in this order, replacing any running one (facilitator). Everyone in
    /// it must be here, each once. Reply: `done`.
    StartGoRound {
        /// Who speaks, in turn.
        order: Vec<ParticipantId>,
    },
    /// Move the go-round on to the next person (facilitator). Reply: `done`.
    NextInGoRound,
    /// Pass in the go-round (anyone in it, for themself); if it is your turn, the go-round
    /// moves on. Reply: `done`.
    PassInGoRound,
    /// End the go-round (facilitator). Reply: `done`.
    EndGoRound,
    /// Set each person's dots (facilitator). Reply: `done`.
    SetVoteBudget {
        /// Dots per person.
        budget: u32,
    },
    /// Add a ground rule (facilitator). Reply: `created`.
    AddGroundRule {
        /// Its words.
        text: String,
    },
    /// Edit a ground rule (facilitator). Reply: `done`.
    EditGroundRule {
        /// The rule.
        rule: GroundRuleId,
        /// The edit.
        edit: TextEdit,
    },
    /// Remove a ground rule (facilitator). Reply: `done`.
    RemoveGroundRule {
        /// The rule.
        rule: GroundRuleId,
    },
    /// Add a session (facilitator). Reply: `created`.
    AddSession {
        /// Its title.
        title: String,
        /// When.
        date: Timestamp,
        /// In the room or apart.
        kind: SessionKind,
    },

    /// Add an area to the board (facilitator). Reply: `created`.
    AddPrompt {
        /// Its title.
        title: String,
        /// The session it belongs to.
        session: Option<SessionId>,
    },
    /// Edit an area's title (facilitator). Reply: `done`.
    EditPromptTitle {
        /// The area.
        prompt: PromptId,
        /// The edit.
        edit: TextEdit,
    },
    /// Move an area among the others (facilitator). Reply: `done`.
    SetPromptOrder {
        /// The area.
        prompt: PromptId,
        /// Its new place (see `order_between`).
        order: f64,
    },
    /// Write a sticky note. Reply: `created`.
    AddNote {
        /// The area.
        prompt: PromptId,
        /// What it says.
        text: String,
        /// Its colour.
        colour: Colour,
        /// Position.
        x: f64,
        /// Position.
        y: f64,
        /// Keep it private until the reveal.
        private: bool,
        /// Write it anonymously.
        anonymous: bool,
    },
    /// Edit a note's text. Reply: `done`.
    EditNote {
        /// The note.
        note: NoteId,
        /// The edit.
        edit: TextEdit,
    },
    /// Move a note, optionally to another area. Reply: `done`.
    MoveNote {
        /// The note.
        note: NoteId,
        /// The area to move it to, if changing.
        prompt: Option<PromptId>,
        /// Position.
        x: f64,
        /// Position.
        y: f64,
    },
    /// Change a note's colour. Reply: `done`.
    SetNoteColour {
        /// The note.
        note: NoteId,
        /// The colour.
        colour: Colour,
    },
    /// Withdraw a note (its writer or a facilitator). Reply: `done`.
    WithdrawNote {
        /// The note.
        note: NoteId,
    },
    /// Start a group of notes. Reply: `created`.
    AddCluster {
        /// The area.
        prompt: PromptId,
        /// Its title.
        title: String,
    },
    /// Edit a group's title. Reply: `done`.
    EditClusterTitle {
        /// The group.
        cluster: ClusterId,
        /// The edit.
        edit: TextEdit,
    },
    /// Put a note in a group, or take it out. Reply: `done`.
    SetNoteCluster {
        /// The note.
        note: NoteId,
        /// The group, or none.
        cluster: Option<ClusterId>,
    },
    /// Put some of your dots on a note (0 takes them off). Reply: `done`.
    SetVotes {
        /// The note.
        note: NoteId,
        /// How many of your dots.
        dots: u32,
    },
    /// Reveal private notes, in one area or all (facilitator). Reply: `count`.
    RevealNotes {
        /// One area, or all.
        prompt: Option<PromptId>,
    },

    /// Raise a helpful challenge. Reply: `created`.
    RaiseChallenge {
        /// What it is about.
        target: Target,
        /// Its kind.
        kind: ChallengeKind,
        /// What it says.
        text: String,
        /// Raise it anonymously.
        anonymous: bool,
    },
    /// Edit a challenge you raised. Reply: `done`.
    EditChallenge {
        /// The challenge.
        challenge: ChallengeId,
        /// The edit.
        edit: TextEdit,
    },
    /// Reply to a challenge. Reply: `created`.
    RespondToChallenge {
        /// The challenge.
        challenge: ChallengeId,
        /// What the reply says.
        text: String,
        /// Reply anonymously.
        anonymous: bool,
    },
    /// Mark a challenge heard, changed my view, parked or open. Reply: `done`.
    SetChallengeStatus {
        /// The challenge.
        challenge: ChallengeId,
        /// The status.
        status: ChallengeStatus,
    },

    /// Draft a value from notes. Reply: `created`.
    DraftValue {
        /// The value in one sentence.
        statement: String,
        /// The notes it comes from.
        sources: Vec<NoteId>,
    },
    /// Edit a value's statement. Reply: `done`.
    EditValueStatement {
        /// The value.
        value: ValueId,
        /// The edit.
        edit: TextEdit,
    },
    /// Edit a value's easy-read line. Reply: `done`.
    EditValueEasyRead {
        /// The value.
        value: ValueId,
        /// The edit.
        edit: TextEdit,
    },
    /// Add a "we will…" behaviour. Reply: `created`.
    AddBehaviour {
        /// The value.
        value: ValueId,
        /// What we will do.
        text: String,
    },
    /// Edit a behaviour. Reply: `done`.
    EditBehaviour {
        /// The value.
        value: ValueId,
        /// The behaviour.
        behaviour: BehaviourId,
        /// The edit.
        edit: TextEdit,
    },
    /// Remove a behaviour. Reply: `done`.
    RemoveBehaviour {
        /// The value.
        value: ValueId,
        /// The behaviour.
        behaviour: BehaviourId,
    },
    /// Add or remove a source note. Reply: `done`.
    SetValueSource {
        /// The value.
        value: ValueId,
        /// The note.
        note: NoteId,
        /// Whether it is a source.
        source: bool,
    },
    /// Withdraw a value (facilitator). Reply: `done`.
    WithdrawValue {
        /// The value.
        value: ValueId,
    },
    /// Open a consent round (facilitator). Reply: `created`.
    OpenConsentRound {
        /// The value.
        value: ValueId,
        /// Stances needed; by default more than half of the people here.
        quorum: Option<u32>,
    },
    /// Give or change your stance. Reply: `stance` (with the challenge an objection opened).
    GiveStance {
        /// The value.
        value: ValueId,
        /// Your stance.
        stance: Stance,
        /// Your reason (needed for reservations and objections).
        reason: Option<String>,
    },
    /// Close the open round (facilitator). Reply: `outcome`.
    CloseConsentRound {
        /// The value.
        value: ValueId,
    },

    /// Add a reflection on a session. Reply: `created`.
    AddReflection {
        /// The session.
        session: SessionId,
        /// Which prompt it answers.
        kind: ReflectionKind,
        /// What it says.
        text: String,
        /// Write it anonymously.
        anonymous: bool,
    },
    /// Edit a reflection you wrote. Reply: `done`.
    EditReflection {
        /// The reflection.
        reflection: ReflectionId,
        /// The edit.
        edit: TextEdit,
    },
    /// Add an action. Reply: `created`.
    AddAction {
        /// What is to be done.
        text: String,
        /// Who will do it.
        owner: Option<ParticipantId>,
        /// What it came out of.
        from: Option<ActionSource>,
    },
    /// Edit an action. Reply: `done`.
    EditAction {
        /// The action.
        action: ActionId,
        /// The edit.
        edit: TextEdit,
    },
    /// Mark an action done or not. Reply: `done`.
    SetActionDone {
        /// The action.
        action: ActionId,
        /// Done or not.
        done: bool,
    },
    /// Give an action an owner, or none. Reply: `done`.
    SetActionOwner {
        /// The action.
        action: ActionId,
        /// The owner.
        owner: Option<ParticipantId>,
    },
}
