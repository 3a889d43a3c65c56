//! The workshop's meta data, phase, timer, facilitators and ground rules.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::doc::{self, key, limit, TextEdit};
use crate::error::{ObjectKind, Refusal, Result};
use crate::ids::{GroundRuleId, ParticipantId, Timestamp};
use crate::kinds::Phase;
use crate::workshop::{facilitator, find, put_if_changed, Workshop};

/// The ground rules a new workshop starts with. The facilitator and group can edit them.
pub const DEFAULT_GROUND_RULES: &[&str] = &[
    "We use first names only, with no titles or job roles.",
    "Everyone's experience counts equally.",
    "Challenge ideas, not people.",
    "It's OK to pass, and OK to take a break.",
    "What's shared here stays here, unless we all agree otherwise.",
];

/// How many dots each person has to vote with, unless the facilitator changes it.
pub const DEFAULT_VOTE_BUDGET: u32 = 5;

/// The workshop's title, purpose, phase, timer and go-round, as everyone sees them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MetaView {
    /// The title.
    pub title: String,
    /// What the group is here to do.
    pub purpose: String,
    /// When the workshop was created.
    pub created_at: Timestamp,
    /// Where the room is in the workshop.
    pub phase: Phase,
    /// The shared timer.
    pub timer: TimerView,
    /// Dots each person has for voting.
    pub vote_budget: u32,
    /// The facilitators (a role that can be handed on, not a rank).
    pub facilitators: Vec<ParticipantId>,
    /// The go-round, while one is running: whose turn it is and who has passed.
    pub go_round: Option<crate::GoRoundView>,
}

/// The shared timer. The UI counts down from `ends_at` with its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TimerView {
    /// No timer.
    Off,
    /// Counting down.
    Running {
        /// When it reaches zero.
        ends_at: Timestamp,
        /// The full length, in milliseconds.
        duration_ms: i64,
    },
    /// Paused with time left.
    Paused {
        /// Time left, in milliseconds.
        remaining_ms: i64,
        /// The full length, in milliseconds.
        duration_ms: i64,
    },
}

/// One ground rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroundRuleView {
    /// Its id.
    pub id: GroundRuleId,
    /// Its words.
    pub text: String,
    /// Its place in the list.
    pub order: f64,
}

pub(crate) fn init(tx: &mut Transaction<'_>, now: Timestamp, title: &str, purpose: &str) -> Result<()> {
    let meta = doc::root(tx, key::META)?;
    doc::put_text(tx, &meta, "title", title)?;
    doc::put_text(tx, &meta, "purpose", purpose)?;
    tx.put(&meta, "created_at", now.millis())?;
    tx.put(&meta, "phase", Phase::Welcome.key())?;
    tx.put(&meta, "vote_budget", i64::from(DEFAULT_VOTE_BUDGET))?;
    tx.put_object(&meta, "timer", ObjType::Map)?;
    tx.put_object(&meta, "facilitators", ObjType::Map)?;
    Ok(())
}

fn meta_obj<R: ReadDoc + ?Sized>(doc: &R) -> Result<ObjId> {
    doc::root(doc, key::META)
}

pub(crate) fn is_facilitator<R: ReadDoc + ?Sized>(doc: &R, who: ParticipantId) -> bool {
    facilitators(doc).contains(&who)
}

/// The facilitators: current participants holding the role. Laptops can step down or remove
/// each other at the same time, so the rule "there is always a facilitator" is kept when
/// reading: if nobody holds the role, the earliest-joined remaining participant has it.
pub(crate) fn facilitators<R: ReadDoc + ?Sized>(doc: &R) -> Vec<ParticipantId> {
    let Ok(participants) = doc::root(doc, key::PARTICIPANTS) else { return Vec::new() };
    let current = |id: &ParticipantId| {
        doc::child_map(doc, &participants, &id.key())
            .is_some_and(|p| doc::int(doc, &p, "removed_at").is_none())
    };
    let flagged: Vec<ParticipantId> = meta_obj(doc)
        .ok()
        .and_then(|meta| doc::child_map(doc, &meta, "facilitators"))
        .map(|map| doc::set_members(doc, &map))
        .unwrap_or_default();
    let mut ids: Vec<ParticipantId> = flagged.into_iter().filter(|id| current(id)).collect();
    if ids.is_empty() {
        let earliest = doc::entries::<ParticipantId, _>(doc, &participants)
            .into_iter()
            .filter(|(_, obj)| doc::int(doc, obj, "removed_at").is_none())
            .map(|(id, obj)| (doc::int(doc, &obj, "joined_at").unwrap_or(0), id))
            .min();
        ids.extend(earliest.map(|(_, id)| id));
    }
    ids.sort();
    ids
}

