//! The go-round: everyone speaks in turn, and anyone may pass.
//!
//! `meta.go_round = { started_at, order: [participant id], turn, passes: { participant: ms } }`.
//! The facilitator creates the whole map when starting a go-round and deletes it when the
//! go-round ends; starting another replaces it. It is never created lazily by several
//! devices: two facilitators starting go-rounds at the same moment see one of them win whole,
//! rather than a mixture.
//!
//! `order` is written once and never reordered. `turn` is an index into it; the value
//! `order.len()` means everyone has had a turn. Moving on from two laptops at once (the
//! facilitator's "next" while the speaker passes from their phone) writes the same or nearby
//! values concurrently, so `turn` is read as the furthest of any conflicting values: a merge
//! never sends the room back to someone who has already spoken. Each person writes only their
//! own entry in `passes`, so passes never conflict.

use std::collections::HashSet;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde::Serialize;

use crate::doc::{self, key};
use crate::error::{Refusal, Result};
use crate::ids::{ParticipantId, Timestamp};
use crate::workshop::{facilitator, member, put_if_changed, Workshop};

/// The key of the go-round map in `meta`.
const GO_ROUND: &str = "go_round";

/// A go-round, as everyone sees it: whose turn it is, and who has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GoRoundView {
    /// When the facilitator started it.
    pub started_at: Timestamp,
    /// Everyone in the go-round, in the order they speak.
    pub order: Vec<ParticipantId>,
    /// Whose turn it is: an index into `order`. Equal to the length of `order` once everyone
    /// has had a turn.
    pub turn: u32,
    /// Who has passed, in the go-round's order. Passing is always fine.
    pub passed: Vec<ParticipantId>,
}

/// A go-round as stored, before it is shaped for the view.
struct Stored {
    obj: ObjId,
    started_at: i64,
    /// The order as written; entries that can't be read are `None` (kept, so that `turn`
    /// still points at the right person).
    order: Vec<Option<ParticipantId>>,
    /// The furthest turn written, at most `order.len()`.
    turn: usize,
    /// The ids that have passed.
    passes: Vec<ParticipantId>,
}

impl Stored {
    /// The person whose turn it is, if anyone's.
    fn speaker(&self) -> Option<ParticipantId> {
        self.order.get(self.turn).copied().flatten()
    }
}

/// The furthest of the (possibly conflicting) integer values under `key`.
fn furthest<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<i64> {
    let values = doc.get_all(obj, key).ok()?;
    values
        .iter()
        .filter_map(|(value, _)| match value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Int(i) => Some(*i),
                ScalarValue::Uint(u) => i64::try_from(*u).ok(),
                _ => None,
            },
            Value::Object(_) => None,
        })
        .max()
}

