//! Values agreed by consent.
//!
//! A value is drafted from notes (its sources are kept), with a statement, "we will…"
//! behaviours and an easy-read line, all edited collaboratively. The facilitator opens a
//! consent round; each person gives a stance (agree, reservations, stand aside, object), with
//! a reason where one is required; an objection opens a linked challenge. The facilitator
//! closes the round: it is agreed only with quorum and no unresolved objection. Changing an
//! agreed value starts version N+1, which needs a new round.

use std::collections::HashMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::board::AuthorView;
use crate::challenges::{ChallengeView, Target};
use crate::doc::{self, key, limit, TextEdit};
use crate::error::{ObjectKind, Refusal, Result, WorkshopError};
use crate::ids::{BehaviourId, ChallengeId, NoteId, ParticipantId, RoundId, Timestamp, ValueId};
use crate::kinds::{ChallengeKind, ChallengeStatus, RoundOutcome, Stance, ValueStatus};
use crate::participants::ParticipantView;
use crate::workshop::{facilitator, find, member, put_if_changed, Viewer, Workshop};

/// A value with its provenance: sources, wording history, consent rounds and challenges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueView {
    /// Its id.
    pub id: ValueId,
    /// The value in one sentence.
    pub statement: String,
    /// "We will…" behaviours, in order.
    pub behaviours: Vec<BehaviourView>,
    /// The value in easy-read words.
    pub easy_read: String,
    /// Draft, in a consent round, agreed or withdrawn.
    pub status: ValueStatus,
    /// The version being worked on (or agreed).
    pub version: u32,
    /// When it was first drafted.
    pub created_at: Timestamp,
    /// Who drafted it.
    pub drafted_by: AuthorView,
    /// The notes it was drafted from (withdrawn or private notes are never shown).
    pub sources: Vec<SourceView>,
    /// Every agreed version, oldest first: how the wording changed.
    pub versions: Vec<VersionView>,
    /// Every consent round, oldest first.
    pub rounds: Vec<RoundView>,
    /// The round open now, if any.
    pub current_round: Option<RoundId>,
    /// Challenges raised on the value, newest first.
    pub challenges: Vec<ChallengeView>,
}

/// One "we will…" behaviour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BehaviourView {
    /// Its id.
    pub id: BehaviourId,
    /// What we will do.
    pub text: String,
    /// Its place in the list.
    pub order: f64,
}

/// A source note of a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceView {
    /// The note.
    pub note: NoteId,
    /// What the note says.
    pub text: String,
    /// Who wrote it, as they chose (first name or anonymous).
    pub author: AuthorView,
}

/// An agreed version of a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionView {
    /// The version number.
    pub version: u32,
    /// The statement as agreed.
    pub statement: String,
    /// The behaviours as agreed.
    pub behaviours: Vec<String>,
    /// The easy-read line as agreed.
    pub easy_read: String,
    /// When it was agreed.
    pub agreed_at: Timestamp,
    /// The round that agreed it.
    pub round: Option<RoundId>,
}

/// A consent round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundView {
    /// Its id.
    pub id: RoundId,
    /// The version of the value it asks about.
    pub version: u32,
    /// The statement as it stood when the round opened.
    pub statement: String,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it closed, if it has.
    pub closed_at: Option<Timestamp>,
    /// How many stances are needed.
    pub quorum: u32,
    /// Counts of each stance.
    pub tally: Tally,
    /// Everyone's stance, by first name.
    pub stances: Vec<StanceView>,
    /// Objections whose linked challenge has not changed the objector's view.
    pub unresolved_objections: u32,
    /// How it ended, if closed.
    pub outcome: Option<RoundOutcome>,
}

/// Counts of each stance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Agree.
    pub agree: u32,
    /// Agree with reservations.
    pub reservations: u32,
    /// Stand aside.
    pub stand_aside: u32,
    /// Object.
    pub object: u32,
}