pub(crate) fn set_facilitator(tx: &mut Transaction<'_>, who: ParticipantId, on: bool) -> Result<()> {
    let meta = meta_obj(tx)?;
    let map = doc::child_map(tx, &meta, "facilitators")
        .ok_or(crate::WorkshopError::NotAWorkshop("facilitators missing"))?;
    put_if_changed(tx, &map, &who.key(), on)
}

pub(crate) fn vote_budget<R: ReadDoc + ?Sized>(doc: &R) -> u32 {
    meta_obj(doc)
        .ok()
        .and_then(|m| doc::int(doc, &m, "vote_budget"))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(DEFAULT_VOTE_BUDGET)
}

pub(crate) fn phase<R: ReadDoc + ?Sized>(doc: &R) -> Phase {
    meta_obj(doc).ok().and_then(|m| doc::parsed(doc, &m, "phase")).unwrap_or(Phase::Welcome)
}

pub(crate) fn put_ground_rule(
    tx: &mut Transaction<'_>,
    id: GroundRuleId,
    text: &str,
    order: f64,
) -> Result<()> {
    let rules = doc::root(tx, key::GROUND_RULES)?;
    let rule = tx.put_object(&rules, id.key(), ObjType::Map)?;
    doc::put_text(tx, &rule, "text", text)?;
    tx.put(&rule, "order", order)?;
    Ok(())
}

fn timer<R: ReadDoc + ?Sized>(doc: &R, meta: &ObjId) -> TimerView {
    let Some(timer) = doc::child_map(doc, meta, "timer") else { return TimerView::Off };
    let duration_ms = doc::int(doc, &timer, "duration_ms").unwrap_or(0);
    match (doc::int(doc, &timer, "ends_at"), doc::int(doc, &timer, "remaining_ms")) {
        (Some(ends_at), _) => TimerView::Running { ends_at: Timestamp(ends_at), duration_ms },
        (None, Some(remaining_ms)) => TimerView::Paused { remaining_ms, duration_ms },
        (None, None) => TimerView::Off,
    }
}

impl Workshop {
    /// The title, purpose, phase, timer and go-round.
    pub fn meta(&self) -> MetaView {
        let meta = meta_obj(&self.doc).ok();
        let read_text = |k| meta.as_ref().and_then(|m| doc::text(&self.doc, m, k)).unwrap_or_default();
        MetaView {
            title: read_text("title"),
            purpose: read_text("purpose"),
            created_at: Timestamp(
                meta.as_ref().and_then(|m| doc::int(&self.doc, m, "created_at")).unwrap_or(0),
            ),
            phase: phase(&self.doc),
            timer: meta.as_ref().map_or(TimerView::Off, |m| timer(&self.doc, m)),
            vote_budget: vote_budget(&self.doc),
            facilitators: facilitators(&self.doc),
            go_round: crate::go_round::view(&self.doc),
        }
    }

