//! Learning and reflection: four prompts per session, and the actions that come out of them.

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::board::AuthorView;
use crate::doc::{self, key, limit, TextEdit};
use crate::error::{ObjectKind, Refusal, Result};
use crate::ids::{ActionId, ChallengeId, ParticipantId, ReflectionId, SessionId, Timestamp, ValueId};
use crate::kinds::{ActionSourceKind, ReflectionKind};
use crate::participants::ParticipantView;
use crate::sessions::SessionView;
use crate::workshop::{find, member, put_if_changed, Viewer, Workshop, Writer};

/// A reflection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReflectionView {
    /// Its id.
    pub id: ReflectionId,
    /// The session it reflects on.
    pub session: SessionId,
    /// Which of the four prompts it answers.
    pub kind: ReflectionKind,
    /// Who wrote it (or anonymous).
    pub author: AuthorView,
    /// Whether the viewer wrote it.
    pub mine: bool,
    /// What it says.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

/// One session's reflections, under the four prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionReflections {
    /// The session.
    pub session: SessionView,
    /// The four prompts in order, each with its reflections (oldest first).
    pub prompts: Vec<(ReflectionKind, Vec<ReflectionView>)>,
}

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum ActionSource {
    /// A reflection.
    Reflection(ReflectionId),
    /// A challenge.
    Challenge(ChallengeId),
    /// A value.
    Value(ValueId),
}

impl ActionSource {
    fn kind(&self) -> ActionSourceKind {
        match self {
            ActionSource::Reflection(_) => ActionSourceKind::Reflection,
            ActionSource::Challenge(_) => ActionSourceKind::Challenge,
            ActionSource::Value(_) => ActionSourceKind::Value,
        }
    }

    fn id_key(&self) -> String {
        match self {
            ActionSource::Reflection(id) => id.key(),
            ActionSource::Challenge(id) => id.key(),
            ActionSource::Value(id) => id.key(),
        }
    }
}

/// An action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActionView {
    /// Its id.
    pub id: ActionId,
    /// What is to be done.
    pub text: String,
    /// Who offered to do it, if anyone.
    pub owner: Option<ParticipantView>,
    /// What it came out of.
    pub from: Option<ActionSource>,
    /// Whether it is done.
    pub done: bool,
    /// When it was added.
    pub created_at: Timestamp,
}

