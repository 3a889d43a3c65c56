//! The application service behind every front door, sans-IO.

use std::str::FromStr;

use commonground_workshop::{
    AnonymousActor, ChangeHash, NewNote, ParticipantId, Timestamp, Viewer, Workshop, WorkshopError, Writer,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::reply::{CatchUpLine, Snapshot};
use crate::{ApiError, Command, Event, Reply};

/// What this device knows privately about a workshop. It is never synced: the runtime keeps
/// it in the device's own storage (it holds the anonymous actors, the only link between an
/// anonymous contribution and its writer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    /// Who the person on this device is in the workshop, once joined.
    pub participant: Option<ParticipantId>,
    /// The anonymous actors this device wrote with, by the object they wrote.
    pub anonymous: Vec<AnonymousEntry>,
    /// The heads this device last showed its person (hex), for "since you were last here".
    pub last_seen: Vec<String>,
}

/// One anonymous contribution this device wrote.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnonymousEntry {
    /// The id of the note, challenge, response or reflection.
    pub object: String,
    /// The anonymous actor's bytes, hex.
    pub actor: String,
}

impl std::fmt::Debug for AnonymousEntry {
    // The actor is the secret that links a contribution to its writer: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymousEntry").field("object", &self.object).finish_non_exhaustive()
    }
}

impl AnonymousEntry {
    fn actor(&self) -> Option<AnonymousActor> {
        let bytes = hex_decode(&self.actor)?;
        Some(AnonymousActor::from_bytes(&bytes))
    }
}

/// One workshop and this device's private state: turns [`Command`]s into workshop operations
/// and views, and Automerge changes into [`Event`]s.
#[derive(Debug, Clone)]
pub struct WorkshopService {
    workshop: Workshop,
    local: Local,
}

impl WorkshopService {
    /// Wraps a workshop and this device's private state for it.
    pub fn new(workshop: Workshop, local: Local) -> Self {
        Self { workshop, local }
    }

    /// Gives back the workshop and this device's private state.
    pub fn into_parts(self) -> (Workshop, Local) {
        (self.workshop, self.local)
    }

    /// The workshop.
    pub fn workshop(&self) -> &Workshop {
        &self.workshop
    }

    /// The workshop, for sync and storage layers.
    pub fn workshop_mut(&mut self) -> &mut Workshop {
        &mut self.workshop
    }

    /// This device's private state, for the runtime to persist after each command.
    pub fn local(&self) -> &Local {
        &self.local
    }