    /// Edits the workshop's title (facilitator only).
    pub fn edit_title(&mut self, now: Timestamp, by: ParticipantId, edit: &TextEdit) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let meta = meta_obj(tx)?;
            doc::edit_text(tx, &meta, "title", edit, limit::TITLE, true)?;
            Ok(())
        })
    }

    /// Edits the workshop's purpose (facilitator only).
    pub fn edit_purpose(&mut self, now: Timestamp, by: ParticipantId, edit: &TextEdit) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let meta = meta_obj(tx)?;
            doc::edit_text(tx, &meta, "purpose", edit, limit::PURPOSE, false)?;
            Ok(())
        })
    }

    /// Moves the room to another phase (facilitator only).
    pub fn set_phase(&mut self, now: Timestamp, by: ParticipantId, phase: Phase) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let meta = meta_obj(tx)?;
            put_if_changed(tx, &meta, "phase", phase.key())
        })
    }

    /// Starts the shared timer for `duration_ms` (facilitator only; 1 second to 24 hours).
    pub fn start_timer(&mut self, now: Timestamp, by: ParticipantId, duration_ms: i64) -> Result<()> {
        if !(1_000..=86_400_000).contains(&duration_ms) {
            return Err(Refusal::OutOfRange("A timer can run from one second to a day.").into());
        }
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let timer = timer_obj(tx)?;
            tx.put(&timer, "duration_ms", duration_ms)?;
            tx.put(&timer, "ends_at", now.millis() + duration_ms)?;
            tx.delete(&timer, "remaining_ms")?;
            Ok(())
        })
    }

    /// Pauses a running timer (facilitator only). Pausing a timer that isn't running does nothing.
    pub fn pause_timer(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let timer = timer_obj(tx)?;
            if let Some(ends_at) = doc::int(tx, &timer, "ends_at") {
                tx.put(&timer, "remaining_ms", (ends_at - now.millis()).max(0))?;
                tx.delete(&timer, "ends_at")?;
            }
            Ok(())
        })
    }

    /// Resumes a paused timer (facilitator only).
    pub fn resume_timer(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let timer = timer_obj(tx)?;
            if let Some(remaining) = doc::int(tx, &timer, "remaining_ms") {
                tx.put(&timer, "ends_at", now.millis() + remaining)?;
                tx.delete(&timer, "remaining_ms")?;
            }
            Ok(())
        })
    }

    /// Turns the timer off (facilitator only).
    pub fn clear_timer(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let timer = timer_obj(tx)?;
            for k in ["ends_at", "remaining_ms", "duration_ms"] {
                if tx.get(&timer, k)?.is_some() {
                    tx.delete(&timer, k)?;
                }
            }
            Ok(())
        })
    }

    /// Sets how many dots each person has for voting (facilitator only; 1 to 50).
    pub fn set_vote_budget(&mut self, now: Timestamp, by: ParticipantId, budget: u32) -> Result<()> {
        if !(1..=50).contains(&budget) {
            return Err(Refusal::OutOfRange("Each person can have from 1 to 50 dots.").into());
        }
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let meta = meta_obj(tx)?;
            put_if_changed(tx, &meta, "vote_budget", i64::from(budget))
        })
    }

    /// Shares or hands on the facilitator role (facilitator only). The last facilitator can't
    /// step down until someone else has the role.
    pub fn set_facilitator(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        who: ParticipantId,
        on: bool,
    ) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            crate::workshop::member(tx, who)?;
            if !on && facilitators(tx).iter().all(|f| *f == who) {
                return Err(Refusal::LastFacilitator.into());
            }
            set_facilitator(tx, who, on)
        })
    }

    /// The ground rules, in order.
    pub fn ground_rules(&self) -> Vec<GroundRuleView> {
        let Ok(rules) = doc::root(&self.doc, key::GROUND_RULES) else { return Vec::new() };
        let mut out: Vec<GroundRuleView> = doc::entries::<GroundRuleId, _>(&self.doc, &rules)
            .into_iter()
            .filter(|(_, obj)| doc::boolean(&self.doc, obj, "removed") != Some(true))
            .map(|(id, obj)| GroundRuleView {
                id,
                text: doc::text(&self.doc, &obj, "text").unwrap_or_default(),
                order: doc::float(&self.doc, &obj, "order").unwrap_or(0.0),
            })
            .collect();
        out.sort_by(|a, b| a.order.total_cmp(&b.order).then(a.id.cmp(&b.id)));
        out
    }

    /// Adds a ground rule at the end of the list (facilitator only).
    pub fn add_ground_rule(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        text: &str,
    ) -> Result<GroundRuleId> {
        let text = doc::checked_text(text, limit::GROUND_RULE, true)?;
        let order = self.ground_rules().last().map_or(1.0, |r| r.order + 1.0);
        let id = GroundRuleId::random(rng);
        self.change(now, |tx| {
            facilitator(tx, by)?;
            put_ground_rule(tx, id, &text, order)?;
            Ok(id)
        })
    }

    /// Edits a ground rule's words (facilitator only).
    pub fn edit_ground_rule(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: GroundRuleId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let rule = find(tx, key::GROUND_RULES, id.key(), ObjectKind::GroundRule)?;
            doc::edit_text(tx, &rule, "text", edit, limit::GROUND_RULE, true)?;
            Ok(())
        })
    }

    /// Removes a ground rule (facilitator only). It is marked removed rather than deleted, so
    /// a concurrent edit is never silently lost.
    pub fn remove_ground_rule(&mut self, now: Timestamp, by: ParticipantId, id: GroundRuleId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let rule = find(tx, key::GROUND_RULES, id.key(), ObjectKind::GroundRule)?;
            put_if_changed(tx, &rule, "removed", true)
        })
    }
}

fn timer_obj(tx: &mut Transaction<'_>) -> Result<ObjId> {
    let meta = meta_obj(tx)?;
    match doc::child_map(tx, &meta, "timer") {
        Some(t) => Ok(t),
        None => Ok(tx.put_object(&meta, "timer", ObjType::Map)?),
    }
}