impl Workshop {
    /// Adds a reflection on a session, under your name or anonymously.
    pub fn add_reflection(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        rng: &mut dyn RngCore,
        session: SessionId,
        kind: ReflectionKind,
        text: &str,
    ) -> Result<ReflectionId> {
        let text = doc::checked_text(text, limit::REFLECTION, true)?;
        let id = ReflectionId::random(rng);
        let at = match writer {
            Writer::Named(_) => now.millis(),
            Writer::Anonymous(..) => now.millis() - now.millis().rem_euclid(60_000),
        };
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            find(tx, key::SESSIONS, session.key(), ObjectKind::Session)?;
            let map = doc::root(tx, key::REFLECTIONS)?;
            let obj = tx.put_object(&map, id.key(), ObjType::Map)?;
            tx.put(&obj, "session", session.key())?;
            tx.put(&obj, "author", writer.author_key())?;
            tx.put(&obj, "kind", kind.key())?;
            doc::put_text(tx, &obj, "text", &text)?;
            tx.put(&obj, "at", at)?;
            Ok(id)
        })
    }

    /// Edits a reflection you wrote.
    pub fn edit_reflection(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        id: ReflectionId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = find(tx, key::REFLECTIONS, id.key(), ObjectKind::Reflection)?;
            let viewer = Viewer {
                participant: Some(writer.participant()),
                anonymous: writer.anonymous().cloned().into_iter().collect(),
            };
            if !viewer.wrote(doc::string(tx, &obj, "author").as_deref(), &obj) {
                return Err(Refusal::NotYourNote.into());
            }
            doc::edit_text(tx, &obj, "text", edit, limit::REFLECTION, true)?;
            Ok(())
        })
    }

    /// Every reflection, oldest first.
    pub fn reflections(&self, viewer: &Viewer) -> Vec<ReflectionView> {
        let people = self.people();
        let Ok(map) = doc::root(&self.doc, key::REFLECTIONS) else { return Vec::new() };
        let d = &self.doc;
        let mut out: Vec<ReflectionView> = doc::entries::<ReflectionId, _>(d, &map)
            .into_iter()
            .filter_map(|(id, obj)| {
                let author = doc::string(d, &obj, "author");
                Some(ReflectionView {
                    id,
                    session: doc::parsed(d, &obj, "session")?,
                    kind: doc::parsed(d, &obj, "kind")?,
                    mine: viewer.wrote(author.as_deref(), &obj),
                    author: AuthorView::resolve(author.as_deref(), &people),
                    text: doc::text(d, &obj, "text").unwrap_or_default(),
                    at: Timestamp(doc::int(d, &obj, "at").unwrap_or(0)),
                })
            })
            .collect();
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        out
    }

    /// Reflections grouped by session (oldest session first) and by the four prompts.
    pub fn reflections_by_session(&self, viewer: &Viewer) -> Vec<SessionReflections> {
        let all = self.reflections(viewer);
        self.sessions()
            .into_iter()
            .map(|session| {
                let prompts = ReflectionKind::ALL
                    .iter()
                    .map(|kind| {
                        let list = all
                            .iter()
                            .filter(|r| r.session == session.id && r.kind == *kind)
                            .cloned()
                            .collect();
                        (*kind, list)
                    })
                    .collect();
                SessionReflections { session, prompts }
            })
            .collect()
    }

    /// Adds an action, optionally with an owner and what it came out of.
    pub fn add_action(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        rng: &mut dyn RngCore,
        text: &str,
        owner: Option<ParticipantId>,
        from: Option<ActionSource>,
    ) -> Result<ActionId> {
        let text = doc::checked_text(text, limit::ACTION, true)?;
        let id = ActionId::random(rng);
        self.change(now, |tx| {
            member(tx, by)?;
            if let Some(owner) = owner {
                member(tx, owner).map_err(|_| crate::WorkshopError::NotFound(ObjectKind::Participant))?;
            }
            match from {
                Some(ActionSource::Reflection(r)) => {
                    drop(find(tx, key::REFLECTIONS, r.key(), ObjectKind::Reflection)?)
                }
                Some(ActionSource::Challenge(c)) => {
                    drop(find(tx, key::CHALLENGES, c.key(), ObjectKind::Challenge)?)
                }
                Some(ActionSource::Value(v)) => drop(find(tx, key::VALUES, v.key(), ObjectKind::Value)?),
                None => {}
            }
            let map = doc::root(tx, key::ACTIONS)?;
            let obj = tx.put_object(&map, id.key(), ObjType::Map)?;
            doc::put_text(tx, &obj, "text", &text)?;
            if let Some(owner) = owner {
                tx.put(&obj, "owner", owner.key())?;
            }
            if let Some(from) = from {
                tx.put(&obj, "from_kind", from.kind().key())?;
                tx.put(&obj, "from_id", from.id_key())?;
            }
            tx.put(&obj, "done", false)?;
            tx.put(&obj, "created_at", now.millis())?;
            Ok(id)
        })
    }

    /// Edits an action's words.
    pub fn edit_action(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ActionId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::ACTIONS, id.key(), ObjectKind::Action)?;
            doc::edit_text(tx, &obj, "text", edit, limit::ACTION, true)?;
            Ok(())
        })
    }

    /// Marks an action done (or not done).
    pub fn set_action_done(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ActionId,
        done: bool,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::ACTIONS, id.key(), ObjectKind::Action)?;
            put_if_changed(tx, &obj, "done", done)
        })
    }

    /// Gives an action an owner, or none.
    pub fn set_action_owner(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ActionId,
        owner: Option<ParticipantId>,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::ACTIONS, id.key(), ObjectKind::Action)?;
            match owner {
                Some(o) => {
                    member(tx, o).map_err(|_| crate::WorkshopError::NotFound(ObjectKind::Participant))?;
                    put_if_changed(tx, &obj, "owner", o.key())
                }
                None => {
                    if tx.get(&obj, "owner")?.is_some() {
                        tx.delete(&obj, "owner")?;
                    }
                    Ok(())
                }
            }
        })
    }

    /// Every action, oldest first.
    pub fn actions(&self) -> Vec<ActionView> {
        let people = self.people();
        let Ok(map) = doc::root(&self.doc, key::ACTIONS) else { return Vec::new() };
        let d = &self.doc;
        let mut out: Vec<ActionView> = doc::entries::<ActionId, _>(d, &map)
            .into_iter()
            .map(|(id, obj)| read_action(d, &people, id, &obj))
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out
    }

    /// The actions not yet done: shown at the start of the next session.
    pub fn open_actions(&self) -> Vec<ActionView> {
        self.actions().into_iter().filter(|a| !a.done).collect()
    }
}

fn read_action(
    d: &automerge::Automerge,
    people: &HashMap<String, ParticipantView>,
    id: ActionId,
    obj: &ObjId,
) -> ActionView {
    let from = match (doc::parsed::<ActionSourceKind, _>(d, obj, "from_kind"), doc::string(d, obj, "from_id"))
    {
        (Some(ActionSourceKind::Reflection), Some(i)) => i.parse().ok().map(ActionSource::Reflection),
        (Some(ActionSourceKind::Challenge), Some(i)) => i.parse().ok().map(ActionSource::Challenge),
        (Some(ActionSourceKind::Value), Some(i)) => i.parse().ok().map(ActionSource::Value),
        _ => None,
    };
    ActionView {
        id,
        text: doc::text(d, obj, "text").unwrap_or_default(),
        owner: doc::string(d, obj, "owner").and_then(|o| people.get(&o).cloned()),
        from,
        done: doc::boolean(d, obj, "done") == Some(true),
        created_at: Timestamp(doc::int(d, obj, "created_at").unwrap_or(0)),
    }
}