    /// Who is looking: this device's person and anonymous actors.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            participant: self.local.participant,
            anonymous: self.local.anonymous.iter().filter_map(AnonymousEntry::actor).collect(),
        }
    }

    fn me(&self) -> Result<ParticipantId, ApiError> {
        self.local.participant.ok_or_else(ApiError::not_joined)
    }

    /// The writer for an edit of `object`: anonymous if this device wrote it anonymously.
    fn writer_for(&self, object: &str) -> Result<Writer, ApiError> {
        let me = self.me()?;
        let entry = self.local.anonymous.iter().find(|e| e.object == object);
        Ok(match entry.and_then(AnonymousEntry::actor) {
            Some(actor) => Writer::Anonymous(me, actor),
            None => Writer::Named(me),
        })
    }

    /// A writer for something new: anonymous with a fresh actor, or named.
    fn new_writer(&self, rng: &mut dyn RngCore, anonymous: bool) -> Result<Writer, ApiError> {
        let me = self.me()?;
        Ok(if anonymous { Writer::Anonymous(me, AnonymousActor::random(rng)) } else { Writer::Named(me) })
    }

    fn remember(&mut self, writer: &Writer, object: String) {
        if let Writer::Anonymous(_, actor) = writer {
            self.local.anonymous.push(AnonymousEntry { object, actor: hex_encode(&actor.to_bytes()) });
        }
    }

    /// Everything this person can see.
    pub fn snapshot(&self) -> Snapshot {
        let viewer = self.viewer();
        let w = &self.workshop;
        Snapshot {
            me: self.local.participant,
            meta: w.meta(),
            ground_rules: w.ground_rules(),
            participants: w.participants(),
            breaks: w.breaks(&viewer),
            sessions: w.sessions(),
            board: w.board(&viewer),
            challenges: w.challenges(&viewer),
            values: w.values(&viewer),
            reflections: w.reflections_by_session(&viewer),
            actions: w.actions(),
            participation: w.participation(),
        }
    }

    /// Runs one command. Changes become one Automerge change each (or none, on error); the
    /// caller then emits [`WorkshopService::events_since`] the heads it had before.
    pub fn dispatch(
        &mut self,
        now: Timestamp,
        rng: &mut dyn RngCore,
        command: Command,
    ) -> Result<Reply, ApiError> {
        use Command as C;
        let viewer = self.viewer();
        let created = |id: String| Ok(Reply::Created { id });
        let done = |r: Result<(), WorkshopError>| r.map(|()| Reply::Done).map_err(ApiError::from);
        match command {
            C::GetSnapshot => Ok(Reply::Snapshot(Box::new(self.snapshot()))),
            C::GetValue { value } => self
                .workshop
                .value(&viewer, value)
                .map(|v| Reply::Value(Box::new(v)))
                .ok_or_else(|| WorkshopError::NotFound(commonground_workshop::ObjectKind::Value).into()),
            C::GetCatchUp => {
                let heads: Vec<ChangeHash> =
                    self.local.last_seen.iter().filter_map(|h| ChangeHash::from_str(h).ok()).collect();
                let items = self
                    .workshop
                    .changes_since(&viewer, &heads)
                    .into_iter()
                    .map(|item| CatchUpLine { sentence: item.describe(), item })
                    .collect();
                Ok(Reply::CatchUp { items })
            }
            C::MarkSeen => {
                self.local.last_seen = self.workshop.heads().iter().map(ToString::to_string).collect();
                Ok(Reply::Done)
            }

            C::Join { name, colour } => {
                if let Some(p) = self.local.participant {
                    if self.workshop.participant(p).is_some_and(|v| !v.removed) {
                        return Err(ApiError::new(
                            "already_joined",
                            "You've already joined this workshop on this laptop.",
                        ));
                    }
                }
                let id = self.workshop.join(now, rng, &name, colour, None)?;
                self.local.participant = Some(id);
                Ok(Reply::Joined { participant: id })
            }
            C::Rename { name } => done(self.workshop.rename_participant(now, self.me()?, &name)),
            C::SetColour { colour } => done(self.workshop.set_participant_colour(now, self.me()?, colour)),
            C::SetPerspective { perspective } => {
                done(self.workshop.set_perspective(now, self.me()?, perspective))
            }
            C::RemoveParticipant { participant } => {
                done(self.workshop.remove_participant(now, self.me()?, participant))
            }
            C::SetFacilitator { participant, on } => {
                done(self.workshop.set_facilitator(now, self.me()?, participant, on))
            }

            C::EditTitle { edit } => done(self.workshop.edit_title(now, self.me()?, &edit)),
            C::EditPurpose { edit } => done(self.workshop.edit_purpose(now, self.me()?, &edit)),
            C::SetPhase { phase } => done(self.workshop.set_phase(now, self.me()?, phase)),
            C::StartTimer { duration_ms } => done(self.workshop.start_timer(now, self.me()?, duration_ms)),
            C::PauseTimer => done(self.workshop.pause_timer(now, self.me()?)),
            C::ResumeTimer => done(self.workshop.resume_timer(now, self.me()?)),
            C::ClearTimer => done(self.workshop.clear_timer(now, self.me()?)),
            C::AskForBreak { wanted } => done(self.workshop.ask_for_break(now, self.me()?, wanted)),
            C::ClearBreak { participant } => done(self.workshop.clear_break(now, self.me()?, participant)),
            C::StartGoRound { order } => done(self.workshop.start_go_round(now, self.me()?, &order)),
            C::NextInGoRound => done(self.workshop.next_in_go_round(now, self.me()?)),
            C::PassInGoRound => done(self.workshop.pass_in_go_round(now, self.me()?)),
            C::EndGoRound => done(self.workshop.end_go_round(now, self.me()?)),
            C::SetVoteBudget { budget } => done(self.workshop.set_vote_budget(now, self.me()?, budget)),
            C::AddGroundRule { text } => {
                created(self.workshop.add_ground_rule(now, self.me()?, rng, &text)?.to_string())
            }
            C::EditGroundRule { rule, edit } => {
                done(self.workshop.edit_ground_rule(now, self.me()?, rule, &edit))
            }
            C::RemoveGroundRule { rule } => done(self.workshop.remove_ground_rule(now, self.me()?, rule)),
            C::AddSession { title, date, kind } => {
                created(self.workshop.add_session(now, self.me()?, rng, &title, date, kind)?.to_string())
            }

            C::AddPrompt { title, session } => {
                created(self.workshop.add_prompt(now, self.me()?, rng, &title, session)?.to_string())
            }
            C::EditPromptTitle { prompt, edit } => {
                done(self.workshop.edit_prompt_title(now, self.me()?, prompt, &edit))
            }
            C::SetPromptOrder { prompt, order } => {
                done(self.workshop.set_prompt_order(now, self.me()?, prompt, order))
            }
            C::AddNote { prompt, text, colour, x, y, private, anonymous } => {
                let writer = self.new_writer(rng, anonymous)?;
                let id = self.workshop.add_note(
                    now,
                    &writer,
                    rng,
                    NewNote { prompt, text, colour, x, y, private },
                )?;
                self.remember(&writer, id.to_string());
                created(id.to_string())
            }
            C::EditNote { note, edit } => {
                let writer = self.writer_for(&note.to_string())?;
                done(self.workshop.edit_note(now, &writer, note, &edit))
            }
            C::MoveNote { note, prompt, x, y } => {
                let writer = self.writer_for(&note.to_string())?;
                done(self.workshop.move_note(now, &writer, note, prompt, x, y))
            }
            C::SetNoteColour { note, colour } => {
                let writer = self.writer_for(&note.to_string())?;
                done(self.workshop.set_note_colour(now, &writer, note, colour))
            }
            C::WithdrawNote { note } => {
                let writer = self.writer_for(&note.to_string())?;
                done(self.workshop.withdraw_note(now, &writer, note))
            }
            C::AddCluster { prompt, title } => {
                created(self.workshop.add_cluster(now, self.me()?, rng, prompt, &title)?.to_string())
            }
            C::EditClusterTitle { cluster, edit } => {
                done(self.workshop.edit_cluster_title(now, self.me()?, cluster, &edit))
            }
            C::SetNoteCluster { note, cluster } => {
                let writer = self.writer_for(&note.to_string())?;
                done(self.workshop.set_note_cluster(now, &writer, note, cluster))
            }
            C::SetVotes { note, dots } => done(self.workshop.set_votes(now, self.me()?, note, dots)),
            C::RevealNotes { prompt } => {
                let count = self.workshop.reveal_notes(now, self.me()?, prompt)?;
                Ok(Reply::Count { count: u32::try_from(count).unwrap_or(u32::MAX) })
            }

            C::RaiseChallenge { target, kind, text, anonymous } => {
                let writer = self.new_writer(rng, anonymous)?;
                let id = self.workshop.raise_challenge(now, &writer, rng, target, kind, &text)?;
                self.remember(&writer, id.to_string());
                created(id.to_string())
            }
            C::EditChallenge { challenge, edit } => {
                let writer = self.writer_for(&challenge.to_string())?;
                done(self.workshop.edit_challenge(now, &writer, challenge, &edit))
            }
            C::RespondToChallenge { challenge, text, anonymous } => {
                let writer = self.new_writer(rng, anonymous)?;
                let id = self.workshop.respond_to_challenge(now, &writer, rng, challenge, &text)?;
                self.remember(&writer, id.to_string());
                created(id.to_string())
            }
            C::SetChallengeStatus { challenge, status } => {
                done(self.workshop.set_challenge_status(now, self.me()?, challenge, status))
            }

            C::DraftValue { statement, sources } => {
                created(self.workshop.draft_value(now, self.me()?, rng, &statement, &sources)?.to_string())
            }
            C::EditValueStatement { value, edit } => {
                done(self.workshop.edit_value_statement(now, self.me()?, value, &edit))
            }
            C::EditValueEasyRead { value, edit } => {
                done(self.workshop.edit_value_easy_read(now, self.me()?, value, &edit))
            }
            C::AddBehaviour { value, text } => {
                created(self.workshop.add_behaviour(now, self.me()?, rng, value, &text)?.to_string())
            }
            C::EditBehaviour { value, behaviour, edit } => {
                done(self.workshop.edit_behaviour(now, self.me()?, value, behaviour, &edit))
            }
            C::RemoveBehaviour { value, behaviour } => {
                done(self.workshop.remove_behaviour(now, self.me()?, value, behaviour))
            }
            C::SetValueSource { value, note, source } => {
                done(self.workshop.set_value_source(now, self.me()?, value, note, source))
            }
            C::WithdrawValue { value } => done(self.workshop.withdraw_value(now, self.me()?, value)),
            C::OpenConsentRound { value, quorum } => {
                created(self.workshop.open_consent_round(now, self.me()?, rng, value, quorum)?.to_string())
            }
            C::GiveStance { value, stance, reason } => {
                let challenge =
                    self.workshop.give_stance(now, self.me()?, rng, value, stance, reason.as_deref())?;
                Ok(Reply::Stance { challenge })
            }
            C::CloseConsentRound { value } => {
                let outcome = self.workshop.close_consent_round(now, self.me()?, value)?;
                Ok(Reply::Outcome { outcome })
            }

            C::AddReflection { session, kind, text, anonymous } => {
                let writer = self.new_writer(rng, anonymous)?;
                let id = self.workshop.add_reflection(now, &writer, rng, session, kind, &text)?;
                self.remember(&writer, id.to_string());
                created(id.to_string())
            }
            C::EditReflection { reflection, edit } => {
                let writer = self.writer_for(&reflection.to_string())?;
                done(self.workshop.edit_reflection(now, &writer, reflection, &edit))
            }
            C::AddAction { text, owner, from } => {
                created(self.workshop.add_action(now, self.me()?, rng, &text, owner, from)?.to_string())
            }
            C::EditAction { action, edit } => done(self.workshop.edit_action(now, self.me()?, action, &edit)),
            C::SetActionDone { action, done: d } => {
                done(self.workshop.set_action_done(now, self.me()?, action, d))
            }
            C::SetActionOwner { action, owner } => {
                done(self.workshop.set_action_owner(now, self.me()?, action, owner))
            }
        }
    }

    /// The view events for everything that changed since `before` (local commands and changes
    /// from other laptops alike), as this device's person sees them.
    pub fn events_since(&self, before: &[ChangeHash]) -> Vec<Event> {
        crate::event::derive(&self.workshop, &self.viewer(), before)
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}
