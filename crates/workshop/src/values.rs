//! Values agreed by consent.
//!
//! A value is drafted from notes (its sources are kept), with a statement, "we will…"
//! behaviours and an easy-read line, all edited collaboratively. The facilitator opens a
//! consent round; each person gives a stance (agree, reservations, stand aside, object), with
//! a reason where one is required; an objection opens a linked challenge. The facilitator
//! closes the round: it is agreed only with quorum and no unresolved objection. Changing an
//! agreed value starts version N+1, which needs a new round.
//!
//! Laptops can act at the same time, so nothing that a rule depends on is stored twice. A
//! value's status and version are *derived* from its rounds and its current wording; each
//! round keeps the wording it asked about, every stance, and every close. Rounds opened at the
//! same time (two facilitators, one offline) are one logical round: each new round records the
//! round it follows, rounds at the same depth of that chain are merged, everyone's stances
//! count, and the earliest close decides. What is agreed is always the wording the round
//! asked about; an edit that raced the round becomes the next version's draft.

use std::collections::{BTreeMap, HashMap};

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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// The wording a round asks about (and, if agreed, what was agreed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Wording {
    statement: String,
    easy_read: String,
    behaviours: Vec<String>,
}

#[derive(Debug, Clone)]
struct RawStance {
    participant: ParticipantId,
    stance: Stance,
    reason: Option<String>,
    at: Timestamp,
    challenge: Option<ChallengeId>,
    round: RoundId,
}

#[derive(Debug, Clone)]
struct RawClose {
    closer: String,
    at: Timestamp,
    outcome: RoundOutcome,
    counted: HashMap<String, Stance>,
}

#[derive(Debug, Clone)]
struct RawRound {
    id: RoundId,
    obj: ObjId,
    opened_at: Timestamp,
    after: Option<RoundId>,
    quorum: u32,
    wording: Wording,
    stances: Vec<RawStance>,
    closes: Vec<RawClose>,
}

/// One logical round: every round object opened at the same depth of the chain (normally one;
/// several when facilitators opened rounds concurrently).
#[derive(Debug, Clone)]
struct Round {
    /// The earliest member, whose id, quorum and wording stand for the round.
    canonical: RawRound,
    /// Every member object (including the canonical one).
    members: Vec<(RoundId, ObjId)>,
    /// Each person's latest stance across the members.
    stances: Vec<RawStance>,
    /// The deciding close: the earliest.
    close: Option<RawClose>,
    /// The version of the value this round asked about.
    version: u32,
}

impl Round {
    fn is_open(&self) -> bool {
        self.close.is_none()
    }

    fn agreed(&self) -> bool {
        self.close.as_ref().is_some_and(|c| c.outcome == RoundOutcome::Agreed)
    }
}

/// What a value is now, derived from its rounds and wording.
#[derive(Debug)]
struct State {
    status: ValueStatus,
    version: u32,
    rounds: Vec<Round>,
}

fn current_wording<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> Wording {
    Wording {
        statement: doc::text(doc, value, "statement").unwrap_or_default(),
        easy_read: doc::text(doc, value, "easy_read").unwrap_or_default(),
        behaviours: behaviours(doc, value).into_iter().map(|b| b.text).collect(),
    }
}

