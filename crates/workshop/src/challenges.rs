//! Helpful challenge: "I see it differently because…", "What if…", "A question".
//!
//! A challenge targets a note, value or reflection. Responses thread under it. Its author or
//! the group marks it heard, changed my view, or parked. An objection in a consent round opens
//! a challenge linked to that round; only the objector can say it changed their view.

use std::collections::HashMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ReadDoc};
use rand::RngCore;
use serde::Serialize;

use crate::board::AuthorView;
use crate::doc::{self, key, limit, TextEdit};
use crate::error::{ObjectKind, Refusal, Result};
use crate::ids::{ChallengeId, NoteId, ParticipantId, ReflectionId, ResponseId, RoundId, Timestamp, ValueId};
use crate::kinds::{ChallengeKind, ChallengeStatus, TargetKind};
use crate::participants::ParticipantView;
use crate::workshop::{find, member, Viewer, Workshop, Writer};

/// What a challenge is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    /// A sticky note.
    Note(NoteId),
    /// A value.
    Value(ValueId),
    /// A reflection.
    Reflection(ReflectionId),
}

impl Target {
    /// The kind of thing targeted.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Note(_) => TargetKind::Note,
            Target::Value(_) => TargetKind::Value,
            Target::Reflection(_) => TargetKind::Reflection,
        }
    }

    fn id_key(&self) -> String {
        match self {
            Target::Note(id) => id.key(),
            Target::Value(id) => id.key(),
            Target::Reflection(id) => id.key(),
        }
    }

    fn parse(kind: Option<TargetKind>, id: Option<&str>) -> Option<Target> {
        let id = id?;
        Some(match kind? {
            TargetKind::Note => Target::Note(id.parse().ok()?),
            TargetKind::Value => Target::Value(id.parse().ok()?),
            TargetKind::Reflection => Target::Reflection(id.parse().ok()?),
        })
    }
}

/// A challenge as one viewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChallengeView {
    /// Its id.
    pub id: ChallengeId,
    /// What it is about.
    pub target: Target,
    /// A short reminder of what it is about (the start of the note, value or reflection).
    pub target_summary: String,
    /// Who raised it (or anonymous).
    pub author: AuthorView,
    /// Whether the viewer raised it.
    pub mine: bool,
    /// Its kind.
    pub kind: ChallengeKind,
    /// What it says.
    pub text: String,
    /// Where it has got to.
    pub status: ChallengeStatus,
    /// When it was raised.
    pub created_at: Timestamp,
    /// When its status last changed.
    pub status_at: Option<Timestamp>,
    /// The replies, oldest first.
    pub responses: Vec<ResponseView>,
    /// Set when the challenge is an objection in a consent round.
    pub objection: Option<ObjectionLink>,
}

/// A reply to a challenge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResponseView {
    /// Its id.
    pub id: ResponseId,
    /// Who replied (or anonymous).
    pub author: AuthorView,
    /// Whether the viewer wrote it.
    pub mine: bool,
    /// What it says.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

/// The consent round an objection-challenge belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ObjectionLink {
    /// The value.
    pub value: ValueId,
    /// The round.
    pub round: RoundId,
    /// The person who objected.
    pub participant: ParticipantId,
}

/// Checks the target exists and, for a note, is one the writer may see.
fn check_target(tx: &Transaction<'_>, target: Target, writer: &Writer) -> Result<()> {
    match target {
        Target::Note(id) => {
            let obj = find(tx, key::NOTES, id.key(), ObjectKind::Note)?;
            if doc::boolean(tx, &obj, "withdrawn") == Some(true) {
                return Err(Refusal::Withdrawn(ObjectKind::Note).into());
            }
            if doc::boolean(tx, &obj, "private_until_reveal") == Some(true) {
                let author = doc::string(tx, &obj, "author");
                let viewer = Viewer {
                    participant: Some(writer.participant()),
                    anonymous: writer.anonymous().cloned().into_iter().collect(),
                };
                if !viewer.wrote(author.as_deref(), &obj) {
                    return Err(Refusal::NoteNotShared("challenged").into());
                }
            }
        }
        Target::Value(id) => {
            find(tx, key::VALUES, id.key(), ObjectKind::Value)?;
        }
        Target::Reflection(id) => {
            find(tx, key::REFLECTIONS, id.key(), ObjectKind::Reflection)?;
        }
    }
    Ok(())
}

