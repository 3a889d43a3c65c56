//! Sessions: each meeting in the room, or stretch of working apart.

use automerge::transaction::{Transactable, Transaction};
use automerge::ObjType;
use rand::RngCore;
use serde::Serialize;

use crate::doc::{self, key, limit};
use crate::error::Result;
use crate::ids::{SessionId, Timestamp};
use crate::kinds::SessionKind;
use crate::workshop::{facilitator, Workshop};
use crate::ParticipantId;

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionView {
    /// Its id.
    pub id: SessionId,
    /// Its title, e.g. "Session 2".
    pub title: String,
    /// When it happens (or happened).
    pub date: Timestamp,
    /// In the room, or apart.
    pub kind: SessionKind,
}

pub(crate) fn put(
    tx: &mut Transaction<'_>,
    rng: &mut dyn RngCore,
    title: &str,
    date: Timestamp,
    kind: SessionKind,
) -> Result<SessionId> {
    let sessions = doc::root(tx, key::SESSIONS)?;
    let id = SessionId::random(rng);
    let obj = tx.put_object(&sessions, id.key(), ObjType::Map)?;
    tx.put(&obj, "title", title)?;
    tx.put(&obj, "date", date.millis())?;
    tx.put(&obj, "kind", kind.key())?;
    Ok(id)
}

impl Workshop {
    /// Adds a session (facilitator only).
    pub fn add_session(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        title: &str,
        date: Timestamp,
        kind: SessionKind,
    ) -> Result<SessionId> {
        let title = doc::checked_text(title, limit::TITLE, true)?;
        self.change(now, |tx| {
            facilitator(tx, by)?;
            put(tx, rng, &title, date, kind)
        })
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Vec<SessionView> {
        let Ok(sessions) = doc::root(&self.doc, key::SESSIONS) else { return Vec::new() };
        let mut out: Vec<SessionView> = doc::entries::<SessionId, _>(&self.doc, &sessions)
            .into_iter()
            .map(|(id, obj)| SessionView {
                id,
                title: doc::string(&self.doc, &obj, "title").unwrap_or_default(),
                date: Timestamp(doc::int(&self.doc, &obj, "date").unwrap_or(0)),
                kind: doc::parsed(&self.doc, &obj, "kind").unwrap_or(SessionKind::InRoom),
            })
            .collect();
        out.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        out
    }

    /// The session happening now: the latest one that has started by `now` (or the first).
    pub fn current_session(&self, now: Timestamp) -> Option<SessionView> {
        let sessions = self.sessions();
        sessions.iter().rev().find(|s| s.date <= now).or(sessions.first()).cloned()
    }
}