fn string_list<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Vec<String> {
    match doc::child(doc, obj, key) {
        Some(list) => doc
            .list_range(&list, ..)
            .filter_map(|i| match i.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

fn raw_rounds<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> Vec<RawRound> {
    let Some(map) = doc::child_map(doc, value, "rounds") else { return Vec::new() };
    doc::entries::<RoundId, _>(doc, &map)
        .into_iter()
        .map(|(id, obj)| {
            let stances = match doc::child_map(doc, &obj, "stances") {
                Some(m) => doc::entries::<ParticipantId, _>(doc, &m)
                    .into_iter()
                    .filter_map(|(participant, o)| {
                        Some(RawStance {
                            participant,
                            stance: doc::parsed(doc, &o, "stance")?,
                            reason: doc::string(doc, &o, "reason"),
                            at: Timestamp(doc::int(doc, &o, "at").unwrap_or(0)),
                            challenge: doc::parsed(doc, &o, "challenge"),
                            round: id,
                        })
                    })
                    .collect(),
                None => Vec::new(),
            };
            let closes = match doc::child_map(doc, &obj, "closes") {
                Some(m) => doc
                    .map_range(&m, ..)
                    .filter_map(|item| {
                        let c = item.id();
                        let counted = match doc::child_map(doc, &c, "counted") {
                            Some(cm) => doc
                                .map_range(&cm, ..)
                                .filter_map(|i| match i.value {
                                    automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                                        Some((i.key.to_string(), s.parse().ok()?))
                                    }
                                    _ => None,
                                })
                                .collect(),
                            None => HashMap::new(),
                        };
                        Some(RawClose {
                            closer: item.key.to_string(),
                            at: Timestamp(doc::int(doc, &c, "at")?),
                            outcome: doc::parsed(doc, &c, "outcome")?,
                            counted,
                        })
                    })
                    .collect(),
                None => Vec::new(),
            };
            RawRound {
                id,
                opened_at: Timestamp(doc::int(doc, &obj, "opened_at").unwrap_or(0)),
                after: doc::parsed(doc, &obj, "after"),
                quorum: doc::int(doc, &obj, "quorum").and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
                wording: Wording {
                    statement: doc::string(doc, &obj, "statement").unwrap_or_default(),
                    easy_read: doc::string(doc, &obj, "easy_read").unwrap_or_default(),
                    behaviours: string_list(doc, &obj, "behaviours"),
                },
                stances,
                closes,
                obj,
            }
        })
        .collect()
}

/// Groups round objects into logical rounds by their depth in the chain of `after` links, in
/// chain order, and numbers the versions they asked about.
fn rounds<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> Vec<Round> {
    let raw = raw_rounds(doc, value);
    let index: HashMap<RoundId, usize> = raw.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    // Depth along `after` links; unknown links and cycles (damaged data) count as the start.
    let depth = |start: usize| -> usize {
        let mut d = 0;
        let mut at = start;
        while let Some(next) = raw[at].after.and_then(|a| index.get(&a)) {
            d += 1;
            at = *next;
            if d > raw.len() {
                return 0;
            }
        }
        d
    };
    let mut groups: BTreeMap<usize, Vec<RawRound>> = BTreeMap::new();
    for (i, r) in raw.iter().enumerate() {
        groups.entry(depth(i)).or_default().push(r.clone());
    }
    let mut out = Vec::new();
    let mut agreed_before = 0;
    for (_, mut members) in groups {
        members.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));
        let mut latest: BTreeMap<ParticipantId, RawStance> = BTreeMap::new();
        for s in members.iter().flat_map(|m| m.stances.iter()) {
            let newer = latest.get(&s.participant).is_none_or(|old| (s.at, s.round) > (old.at, old.round));
            if newer {
                latest.insert(s.participant, s.clone());
            }
        }
        let close = members
            .iter()
            .flat_map(|m| m.closes.iter())
            .min_by(|a, b| a.at.cmp(&b.at).then_with(|| a.closer.cmp(&b.closer)))
            .cloned();
        let round = Round {
            canonical: members[0].clone(),
            members: members.iter().map(|m| (m.id, m.obj.clone())).collect(),
            stances: latest.into_values().collect(),
            close,
            version: agreed_before + 1,
        };
        if round.agreed() {
            agreed_before += 1;
        }
        out.push(round);
    }
    out
}