/// Writes a new challenge object (inside an existing transaction).
pub(crate) fn put(
    tx: &mut Transaction<'_>,
    id: ChallengeId,
    target: Target,
    author: &str,
    kind: ChallengeKind,
    text: &str,
    now: Timestamp,
) -> Result<ObjId> {
    let challenges = doc::root(tx, key::CHALLENGES)?;
    let obj = tx.put_object(&challenges, id.key(), ObjType::Map)?;
    tx.put(&obj, "target_kind", target.kind().key())?;
    tx.put(&obj, "target_id", target.id_key())?;
    tx.put(&obj, "author", author)?;
    tx.put(&obj, "kind", kind.key())?;
    doc::put_text(tx, &obj, "text", text)?;
    tx.put(&obj, "status", ChallengeStatus::Open.key())?;
    tx.put(&obj, "created_at", now.millis())?;
    tx.put_object(&obj, "responses", ObjType::Map)?;
    Ok(obj)
}

/// The status of a challenge, read inside a transaction.
pub(crate) fn status<R: ReadDoc + ?Sized>(doc: &R, id: &str) -> Option<ChallengeStatus> {
    let map = doc::root(doc, key::CHALLENGES).ok()?;
    let obj = doc::child_map(doc, &map, id)?;
    doc::parsed(doc, &obj, "status")
}

fn anonymous_minute(now: Timestamp, writer: &Writer) -> Timestamp {
    match writer {
        Writer::Named(_) => now,
        Writer::Anonymous(..) => Timestamp(now.millis() - now.millis().rem_euclid(60_000)),
    }
}