/// The running go-round, if there is one.
fn stored<R: ReadDoc + ?Sized>(doc: &R) -> Option<Stored> {
    let meta = doc::root(doc, key::META).ok()?;
    let obj = doc::child_map(doc, &meta, GO_ROUND)?;
    let order: Vec<Option<ParticipantId>> = match doc.get(&obj, "order") {
        Ok(Some((Value::Object(ObjType::List), list))) => doc
            .list_range(&list, ..)
            .map(|item| match item.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => s.parse().ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let turn =
        furthest(doc, &obj, "turn").and_then(|t| usize::try_from(t).ok()).unwrap_or(0).min(order.len());
    let passes = doc::child_map(doc, &obj, "passes")
        .map(|map| {
            doc.map_range(&map, ..)
                .filter(|item| matches!(item.value, automerge::ValueRef::Scalar(_)))
                .filter_map(|item| item.key.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Some(Stored { started_at: doc::int(doc, &obj, "started_at").unwrap_or(0), obj, order, turn, passes })
}

/// The go-round for [`crate::MetaView`].
pub(crate) fn view<R: ReadDoc + ?Sized>(doc: &R) -> Option<GoRoundView> {
    let stored = stored(doc)?;
    // Unreadable entries are left out, and the turn counts only the readable ones before it.
    let turn = stored.order[..stored.turn].iter().flatten().count();
    let order: Vec<ParticipantId> = stored.order.iter().flatten().copied().collect();
    let passed = order.iter().filter(|id| stored.passes.contains(id)).copied().collect();
    Some(GoRoundView {
        started_at: Timestamp(stored.started_at),
        order,
        turn: u32::try_from(turn).unwrap_or(u32::MAX),
        passed,
    })
}

/// The running go-round, or a kind refusal.
fn running(tx: &Transaction<'_>) -> Result<Stored> {
    stored(tx).ok_or_else(|| Refusal::NoGoRound.into())
}

/// Moves the turn on by one from `stored.turn`, never past the end.
fn advance(tx: &mut Transaction<'_>, stored: &Stored) -> Result<()> {
    let next = (stored.turn + 1).min(stored.order.len());
    // Written even when unchanged if the value is in conflict, so the furthest value is
    // settled for everyone; otherwise only when it changes, so repeating makes no change.
    let conflicted = tx.get_all(&stored.obj, "turn").map(|v| v.len() > 1).unwrap_or(false);
    if conflicted {
        tx.put(&stored.obj, "turn", next as i64)?;
        Ok(())
    } else {
        put_if_changed(tx, &stored.obj, "turn", next as i64)
    }
}

impl Workshop {
    /// Starts a go-round in the given order (facilitator only), replacing any go-round
    /// already running. Everyone in it must be a current member, each once.
    pub fn start_go_round(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        order: &[ParticipantId],
    ) -> Result<()> {
        if order.is_empty() {
            return Err(Refusal::GoRoundOrder("Please choose at least one person for the go-round.").into());
        }
        let mut seen = HashSet::new();
        if !order.iter().all(|id| seen.insert(*id)) {
            return Err(Refusal::GoRoundOrder("Each person can only be in the go-round once.").into());
        }
        self.change(now, |tx| {
            facilitator(tx, by)?;
            if order.iter().any(|id| member(tx, *id).is_err()) {
                return Err(Refusal::GoRoundOrder(
                    "Everyone in the go-round needs to be part of the workshop. Someone may have just left; please choose again.",
                )
                .into());
            }
            let meta = doc::root(tx, key::META)?;
            let round = tx.put_object(&meta, GO_ROUND, ObjType::Map)?;
            tx.put(&round, "started_at", now.millis())?;
            let list = tx.put_object(&round, "order", ObjType::List)?;
            for (i, id) in order.iter().enumerate() {
                tx.insert(&list, i, id.key())?;
            }
            tx.put(&round, "turn", 0_i64)?;
            tx.put_object(&round, "passes", ObjType::Map)?;
            Ok(())
        })
    }

    /// Moves the go-round on to the next person (facilitator only). After the last person it
    /// stays at "everyone has had a turn".
    pub fn next_in_go_round(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let stored = running(tx)?;
            advance(tx, &stored)
        })
    }

    /// Passes in the go-round: always fine, and no reason is needed. If it is your turn, the
    /// go-round moves on to the next person, so you can pass from your own device without
    /// having to say it aloud. Passing again keeps the first time you passed.
    pub fn pass_in_go_round(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let stored = running(tx)?;
            if !stored.order.contains(&Some(by)) {
                return Err(Refusal::NotInGoRound.into());
            }
            if !stored.passes.contains(&by) {
                let passes = match doc::child_map(tx, &stored.obj, "passes") {
                    Some(p) => p,
                    // Only a damaged or foreign go-round lacks this map; it is created by
                    // the facilitator with the go-round.
                    None => tx.put_object(&stored.obj, "passes", ObjType::Map)?,
                };
                tx.put(&passes, by.key(), now.millis())?;
            }
            if stored.speaker() == Some(by) {
                advance(tx, &stored)?;
            }
            Ok(())
        })
    }

    /// Ends the go-round (facilitator only). Ending when none is running does nothing.
    pub fn end_go_round(&mut self, now: Timestamp, by: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let meta = doc::root(tx, key::META)?;
            if tx.get(&meta, GO_ROUND)?.is_some() {
                tx.delete(&meta, GO_ROUND)?;
            }
            Ok(())
        })
    }
}