fn state<R: ReadDoc + ?Sized>(doc: &R, value: &ObjId) -> State {
    let rounds = rounds(doc, value);
    let agreed = rounds.iter().filter(|r| r.agreed()).count();
    let agreed = u32::try_from(agreed).unwrap_or(u32::MAX);
    let last_agreed = rounds.iter().rev().find(|r| r.agreed());
    let (status, version) = if doc::boolean(doc, value, "withdrawn") == Some(true) {
        (ValueStatus::Withdrawn, agreed.max(1))
    } else if let Some(open) = rounds.iter().find(|r| r.is_open()) {
        (ValueStatus::InConsent, open.version)
    } else if let Some(r) = last_agreed.filter(|r| r.canonical.wording == current_wording(doc, value)) {
        (ValueStatus::Agreed, r.version)
    } else {
        (ValueStatus::Draft, agreed + 1)
    };
    State { status, version, rounds }
}

/// Starts an edit of a value's content: refused while a round is open or once withdrawn.
/// An agreed value needs no bookkeeping: once its wording differs from what was agreed, it
/// is the draft of the next version.
fn begin_content_edit<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId) -> Result<()> {
    match state(doc, obj).status {
        ValueStatus::InConsent => Err(Refusal::ValueInConsent.into()),
        ValueStatus::Withdrawn => Err(Refusal::Withdrawn(ObjectKind::Value).into()),
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

/// Whether an objection is still unresolved: its challenge has not changed the objector's view.
fn unresolved<R: ReadDoc + ?Sized>(doc: &R, s: &RawStance) -> bool {
    s.stance == Stance::Object
        && s.challenge
            .and_then(|c| crate::challenges::status(doc, &c.key()))
            .is_none_or(|st| st != ChallengeStatus::ChangedView)
}

/// The default quorum: more than half of the people in the workshop.
fn default_quorum<R: ReadDoc + ?Sized>(doc: &R) -> u32 {
    let people = crate::participants::all(doc).iter().filter(|p| !p.removed).count();
    u32::try_from(people / 2 + 1).unwrap_or(u32::MAX)
}

fn put_close(
    tx: &mut Transaction<'_>,
    round: &Round,
    by: ParticipantId,
    now: Timestamp,
    outcome: RoundOutcome,
    counted: &[(ParticipantId, Stance)],
) -> Result<()> {
    for (_, obj) in &round.members {
        let closes = match doc::child_map(tx, obj, "closes") {
            Some(m) => m,
            None => tx.put_object(obj, "closes", ObjType::Map)?,
        };
        let c = tx.put_object(&closes, by.key(), ObjType::Map)?;
        tx.put(&c, "at", now.millis())?;
        tx.put(&c, "outcome", outcome.key())?;
        let map = tx.put_object(&c, "counted", ObjType::Map)?;
        for (p, stance) in counted {
            tx.put(&map, p.key(), stance.key())?;
        }
    }
    Ok(())
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
            tx.put(&obj, "withdrawn", false)?;
            tx.put(&obj, "created_at", now.millis())?;
            tx.put(&obj, "drafted_by", by.key())?;
            tx.put_object(&obj, "rounds", ObjType::Map)?;
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

    /// Withdraws a value (facilitator only). Its history is kept; an open round is closed as
    /// withdrawn.
    pub fn withdraw_value(&mut self, now: Timestamp, by: ParticipantId, value: ValueId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = value_obj(tx, value)?;
            if let Some(open) = rounds(tx, &obj).into_iter().find(Round::is_open) {
                put_close(tx, &open, by, now, RoundOutcome::Withdrawn, &[])?;
            }
            put_if_changed(tx, &obj, "withdrawn", true)
        })
    }

    /// Opens a consent round on a draft value (facilitator only). `quorum` is how many
    /// stances are needed; by default more than half of the people in the workshop. The round
    /// keeps the wording it asks about.
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
            let st = state(tx, &obj);
            match st.status {
                ValueStatus::InConsent => return Err(Refusal::RoundAlreadyOpen.into()),
                ValueStatus::Withdrawn => return Err(Refusal::Withdrawn(ObjectKind::Value).into()),
                ValueStatus::Agreed => return Err(Refusal::AlreadyAgreed.into()),
                ValueStatus::Draft => {}
            }
            let wording = current_wording(tx, &obj);
            if wording.statement.trim().is_empty() {
                return Err(Refusal::EmptyText.into());
            }
            let quorum = quorum.unwrap_or_else(|| default_quorum(tx));
            let rounds_map = doc::child_map(tx, &obj, "rounds")
                .ok_or(WorkshopError::NotAWorkshop("a value has no rounds"))?;
            let round = tx.put_object(&rounds_map, id.key(), ObjType::Map)?;
            tx.put(&round, "opened_at", now.millis())?;
            if let Some(last) = st.rounds.last() {
                tx.put(&round, "after", last.canonical.id.key())?;
            }
            tx.put(&round, "quorum", i64::from(quorum))?;
            tx.put(&round, "statement", wording.statement.as_str())?;
            tx.put(&round, "easy_read", wording.easy_read.as_str())?;
            let list = tx.put_object(&round, "behaviours", ObjType::List)?;
            for (i, line) in wording.behaviours.iter().enumerate() {
                tx.insert(&list, i, line.as_str())?;
            }
            tx.put_object(&round, "stances", ObjType::Map)?;
            tx.put_object(&round, "closes", ObjType::Map)?;
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
            let round = rounds(tx, &obj).into_iter().find(Round::is_open).ok_or(Refusal::RoundClosed)?;
            if doc::boolean(tx, &obj, "withdrawn") == Some(true) {
                return Err(Refusal::Withdrawn(ObjectKind::Value).into());
            }
            let previous = round.stances.iter().find(|s| s.participant == by).cloned();
            let target = &round.canonical.obj;
            let map = match doc::child_map(tx, target, "stances") {
                Some(m) => m,
                None => tx.put_object(target, "stances", ObjType::Map)?,
            };
            let entry = match doc::child_map(tx, &map, &by.key()) {
                Some(e) => e,
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

            let held = previous.as_ref().filter(|p| p.stance == Stance::Object).and_then(|p| p.challenge);
            let mut opened = None;
            match (stance, held) {
                (Stance::Object, Some(c)) => {
                    // Still objecting: keep the same challenge, with the latest reason.
                    let cobj = find(tx, key::CHALLENGES, c.key(), ObjectKind::Challenge)?;
                    let text = reason.clone().unwrap_or_default();
                    doc::edit_text(tx, &cobj, "text", &TextEdit::Replace { text }, limit::REASON, true)?;
                    tx.put(&entry, "challenge", c.key())?;
                    opened = Some(c);
                }
                (Stance::Object, None) => {
                    let text = reason.clone().unwrap_or_default();
                    let cobj = crate::challenges::put(
                        tx,
                        new_challenge,
                        Target::Value(value),
                        &by.key(),
                        ChallengeKind::SeeDifferently,
                        &text,
                        now,
                    )?;
                    tx.put(&cobj, "objection_value", value.key())?;
                    tx.put(&cobj, "objection_round", round.canonical.id.key())?;
                    tx.put(&cobj, "objection_participant", by.key())?;
                    tx.put(&entry, "challenge", new_challenge.key())?;
                    opened = Some(new_challenge);
                }
                (_, Some(c)) => {
                    // Moving away from an objection: the objector's view changed.
                    let cobj = find(tx, key::CHALLENGES, c.key(), ObjectKind::Challenge)?;
                    tx.put(&cobj, "status", ChallengeStatus::ChangedView.key())?;
                    tx.put(&cobj, "status_at", now.millis())?;
                    if tx.get(&entry, "challenge")?.is_some() {
                        tx.delete(&entry, "challenge")?;
                    }
                }
                _ => {
                    if tx.get(&entry, "challenge")?.is_some() {
                        tx.delete(&entry, "challenge")?;
                    }
                }
            }
            Ok(opened)
        })
    }

    /// Closes the value's open round (facilitator only) and records the outcome: agreed only
    /// with quorum and no unresolved objection. What is agreed is the wording the round asked
    /// about; otherwise the value stays a draft for more work.
    pub fn close_consent_round(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        value: ValueId,
    ) -> Result<RoundOutcome> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let obj = value_obj(tx, value)?;
            let round = rounds(tx, &obj).into_iter().find(Round::is_open).ok_or(Refusal::RoundClosed)?;
            let people: Vec<ParticipantView> = crate::participants::all(tx);
            let current = |p: &ParticipantId| people.iter().any(|v| v.id == *p && !v.removed);
            let stances: Vec<&RawStance> = round.stances.iter().filter(|s| current(&s.participant)).collect();
            let counted = u32::try_from(stances.len()).unwrap_or(u32::MAX);
            let outcome = if counted < round.canonical.quorum {
                RoundOutcome::NoQuorum
            } else if stances.iter().any(|s| unresolved(tx, s)) {
                RoundOutcome::Objection
            } else {
                RoundOutcome::Agreed
            };
            let counted: Vec<(ParticipantId, Stance)> =
                stances.iter().map(|s| (s.participant, s.stance)).collect();
            put_close(tx, &round, by, now, outcome, &counted)?;
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
        let st = state(d, obj);
        let versions = st
            .rounds
            .iter()
            .filter(|r| r.agreed())
            .map(|r| VersionView {
                version: r.version,
                statement: r.canonical.wording.statement.clone(),
                behaviours: r.canonical.wording.behaviours.clone(),
                easy_read: r.canonical.wording.easy_read.clone(),
                agreed_at: r.close.as_ref().map_or(Timestamp(0), |c| c.at),
                round: Some(r.canonical.id),
            })
            .collect();
        let rounds = st.rounds.iter().map(|r| round_view(d, people, r)).collect();
        ValueView {
            id,
            statement: doc::text(d, obj, "statement").unwrap_or_default(),
            behaviours: behaviours(d, obj),
            easy_read: doc::text(d, obj, "easy_read").unwrap_or_default(),
            status: st.status,
            version: st.version,
            created_at: Timestamp(doc::int(d, obj, "created_at").unwrap_or(0)),
            drafted_by: AuthorView::resolve(doc::string(d, obj, "drafted_by").as_deref(), people),
            sources,
            versions,
            rounds,
            current_round: st.rounds.iter().find(|r| r.is_open()).map(|r| r.canonical.id),
            challenges: challenges.iter().filter(|c| c.target == Target::Value(id)).cloned().collect(),
        }
    }
}