impl Workshop {
    /// Raises a helpful challenge on a note, value or reflection, under your name or anonymously.
    pub fn raise_challenge(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        rng: &mut dyn RngCore,
        target: Target,
        kind: ChallengeKind,
        text: &str,
    ) -> Result<ChallengeId> {
        let text = doc::checked_text(text, limit::CHALLENGE, true)?;
        let id = ChallengeId::random(rng);
        let at = anonymous_minute(now, writer);
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            check_target(tx, target, writer)?;
            put(tx, id, target, &writer.author_key(), kind, &text, at)?;
            Ok(id)
        })
    }

    /// Edits the words of a challenge you raised.
    pub fn edit_challenge(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        id: ChallengeId,
        edit: &TextEdit,
    ) -> Result<()> {
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = find(tx, key::CHALLENGES, id.key(), ObjectKind::Challenge)?;
            let viewer = Viewer {
                participant: Some(writer.participant()),
                anonymous: writer.anonymous().cloned().into_iter().collect(),
            };
            if !viewer.wrote(doc::string(tx, &obj, "author").as_deref(), &obj) {
                return Err(Refusal::NotYourNote.into());
            }
            doc::edit_text(tx, &obj, "text", edit, limit::CHALLENGE, true)?;
            Ok(())
        })
    }

    /// Replies to a challenge.
    pub fn respond_to_challenge(
        &mut self,
        now: Timestamp,
        writer: &Writer,
        rng: &mut dyn RngCore,
        id: ChallengeId,
        text: &str,
    ) -> Result<ResponseId> {
        let text = doc::checked_text(text, limit::CHALLENGE, true)?;
        let response = ResponseId::random(rng);
        let at = anonymous_minute(now, writer);
        self.change_as(now, writer, |tx| {
            member(tx, writer.participant())?;
            let obj = find(tx, key::CHALLENGES, id.key(), ObjectKind::Challenge)?;
            let responses = match doc::child_map(tx, &obj, "responses") {
                Some(r) => r,
                None => return Err(crate::WorkshopError::NotAWorkshop("a challenge has no responses")),
            };
            let r = tx.put_object(&responses, response.key(), ObjType::Map)?;
            tx.put(&r, "author", writer.author_key())?;
            doc::put_text(tx, &r, "text", &text)?;
            tx.put(&r, "at", at.millis())?;
            Ok(response)
        })
    }

    /// Marks a challenge heard, changed my view, parked, or open again. Anyone in the group
    /// can, except that only the objector can say an objection changed their view.
    pub fn set_challenge_status(
        &mut self,
        now: Timestamp,
        by: ParticipantId,
        id: ChallengeId,
        status: ChallengeStatus,
    ) -> Result<()> {
        self.change(now, |tx| {
            member(tx, by)?;
            let obj = find(tx, key::CHALLENGES, id.key(), ObjectKind::Challenge)?;
            if status == ChallengeStatus::ChangedView {
                if let Some(objector) = doc::string(tx, &obj, "objection_participant") {
                    if objector != by.key() {
                        return Err(Refusal::ChangedViewIsTheirs.into());
                    }
                }
            }
            if doc::parsed::<ChallengeStatus, _>(tx, &obj, "status") != Some(status) {
                tx.put(&obj, "status", status.key())?;
                tx.put(&obj, "status_at", now.millis())?;
            }
            Ok(())
        })
    }

    /// Every challenge the viewer may see, newest first.
    pub fn challenges(&self, viewer: &Viewer) -> Vec<ChallengeView> {
        self.challenges_with(viewer, &self.people())
    }

    pub(crate) fn challenges_with(
        &self,
        viewer: &Viewer,
        people: &HashMap<String, ParticipantView>,
    ) -> Vec<ChallengeView> {
        let Ok(map) = doc::root(&self.doc, key::CHALLENGES) else { return Vec::new() };
        let mut out: Vec<ChallengeView> = doc::entries::<ChallengeId, _>(&self.doc, &map)
            .into_iter()
            .filter_map(|(id, obj)| self.read_challenge(viewer, people, id, &obj))
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        out
    }

    /// The challenges still open, newest first.
    pub fn open_challenges(&self, viewer: &Viewer) -> Vec<ChallengeView> {
        self.challenges(viewer).into_iter().filter(|c| c.status == ChallengeStatus::Open).collect()
    }

    /// The challenges on one note, value or reflection, newest first.
    pub fn challenges_on(&self, viewer: &Viewer, target: Target) -> Vec<ChallengeView> {
        self.challenges(viewer).into_iter().filter(|c| c.target == target).collect()
    }

    /// One challenge.
    pub fn challenge(&self, viewer: &Viewer, id: ChallengeId) -> Option<ChallengeView> {
        let people = self.people();
        let obj = doc::find(&self.doc, key::CHALLENGES, &id.key(), ObjectKind::Challenge).ok()?;
        self.read_challenge(viewer, &people, id, &obj)
    }

    /// A short reminder of what a target says, or `None` if the viewer may not see it.
    pub(crate) fn target_summary(
        &self,
        viewer: &Viewer,
        people: &HashMap<String, ParticipantView>,
        target: Target,
    ) -> Option<String> {
        let text = match target {
            Target::Note(id) => self.note_with(viewer, people, id)?.text,
            Target::Value(id) => {
                let obj = doc::find(&self.doc, key::VALUES, &id.key(), ObjectKind::Value).ok()?;
                doc::text(&self.doc, &obj, "statement").unwrap_or_default()
            }
            Target::Reflection(id) => {
                let obj = doc::find(&self.doc, key::REFLECTIONS, &id.key(), ObjectKind::Reflection).ok()?;
                doc::text(&self.doc, &obj, "text").unwrap_or_default()
            }
        };
        Some(summarise(&text, 80))
    }

    fn read_challenge(
        &self,
        viewer: &Viewer,
        people: &HashMap<String, ParticipantView>,
        id: ChallengeId,
        obj: &ObjId,
    ) -> Option<ChallengeView> {
        let d = &self.doc;
        let target =
            Target::parse(doc::parsed(d, obj, "target_kind"), doc::string(d, obj, "target_id").as_deref())?;
        // A challenge on a note the viewer can't see (private or withdrawn) is hidden with it.
        let target_summary = self.target_summary(viewer, people, target)?;
        let author = doc::string(d, obj, "author");
        let mut responses: Vec<ResponseView> = match doc::child_map(d, obj, "responses") {
            Some(map) => doc::entries::<ResponseId, _>(d, &map)
                .into_iter()
                .map(|(rid, r)| {
                    let a = doc::string(d, &r, "author");
                    ResponseView {
                        id: rid,
                        mine: viewer.wrote(a.as_deref(), &r),
                        author: AuthorView::resolve(a.as_deref(), people),
                        text: doc::text(d, &r, "text").unwrap_or_default(),
                        at: Timestamp(doc::int(d, &r, "at").unwrap_or(0)),
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        responses.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let objection = match (
            doc::parsed(d, obj, "objection_value"),
            doc::parsed(d, obj, "objection_round"),
            doc::parsed(d, obj, "objection_participant"),
        ) {
            (Some(value), Some(round), Some(participant)) => {
                Some(ObjectionLink { value, round, participant })
            }
            _ => None,
        };
        Some(ChallengeView {
            id,
            target,
            target_summary,
            mine: viewer.wrote(author.as_deref(), obj),
            author: AuthorView::resolve(author.as_deref(), people),
            kind: doc::parsed(d, obj, "kind").unwrap_or(ChallengeKind::Question),
            text: doc::text(d, obj, "text").unwrap_or_default(),
            status: doc::parsed(d, obj, "status").unwrap_or(ChallengeStatus::Open),
            created_at: Timestamp(doc::int(d, obj, "created_at").unwrap_or(0)),
            status_at: doc::int(d, obj, "status_at").map(Timestamp),
            responses,
            objection,
        })
    }
}

/// The first `max` characters of `text` on one line, with an ellipsis if cut.
pub(crate) fn summarise(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}