impl Tally {
    /// Everyone who gave a stance.
    pub fn total(&self) -> u32 {
        self.agree + self.reservations + self.stand_aside + self.object
    }

    fn add(&mut self, stance: Stance) {
        match stance {
            Stance::Agree => self.agree += 1,
            Stance::Reservations => self.reservations += 1,
            Stance::StandAside => self.stand_aside += 1,
            Stance::Object => self.object += 1,
        }
    }
}

/// One person's stance in a round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StanceView {
    /// The person.
    pub participant: AuthorView,
    /// Their stance.
    pub stance: Stance,
    /// Their reason, if they gave one.
    pub reason: Option<String>,
    /// When they gave it.
    pub at: Timestamp,
    /// The challenge their objection opened.
    pub challenge: Option<ChallengeId>,
    /// For a closed round: whether this stance was counted (false if it arrived from a laptop
    /// that was offline when the round closed).
    pub counted: bool,
}

/// Starts an edit of a value's content: refused in a round or when withdrawn; an agreed value
/// goes back to draft as version N+1.
fn begin_content_edit(tx: &mut Transaction<'_>, obj: &ObjId) -> Result<()> {
    match doc::parsed::<ValueStatus, _>(tx, obj, "status") {
        Some(ValueStatus::InConsent) => Err(Refusal::ValueInConsent.into()),
        Some(ValueStatus::Withdrawn) => Err(Refusal::Withdrawn(ObjectKind::Value).into()),
        Some(ValueStatus::Agreed) => {
            let version = doc::int(tx, obj, "version").unwrap_or(1);
            tx.put(obj, "version", version + 1)?;
            tx.put(obj, "status", ValueStatus::Draft.key())?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn behaviours<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> Vec<BehaviourView> {
    let Some(map) = doc::child_map(doc, value, "behaviours") else { return Vec::new() };
    let mut out: Vec<BehaviourView> = doc::entries::<BehaviourId, _>(doc, &map)
        .into_iter()
        .filter(|(_, o)| doc::boolean(doc, o, "removed") != Some(true))
        .map(|(id, o)| BehaviourView {
            id,
            text: doc::text(doc, &o, "text").unwrap_or_default(),
            order: doc::float(doc, &o, "order").unwrap_or(0.0),
        })
        .collect();
    out.sort_by(|a, b| a.order.total_cmp(&b.order).then(a.id.cmp(&b.id)));
    out
}

fn value_obj<R: ReadDoc + ?Sized>(doc: &R, id: ValueId) -> Result<ObjId> {
    find(doc, key::VALUES, id.key(), ObjectKind::Value)
}

fn open_round<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> Result<(RoundId, ObjId)> {
    let round: RoundId = doc::parsed(doc, value, "current_round").ok_or(Refusal::RoundClosed)?;
    let rounds = doc::child_map(doc, value, "rounds").ok_or(Refusal::RoundClosed)?;
    let obj = doc::child_map(doc, &rounds, &round.key()).ok_or(WorkshopError::NotFound(ObjectKind::Round))?;
    if doc::int(doc, &obj, "closed_at").is_some() {
        return Err(Refusal::RoundClosed.into());
    }
    Ok((round, obj))
}

/// The stances in a round, with whether each objection is still unresolved.
fn stances<R: ReadDoc + ?Sized>(doc: &R, round: &ObjId) -> Vec<(ParticipantId, Stance, ObjId, bool)> {
    let Some(map) = doc::child_map(doc, round, "stances") else { return Vec::new() };
    doc::entries::<ParticipantId, _>(doc, &map)
        .into_iter()
        .filter_map(|(p, o)| {
            let stance: Stance = doc::parsed(doc, &o, "stance")?;
            let unresolved = stance == Stance::Object
                && doc::string(doc, &o, "challenge")
                    .and_then(|c| crate::challenges::status(doc, &c))
                    .is_none_or(|s| s != ChallengeStatus::ChangedView);
            Some((p, stance, o, unresolved))
        })
        .collect()
}

/// The default quorum: more than half of the people in the workshop.
fn default_quorum<R: ReadDoc + ?Sized>(doc: &R) -> u32 {
    let people = crate::participants::all(doc).iter().filter(|p| !p.removed).count();
    u32::try_from(people / 2 + 1).unwrap_or(u32::MAX)
}

impl Workshop {
    /// Drafts a value from notes (which become its sources).
    pub fn draft_value(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        statement: &str,
        sources: &[NoteId],
    ) -> Result<ValueId> {
        let statement = doc::checked_text(statement, limit::STATEMENT, true)?;
        let id = ValueId::random(rng);
        self.change(now, |tx| {
            member(tx, by)?;
            let values = doc::root(tx, key::VALUES)?;
            let obj = tx.put_object(&values, id.key(), ObjType::Map)?;
            doc::put_text(tx, &obj, "statement", &statement)?;
            tx.put_object(&obj, "behaviours", ObjType::Map)?;
            doc::put_text(tx, &obj, "easy_read", "")?;
            let source_map = tx.put_object(&obj, "sources", ObjType::Map)?;
            for note in sources {
                check_source(tx, *note)?;
                tx.put(&source_map, note.key(), true)?;
            }
            tx.put(&obj, "status", ValueStatus::Draft.key())?;
            tx.put(&obj, "version", 1_i64)?;
            tx.put(&obj, "created_at", now.millis())?;
            tx.put(&obj, "drafted_by", by.key())?;
            tx.put_object(&obj, "rounds", ObjType::Map)?;
            tx.put_object(&obj, "versions", ObjType::Map)?;
            Ok(id)
        })
    }

    /// Edits a value's statement. An agreed value becomes a draft of the next version.
    pub fn edit_value_statement(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ValueId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, id)?;
            begin_content_edit(tx, &obj)?;
            doc::edit_text(tx, &obj, "statement", edit, limit::STATEMENT, true)?;
            Ok(())
        })
    }

    /// Edits a value's easy-read line. An agreed value becomes a draft of the next version.
    pub fn edit_value_easy_read(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ValueId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, id)?;
            begin_content_edit(tx, &obj)?;
            doc::edit_text(tx, &obj, "easy_read", edit, limit::EASY_READ, false)?;
            Ok(())
        })
    }

    /// Adds a "we will…" behaviour at the end of the list.
    pub fn add_behaviour(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        value: ValueId,
        text: &str,
    ) -> Result<BehaviourId> {
        let text = doc::checked_text(text, limit::BEHAVIOUR, true)?;
        let id = BehaviourId::random(rng);
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, value)?;
            begin_content_edit(tx, &obj)?;
            let order = crate::board::order_between(behaviours(tx, &obj).last().map(|b| b.order), None);
            let map = doc::child_map(tx, &obj, "behaviours")
                .ok_or(WorkshopError::NotAWorkshop("a value has no behaviours"))?;
            let b = tx.put_object(&map, id.key(), ObjType::Map)?;
            doc::put_text(tx, &b, "text", &text)?;
            tx.put(&b, "order", order)?;
            Ok(id)
        })
    }

    /// Edits a behaviour.
    pub fn edit_behaviour(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        value: ValueId,
        id: BehaviourId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, value)?;
            let b = behaviour_obj(tx, &obj, id)?;
            begin_content_edit(tx, &obj)?;
            doc::edit_text(tx, &b, "text", edit, limit::BEHAVIOUR, true)?;
            Ok(())
        })
    }

    /// Removes a behaviour (marked removed, so a concurrent edit is never silently lost).
    pub fn remove_behaviour(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        value: ValueId,
        id: BehaviourId,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, value)?;
            let b = behaviour_obj(tx, &obj, id)?;
            begin_content_edit(tx, &obj)?;
            put_if_changed(tx, &b, "removed", true)
        })
    }

    /// Adds or removes a source note. Sources record where a value came from; changing them
    /// does not change the value's wording, so it does not start a new version.
    pub fn set_value_source(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        value: ValueId,
        note: NoteId,
        source: bool,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, value)?;
            if source {
                check_source(tx, note)?;
            }
            let map = doc::child_map(tx, &obj, "sources")
                .ok_or(WorkshopError::NotAWorkshop("a value has no sources"))?;
            put_if_changed(tx, &map, &note.key(), source)
        })
    }

    /// Withdraws a value (facilitator only). Its history is kept.
    pub fn withdraw_value(&mut self, now: Timestamp, by: ParticipantId, value: ValueId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = value_obj(tx, value)?;
            if let Ok((_, round)) = open_round(tx, &obj) {
                tx.put(&round, "closed_at", now.millis())?;
            }
            put_if_changed(tx, &obj, "status", ValueStatus::Withdrawn.key())
        })
    }

    /// Opens a consent round on a draft value (facilitator only). `quorum` is how many
    /// stances are needed; by default more than half of the people in the workshop.
    pub fn open_consent_round(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        value: ValueId,
        quorum: Option<u32>,
    ) -> Result<RoundId> {
        if quorum == Some(0) {
            return Err(Refusal::OutOfRange("A consent round needs at least one person's stance.").into());
        }
        let id = RoundId::random(rng);
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = value_obj(tx, value)?;
            match doc::parsed::<ValueStatus, _>(tx, &obj, "status") {
                Some(ValueStatus::InConsent) => return Err(Refusal::RoundAlreadyOpen.into()),
                Some(ValueStatus::Withdrawn) => return Err(Refusal::Withdrawn(ObjectKind::Value).into()),
                Some(ValueStatus::Agreed) => return Err(Refusal::AlreadyAgreed.into()),
                _ => {}
            }
            let statement = doc::text(tx, &obj, "statement").unwrap_or_default();
            if statement.trim().is_empty() {
                return Err(Refusal::EmptyText.into());
            }
            let quorum = quorum.unwrap_or_else(|| default_quorum(tx));
            let rounds = doc::child_map(tx, &obj, "rounds")
                .ok_or(WorkshopError::NotAWorkshop("a value has no rounds"))?;
            let round = tx.put_object(&rounds, id.key(), ObjType::Map)?;
            tx.put(&round, "opened_at", now.millis())?;
            tx.put(&round, "quorum", i64::from(quorum))?;
            tx.put(&round, "version", doc::int(tx, &obj, "version").unwrap_or(1))?;
            tx.put(&round, "statement", statement)?;
            tx.put_object(&round, "stances", ObjType::Map)?;
            tx.put_object(&round, "counted", ObjType::Map)?;
            tx.put(&obj, "current_round", id.key())?;
            tx.put(&obj, "status", ValueStatus::InConsent.key())?;
            Ok(id)
        })
    }

    /// Gives (or changes) your stance in the value's open round. Reservations and objections
    /// need a reason. An objection opens a challenge linked to the round and returns its id;
    /// moving away from an objection marks that challenge "changed my view".
    pub fn give_stance(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        value: ValueId,
        stance: Stance,
        reason: Option<&str>,
    ) -> Result<Option<ChallengeId>> {
        let reason = match reason {
            Some(r) => Some(doc::checked_text(r, limit::REASON, false)?).filter(|r| !r.is_empty()),
            None => None,
        };
        if stance.needs_reason() && reason.is_none() {
            return Err(Refusal::ReasonRequired(stance).into());
        }
        let new_challenge = ChallengeId::random(rng);
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = value_obj(tx, value)?;
            let (round_id, round) = open_round(tx, &obj)?;
            let map = doc::child_map(tx, &round, "stances")
                .ok_or(WorkshopError::NotAWorkshop("a round has no stances"))?;
            let previous = doc::child_map(tx, &map, &by.key());
            let previous_stance = previous.as_ref().and_then(|p| doc::parsed::<Stance, _>(tx, p, "stance"));
            let previous_challenge: Option<ChallengeId> =
                previous.as_ref().and_then(|p| doc::parsed(tx, p, "challenge"));
            let entry = match previous {
                Some(p) => p,
                None => tx.put_object(&map, by.key(), ObjType::Map)?,
            };
            tx.put(&entry, "stance", stance.key())?;
            match &reason {
                Some(r) => tx.put(&entry, "reason", r.as_str())?,
                None => {
                    if tx.get(&entry, "reason")?.is_some() {
                        tx.delete(&entry, "reason")?;
                    }
                }
            }
            tx.put(&entry, "at", now.millis())?;

            let mut opened = None;
            match (stance, previous_stance, previous_challenge) {
                (Stance::Object, Some(Stance::Object), Some(c)) => {
                    // Still objecting: keep the same challenge, with the latest reason.
                    let cobj = find(tx, key::CHALLENGES, c.key(), ObjectKind::Challenge)?;
                    let reason = reason.clone().unwrap_or_default();
                    doc::edit_text(tx, &cobj, "text", &TextEdit::Replace(reason), limit::REASON, true)?;
                    opened = Some(c);
                }
                (Stance::Object, _, _) => {
                    let reason = reason.clone().unwrap_or_default();
                    let cobj = crate::challenges::put(
                        tx,
                        new_challenge,
                        Target::Value(value),
                        &by.key(),
                        ChallengeKind::SeeDifferently,
                        &reason,
                        now,
                    )?;
                    tx.put(&cobj, "objection_value", value.key())?;
                    tx.put(&cobj, "objection_round", round_id.key())?;
                    tx.put(&cobj, "objection_participant", by.key())?;
                    tx.put(&entry, "challenge", new_challenge.key())?;
                    opened = Some(new_challenge);
                }
                (_, Some(Stance::Object), Some(c)) => {
                    // Moving away from an objection: the objector's view changed.
                    let cobj = find(tx, key::CHALLENGES, c.key(), ObjectKind::Challenge)?;
                    tx.put(&cobj, "status", ChallengeStatus::ChangedView.key())?;
                    tx.put(&cobj, "status_at", now.millis())?;
                    tx.delete(&entry, "challenge")?;
                }
                _ => {}
            }
            Ok(opened)
        })
    }

    /// Closes the value's open round (facilitator only) and records the outcome: agreed only
    /// with quorum and no unresolved objection. An agreed version is recorded in the wording
    /// history; otherwise the value goes back to draft for more work.
    pub fn close_consent_round(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        value: ValueId,
    ) -> Result<RoundOutcome> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = value_obj(tx, value)?;
            let (round_id, round) = open_round(tx, &obj)?;
            let people: Vec<ParticipantView> = crate::participants::all(tx);
            let current = |p: &ParticipantId| people.iter().any(|v| v.id == *p && !v.removed);
            let stances: Vec<_> = stances(tx, &round).into_iter().filter(|(p, ..)| current(p)).collect();
            let quorum = doc::int(tx, &round, "quorum").and_then(|q| u32::try_from(q).ok()).unwrap_or(1);
            let counted = u32::try_from(stances.len()).unwrap_or(u32::MAX);
            let outcome = if counted < quorum {
                RoundOutcome::NoQuorum
            } else if stances.iter().any(|(.., unresolved)| *unresolved) {
                RoundOutcome::Objection
            } else {
                RoundOutcome::Agreed
            };
            let counted_map = match doc::child_map(tx, &round, "counted") {
                Some(m) => m,
                None => tx.put_object(&round, "counted", ObjType::Map)?,
            };
            for (p, stance, ..) in &stances {
                tx.put(&counted_map, p.key(), stance.key())?;
            }
            tx.put(&round, "closed_at", now.millis())?;
            tx.put(&round, "outcome", outcome.key())?;
            tx.delete(&obj, "current_round")?;
            if outcome == RoundOutcome::Agreed {
                let version = doc::int(tx, &obj, "version").unwrap_or(1);
                let versions = match doc::child_map(tx, &obj, "versions") {
                    Some(m) => m,
                    None => tx.put_object(&obj, "versions", ObjType::Map)?,
                };
                let v = tx.put_object(&versions, version.to_string(), ObjType::Map)?;
                tx.put(&v, "statement", doc::text(tx, &obj, "statement").unwrap_or_default())?;
                tx.put(&v, "easy_read", doc::text(tx, &obj, "easy_read").unwrap_or_default())?;
                let lines = behaviours(tx, &obj).into_iter().map(|b| b.text).collect::<Vec<_>>();
                let list = tx.put_object(&v, "behaviours", ObjType::List)?;
                for (i, line) in lines.iter().enumerate() {
                    tx.insert(&list, i, line.as_str())?;
                }
                tx.put(&v, "agreed_at", now.millis())?;
                tx.put(&v, "round", round_id.key())?;
                tx.put(&obj, "status", ValueStatus::Agreed.key())?;
                tx.put(&obj, "agreed_at", now.millis())?;
            } else {
                tx.put(&obj, "status", ValueStatus::Draft.key())?;
            }
            Ok(outcome)
        })
    }

    /// One value with its provenance and tallies.
    pub fn value(&self, viewer: &Viewer, id: ValueId) -> Option<ValueView> {
        let people = self.people();
        let obj = value_obj(&self.doc, id).ok()?;
        let challenges = self.challenges_with(viewer, &people);
        Some(self.read_value(&people, &challenges, id, &obj))
    }

    /// Every value (including withdrawn ones, marked so), oldest first.
    pub fn values(&self, viewer: &Viewer) -> Vec<ValueView> {
        let people = self.people();
        let Ok(map) = doc::root(&self.doc, key::VALUES) else { return Vec::new() };
        let challenges = self.challenges_with(viewer, &people);
        let mut out: Vec<ValueView> = doc::entries::<ValueId, _>(&self.doc, &map)
            .into_iter()
            .map(|(id, obj)| self.read_value(&people, &challenges, id, &obj))
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out
    }

    fn read_value(
        &self,
        people: &HashMap<String, ParticipantView>,
        challenges: &[ChallengeView],
        id: ValueId,
        obj: &ObjId,
    ) -> ValueView {
        let d = &self.doc;
        let mut sources: Vec<SourceView> = doc::child_map(d, obj, "sources")
            .map(|m| doc::set_members::<NoteId, _>(d, &m))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|note| {
                let n = self.note_with(&Viewer::default(), people, note)?;
                Some(SourceView { note, text: n.text, author: n.author })
            })
            .collect();
        sources.sort_by_key(|s| s.note);
        let mut versions: Vec<VersionView> = match doc::child_map(d, obj, "versions") {
            Some(map) => d
                .map_range(&map, ..)
                .filter_map(|item| {
                    let version: u32 = item.key.parse().ok()?;
                    let v = item.id();
                    let behaviours = match doc::child(d, &v, "behaviours") {
                        Some(list) => d
                            .list_range(&list, ..)
                            .filter_map(|i| match i.value {
                                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                                    Some(s.to_string())
                                }
                                _ => None,
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    Some(VersionView {
                        version,
                        statement: doc::string(d, &v, "statement").unwrap_or_default(),
                        behaviours,
                        easy_read: doc::string(d, &v, "easy_read").unwrap_or_default(),
                        agreed_at: Timestamp(doc::int(d, &v, "agreed_at").unwrap_or(0)),
                        round: doc::parsed(d, &v, "round"),
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        versions.sort_by_key(|v| v.version);
        let mut rounds: Vec<RoundView> = match doc::child_map(d, obj, "rounds") {
            Some(map) => doc::entries::<RoundId, _>(d, &map)
                .into_iter()
                .map(|(rid, r)| read_round(d, people, rid, &r))
                .collect(),
            None => Vec::new(),
        };
        rounds.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));
        let current_round = doc::parsed(d, obj, "current_round")
            .filter(|r| rounds.iter().any(|x| x.id == *r && x.closed_at.is_none()));
        ValueView {
            id,
            statement: doc::text(d, obj, "statement").unwrap_or_default(),
            behaviours: behaviours(d, obj),
            easy_read: doc::text(d, obj, "easy_read").unwrap_or_default(),
            status: doc::parsed(d, obj, "status").unwrap_or(ValueStatus::Draft),
            version: doc::int(d, obj, "version").and_then(|v| u32::try_from(v).ok()).unwrap_or(1),
            created_at: Timestamp(doc::int(d, obj, "created_at").unwrap_or(0)),
            drafted_by: AuthorView::resolve(doc::string(d, obj, "drafted_by").as_deref(), people),
            sources,
            versions,
            rounds,
            current_round,
            challenges: challenges.iter().filter(|c| c.target == Target::Value(id)).cloned().collect(),
        }
    }
}

fn read_round<R: ReadDoc + ?Sized>(
    d: &R,
    people: &HashMap<String, ParticipantView>,
    id: RoundId,
    r: &ObjId,
) -> RoundView {
    let closed_at = doc::int(d, r, "closed_at").map(Timestamp);
    let counted: HashMap<String, String> = match doc::child_map(d, r, "counted") {
        Some(m) => d
            .map_range(&m, ..)
            .filter_map(|i| match i.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                    Some((i.key.to_string(), s.to_string()))
                }
                _ => None,
            })
            .collect(),
        None => HashMap::new(),
    };
    let mut tally = Tally::default();
    let mut unresolved_objections = 0;
    let mut list: Vec<StanceView> = Vec::new();
    for (p, stance, o, unresolved) in stances(d, r) {
        let counted_here = closed_at.is_none() || counted.contains_key(&p.key());
        if counted_here {
            tally.add(stance);
            if unresolved {
                unresolved_objections += 1;
            }
        }
        list.push(StanceView {
            participant: AuthorView::resolve(Some(&p.key()), people),
            stance,
            reason: doc::string(d, &o, "reason"),
            at: Timestamp(doc::int(d, &o, "at").unwrap_or(0)),
            challenge: doc::parsed(d, &o, "challenge"),
            counted: counted_here,
        });
    }
    list.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.participant.display().cmp(b.participant.display())));
    RoundView {
        id,
        version: doc::int(d, r, "version").and_then(|v| u32::try_from(v).ok()).unwrap_or(1),
        statement: doc::string(d, r, "statement").unwrap_or_default(),
        opened_at: Timestamp(doc::int(d, r, "opened_at").unwrap_or(0)),
        closed_at,
        quorum: doc::int(d, r, "quorum").and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
        tally,
        stances: list,
        unresolved_objections,
        outcome: doc::parsed(d, r, "outcome"),
    }
}

fn behaviour_obj<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId, id: BehaviourId) -> Result<ObjId> {
    let map =
        doc::child_map(doc, value, "behaviours").ok_or(WorkshopError::NotFound(ObjectKind::Behaviour))?;
    doc::child_map(doc, &map, &id.key()).ok_or(WorkshopError::NotFound(ObjectKind::Behaviour))
}

/// A source note must be on the board for everyone: not private, not withdrawn.
fn check_source(tx: &Transaction<'_>, note: NoteId) -> Result<()> {
    let obj = find(tx, key::NOTES, note.key(), ObjectKind::Note).map_err(|_| Refusal::BadSource)?;
    if doc::boolean(tx, &obj, "withdrawn") == Some(true)
        || doc::boolean(tx, &obj, "private_until_reveal") == Some(true)
    {
        return Err(Refusal::BadSource.into());
    }
    Ok(())
}