fn round_view<R: ReadDoc + ?Sized>(d: &R, people: &HashMap<String, ParticipantView>, r: &Round) -> RoundView {
    let mut tally = Tally::default();
    let mut unresolved_objections = 0;
    let mut list: Vec<StanceView> = Vec::new();
    for s in &r.stances {
        // A closed round counts exactly the stances its close recorded; a stance that arrived
        // later from a laptop that was offline is shown but not counted.
        let counted_stance = match &r.close {
            None => Some(s.stance),
            Some(c) => c.counted.get(&s.participant.key()).copied(),
        };
        let counted = counted_stance == Some(s.stance);
        if counted {
            tally.add(s.stance);
            if unresolved(d, s) {
                unresolved_objections += 1;
            }
        }
        list.push(StanceView {
            participant: AuthorView::resolve(Some(&s.participant.key()), people),
            stance: s.stance,
            reason: s.reason.clone(),
            at: s.at,
            challenge: s.challenge,
            counted,
        });
    }
    list.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.participant.display().cmp(b.participant.display())));
    RoundView {
        id: r.canonical.id,
        version: r.version,
        statement: r.canonical.wording.statement.clone(),
        opened_at: r.canonical.opened_at,
        closed_at: r.close.as_ref().map(|c| c.at),
        quorum: r.canonical.quorum,
        tally,
        stances: list,
        unresolved_objections,
        outcome: r.close.as_ref().map(|c| c.outcome),
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
