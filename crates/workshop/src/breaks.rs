//! The quiet "I need a break" signal.
//!
//! Someone who needs a break can say so from their own laptop or phone without having to
//! interrupt the room. The signal is `participants[p].break_at`: a scalar in the person's own
//! object (never a new container, so two devices can never create it concurrently and hide
//! each other's writes), absent when no break is wanted.
//!
//! It is quiet: only facilitators and the person themself see it. The document itself is
//! shared with every member's device, so this is a courtesy of the views, not a secret.

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use serde::Serialize;

use crate::doc::{self, key};
use crate::error::{ObjectKind, Result, WorkshopError};
use crate::ids::{ParticipantId, Timestamp};
use crate::workshop::{facilitator, member, Viewer, Workshop};

/// The field holding when a person asked for a break.
const BREAK_AT: &str = "break_at";

/// Someone has quietly asked for a break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BreakView {
    /// Who would like a break.
    pub participant: ParticipantId,
    /// When they asked.
    pub since: Timestamp,
}

/// Removes `break_at` from a person's object, if it is there.
fn clear<T: Transactable + ReadDoc>(tx: &mut T, obj: &automerge::ObjId) -> Result<()> {
    if tx.get(obj, BREAK_AT)?.is_some() {
        tx.delete(obj, BREAK_AT)?;
    }
    Ok(())
}

impl Workshop {
    /// Quietly asks for a break (`wanted`), or says you no longer need one. Only facilitators
    /// and you can see it. Asking again while the request is still up keeps its first time,
    /// so the facilitator sees how long you've been waiting.
    pub fn ask_for_break(&mut self, now: Timestamp, by: ParticipantId, wanted: bool) -> Result<()> {
        self.change(now, |tx| {
            let obj = member(tx, by)?;
            if !wanted {
                return clear(tx, &obj);
            }
            if doc::int(tx, &obj, BREAK_AT).is_none() {
                tx.put(&obj, BREAK_AT, now.millis())?;
            }
            Ok(())
        })
    }

    /// Clears someone's request for a break: "seen, thanks" (facilitator only). Clearing a
    /// request that is no longer there does nothing.
    pub fn clear_break(&mut self, now: Timestamp, by: ParticipantId, who: ParticipantId) -> Result<()> {
        self.change(now, |tx| {
            facilitator(tx, by)?;
            let participants = doc::root(tx, key::PARTICIPANTS)?;
            let obj = doc::child_map(tx, &participants, &who.key())
                .ok_or(WorkshopError::NotFound(ObjectKind::Participant))?;
            clear(tx, &obj)
        })
    }

    /// The breaks `viewer` may see, longest waiting first: everyone's for a facilitator, only
    /// their own for anyone else, none for someone who hasn't joined (or has been removed).
    /// People who have been removed are left out.
    pub fn breaks(&self, viewer: &Viewer) -> Vec<BreakView> {
        let Some(me) = viewer.participant else { return Vec::new() };
        if member(&self.doc, me).is_err() {
            return Vec::new();
        }
        let all = crate::meta::is_facilitator(&self.doc, me);
        let Ok(participants) = doc::root(&self.doc, key::PARTICIPANTS) else { return Vec::new() };
        let mut out: Vec<BreakView> = doc::entries::<ParticipantId, _>(&self.doc, &participants)
            .into_iter()
            .filter(|(id, _)| all || *id == me)
            .filter(|(_, obj)| doc::int(&self.doc, obj, "removed_at").is_none())
            .filter_map(|(participant, obj)| {
                let since = Timestamp(doc::int(&self.doc, &obj, BREAK_AT)?);
                Some(BreakView { participant, since })
            })
            .collect();
        out.sort_by(|a, b| a.since.cmp(&b.since).then(a.participant.cmp(&b.participant)));
        out
    }
}
